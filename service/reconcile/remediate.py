"""Fix safe drift, propose the rest (ticket webhook), and apply a run's proposals once approved."""
import logging

from sqlalchemy import delete

from service.errors import NotFound
from service.models import Link
from service.reconcile import runs

from service.sync.effects import Effects

log = logging.getLogger("companion.reconcile")
DESTRUCTIVE = {"block_auth0_user", "disable_entra_user"}
APPROVED_ONLY = {"clear_rule_keys"}  # not destructive, but done only when a person says so


def apply_safe(ctx, findings, dry_run):
    """Fix attribute drift, role drift and dangling links (or say what would be fixed)."""
    config = ctx.config()
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, dry_run)
    for f in findings:
        if not f["safe"]:
            continue
        try:
            _fix(ctx, fx, config, f)
            f["status"] = "would-fix" if dry_run else "fixed"
        except NotFound:
            f["status"] = "gone"  # changed since it was read; the next run looks again


def _fix(ctx, fx, config, f):
    action = f["fix"]["action"]
    if fx.dry_run:
        # Say what would change without reading anything more: the finding holds both sides already.
        fx._audit("reconcile.would_fix", f["auth0_user_id"], f["entra_object_id"], fix=f["fix"])
        return
    if action == "remove_link":
        if not fx.dry_run:
            with ctx.store.session() as session:
                session.execute(delete(Link).where(Link.auth0_user_id == f["auth0_user_id"]))
        fx._audit("link.removed", f["auth0_user_id"], f["entra_object_id"], reason="Entra object no longer exists")
        return
    user = ctx.auth0.get_user(f["auth0_user_id"])
    if action == "update_app_metadata":
        meta = dict((user.get("app_metadata") or {}).get(config.namespace) or {})
        meta.update(f["entra"])
        fx.set_metadata(user, f["entra_object_id"], config.namespace,
                        {k: v for k, v in meta.items() if v is not None})
    elif action == "set_roles":
        fx.set_roles(user, f["entra_object_id"], f["fix"]["add"], f["fix"]["remove"], ctx.role_ids())


def propose(ctx, run_id, findings):
    """Mark unsafe findings as proposals and send them to the ticket webhook, if one is configured."""
    proposals = [f for f in findings if not f["safe"]]
    for f in proposals:
        f["status"] = "proposed"
    url = getattr(ctx.settings, "reconcile_ticket_url", None)
    if proposals and url:
        ctx.notifier.post_json(url, ticket(run_id, proposals))


def ticket(run_id, proposals):
    """The ticket webhook's JSON body (documented in README)."""
    return {"source": "entra-companion", "kind": "reconciliation.proposals", "run_id": run_id,
            "count": len(proposals),
            "proposals": [{"class": f["class"], "auth0_user_id": f["auth0_user_id"],
                           "entra_object_id": f["entra_object_id"],
                           "other_auth0_user_ids": f.get("other_auth0_user_ids", []),
                           "other_entra_object_ids": f.get("other_entra_object_ids", []),
                           "auth0": f["auth0"], "entra": f["entra"], "fix": f["fix"]} for f in proposals]}


def approve(ctx, run_id, dry_run=False):
    """Apply a run's proposals, stopping before more blocks/disables than the per-run threshold."""
    run = runs.get(ctx.store, run_id)
    config = ctx.config()
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, dry_run or ctx.dry_run, approved=True)
    done, stopped = 0, False
    findings = list(run.findings)
    for f in findings:
        if f["status"] != "proposed":
            continue
        action = f["fix"]["action"]
        if action not in DESTRUCTIVE | APPROVED_ONLY:
            f["status"] = "manual"  # merges and ambiguous identities need a person
            continue
        if action in DESTRUCTIVE and done >= config.threshold:
            stopped = True
            break
        f["status"], done = _apply(ctx, fx, f), done + (action in DESTRUCTIVE)
    runs.finish(ctx.store, run_id, "stopped" if stopped else "applied", run.summary, findings)
    return {"applied": done, "stopped_at_threshold": stopped}


def _apply(ctx, fx, f):
    """Carry out one destructive proposal; return its new status."""
    try:
        if f["fix"]["action"] == "block_auth0_user":
            fx.block(ctx.auth0.get_user(f["auth0_user_id"]), f["entra_object_id"],
                     "reconciliation: " + str(f["entra"].get("state")))
        elif f["fix"]["action"] == "clear_rule_keys":
            from service.rule_import import fix
            fix.clear_rule_keys(ctx, fx, f)
        else:
            _start_graded_deprovisioning(ctx, fx, f)
    except NotFound:
        return "gone"
    return "would-apply" if fx.dry_run else "applied"


def _start_graded_deprovisioning(ctx, fx, f):
    """The backstop for a lost Auth0 event: the same graded steps the event would have started."""
    import datetime as dt

    from service import links
    from service.sync import deprovision
    adopt = f["fix"].get("adopt")  # an account nobody linked yet (Rule import): linked first, then graded
    link = links.get(ctx.store, adopt["auth0_user_id"] if adopt else f["auth0_user_id"])
    if link is None and adopt and not fx.dry_run:
        links.adopt(ctx.store, [adopt])
        link = links.get(ctx.store, adopt["auth0_user_id"])
    if link is None and not (adopt and fx.dry_run):
        raise NotFound("the identity link is gone")
    if fx.dry_run:
        fx._audit("entra.user.disabled", f["auth0_user_id"], f["entra_object_id"], reason="reconciliation")
        return
    graded = deprovision.effects(ctx, {"approved": True, "reference": fx.reference})
    with deprovision.held(ctx.store, link.auth0_user_id):
        deprovision.reconcile(ctx, graded, link, deprovision.read_auth0_user(ctx.auth0, link.auth0_user_id),
                              dt.datetime.now(dt.timezone.utc))
