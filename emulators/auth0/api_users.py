"""Management API handlers for /users: CRUD, search, roles, sessions and refresh tokens, linking."""
from emulators.auth0 import users as U
from emulators.auth0.errors import Auth0Error, bad_body, bad_query, wrong_type
from emulators.auth0.search import compile_query
from emulators.auth0.store import now_iso
from emulators.auth0.web import Reply, bool_arg, int_arg, paginate, parse_body

SEARCH_WINDOW = 1000  # offset paging reaches only the first 1000 results (facts §3.2)
PAGING_LIMIT = ("You can only page through the first 1000 records. "
                "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation.")


def body(req, optional=False):
    """The decoded request body (read once by the pipeline)."""
    return parse_body(req, req.environ.get("emulator.body", b""), optional)


def list_users(emu, req):
    """GET /users: Lucene subset, sort, offset paging within the first 1000 results."""
    engine = req.args.get("search_engine", "v3")
    if engine != "v3":
        hint = " Use search_engine=v3 instead." if engine == "v2" else ""
        raise Auth0Error(400, f"You are not allowed to use search_engine={engine}.{hint}", "operation_not_supported")
    page = int_arg(req, "page", 0, low=0)
    per_page = int_arg(req, "per_page", 50, low=0, high=100)
    if (page + 1) * per_page > SEARCH_WINDOW:
        raise Auth0Error(400, PAGING_LIMIT, "invalid_paging")
    predicate = compile_query(req.args.get("q"))
    sort_key, reverse = _sort(req.args.get("sort"))
    lag, now = emu.knobs["search_lag_s"], emu.clock()
    with emu.store.lock:
        found = [u for uid, u in emu.store.users.items()
                 if (not lag or now - emu.store.created_at[uid] >= lag) and predicate(u)]
        if sort_key:
            found.sort(key=lambda u: (u.get(sort_key) is None, str(u.get(sort_key, ""))), reverse=reverse)
        shaped = [U.public(u, req.args.get("fields"), bool_arg(req, "include_fields", True)) for u in
                  found[page * per_page:(page + 1) * per_page]]
    if not bool_arg(req, "include_totals"):
        return Reply(200, shaped)
    return Reply(200, {"start": page * per_page, "limit": per_page, "length": len(shaped),
                       "total": len(found), "users": shaped})


def _sort(text):
    """(field, descending) from `field:1|-1`."""
    if not text:
        return None, False
    field, _, order = text.partition(":")
    if order not in ("1", "-1") or not field:
        raise bad_query(f"'String does not match pattern ^(([a-zA-Z0-9_\\.]+))\\:(1|-1)$: {text}' on property sort.")
    return field, order == "-1"


def create_user(emu, req):
    """POST /users."""
    payload = body(req)
    with emu.store.lock:
        user = U.create_user(emu.store, payload)
        emu.streams.emit("user.created", user)
        return Reply(201, U.public(user))


def get_user(emu, req, id):
    """GET /users/{id}."""
    with emu.store.lock:
        user = emu.store.user(id)
        return Reply(200, U.public(user, req.args.get("fields"), bool_arg(req, "include_fields", True)))


def patch_user(emu, req, id):
    """PATCH /users/{id}."""
    payload = body(req)
    with emu.store.lock:
        user = U.patch_user(emu.store, id, payload)
        emu.streams.emit("user.updated", user)  # any successful PATCH, `blocked` changes included
        return Reply(200, U.public(user))


def delete_user(emu, req, id):
    """DELETE /users/{id}: 204, also for an id that no longer exists."""
    # Auth0 answers 204 for unknown ids by design (auth0/node-auth0 issues #451 and #645).
    with emu.store.lock:
        gone = emu.store.remove_user(id)
        if gone is not None:
            # Tenant log `sdu` "Successful User Deletion" (facts §3.5); the event carries the last state.
            emu.store.log("sdu", "Successful User Deletion", client_id=emu.config.client_id,
                          **emu.store.user_log_fields(gone))
            emu.streams.emit("user.deleted", gone, deleted_at=now_iso())
    return Reply(204)


def users_by_email(emu, req):
    """GET /users-by-email: exact, case-sensitive; one user per connection at most."""
    email = req.args.get("email")
    if email is None:
        raise bad_query("'Missing required property: email'.")
    fields, include = req.args.get("fields"), bool_arg(req, "include_fields", True)
    with emu.store.lock:
        ids = [emu.store.by_email.get((name, email)) for name in emu.store.connections]
        return Reply(200, [U.public(emu.store.users[i], fields, include) for i in ids if i])


def id_list(payload, key):
    """The `key` list of an assign/remove body such as `{"roles": [...]}` (minItems 1, non-empty strings)."""
    if not isinstance(payload, dict):
        raise bad_body("'Expected type object but found type array'.")
    extra = [k for k in payload if k != key]
    if extra:
        raise bad_body(f"'Additional properties not allowed: {','.join(extra)}'.")
    ids = payload.get(key)
    if ids is None:
        raise bad_body(f"'Missing required property: {key}'.")
    if not isinstance(ids, list):
        raise wrong_type(key, "array", ids)
    if not ids or not all(isinstance(i, str) and i for i in ids):
        raise bad_body(f"'Array items must be non-empty strings, at least one' on property {key}.")
    return ids


def user_roles(emu, req, id):
    """GET /users/{id}/roles."""
    with emu.store.lock:
        emu.store.user(id)
        roles = [dict(emu.store.roles[r]) for r in emu.store.user_roles.get(id, []) if r in emu.store.roles]
    return Reply(200, paginate(req, roles, "roles"))


def assign_roles(emu, req, id):
    """POST /users/{id}/roles: idempotent assignment."""
    roles = id_list(body(req), "roles")
    with emu.store.lock:
        emu.store.user(id)
        for role_id in roles:
            emu.store.role(role_id)
        emu.store.grant(id, roles)
    return Reply(204)


def remove_roles(emu, req, id):
    """DELETE /users/{id}/roles."""
    roles = id_list(body(req), "roles")
    with emu.store.lock:
        emu.store.user(id)
        held = emu.store.user_roles.get(id, [])
        emu.store.user_roles[id] = [r for r in held if r not in roles]
    return Reply(204)


def _revoke(emu, user_id, kind, session_id=None, sessions=True, refresh_tokens=True):
    """Remove sessions/refresh tokens of a user and record what happened, with a timestamp."""
    store = emu.store
    store.user(user_id)
    gone_sessions, gone_tokens = [], []
    if sessions:
        keep = [s for s in store.sessions[user_id] if session_id and s["id"] != session_id]
        gone_sessions = [s["id"] for s in store.sessions[user_id] if s not in keep]
        store.sessions[user_id] = keep
    if refresh_tokens:
        keep = [t for t in store.refresh_tokens[user_id] if session_id and t.get("session_id") != session_id]
        gone_tokens = [t["id"] for t in store.refresh_tokens[user_id] if t not in keep]
        store.refresh_tokens[user_id] = keep
    record = {"user_id": user_id, "kind": kind, "at": now_iso(), "sessions_removed": gone_sessions,
              "refresh_tokens_removed": gone_tokens,
              "covers": [name for name, on in (("sessions", sessions), ("refresh_tokens", refresh_tokens)) if on]}
    if session_id:
        record["session_id"] = session_id
    store.revocations.append(record)
    return Reply(202)


def delete_sessions(emu, req, user_id):
    """DELETE /users/{user_id}/sessions."""
    with emu.store.lock:
        return _revoke(emu, user_id, "sessions", refresh_tokens=False)


def delete_refresh_tokens(emu, req, user_id):
    """DELETE /users/{user_id}/refresh-tokens."""
    with emu.store.lock:
        return _revoke(emu, user_id, "refresh-tokens", sessions=False)


def revoke_access(emu, req, id):
    """POST /users/{id}/revoke-access `{session_id?, preserve_refresh_tokens?}`."""
    payload = body(req, optional=True)
    if not isinstance(payload, dict):
        raise bad_body("'Expected type object but found type array'.")
    U.check_payload(payload, {"session_id": str, "preserve_refresh_tokens": bool})
    with emu.store.lock:
        return _revoke(emu, id, "revoke-access", payload.get("session_id"),
                       refresh_tokens=not payload.get("preserve_refresh_tokens", False))
