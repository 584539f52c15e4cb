"""JWTs exchanged with Auth0 Actions: verified with python-jose, algorithms pinned, claims checked."""
import time

from jose import JWTError, jwt

ACTION_ISSUER = "auth0-action"
ACTION_AUDIENCE = "entra-companion"
RESULT_LIFETIME_S = 300
MAX_ACTION_TOKEN_S = 900


class TokenRejected(Exception):
    """A token failed verification; the message is safe to show and says what to do."""


def verify_session_token(token, settings):
    """Claims of the token an Action made with api.redirect.encodeToken (HS256, iss = tenant)."""
    claims = _decode(token, settings.companion_secret, "HS256", issuer=settings.auth0_domain)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenRejected("The sign-in token names no user; start the sign-in again.")
    return claims


def verify_action_token(token, settings, jwks=None):
    """Claims of a bearer token from an Action (HS256) or, when configured, an RS256 access token."""
    header = _header(token)
    if header.get("alg") == "HS256":
        claims = _decode(token, settings.companion_secret, "HS256", issuer=ACTION_ISSUER,
                         audience=ACTION_AUDIENCE)
        if claims.get("exp", 0) - claims.get("iat", 0) > MAX_ACTION_TOKEN_S:
            raise TokenRejected("The bearer token lives too long; sign tokens for at most 15 minutes.")
        return claims
    if header.get("alg") == "RS256" and settings.companion_api_audience and jwks is not None:
        key = jwks.key_for(header.get("kid"))
        return _decode(token, key, "RS256", issuer=f"https://{settings.auth0_domain}/",
                       audience=settings.companion_api_audience)
    raise TokenRejected("The bearer token uses an algorithm this service does not accept.")


def result_token(settings, *, state, sub, status, **claims):
    """The HS256 token the Action's api.redirect.validateToken accepts on /continue."""
    now = int(time.time())
    body = {"iss": settings.companion_public_url, "sub": sub, "state": state, "status": status,
            "iat": now, "exp": now + RESULT_LIFETIME_S}
    body.update({k: v for k, v in claims.items() if v is not None})
    return jwt.encode(body, settings.companion_secret, algorithm="HS256")


def _header(token):
    try:
        return jwt.get_unverified_header(token)
    except JWTError:
        raise TokenRejected("The token is not a JWT.") from None


def _decode(token, key, algorithm, issuer, audience=None):
    """Decode with exactly one algorithm; exp, iss (and aud when given) are required."""
    options = {"require_exp": True, "require_iat": False, "verify_aud": audience is not None}
    try:
        return jwt.decode(token, key, algorithms=[algorithm], issuer=issuer, audience=audience,
                          options=options)
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The token has expired; start the sign-in again.") from None
    except JWTError as err:
        raise TokenRejected(f"The token was refused ({_reason(err)}).") from None


def _reason(err):
    text = str(err).lower()
    if "issuer" in text:
        return "wrong issuer"
    if "audience" in text:
        return "wrong audience"
    if "signature" in text or "alg" in text:
        return "bad signature or algorithm"
    return "malformed or missing claims"
