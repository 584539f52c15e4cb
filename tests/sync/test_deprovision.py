"""Graded deprovisioning of Office 365 accounts from Auth0 events, with injected time; the webhook's guard."""
import datetime as dt
import secrets
import types

import pytest

from service import create_app, links
from service.models import SyncEvent
from service.settings import ConfigError, from_env
from service.sync import auth0_events, deprovision
from tests.sync.test_backprovision import TOKEN, Hub, cloud_event

NOW = dt.datetime.now(dt.timezone.utc)
REVOKE = "POST /v1.0/users/{id}/revokeSignInSessions"


def day(n, seconds=0):
    return NOW + dt.timedelta(days=n, seconds=seconds)


def _event(kind, at=None, blocked=False):
    return {"type": kind, "time": (at or NOW).isoformat(), "auth0_event_id": "evt_" + secrets.token_hex(6),
            "blocked": blocked}


def _provisioned(world, ctx, name):
    """An Auth0 (Google) user with a ready Office 365 account, as a first login leaves them."""
    email = f"{name}.{secrets.token_hex(3)}@example.com"
    (user,) = world.seed_auth0(email=email, email_verified=True, connection="google-oauth2", name=name.title())["users"]
    outcome = ctx.provisioner.ensure({"user_id": user["user_id"], "email": email, "name": name.title(),
                                      "connection": "google-oauth2"}, 0.0)
    assert outcome.state == "ready"
    return user["user_id"], outcome.object_id


def _entra(world, oid):
    state = world.graph_emu.state()
    live = [u for u in state["users"] if u["id"] == oid]
    return live[0] if live else ("deleted" if any(d["id"] == oid for d in state["deletedItems"]) else None)


def _revocations(world):
    return world.graph_emu.stats()["requests"].get(REVOKE, 0)


def test_deleted_in_auth0_is_disabled_at_once_unlicensed_after_n_days_deleted_after_the_grace(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "ada")
    ctx.auth0.delete_user(uid)
    assert auth0_events.handle(ctx, uid, _event("user.deleted"), now=NOW) == "blocked"
    account = _entra(world, oid)
    assert account["accountEnabled"] is False and account["assignedLicenses"] and _revocations(world) == 1
    (row,) = world.audit(ctx, "entra.user.disabled")
    assert (row.auth0_user_id, row.entra_object_id, row.outcome) == (uid, oid, "ok")
    deprovision.run_due(ctx, None, {}, now=day(6, 86000))
    assert _entra(world, oid)["assignedLicenses"]
    deprovision.run_due(ctx, None, {}, now=day(7, 10))
    assert _entra(world, oid)["assignedLicenses"] == [] and world.audit(ctx, "entra.licence.removed")
    deprovision.run_due(ctx, None, {}, now=day(29))
    assert _entra(world, oid)["accountEnabled"] is False
    deprovision.run_due(ctx, None, {}, now=day(30, 10))
    assert _entra(world, oid) == "deleted" and links.get(ctx.store, uid).deprovision_step == "deleted"
    before = len(world.audit(ctx))
    deprovision.run_due(ctx, None, {}, now=day(31))
    assert len(world.audit(ctx)) == before and _revocations(world) == 1  # nothing is done twice
    assert [r.entra_object_id for r in world.audit(ctx, "entra.user.deleted")] == [oid]


def test_unblocked_within_the_grace_gets_the_account_back_from_deleted_items(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "bo")
    ctx.auth0.update_user(uid, {"blocked": True})
    assert auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW) == "blocked"
    deprovision.run_due(ctx, None, {}, now=day(31))  # both later grades fall due in one run
    assert _entra(world, oid) == "deleted"
    ctx.auth0.update_user(uid, {"blocked": False})
    assert auth0_events.handle(ctx, uid, _event("user.updated", at=NOW + dt.timedelta(seconds=5)),
                               now=day(40)) == "restored"
    account = _entra(world, oid)
    assert account["accountEnabled"] is True and account["assignedLicenses"]
    link = links.get(ctx.store, uid)
    assert (link.state, link.deprovision_step, link.deprovisioned_at) == ("ready", None, None)
    for action in ("entra.user.restored", "entra.licence.assigned", "entra.user.enabled"):
        assert world.audit(ctx, action)[-1].entra_object_id == oid, action


def test_an_unblock_whose_event_was_lost_is_found_by_the_daily_run(world):
    ctx = world.context({"deprovision": {"threshold": 10}})
    uid, oid = _provisioned(world, ctx, "cy")
    ctx.auth0.update_user(uid, {"blocked": True})
    auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW)
    deprovision.run_due(ctx, None, {}, now=day(8))
    assert _entra(world, oid)["assignedLicenses"] == []
    ctx.auth0.update_user(uid, {"blocked": False})  # the stream dropped this one
    deprovision.run_due(ctx, None, {}, now=day(9))
    account = _entra(world, oid)
    assert account["accountEnabled"] is True and account["assignedLicenses"]
    assert links.get(ctx.store, uid).state == "ready"


def test_out_of_order_events_follow_the_current_auth0_state(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "di")
    ctx.auth0.update_user(uid, {"blocked": True})
    ctx.auth0.update_user(uid, {"blocked": False})
    later, earlier = NOW + dt.timedelta(seconds=2), NOW + dt.timedelta(seconds=1)
    assert auth0_events.handle(ctx, uid, _event("user.updated", at=later), now=NOW) == "active"
    assert auth0_events.handle(ctx, uid, _event("user.updated", at=earlier, blocked=True), now=NOW) == "stale"
    assert _entra(world, oid)["accountEnabled"] is True and _revocations(world) == 0
    # without a newer event applied, a late 'blocked' snapshot still reads the current (unblocked) user
    uid2, oid2 = _provisioned(world, ctx, "ed")
    assert auth0_events.handle(ctx, uid2, _event("user.updated", blocked=True), now=NOW) == "active"
    assert _entra(world, oid2)["accountEnabled"] is True


def test_a_block_the_entra_sync_set_is_not_graded_back_into_entra(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "flo")
    ctx.auth0.update_user(uid, {"blocked": True, "app_metadata": {"entra": {"blocked_by_companion": True}}})
    assert auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW) == "active"
    assert _entra(world, oid)["accountEnabled"] is True


def test_a_purged_account_is_made_anew_at_the_next_sign_in(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "gus")
    ctx.auth0.update_user(uid, {"blocked": True})
    auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW)
    deprovision.run_due(ctx, None, {}, now=day(31))
    world.graph_emu.http.post(f"{world.graph_emu.url}/_emulator/users/{oid}/purge").raise_for_status()
    ctx.auth0.update_user(uid, {"blocked": False})
    assert auth0_events.handle(ctx, uid, _event("user.updated", at=NOW + dt.timedelta(seconds=1)),
                               now=day(70)) == "purged"
    assert world.audit(ctx, "entra.user.restore.failed")
    link = links.get(ctx.store, uid)
    assert (link.state, link.entra_object_id) == ("pending", None)
    fresh = ctx.provisioner.resume(uid, 0.0)
    assert fresh.state == "ready" and fresh.object_id != oid and fresh.immutable_id == link.immutable_id


def test_dry_run_disables_nothing_and_says_what_it_would_do(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "hu")
    dry = world.context({}, DRY_RUN="true")
    ctx.auth0.delete_user(uid)
    assert auth0_events.handle(dry, uid, _event("user.deleted"), now=NOW) == "dry-run"
    assert _entra(world, oid)["accountEnabled"] is True and _revocations(world) == 0
    (row,) = world.audit(ctx, "entra.user.disabled")
    assert row.outcome == "dry-run" and links.get(ctx.store, uid).deprovision_step is None


def test_dry_run_restore_reports_every_grade_it_would_undo_and_touches_nothing(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "ike")
    ctx.auth0.update_user(uid, {"blocked": True})
    auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW)
    deprovision.run_due(ctx, None, {}, now=day(31))
    ctx.auth0.update_user(uid, {"blocked": False})
    dry = world.context({}, DRY_RUN="true")
    assert deprovision.run_due(dry, None, {}, now=day(32)) == "done"
    assert _entra(world, oid) == "deleted" and links.get(ctx.store, uid).deprovision_step == "deleted"
    rows = [r for r in world.audit(ctx) if r.outcome == "dry-run"]
    assert [r.action for r in rows] == ["entra.user.restored", "entra.licence.assigned", "entra.user.enabled"]


def test_the_threshold_holds_mass_disabling_until_approved(world):
    ctx = world.context({"deprovision": {"threshold": 1}})
    people = [_provisioned(world, ctx, f"mass{n}") for n in range(2)]
    outcomes = []
    for n, (uid, _oid) in enumerate(people):
        ctx.auth0.delete_user(uid)
        event = types.SimpleNamespace(id=n + 1, kind="auth0_user", object_id=uid, detail=_event("user.deleted"))
        outcomes.append(ctx.dispatch(event))
    assert outcomes == ["blocked", "held"]
    assert _entra(world, people[1][1])["accountEnabled"] is True
    assert auth0_events.handle(ctx, people[1][0], {**_event("user.deleted"), "approved": True}) == "blocked"


@pytest.fixture
def hub(world):
    return Hub(world, {})


def test_webhook_needs_the_token_and_is_off_without_it(world, hub):
    event = cloud_event("user.deleted", {"user_id": "google-oauth2|1"})
    assert hub.post(event, token=None).status_code == 401
    assert hub.post(event, token="x" * len(TOKEN)).status_code == 401
    off = create_app(from_env(world.env)).test_client()
    resp = off.post("/v1/events/auth0", json=event, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 404 and "AUTH0_EVENTS_TOKEN" in resp.json["error"]["message"]
    with pytest.raises(ConfigError, match="AUTH0_EVENTS_TOKEN"):
        from_env({**world.env, "AUTH0_EVENTS_TOKEN": "too-short"})
    assert TOKEN in from_env({**world.env, "AUTH0_EVENTS_TOKEN": TOKEN}).secret_values()


def test_webhook_records_each_event_id_once_and_ignores_what_it_does_not_act_on(hub):
    user = {"user_id": "google-oauth2|42", "identities": [{"connection": "google-oauth2"}], "blocked": True}
    event = cloud_event("user.updated", user, event_id="evt_repeated")
    assert hub.post(event).json == {"accepted": 1, "duplicates": 0, "ignored": 0}
    batch = [event, cloud_event("group.created", {"id": "grp_1"}), {"type": "user.created"}]
    resp = hub.post(batch)
    assert resp.status_code == 202 and resp.json == {"accepted": 0, "duplicates": 1, "ignored": 2}
    with hub.ctx.store.session() as session:
        (row,) = session.query(SyncEvent).all()
    assert (row.kind, row.object_id, row.source) == ("auth0_user", "google-oauth2|42", "auth0_stream")
    assert row.detail["type"] == "user.updated" and row.detail["blocked"] is True
    assert row.detail["connection"] == "google-oauth2" and row.detail["auth0_event_id"] == "evt_repeated"
    bad = hub.http.post("/v1/events/auth0", data="nope", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400


@pytest.mark.parametrize("app_metadata, wanted", [
    ({}, "blocked"),  # blocked by a person in Auth0: graded deprovisioning
    ({"entra": {"blocked_by_companion": True}}, None),  # our own block, older marker
    ({"entra_block": {"causes": ["risk"]}}, None),  # our own block, named causes
    ({"entra_block": {"causes": []}}, "blocked"),  # a marker with no cause left is not ours
])
def test_only_a_block_the_companion_did_not_set_is_graded(app_metadata, wanted):
    link = types.SimpleNamespace(deprovision_reason=None)
    user = {"user_id": "auth0|x", "blocked": True, "app_metadata": app_metadata}
    assert deprovision.wanted_off(link, user, "entra") == wanted
