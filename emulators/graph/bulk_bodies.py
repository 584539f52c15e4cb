"""/_emulator/users/bodies: many users from whole create bodies at once, so a benchmark seeds a tenant fast.

Body: {"users": [{...POST /users body..., "id": "<object id>", "licensed": true}, ...]}. Each user is built
as POST /users builds it (uniqueness of UPN and onPremisesImmutableId enforced); `licensed` assigns the
first subscribed SKU as assignLicense would (seats counted). Test set-up only: no validation of passwords.
"""
from emulators.graph.errors import GraphError
from emulators.graph.licences import derived_plans
from emulators.graph.routing import Reply, Route
from emulators.graph.users import build_user

MAX_USERS = 50_000


def _bad(message):
    return GraphError(400, "Request_BadRequest", message)


def bulk_bodies(ctx):
    """Create every user of the body in one store operation; the ids created."""
    items = (ctx.json() or {}).get("users")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_USERS:
        raise _bad(f"users must be a list of 1 to {MAX_USERS} create bodies.")
    store, users = ctx.store, []
    sku = next(iter(store.skus.values()))["skuId"]
    with store.lock:
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("userPrincipalName"), str):
                raise _bad("each user needs a userPrincipalName.")
            domain = store.domains.get(item["userPrincipalName"].rpartition("@")[2].lower())
            if domain is None or (domain["authenticationType"] == "Federated" and not item.get("onPremisesImmutableId")):
                raise _bad(f"{item['userPrincipalName']}: unknown domain, or a federated one without onPremisesImmutableId.")
            body = {k: v for k, v in item.items() if k not in ("id", "licensed")}
            user = build_user(body, store, uid=item.get("id"))
            if item.get("licensed"):
                user.update(derived_plans(store, [{"skuId": sku, "disabledPlans": []}]))
            users.append(user)
        store.add_users(users)
        for user in users:
            store.adjust_consumed(user, +1)
    return Reply(200, {"created": len(users), "ids": [u["id"] for u in users]})


CONTROL_ROUTES = [Route("POST", "/_emulator/users/bodies", bulk_bodies)]
