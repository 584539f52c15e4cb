"""End to end: Auth0 Event Streams reach the companion under gunicorn, and the worker changes Entra."""
import json
import time

import pytest
from jose import jwt

from service import sandbox, tokens
from tests.e2e.test_lifecycle import DB_CONNECTION, SyncStack

TOKEN = "e2e-auth0-events-token-" + "t" * 12
REDIRECT = "https://myapps.microsoft.com/"


@pytest.fixture
def stack(graph, auth0, tmp_path):
    mapping = {"connection": DB_CONNECTION,
               "back_provision": {"connections": ["partner-saml"], "mode": "guest", "invite_redirect_url": REDIRECT}}
    s = SyncStack(graph, auth0, f"sqlite:///{tmp_path}/c.db", tmp_path, mapping=mapping, SYNC_EVENTS="delta",
                  SYNC_DELTA_INTERVAL_S="0", RISK_POLL_INTERVAL_S="0", AUTH0_EVENTS_TOKEN=TOKEN)
    yield s.start_worker()
    s.stop()


def _stream(auth0, url):
    """Point an Auth0 event stream at the companion, with the bearer token Auth0 would send."""
    resp = auth0.http.post(f"{auth0.url}/_emulator/streams", timeout=10,
                           json={"url": f"{url}/v1/events/auth0", "authorization": f"Bearer {TOKEN}"})
    resp.raise_for_status()
    return resp.json()["id"]


def _seed(auth0, **user):
    resp = auth0.http.post(f"{auth0.url}/_emulator/users", json=[user], timeout=10)
    resp.raise_for_status()
    return resp.json()["users"][0]


def _provision(stack, user):
    """POST /v1/o365/provision as the Office 365 Action does (tests/e2e/conftest.py Stack.provision)."""
    now = int(time.time())
    claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": user["user_id"],
              "iat": now, "exp": now + 60}
    bearer = jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")
    body = {"user_id": user["user_id"], "email": user["email"], "name": user["name"], "connection": "google-oauth2"}
    resp = stack.entra.session.post(f"{stack.url}/v1/o365/provision", json=body, timeout=60,
                                    headers={"Authorization": f"Bearer {bearer}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["object_id"]


def _entra_user(graph, oid):
    return next((u for u in graph.state()["users"] if u["id"] == oid), None)


def _settled(stack):
    """Every inbox event has run (nothing queued or running)."""
    return not any(stack.cli("events", "--status", status).strip() for status in ("queued", "running"))


def test_auth0_deletion_blocks_the_entra_account_and_a_partner_sign_up_is_invited_once(stack, graph, auth0):
    stream_id = _stream(auth0, stack.url)
    ann = _seed(auth0, email="ann.e2e@example.com", email_verified=True, connection="google-oauth2", name="Ann")
    oid = _provision(stack, ann)
    assert _entra_user(graph, oid)["accountEnabled"] is True
    stack.auth0.delete_user(ann["user_id"])  # Auth0 emits user.deleted to the stream
    stack.wait(lambda: _entra_user(graph, oid)["accountEnabled"] is False, what="Entra account disabled")
    assert graph.stats()["requests"].get("POST /v1.0/users/{id}/revokeSignInSessions", 0) >= 1
    actions = {a["action"] for a in stack.audit(ann["user_id"])}
    assert {"entra.user.disabled", "o365.user.ready"} <= actions

    pat = _seed(auth0, email="pat.partner@example.org", email_verified=True, connection="partner-saml", name="Pat")
    stack.wait(lambda: graph.state()["invitations"], what="guest invited")
    stack.auth0.update_user(pat["user_id"], {"user_metadata": {"team": "partners"}})  # a user.updated as well
    auth0.http.post(f"{auth0.url}/_emulator/flush", json={"timeout_s": 30}, timeout=40).raise_for_status()
    deliveries = auth0.http.get(f"{auth0.url}/_emulator/streams/{stream_id}", timeout=10).json()["deliveries"]
    assert deliveries and all(d["status"] == "delivered" for d in deliveries)
    created = next(d for d in deliveries if d["user_id"] == pat["user_id"] and d["event_type"] == "user.created")
    again = {"specversion": "1.0", "type": "user.created", "id": created["event_id"],
             "time": "2026-01-01T00:00:00Z", "data": {"object": pat}}
    resp = stack.entra.session.post(f"{stack.url}/v1/events/auth0", data=json.dumps(again), timeout=10,
                                    headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert resp.status_code == 202 and resp.json()["duplicates"] == 1  # Auth0's at-least-once repeat
    stack.wait(lambda: _settled(stack), what="every event handled")
    assert not stack.cli("events", "--status", "failed").strip()
    (invitation,) = graph.state()["invitations"]
    assert invitation["invitedUserEmailAddress"] == pat["email"]
    guests = [u for u in graph.state()["users"] if u.get("mail") == pat["email"]]
    assert len(guests) == 1 and guests[0]["userType"] == "Guest"
    assert [a["action"] for a in stack.audit(pat["user_id"])].count("entra.guest.invited") == 1
