"""Migrations from empty on SQLite and PostgreSQL; links, leases and the append-only audit log."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from service import audit, links
from service.db import Store, migrate
from service.models import AuditEvent, AuditLogIsAppendOnly, Link
from tests.support.databases import PG_ADMIN_URL, PgSchema


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    migrate(store.engine)
    yield store
    store.dispose()


def test_migrations_create_the_tables_from_empty_and_are_repeatable(store):
    migrate(store.engine)  # a second upgrade is a no-op, not an error
    names = set(inspect(store.engine).get_table_names())
    assert {"identity_links", "audit_log", "sync_events", "sync_state", "reconcile_runs", "leases",
            "alembic_version"} <= names
    columns = {c["name"] for c in inspect(store.engine).get_columns("identity_links")}
    assert {"auth0_user_id", "entra_object_id", "immutable_id", "upn", "state", "licence_sku",
            "created_at", "updated_at", "last_error"} <= columns


def test_link_is_created_once_and_the_lease_is_exclusive(store):
    first = links.get_or_create(store, "google-oauth2|1", "iid1==", {"email": "a@example.com"})
    again = links.get_or_create(store, "google-oauth2|1", "other==", {})
    assert again.immutable_id == first.immutable_id == "iid1=="
    assert links.acquire(store, "google-oauth2|1", "worker-a", 30)
    assert not links.acquire(store, "google-oauth2|1", "worker-b", 30)
    links.release(store, "google-oauth2|1", "worker-a")
    assert links.acquire(store, "google-oauth2|1", "worker-b", 30)


def test_racing_first_sights_make_one_link_and_all_see_it(store):
    """Twelve requests for one new user at once: one row, the same one for every request."""
    barrier = threading.Barrier(12)

    def first_sight(i):
        barrier.wait()
        return links.get_or_create(store, "google-oauth2|race", f"iid-race-{i}", {"n": i})
    with ThreadPoolExecutor(12) as pool:
        seen = list(pool.map(first_sight, range(12)))
    assert len({(x.auth0_user_id, x.immutable_id, x.created_at) for x in seen}) == 1
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Link)) == 1


def test_a_first_sight_is_committed_at_once_with_the_columns_defaults(store):
    made = links.get_or_create(store, "google-oauth2|fresh", "aWlk", {"email": "f@example.com"})
    assert (made.state, made.step, made.origin, made.account_type) == ("pending", "new", "companion", "member")
    assert made.profile == {"email": "f@example.com"} and made.created_at is not None
    with store.session() as session:  # another connection sees it: nothing was left uncommitted
        assert session.get(Link, "google-oauth2|fresh").immutable_id == "aWlk"


@pytest.fixture
def pg_store():
    """A migrated store on PostgreSQL alone: SQLite has no server to drop a connection."""
    schema = PgSchema()
    store = Store(schema.url)
    migrate(store.engine)
    yield store
    store.dispose()
    schema.drop()


def test_a_connection_the_database_dropped_is_replaced_and_the_read_sent_again(pg_store):
    store = pg_store
    links.get_or_create(store, "auth0|kept", "a2VwdA==", {})
    pid = store.first(text("SELECT pg_backend_pid()"), {})[0]  # the pooled connection the next read takes
    with create_engine(PG_ADMIN_URL).begin() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    assert links.get(store, "auth0|kept").immutable_id == "a2VwdA=="
    assert store.first(text("SELECT pg_backend_pid()"), {})[0] != pid


def test_an_expired_lease_can_be_taken_over(store):
    links.get_or_create(store, "auth0|2", "iid2==", {})
    assert links.acquire(store, "auth0|2", "crashed-worker", -1)
    assert links.acquire(store, "auth0|2", "next-worker", 30)


def test_the_audit_log_is_append_only(store):
    with store.session() as session:
        audit.record(session, "o365.user.ready", "ok", "auth0|3", "obj-3", reference="r1", upn="x@y.z")
    with pytest.raises(AuditLogIsAppendOnly):
        with store.session() as session:
            row = session.scalars(select(AuditEvent)).one()
            assert (row.action, row.detail["upn"], row.reference) == ("o365.user.ready", "x@y.z", "r1")
            row.outcome = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        with store.session() as session:
            session.delete(session.scalars(select(AuditEvent)).one())
    with store.session() as session:
        assert session.scalars(select(AuditEvent.outcome)).all() == ["ok"]
