"""The console without a browser: settings, who counts as an operator, the gate, cookies, and restoring a graded account."""
import datetime as dt

import pytest

from service import create_app, links
from service.console import actions, signin
from service.db import migrate
from service.errors import Transient
from service.settings import ConfigError, from_env
from service.sync import auth0_events, deprovision
from tests.service.test_settings import GOOD
from tests.sync.conftest import World  # noqa: F401 (the world fixture below builds on it)
from tests.sync.test_deprovision import NOW, _entra, _event, _provisioned, day

CONSOLE = {"CONSOLE_CLIENT_ID": "console-client", "CONSOLE_CLIENT_SECRET": "console-secret-value"}
OPERATOR = {"sub": "auth0|op", "email": "ops@example.com"}


@pytest.fixture
def world(graph, auth0, tmp_path):
    return World(graph, auth0, tmp_path)


def _app(tmp_path, **env):
    app = create_app(from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/c.db", **env}))
    migrate(app.extensions["companion"].store.engine)
    return app


def test_console_settings_need_the_secret_and_https_except_on_loopback():
    with pytest.raises(ConfigError, match="CONSOLE_CLIENT_SECRET is not set"):
        from_env({**GOOD, "CONSOLE_CLIENT_ID": "x"})
    with pytest.raises(ConfigError, match="COMPANION_PUBLIC_URL is malformed: the console needs https"):
        from_env({**GOOD, **CONSOLE, "COMPANION_PUBLIC_URL": "http://companion.acme.com"})
    s = from_env({**GOOD, **CONSOLE, "COMPANION_PUBLIC_URL": "http://127.0.0.1:8000",
                  "CONSOLE_OPERATOR_EMAILS": "Ops@Example.com, b@example.com"})
    assert s.console_operator_emails == ("ops@example.com", "b@example.com")
    assert "console-secret-value" in s.secret_values()


class FakeAuth0:
    def __init__(self, roles=(), fail=False):
        self.roles, self.fail, self.calls = list(roles), fail, 0

    def user_roles(self, _user_id):
        self.calls += 1
        if self.fail:
            raise Transient("Auth0 is unavailable (HTTP 503)")
        return [{"name": r} for r in self.roles]


def test_operators_hold_the_role_or_a_listed_verified_email():
    s = from_env({**GOOD, **CONSOLE, "CONSOLE_OPERATOR_EMAILS": "ops@example.com",
                  "CONSOLE_ROLES_CLAIM": "https://companion/roles"})
    claims = {"sub": "auth0|1", "email": "ops@example.com", "email_verified": True}
    assert signin.operator(claims, s, FakeAuth0())["via"] == "email"
    unverified = dict(claims, email_verified=False)
    assert signin.operator(unverified, s, FakeAuth0()) is None  # anyone can sign up with an address
    claimed = dict(unverified, **{"https://companion/roles": ["Companion Operator"]})
    api = FakeAuth0()
    assert signin.operator(claimed, s, api)["via"] == "role" and api.calls == 0
    api = FakeAuth0(roles=["Staff", "Companion Operator"])
    assert signin.operator(unverified, s, api)["via"] == "role" and api.calls == 1
    with pytest.raises(signin.SignInFailed, match="roles could not be read"):
        signin.operator(unverified, s, FakeAuth0(fail=True))


def test_the_console_is_off_without_a_client_and_says_how_to_turn_it_on(tmp_path):
    resp = _app(tmp_path).test_client().get("/admin/")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "CONSOLE_CLIENT_ID" in resp.get_data(as_text=True)


def test_the_gate_redirects_to_sign_in_refuses_csrf_less_posts_and_sets_headers(tmp_path):
    client = _app(tmp_path, **CONSOLE).test_client()
    resp = client.get("/admin/events")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    with client.session_transaction() as sess:
        sess["operator"] = OPERATOR
    refused = client.post("/admin/events/1/requeue")
    assert refused.status_code == 400 and "could not be accepted" in refused.get_data(as_text=True)
    assert client.get("/admin/no-such-page").mimetype == "text/html"
    wrong_method = client.put("/admin/events")  # refused while routing, before the console's own handlers
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    assert "cannot be used this way" in wrong_method.get_data(as_text=True)


def test_the_session_cookie_is_secure_httponly_and_host_bound_on_https(tmp_path):
    app = _app(tmp_path, **CONSOLE)
    cfg = app.config
    assert (cfg["SESSION_COOKIE_NAME"], cfg["SESSION_COOKIE_SECURE"], cfg["SESSION_COOKIE_HTTPONLY"],
            cfg["SESSION_COOKIE_SAMESITE"]) == ("__Host-companion-console", True, True, "Lax")
    loopback = _app(tmp_path, **CONSOLE, COMPANION_PUBLIC_URL="http://127.0.0.1:8000").config
    assert (loopback["SESSION_COOKIE_NAME"], loopback["SESSION_COOKIE_SECURE"]) == ("companion-console", False)


def test_restore_unblocks_the_auth0_user_and_brings_the_account_back_audited(world):
    ctx = world.context({})
    uid, oid = _provisioned(world, ctx, "rae")
    ctx.auth0.update_user(uid, {"blocked": True})
    auth0_events.handle(ctx, uid, _event("user.updated", blocked=True), now=NOW)
    deprovision.run_due(ctx, None, {}, now=day(31))
    assert _entra(world, oid) == "deleted"
    assert actions.restore_account(ctx, uid, OPERATOR, now=day(40)) == "restored"
    account = _entra(world, oid)
    assert account["accountEnabled"] is True and account["assignedLicenses"]
    assert ctx.auth0.get_user(uid).get("blocked") is False and links.get(ctx.store, uid).deprovision_step is None
    (row,) = world.audit(ctx, "console.account.restore")
    assert (row.outcome, row.detail["operator"], row.detail["was"]) == ("ok", "ops@example.com", "deleted")


def test_an_account_whose_auth0_user_was_deleted_is_not_restored(world):
    ctx = world.context({})
    uid, _ = _provisioned(world, ctx, "del")
    ctx.auth0.delete_user(uid)
    auth0_events.handle(ctx, uid, _event("user.deleted"), now=NOW)
    with pytest.raises(actions.NotPossible, match="was deleted"):
        actions.restore_account(ctx, uid, OPERATOR, now=NOW + dt.timedelta(days=1))
