"""The `/_emulator/…` control API: health, knobs, faults, reset, state, counters, seeding, violations, streams."""
import json
import secrets

from emulators.auth0 import users as U
from emulators.auth0.errors import Auth0Error
from emulators.auth0.store import new_id, now_iso
from emulators.auth0.web import Reply

# Public user fields a seed may set (the properties of UserResponseSchema in the extract).
SEED_USER_FIELDS = {
    "user_id", "email", "email_verified", "username", "phone_number", "phone_verified", "created_at",
    "updated_at", "app_metadata", "user_metadata", "picture", "name", "nickname", "multifactor",
    "multifactor_last_modified", "last_ip", "last_login", "last_password_reset", "logins_count", "blocked",
    "given_name", "family_name",
}
SEED_EXTRAS = {"connection", "password", "sessions", "refresh_tokens", "roles"}
KNOB_TYPES = {"latency_ms": (int, float), "rate_limit": (int, float), "search_lag_s": (int, float),
              "scopes": (str,), "token_lifetime_s": (int,), "export_link_ttl_s": (int, float),
              "job_pending_polls": (int,), "deliver_events": (bool,), "stream_retry_s": (int, float),
              "stream_timeout_s": (int, float)}
POSITIVE_KNOBS = ("rate_limit", "stream_timeout_s")  # zero would mean "never" / "no time at all"
FLUSH_TIMEOUT_S = 60.0


def _json(req):
    """The control request's JSON body, or 400."""
    try:
        return json.loads(req.get_data() or b"null")
    except ValueError:
        raise Auth0Error(400, "control body is not JSON") from None


def health(emu, req):
    """GET /_emulator/health."""
    return Reply(200, {"status": "ok", "domain": emu.config.domain})


def get_config(emu, req):
    """GET /_emulator/config: the run-time knobs."""
    return Reply(200, dict(emu.knobs))


def patch_config(emu, req):
    """PATCH /_emulator/config: change knobs (unknown names and wrong types are refused)."""
    changes = _json(req)
    if not isinstance(changes, dict):
        raise Auth0Error(400, "config body must be an object")
    for name, value in changes.items():
        if name not in KNOB_TYPES:
            raise Auth0Error(400, f"unknown knob {name!r}; known: {sorted(KNOB_TYPES)}")
        if isinstance(value, bool) != (KNOB_TYPES[name] == (bool,)) or not isinstance(value, KNOB_TYPES[name]):
            raise Auth0Error(400, f"knob {name!r} has the wrong type")
        if name not in ("scopes", "deliver_events") and value < (0.001 if name in POSITIVE_KNOBS else 0):
            raise Auth0Error(400, f"knob {name!r} is out of range")
    emu.knobs.update(changes)
    if "rate_limit" in changes:
        emu.bucket.configure(changes["rate_limit"])
    return Reply(200, dict(emu.knobs))


def add_faults(emu, req):
    """POST /_emulator/faults `{"faults": [...]}`."""
    body = _json(req)
    rules = body.get("faults") if isinstance(body, dict) else body
    if not isinstance(rules, list):
        raise Auth0Error(400, 'faults body must be {"faults": [...]}')
    return Reply(200, {"faults": emu.faults.add(rules)})


def clear_faults(emu, req):
    """DELETE /_emulator/faults."""
    emu.faults.clear()
    return Reply(200, {"faults": []})


def reset(emu, req):
    """POST /_emulator/reset."""
    emu.reset()
    emu.tokens.forget()
    return Reply(200, {"status": "reset"})


def state(emu, req):
    """GET /_emulator/state: every object, with sessions, tokens, roles and revocations per user."""
    return Reply(200, emu.store.snapshot())


def stats(emu, req):
    """GET /_emulator/stats."""
    return Reply(200, emu.stats.snapshot())


def violations(emu, req):
    """GET /_emulator/violations: spec violations seen (empty without --validate-spec)."""
    return Reply(200, emu.recorder.violations() if emu.recorder else [])


def seed_users(emu, req):
    """POST /_emulator/users: store users directly (any connection), with sessions, tokens and roles."""
    body = _json(req)
    items = body.get("users") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise Auth0Error(400, 'seed body must be a list of users or {"users": [...]}')
    with emu.store.lock:
        created = []
        for item in items:
            user = _seed_one(emu.store, item)
            # A seeded user stands for a sign-up: tenant log `ss` and a `user.created` event (facts §3.5, §4.2).
            emu.store.log("ss", "Success Signup", **emu.store.user_log_fields(user))
            emu.streams.emit("user.created", user)
            created.append(user)
        return Reply(201, {"users": [U.public(u) for u in created]})


def _seed_one(store, item):
    """Validate and store one seeded user."""
    if not isinstance(item, dict):
        raise Auth0Error(400, "each seeded user must be an object")
    unknown = set(item) - SEED_USER_FIELDS - SEED_EXTRAS
    if unknown:
        raise Auth0Error(400, f"seeded user has fields Auth0 users do not have: {sorted(unknown)}")
    conn = store.connections.get(item.get("connection", "Username-Password-Authentication"))
    if conn is None:
        raise Auth0Error(400, f"no connection named {item.get('connection')!r}")
    fields = {k: v for k, v in item.items() if k in SEED_USER_FIELDS}
    uid = fields.get("user_id")
    if uid and uid.startswith(conn["strategy"] + "|"):
        fields["user_id"] = uid[len(conn["strategy"]) + 1:]
    user = U.new_user(conn, fields)
    if store.email_taken(conn["name"], user.get("email")) or user["user_id"] in store.users:
        raise Auth0Error(409, f"user {user['user_id']} / {user.get('email')} already exists")
    store.add_user(user)
    uid = user["user_id"]
    if item.get("password"):
        store.set_password(uid, item["password"])
    store.sessions[uid] = _items(item.get("sessions", 0), "sess", uid)
    store.refresh_tokens[uid] = _items(item.get("refresh_tokens", 0), "rt", uid, store.sessions[uid])
    for role in item.get("roles", []):
        role_id = role if role in store.roles else next(
            (r["id"] for r in store.roles.values() if r["name"] == role), None)
        if role_id is None:
            raise Auth0Error(400, f"no role {role!r}")
        store.user_roles.setdefault(uid, []).append(role_id)
    return user


def _items(spec, kind, user_id, sessions=()):
    """Sessions or refresh tokens from a count or a list of ids/objects."""
    entries = [{} for _ in range(spec)] if isinstance(spec, int) else list(spec)
    out = []
    for index, entry in enumerate(entries):
        entry = {"id": entry} if isinstance(entry, str) else dict(entry)
        entry.setdefault("id", f"{kind}_{secrets.token_hex(10)}")
        entry.setdefault("user_id", user_id)
        entry.setdefault("created_at", now_iso())
        if kind == "rt" and sessions:
            entry.setdefault("session_id", sessions[index % len(sessions)]["id"])
        out.append(entry)
    return out


def add_role(emu, req):
    """POST /_emulator/roles `{"name", "description"?}`: a role beside the seeded ones (the same name twice is one role)."""
    body = _json(req)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise Auth0Error(400, 'role body must be {"name", "description"?}')
    with emu.store.lock:
        role = next((r for r in emu.store.roles.values() if r["name"] == body["name"]), None)
        if role is None:
            role = {"id": new_id("rol_"), "name": body["name"], "description": str(body.get("description", ""))}
            emu.store.roles[role["id"]] = role
        return Reply(201, dict(role))


def seed_bulk(emu, req):
    """POST /_emulator/users/bulk `{"count", "connection", "prefix"}`: many users, fast (benchmarks)."""
    body = _json(req) or {}
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise Auth0Error(400, "count must be a non-negative integer")
    prefix = body.get("prefix", "bulk")
    with emu.store.lock:
        conn = emu.store.connections.get(body.get("connection", "Username-Password-Authentication"))
        if conn is None:
            raise Auth0Error(400, f"no connection named {body.get('connection')!r}")
        for index in range(count):
            user = U.new_user(conn, {"email": f"{prefix}{index:07d}@example.com"})
            if not emu.store.email_taken(conn["name"], user["email"]):
                emu.store.add_user(user)
                emu.streams.emit("user.created", user)  # like an import (no log: it would flood the 10,000 kept)
        total = len(emu.store.users)
    return Reply(201, {"created": count, "total": total})


def create_stream(emu, req):
    """POST /_emulator/streams `{"url", "authorization": "Bearer …", "events": [...], "name"?}` → the stream."""
    return Reply(201, emu.streams.create(_json(req)))


def list_streams(emu, req):
    """GET /_emulator/streams: every stream with its delivery records (attempts, status)."""
    return Reply(200, emu.streams.get())


def get_stream(emu, req, id):
    """GET /_emulator/streams/{id}."""
    return Reply(200, emu.streams.get(id))


def patch_stream(emu, req, id):
    """PATCH /_emulator/streams/{id} `{"status": "enabled"|"disabled"}` (enabling clears the failure run)."""
    body = _json(req)
    if not isinstance(body, dict) or set(body) != {"status"}:
        raise Auth0Error(400, 'stream patch body must be {"status": "enabled"|"disabled"}')
    return Reply(200, emu.streams.set_status(id, body["status"]))


def delete_stream(emu, req, id):
    """DELETE /_emulator/streams/{id}: the stream and its queued deliveries go."""
    emu.streams.delete(id)
    return Reply(204)


def flush(emu, req):
    """POST /_emulator/flush `{"timeout_s"?}`: wait until every queued delivery is done (retries included)."""
    body = _json(req) or {}
    timeout = body.get("timeout_s", FLUSH_TIMEOUT_S) if isinstance(body, dict) else None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise Auth0Error(400, "timeout_s must be a non-negative number")
    left = emu.streams.flush(timeout)
    if left:
        return Reply(504, {"error": f"{left} deliveries still pending after {timeout} s", "pending": left})
    return Reply(200, {"pending": 0})


ROUTES = (
    ("GET", "/_emulator/health", health),
    ("GET", "/_emulator/config", get_config),
    ("PATCH", "/_emulator/config", patch_config),
    ("POST", "/_emulator/faults", add_faults),
    ("DELETE", "/_emulator/faults", clear_faults),
    ("POST", "/_emulator/reset", reset),
    ("GET", "/_emulator/state", state),
    ("GET", "/_emulator/stats", stats),
    ("GET", "/_emulator/violations", violations),
    ("POST", "/_emulator/users", seed_users),
    ("POST", "/_emulator/users/bulk", seed_bulk),
    ("POST", "/_emulator/roles", add_role),
    ("POST", "/_emulator/streams", create_stream),
    ("GET", "/_emulator/streams", list_streams),
    ("GET", "/_emulator/streams/<id>", get_stream),
    ("PATCH", "/_emulator/streams/<id>", patch_stream),
    ("DELETE", "/_emulator/streams/<id>", delete_stream),
    ("POST", "/_emulator/flush", flush),
)
