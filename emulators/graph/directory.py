"""Tenant-level objects: /domains, /directory/deletedItems (soft-deleted users), and a user's manager."""
from emulators.graph import odata
from emulators.graph.errors import bad_request, not_found
from emulators.graph.routing import Reply, Route
from emulators.graph.users import load_user, user_view

DELETED_DEFAULT = odata.USER_DEFAULT + ("deletedDateTime",)


def list_domains(ctx):
    """GET /domains."""
    odata.reject_unsupported(ctx.args, ("$select",))
    return Reply(200, {"@odata.context": odata.context(ctx.base, "domains"),
                       "value": list(ctx.store.domains.values())})


def get_domain(ctx, name):
    """GET /domains/{name} (names match case-insensitively)."""
    domain = ctx.store.domains.get(name.lower())
    if domain is None:
        raise not_found(name)
    return Reply(200, dict({"@odata.context": odata.context(ctx.base, "domains", entity=True)}, **domain))


def _deleted(ctx, oid):
    user = ctx.store.deleted.get(oid)
    if user is None:
        raise not_found(oid)
    return user


def get_deleted(ctx, oid):
    """GET /directory/deletedItems/{id}: the soft-deleted user with its deletedDateTime."""
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, "user")
    return Reply(200, user_view(ctx, _deleted(ctx, oid), select, entity=True, odata_type=True,
                                segment="directory/deletedItems", default=DELETED_DEFAULT))


def list_deleted_users(ctx):
    """GET /directory/deletedItems/microsoft.graph.user (every soft-deleted user, one page; $select honoured)."""
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, "user")
    with ctx.store.lock:
        users = sorted(ctx.store.deleted.values(), key=lambda u: u["id"])
    fields = ctx.app.schema.fields("user")
    return Reply(200, {"@odata.context": odata.context(ctx.base, "users"),
                       "value": [odata.project(u, select or DELETED_DEFAULT, fields) for u in users]})


def restore(ctx, oid):
    """POST /directory/deletedItems/{id}/restore -> 200 + the restored user."""
    with ctx.store.lock:
        _deleted(ctx, oid)
        user = ctx.store.restore(oid)
    return Reply(200, user_view(ctx, user, None, entity=True, odata_type=True, segment="directoryObjects"))


def purge(ctx, oid):
    """DELETE /directory/deletedItems/{id} -> 204: gone for good, its UPN and ImmutableID free again."""
    with ctx.store.lock:
        _deleted(ctx, oid)
        ctx.store.purge(oid)
    return Reply(204)


def purge_control(ctx, oid):
    """POST /_emulator/users/{id}/purge: what the 30-day expiry of deleted items does, on demand."""
    purge(ctx, oid)
    return Reply(200, {"purged": oid})


def get_manager(ctx, key):
    """GET /users/{id}/manager (404 when none is set)."""
    user = load_user(ctx, key)
    manager = ctx.store.user(ctx.store.managers.get(user["id"]) or "")
    if manager is None:
        raise not_found("manager")
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, "user")
    return Reply(200, user_view(ctx, manager, select, entity=True, odata_type=True, segment="directoryObjects"))


def set_manager(ctx, key):
    """PUT /users/{id}/manager/$ref {"@odata.id": ".../users/{managerId}"} -> 204."""
    ref = ctx.json().get("@odata.id")
    manager_key = ref.rstrip("/").rsplit("/", 1)[-1] if isinstance(ref, str) else ""
    with ctx.store.lock:
        user, manager = load_user(ctx, key), load_user(ctx, manager_key)
        if manager["id"] == user["id"]:
            raise bad_request("A user cannot be their own manager.")
        ctx.store.managers[user["id"]] = manager["id"]
    return Reply(204)


def remove_manager(ctx, key):
    """DELETE /users/{id}/manager/$ref -> 204."""
    with ctx.store.lock:
        user = load_user(ctx, key)
        if ctx.store.managers.pop(user["id"], None) is None:
            raise not_found("manager")
    return Reply(204)


ROUTES = [
    Route("GET", "/v1.0/domains", list_domains, entity="domain"),
    Route("GET", "/v1.0/domains/<name>", get_domain, entity="domain"),
    Route("GET", "/v1.0/directory/deletedItems/microsoft.graph.user", list_deleted_users, entity="user"),
    Route("GET", "/v1.0/directory/deletedItems/<oid>", get_deleted, entity="user"),
    Route("DELETE", "/v1.0/directory/deletedItems/<oid>", purge),
    Route("POST", "/v1.0/directory/deletedItems/<oid>/restore", restore, entity="user"),
    Route("POST", "/v1.0/directory/deletedItems/<oid>/microsoft.graph.restore", restore, entity="user"),
    Route("GET", "/v1.0/users/<key>/manager", get_manager, entity="user"),
    Route("PUT", "/v1.0/users/<key>/manager/$ref", set_manager),
    Route("DELETE", "/v1.0/users/<key>/manager/$ref", remove_manager),
]
CONTROL_ROUTES = [Route("POST", "/_emulator/users/<oid>/purge", purge_control)]
