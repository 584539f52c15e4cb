"""The Auth0 emulator's sign-in: /authorize, the login form, code + PKCE exchange, ID token, /userinfo, logout."""
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import pytest
from jose import jwt

from emulators.auth0.testing import Auth0TestClient

APP = {"client_id": "console-app", "client_secret": "console-secret-0123456789",
       "callbacks": ["http://127.0.0.1:9/admin/callback"], "allowed_logout_urls": ["http://127.0.0.1:9/admin/"]}
CALLBACK = APP["callbacks"][0]
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def emu():
    client = Auth0TestClient()
    client.control("POST", "applications", json=APP)
    client.seed({"email": "ops@example.com", "password": PASSWORD, "name": "Olive Ops"},
                {"email": "gone@example.com", "password": PASSWORD, "blocked": True})
    return client


def _pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(emu, challenge, **over):
    params = {"response_type": "code", "client_id": APP["client_id"], "redirect_uri": CALLBACK,
              "scope": "openid profile email", "state": "st-1", "nonce": "n-1", "code_challenge": challenge,
              "code_challenge_method": "S256", **over}
    return emu.http.get("/authorize", query_string=params)


def _log_in(emu, challenge, email="ops@example.com", password=PASSWORD):
    first = _authorize(emu, challenge, prompt="login")  # the form even with an SSO session from an earlier test
    assert first.status_code == 302 and first.headers["Location"].startswith("/u/login?state=")
    txn = parse_qs(urlparse(first.headers["Location"]).query)["state"][0]
    form = emu.http.get(first.headers["Location"])
    assert form.status_code == 200 and 'label for="password"' in form.get_data(as_text=True)
    return emu.http.post("/u/login", data={"state": txn, "username": email, "password": password})


def _code(resp):
    query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def _exchange(emu, code, verifier, **over):
    form = {"grant_type": "authorization_code", "client_id": APP["client_id"], "client_secret": APP["client_secret"],
            "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier, **over}
    return emu.http.post("/oauth/token", data=form)


def test_code_flow_with_pkce_gives_an_rs256_id_token_and_userinfo(emu):
    verifier, challenge = _pkce()
    done = _log_in(emu, challenge)
    assert done.status_code == 302 and done.headers["Location"].startswith(CALLBACK + "?")
    tokens = _exchange(emu, _code(done), verifier).json
    jwks = emu.http.get("/.well-known/jwks.json").json
    claims = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"], audience=APP["client_id"],
                        issuer="https://sandbox.eu.auth0.com/", options={"verify_at_hash": False})
    assert claims["email"] == "ops@example.com" and claims["nonce"] == "n-1" and claims["name"] == "Olive Ops"
    info = emu.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json["sub"] == claims["sub"] and info.json["email"] == "ops@example.com"
    assert emu.http.get("/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_code_is_single_use_and_bound_to_the_verifier(emu):
    verifier, challenge = _pkce()
    code = _code(_log_in(emu, challenge))
    wrong = _exchange(emu, code, "x" * 50)
    assert wrong.status_code == 403 and wrong.json["error_description"] == "Failed to verify code verifier"
    again = _exchange(emu, code, verifier)
    assert again.status_code == 403 and again.json["error"] == "invalid_grant"


def test_the_client_secret_and_callback_are_checked(emu):
    verifier, challenge = _pkce()
    code = _code(_log_in(emu, challenge))
    assert _exchange(emu, code, verifier, client_secret="wrong").status_code == 401
    bad = _authorize(emu, challenge, redirect_uri="https://evil.example.com/cb")
    assert bad.status_code == 400 and "Callback URL mismatch" in bad.get_data(as_text=True)
    plain = _authorize(emu, challenge, code_challenge_method="plain")
    assert "error=invalid_request" in plain.headers["Location"]


def test_a_wrong_password_shows_the_form_again_and_a_blocked_user_is_refused(emu):
    _, challenge = _pkce()
    wrong = _log_in(emu, challenge, password="not-it-at-all")
    assert wrong.status_code == 400 and "Wrong email or password." in wrong.get_data(as_text=True)
    blocked = _log_in(emu, challenge, email="gone@example.com")
    assert "error=unauthorized" in blocked.headers["Location"] and "user+is+blocked" in blocked.headers["Location"]


def test_the_sso_session_skips_the_form_until_logout(emu):
    verifier, challenge = _pkce()
    _log_in(emu, challenge)
    again = _authorize(emu, challenge)
    assert again.headers["Location"].startswith(CALLBACK + "?code=")
    out = emu.http.get("/v2/logout", query_string={"client_id": APP["client_id"], "returnTo": APP["allowed_logout_urls"][0]})
    assert out.status_code == 302 and out.headers["Location"] == APP["allowed_logout_urls"][0]
    assert _authorize(emu, challenge).headers["Location"].startswith("/u/login")
    refused = emu.http.get("/v2/logout", query_string={"client_id": APP["client_id"], "returnTo": "https://evil.example.com"})
    assert refused.status_code == 400 and "Allowed Logout URLs" in refused.get_data(as_text=True)


def test_discovery_names_the_endpoints_and_client_credentials_still_work(emu):
    meta = emu.http.get("/.well-known/openid-configuration").json
    assert meta["authorization_endpoint"].endswith("/authorize") and meta["userinfo_endpoint"].endswith("/userinfo")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert emu.token_response().status_code == 200


def test_users_made_through_the_management_api_log_in_with_their_password(emu):
    made = emu.create_user("made@example.com", password="made-password-1")
    _, challenge = _pkce()
    assert _log_in(emu, challenge, email="made@example.com", password="made-password-1").status_code == 302
    emu.api("PATCH", f"/users/{made['user_id']}", json={"password": "changed-password-2"})
    assert _log_in(emu, challenge, email="made@example.com", password="made-password-1").status_code == 400
    role = emu.control("POST", "roles", json={"name": "Companion Operator"})
    assert role["id"].startswith("rol_") and emu.control("POST", "roles", json={"name": "Companion Operator"}) == role
