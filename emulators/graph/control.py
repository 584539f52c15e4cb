"""/_emulator/*: health, run-time knobs, faults, reset, state, stats, spec violations, bulk seeding.

Feature modules add their own control calls (their CONTROL_ROUTES).
"""
import base64
import uuid

from emulators.graph import subscriptions
from emulators.graph.errors import GraphError
from emulators.graph.routing import Reply, Route
from emulators.graph.catalog import SKUS
from emulators.graph.users import build_user

# name -> (type, minimum). The lifecycle-sync knobs start from sandbox defaults, not CLI flags.
KNOBS = {"latency_ms": (float, 0), "replication_lag_s": (float, 0), "write_lag_s": (float, -1), "ru_per_10s": (int, 0),
         "token_lifetime_s": (int, 0), "delta_page_size": (int, 1), "delta_token_lifetime_s": (float, 0),
         "deliver_notifications": (bool, None), "notification_delay_s": (float, 0),
         "notification_retry_s": (float, 0), "notification_max_attempts": (int, 1),
         "notification_timeout_s": (float, 0), "risk_throttle": (bool, None)}
MAX_BULK = 200_000


class Knobs:
    """Run-time settings; they start from the CLI values (or defaults) and return to them on reset."""

    def __init__(self, config):
        self.latency_ms = float(config.latency_ms)
        self.replication_lag_s = float(config.replication_lag_s)
        self.write_lag_s = -1.0  # < 0: writes by id see the same replication lag as reads
        self.ru_per_10s = int(config.ru_per_10s)
        self.token_lifetime_s = 3599  # what Entra issues for app-only Graph tokens
        self.delta_page_size = 200
        self.delta_token_lifetime_s = 7 * 24 * 3600.0  # directory objects' delta tokens live 7 days (facts §5)
        self.deliver_notifications = True
        self.notification_delay_s = 0.0
        # Graph retries with back-off for up to 4 hours (facts §6.4); the sandbox scales that down.
        self.notification_retry_s = 1.0
        self.notification_max_attempts = 6
        self.notification_timeout_s = 10.0  # handshake answer and notification answer deadline (facts §6.2)
        self.risk_throttle = False

    def as_dict(self, store):
        out = {name: getattr(self, name) for name in KNOBS}
        out["seats"] = {sku["skuPartNumber"]: sku["prepaidUnits"]["enabled"] for sku in store.skus.values()}
        return out

    def delivery_settings(self):
        """(retry_s, timeout_s, max_attempts) for the notification worker."""
        return self.notification_retry_s, self.notification_timeout_s, self.notification_max_attempts


def _bad(message):
    return GraphError(400, "BadRequest", message)


def health(ctx):
    return Reply(200, {"status": "ok"})


def get_config(ctx):
    return Reply(200, ctx.app.knobs.as_dict(ctx.store))


def patch_config(ctx):
    """Change knobs (see KNOBS) and seats; nothing changes when one value is refused."""
    body = ctx.json()
    app = ctx.app
    values = {key: _knob_value(key, value) for key, value in body.items() if key != "seats"}
    if "seats" in body:
        _set_seats(ctx.store, body["seats"])
    for key, value in values.items():
        setattr(app.knobs, key, value)
    ctx.store.replication_lag_s = app.knobs.replication_lag_s
    ctx.store.write_lag_s = app.knobs.write_lag_s
    for budget in list(app.budgets.values()):
        budget.limit = app.knobs.ru_per_10s
    return Reply(200, app.knobs.as_dict(ctx.store))


def _knob_value(key, value):
    """A knob's new value, converted to its type; 400 for unknown knobs and bad values."""
    if key not in KNOBS:
        raise _bad(f"Unknown knob '{key}'; known: {', '.join(list(KNOBS) + ['seats'])}.")
    kind, minimum = KNOBS[key]
    if kind is bool:
        if not isinstance(value, bool):
            raise _bad(f"Knob '{key}' must be true or false.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise _bad(f"Knob '{key}' must be a number >= {minimum}.")
    return kind(value)


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
                "subscribedSkus": list(store.skus.values()), "domains": list(store.domains.values()),
                "subscriptions": subscriptions.state(ctx), "riskyUsers": list(store.risky_users.values()),
                "riskDetections": list(store.risk_detections.values()), "invitations": list(store.invitations),
                "changeVersion": store.changes.version}
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
