"""Microsoft Graph change notifications: verify, record, queue, acknowledge (202 well within 3 s)."""
import logging

from flask import Blueprint, Response, current_app, request

from service import jobs
from service.sync import inbox, notifications
from service.sync.subscriptions import client_state
from service.views.body import json_body
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
    body = json_body(check_text=False)  # items are checked one by one: a bad one must not sink the batch
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, "invalid_body", "Expected Graph's {\"value\": [...]} notification body.", field="value")
    companion = current_app.extensions["companion"]
    counts = _record_all(companion, items)
    if any(counts[k] for k in ("forged", "malformed", "duplicates")):
        log.warning("some notifications were not queued", extra={"fields": counts})
    return "", 202


def _record_all(companion, items):
    """Queue every genuine, usable, new item; count the others."""
    state, window = client_state(companion.settings), companion.settings.graph_dedup_window_s
    counts = {"queued": 0, "forged": 0, "malformed": 0, "duplicates": 0, "ignored": 0}
    for item in items:
        if not notifications.genuine(item, state):
            counts["forged"] += 1
            continue
        try:
            found = notifications.parse(item)
        except notifications.Malformed:
            counts["malformed"] += 1
            continue
        if found is None:
            counts["ignored"] += 1
            continue
        event_id = inbox.record_once(companion.store, found.kind, found.object_id, "webhook", found.key, window,
                                     **found.detail)
        counts["queued" if event_id else "duplicates"] += 1
        if event_id:
            jobs.enqueue(event_id)  # after the row's commit, so a worker always finds it
    return counts
