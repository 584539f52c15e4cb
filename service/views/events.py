"""Microsoft Graph change notifications: verify, record, queue, acknowledge (202 well within 3 s)."""
import hmac
import logging

from flask import Blueprint, Response, current_app, request

from service import jobs
from service.sync import inbox
from service.sync.subscriptions import client_state
from service.views.errors import ApiError

bp = Blueprint("events", __name__, url_prefix="/v1/events")
log = logging.getLogger("companion.events")


@bp.post("/graph")
def graph_notifications():
    """Validation handshake, lifecycle events and change notifications from Graph."""
    token = request.args.get("validationToken")
    if token is not None:
        # Learn change-notifications-delivery-webhooks: echo the decoded token, 200, text/plain, only.
        return Response(token, 200, {"Content-Type": "text/plain; charset=utf-8",
                                     "X-Content-Type-Options": "nosniff"})
    body = request.get_json(silent=True)
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, "invalid_body", "Expected Graph's {\"value\": [...]} notification body.", field="value")
    companion = current_app.extensions["companion"]
    accepted = [item for item in items if _genuine(item, companion.settings)]
    ids = [_record(companion.store, item) for item in accepted]
    for event_id in filter(None, ids):
        jobs.enqueue(event_id)
    if len(accepted) < len(items):
        log.warning("notifications with a wrong clientState were ignored",
                    extra={"fields": {"ignored": len(items) - len(accepted)}})
    return "", 202


def _genuine(item, settings):
    """Compare clientState in constant time; anything else is ignored (and never acted on)."""
    given = item.get("clientState") if isinstance(item, dict) else None
    return isinstance(given, str) and hmac.compare_digest(given.encode(), client_state(settings).encode())


def _record(store, item):
    """One inbox row per usable notification; None for shapes we do not act on."""
    if item.get("lifecycleEvent"):
        return inbox.record(store, "lifecycle", str(item.get("subscriptionId")), "webhook",
                            lifecycle_event=str(item["lifecycleEvent"]))
    resource = str(item.get("resource") or "")
    data = item.get("resourceData") if isinstance(item.get("resourceData"), dict) else {}
    oid = data.get("id") or resource.rsplit("/", 1)[-1]
    if resource.lower().startswith("users/") and oid:
        return inbox.record(store, "user", oid, "webhook", deleted=item.get("changeType") == "deleted")
    if resource.lower().startswith("groups"):
        return inbox.record(store, "groups_delta", oid, "webhook")  # membership: read it from groups delta
    return None
