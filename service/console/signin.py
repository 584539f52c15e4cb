"""Operators sign in with Auth0: OpenID Connect, authorization code with PKCE (S256), through Authlib.

An operator is an Auth0 user holding CONSOLE_OPERATOR_ROLE (read from the CONSOLE_ROLES_CLAIM claim of the
ID token when an Action adds one, else from the Management API), or one listed in CONSOLE_OPERATOR_EMAILS
with a verified email (an unverified address proves nothing: anyone can sign up with it).
"""
from urllib.parse import urlencode

from authlib.integrations.flask_client import OAuth, OAuthError
from requests import RequestException

from service.errors import CompanionError

SCOPE = "openid profile email"
NAME = "auth0"


class SignInFailed(Exception):
    """Auth0 did not sign the person in (cancelled, refused, expired); the message says what to do."""


def init_app(app, settings):
    """Register the Auth0 OIDC client on app (discovery, JWKS and token calls go through Authlib)."""
    oauth = OAuth(app)
    oauth.register(NAME, client_id=settings.console_client_id, client_secret=settings.console_client_secret,
                   server_metadata_url=f"{settings.auth0_api_base_url}/.well-known/openid-configuration",
                   client_kwargs={"scope": SCOPE, "code_challenge_method": "S256",
                                  "token_endpoint_auth_method": "client_secret_post", "trust_env": False,
                                  "verify": settings.ca_bundle or True, "default_timeout": settings.http_timeout})
    app.extensions["console_oauth"] = oauth


def _client(app):
    client = app.extensions["console_oauth"].create_client(NAME)
    client.load_server_metadata()
    # Pin the ID token algorithm: the tenant signs RS256; never accept what the metadata merely allows.
    client.server_metadata["id_token_signing_alg_values_supported"] = ["RS256"]
    return client


def start(app, callback_url):
    """The redirect to Auth0's /authorize (state, nonce and the PKCE verifier are kept in the session)."""
    try:
        return _client(app).authorize_redirect(callback_url)
    except RequestException as why:
        raise SignInFailed(f"Auth0 could not be reached ({type(why).__name__}); try again in a minute.") from None


def finish(app):
    """The verified ID token claims after the callback, or SignInFailed."""
    try:
        token = _client(app).authorize_access_token()
    except OAuthError as why:
        raise SignInFailed(f"Auth0 did not sign you in: {why.description or why.error}.") from None
    except RequestException as why:
        raise SignInFailed(f"Auth0 could not be reached ({type(why).__name__}); try again in a minute.") from None
    except Exception as why:  # joserfc/authlib claim errors: a token we must not trust
        raise SignInFailed(f"The sign-in answer from Auth0 was not valid ({type(why).__name__}); "
                           "sign in again.") from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        raise SignInFailed("Auth0 sent no ID token; check that the application uses OpenID Connect.")
    return dict(claims)


def operator(claims, settings, auth0):
    """{sub, email, name} when the signed-in user may use the console, else None."""
    email = (claims.get("email") or "").lower()
    person = {"sub": claims["sub"], "email": email, "name": claims.get("name") or email or claims["sub"]}
    if email and claims.get("email_verified") is True and email in settings.console_operator_emails:
        return dict(person, via="email")
    if settings.console_operator_role in _roles(claims, settings, auth0):
        return dict(person, via="role")
    return None


def _roles(claims, settings, auth0):
    claimed = claims.get(settings.console_roles_claim) if settings.console_roles_claim else None
    if isinstance(claimed, list):
        return claimed
    try:
        return [r.get("name") for r in auth0.user_roles(claims["sub"])]
    except CompanionError as why:
        raise SignInFailed(f"Your roles could not be read from Auth0 ({why.message}); try again.") from None


def logout_url(settings, return_to):
    """Auth0's /v2/logout for the console application, coming back to return_to."""
    query = urlencode({"client_id": settings.console_client_id, "returnTo": return_to})
    return f"{settings.auth0_api_base_url}/v2/logout?{query}"

