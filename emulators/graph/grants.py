"""/_emulator/ calls that model an admin's consent and domain set-up: granted app roles, domain state.

`service check` is tested against each fault in turn: a permission not consented, a domain missing,
unverified or still Managed.
"""
from emulators.graph.errors import GraphError, not_found
from emulators.graph.routing import Reply, Route
from emulators.graph.tokens import ROLES

AUTHENTICATION_TYPES = ("Managed", "Federated")


def _bad(message):
    return GraphError(400, "BadRequest", message)


def get_roles(ctx):
    """GET /_emulator/roles: the application permissions new tokens carry."""
    return Reply(200, {"roles": list(ctx.app.issuer.roles), "default": ROLES})


def put_roles(ctx):
    """PUT /_emulator/roles {"roles": [...]}: what admin consent granted (tokens issued from now on)."""
    roles = ctx.json().get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise _bad('Body must be {"roles": ["User.ReadWrite.All", ...]}.')
    ctx.app.issuer.roles = list(roles)
    return Reply(200, {"roles": roles})


def patch_domain(ctx, name):
    """PATCH /_emulator/domains/{name} {"isVerified": bool, "authenticationType": "Managed"|"Federated"}."""
    body = ctx.json()
    domain = ctx.store.domains.get(name.lower())
    if domain is None:
        raise not_found(name)
    if set(body) - {"isVerified", "authenticationType"}:
        raise _bad("Only isVerified and authenticationType can be changed.")
    if "isVerified" in body and not isinstance(body["isVerified"], bool):
        raise _bad("isVerified must be true or false.")
    if "authenticationType" in body and body["authenticationType"] not in AUTHENTICATION_TYPES:
        raise _bad("authenticationType must be Managed or Federated.")
    with ctx.store.lock:
        domain.update(body)
    return Reply(200, dict(domain))


def delete_domain(ctx, name):
    """DELETE /_emulator/domains/{name}: the tenant no longer has the domain."""
    with ctx.store.lock:
        if ctx.store.domains.pop(name.lower(), None) is None:
            raise not_found(name)
    return Reply(204)


CONTROL_ROUTES = [
    Route("GET", "/_emulator/roles", get_roles),
    Route("PUT", "/_emulator/roles", put_roles),
    Route("PATCH", "/_emulator/domains/<name>", patch_domain),
    Route("DELETE", "/_emulator/domains/<name>", delete_domain),
]
