"""Auth0 emulator: client-credentials tokens and bearer checks on the Management API."""
import base64

import pytest
from jose import jwt

from emulators.auth0.testing import Auth0TestClient
from tests.support.emulators import AUTH0_CLIENT_ID, AUTH0_DOMAIN

AUDIENCE = f"https://{AUTH0_DOMAIN}/api/v2/"


def test_good_secret_gets_a_verifiable_token(emu):
    got = emu.token_response()
    assert got.status_code == 200
    body = got.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert "read:users" in body["scope"].split()
    jwks = emu.http.get("/.well-known/jwks.json").json
    claims = jwt.decode(body["access_token"], jwks, algorithms=["RS256"], audience=AUDIENCE,
                        issuer=f"https://{AUTH0_DOMAIN}/")
    assert claims["sub"] == f"{AUTH0_CLIENT_ID}@clients" and claims["gty"] == "client-credentials"
    assert claims["exp"] - claims["iat"] == 86400
    assert emu.control("GET", "stats")["tokens_issued"] == 1


def test_form_body_and_basic_auth_are_accepted(emu):
    form = {"grant_type": "client_credentials", "audience": AUDIENCE}
    basic = base64.b64encode(f"{AUTH0_CLIENT_ID}:sandbox-m2m-client-secret".encode()).decode()
    got = emu.http.post("/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert got.status_code == 200 and got.json["access_token"]


def test_requested_scope_narrows_the_grant(emu):
    assert emu.token_response(scope="read:users delete:clients").json["scope"] == "read:users"


@pytest.mark.parametrize("params, status, body", [
    ({"client_secret": "wrong"}, 401, {"error": "access_denied", "error_description": "Unauthorized"}),
    ({"client_id": "someone-else"}, 401, {"error": "access_denied", "error_description": "Unauthorized"}),
    ({"audience": "https://elsewhere/api/v2/"}, 403,
     {"error": "access_denied", "error_description": "Service not enabled within domain: https://elsewhere/api/v2/"}),
    ({"grant_type": "password"}, 403,
     {"error": "unauthorized_client", "error_description": "Grant type 'password' not allowed for the client."}),
    ({"grant_type": ""}, 400, {"error": "invalid_request", "error_description": "Missing required parameter: grant_type"}),
])
def test_token_refusals(emu, params, status, body):
    got = emu.token_response(**params)
    assert (got.status_code, got.json) == (status, body)
    assert emu.control("GET", "stats")["tokens_issued"] == 0


@pytest.mark.parametrize("token, message", [
    ("", "Missing authentication"),
    ("not-a-jwt", "Invalid token"),
])
def test_management_calls_need_a_valid_bearer(emu, token, message):
    got = emu.api("GET", "/users", token=token, headers={} if token else {})
    assert got.status_code == 401
    assert got.json == {"statusCode": 401, "error": "Unauthorized", "message": message}
    assert "x-ratelimit-remaining" in got.headers


def test_foreign_signature_and_expiry_are_refused(emu):
    other = Auth0TestClient(domain=AUTH0_DOMAIN)
    got = emu.api("GET", "/users", token=other.token)
    assert got.status_code == 401 and "Invalid signature" in got.json["message"]
    emu.control("PATCH", "config", json={"token_lifetime_s": 0})
    expired = emu.token_response().json["access_token"]
    got = emu.api("GET", "/users", token=expired)
    assert got.status_code == 401 and "Expired token" in got.json["message"]


def test_missing_scope_is_403(emu):
    emu.control("PATCH", "config", json={"scopes": "read:users"})
    token = emu.token_response().json["access_token"]
    assert emu.api("GET", "/users", token=token).status_code == 200
    got = emu.api("DELETE", "/users/auth0|x", token=token)
    assert got.status_code == 403
    assert got.json == {"statusCode": 403, "error": "Forbidden", "errorCode": "insufficient_scope",
                        "message": "Insufficient scope, expected any of: delete:users"}


def test_unknown_management_path_is_404(emu):
    got = emu.api("GET", "/clients")
    assert got.status_code == 404 and got.json["statusCode"] == 404
