"""Change-notification subscriptions for users and groups, and the matcher that queues notifications.

Rules from facts §6 (Learn `api/resources/subscription`, `subscription-post-subscriptions`,
`change-notifications-delivery-webhooks`): changeType `updated`/`deleted` only; lifetime at most
41,760 minutes, raised to 45 minutes when shorter; one subscription per changeType + resource (409);
clientState at most 128 characters; the notification URL (and lifecycle URL) must pass the
validation handshake before the subscription exists.
"""
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from emulators.graph.errors import GraphError, not_found
from emulators.graph.notify import Item, handshake
from emulators.graph.routing import Reply, Route
from emulators.graph.store import now_iso

RESOURCE = re.compile(r"/?(users|groups)(?:/([^/]+?))?(/members)?/?", re.I)
CHANGE_TYPES = ("updated", "deleted")
MAX_MINUTES, MIN_MINUTES, MAX_CLIENT_STATE = 41760, 45, 128
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TLS_VERSIONS = {"v1_0", "v1_1", "v1_2", "v1_3"}
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclass
class Subscription:
    """A stored subscription: the JSON Graph returns plus what the matcher needs."""

    body: dict
    kind: str  # "user" | "group"
    target: str | None  # one object, or None for the whole collection
    members: bool  # groups/{id}/members: membership changes only
    types: frozenset
    expires: datetime
    reauthorized: str | None = None

    def covers(self, entry, oid):
        """Whether a change-log entry about oid concerns this subscription."""
        if entry.kind != self.kind or (self.target and self.target != oid):
            return False
        return entry.event == "members" if self.members else True


def _invalid(message, code="InvalidRequest"):
    return GraphError(400, code, message)


def _not_found(sid):
    return GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{sid}'.")


def format_time(when):
    """Graph's DateTimeOffset text with 7 fractional digits when there is a fraction."""
    text = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{when.microsecond:06d}0Z" if when.microsecond else "Z")


def parse_expiration(value):
    """The expiration to store: at most 41,760 minutes ahead (else 400), at least 45 minutes."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise GraphError(400, "BadRequest", f"Cannot convert the literal '{value}' to the expected type "
                         "'Edm.DateTimeOffset'.") from None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    if when > now + timedelta(minutes=MAX_MINUTES):
        raise _invalid(f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
                       "ExtensionError")
    return max(when, now + timedelta(minutes=MIN_MINUTES))


def _change_types(value):
    """The set of change types; users and groups support only updated and deleted (facts §6.1)."""
    types = [t.strip() for t in str(value or "").split(",") if t.strip()]
    for name in types:
        if name not in CHANGE_TYPES:
            raise _invalid(f"The changeType '{name}' is not supported for this resource; users and groups "
                           "support only 'updated' and 'deleted'.")
    if not types:
        raise _invalid("The changeType property is required.")
    return frozenset(types)


def _resource(ctx, value):
    """(kind, target id or None, members-only) of users, users/{id}, groups, groups/{id}[/members]."""
    found = RESOURCE.fullmatch(value or "")
    if not found or (found.group(3) and (found.group(1).lower() == "users" or not found.group(2))):
        raise _invalid(f"The resource '{value}' is not supported; use users, users/{{id}}, groups, "
                       "groups/{id} or groups/{id}/members.")
    kind, target = found.group(1).lower()[:-1], found.group(2)
    if target and kind == "user":
        user = ctx.store.user(target)
        if user is None:
            raise not_found(target)
        target = user["id"]
    elif target and target not in ctx.store.groups:
        raise not_found(target)
    return kind, target, bool(found.group(3))


def _check_url(name, url):
    """https, or http on loopback (a sandbox leniency: real Graph accepts only https)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    ok = parts is not None and parts.hostname and (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK))
    if not ok:
        raise _invalid(f"The {name} '{url}' is not valid: an absolute https URL is required.")


def _check_body(ctx, body):
    """Required properties and their values, before anything is sent to the endpoint."""
    ctx.app.schema.check_object("subscription", body)
    for prop in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if body.get(prop) is None:
            raise _invalid(f"The property '{prop}' is required.")
    state = body.get("clientState")
    if state is not None and len(state) > MAX_CLIENT_STATE:
        raise _invalid(f"The clientState can be at most {MAX_CLIENT_STATE} characters long.")
    if body.get("includeResourceData"):
        raise _invalid("Notifications with resource data are not supported for users and groups.")
    tls = body.get("latestSupportedTlsVersion")
    if tls is not None and tls not in TLS_VERSIONS:
        raise _invalid(f"The latestSupportedTlsVersion '{tls}' is not valid.")
    _check_url("notificationUrl", body["notificationUrl"])
    if body.get("lifecycleNotificationUrl") is not None:
        _check_url("lifecycleNotificationUrl", body["lifecycleNotificationUrl"])


def _duplicate(store, types, scope):
    """409 when a live subscription has the same changeType and resource (facts §6.1)."""
    now = datetime.now(timezone.utc)
    for sub in store.subscriptions.values():
        if sub.expires > now and sub.types == types and (sub.kind, sub.target, sub.members) == scope:
            raise GraphError(409, "Conflict",
                             f"Subscription Id {sub.body['id']} already exists for the requested combination")


def create(ctx):
    """POST /subscriptions -> 201 after the validation handshake(s)."""
    body = ctx.json()
    _check_body(ctx, body)
    types = _change_types(body["changeType"])
    scope = _resource(ctx, body["resource"])
    expires = parse_expiration(body["expirationDateTime"])
    with ctx.store.lock:
        _duplicate(ctx.store, types, scope)
    timeout = ctx.app.knobs.notification_timeout_s
    for url in filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl"))):
        failure = handshake(url, timeout)
        if failure:
            raise GraphError(400, "ValidationError", failure)
    sub = Subscription(_stored(ctx, body, expires), *scope, types=types, expires=expires)
    with ctx.store.lock:
        _duplicate(ctx.store, types, scope)
        ctx.store.subscriptions[sub.body["id"]] = sub
    return Reply(201, _view(ctx, sub))


def _stored(ctx, body, expires):
    """The subscription's JSON as Graph returns it."""
    return {"id": str(uuid.uuid4()), "resource": body["resource"],
            "applicationId": ctx.claims.get("appid") or ctx.app.config.client_id,
            "changeType": body["changeType"], "clientState": body.get("clientState"),
            "notificationUrl": body["notificationUrl"], "notificationQueryOptions": None,
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": format_time(expires), "creatorId": ctx.claims.get("oid"),
            "includeResourceData": False, "latestSupportedTlsVersion": body.get("latestSupportedTlsVersion") or "v1_2",
            "encryptionCertificate": None, "encryptionCertificateId": None, "notificationUrlAppId": None}


def _view(ctx, sub, entity=True):
    context = f"{ctx.base}/v1.0/$metadata#subscriptions" + ("/$entity" if entity else "")
    return {"@odata.context": context, **sub.body}


def _live(ctx, sid):
    """The unexpired subscription with this id, or 404 (expired subscriptions are gone)."""
    sub = ctx.store.subscriptions.get(sid)
    if sub is None or sub.expires <= datetime.now(timezone.utc):
        raise _not_found(sid)
    return sub


def list_subscriptions(ctx):
    """GET /subscriptions: the live subscriptions."""
    now = datetime.now(timezone.utc)
    with ctx.store.lock:
        subs = [s for s in ctx.store.subscriptions.values() if s.expires > now]
    return Reply(200, {"@odata.context": f"{ctx.base}/v1.0/$metadata#subscriptions",
                       "value": [s.body for s in subs]})


def get_subscription(ctx, sid):
    """GET /subscriptions/{id}."""
    return Reply(200, _view(ctx, _live(ctx, sid)))


def update_subscription(ctx, sid):
    """PATCH /subscriptions/{id}: renew (expirationDateTime is the only property that may change here)."""
    body = ctx.json()
    ctx.app.schema.check_object("subscription", body)
    others = sorted(k for k in body if k != "expirationDateTime" and "@" not in k)  # annotations aside
    if others or "expirationDateTime" not in body:
        raise _invalid("Only expirationDateTime can be updated; delete and recreate the subscription to change "
                       f"{', '.join(others) or 'anything else'}.")
    expires = parse_expiration(body["expirationDateTime"])
    with ctx.store.lock:
        sub = _live(ctx, sid)
        sub.expires = expires
        sub.body = dict(sub.body, expirationDateTime=format_time(expires))
    return Reply(200, _view(ctx, sub))


def delete_subscription(ctx, sid):
    """DELETE /subscriptions/{id} -> 204."""
    with ctx.store.lock:
        _live(ctx, sid)
        del ctx.store.subscriptions[sid]
    return Reply(204)


def reauthorize(ctx, sid):
    """POST /subscriptions/{id}/reauthorize -> 204 (answer to reauthorizationRequired, facts §6.5)."""
    with ctx.store.lock:
        _live(ctx, sid).reauthorized = now_iso()
    return Reply(204)


# --- matching changes to subscriptions (called under the store lock, for each change-log entry) ---
def on_change(app, store, entry):
    """Queue a notification per live subscription that covers the entry (facts §6.1, §7)."""
    if not store.subscriptions:
        return
    change_type = "deleted" if entry.event == "purged" else "updated"
    now = datetime.now(timezone.utc)
    subs = [s for s in store.subscriptions.values() if s.expires > now and change_type in s.types]
    items = [_item(app, store, sub, entry.kind, oid, change_type)
             for oid in entry.oids for sub in subs if sub.covers(entry, oid)]
    if not items:
        return
    if not app.knobs.deliver_notifications:
        app.stats.count("suppressed", len(items))
        return
    app.delivery.enqueue(*items)


def _item(app, store, sub, kind, oid, change_type):
    """One notification, held while its user is hidden by replication lag."""
    segment = "Users" if kind == "user" else "Groups"
    payload = {"id": str(uuid.uuid4()), "subscriptionId": sub.body["id"],
               "subscriptionExpirationDateTime": sub.body["expirationDateTime"],
               "clientState": sub.body["clientState"], "changeType": change_type,
               "resource": f"{segment}/{oid}", "tenantId": app.config.tenant_id,
               "resourceData": {"@odata.type": f"#Microsoft.Graph.{segment[:-1]}", "@odata.id": f"{segment}/{oid}",
                                "id": oid}}
    ready = (lambda: store.lag_remaining(oid)) if kind == "user" else None
    due = time.monotonic() + app.knobs.notification_delay_s
    return Item(sub.body["notificationUrl"], "change", payload, sub.body["id"], due, ready)


# --- control calls ---
def lifecycle(ctx, sid):
    """POST /_emulator/subscriptions/{id}/lifecycle {"event": ...}: send a lifecycle notification."""
    event = ctx.json(required=False).get("event", "reauthorizationRequired")
    if event not in LIFECYCLE_EVENTS:
        raise _invalid(f"event must be one of {', '.join(LIFECYCLE_EVENTS)}.", "BadRequest")
    with ctx.store.lock:
        sub = _live(ctx, sid)
        if event == "subscriptionRemoved":
            del ctx.store.subscriptions[sid]
    payload = {"subscriptionId": sid, "subscriptionExpirationDateTime": sub.body["expirationDateTime"],
               "tenantId": ctx.app.config.tenant_id, "clientState": sub.body["clientState"], "lifecycleEvent": event}
    url = sub.body["lifecycleNotificationUrl"] or sub.body["notificationUrl"]
    ctx.app.delivery.enqueue(Item(url, "lifecycle", payload, sid, time.monotonic()))
    ctx.app.stats.count("lifecycle")
    return Reply(202, {"queued": event, "url": url})


def flush(ctx):
    """POST /_emulator/flush {"timeout_s": 30}: wait until every queued notification is delivered or dropped."""
    timeout = ctx.json(required=False).get("timeout_s", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise _invalid("timeout_s must be a number >= 0.", "BadRequest")
    done = ctx.app.delivery.flush(float(timeout))
    return Reply(200, {"flushed": done, "pending": ctx.app.delivery.pending()})


def state(ctx):
    """Subscriptions with their delivery attempts, for GET /_emulator/state."""
    return [dict(sub.body, _expired=sub.expires <= datetime.now(timezone.utc), _reauthorized=sub.reauthorized,
                 _deliveries=ctx.app.delivery.recorded(sid))
            for sid, sub in list(ctx.store.subscriptions.items())]


# Subscriptions are served by the change-notification service, not counted in directory resource units.
ROUTES = [
    Route("GET", "/v1.0/subscriptions", list_subscriptions, ru=0, entity="subscription"),
    Route("POST", "/v1.0/subscriptions", create, ru=0, entity="subscription"),
    Route("GET", "/v1.0/subscriptions/<sid>", get_subscription, ru=0, entity="subscription"),
    Route("PATCH", "/v1.0/subscriptions/<sid>", update_subscription, ru=0, entity="subscription"),
    Route("DELETE", "/v1.0/subscriptions/<sid>", delete_subscription, ru=0),
    Route("POST", "/v1.0/subscriptions/<sid>/reauthorize", reauthorize, ru=0),
    Route("POST", "/v1.0/subscriptions/<sid>/microsoft.graph.reauthorize", reauthorize, ru=0),
]
CONTROL_ROUTES = [
    Route("POST", "/_emulator/subscriptions/<sid>/lifecycle", lifecycle),
    Route("POST", "/_emulator/flush", flush),
]
