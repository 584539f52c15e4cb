"""One fact, one row: a lease that lapses mid-step repeats the step, never its audit row (SQLite and PostgreSQL)."""
import pytest
from sqlalchemy import select, text, update

from service import audit
from service.clients.graph import GraphClient
from service.db import Store, migrate
from service.models import AuditEvent, Link
from service.provisioning import Provisioner
from service.settings import from_env
from tests.support.env import companion_env

ONCE = ("entra.user.adopted", "entra.user.created", "entra.licence.assigned", "o365.user.ready")
USER = {"user_id": "auth0|lapse", "email": "lapse@example.com"}


class LapsingGraph:
    """The real Graph client; before the named call the lease lapses and another worker runs the user."""

    def __init__(self, real, method, other):
        self.real, self.method, self.other = real, method, other

    def __getattr__(self, name):
        found = getattr(self.real, name)
        if name != self.method or self.other is None:
            return found

        def lapsed(*args, **kwargs):
            other, self.other = self.other, None
            with other.store.session() as session:  # the lease runs out while this worker is stalled
                session.execute(update(Link).values(lease_until=None, lease_owner=None))
            assert other.ensure(USER, wait_s=15).state == "ready"
            return found(*args, **kwargs)
        return lapsed


@pytest.fixture
def make(graph, auth0, database_url):
    settings = from_env(companion_env(graph, auth0, database_url))
    store = Store(settings.database_url)
    migrate(store.engine)
    yield lambda g=None: Provisioner(settings, store, g or GraphClient.from_settings(settings))
    store.dispose()


def _counts(store):
    with store.session() as session:
        rows = session.scalars(select(AuditEvent.action).where(AuditEvent.auth0_user_id == USER["user_id"])).all()
    return {a: rows.count(a) for a in ONCE if a in rows}


@pytest.mark.parametrize("method", ["assign_license", "get_user"])
def test_a_lapsed_lease_repeats_the_step_but_not_its_audit_rows(make, method):
    stalled = make()
    stalled.graph = LapsingGraph(stalled.graph, method, make())
    assert stalled.ensure(USER, wait_s=15).state == "ready"
    assert _counts(stalled.store) == {"entra.user.created": 1, "entra.licence.assigned": 1, "o365.user.ready": 1}


def test_adoption_after_a_lapsed_lease_is_recorded_once(make):
    first = make()
    assert first.ensure(USER, wait_s=15).state == "ready"
    with first.store.session() as session:  # the companion forgot the account (restore from an old backup)
        session.execute(text("DELETE FROM identity_links"))
        session.execute(text("DELETE FROM audit_log"))
    stalled = make()
    stalled.graph = LapsingGraph(stalled.graph, "find_user_by_immutable_id", make())
    assert stalled.ensure(USER, wait_s=15).state == "ready"
    assert _counts(stalled.store) == {"entra.user.adopted": 1, "entra.licence.assigned": 1, "o365.user.ready": 1}


def test_facts_recorded_for_a_group_skip_the_ones_already_there(database_url):
    store = Store(database_url)
    migrate(store.engine)
    rows = [{"auth0_user_id": f"auth0|g{i}", "entra_object_id": f"oid-{i}", "fact": f"oid-{i}",
             "detail": {"upn": f"g{i}@example.com"}} for i in range(3)]
    with store.session() as session:
        audit.record(session, "o365.user.ready", "ok", "auth0|g1", "oid-1", fact="oid-1")
    with store.session() as session:  # a group pass after a lapsed lease states g1's fact again
        audit.record_facts(session, "o365.user.ready", "ok", rows)
        audit.record_facts(session, "o365.user.ready", "ok", [])
    with store.session() as session:
        got = session.execute(select(AuditEvent.auth0_user_id, AuditEvent.fact, AuditEvent.detail)
                              .where(AuditEvent.action == "o365.user.ready").order_by(AuditEvent.id)).all()
    assert [(u, f) for u, f, _d in got] == [("auth0|g1", "oid-1"), ("auth0|g0", "oid-0"), ("auth0|g2", "oid-2")]
    assert got[1].detail == {"upn": "g0@example.com"}
    store.dispose()
