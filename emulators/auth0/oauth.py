"""The tenant's Authentication API surface the product needs: client credentials and the JWKS.

Source: facts §3.7 (get-management-api-access-tokens-for-production.mdx): POST /oauth/token, form or JSON,
grant_type=client_credentials, audience https://{domain}/api/v2/, 86,400 s lifetime.
"""
import base64
import hmac
import json
from urllib.parse import parse_qsl, unquote

from emulators.auth0.web import Reply


def oauth_error(status, error, description):
    """Auth0's OAuth error body `{"error", "error_description"}`."""
    return Reply(status, {"error": error, "error_description": description})


def _params(req):
    """Token request parameters from a JSON or form body, plus HTTP Basic client credentials."""
    data = req.environ.get("emulator.body", b"")
    if req.mimetype == "application/json":
        try:
            params = json.loads(data or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return None
    else:
        params = dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))
    auth = req.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return params
        params.setdefault("client_id", unquote(user))
        params.setdefault("client_secret", unquote(secret))
    return params


def token(emu, req):
    """POST /oauth/token (client credentials for the Management API only)."""
    params = _params(req)
    if params is None:
        return oauth_error(400, "invalid_request", "Invalid request body")
    for name in ("grant_type", "client_id"):
        if not params.get(name):
            return oauth_error(400, "invalid_request", f"Missing required parameter: {name}")
    cfg = emu.config
    secret_ok = hmac.compare_digest(str(params.get("client_secret", "")).encode(), cfg.client_secret.encode())
    if params["client_id"] != cfg.client_id or not secret_ok:
        return oauth_error(401, "access_denied", "Unauthorized")
    if params["grant_type"] != "client_credentials":
        return oauth_error(403, "unauthorized_client",
                            f"Grant type '{params['grant_type']}' not allowed for the client.")
    audience = params.get("audience")
    if not audience:
        return oauth_error(403, "access_denied",
                            "No audience parameter was provided, and no default audience has been configured")
    if audience != cfg.audience:
        return oauth_error(403, "access_denied", f"Service not enabled within domain: {audience}")
    granted = emu.knobs["scopes"].split()
    asked = str(params.get("scope") or "").split()
    scope = " ".join(s for s in granted if not asked or s in asked)
    lifetime = emu.knobs["token_lifetime_s"]
    emu.stats.token_issued()
    access = emu.tokens.issue(cfg.client_id, scope, lifetime)
    return Reply(200, {"access_token": access, "scope": scope, "expires_in": lifetime, "token_type": "Bearer"})


def jwks(emu, req):
    """GET /.well-known/jwks.json: the key tokens are signed with."""
    return Reply(200, {"keys": [emu.tokens.jwk]})

