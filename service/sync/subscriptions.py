"""Graph change-notification subscriptions for users and groups: created, renewed well before expiry."""
import datetime as dt
import hashlib
import hmac

from service.errors import NotFound
from service.sync import inbox

RESOURCES = ("users", "groups")
LIFETIME = dt.timedelta(minutes=41_000)   # under Graph's 41,760-minute maximum for directory objects
RENEW_BEFORE = dt.timedelta(days=7)


def client_state(settings):
    """The clientState secret Graph echoes on every notification (derived, never stored or logged)."""
    return hmac.new(settings.companion_secret.encode(), b"graph-client-state", hashlib.sha256).hexdigest()


def notification_url(settings):
    """Where Graph delivers notifications and lifecycle events."""
    return f"{settings.companion_public_url}/v1/events/graph"


def ensure(ctx, now=None):
    """Create missing subscriptions and renew ones that expire within RENEW_BEFORE; return their ids."""
    now = now or dt.datetime.now(dt.timezone.utc)
    known = inbox.state_get(ctx.store, "subscriptions") or {}
    out = {}
    for resource in RESOURCES:
        sub = known.get(resource)
        if sub and _expires(sub) - now > RENEW_BEFORE:
            out[resource] = sub
            continue
        out[resource] = _renew(ctx, sub, now) if sub else None
        out[resource] = out[resource] or _create(ctx, resource, now)
    inbox.state_set(ctx.store, "subscriptions", out)
    return out


def _expires(sub):
    return dt.datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))


def _iso(when):
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _renew(ctx, sub, now):
    try:
        answer = ctx.graph.renew_subscription(sub["id"], _iso(now + LIFETIME))
    except NotFound:
        return None  # Graph dropped it: create a new one
    return {"id": sub["id"], "expirationDateTime": (answer or {}).get("expirationDateTime", _iso(now + LIFETIME))}


def _create(ctx, resource, now):
    url = notification_url(ctx.settings)
    answer = ctx.graph.create_subscription({
        "changeType": "updated,deleted", "resource": resource, "notificationUrl": url,
        "lifecycleNotificationUrl": url, "expirationDateTime": _iso(now + LIFETIME),
        "clientState": client_state(ctx.settings)})
    return {"id": answer["id"], "expirationDateTime": answer["expirationDateTime"]}


def handle_lifecycle(ctx, subscription_id, detail):
    """reauthorizationRequired: reauthorize, then run delta rounds to cover any gap."""
    from service import jobs
    if detail.get("lifecycle_event") == "reauthorizationRequired":
        ctx.graph.reauthorize_subscription(subscription_id)
    for kind in ("users_delta", "groups_delta"):
        jobs.enqueue(inbox.record(ctx.store, kind, None, "lifecycle"))
    return "done"


def ensure_handler(ctx, _object_id, _detail):
    """Handler for an 'ensure_subscriptions' event."""
    ensure(ctx)
    return "done"
