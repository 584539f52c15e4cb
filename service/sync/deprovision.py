"""Graded deprovisioning of the Entra accounts the companion made, driven by their Auth0 users.

An Auth0 user deleted, or blocked by someone other than the companion, has its Entra account disabled
with its sign-in sessions revoked at once (grade `blocked`); its licence is removed after
DEPROVISION_UNLICENSE_AFTER_DAYS (`unlicensed`) and the account is soft-deleted after
DEPROVISION_DELETE_AFTER_DAYS (`deleted`; Entra keeps it restorable for 30 more days, facts/graph.md §7).
An Auth0 user unblocked in the meantime gets its account back, grade by grade in reverse. Every change is
audited, honours DRY_RUN, and disabling or deleting stops at the per-hour threshold.
"""
import contextlib
import datetime as dt
import logging
import uuid

from sqlalchemy import delete, select

from service import links
from service.errors import CompanionError, NotFound, Transient
from service.licensing import LicenceUnavailable, has_sku
from service.models import Auth0EventReceipt, Link, utcnow
from service.sync.effects import Effects, block_causes
from service.sync.handlers import soft_deleted

log = logging.getLogger("companion.sync.deprovision")
RESTORABLE_DAYS = 30      # Entra purges deleted users after 30 days (facts/graph.md §7)
RECEIPTS_KEPT_DAYS = 30   # Auth0 retries within seconds (facts/auth0.md §4.2); a month is ample
LEASE_S = 30
LICENCE_SELECT = ("id", "accountEnabled", "assignedLicenses")


class EntraEffects(Effects):
    """Entra writes for one link; dry run records what would happen (the threshold is Effects')."""

    def disable_entra(self, link, reason):
        """PATCH accountEnabled=false and revoke the sign-in sessions (refresh tokens, session cookies)."""
        self._guard_threshold()
        oid = link.entra_object_id
        if oid and not self.dry_run:
            try:
                self.graph.update_user(oid, {"accountEnabled": False})
                self.graph.revoke_sign_in_sessions(oid)
            except NotFound:
                if not soft_deleted(self.graph, oid):
                    raise Transient("Entra does not show the account yet (replication)") from None
        self._audit("entra.user.disabled", link.auth0_user_id, oid, reason=reason,
                    revoked=["sign_in_sessions"] if oid else [], account=link.account_type)

    def remove_licence(self, link, sku_id):
        """assignLicense with removeLicenses: only the SKU the companion assigned, nothing an admin added."""
        if not self.dry_run:
            self.graph.assign_license(link.entra_object_id, add=[], remove=[sku_id])
        self._audit("entra.licence.removed", link.auth0_user_id, link.entra_object_id, sku=link.licence_sku)

    def delete_entra(self, link):
        """DELETE /users/{id}: a soft delete, restorable for 30 days."""
        self._guard_threshold()
        if link.entra_object_id and not self.dry_run:
            try:
                self.graph.delete_user(link.entra_object_id)
            except NotFound:
                pass  # deleted already (an admin, or our own call whose answer was lost)
        self._audit("entra.user.deleted", link.auth0_user_id, link.entra_object_id,
                    restorable_days=RESTORABLE_DAYS)

    def restore_entra(self, link):
        """POST /directory/deletedItems/{id}/restore."""
        if not self.dry_run:
            self.graph.restore_deleted_item(link.entra_object_id)
        self._audit("entra.user.restored", link.auth0_user_id, link.entra_object_id,
                    reason="unblocked in Auth0 within the grace period")

    def assign_licence(self, link, entry, sku):
        """Give the configured licence back."""
        if not self.dry_run:
            self.graph.assign_license(link.entra_object_id, add=[entry], remove=[])
        self._audit("entra.licence.assigned", link.auth0_user_id, link.entra_object_id, sku=sku,
                    reason="unblocked in Auth0 within the grace period")

    def enable_entra(self, link):
        """PATCH accountEnabled=true."""
        if link.entra_object_id and not self.dry_run:
            self.graph.update_user(link.entra_object_id, {"accountEnabled": True})
        self._audit("entra.user.enabled", link.auth0_user_id, link.entra_object_id,
                    reason="unblocked in Auth0 within the grace period")


def effects(ctx, detail):
    """EntraEffects for one handler run."""
    return EntraEffects(ctx.auth0, ctx.graph, ctx.store, ctx.config(), ctx.dry_run, detail.get("approved", False),
                        detail.get("reference"))


@contextlib.contextmanager
def held(store, auth0_user_id):
    """The link's lease (shared with provisioning), so two workers never grade one account at once."""
    owner = uuid.uuid4().hex
    if not links.acquire(store, auth0_user_id, owner, LEASE_S):
        raise Transient("another worker is changing this user's Entra account")
    try:
        yield
    finally:
        links.release(store, auth0_user_id, owner)


def aware(value):
    """SQLite hands timestamps back without a zone; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def read_auth0_user(auth0, user_id):
    """The current Auth0 user, or None when it is deleted (events may be stale or out of order)."""
    try:
        return auth0.get_user(user_id)
    except NotFound:
        return None


def wanted_off(link, user, namespace):
    """Why the account should be off ('deleted' or 'blocked'), or None when its Auth0 user is active."""
    if user is None:
        return "deleted"
    if link.deprovision_reason == "deleted":
        return "deleted"  # an Auth0 user made again under the old id is a new identity: no account back
    if user.get("blocked") and not block_causes(user, namespace):
        return "blocked"  # a block the Entra → Auth0 sync set (any cause) follows Entra; grading it would feed back
    return None


def reconcile(ctx, fx, link, user, now, since=None):
    """Bring one linked account in line with its Auth0 user (caller holds the lease); a word for the log."""
    reason = wanted_off(link, user, fx.config.namespace)
    if reason is None:
        return restore(ctx, fx, link) if link.deprovision_step else "active"
    if link.deprovision_step is None:
        fx.disable_entra(link, f"{reason} in Auth0")
        if fx.dry_run:
            return "dry-run"
        links.save(ctx.store, link, state="disabled", deprovision_step="blocked", deprovision_reason=reason,
                   deprovisioned_at=min(since or now, now))
    elif reason != link.deprovision_reason and not fx.dry_run:
        links.save(ctx.store, link, deprovision_reason=reason)
    advance(ctx, fx, link, now)
    return link.deprovision_step


def advance(ctx, fx, link, now):
    """Take the next grades that are due: the licence after N days, the account after the grace period."""
    s, start = ctx.settings, aware(link.deprovisioned_at) or now
    if link.deprovision_step == "blocked" and now >= start + dt.timedelta(days=s.deprovision_unlicense_after_days):
        _unlicense(ctx, fx, link)
    delete_days = s.deprovision_delete_after_days
    if (link.deprovision_step == "unlicensed" and delete_days is not None
            and now >= start + dt.timedelta(days=delete_days)):
        fx.delete_entra(link)
        if not fx.dry_run:
            links.save(ctx.store, link, deprovision_step="deleted")


def _unlicense(ctx, fx, link):
    sku_id = _sku_id(ctx.graph, link.licence_sku) if link.licence_sku and link.entra_object_id else None
    if sku_id:
        try:
            current = ctx.graph.get_user(link.entra_object_id, select=LICENCE_SELECT)
        except NotFound:
            current = {}  # gone already (deleted out of band): there is no licence left to remove
        if has_sku(current, sku_id):
            fx.remove_licence(link, sku_id)
    if not fx.dry_run:
        links.save(ctx.store, link, deprovision_step="unlicensed")


def _sku_id(graph, part_number):
    return next((s["skuId"] for s in graph.subscribed_skus()
                 if s.get("skuPartNumber", "").lower() == part_number.lower()), None)


def restore(ctx, fx, link):
    """Undo the grades in reverse: restore from deleted items, licence, enable; the link is active again."""
    step = link.deprovision_step
    if step == "deleted":
        if not _restore_deleted(ctx, fx, link):
            return _purged(ctx, fx, link)
        step = _save_step(ctx, fx, link, "unlicensed")
    try:
        if step == "unlicensed":
            _relicense(ctx, fx, link)
            step = _save_step(ctx, fx, link, "blocked")
        fx.enable_entra(link)
    except NotFound:
        raise Transient("Entra does not show the restored account yet (replication)") from None
    if not fx.dry_run:
        links.save(ctx.store, link, state=_active_state(link), deprovision_step=None, deprovision_reason=None,
                   deprovisioned_at=None)
    return "restored"


def _save_step(ctx, fx, link, step):
    if not fx.dry_run:
        links.save(ctx.store, link, deprovision_step=step)
    return step


def _restore_deleted(ctx, fx, link):
    """True once the account is back (restored now, or already); False when it has been purged."""
    try:
        fx.restore_entra(link)
        return True
    except NotFound:
        try:
            ctx.graph.get_user(link.entra_object_id, select=("id",))
            return True  # restored already (our answer was lost, or an admin did it)
        except NotFound:
            return False


def _relicense(ctx, fx, link):
    if link.account_type != "member" or not link.licence_sku:
        return
    s = ctx.settings
    entry = ctx.provisioner.skus.resolve(s.o365_license_sku, s.o365_disabled_plans)
    if fx.dry_run:  # the account may still sit in deleted items: say what would happen, read nothing
        return fx.assign_licence(link, entry, s.o365_license_sku)
    if not has_sku(ctx.graph.get_user(link.entra_object_id, select=LICENCE_SELECT), entry["skuId"]):
        fx.assign_licence(link, entry, s.o365_license_sku)
        links.save(ctx.store, link, licence_sku=s.o365_license_sku)


def _purged(ctx, fx, link):
    """Past Entra's 30 days the account is gone: a member gets a new one at the next sign-in, a guest now."""
    fx._audit("entra.user.restore.failed", link.auth0_user_id, link.entra_object_id,
              reason="purged from deleted items; a new account is made")
    if fx.dry_run:
        return "purged"
    links.save(ctx.store, link, entra_object_id=None, upn=None, upn_variant=0, licence_sku=None, ready_at=None,
               deprovision_step=None, deprovision_reason=None, deprovisioned_at=None, last_error=None,
               state="pending" if link.account_type == "member" else "inviting", step="lookup", attempts=0)
    if link.account_type == "guest":
        from service.sync import backprovision  # imported here: backprovision builds on this module
        backprovision.invite(ctx, fx, link, read_auth0_user(ctx.auth0, link.auth0_user_id) or {})
    return "purged"


def _active_state(link):
    if link.account_type == "guest":
        return "guest"
    return "ready" if link.ready_at else "pending"


def run_due(ctx, _object_id, detail, now=None):
    """Scheduled (daily): re-read each graded user's Auth0 state, take due grades, restore the unblocked."""
    now = now or utcnow()
    fx, retry = effects(ctx, detail), False
    for uid in _graded(ctx, now):
        try:
            with held(ctx.store, uid):
                link = links.get(ctx.store, uid)
                reconcile(ctx, fx, link, read_auth0_user(ctx.auth0, uid), now)
        except Transient:
            retry = True
        except (CompanionError, LicenceUnavailable) as why:  # one account's trouble must not stop the rest
            log.warning("graded deprovisioning step failed", extra={"fields": {"auth0_user_id": uid,
                                                                               "error": str(why)}})
            fx._audit("entra.deprovision.failed", uid, None, reason=str(why))
    _prune_receipts(ctx.store, now)
    if retry:
        raise Transient("some accounts were busy or Graph was unavailable; the run is repeated")
    return "done"


def _graded(ctx, now):
    """Links with a grade still to take or undo (deleted ones while Entra can still restore them)."""
    with ctx.store.session() as session:
        rows = session.execute(select(Link.auth0_user_id, Link.deprovision_step, Link.deprovisioned_at)
                               .where(Link.deprovision_step.is_not(None))).all()
    delete_days = ctx.settings.deprovision_delete_after_days or 0
    horizon = dt.timedelta(days=delete_days + RESTORABLE_DAYS)
    return [uid for uid, step, since in rows
            if step != "deleted" or since is None or now < aware(since) + horizon]


def _prune_receipts(store, now):
    with store.session() as session:
        session.execute(delete(Auth0EventReceipt).where(
            Auth0EventReceipt.received_at < now - dt.timedelta(days=RECEIPTS_KEPT_DAYS)))
