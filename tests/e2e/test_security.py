"""Refused tokens change nothing in Entra; secrets never reach a log line or an error body."""
import time

import pytest
from jose import jwt

from service import sandbox


def _session_token(secret=sandbox.COMPANION_SECRET, alg="HS256", **over):
    claims = {"iss": sandbox.AUTH0_DOMAIN, "sub": "google-oauth2|tok", "exp": int(time.time()) + 300,
              "user": {"email": "tok@gmail.com"}, **over}
    return jwt.encode(claims, secret, algorithm=alg)


@pytest.mark.parametrize("token", [
    pytest.param(_session_token(secret="x" * 40), id="wrong-secret"),
    pytest.param(_session_token(iss="evil.auth0.com"), id="wrong-iss"),
    pytest.param(_session_token(exp=int(time.time()) - 10), id="expired"),
    pytest.param("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", id="alg-none"),
])
def test_bad_session_tokens_are_refused_with_no_side_effect(sqlite_stack, token):
    resp = sqlite_stack.http.get(f"{sqlite_stack.url}/o365/start",
                                 params={"state": "st-1", "session_token": token}, timeout=30)
    assert resp.status_code == 400 and "Office 365" in resp.text
    assert "/continue" not in resp.text  # no way forward with a forged token
    assert sqlite_stack.graph.stats()["requests"].get("POST /v1.0/users", 0) == 0


def test_api_refuses_a_token_for_another_user(sqlite_stack):
    user = {"user_id": "google-oauth2|victim", "email": "victim@gmail.com"}
    resp = sqlite_stack.provision(user, sub="google-oauth2|attacker")
    assert resp.status_code == 403 and resp.json()["error"]["field"] == "user_id"
    assert sqlite_stack.graph.stats()["requests"].get("POST /v1.0/users", 0) == 0


@pytest.mark.parametrize("body,field", [
    ({"user_id": "google-oauth2|b1", "email": 12}, "email"),
    ({"user_id": "google-oauth2|b2", "usage_location": "Narnia"}, "usage_location"),
    ({"user_id": "google-oauth2|b3", "favourite_colour": "blue"}, "favourite_colour"),
])
def test_bad_bodies_name_the_field(sqlite_stack, body, field):
    resp = sqlite_stack.provision(body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == field


def test_malformed_json_is_a_named_error(sqlite_stack):
    resp = sqlite_stack.http.post(f"{sqlite_stack.url}/v1/o365/provision", data=b"{not json",
                                  headers={**sqlite_stack.bearer("u"), "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "body"


def test_no_secret_in_any_log_line_or_error_body(graph, auth0, tmp_path):
    from tests.e2e.conftest import Stack
    stack = Stack(graph, auth0, f"sqlite:///{tmp_path}/s.db", str(tmp_path))
    stack.start(ENTRA_CLIENT_SECRET="wrong-entra-secret-value-123", LOG_LEVEL="DEBUG")
    bodies = [stack.provision({"user_id": "google-oauth2|sec", "email": "sec@gmail.com"}).text,
              stack.http.get(f"{stack.url}/o365/start", params={"state": "s", "session_token": "bad"}).text,
              stack.provision({"user_id": "google-oauth2|sec"}, secret="y" * 40).text]
    stack.stop()
    secrets = ["wrong-entra-secret-value-123", sandbox.COMPANION_SECRET, sandbox.AUTH0_CLIENT_SECRET]
    text = stack.logs() + "".join(bodies)
    assert "invalid_client" in text or "AuthFailed" in text or "auth" in text.lower()
    for secret in secrets:
        assert secret not in text


def test_an_unrelated_m2m_token_for_the_audience_provisions_nobody(graph, auth0, tmp_path):
    """A genuine client-credentials token without provision:office365 is 403; a tampered one 401."""
    import requests
    from tests.e2e.conftest import Stack
    audience = f"https://{sandbox.AUTH0_DOMAIN}/api/v2/"  # the audience the emulator's /oauth/token issues
    stack = Stack(graph, auth0, f"sqlite:///{tmp_path}/rs.db", str(tmp_path)).start(COMPANION_API_AUDIENCE=audience)
    token = requests.post(f"{auth0.url}/oauth/token", timeout=10, json={
        "grant_type": "client_credentials", "client_id": sandbox.AUTH0_CLIENT_ID,
        "client_secret": sandbox.AUTH0_CLIENT_SECRET, "audience": audience}).json()["access_token"]
    body = {"user_id": "google-oauth2|rs256", "email": "rs256@gmail.com", "mode": "async"}
    unrelated = stack.http.post(f"{stack.url}/v1/o365/provision", json=body, timeout=30,
                                headers={"Authorization": f"Bearer {token}"})
    tampered = stack.http.post(f"{stack.url}/v1/o365/provision", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {token[:-4]}AAAA"})
    stack.stop()
    assert unrelated.status_code == 403 and "provision:office365" in unrelated.json()["error"]["message"]
    assert tampered.status_code == 401
    assert graph.stats()["requests"].get("POST /v1.0/users", 0) == 0
