"""/v1.0/users: create, list ($filter/$select/$top/paging), get, update, delete, revokeSignInSessions.

Rules follow Learn `graph/api/user-post-users` and the extract's `microsoft.graph.user` schema; the
error texts are the ones Entra sends (facts §1.3).
"""
import re
import uuid

from emulators.graph import odata
from emulators.graph.errors import GraphError, bad_request, not_found
from emulators.graph.filters import compile_filter, index_plan
from emulators.graph.routing import Reply, Route
from emulators.graph.store import now_iso

REQUIRED = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
# Set by the directory, not by callers: silently kept as the directory has them.
READ_ONLY = {"id", "createdDateTime", "deletedDateTime", "assignedLicenses", "assignedPlans", "provisionedPlans",
             "licenseAssignmentStates", "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime",
             "creationType", "securityIdentifier", "onPremisesSyncEnabled", "onPremisesLastSyncDateTime"}
UPN_LOCAL = re.compile(r"[A-Za-z0-9'.\-_!#^~]{1,64}")
NICKNAME_BAD = re.compile(r"[@()\\\[\]\";:<>,\s]|[^\x00-\x7f]")
INDEXED = {"userprincipalname": "userPrincipalName", "onpremisesimmutableid": "onPremisesImmutableId", "id": "id"}
INVALID_VALUES = "One or more properties contains invalid values."


def invalid(prop):
    """Entra's answer to a missing or malformed property value."""
    return bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.", target=prop)


def check_password(profile, policies):
    """Entra's default strong-password rule: 8-256 characters from at least 3 of 4 classes."""
    password = (profile or {}).get("password")
    if not isinstance(password, str) or not password:
        raise invalid("passwordProfile")
    if "DisableStrongPassword" in (policies or ""):
        return
    classes = sum(bool(re.search(p, password)) for p in ("[a-z]", "[A-Z]", "[0-9]", "[^A-Za-z0-9]"))
    if not 8 <= len(password) <= 256 or classes < 3:
        raise bad_request("The specified password does not comply with password complexity requirements. "
                          "Please provide a different password.")


def check_upn(upn, store):
    """The UPN's local part characters and a verified tenant domain (facts §1.1, §1.3)."""
    local, _, domain = upn.rpartition("@")
    if not local or not UPN_LOCAL.fullmatch(local) or local.startswith(".") or local.endswith("."):
        raise bad_request("Property userPrincipalName is invalid.", target="userPrincipalName")
    record = store.domains.get(domain.lower())
    if record is None or not record["isVerified"]:
        raise bad_request("The domain portion of the userPrincipalName property is invalid. You must use one of "
                          "the verified domain names in your organization.", target="userPrincipalName")
    return record


def check_fields(values):
    """Length and character rules of the writable string properties that have them."""
    name = values.get("displayName")
    if "displayName" in values and (not isinstance(name, str) or not name.strip() or len(name) > 256):
        raise invalid("displayName")
    nick = values.get("mailNickname")
    if "mailNickname" in values and (not isinstance(nick, str) or not 1 <= len(nick) <= 64
                                     or NICKNAME_BAD.search(nick)):
        raise invalid("mailNickname")
    if values.get("usageLocation") is not None and not re.fullmatch(r"[A-Za-z]{2}", values["usageLocation"]):
        raise invalid("usageLocation")
    immutable = values.get("onPremisesImmutableId")
    if immutable is not None and ("$" in immutable or "_" in immutable or not immutable):
        raise bad_request(INVALID_VALUES)


def check_user(merged, store):
    """Rules that involve several properties: the UPN's domain and the federated ImmutableID."""
    domain = check_upn(merged["userPrincipalName"], store)
    if domain["authenticationType"] == "Federated" and not merged.get("onPremisesImmutableId"):
        raise bad_request(INVALID_VALUES)


def build_user(body, store, uid=None):
    """A new stored user from a validated create body, with the values Entra fills in."""
    created = now_iso()
    user = {k: v for k, v in body.items() if k not in READ_ONLY and k != "passwordProfile" and "@" not in k}
    upn = user["userPrincipalName"]
    domain = store.domains[upn.rpartition("@")[2].lower()]
    if domain["authenticationType"] == "Federated":
        identity = {"signInType": "federated", "issuer": domain["id"], "issuerAssignedId": user["onPremisesImmutableId"]}
    else:
        identity = {"signInType": "userPrincipalName", "issuer": store.initial_domain, "issuerAssignedId": upn}
    user.update(id=uid or str(uuid.uuid4()), createdDateTime=created, userType=user.get("userType") or "Member",
                creationType=None, assignedLicenses=[], assignedPlans=[], provisionedPlans=[],
                licenseAssignmentStates=[], signInSessionsValidFromDateTime=created,
                lastPasswordChangeDateTime=created, deletedDateTime=None)
    user["identities"] = [identity] + [i for i in body.get("identities") or [] if i != identity]
    for prop in ("businessPhones", "otherMails", "proxyAddresses", "imAddresses"):
        user.setdefault(prop, [])
    return user


def create_user(ctx):
    """POST /users -> 201 with the default property set."""
    body = ctx.json()
    ctx.app.schema.check_object("user", body)
    for prop in REQUIRED:
        if body.get(prop) is None:
            raise invalid(prop)
    check_fields(body)
    check_password(body["passwordProfile"], body.get("passwordPolicies"))
    with ctx.store.lock:
        check_user(body, ctx.store)
        user = build_user(body, ctx.store)
        ctx.store.add_user(user)
    return Reply(201, user_view(ctx, user, None, entity=True))


def list_users(ctx):
    """GET /users with $filter, $select, $top, $count and $skiptoken paging."""
    args, schema = ctx.args, ctx.app.schema
    odata.reject_unsupported(args)
    select = odata.parse_select(args.get("$select"), schema, "user")
    top = odata.parse_top(args.get("$top"))
    advanced = advanced_query(ctx)
    predicate, candidates = user_filter(ctx, advanced)
    after = odata.decode_skiptoken(args["$skiptoken"]) if "$skiptoken" in args else None
    users, more = ctx.store.page("user", after, top, predicate, candidates)
    body = {"@odata.context": odata.context(ctx.base, "users", select)}
    if advanced and after is None:  # with the first page: counting again for every page rescans the tenant
        body["@odata.count"] = ctx.store.count("user", predicate, candidates)
    if more:
        body["@odata.nextLink"] = odata.next_link(ctx.base, "/v1.0/users", args, users[-1]["id"])
    fields = schema.fields("user")
    body["value"] = [odata.project(u, select or odata.USER_DEFAULT, fields) for u in users]
    return Reply(200, body)


def user_filter(ctx, advanced):
    """(predicate, candidate ids or None) for the request's $filter on users; (None, None) without one."""
    if not ctx.args.get("$filter"):
        return None, None
    predicate, ast = compile_filter(ctx.args["$filter"], ctx.app.schema, "user", advanced)
    plan = index_plan(ast, INDEXED)
    return predicate, (ctx.store.lookup_ids(plan) if plan is not None else None)


def advanced_query(ctx):
    """Whether the advanced query parameters are present (Learn `graph/aad-advanced-queries`)."""
    count = ctx.args.get("$count")
    eventual = ctx.req.headers.get("ConsistencyLevel", "").lower() == "eventual"
    if count is not None and count.lower() not in ("true", "false"):
        raise GraphError(400, "BadRequest", f"Invalid value '{count}' for $count.")
    if count and count.lower() == "true" and not eventual:
        raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
    return eventual and bool(count) and count.lower() == "true"


def user_view(ctx, user, select, entity=False, odata_type=False, segment="users", default=odata.USER_DEFAULT):
    """The JSON of one user: $select or the default set, with @odata.context."""
    body = {"@odata.context": odata.context(ctx.base, segment, select, entity)}
    if odata_type:
        body["@odata.type"] = "#microsoft.graph.user"
    body.update(odata.project(user, select or default, ctx.app.schema.fields("user")))
    return body


def load_user(ctx, key, write=False):
    """The visible user with this id or UPN, or 404 (a user still replicating is not found)."""
    user = ctx.store.user(key, write=write)
    if user is None:
        raise not_found(key)
    return user


def get_user(ctx, key):
    """GET /users/{id | userPrincipalName}."""
    odata.reject_unsupported(ctx.args, ("$select",))
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, "user")
    return Reply(200, user_view(ctx, load_user(ctx, key), select, entity=True))


def update_user(ctx, key):
    """PATCH /users/{id} -> 204; the same property rules as create."""
    body = ctx.json()
    ctx.app.schema.check_object("user", body)
    for prop in REQUIRED[:4]:
        if prop in body and body[prop] is None:
            raise invalid(prop)
    check_fields(body)
    with ctx.store.lock:
        user = load_user(ctx, key)
        changes = {k: v for k, v in body.items() if k not in READ_ONLY and k != "passwordProfile" and "@" not in k}
        updated = dict(user, **changes)
        if "passwordProfile" in body:
            check_password(body["passwordProfile"], updated.get("passwordPolicies"))
            updated["lastPasswordChangeDateTime"] = now_iso()
        check_user(updated, ctx.store)
        ctx.store.replace_user(user, updated)
    return Reply(204)


def delete_user(ctx, key):
    """DELETE /users/{id} -> 204; the user moves to /directory/deletedItems for 30 days."""
    with ctx.store.lock:
        ctx.store.soft_delete(load_user(ctx, key)["id"])
    return Reply(204)


def revoke_sessions(ctx, key):
    """POST /users/{id}/revokeSignInSessions -> 200 {"value": true} (Learn `user-revokesigninsessions`)."""
    with ctx.store.lock:
        user = load_user(ctx, key)
        ctx.store.replace_user(user, dict(user, signInSessionsValidFromDateTime=now_iso()))
    return Reply(200, {"@odata.context": f"{ctx.base}/v1.0/$metadata#Edm.Boolean", "value": True})


ROUTES = [
    Route("GET", "/v1.0/users", list_users, ru=2, entity="user"),
    Route("POST", "/v1.0/users", create_user, entity="user"),
    Route("GET", "/v1.0/users/<key>", get_user, entity="user"),
    Route("PATCH", "/v1.0/users/<key>", update_user),
    Route("DELETE", "/v1.0/users/<key>", delete_user),
    Route("POST", "/v1.0/users/<key>/revokeSignInSessions", revoke_sessions),
    Route("POST", "/v1.0/users/<key>/microsoft.graph.revokeSignInSessions", revoke_sessions),
]
