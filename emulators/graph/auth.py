"""The Entra endpoints msal needs (OpenID metadata, JWKS, v2.0 token) and the bearer check on Graph.

Client-credentials flow per Learn `identity-platform/v2-oauth2-client-creds-grant-flow`; error bodies
carry AADSTS codes as Entra sends them (`{"error","error_description","error_codes",...}`).
"""
import base64
import hmac
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

from emulators.graph.errors import GraphError
from emulators.graph.routing import Reply, Route
from emulators.graph.tokens import GRAPH_AUDIENCE, jwks

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_RESOURCES = {GRAPH_AUDIENCE, "00000003-0000-0000-c000-000000000000"}
RESERVED_SCOPES = {"openid", "profile", "offline_access"}
AUTH_JSON = "application/json; charset=utf-8"


class AadError(Exception):
    """An OAuth error answer of the token endpoint."""

    def __init__(self, status, error, code, text):
        super().__init__(text)
        self.status, self.error, self.code, self.text = status, error, code, text


def aad_reply(ctx, err):
    """Entra's error body, with trace/correlation ids in the description as Entra writes them."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), ctx.client_request_id
    body = {"error": err.error, "error_description": f"AADSTS{err.code}: {err.text} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {stamp}", "error_codes": [err.code], "timestamp": stamp,
            "trace_id": trace, "correlation_id": correlation,
            "error_uri": f"{ctx.base}/error?code={err.code}"}
    return Reply(err.status, body, {"Cache-Control": "no-store, no-cache"}, AUTH_JSON)


def _tenant(ctx, tenant):
    """Accept the tenant id or one of its domain names, as Entra does; else AADSTS90002."""
    if tenant.lower() == ctx.app.config.tenant_id.lower() or tenant.lower() in ctx.store.domains:
        return
    raise AadError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the "
                   "correct tenant ID and are signing into the correct cloud.")


def openid_configuration(ctx, tenant):
    """GET /{tenant}/v2.0/.well-known/openid-configuration."""
    try:
        _tenant(ctx, tenant)
    except AadError as err:
        return aad_reply(ctx, err)
    root, tid = f"{ctx.base}/{tenant}", ctx.app.config.tenant_id
    body = {"token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{ctx.base}/{tid}/discovery/v2.0/keys", "response_modes_supported": ["query", "fragment",
                                                                                            "form_post"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{ctx.base}/{tid}/v2.0", "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout", "http_logout_supported": True,
            "frontchannel_logout_supported": True, "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com", "msgraph_host": "graph.microsoft.com"}
    return Reply(200, body, content_type=AUTH_JSON)


def keys(ctx, tenant):
    """GET /{tenant}/discovery/v2.0/keys: the key that signs the emulator's tokens."""
    return Reply(200, jwks(), content_type=AUTH_JSON)


def token(ctx, tenant):
    """POST /{tenant}/oauth2/v2.0/token (client_credentials with a secret or a certificate assertion)."""
    try:
        _tenant(ctx, tenant)
        form = ctx.req.form
        client_id, secret = _client(ctx, form)
        if not form.get("grant_type"):
            raise _missing("grant_type")
        if form["grant_type"] != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type "
                           f"'{form['grant_type']}'.")
        via_certificate = _authenticate(ctx, form, client_id, secret, tenant)
        _check_scope(form.get("scope"), tenant)
    except AadError as err:
        return aad_reply(ctx, err)
    lifetime = int(ctx.app.knobs.token_lifetime_s)
    body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": ctx.app.issuer.mint(lifetime, via_certificate)}
    return Reply(200, body, {"Cache-Control": "no-store, no-cache"}, AUTH_JSON)


def _missing(name):
    return AadError(400, "invalid_request", 900144,
                    f"The request body must contain the following parameter: '{name}'.")


def _client(ctx, form):
    """(client_id, secret) from the form or an HTTP Basic header (client_secret_basic)."""
    header = ctx.req.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            raise AadError(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or "
                           "'request' is required for the 'client_credentials' grant type.") from None
        return unquote(user), unquote(password)
    if not form.get("client_id"):
        raise _missing("client_id")
    return form["client_id"], form.get("client_secret")


def _authenticate(ctx, form, client_id, secret, tenant):
    """Check the client and its credential; returns whether a certificate was used."""
    config = ctx.app.config
    if client_id != config.client_id:
        raise AadError(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                       f"found in the directory '{tenant}'. This can happen if the application has not been "
                       "installed by the administrator of the tenant or consented to by any user in the tenant. "
                       "You may have sent your authentication request to the wrong tenant.")
    if form.get("client_assertion"):
        _check_assertion(ctx, form, client_id, tenant)
        return True
    if secret is None:
        raise AadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                       "'client_assertion' or 'client_secret'.")
    if not hmac.compare_digest(secret.encode(), config.client_secret.encode()):
        raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                       "sent in the request is the client secret value, not the client secret ID, for a secret "
                       f"added to app '{client_id}'.")
    return False


def _check_assertion(ctx, form, client_id, tenant):
    """A certificate-signed client assertion (Learn `certificate-credentials`)."""
    if form.get("client_assertion_type") != JWT_BEARER:
        raise AadError(400, "invalid_request", 50027, "Invalid JWT token. client_assertion_type must be "
                       f"'{JWT_BEARER}'.")
    cert = ctx.app.trusted_certificate
    if cert is None:
        raise AadError(401, "invalid_client", 700027, "The certificate with identifier used to sign the client "
                       f"assertion is not registered on application {client_id}.")
    try:
        _, claims = cert.verify(form["client_assertion"])
    except ValueError:
        raise AadError(401, "invalid_client", 700027, "Client assertion failed signature validation.") from None
    audiences = {f"{ctx.base}/{tenant}/oauth2/v2.0/token", f"{ctx.base}/{ctx.app.config.tenant_id}/oauth2/v2.0/token"}
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AadError(401, "invalid_client", 700023, "Client assertion audience or issuer claim does not match.")
    if claims.get("aud") not in audiences:
        raise AadError(401, "invalid_client", 700021, "Client assertion audience claim does not match Realm "
                       "issuer.")
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now or claims.get("nbf", 0) > now + 300:
        raise AadError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")


def _check_scope(scope, tenant):
    """Only `https://graph.microsoft.com/.default` (the client-credentials form) is served."""
    if not scope:
        raise _missing("scope")
    scopes = [s for s in scope.split() if s not in RESERVED_SCOPES]
    for item in scopes:
        resource, _, permission = item.rpartition("/")
        if resource.rstrip("/") not in GRAPH_RESOURCES:
            raise AadError(400, "invalid_resource", 500011, f"The resource principal named {resource or item} was "
                           f"not found in the tenant named {tenant}. This can happen if the application has not "
                           "been installed by the administrator of the tenant or consented to by any user in the "
                           "tenant. You might have sent your authentication request to the wrong tenant.")
        if permission != ".default":
            raise AadError(400, "invalid_scope", 1002012, f"The provided value for scope {item} is not valid. "
                           "Client credential flows must have a scope value with /.default suffixed to the "
                           "resource identifier (application ID URI).")


def authenticate(ctx):
    """The caller's token claims for a Graph request, or 401 InvalidAuthenticationToken."""
    header = ctx.req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                 'common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'}
    if scheme.lower() != "bearer" or not value.strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", headers=challenge)
    try:
        return ctx.app.issuer.verify(value.strip())
    except ValueError as exc:
        raise GraphError(401, "InvalidAuthenticationToken", str(exc), headers=challenge) from None


ROUTES = [
    Route("GET", "/<tenant>/v2.0/.well-known/openid-configuration", openid_configuration),
    Route("GET", "/<tenant>/discovery/v2.0/keys", keys),
    Route("POST", "/<tenant>/oauth2/v2.0/token", token),
]
