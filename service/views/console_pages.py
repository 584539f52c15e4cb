"""The console's pages (nested in views.console, whose gate signs operators in and checks CSRF on POST)."""
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from service.console import actions, grades, overview, people
from service.reconcile import report, runs
from service.sync import inbox
from service.sync.context import SyncContext

bp = Blueprint("pages", __name__)
EVENT_ACTIONS = {"requeue": ("failed", "Requeue"), "approve": ("held", "Approve")}


def _companion():
    return current_app.extensions["companion"]


def _ctx():
    """The sync context (clients, mapping file, threshold) for actions that change accounts; one per process."""
    ext = current_app.extensions
    if "console_ctx" not in ext:
        ext["console_ctx"] = SyncContext(ext["companion"])
    return ext["console_ctx"]


@bp.get("/")
def overview_page():
    """Reachability, subscriptions, delta, queue, seats, the last reconciliation and the last day's first logins."""
    return render_template("console/overview.html", o=overview.gather(_companion()), page="overview")


@bp.get("/people")
def people_page():
    """Search by Auth0 user id, email, UPN or Entra object id; one match opens the person at once."""
    q = request.args.get("q", "").strip()
    found = people.find(_companion(), q) if q else []
    if len(found) == 1:
        return redirect(url_for(".person_page", auth0=found[0]["auth0_user_id"] or "",
                                entra=found[0]["entra_object_id"] or ""))
    return render_template("console/people.html", q=q, found=found, page="people")


@bp.get("/person")
def person_page():
    """The link, both sides and the audit trail of one person."""
    uid, oid = request.args.get("auth0") or None, request.args.get("entra") or None
    if not uid and not oid:
        return redirect(url_for(".people_page"))
    return render_template("console/person.html", p=people.person(_companion(), uid, oid), page="people")


@bp.get("/events")
def events_page():
    """Failed and held events with their error."""
    store = _companion().store
    return render_template("console/events.html", failed=inbox.listing(store, "failed"),
                           held=inbox.listing(store, "held"), page="events")


@bp.route("/events/<int:event_id>/<any(requeue, approve):action>", methods=["GET", "POST"])
def event_action(event_id, action):
    """GET asks for confirmation; POST requeues a failed event or approves a held one."""
    status, verb = EVENT_ACTIONS[action]
    if request.method == "POST":
        actions.requeue_event(_companion().store, event_id, g.operator, approve=(action == "approve"))
        flash(f"Event {event_id}: {'approved and queued' if action == 'approve' else 'queued again'}.")
        return redirect(url_for(".events_page"), 303)
    event = inbox.get(_companion().store, event_id)
    if event is None or event.status != status:
        raise actions.NotPossible(f"Event {event_id} is not {status}; reload the events page.")
    return render_template("console/confirm.html", page="events", title=f"{verb} event {event_id}?",
                           facts=[("Kind", event.kind), ("Object", event.object_id), ("Error", event.last_error),
                                  ("Attempts", event.attempts)],
                           consequence=("It goes back to the queue and runs again." if action == "requeue" else
                                        "It runs once more past the destructive-change threshold."),
                           button=f"{verb} event {event_id}", back=url_for(".events_page"))


@bp.get("/reconcile")
def runs_page():
    """The newest reconciliation runs."""
    return render_template("console/runs.html", runs=runs.latest(_companion().store), page="reconcile")


def _run(run_id):
    run = runs.get(_companion().store, run_id)
    if run is None:
        raise NotFound()
    return run


@bp.get("/reconcile/<int:run_id>")
def run_page(run_id):
    """One run's report (the report renderer's own template) and its proposals."""
    run = _run(run_id)
    waiting = sum(1 for f in run.findings if f.get("status") == "proposed")
    return render_template("console/run.html", page="reconcile", waiting=waiting, **report.context(run))


@bp.get("/reconcile/<int:run_id>/report.<any(json, csv):fmt>")
def run_download(run_id, fmt):
    """The same report as JSON or CSV, for a ticket or a spreadsheet."""
    render, content_type = report.RENDERERS[fmt]
    return render(_run(run_id)), 200, {"Content-Type": content_type,
                                       "Content-Disposition": f'attachment; filename="reconcile-{run_id}.{fmt}"'}


@bp.route("/reconcile/<int:run_id>/approve", methods=["GET", "POST"])
def run_approve(run_id):
    """GET asks for confirmation; POST applies the run's proposals."""
    if request.method == "POST":
        result = actions.approve_run(_ctx(), run_id, g.operator)
        flash(f"Run {run_id}: {result['applied']} proposal(s) applied"
              f"{'; stopped at the threshold' if result['stopped_at_threshold'] else ''}.")
        return redirect(url_for(".run_page", run_id=run_id), 303)
    run = _run(run_id)
    proposed = [f for f in run.findings if f.get("status") == "proposed"]
    return render_template("console/confirm.html", page="reconcile", title=f"Approve the proposals of run {run_id}?",
                           facts=[(f["class"], f"{f['auth0_user_id'] or '—'} / {f['entra_object_id'] or '—'}: "
                                               f"{f['fix'].get('action')}") for f in proposed],
                           consequence="Blocks and disables are carried out (up to the per-run threshold); "
                                       "merges and ambiguous identities are marked for a person to handle.",
                           button=f"Approve {len(proposed)} proposal(s)", back=url_for(".run_page", run_id=run_id))


@bp.get("/deprovisioning")
def grades_page():
    """Accounts in grades, with the next step and its date."""
    return render_template("console/deprovisioning.html", page="deprovisioning",
                           rows=grades.graded(_companion().store, _companion().settings))


@bp.route("/deprovisioning/restore", methods=["GET", "POST"])
def restore():
    """GET asks for confirmation; POST unblocks the Auth0 user and gives the Entra account back."""
    uid = request.values.get("user", "")
    if request.method == "POST":
        result = actions.restore_account(_ctx(), uid, g.operator)
        flash(f"{uid}: {result}.")
        return redirect(url_for(".grades_page"), 303)
    row = next((r for r in grades.graded(_companion().store, _companion().settings) if r["auth0_user_id"] == uid), None)
    if row is None:
        raise actions.NotPossible("This account is not being deprovisioned; nothing to restore.")
    return render_template("console/confirm.html", page="deprovisioning", title=f"Restore {row['upn'] or uid}?",
                           facts=[("Auth0 user", uid), ("Grade", row["step"]), ("Why", row["reason"]),
                                  ("Since", row["since"])], hidden={"user": uid},
                           consequence="The Auth0 user is unblocked, and the Entra account is restored from "
                                       "deleted items, licensed and enabled, as far as it got.",
                           button="Restore the account", back=url_for(".grades_page"))
