"""`POST /_emulator/access-tokens`: an RS256 access token for any API audience, signed with the tenant key.

Auth0 issues such tokens to people (authorization code, with `permissions` when RBAC is on) and to
machine-to-machine applications (client credentials: `gty: client-credentials`, `sub: <client>@clients`).
The sandbox has no login page for APIs other than the Management API, so tests ask for them here.
"""
import time

from jose import jwt

from emulators.auth0.control import _json
from emulators.auth0.errors import Auth0Error
from emulators.auth0.web import Reply


def mint(emu, req):
    """Body: {"claims": {...}, "kid": optional override}; iss, iat and exp default to the tenant's."""
    body = _json(req)
    if not isinstance(body, dict) or not isinstance(body.get("claims"), dict):
        raise Auth0Error(400, "body must be {\"claims\": {...}}")
    now = int(time.time())
    claims = {"iss": emu.config.issuer, "iat": now, "exp": now + 3600, **body["claims"]}
    kid = body.get("kid", emu.tokens.kid)
    token = jwt.encode(claims, emu.tokens._private, algorithm="RS256", headers={"kid": kid})
    return Reply(200, {"access_token": token})


ROUTES = (("POST", "/_emulator/access-tokens", mint),)
