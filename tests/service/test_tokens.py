"""Tokens exchanged with Actions: one pinned algorithm, issuer, expiry and audience checked."""
import base64
import json
import time
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from service import tokens

SETTINGS = SimpleNamespace(companion_secret="s" * 40, auth0_domain="acme.eu.auth0.com",
                           companion_public_url="https://companion.acme.com", companion_api_audience=None)


def _session(**over):
    claims = {"iss": "acme.eu.auth0.com", "sub": "google-oauth2|1", "exp": int(time.time()) + 60, **over}
    return jwt.encode(claims, SETTINGS.companion_secret, algorithm="HS256")


def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_a_good_session_token_is_accepted():
    assert tokens.verify_session_token(_session(), SETTINGS)["sub"] == "google-oauth2|1"


@pytest.mark.parametrize("token", [
    pytest.param(jwt.encode({"iss": "acme.eu.auth0.com", "sub": "u", "exp": int(time.time()) + 60},
                            "w" * 40, algorithm="HS256"), id="wrong-secret"),
    pytest.param(_b64({"alg": "none", "typ": "JWT"}) + "." +
                 _b64({"iss": "acme.eu.auth0.com", "sub": "u", "exp": 9999999999}) + ".", id="alg-none"),
    pytest.param(_session(iss="evil.auth0.com"), id="wrong-iss"),
    pytest.param(_session(exp=int(time.time()) - 5), id="expired"),
    pytest.param(_session(sub=""), id="no-sub"),
    pytest.param("not.a.jwt", id="garbage"),
])
def test_bad_session_tokens_are_refused(token):
    with pytest.raises(tokens.TokenRejected):
        tokens.verify_session_token(token, SETTINGS)


def test_rs256_token_signed_with_a_key_is_not_accepted_as_hs256():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    token = jwt.encode({"iss": "acme.eu.auth0.com", "sub": "u", "exp": int(time.time()) + 60}, pem,
                       algorithm="RS256")
    with pytest.raises(tokens.TokenRejected):
        tokens.verify_session_token(token, SETTINGS)


def test_hs256_token_keyed_with_a_public_key_is_refused_for_the_api():
    settings = SimpleNamespace(**{**vars(SETTINGS), "companion_api_audience": "https://companion/api"})
    forged = jwt.encode({"iss": "https://acme.eu.auth0.com/", "aud": "https://companion/api", "sub": "x",
                         "exp": int(time.time()) + 60}, "public-key-material-" * 3, algorithm="HS256")
    with pytest.raises(tokens.TokenRejected):
        tokens.verify_action_token(forged, settings, jwks=None)


def test_action_tokens_need_issuer_audience_and_short_life():
    now = int(time.time())
    good = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": "u", "iat": now, "exp": now + 60}
    assert tokens.verify_action_token(jwt.encode(good, SETTINGS.companion_secret, "HS256"), SETTINGS)["sub"] == "u"
    for bad in ({**good, "aud": "other"}, {**good, "iss": "other"}, {**good, "exp": now + 3600}):
        with pytest.raises(tokens.TokenRejected):
            tokens.verify_action_token(jwt.encode(bad, SETTINGS.companion_secret, "HS256"), SETTINGS)


def test_result_token_carries_state_sub_status_and_identity():
    token = tokens.result_token(SETTINGS, state="st", sub="u", status="ready", upn="a@b", immutable_id="i==")
    claims = jwt.decode(token, SETTINGS.companion_secret, algorithms=["HS256"])
    assert (claims["state"], claims["sub"], claims["status"], claims["upn"]) == ("st", "u", "ready", "a@b")
    assert 0 < claims["exp"] - time.time() <= tokens.RESULT_LIFETIME_S
