"""Changes the sync makes in Auth0 and Entra: each audited, each honouring dry run and the threshold."""
import datetime as dt
import secrets

from sqlalchemy import func, select

from service import audit
from service.errors import CompanionError
from service.models import AuditEvent, utcnow

# One hourly budget for destructive changes in both directions (Auth0 blocks/deletes, Entra disables/deletes).
TICKET_FIX = ("grant the M2M application create:user_tickets, then send the user a password reset "
              "(Dashboard → User Management → Users → Send reset password email)")
DESTRUCTIVE = ("auth0.user.blocked", "auth0.user.deleted", "entra.user.disabled", "entra.user.deleted")


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

    def block(self, user, oid, reason):
        """Block the Auth0 user and revoke its sessions and refresh tokens (the block is marked ours)."""
        self._guard_threshold()
        meta = dict((user.get("app_metadata") or {}).get(self.config.namespace) or {})
        meta.update(blocked_by_companion=True, disabled_at=meta.get("disabled_at") or utcnow().isoformat())
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"blocked": True,
                                                     "app_metadata": {self.config.namespace: meta}})
            self.auth0.revoke_sessions(user["user_id"])
            self.auth0.revoke_refresh_tokens(user["user_id"])
        self._audit("auth0.user.blocked", user["user_id"], oid, reason=reason,
                    revoked=["sessions", "refresh_tokens"])

    def unblock(self, user, oid):
        """Lift a block only when the companion set it."""
        meta = dict((user.get("app_metadata") or {}).get(self.config.namespace) or {})
        if not (user.get("blocked") and meta.get("blocked_by_companion")):
            return False
        meta.pop("blocked_by_companion", None)
        meta.pop("disabled_at", None)
        if not self.dry_run:
            self.auth0.update_user(user["user_id"], {"blocked": False,
                                                     "app_metadata": {self.config.namespace: meta}})
        self._audit("auth0.user.unblocked", user["user_id"], oid, reason="re-enabled in Entra ID")
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
