"""Delta queries: GET /users/delta() and /groups/delta() over the store's change log (facts §5).

The first round pages through every readable object (`@odata.nextLink` with `$skiptoken`); its last
page carries `@odata.deltaLink` with a `$deltatoken`. A later round returns the objects changed since
its token: users with their selected properties, soft-deleted ones as `@removed: changed`, purged ones
as `@removed: deleted`; groups with `members@delta`. Both tokens are opaque base64 JSON holding the
store they belong to, the log versions, the `$select`, the expiry generation and the issue time, so
the query options are given only on the first request (Learn `delta-query-overview`).
"""
import base64
import bisect
import json
import time

from emulators.graph import odata
from emulators.graph.errors import GraphError
from emulators.graph.routing import Reply, Route

SEGMENT = {"user": "users", "group": "groups"}
ALWAYS = {"created", "deleted", "restored", "purged"}  # user events reported whatever $select says
CACHE_SIZE = 16


def users_delta(ctx):
    """GET /users/delta()."""
    return _delta(ctx, "user")


def groups_delta(ctx):
    """GET /groups/delta()."""
    return _delta(ctx, "group")


def _delta(ctx, kind):
    """One page of a delta round: a full sync, changes since a token, or `$deltatoken=latest`."""
    odata.reject_unsupported(ctx.args, ("$select", "$deltatoken", "$skiptoken"))
    store = ctx.store
    skip, delta = ctx.args.get("$skiptoken"), ctx.args.get("$deltatoken")
    if skip:
        state = _open(ctx, kind, skip)
    elif delta and delta.lower() != "latest":
        state = dict(_open(ctx, kind, delta), w=store.changes.version, a=None)
    else:
        select, members = _parse_select(ctx, kind)
        with store.lock:
            settled = store.changes.settled(store.visible)
        state = {"k": kind, "s": select, "m": members, "v": settled, "w": None, "a": None, "f": 1}
        if delta:  # "latest": sync from now on, without the current objects
            return Reply(200, _body(ctx, kind, state, [], None, settled))
    return _page(ctx, kind, state) if state["f"] else _changes_page(ctx, kind, state)


def _parse_select(ctx, kind):
    """($select names or None, whether group members are tracked); `members` is a group's relationship."""
    raw = ctx.args.get("$select")
    if raw is None:
        return None, kind == "group"
    names = [n.strip() for n in raw.split(",") if n.strip()]
    members = kind == "group" and any(n.lower() == "members" for n in names)
    rest = [n for n in names if not (members and n.lower() == "members")]
    select = odata.parse_select(",".join(rest), ctx.app.schema, kind) if rest else None
    return (select or ["id"]), members


def _page(ctx, kind, state):
    """A page of the first round: current objects in id order."""
    size = int(ctx.app.knobs.delta_page_size)
    objects, more = ctx.store.page(kind, state["a"], size)
    with ctx.store.lock:
        items = [_item(ctx, kind, obj["id"], state, None) for obj in objects]
    after = objects[-1]["id"] if more else None
    return Reply(200, _body(ctx, kind, state, [i for i in items if i], after, state["v"]))


def _changes_page(ctx, kind, state):
    """A page of a later round: objects changed between the token's version and the round's start."""
    store, size = ctx.store, int(ctx.app.knobs.delta_page_size)
    with store.lock:
        changed, ids = _changed(store, kind, state)
        start = _after(ids, state["a"])
        chunk = ids[start:start + size]
        items = [_item(ctx, kind, oid, state, changed[oid]) for oid in chunk]
        more = start + size < len(ids)
        settled = None if more else min(state["w"], store.changes.settled(store.visible))
    return Reply(200, _body(ctx, kind, state, [i for i in items if i], chunk[-1] if more else None, settled))


def _after(ids, cursor):
    """Index of the first id after the cursor."""
    return bisect.bisect_right(ids, cursor) if cursor else 0


def _changed(store, kind, state):
    """({object id: member changes}, sorted ids) of the objects a round reports; cached for its pages."""
    key = (kind, state["v"], state["w"], tuple(state["s"] or ()), state["m"])
    found = store.delta_cache.get(key)
    if found is not None:
        return found
    tracked = _tracked(kind, state["s"])
    found = {}
    for entry in store.changes.between(state["v"], state["w"]):
        if entry.kind != kind:
            continue
        for oid in entry.oids:
            if _reported(entry, tracked, state["m"]):
                members = found.setdefault(oid, {})
                for member_id, member_kind, _ in entry.members if state["m"] else ():
                    members[member_id] = member_kind
    if len(store.delta_cache) >= CACHE_SIZE:
        store.delta_cache.pop(next(iter(store.delta_cache)))
    store.delta_cache[key] = found, sorted(found)
    return store.delta_cache[key]


def _tracked(kind, select):
    """Properties whose changes a round reports: the $select, else what is returned (None = all)."""
    if select:
        return set(select)
    return set(odata.USER_DEFAULT) if kind == "user" else None


def _reported(entry, tracked, members):
    """Whether an entry makes its object part of a round, given the tracked properties (facts §5)."""
    if entry.event == "members":
        return members
    if entry.event in ALWAYS:
        return True
    return tracked is None or bool(entry.props & tracked)


def _item(ctx, kind, oid, state, member_changes):
    """The value entry for one object, or None when reads cannot see it yet (replication lag)."""
    store = ctx.store
    if kind == "user":
        user = store.users.get(oid)
        if user is not None:
            if not store.visible(oid):
                return None
            return odata.project(user, state["s"] or odata.USER_DEFAULT, ctx.app.schema.fields("user"))
        reason = "changed" if oid in store.deleted else "deleted"
        return {"id": oid, "@removed": {"reason": reason}}
    group = store.groups.get(oid)
    if group is None:
        return {"id": oid, "@removed": {"reason": "deleted"}}
    body = dict(group) if state["s"] is None else odata.project(group, state["s"], ctx.app.schema.fields("group"))
    if state["m"]:
        members = _members_delta(store, oid, member_changes)
        if members:
            body["members@delta"] = members
    return body


def _members_delta(store, gid, changes):
    """members@delta: every current member (first round) or the changed ones, removed ones marked."""
    if changes is None:
        current = [(mid, store.directory_object(mid)) for mid in store.members.get(gid, ())]
        return [{"@odata.type": f"#microsoft.graph.{hit[0]}", "id": mid} for mid, hit in current if hit]
    out = []
    for mid in sorted(changes):
        hit = store.directory_object(mid)
        entry = {"@odata.type": f"#microsoft.graph.{hit[0] if hit else changes[mid]}", "id": mid}
        if hit is None or mid not in store.members.get(gid, ()):
            entry["@removed"] = {"reason": "deleted"}
        out.append(entry)
    return out


def _body(ctx, kind, state, items, after, settled):
    """The response: value plus a nextLink (more to come) or a deltaLink (round complete)."""
    segment = SEGMENT[kind]
    body = {"@odata.context": odata.context(ctx.base, segment, state["s"])}
    if after is not None:
        body["@odata.nextLink"] = _link(ctx, kind, "$skiptoken", dict(state, a=after))
    else:
        next_state = dict(state, v=settled, w=None, a=None, f=0)
        body["@odata.deltaLink"] = _link(ctx, kind, "$deltatoken", next_state)
    body["value"] = items
    return body


def _link(ctx, kind, param, state):
    """A delta URL carrying one opaque token."""
    return f"{ctx.base}/v1.0/{SEGMENT[kind]}/delta()?{param}={_seal(ctx.store, state)}"


def _seal(store, state):
    """Encode a token: the round state plus the store epoch, expiry generation and issue time."""
    payload = dict(state, e=store.epoch, g=store.delta_generation, t=int(time.time()))
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _open(ctx, kind, token):
    """The round state in a token; 400 when it was not made here, 410 when it has expired."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        fields = (state["k"], state["e"], state["g"], state["t"], state["v"], state["f"])
    except (ValueError, KeyError, TypeError):
        raise GraphError(400, "BadRequest", "The delta or skip token is not valid.") from None
    if fields[0] != kind:
        raise GraphError(400, "BadRequest", "The delta or skip token belongs to another resource.")
    store, lifetime = ctx.store, ctx.app.knobs.delta_token_lifetime_s
    if fields[1] != store.epoch or fields[2] < store.delta_generation or time.time() - fields[3] > lifetime:
        raise _expired(ctx, kind, state.get("s"), state.get("m"))
    return state


def _expired(ctx, kind, select, members):
    """410 Gone with a Location that restarts a full round with the same $select (facts §5)."""
    names = list(select or ()) + (["members"] if members and select else [])
    query = f"$select={','.join(names)}&$deltatoken=" if names else "$deltatoken="
    location = f"{ctx.base}/v1.0/{SEGMENT[kind]}/delta()?{query}"
    return GraphError(410, "syncStateNotFound", "The sync state generation is not found: the delta token has "
                      "expired or the directory was reset. Start again with a full synchronisation.",
                      headers={"Location": location})


def expire(ctx):
    """POST /_emulator/delta/expire: every delta and skip token issued so far answers 410 from now on."""
    with ctx.store.lock:
        ctx.store.delta_generation += 1
        ctx.store.delta_cache.clear()
    return Reply(200, {"expired": True, "generation": ctx.store.delta_generation})


def _routes(segment, handler, ru):
    """/delta() and its aliases (`/delta`, `/microsoft.graph.delta()`) for one resource."""
    names = ("delta()", "delta", "microsoft.graph.delta()", "microsoft.graph.delta")
    return [Route("GET", f"/v1.0/{segment}/{name}", handler, ru=ru, entity=segment[:-1]) for name in names]


# Delta costs what a list costs (facts §4.1): GET users 2, any other GET 1.
ROUTES = _routes("users", users_delta, 2) + _routes("groups", groups_delta, 1)
CONTROL_ROUTES = [Route("POST", "/_emulator/delta/expire", expire)]
