"""--apply: adopt the Rule's accounts, set its metadata to Entra's values, licence, restore; approved clearing."""
import logging
from concurrent.futures import ThreadPoolExecutor

from service import audit, links
from service.errors import CompanionError, NotFound
from service.licensing import LicenceUnavailable
from service.rule_import.identity import KEYS
from service.sync.effects import Effects

log = logging.getLogger("companion.rule_import")
ORDER = ("missing_in_entra", "metadata_drift", "unlicensed", "adopt")  # restored accounts are adopted too
BATCH = 500
ADOPT_BATCH = 5000  # adoptions are two inserts a batch, no call out
WORKERS = 8  # concurrent fixes; the clients' sessions serve gunicorn's 16 threads the same way
CLASH = "another link holds this user, account, UPN or ImmutableID"


def apply_safe(ctx, spool, dry_run, renew=lambda: None):
    """Fix every safe finding in the spool (or say what would be fixed), a batch at a time."""
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, ctx.config(), dry_run, reference="rule-import")
    if dry_run:
        spool.set_class_status("adopt", "would-adopt")  # nothing to read or write per adoption
    for cls in ORDER[:-1] if dry_run else ORDER:
        batch = []
        for pair in spool.findings(classes=(cls,)):
            if pair[1]["safe"]:
                batch.append(pair)
            if len(batch) >= (ADOPT_BATCH if cls == "adopt" else BATCH):
                _batch(ctx, fx, cls, batch, spool)
                batch = []
                renew()
        _batch(ctx, fx, cls, batch, spool)


def _batch(ctx, fx, cls, batch, spool):
    if not batch:
        return
    found = [f for _, f in batch]
    if cls == "adopt":
        _adopt(ctx, fx, found)
        spool.set_status([(seq, f["status"]) for seq, f in batch])
        return
    if fx.dry_run:  # what would be fixed, in the audit trail as reconciliation writes it; one commit a batch
        with ctx.store.session() as session:
            audit.record_many(session, [("reconcile.would_fix", "dry-run", f["auth0_user_id"], f["entra_object_id"],
                                         {"fix": f["fix"]}) for f in found], fx.reference)
    with ThreadPoolExecutor(WORKERS) as pool:  # each fix is one or two calls: keep a few in flight
        statuses = ["would-fix"] * len(found) if fx.dry_run else list(pool.map(lambda f: _one(ctx, fx, f), found))
    for f, status in zip(found, statuses):
        f["status"] = status
    spool.update_findings(batch)


def _adopt(ctx, fx, found):
    """Link rows for a batch of accounts, with their audit rows; a clash is reported, not fatal."""
    linked = set(links.adopt(ctx.store, [f["fix"]["adopt"] for f in found]))
    rows = []
    for f in found:
        ok = f["auth0_user_id"] in linked
        f["status"] = "adopted" if ok else "conflict"
        rows.append(("link.adopted", "ok" if ok else "refused", f["auth0_user_id"], f["entra_object_id"],
                     {"origin": "rule"} if ok else {"origin": "rule", "reason": CLASH}))
    with ctx.store.session() as session:
        audit.record_many(session, rows, fx.reference)


def _one(ctx, fx, f):
    """Fix one drift, licence or deleted account; its new status."""
    try:
        return FIXES[f["fix"]["action"]](ctx, fx, f)
    except NotFound:
        return "gone"  # changed since it was read; the next run looks again
    except (CompanionError, LicenceUnavailable) as why:
        log.warning("rule import fix failed", extra={"fields": {"auth0_user_id": f["auth0_user_id"],
                                                                "error": str(why)}})
        f["fix"]["error"] = str(why)
        return "failed"


def _set_rule_keys(ctx, fx, f):
    """Entra is the truth for what Office 365 accepts: the Rule's keys take its values."""
    values = {k: f["fix"][k] for k in ("office365UPN", "office365ImmutableId")}
    ctx.auth0.update_user(f["auth0_user_id"], {"app_metadata": values})
    fx._audit("auth0.metadata.updated", f["auth0_user_id"], f["entra_object_id"], keys=sorted(values),
              reason="rule import: set to the Entra account's values")
    return "fixed"


def _assign_licence(ctx, fx, f):
    """The seat check first (licensing.SkuCatalog), usageLocation when missing, then assignLicense."""
    s = ctx.settings
    entry = ctx.provisioner.skus.resolve(s.o365_license_sku, s.o365_disabled_plans)
    oid = f["entra_object_id"]
    if not f["entra"].get("usageLocation"):  # read with the listing; assignLicense needs one
        ctx.graph.update_user(oid, {"usageLocation": s.o365_usage_location})
    ctx.graph.assign_license(oid, add=[entry], remove=[])
    fx._audit("entra.licence.assigned", f["auth0_user_id"], oid, sku=s.o365_license_sku, reason="rule import")
    return "fixed"


def _restore(ctx, fx, f):
    """Back from deleted items, then adopted like any matched account."""
    ctx.graph.restore_deleted_item(f["entra_object_id"])
    fx._audit("entra.user.restored", f["auth0_user_id"], f["entra_object_id"], reason="rule import")
    _adopt(ctx, fx, [f])
    return "restored" if f["status"] == "adopted" else f["status"]


def clear_rule_keys(ctx, fx, f):
    """Approved: remove the Rule's keys, so the next sign-in provisions through the companion."""
    if not fx.dry_run:
        ctx.auth0.update_user(f["auth0_user_id"], {"app_metadata": {k: None for k in KEYS}})
    fx._audit("auth0.metadata.updated", f["auth0_user_id"], None, keys=list(KEYS), cleared=True,
              reason="rule import: the Rule's Entra account no longer exists")


FIXES = {"set_rule_keys": _set_rule_keys, "assign_licence": _assign_licence, "restore": _restore}
