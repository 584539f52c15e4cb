"""One Rule import: lock, read both sides and the links, classify, fix the safe classes (--apply), propose."""
from service.reconcile import remediate, runs
from service.reconcile.run import exclusive
from service.rule_import import classify, fix, identity, output, read
from service.rule_import.spool import RuleSpool

LOCK = "rule-import"
LOCK_S = 120  # renewed every batch, so the re-run of a crashed run waits two minutes at most
MODES = ("rule-dry-run", "rule-apply")


def rule_import(ctx, apply=False, report_path=None):
    """Run once (one at a time across replicas); returns the run id."""
    with exclusive(ctx, LOCK, MODES[bool(apply)], LOCK_S, "a Rule import") as (run_id, renew):
        runs.interrupt(ctx.store, MODES, but=run_id)  # a run a crash left `running`: this one redoes its work
        spool = RuleSpool()
        try:
            summary = _read(ctx, spool)
            renew()
            _classify(ctx, spool)
            fix.apply_safe(ctx, spool, dry_run=not apply or ctx.dry_run, renew=renew)
            kept = [f for _, f in spool.findings(exclude=("adopt",))]  # bounded by the debris, not the tenant
            remediate.propose(ctx, run_id, kept)
            summary["by_class"] = spool.counts()
            runs.finish(ctx.store, run_id, "done", summary, kept)
            if report_path:
                output.write(report_path, runs.get(ctx.store, run_id), kept, spool)
            return run_id
        finally:
            spool.close()


def _read(ctx, spool):
    job = read.start_export(ctx)
    accounts = read.entra_accounts(ctx, spool, read.domains(ctx.settings))
    auth0_users, rule_users = read.auth0_rule_users(ctx, spool, job)
    return {"auth0_users": auth0_users, "rule_users": rule_users, "entra_users": accounts,
            "deleted_users": read.deleted_accounts(ctx, spool), "links": read.links(ctx.store, spool)}


def _classify(ctx, spool):
    """Rule users first (they claim their accounts), then the accounts nobody claims."""
    s = ctx.settings
    sku, batch, claims = s.o365_license_sku, [], []
    for user, account, link in spool.matched_rule_users():
        if account is not None:
            claims.append((account["id"], user["user_id"]))
            claims = _flush(claims, spool.claim, 5000)
        deleted = None if account else spool.deleted_for(user["upn"], user["immutable_id"])
        batch += classify.rule_user(user, account, link, deleted, sku)
        batch = _flush(batch, spool.add_findings)
    _flush(claims, spool.claim, 0)
    spool.claim_linked()
    matcher = identity.upn_matcher(s.rule_upn_pattern, read.domains(s))
    for account in spool.unclaimed():
        if identity.looks_like_rule(account["upn"], account["immutable_id"], matcher):
            batch.append(classify.unclaimed(account, spool.same_person(account["person"], account["id"]), sku))
            batch = _flush(batch, spool.add_findings)
    _flush(batch, spool.add_findings, 0)


def _flush(batch, add, at=1000):
    """Hand batch to add() once it holds `at` items; what is left to fill."""
    if len(batch) >= at:
        add(batch)
        return []
    return batch
