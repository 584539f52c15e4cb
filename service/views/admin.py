"""Operator endpoints (bearer ADMIN_API_KEY): audit by user, failed and held events, re-drive, approve."""
from flask import Blueprint, current_app, jsonify, request

from service import audit, jobs, text
from service.sync import inbox
from service.views.body import json_body
from service.views.errors import ApiError
from service.views.guards import require_bearer

bp = Blueprint("admin", __name__, url_prefix="/v1/admin")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
MAX_IDS = 1000
STATUSES = ("failed", "held", "queued", "running", "done")


@bp.before_request
def _require_admin():
    require_bearer(current_app.extensions["companion"].settings.admin_api_key, "ADMIN_API_KEY", "the admin API")


@bp.get("/audit")
def audit_query():
    """Audit rows for one user (?user=<Auth0 user id or Entra object id>), newest first."""
    who = request.args.get("user", "")
    if not who or len(who) > 255 or text.problem(who):
        raise ApiError(400, "missing_field", "Give ?user=<Auth0 user id or Entra object id> (printable, at most "
                                             "255 characters).", field="user")
    return jsonify(audit=[_row(r) for r in audit.trail(current_app.extensions["companion"].store, who)])


def _row(r):
    return {"at": r.at.isoformat(), "action": r.action, "outcome": r.outcome, "auth0_user_id": r.auth0_user_id,
            "entra_object_id": r.entra_object_id, "reference": r.reference, "detail": r.detail}


@bp.get("/events")
def events():
    """Inbox events by status (?status=failed|held|queued|done)."""
    status = request.args.get("status", "failed")
    if status not in STATUSES:
        raise ApiError(400, "invalid_field", f"status must be one of {', '.join(STATUSES)}.", field="status")
    rows = inbox.listing(current_app.extensions["companion"].store, status)
    return jsonify(events=[{"id": e.id, "kind": e.kind, "object_id": e.object_id, "source": e.source,
                            "status": e.status, "attempts": e.attempts, "last_error": e.last_error,
                            "created_at": e.created_at.isoformat()} for e in rows])


@bp.post("/events/requeue")
def requeue():
    """Re-drive failed events, or approve held ones ({"ids": [...], "approve": true})."""
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "Send {\"ids\": [1, 2], \"approve\": false}.", field="body")
    ids = body.get("ids")
    if not isinstance(ids, list) or not 0 < len(ids) <= MAX_IDS or not all(_is_id(i) for i in ids):
        raise ApiError(400, "invalid_field", f"ids must be a list of 1 to {MAX_IDS} event ids (whole numbers "
                                             f"from 1 to {MAX_ID}).", field="ids")
    if not isinstance(body.get("approve", False), bool):
        raise ApiError(400, "invalid_field", "approve must be true or false.", field="approve")
    done = inbox.requeue(current_app.extensions["companion"].store, ids, approved=body.get("approve", False))
    for event_id in done:
        jobs.enqueue(event_id)
    return jsonify(requeued=done)


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _run_id(run_id):
    """A run id in the database's range (a larger number cannot name a run)."""
    if not _is_id(run_id):
        raise ApiError(404, "not_found", "No such run.")
    return run_id


@bp.get("/reconcile/runs")
def reconcile_runs():
    """The newest reconciliation runs with their summaries."""
    from service.reconcile import runs
    rows = runs.latest(current_app.extensions["companion"].store)
    return jsonify(runs=[{"id": r.id, "mode": r.mode, "status": r.status, "started_at": r.started_at.isoformat(),
                          "summary": r.summary} for r in rows])


@bp.get("/reconcile/runs/<int:run_id>.<fmt>")
def reconcile_report(run_id, fmt):
    """A run's report as json, csv or html."""
    from service.reconcile import report, runs
    run = runs.get(current_app.extensions["companion"].store, _run_id(run_id))
    if run is None or fmt not in report.RENDERERS:
        raise ApiError(404, "not_found", "No such run or format; formats: json, csv, html.")
    render, content_type = report.RENDERERS[fmt]
    return render(run), 200, {"Content-Type": content_type}


@bp.post("/reconcile/runs/<int:run_id>/approve")
def reconcile_approve(run_id):
    """Apply a run's proposals (stops at the per-run threshold)."""
    from service.reconcile import remediate, runs
    from service.sync.context import SyncContext
    companion = current_app.extensions["companion"]
    if runs.get(companion.store, _run_id(run_id)) is None:
        raise ApiError(404, "not_found", "No such run.")
    return jsonify(remediate.approve(SyncContext(companion), run_id))
