"""What an operator can do from the console; each action is audited with the operator's identity."""
import datetime as dt

from service import audit, jobs, links
from service.errors import CompanionError
from service.reconcile import remediate, runs
from service.sync import deprovision, inbox


class NotPossible(Exception):
    """The action cannot be taken as asked; the message tells the operator why and what to do instead."""


def record(store, action, outcome, operator, auth0_user_id=None, entra_object_id=None, **detail):
    """One audit row naming the operator (email and Auth0 user id) who acted."""
    with store.session() as session:
        audit.record(session, action, outcome, auth0_user_id, entra_object_id, operator=operator.get("email"),
                     operator_sub=operator.get("sub"), **detail)


def requeue_event(store, event_id, operator, approve=False):
    """Queue a failed event again, or approve a held one (it then skips the threshold once)."""
    event = inbox.get(store, event_id)
    wanted = "held" if approve else "failed"
    if event is None or event.status != wanted:
        raise NotPossible(f"Event {event_id} is not {wanted} any more; reload the events page.")
    done = inbox.requeue(store, [event_id], approved=approve)
    for queued in done:
        jobs.enqueue(queued)
    record(store, "console.event.approved" if approve else "console.event.requeued", "ok", operator,
           event.object_id if event.kind == "auth0_user" else None,
           event.object_id if event.kind == "user" else None, event_id=event_id, kind=event.kind)
    return bool(done)


def approve_run(ctx, run_id, operator):
    """Apply a reconciliation run's proposals (the per-run threshold still stops it)."""
    run = runs.get(ctx.store, run_id)
    if run is None:
        raise NotPossible(f"There is no reconciliation run {run_id}; it may have been pruned.")
    if not any(f.get("status") == "proposed" for f in run.findings):
        raise NotPossible(f"Run {run_id} has no proposals waiting for approval.")
    result = remediate.approve(ctx, run_id)
    record(ctx.store, "console.reconcile.approved", "ok", operator, run_id=run_id, **result)
    return result


def restore_account(ctx, auth0_user_id, operator, now=None):
    """Give a graded account back: unblock its Auth0 user, then undo the grades in reverse."""
    link = links.get(ctx.store, auth0_user_id)
    if link is None or not link.deprovision_step:
        raise NotPossible("This account is not being deprovisioned; nothing to restore.")
    if link.deprovision_reason == "deleted":
        raise NotPossible("The Auth0 user was deleted, so the Entra account stays off; a new Auth0 user "
                          "gets a new account at its first sign-in.")
    user = deprovision.read_auth0_user(ctx.auth0, auth0_user_id)
    if user is None:
        raise NotPossible("The Auth0 user no longer exists, so the Entra account stays off.")
    fx = deprovision.effects(ctx, {"approved": True})
    try:
        if user.get("blocked"):
            user = ctx.auth0.update_user(auth0_user_id, {"blocked": False})
        with deprovision.held(ctx.store, auth0_user_id):
            result = deprovision.reconcile(ctx, fx, links.get(ctx.store, auth0_user_id), user,
                                           now or dt.datetime.now(dt.timezone.utc))
    except CompanionError as why:
        record(ctx.store, "console.account.restore", "failed", operator, auth0_user_id, link.entra_object_id,
               reason=why.message)
        raise NotPossible(f"The account could not be restored yet: {why.message}. Try again shortly.") from None
    record(ctx.store, "console.account.restore", "ok", operator, auth0_user_id, link.entra_object_id,
           result=result, was=link.deprovision_step)
    return result
