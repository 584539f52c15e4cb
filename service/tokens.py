"""JWTs exchanged with Auth0 Actions: verified with python-jose, algorithms pinned, claims checked."""
import time

from jose import JWTError, jwt

ACTION_ISSUER = "auth0-action"
ACTION_AUDIENCE = "entra-companion"
RESULT_LIFETIME_S = 300
MAX_ACTION_TOKEN_S = 900
CLOCK_SKEW_S = 60  # an iat further ahead than this was not issued by a clock we trust
NUMERIC_CLAIMS = ("exp", "iat", "nbf")


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
                         audience=ACTION_AUDIENCE, require=("aud", "iat", "sub"))
        if claims["exp"] - claims["iat"] > MAX_ACTION_TOKEN_S:
            raise TokenRejected("The bearer token lives too long; sign tokens for at most 15 minutes.")
        return claims
    if header.get("alg") == "RS256" and settings.companion_api_audience and jwks is not None:
        key = jwks.key_for(header.get("kid"))
        return _decode(token, key, "RS256", issuer=f"https://{settings.auth0_domain}/",
                       audience=settings.companion_api_audience, require=("aud", "sub"))
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
        header = jwt.get_unverified_header(token)
    except (JWTError, ValueError, TypeError, AttributeError):
        raise TokenRejected("The token is not a JWT.") from None
    if not isinstance(header, dict):
        raise TokenRejected("The token is not a JWT.")
    return header


def _decode(token, key, algorithm, issuer, audience=None, require=()):
    """Decode with exactly one algorithm; exp, iss and the named claims are required and well formed."""
    options = {"require_exp": True, "verify_aud": audience is not None,
               **{f"require_{name}": True for name in require}}
    try:
        claims = jwt.decode(token, key, algorithms=[algorithm], issuer=issuer, audience=audience,
                            options=options)
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The token has expired; start the sign-in again.") from None
    except JWTError as err:
        raise TokenRejected(f"The token was refused ({_reason(err)}).") from None
    except (ValueError, TypeError, OverflowError, AttributeError):  # e.g. exp = 1e400 or a list
        raise TokenRejected("The token was refused (malformed or missing claims).") from None
    return _well_formed(claims)


def _well_formed(claims):
    """Times are JSON integers, sub is text, and iat is not in the future (beyond a little skew)."""
    if not isinstance(claims, dict):
        raise TokenRejected("The token was refused (malformed or missing claims).")
    for name in NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int)):
            raise TokenRejected(f"The token was refused ({name} must be a whole number of seconds).")
    if "sub" in claims and not (isinstance(claims["sub"], str) and claims["sub"]):
        raise TokenRejected("The token was refused (sub must name a user or client).")
    if claims.get("iat", 0) > time.time() + CLOCK_SKEW_S:
        raise TokenRejected("The token was refused (issued in the future; check the signer's clock).")
    return claims


def _reason(err):
    text = str(err).lower()
    if "issuer" in text:
        return "wrong issuer"
    if "audience" in text:
        return "wrong audience"
    if "signature" in text or "alg" in text:
        return "bad signature or algorithm"
    return "malformed or missing claims"
