"""One reconciliation run: lock, read, classify, fix safe drift (or not, in dry run), propose, report."""
import contextlib
import logging
import uuid

from service import leases
from service.reconcile import classify, read, remediate, runs
from service.reconcile.spool import Spool
from service.sync import mapping

log = logging.getLogger("companion.reconcile")
LOCK = "reconcile"
LOCK_S = 3600


class AlreadyRunning(Exception):
    """Another replica is reconciling right now."""


@contextlib.contextmanager
def exclusive(ctx, lock, mode, ttl_s=LOCK_S, what="a reconciliation"):
    """One run at a time across replicas: the lease held, a run row started; yields (run id, renew).

    A failure marks the run failed (and is raised again); the lease is given back in every case.
    """
    owner = uuid.uuid4().hex
    if not leases.acquire(ctx.store, lock, owner, ttl_s):
        raise AlreadyRunning(f"{what} is already running; try again when it has finished")
    try:
        run_id = runs.start(ctx.store, mode)
        try:
            yield run_id, lambda: leases.acquire(ctx.store, lock, owner, ttl_s)
        except Exception as err:
            log.exception("%s failed", what)
            runs.finish(ctx.store, run_id, "failed", error=f"{type(err).__name__}: {err}")
            raise
    finally:
        leases.release(ctx.store, lock, owner)


def reconcile(ctx, mode="dry-run", keep=30):
    """Run once (one run at a time across replicas); returns the run id."""
    with exclusive(ctx, LOCK, mode) as (run_id, _renew):
        findings, summary = _compare(ctx, ctx.config())
        remediate.apply_safe(ctx, findings, dry_run=(mode != "fix-safe" or ctx.dry_run))
        remediate.propose(ctx, run_id, findings)
        summary["by_class"] = _count(findings)
        runs.finish(ctx.store, run_id, "done", summary, findings)
        runs.prune(ctx.store, keep)
        return run_id


def _compare(ctx, config):
    spool = Spool()
    try:
        auth0_count = read.auth0_users(ctx, spool, config)
        read.auth0_roles(ctx, spool, config)
        read.entra_groups(ctx, spool, config)
        findings, entra_count = _walk_entra(ctx, spool, config)
        findings += [f for f in map(classify.missing_entra, spool.managed_without_entra()) if f]
        findings += _walk_links(ctx, spool)
        return findings, {"auth0_users": auth0_count, "entra_users": entra_count}
    finally:
        spool.close()


def _walk_entra(ctx, spool, config):
    findings, count = [], 0
    for eu in ctx.graph.iter_users(select=read.entra_select(config), top=999):
        count += 1
        spool.mark_seen(eu["id"], eu.get("accountEnabled", True))
        claimed = [c for c in spool.by_oid(eu["id"]) if c["managed"]]
        groups = spool.groups_of(eu["id"])
        if config.scope_groups and not mapping.in_scope(groups, config) and not claimed:
            continue
        findings += classify.entra_user(eu, claimed, spool.roles_of, groups, config, spool.by_email)
    return findings, count


def _walk_links(ctx, spool):
    out = []
    for row in read.links(ctx.store):
        found = classify.link(row, spool.by_user_id(row["auth0_user_id"]), spool.entra_state(row["entra_object_id"]))
        if found:
            out.append(found)
    return out


def _count(findings):
    counts = {}
    for f in findings:
        counts[f["class"]] = counts.get(f["class"], 0) + 1
    return counts
