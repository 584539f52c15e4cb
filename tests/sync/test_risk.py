"""Risk lock-out: holds through other changes, lifts only when Entra clears the risk, one alert per detection."""
import pytest

from service.sync import handlers, risk, who
from service.sync.effects import CAUSES_KEY
from tests.support.receivers import SlackReceiver
from tests.sync.conftest import AUTH0_DB


@pytest.fixture
def slack():
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def ctx(world, slack):
    return world.context({"connection": AUTH0_DB, "profile": {"namespace": "entra"}}, SLACK_WEBHOOK_URL=slack.url)


def _risk(world, oid, state="atRisk", level="high"):
    emu = world.graph_emu
    emu.http.post(f"{emu.url}/_emulator/risk", json={"userId": oid, "riskLevel": level,
                                                     "riskState": state}).raise_for_status()


def _auth0(world, entra_user):
    (user,) = world.auth0_users(entra_user["mail"])
    return user


def _revocations(world):
    return world.graph_emu.stats()["requests"].get("POST /v1.0/users/{id}/revokeSignInSessions", 0)


def test_a_risk_block_holds_through_other_changes_until_entra_clears_the_risk(world, ctx):
    eve = world.user("eve")
    handlers.sync_user(ctx, eve["id"], {})
    _risk(world, eve["id"])
    risk.poll(ctx, None, {})
    assert _auth0(world, eve)["blocked"] is True
    world.entra.update_user(eve["id"], {"department": "Finance"})  # an unrelated change
    assert handlers.sync_user(ctx, eve["id"], {}) == "synced"
    assert _auth0(world, eve)["blocked"] is True
    world.entra.update_user(eve["id"], {"accountEnabled": False})
    handlers.sync_user(ctx, eve["id"], {})
    assert _auth0(world, eve)["app_metadata"][CAUSES_KEY]["causes"] == ["entra", "risk"]
    world.entra.update_user(eve["id"], {"accountEnabled": True})  # the re-enable lifts only its own block
    handlers.sync_user(ctx, eve["id"], {})
    user = _auth0(world, eve)
    assert user["blocked"] is True and user["app_metadata"][CAUSES_KEY]["causes"] == ["risk"]
    _risk(world, eve["id"], state="dismissed", level="none")
    risk.poll(ctx, None, {})
    user = _auth0(world, eve)
    assert user["blocked"] is False and CAUSES_KEY not in user["app_metadata"]
    assert "blocked_by_companion" not in user["app_metadata"]["entra"]


def test_a_risk_cleared_in_entra_leaves_an_entra_disable_in_place(world, ctx):
    fay = world.user("fay")
    handlers.sync_user(ctx, fay["id"], {})
    _risk(world, fay["id"])
    risk.poll(ctx, None, {})
    world.entra.update_user(fay["id"], {"accountEnabled": False})
    handlers.sync_user(ctx, fay["id"], {})
    _risk(world, fay["id"], state="remediated", level="none")
    risk.poll(ctx, None, {})
    user = _auth0(world, fay)
    assert user["blocked"] is True and user["app_metadata"][CAUSES_KEY]["causes"] == ["entra"]


def test_one_risk_detection_gives_one_alert_and_one_revocation(world, slack, database_url):
    ctx = world.context({"connection": AUTH0_DB, "profile": {"namespace": "entra"}}, SLACK_WEBHOOK_URL=slack.url,
                        DATABASE_URL=database_url)
    gus = world.user("gus")
    handlers.sync_user(ctx, gus["id"], {})
    _risk(world, gus["id"])
    for _ in range(3):  # overlapping polls all see the same detection
        risk.poll(ctx, None, {})
    assert len(slack.messages) == 1 and _revocations(world) == 1
    assert len(world.audit(ctx, "auth0.user.blocked")) == 1
    _risk(world, gus["id"], level="high", state="confirmedCompromised")  # a new detection is news
    risk.poll(ctx, None, {})
    assert len(slack.messages) == 2 and _revocations(world) == 2


@pytest.mark.parametrize("was_blocked_by_entra", [True, False])
def test_a_risk_that_lands_while_the_user_is_being_synced_is_not_undone(world, ctx, monkeypatch, was_blocked_by_entra):
    ivy = world.user("ivy")
    handlers.sync_user(ctx, ivy["id"], {})
    if was_blocked_by_entra:
        world.entra.update_user(ivy["id"], {"accountEnabled": False})
        handlers.sync_user(ctx, ivy["id"], {})
        world.entra.update_user(ivy["id"], {"accountEnabled": True})
    real = who.resolve

    def resolve_then_risk(*args, **kwargs):
        found = real(*args, **kwargs)  # the sync read the user; now the risk poll runs
        monkeypatch.setattr(handlers.who, "resolve", real)
        _risk(world, ivy["id"])
        risk.poll(ctx, None, {})
        return found

    monkeypatch.setattr(handlers.who, "resolve", resolve_then_risk)
    handlers.sync_user(ctx, ivy["id"], {})
    user = _auth0(world, ivy)
    assert user["blocked"] is True and user["app_metadata"][CAUSES_KEY]["causes"] == ["risk"]
    assert user["app_metadata"]["entra"]["blocked_by_companion"] is True
