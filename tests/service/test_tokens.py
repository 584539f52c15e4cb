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


def _action(**over):
    now = int(time.time())
    claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": "u", "iat": now, "exp": now + 60,
              **over}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, SETTINGS.companion_secret, "HS256")


@pytest.mark.parametrize("over", [
    pytest.param({"aud": None}, id="no-aud"),
    pytest.param({"iat": None}, id="no-iat"),
    pytest.param({"iat": int(time.time()) + 365 * 86400, "exp": int(time.time()) + 365 * 86400 + 60}, id="iat-ahead"),
    pytest.param({"iat": str(int(time.time()))}, id="string-iat"),
    pytest.param({"exp": str(int(time.time()) + 60)}, id="string-exp"),
    pytest.param({"exp": True}, id="boolean-exp"),
    pytest.param({"exp": [1]}, id="list-exp"),
    pytest.param({"exp": 1e400}, id="infinite-exp"),
    pytest.param({"sub": 5}, id="numeric-sub"),
    pytest.param({"aud": ["other"]}, id="aud-list-without-ours"),
])
def test_malformed_or_unbounded_action_tokens_are_refused(over):
    with pytest.raises(tokens.TokenRejected):
        tokens.verify_action_token(_action(**over), SETTINGS)


def test_a_little_clock_skew_on_iat_is_tolerated():
    now = int(time.time())
    assert tokens.verify_action_token(_action(iat=now + 30, exp=now + 90), SETTINGS)["sub"] == "u"


def test_unknown_key_ids_read_the_jwks_at_most_once_per_interval():
    from service.jwks import Jwks
    fetches, now = [], [0.0]

    def fetch():
        fetches.append(now[0])
        return [{"kty": "RSA", "kid": "known"}]

    jwks = Jwks(fetch, ttl_s=600, refresh_interval_s=30, clock=lambda: now[0])
    for i in range(50):
        with pytest.raises(tokens.TokenRejected):
            jwks.key_for(f"unknown-{i}")
    assert len(fetches) == 2  # the first read fills the cache, one forced re-read for the first unknown kid
    assert jwks.key_for("known")["kid"] == "known" and len(fetches) == 2
    now[0] = 31.0
    with pytest.raises(tokens.TokenRejected):
        jwks.key_for("unknown-again")
    assert len(fetches) == 3
    with pytest.raises(tokens.TokenRejected):
        jwks.key_for({"not": "a kid"})
    assert len(fetches) == 3


def test_a_tenant_that_cannot_be_read_is_asked_again_only_after_the_interval():
    from service.errors import Transient
    from service.jwks import Jwks
    calls, now = [], [0.0]

    def fetch():
        calls.append(now[0])
        raise Transient("down")

    jwks = Jwks(fetch, refresh_interval_s=30, clock=lambda: now[0])
    for _ in range(50):
        with pytest.raises(Transient):
            jwks.key_for("any")
    assert len(calls) == 1
    now[0] = 31.0
    with pytest.raises(Transient):
        jwks.key_for("any")
    assert len(calls) == 2
