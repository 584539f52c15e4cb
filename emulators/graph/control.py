"""/_emulator/*: health, run-time knobs, faults, reset, state, stats, spec violations, bulk seeding."""
import base64
import uuid

from emulators.graph.errors import GraphError
from emulators.graph.routing import Reply, Route
from emulators.graph.catalog import SKUS
from emulators.graph.users import build_user

KNOBS = ("latency_ms", "replication_lag_s", "ru_per_10s", "token_lifetime_s")
MAX_BULK = 200_000


class Knobs:
    """Run-time settings; they start from the CLI values and return to them on reset."""

    def __init__(self, config):
        self.latency_ms = float(config.latency_ms)
        self.replication_lag_s = float(config.replication_lag_s)
        self.ru_per_10s = int(config.ru_per_10s)
        self.token_lifetime_s = 3599  # what Entra issues for app-only Graph tokens

    def as_dict(self, store):
        out = {name: getattr(self, name) for name in KNOBS}
        out["seats"] = {sku["skuPartNumber"]: sku["prepaidUnits"]["enabled"] for sku in store.skus.values()}
        return out


def _bad(message):
    return GraphError(400, "BadRequest", message)


def health(ctx):
    return Reply(200, {"status": "ok"})


def get_config(ctx):
    return Reply(200, ctx.app.knobs.as_dict(ctx.store))


def patch_config(ctx):
    """Change knobs: latency_ms, replication_lag_s, ru_per_10s, token_lifetime_s, seats."""
    body = ctx.json()
    app = ctx.app
    for key, value in body.items():
        if key == "seats":
            _set_seats(ctx.store, value)
            continue
        if key not in KNOBS:
            raise _bad(f"Unknown knob '{key}'; known: {', '.join(KNOBS + ('seats',))}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _bad(f"Knob '{key}' must be a number >= 0.")
        setattr(app.knobs, key, int(value) if key in ("ru_per_10s", "token_lifetime_s") else float(value))
    ctx.store.replication_lag_s = app.knobs.replication_lag_s
    for budget in list(app.budgets.values()):
        budget.limit = app.knobs.ru_per_10s
    return Reply(200, app.knobs.as_dict(ctx.store))


def _set_seats(store, value):
    """seats: N (ENTERPRISEPACK) or {skuPartNumber or skuId: N}."""
    wanted = {SKUS[0][1]: value} if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(wanted, dict):
        raise _bad("seats must be an integer or an object of SKU -> integer.")
    with store.lock:
        for key, count in wanted.items():
            sku = next((s for s in store.skus.values() if key in (s["skuPartNumber"], s["skuId"])), None)
            if sku is None or isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise _bad(f"Unknown SKU '{key}' or seat count that is not an integer >= 0.")
            store.skus[sku["skuId"]] = dict(sku, prepaidUnits=dict(sku["prepaidUnits"], enabled=count))


def add_faults(ctx):
    """Append fault rules: {"faults": [{"kind": "status"|"timeout"|"drop", ...}]}."""
    specs = ctx.json().get("faults")
    if not isinstance(specs, list):
        raise _bad("Body must be {\"faults\": [...]}.")
    try:
        added = ctx.app.faults.add(specs)
    except (ValueError, TypeError) as exc:
        raise _bad(f"Invalid fault rule: {exc}") from None
    return Reply(200, {"added": added, "faults": ctx.app.faults.describe()})


def list_faults(ctx):
    return Reply(200, {"faults": ctx.app.faults.describe()})


def clear_faults(ctx):
    ctx.app.faults.clear()
    return Reply(200, {"faults": []})


def reset(ctx):
    ctx.app.reset()
    return Reply(200, {"status": "reset"})


def state(ctx):
    """Everything held, including users still replicating (marked) and soft-deleted users."""
    store = ctx.store
    with store.lock:
        users = [dict(store.users[uid], _visible=store.visible(uid), _managerId=store.managers.get(uid))
                 for uid in store.ids]
        groups = [dict(store.groups[gid], _members=list(store.members[gid])) for gid in store.group_ids]
        body = {"users": users, "deletedItems": list(store.deleted.values()), "groups": groups,
                "subscribedSkus": list(store.skus.values()), "domains": list(store.domains.values())}
    return Reply(200, body)


def stats(ctx):
    return Reply(200, ctx.app.stats.snapshot())


def violations(ctx):
    return Reply(200, ctx.app.spec.violations() if ctx.app.spec is not None else [])


def bulk_users(ctx):
    """Seed many visible users fast: {"count": N, "prefix": "bulk", "domain": "...", "usageLocation": "US"}."""
    body = ctx.json()
    count, prefix = body.get("count"), body.get("prefix", "bulk")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BULK:
        raise _bad(f"count must be an integer from 1 to {MAX_BULK}.")
    store = ctx.store
    domain = store.domains.get(str(body.get("domain") or store.initial_domain).lower())
    if domain is None or not isinstance(prefix, str) or not prefix:
        raise _bad("domain must be a tenant domain and prefix a non-empty string.")
    federated = domain["authenticationType"] == "Federated"
    users = []
    for i in range(count):
        alias = f"{prefix}{i:06d}"
        user_body = {"accountEnabled": True, "displayName": f"{prefix} user {i}", "mailNickname": alias,
                     "userPrincipalName": f"{alias}@{domain['id']}", "givenName": prefix, "surname": f"{i:06d}",
                     "usageLocation": body.get("usageLocation")}
        if federated:
            user_body["onPremisesImmutableId"] = base64.b64encode(uuid.uuid4().bytes).decode()
        users.append(build_user(user_body, store))
    store.add_users(users)
    return Reply(200, {"created": count, "first": users[0]["userPrincipalName"],
                       "last": users[-1]["userPrincipalName"]})


ROUTES = [
    Route("GET", "/_emulator/health", health),
    Route("GET", "/_emulator/config", get_config),
    Route("PATCH", "/_emulator/config", patch_config),
    Route("GET", "/_emulator/faults", list_faults),
    Route("POST", "/_emulator/faults", add_faults),
    Route("DELETE", "/_emulator/faults", clear_faults),
    Route("POST", "/_emulator/reset", reset),
    Route("GET", "/_emulator/state", state),
    Route("GET", "/_emulator/stats", stats),
    Route("GET", "/_emulator/violations", violations),
    Route("POST", "/_emulator/users/bulk", bulk_users),
]
