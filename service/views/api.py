"""JSON API for Actions that cannot redirect, and for pre-provisioning.

Graph is called only in the background (service/driver.py): an inline answer waits for the user's
link to turn ready, within its budget, and otherwise answers pending — never a retry sleep here.
"""
import datetime as dt
import time
from urllib.parse import quote

from flask import Blueprint, current_app, g, jsonify, request

from service import callers, identity, smartlinks, tokens
from service.provisioning import PROFILE_KEYS
from service.views.body import json_body
from service.views.errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/v1")
INLINE_WAIT_S = 5.0  # an Action has 20 s in all and should keep each call under 10 s
INLINE_CHECK_S = 0.2  # how often an inline answer re-reads the link (a database read, not Graph)
MODES = ("inline", "async")


def _caller():
    """Verify the bearer token; return its claims."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "Send 'Authorization: Bearer <token>': an Action token signed with "
                                               "COMPANION_SECRET, or an access token for COMPANION_API_AUDIENCE.")
    companion = current_app.extensions["companion"]
    try:
        return tokens.verify_action_token(header[7:].strip(), companion.settings, companion.jwks)
    except tokens.TokenRejected as why:
        raise ApiError(401, "invalid_token", str(why)) from None


def _authorize(claims, permission, user_id):
    """403 with no side effect unless the caller may apply permission to user_id."""
    try:
        callers.authorize(claims, permission, user_id)
    except callers.Forbidden as why:
        raise ApiError(403, "forbidden", why.message, field=why.field) from None


def _user_from_body(claims):
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object with the Auth0 user's fields.",
                       field="body")
    unknown = sorted(set(body) - set(PROFILE_KEYS) - {"user_id", "mode"})
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field {unknown[0]!r}; allowed: user_id, mode, "
                                             f"{', '.join(PROFILE_KEYS)}.", field=unknown[0])
    body = dict(body)
    mode = body.pop("mode", "inline")
    if mode not in MODES:
        raise ApiError(400, "invalid_field", "mode must be 'inline' or 'async'.", field="mode")
    identity.validate_user(body)
    _authorize(claims, callers.PROVISION, body["user_id"])
    return body, mode


@bp.post("/o365/provision")
def provision():
    """Provision inline (200 when ready within a few seconds) or start it (202 with a status URL)."""
    user, mode = _user_from_body(_caller())
    companion = current_app.extensions["companion"]
    outcome = companion.provisioner.start(user, g.request_id, retry_failed_before=dt.datetime.now(dt.timezone.utc))
    companion.driver.nudge(outcome)
    if outcome.state == "pending" and mode == "inline":
        outcome = _wait_for(companion, outcome, time.monotonic() + INLINE_WAIT_S)
    return _answer(outcome)


def _wait_for(companion, outcome, deadline):
    """The user's outcome once it is no longer pending, or pending at the deadline."""
    while outcome.state == "pending" and time.monotonic() + INLINE_CHECK_S < deadline:
        time.sleep(INLINE_CHECK_S)
        outcome = companion.provisioner.status(outcome.auth0_user_id) or outcome
    return outcome


@bp.get("/o365/provision/<path:user_id>")
def status(user_id):
    """Where a user's provisioning stands; each poll also advances it a little."""
    claims = _caller()
    identity.check_user_id(user_id)
    _authorize(claims, callers.READ, user_id)
    companion = current_app.extensions["companion"]
    outcome = companion.provisioner.status(user_id)
    companion.driver.nudge(outcome)  # a poll also nudges work nobody is doing (e.g. after a restart)
    if outcome is None:
        raise ApiError(404, "not_found", "No provisioning is known for this user; POST /v1/o365/provision first.")
    return _answer(outcome)


def _answer(outcome):
    if outcome.state == "ready":
        return jsonify(status="ready", upn=outcome.upn, immutable_id=outcome.immutable_id,
                       object_id=outcome.object_id)
    if outcome.state == "failed":
        raise ApiError(422, "provisioning_failed", outcome.message or "Provisioning failed.",
                       reference=outcome.reference or g.request_id)
    base = current_app.extensions["companion"].settings.companion_public_url
    status_url = f"{base}/v1/o365/provision/{quote(outcome.auth0_user_id, safe='')}"
    return jsonify(status="pending", status_url=status_url), 202, {"Location": status_url}


@bp.get("/o365/links")
def smart_links():
    """Smart link and IdP-initiated link for an optional deep link (?target=https://…)."""
    settings = current_app.extensions["companion"].settings
    try:
        return jsonify(smartlinks.links_for(settings, request.args.get("target") or None))
    except smartlinks.DeepLinkRefused as why:
        raise ApiError(400, "deep_link_refused", str(why), field="target") from None
