"""Management API handlers for roles, connections, logs, tickets and account linking."""
import secrets

from emulators.auth0 import users as U
from emulators.auth0.api_users import body
from emulators.auth0.errors import Auth0Error, bad_body, user_not_found
from emulators.auth0.search import compile_query
from emulators.auth0.store import now_iso
from emulators.auth0.web import Reply, bool_arg, checkpoint, int_arg, paginate


def list_roles(emu, req):
    """GET /roles with `name_filter` (case-insensitive, contained in the name)."""
    needle = (req.args.get("name_filter") or "").lower()
    with emu.store.lock:
        roles = [dict(r) for r in emu.store.roles.values() if needle in r["name"].lower()]
    return Reply(200, paginate(req, roles, "roles"))


def role_users(emu, req, id):
    """GET /roles/{id}/users: offset paging, or checkpoint paging with `from`/`take`."""
    with emu.store.lock:
        emu.store.role(id)
        members = [uid for uid, held in emu.store.user_roles.items() if id in held and uid in emu.store.users]
        rows = [_role_user(emu.store.users[uid]) for uid in sorted(members)]
    if "from" in req.args or "take" in req.args:
        return Reply(200, checkpoint(req, rows, "users", "user_id"))
    return Reply(200, paginate(req, rows, "users"))


def _role_user(user):
    """The RoleUser projection: user_id, email, name, picture."""
    return {k: user[k] for k in ("user_id", "email", "name", "picture") if k in user}


def list_connections(emu, req):
    """GET /connections with `strategy` (repeatable) and `name` filters; offset or checkpoint paging."""
    strategies = req.args.getlist("strategy")
    name = req.args.get("name")
    with emu.store.lock:
        rows = [_connection(c) for c in emu.store.connections.values()
                if (not strategies or c["strategy"] in strategies) and (not name or c["name"] == name)]
    if "from" in req.args or "take" in req.args:
        # In id order, as ListConnectionsCheckpointPaginatedResponseContent pages them.
        out = checkpoint(req, sorted(rows, key=lambda r: r["id"]), "connections", "id")
    else:
        out = paginate(req, rows, "connections")
    page = out if isinstance(out, list) else out["connections"]
    page[:] = [_fields(req, row) for row in page]
    return Reply(200, out)


def _fields(req, row):
    """The row limited by `fields` / `include_fields`."""
    fields = req.args.get("fields")
    if not fields:
        return row
    wanted, include = set(fields.split(",")), bool_arg(req, "include_fields", True)
    return {k: v for k, v in row.items() if (k in wanted) == include}


def _connection(conn):
    """The ConnectionForList shape."""
    return {"id": conn["id"], "name": conn["name"], "display_name": conn["name"], "strategy": conn["strategy"],
            "realms": [conn["name"]], "is_domain_connection": False, "options": {}}


def list_logs(emu, req):
    """GET /logs: checkpoint (`from`/`take`) or search (`q`, paging within 1000, `sort`)."""
    with emu.store.lock:
        logs = [dict(event) for event in emu.store.logs]
    if "from" in req.args:
        start = int(req.args.get("from") or 0)
        take = int_arg(req, "take", 50, low=1, high=100)
        return Reply(200, [e for e in logs if int(e["log_id"]) > start][:take])
    predicate = compile_query(req.args.get("q"))
    logs = [e for e in logs if predicate(e)]
    if req.args.get("sort", "date:-1").endswith(":-1"):
        logs.reverse()
    return Reply(200, paginate(req, logs, "logs", with_length=True, min_per_page=0))


def password_change_ticket(emu, req):
    """POST /tickets/password-change → a ticket URL on the tenant domain."""
    payload = body(req)
    U.check_payload(payload, {"result_url": str, "user_id": str, "client_id": str, "organization_id": str,
                              "connection_id": str, "email": str, "ttl_sec": int,
                              "mark_email_as_verified": bool, "includeEmailInRedirect": bool,
                              "identity": dict})
    with emu.store.lock:
        if "user_id" in payload:
            emu.store.user(payload["user_id"])
        elif "email" not in payload or "connection_id" not in payload:
            raise bad_body("'Missing required property: user_id or email and connection_id'.")
    return Reply(201, {"ticket": f"https://{emu.config.domain}/lo/reset?ticket={secrets.token_urlsafe(24)}#"})


def email_verification_ticket(emu, req):
    """POST /tickets/email-verification → a ticket URL on the tenant domain."""
    payload = body(req)
    U.check_payload(payload, {"result_url": str, "user_id": str, "client_id": str, "organization_id": str,
                              "ttl_sec": int, "includeEmailInRedirect": bool, "identity": dict})
    if "user_id" not in payload:
        raise bad_body("'Missing required property: user_id'.")
    with emu.store.lock:
        emu.store.user(payload["user_id"])
    return Reply(201, {"ticket": f"https://{emu.config.domain}/u/email-verification?ticket="
                                 f"{secrets.token_urlsafe(24)}#"})


def link_identity(emu, req, id):
    """POST /users/{id}/identities: fold a secondary user into the primary's identities."""
    payload = body(req)
    U.check_payload(payload, {"provider": str, "connection_id": str, "user_id": str, "link_with": str})
    if "link_with" in payload:
        raise Auth0Error(400, "Invalid token (link_with).", "invalid_body")
    if "provider" not in payload or "user_id" not in payload:
        raise bad_body("'Missing required property: provider and user_id'.")
    secondary_id = f"{payload['provider']}|{payload['user_id']}"
    with emu.store.lock:
        primary = emu.store.user(id)
        if secondary_id == id:
            raise Auth0Error(400, "Main identity and the new one are the same.", "invalid_body")
        secondary = emu.store.users.get(secondary_id)
        if secondary is None:
            raise Auth0Error(400, "Provided secondary account not found.", "invalid_body")
        emu.store.remove_user(secondary_id)
        profile = {k: secondary[k] for k in ("email", "email_verified", "name", "given_name", "family_name")
                   if k in secondary}
        primary["identities"].append(dict(secondary["identities"][0], profileData=profile))
        primary["updated_at"] = secondary["updated_at"]
        # Linking updates the primary and deletes the secondary (events-best-practices.mdx's example).
        emu.streams.emit("user.updated", primary)
        emu.streams.emit("user.deleted", secondary, deleted_at=now_iso())
        return Reply(201, [dict(i) for i in primary["identities"]])


def unlink_identity(emu, req, id, provider, user_id):
    """DELETE /users/{id}/identities/{provider}/{user_id}: split the identity off as its own user."""
    with emu.store.lock:
        primary = emu.store.users.get(id)
        if primary is None:
            raise user_not_found()
        identities = primary["identities"]
        if identities[0]["provider"] == provider and str(identities[0]["user_id"]) == user_id:
            raise Auth0Error(400, "Main identity cannot be removed.", "invalid_body")
        found = next((i for i in identities[1:] if i["provider"] == provider and str(i["user_id"]) == user_id),
                     None)
        if found is not None:
            identities.remove(found)
            conn = emu.store.connections.get(found["connection"])
            if conn is not None and f"{provider}|{user_id}" not in emu.store.users:
                fields = dict(found.get("profileData") or {}, user_id=user_id)
                split = U.new_user(conn, fields)
                emu.store.add_user(split)
                emu.streams.emit("user.created", split)
            emu.streams.emit("user.updated", primary)
        return Reply(200, [dict(i) for i in identities])

