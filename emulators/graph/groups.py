"""Groups and memberships: /groups, members, transitiveMembers, and a user's memberOf/transitiveMemberOf.

Membership lists are directoryObject collections whose items carry `@odata.type` (Learn
`group-list-members`, `user-list-memberof`); RU costs per facts §10.
"""
import bisect
import uuid

from emulators.graph import odata
from emulators.graph.errors import GraphError, bad_request, not_found
from emulators.graph.filters import compile_filter
from emulators.graph.routing import Reply, Route
from emulators.graph.seed import group_record
from emulators.graph.users import advanced_query, load_user

# Set by the directory; a control body may not change them.
GROUP_READ_ONLY = {"id", "createdDateTime", "deletedDateTime", "securityIdentifier", "onPremisesSyncEnabled",
                   "onPremisesSecurityIdentifier"}

PAGING = ("$select", "$top", "$skiptoken")


def load_group(ctx, gid):
    """The group with this id, or 404."""
    group = ctx.store.groups.get(gid)
    if group is None:
        raise not_found(gid)
    return group


def list_groups(ctx):
    """GET /groups with $filter, $select, $top and paging."""
    args, schema = ctx.args, ctx.app.schema
    odata.reject_unsupported(args)
    select = odata.parse_select(args.get("$select"), schema, "group")
    top = odata.parse_top(args.get("$top"))
    predicate = compile_filter(args["$filter"], schema, "group")[0] if args.get("$filter") else None
    after = odata.decode_skiptoken(args["$skiptoken"]) if "$skiptoken" in args else None
    groups, more = ctx.store.page("group", after, top, predicate)
    body = {"@odata.context": odata.context(ctx.base, "groups", select)}
    if more:
        body["@odata.nextLink"] = odata.next_link(ctx.base, "/v1.0/groups", args, groups[-1]["id"])
    body["value"] = [_group_json(g, select, schema) for g in groups]
    return Reply(200, body)


def get_group(ctx, gid):
    """GET /groups/{id}."""
    odata.reject_unsupported(ctx.args, ("$select",))
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, "group")
    body = {"@odata.context": odata.context(ctx.base, "groups", select, entity=True)}
    body.update(_group_json(load_group(ctx, gid), select, ctx.app.schema))
    return Reply(200, body)


def _group_json(group, select, schema):
    """A group with every stored property, or only the $select ones."""
    if select is None:
        return dict(group)
    return odata.project(group, select, schema.fields("group"))


def _object_json(ctx, kind, obj, select, typed=True):
    """A directoryObject collection item: a user or a group, with its @odata.type unless cast to it."""
    fields = ctx.app.schema.fields(kind)
    if select is not None:
        body = odata.project(obj, [name for name in select if name in fields], fields)
    elif kind == "user":
        body = odata.project(obj, odata.USER_DEFAULT, fields)
    else:
        body = dict(obj)
    return {"@odata.type": f"#microsoft.graph.{kind}", **body} if typed else body


def _directory_select(ctx):
    """$select over a mixed collection: each name must exist on user or group."""
    raw = ctx.args.get("$select")
    if raw is None:
        return None
    schema, names = ctx.app.schema, []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if part not in schema.fields("user") and part not in schema.fields("group"):
            raise GraphError(400, "BadRequest", "Parsing OData Select and Expand failed: Could not find a "
                             f"property named '{part}' on type 'microsoft.graph.directoryObject'.")
        names.append(part)
    return names


def _collection(ctx, ids, path, cast=None):
    """One page of a directoryObject collection, in id order, with $select/$top/$skiptoken.

    `cast` ("user" or "group") serves the OData cast `…/microsoft.graph.{cast}`: objects of that type only,
    $select on its properties, and `@odata.count` with the advanced query parameters (Learn
    `group-list-transitivemembers`, examples with `microsoft.graph.group`).
    """
    odata.reject_unsupported(ctx.args, PAGING + (("$count",) if cast else ()))
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, cast) if cast else _directory_select(ctx)
    top = odata.parse_top(ctx.args.get("$top"))
    after = odata.decode_skiptoken(ctx.args["$skiptoken"]) if "$skiptoken" in ctx.args else None
    with ctx.store.lock:
        found = [(oid, ctx.store.directory_object(oid)) for oid in sorted(ids)]
    found = [(oid, hit) for oid, hit in found if hit is not None and cast in (None, hit[0])]
    start = bisect.bisect_right([oid for oid, _ in found], after) if after else 0
    page = found[start:start + top]
    body = {"@odata.context": odata.context(ctx.base, f"{cast}s", select) if cast
            else odata.context(ctx.base, "directoryObjects")}
    if cast and advanced_query(ctx):
        body["@odata.count"] = len(found)
    if start + top < len(found):
        body["@odata.nextLink"] = odata.next_link(ctx.base, path, ctx.args, page[-1][0])
    body["value"] = [_object_json(ctx, kind, obj, select, typed=not cast) for _, (kind, obj) in page]
    return Reply(200, body)


def _cast_path(path, cast):
    """The collection path, with the cast segment when there is one."""
    return f"{path}/microsoft.graph.{cast}" if cast else path


def _walk(start, step):
    """Every id reachable from start through step(id) -> ids, without start itself (cycles allowed)."""
    seen, todo = set(), list(step(start))
    while todo:
        oid = todo.pop()
        if oid not in seen and oid != start:
            seen.add(oid)
            todo.extend(step(oid))
    return seen


def members(ctx, gid, cast=None):
    """GET /groups/{id}/members[/microsoft.graph.{cast}]: direct members."""
    load_group(ctx, gid)
    return _collection(ctx, list(ctx.store.members[gid]), _cast_path(f"/v1.0/groups/{gid}/members", cast), cast)


def transitive_members(ctx, gid, cast=None):
    """GET /groups/{id}/transitiveMembers[/microsoft.graph.{cast}]: members of nested groups too."""
    load_group(ctx, gid)
    with ctx.store.lock:
        ids = _walk(gid, lambda oid: ctx.store.members.get(oid, ()))
    return _collection(ctx, ids, _cast_path(f"/v1.0/groups/{gid}/transitiveMembers", cast), cast)


def member_of(ctx, key, cast=None):
    """GET /users/{id}/memberOf[/microsoft.graph.group]: groups the user is directly in."""
    user = load_user(ctx, key)
    ids = set(ctx.store.member_of.get(user["id"], ()))
    return _collection(ctx, ids, _cast_path(f"/v1.0/users/{key}/memberOf", cast), cast)


def transitive_member_of(ctx, key, cast=None):
    """GET /users/{id}/transitiveMemberOf[/microsoft.graph.group]: direct and nested groups."""
    user = load_user(ctx, key)
    with ctx.store.lock:
        ids = _walk(user["id"], lambda oid: ctx.store.member_of.get(oid, ()))
    return _collection(ctx, ids, _cast_path(f"/v1.0/users/{key}/transitiveMemberOf", cast), cast)


def add_member(ctx, gid):
    """POST /groups/{id}/members/$ref {"@odata.id": ".../directoryObjects/{id}"} -> 204."""
    load_group(ctx, gid)
    ref = ctx.json().get("@odata.id")
    member_id = ref.rstrip("/").rsplit("/", 1)[-1] if isinstance(ref, str) else None
    with ctx.store.lock:
        if not member_id or ctx.store.directory_object(member_id) is None:
            raise not_found(member_id or "@odata.id")
        if member_id in ctx.store.members[gid]:
            raise bad_request("One or more added object references already exist for the following modified "
                              "properties: 'members'.")
        ctx.store.add_member(gid, member_id)
    return Reply(204)


def remove_member(ctx, gid, member_id):
    """DELETE /groups/{id}/members/{memberId}/$ref -> 204."""
    load_group(ctx, gid)
    if not ctx.store.remove_member(gid, member_id):
        raise not_found(member_id)
    return Reply(204)


ROUTES = [
    Route("GET", "/v1.0/groups", list_groups, entity="group"),
    Route("GET", "/v1.0/groups/<gid>", get_group, entity="group"),
    Route("GET", "/v1.0/groups/<gid>/members", members, ru=3, entity="directoryObject"),
    Route("GET", "/v1.0/groups/<gid>/transitiveMembers", transitive_members, ru=5, entity="directoryObject"),
    Route("POST", "/v1.0/groups/<gid>/members/$ref", add_member),
    Route("DELETE", "/v1.0/groups/<gid>/members/<member_id>/$ref", remove_member),
    Route("GET", "/v1.0/users/<key>/memberOf", member_of, ru=2, entity="directoryObject"),
    Route("GET", "/v1.0/users/<key>/transitiveMemberOf", transitive_member_of, ru=2, entity="directoryObject"),
]


# --- control calls: the product never writes groups through Graph, so tests make and change them here ---
def _group_changes(ctx, body):
    """The writable properties of a control body, type-checked against microsoft.graph.group."""
    changes = {k: v for k, v in body.items() if k not in GROUP_READ_ONLY and k != "members"}
    ctx.app.schema.check_object("group", changes)
    name = changes.get("displayName", "x")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Group'.")
    return changes


def create_group_control(ctx):
    """POST /_emulator/groups {"displayName", ..., "members": [ids]} -> 201 + the group."""
    body = ctx.json()
    changes = _group_changes(ctx, body)
    members = body.get("members") or []
    if "displayName" not in changes or not isinstance(members, list):
        raise bad_request("displayName is required and members must be a list of object ids.")
    group = dict(group_record(str(uuid.uuid4()), changes["displayName"]), **changes)
    with ctx.store.lock:
        for member in members:
            if not isinstance(member, str) or ctx.store.directory_object(member) is None:
                raise not_found(str(member))
        ctx.store.add_group(group, members)
    return Reply(201, dict(group, _members=list(members)))


def update_group_control(ctx, gid):
    """PATCH /_emulator/groups/{id} {"displayName": ...} -> 200 + the group."""
    changes = _group_changes(ctx, ctx.json())
    with ctx.store.lock:
        group = load_group(ctx, gid)
        updated = dict(group, **changes)
        ctx.store.replace_group(group, updated)
    return Reply(200, updated)


CONTROL_ROUTES = [
    Route("POST", "/_emulator/groups", create_group_control),
    Route("PATCH", "/_emulator/groups/<gid>", update_group_control),
]
