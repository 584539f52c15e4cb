"""Changes the sync makes in Auth0 and Entra: each audited, each honouring dry run and the threshold."""
import datetime as dt
import secrets

from sqlalchemy import func, select

from service import audit
from service.errors import CompanionError
from service.models import AuditEvent, utcnow
from service.sync import risk_records

# One hourly budget for destructive changes in both directions (Auth0 blocks/deletes, Entra disables/deletes).
TICKET_FIX = ("grant the M2M application create:user_tickets, then send the user a password reset "
              "(Dashboard → User Management → Users → Send reset password email)")
DESTRUCTIVE = ("auth0.user.blocked", "auth0.user.deleted", "entra.user.disabled", "entra.user.deleted")


# Why the companion blocks a user, kept in a top-level app_metadata key the profile sync never writes:
# "entra" (disabled, deleted or out of scope in Entra) and "risk" (Identity Protection). Each is lifted
# only by its own clearing event, and the user is unblocked when none is left.
CAUSES_KEY = "entra_block"


def block_causes(user, namespace):
    """The companion's reasons for a blocked user's block (empty when it is not blocked, or not by us)."""
    if not user.get("blocked"):
        return set()  # a stale marker on an unblocked user: someone lifted the block
    app = user.get("app_metadata") or {}
    marker = app.get(CAUSES_KEY)
    if isinstance(marker, dict):
        return set(marker.get("causes") or ())
    return {"entra"} if (app.get(namespace) or {}).get("blocked_by_companion") else set()


class ThresholdReached(Exception):
    """More destructive changes in the last hour than the configured threshold: stop and ask."""


class Effects:
    """Auth0 (and Entra) writes for one handler run; dry_run records what would happen and changes nothing."""

    def __init__(self, auth0, graph, store, config, dry_run=False, approved=False, reference=None):
        self.auth0, self.graph, self.store, self.config = auth0, graph, store, config
        self.dry_run, self.approved, self.reference = dry_run, approved, reference

    def _audit(self, action, user_id, oid, outcome=None, **detail):
        outcome = outcome or ("dry-run" if self.dry_run else "ok")
        with self.store.session() as session:
            audit.record(session, action, outcome, user_id, oid, reference=self.reference, **detail)

    def _guard_threshold(self):
        if self.approved or self.dry_run:
            return
        since = utcnow() - dt.timedelta(hours=1)
        with self.store.session() as session:
            done = session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action.in_(DESTRUCTIVE), AuditEvent.outcome == "ok", AuditEvent.at >= since))
        if done >= self.config.threshold:
            raise ThresholdReached(f"{done} blocks/disables/deletes in the last hour reached the threshold of "
                                   f"{self.config.threshold}; approve held events to go on")

    def block(self, user, oid, reason, cause="entra"):
        """Block the Auth0 user for cause, revoking sessions and refresh tokens; a block we hold gains the cause."""
        causes = block_causes(user, self.config.namespace)
        if cause in causes or (user.get("blocked") and not causes):
            return False  # already blocked for this, or blocked by someone else (not ours to mark)
        if causes:
            self._write_block(user, causes | {cause})  # "blocked" is written again: a racing unblock loses
            self._audit("auth0.block.cause.added", user["user_id"], oid, reason=reason, cause=cause)
            return True
        self._guard_threshold()
        self._write_block(user, {cause})
        if not self.dry_run:
            self.auth0.revoke_access(user["user_id"])
        self._audit("auth0.user.blocked", user["user_id"], oid, reason=reason, cause=cause,
                    revoked=["sessions", "refresh_tokens"])
        return True

    def _write_block(self, user, causes):
        meta = dict((user.get("app_metadata") or {}).get(self.config.namespace) or {})
        meta.update(blocked_by_companion=True, disabled_at=meta.get("disabled_at") or utcnow().isoformat())
        user["blocked"] = True
        user.setdefault("app_metadata", {})[CAUSES_KEY] = {"causes": sorted(causes)}
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"blocked": True, "app_metadata": {
                self.config.namespace: meta, CAUSES_KEY: {"causes": sorted(causes)}}})

    def unblock(self, user, oid, cause="entra", reason="re-enabled in Entra ID"):
        """Lift the block's cause; unblock only when no cause is left and no risk of the user is open."""
        causes = block_causes(user, self.config.namespace)
        if cause not in causes:
            return False
        rest = causes - {cause} | ({"risk"} if risk_records.active(self.store, oid) else set())
        if rest:
            self._write_block(user, rest)
            self._audit("auth0.block.cause.lifted", user["user_id"], oid, reason=reason, cause=cause,
                        still_blocked_for=sorted(rest))
            return False
        meta = dict((user.get("app_metadata") or {}).get(self.config.namespace) or {})
        meta.pop("blocked_by_companion", None)
        meta.pop("disabled_at", None)
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"blocked": False, "app_metadata": {
                self.config.namespace: meta, CAUSES_KEY: None}})
        user["blocked"] = False
        self._audit("auth0.user.unblocked", user["user_id"], oid, reason=reason)
        if risk_records.active(self.store, oid):  # a risk claimed while we unblocked: it wins
            self.block(user, oid, "Entra ID risk still open", cause="risk")
        return True

    def delete(self, user, oid, reason):
        """Delete the Auth0 user (policy escalation after the grace period)."""
        self._guard_threshold()
        if not self.dry_run:
            self.auth0.delete_user(user["user_id"])
        self._audit("auth0.user.deleted", user["user_id"], oid, reason=reason)

    def create(self, graph_user, record):
        """A new Auth0 database user with a random password; the person sets theirs by a ticket."""
        email = graph_user.get("mail") or graph_user.get("userPrincipalName")
        body = {"connection": self.config.connection, "email": email, "email_verified": True,
                "password": secrets.token_urlsafe(32) + "aA1!", "name": graph_user.get("displayName") or email,
                "app_metadata": {self.config.namespace: record}}
        if self.dry_run:
            self._audit("auth0.user.created", None, graph_user["id"], email=email)
            return None
        created = self.auth0.create_user(body)
        try:
            ticket = self.auth0.password_change_ticket(created["user_id"])
        except CompanionError as why:
            # The user exists now: say so, and that the person has no way to set a password yet.
            self._audit("auth0.user.created", created["user_id"], graph_user["id"], email=email, password_ticket=False)
            self._audit("auth0.password_ticket.failed", created["user_id"], graph_user["id"], outcome="failed",
                        email=email, error=why.log_fields(), fix=TICKET_FIX)
            raise
        self._audit("auth0.user.created", created["user_id"], graph_user["id"], email=email,
                    password_ticket=bool(ticket))
        return created

    def link(self, user, oid, record, rule):
        """Take ownership of an existing Auth0 user found by a linking rule."""
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"app_metadata": {self.config.namespace: record}})
        self._audit("auth0.user.linked", user["user_id"], oid, rule=rule)

    def set_metadata(self, user, oid, key, value):
        """Write one app_metadata key when it differs."""
        if (user.get("app_metadata") or {}).get(key) == value:
            return False
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"app_metadata": {key: value}})
        self._audit("auth0.metadata.updated", user["user_id"], oid, key=key)
        return True

    def set_roles(self, user, oid, add_names, remove_names, role_ids):
        """Assign and remove managed roles by name."""
        if not add_names and not remove_names:
            return
        if not self.dry_run:
            if add_names:
                self.auth0.assign_roles(user["user_id"], [role_ids[n] for n in add_names])
            if remove_names:
                self.auth0.remove_roles(user["user_id"], [role_ids[n] for n in remove_names])
        self._audit("auth0.roles.changed", user["user_id"], oid, added=add_names, removed=remove_names)

    def revoke_entra_sessions(self, oid, reason):
        """Revoke the Entra user's sign-in sessions."""
        if not self.dry_run:
            self.graph.revoke_sign_in_sessions(oid)
        self._audit("entra.sessions.revoked", None, oid, reason=reason)
