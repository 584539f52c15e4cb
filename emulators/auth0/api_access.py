"""Management API handlers for creating and reading roles, assigning a role's users, brute-force blocks
(`/user-blocks`), and listing a user's sessions and refresh tokens.

The vendor extract does not hold these paths; their shapes follow Auth0's Management API reference
(`roles/post-roles`, `roles/get-roles-by-id`, `roles/post-role-users`, `user-blocks/*`,
`users/get-sessions-for-user`, `users/get-refresh-tokens-for-user`) as auth0-python 6.8.0 models them.
"""
from datetime import datetime, timedelta, timezone

from emulators.auth0 import users as U
from emulators.auth0.api_users import body, id_list
from emulators.auth0.errors import Auth0Error, bad_query, user_not_found
from emulators.auth0.store import new_id
from emulators.auth0.web import Reply, checkpoint, parse_body

# Tenant defaults (Auth0 "Sessions" and "Refresh token expiration" pages): a session idles out after
# 3 days and ends after 7; a refresh token after 30 days unused and 365 days in all.
SESSION_IDLE, SESSION_MAX = timedelta(days=3), timedelta(days=7)
TOKEN_IDLE, TOKEN_MAX = timedelta(days=30), timedelta(days=365)
ROLE_FIELDS = {"name": str, "description": str}
ROLE_LENGTHS = {"name": 50, "description": 140}


# --- roles ------------------------------------------------------------------------------------------
def create_role(emu, req):
    """POST /roles {name, description?} -> 200 + the role; 409 when the name is taken."""
    payload = body(req)
    U.check_payload(payload, ROLE_FIELDS)
    if not payload.get("name"):
        raise Auth0Error(400, "Payload validation error: 'Missing required property: name'.", "invalid_body")
    for key, most in ROLE_LENGTHS.items():
        if len(payload.get(key, "")) > most:
            raise Auth0Error(400, f"Payload validation error: 'String is too long ({len(payload[key])} chars), "
                                  f"maximum {most}' on property {key}.", "invalid_body")
    with emu.store.lock:
        if any(r["name"] == payload["name"] for r in emu.store.roles.values()):
            raise Auth0Error(409, "The role already exists.")
        role = {"id": new_id("rol_"), "name": payload["name"], "description": payload.get("description", "")}
        emu.store.roles[role["id"]] = role
        return Reply(200, dict(role))


def get_role(emu, req, id):
    """GET /roles/{id}."""
    with emu.store.lock:
        return Reply(200, dict(emu.store.role(id)))


def assign_role_users(emu, req, id):
    """POST /roles/{id}/users {"users": [...]} -> 200; idempotent, every user must exist."""
    user_ids = id_list(body(req), "users")
    with emu.store.lock:
        emu.store.role(id)
        for user_id in user_ids:
            emu.store.user(user_id)
        for user_id in user_ids:
            emu.store.grant(user_id, [id])
    return Reply(200)


# --- brute-force blocks ---------------------------------------------------------------------------
def _identifier(req):
    """The required `identifier` query parameter (an email, username or phone number)."""
    identifier = req.args.get("identifier")
    if not identifier:
        raise bad_query("'Missing required property: identifier'.")
    return identifier


def _user_identifiers(emu, user_id):
    """The identifiers a brute-force block can name for this user (404 for an unknown user)."""
    user = emu.store.users.get(user_id)
    if user is None:
        raise user_not_found()
    return {str(user[k]).lower() for k in ("email", "username", "phone_number") if user.get(k)}


def _blocks(emu, identifiers):
    """The stored blocks on any of these identifiers (compared case-insensitively)."""
    return [dict(b) for b in emu.store.user_blocks if b["identifier"].lower() in identifiers]


def _unblock(emu, identifiers):
    """Lift every block on these identifiers; the admin `blocked` flag is not touched (facts §3.1)."""
    emu.store.user_blocks[:] = [b for b in emu.store.user_blocks if b["identifier"].lower() not in identifiers]
    return Reply(204)


def blocks_by_identifier(emu, req):
    """GET /user-blocks?identifier=… -> {"blocked_for": [{identifier, ip?, connection?}]}."""
    identifier = _identifier(req).lower()
    with emu.store.lock:
        return Reply(200, {"blocked_for": _blocks(emu, {identifier})})


def unblock_identifier(emu, req):
    """DELETE /user-blocks?identifier=… -> 204."""
    identifier = _identifier(req).lower()
    with emu.store.lock:
        return _unblock(emu, {identifier})


def blocks_of_user(emu, req, id):
    """GET /user-blocks/{id}: blocks on any of the user's email, username or phone number."""
    with emu.store.lock:
        return Reply(200, {"blocked_for": _blocks(emu, _user_identifiers(emu, id))})


def unblock_user(emu, req, id):
    """DELETE /user-blocks/{id} -> 204."""
    with emu.store.lock:
        return _unblock(emu, _user_identifiers(emu, id))


def add_block(emu, req):
    """POST /_emulator/user-blocks {identifier, ip?, connection?}: what ten failed logins make Auth0 do."""
    payload = parse_body(req, req.get_data())
    U.check_payload(payload, {"identifier": str, "ip": str, "connection": str})
    if not payload.get("identifier"):
        raise Auth0Error(400, "identifier is required")
    with emu.store.lock:
        emu.store.user_blocks.append(dict(payload))
    return Reply(201, dict(payload))


# --- sessions and refresh tokens ------------------------------------------------------------------
def _later(stamp, delta):
    """An Auth0 timestamp `delta` after another one."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) + delta
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def session_view(entry):
    """A stored session as SessionResponseContent, its dates derived from `created_at` and the defaults."""
    created = entry["created_at"]
    view = {"id": entry["id"], "user_id": entry["user_id"], "created_at": created, "updated_at": created,
            "authenticated_at": created, "last_interacted_at": created,
            "idle_expires_at": _later(created, SESSION_IDLE), "expires_at": _later(created, SESSION_MAX),
            "clients": [], "authentication": {"methods": []}}
    return dict(view, **{k: v for k, v in entry.items() if k in view or k == "device"})


def token_view(entry, client_id):
    """A stored refresh token as RefreshTokenResponseContent."""
    created = entry["created_at"]
    view = {"id": entry["id"], "user_id": entry["user_id"], "created_at": created,
            "idle_expires_at": _later(created, TOKEN_IDLE), "expires_at": _later(created, TOKEN_MAX),
            "client_id": client_id, "session_id": entry.get("session_id"), "rotating": False,
            "resource_servers": [], "last_exchanged_at": created}
    return dict(view, **{k: v for k, v in entry.items() if k in view or k == "device"})


def list_sessions(emu, req, user_id):
    """GET /users/{user_id}/sessions -> {"sessions": [...], "next"?} (checkpoint paging)."""
    with emu.store.lock:
        emu.store.user(user_id)
        rows = sorted((session_view(s) for s in emu.store.sessions[user_id]), key=lambda s: s["id"])
    return Reply(200, checkpoint(req, rows, "sessions", "id"))


def list_refresh_tokens(emu, req, user_id):
    """GET /users/{user_id}/refresh-tokens -> {"tokens": [...], "next"?} (checkpoint paging)."""
    with emu.store.lock:
        emu.store.user(user_id)
        rows = sorted((token_view(t, emu.config.client_id) for t in emu.store.refresh_tokens[user_id]),
                      key=lambda t: t["id"])
    return Reply(200, checkpoint(req, rows, "tokens", "id"))


# (method, path, handler, scopes) as in app.ROUTES; scopes from each endpoint's reference page.
ROUTES = (
    ("POST", "/roles", create_role, ("create:roles",)),
    ("GET", "/roles/<id>", get_role, ("read:roles",)),
    ("POST", "/roles/<id>/users", assign_role_users, ("update:roles", "create:role_members")),
    ("GET", "/user-blocks", blocks_by_identifier, ("read:users",)),
    ("DELETE", "/user-blocks", unblock_identifier, ("update:users",)),
    ("GET", "/user-blocks/<id>", blocks_of_user, ("read:users",)),
    ("DELETE", "/user-blocks/<id>", unblock_user, ("update:users",)),
    ("GET", "/users/<user_id>/sessions", list_sessions, ("read:sessions",)),
    ("GET", "/users/<user_id>/refresh-tokens", list_refresh_tokens, ("read:refresh_tokens",)),
)
CONTROL_ROUTES = (("POST", "/_emulator/user-blocks", add_block),)
