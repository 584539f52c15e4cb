"""ensure() against the running Graph emulator: lag, adoption, UPN variants, seats, faults."""
import pytest
from sqlalchemy import select

from service.clients.graph import GraphClient
from service.db import Store, migrate
from service.models import AuditEvent
from service.provisioning import Provisioner
from service.settings import from_env
from tests.support import emulators as emu
from tests.support.env import companion_env


@pytest.fixture
def provisioner(graph, auth0, tmp_path):
    settings = from_env(companion_env(graph, auth0, f"sqlite:///{tmp_path}/p.db"))
    store = Store(settings.database_url)
    migrate(store.engine)
    return Provisioner(settings, store, GraphClient.from_settings(settings))


def _entra_users(graph, domain=emu.FEDERATED_DOMAIN):
    return [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + domain)]


def _audit(provisioner, action):
    with provisioner.store.session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_new_user_becomes_ready_through_replication_lag(graph, provisioner):
    graph.configure(replication_lag_s=1.0)
    user = {"user_id": "google-oauth2|111", "email": "jane.doe@gmail.com", "name": "Jane Doe"}
    first = provisioner.ensure(user, wait_s=0)
    assert first.state == "pending"
    done = provisioner.ensure(user, wait_s=15)
    assert done.state == "ready"
    (entra,) = _entra_users(graph)
    assert entra["id"] == done.object_id and entra["userPrincipalName"] == done.upn
    assert entra["onPremisesImmutableId"] == done.immutable_id and entra["usageLocation"] == "GB"
    assert [lic["skuId"] for lic in entra["assignedLicenses"]] == [emu.SKU_ID]
    assert done.upn.startswith("jane.doe.") and _audit(provisioner, "o365.user.ready")


def test_an_existing_account_with_our_immutable_id_is_adopted_not_duplicated(graph, provisioner):
    user = {"user_id": "auth0|crash", "email": "crash@example.com"}
    provisioner.ensure(user, wait_s=0)  # creates and licenses
    provisioner.store.dispose()
    with provisioner.store.session() as session:  # forget the write-back, as a crash would
        session.execute(__import__("sqlalchemy").text("DELETE FROM identity_links"))
    again = provisioner.ensure(user, wait_s=10)
    assert again.state == "ready" and len(_entra_users(graph)) == 1
    assert _audit(provisioner, "entra.user.adopted")


def test_a_upn_owned_by_another_immutable_id_is_never_adopted(graph, provisioner):
    user = {"user_id": "auth0|upn", "email": "taken@example.com"}
    from service import identity
    squatter_upn = identity.upn(user, "{local}.{hash}", emu.FEDERATED_DOMAIN)
    provisioner.graph.create_user(identity.new_user_body({"user_id": "other", "email": "o@x.com"},
                                                         squatter_upn, "c3F1YXR0ZXJpbW11dGFibGU=", "GB"))
    done = provisioner.ensure(user, wait_s=10)
    assert done.state == "ready" and done.upn == squatter_upn.replace("@", "-2@")
    (why,) = _audit(provisioner, "entra.upn.taken")
    assert "another account" in why.detail["reason"]


def test_no_free_seats_fails_clearly_before_anything_is_created(graph, provisioner):
    graph.configure(seats={emu.SKU_ID: 0})
    done = provisioner.ensure({"user_id": "auth0|seat", "email": "s@example.com"}, wait_s=2)
    assert done.state == "failed" and "No ENTERPRISEPACK licences are left" in done.message
    assert _entra_users(graph) == [] and _audit(provisioner, "o365.provisioning.failed")


def test_graph_429_and_503_are_absorbed_within_the_budget(graph, provisioner):
    graph.add_faults({"method": "POST", "path": "^/v1.0/users$", "kind": "status", "status": 503, "count": 1},
                     {"method": "POST", "path": "assignLicense$", "kind": "status", "status": 429,
                      "count": 1, "retry_after": 1})
    done = provisioner.ensure({"user_id": "auth0|busy", "email": "b@example.com"}, wait_s=15)
    assert done.state == "ready" and len(_entra_users(graph)) == 1


@pytest.mark.parametrize("user", [
    {"user_id": "auth0|q1", "email": "o'brien\"x@example.com", "name": "O'Brien \"The\" Tester"},
    {"user_id": "auth0|q2", "email": "plus+tag@example.com"},
    {"user_id": "auth0|q3", "email": "zoë@exämple.com", "name": "Zoë Ünïcode 张伟"},
    {"user_id": "auth0|q4", "email": "long@example.com", "name": "N" * 300},
    {"user_id": "auth0|q5", "nickname": "no-email"},
])
def test_hostile_but_valid_profiles_get_a_correct_account(graph, provisioner, user):
    done = provisioner.ensure(user, wait_s=10)
    assert done.state == "ready"
    (entra,) = _entra_users(graph)
    assert entra["assignedLicenses"] and len(entra["displayName"]) <= 256


def test_invalid_usage_location_is_a_clear_error_with_nothing_created(graph, provisioner):
    from service.identity import InvalidUser
    with pytest.raises(InvalidUser) as err:
        provisioner.ensure({"user_id": "auth0|loc", "email": "l@example.com", "usage_location": "XX"})
    assert err.value.field == "usage_location" and _entra_users(graph) == []


def test_a_disabled_office365_account_gets_a_clear_answer_not_an_endless_wait(graph, provisioner):
    from service import links
    user = {"user_id": "auth0|off", "email": "off@example.com"}
    assert provisioner.ensure(user, wait_s=10).state == "ready"
    link = links.get(provisioner.store, "auth0|off")
    links.save(provisioner.store, link, state="disabled")
    done = provisioner.ensure(user, wait_s=1)
    assert done.state == "failed" and "switched off" in done.message
    assert links.get(provisioner.store, "auth0|off").state == "disabled"
