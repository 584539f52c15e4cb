"""Auth0 Event Streams webhook: verify the bearer token, record each new event, queue it, acknowledge 202."""
import hmac

from flask import Blueprint, current_app, jsonify, request

from service import jobs
from service.sync import auth0_events
from service.views.body import json_body
from service.views.errors import ApiError

bp = Blueprint("auth0_events", __name__, url_prefix="/v1/events")


@bp.post("/auth0")
def auth0_stream():
    """One CloudEvent (or a JSON array of them) from an Auth0 event stream."""
    companion = current_app.extensions["companion"]
    _authenticate(companion.settings.auth0_events_token)
    body = json_body(check_text=False)  # items are checked one by one (Auth0 fails the batch on a 4xx)
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(400, "invalid_body", "Expected one CloudEvent (a JSON object) or a JSON array of them.",
                       field="body")
    # Unknown event types and malformed items are acknowledged and ignored: Auth0 fails an event at once
    # on any 4xx and disables the stream after three failures in a row (facts/auth0.md §4.2).
    queued, counts = auth0_events.record(companion.store, items)
    for event_id in queued:
        jobs.enqueue(event_id)  # after the commit, so a worker always finds the row
    return jsonify(counts), 202


def _authenticate(token):
    """`Authorization: Bearer <AUTH0_EVENTS_TOKEN>`, compared in constant time."""
    if not token:
        raise ApiError(404, "disabled", "Set AUTH0_EVENTS_TOKEN to receive Auth0 event streams here.")
    given = request.headers.get("Authorization", "")
    given = given[7:].strip() if given[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode()):
        raise ApiError(401, "unauthenticated", "Send 'Authorization: Bearer <AUTH0_EVENTS_TOKEN>'.")
