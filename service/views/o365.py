"""The browser leg of the Office 365 login: the Action redirects here, we provision, then continue.

No request waits on Graph: the first visit records the user and queues the work in the background;
the waiting page comes back when the account should be ready, and continues once it is.
"""
import datetime as dt
import logging
import math
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from service import identity, tokens
from service.errors import CompanionError, Transient
from service.provisioning import PROFILE_KEYS, UNAVAILABLE

bp = Blueprint("o365", __name__)
log = logging.getLogger("companion.o365")
# What a person reads when Entra, Graph or Auth0 fails us; the operator's detail goes to the log only.
BUSY_TEXT = "Office 365 is busy right now. Please try again in a few minutes."
BROKEN_TEXT = UNAVAILABLE


@bp.get("/o365/start")
def start():
    """Verify the Action's token, advance provisioning, then show a waiting page or continue."""
    companion = current_app.extensions["companion"]
    state, session_token = request.args.get("state", ""), request.args.get("session_token", "")
    if not state or len(state) > 2048 or not session_token:
        return _failed("This sign-in link is incomplete. Start again from Office 365.", None, 400)
    try:
        claims = tokens.verify_session_token(session_token, companion.settings)
        g.o365_sub = claims["sub"]  # lets the error handlers offer the way back to Auth0
        user = {**_user_fields(claims.get("user")), "user_id": claims["sub"]}
        outcome = companion.provisioner.start(user, g.request_id, retry_failed_before=_began(claims))
        companion.driver.nudge(outcome)
    except tokens.TokenRejected as why:
        return _failed(f"{why} Open Office 365 again to restart.", None, 400)
    except identity.InvalidUser as why:
        return _failed(f"Your profile cannot be used for Office 365: {why.message}.",
                       _continue_url(companion, state, claims["sub"], "failed", reason=why.message), 422)
    if outcome.state == "ready":
        return redirect(_continue_url(companion, state, outcome.auth0_user_id, "ready", upn=outcome.upn,
                                      immutable_id=outcome.immutable_id, object_id=outcome.object_id), 302)
    if outcome.state == "failed":
        reference = outcome.reference or g.request_id  # the id the log line of the failure carries
        return _failed(outcome.message, _continue_url(companion, state, outcome.auth0_user_id, "failed",
                                                      reason=outcome.message, reference=reference), 200,
                       reference)
    return _waiting(companion.driver.refresh_after(outcome))


def _began(claims):
    """When this login began (the session token's iat): a failure older than that is retried."""
    iat = claims.get("iat")
    return dt.datetime.fromtimestamp(iat, dt.timezone.utc) if isinstance(iat, (int, float)) else None


def _user_fields(payload):
    """The user fields the Action sent (only known keys, only strings and booleans)."""
    if not isinstance(payload, dict):
        return {}
    return {k: payload[k] for k in PROFILE_KEYS if isinstance(payload.get(k), (str, bool))}


def _continue_url(companion, state, sub, status, **claims):
    token = tokens.result_token(companion.settings, state=state, sub=sub, status=status,
                                reference=claims.pop("reference", g.request_id), **claims)
    query = urlencode({"state": state, "session_token": token})
    return f"https://{companion.settings.auth0_domain}/continue?{query}"


def _waiting(refresh_s):
    """The waiting page: its script asks again after refresh_s; the meta refresh, which takes only whole
    seconds, is the way on for a browser that runs no script."""
    response = current_app.make_response(render_template(
        "waiting.html", refresh_s=max(1, math.ceil(refresh_s)), refresh_ms=round(refresh_s * 1000),
        refresh_url=request.full_path))
    response.headers["Cache-Control"] = "no-store"
    return response


def _failed(message, continue_url, status, reference=None):
    html = render_template("failed.html", message=message, reference=reference or g.request_id,
                           continue_url=continue_url)
    return html, status, {"Cache-Control": "no-store"}


@bp.after_request
def _policy(response):
    """A person's pages run our own script only, load nothing else and are framed by nobody."""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(CompanionError)
def _upstream_failed(err):
    """A vendor failed us (e.g. a wrong or expired Entra secret): a page for the person, detail to the log."""
    log.warning("upstream error", extra={"fields": err.log_fields()})
    return _failed_with_way_back(BUSY_TEXT if isinstance(err, Transient) else BROKEN_TEXT, err.status)


@bp.errorhandler(Exception)
def _unexpected(err):
    """Anything else on the browser leg is still a page, never JSON."""
    if isinstance(err, HTTPException):
        return _failed_with_way_back(BROKEN_TEXT, err.code)
    log.exception("unexpected error")
    return _failed_with_way_back(BROKEN_TEXT, 500)


def _failed_with_way_back(message, status):
    state, sub = request.args.get("state", ""), g.get("o365_sub")
    way_back = None
    if state and len(state) <= 2048 and sub:
        companion = current_app.extensions["companion"]
        way_back = _continue_url(companion, state, sub, "failed", reason=message, reference=g.request_id)
    return _failed(message, way_back, status)
