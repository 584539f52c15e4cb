"""What sync handlers need: clients, store, the mapping file, and the dispatch table."""
from service.cache import cached_value
from service.clients.notify import Notifier
from service.sync import auth0_events, delta, deprovision, escalate, handlers, risk, seats, subscriptions
from service.sync.config import ConfigFile
from service.sync.effects import Effects, ThresholdReached


class SyncContext:
    """Built once per process from the Companion; dispatches inbox events to handlers."""

    def __init__(self, companion):
        self.settings, self.store = companion.settings, companion.store
        self.graph, self.auth0 = companion.graph, companion.auth0
        self.provisioner = companion.provisioner  # back-provisioning runs the Office 365 path
        self.dry_run = companion.settings.dry_run
        self.config_file = ConfigFile(companion.settings.sync_config)
        self._role_ids = cached_value(lambda: {r["name"]: r["id"] for r in self.auth0.list_roles()}, 300)
        self.notifier = Notifier.from_settings(companion.settings)
        self.handlers = {"user": handlers.sync_user, "users_delta": delta.users_round,
                         "groups_delta": delta.groups_round, "risk_poll": risk.poll,
                         "ensure_subscriptions": subscriptions.ensure_handler,
                         "lifecycle": subscriptions.handle_lifecycle, "escalate": escalate.run,
                         "reconcile": _reconcile, "auth0_user": auth0_events.handle,
                         "deprovision_steps": deprovision.run_due, "seat_check": seats.check}

    def config(self):
        """The current mapping (reloaded when the file changes)."""
        return self.config_file.get()

    def role_ids(self):
        """Auth0 role name → id, cached for five minutes."""
        return self._role_ids()

    def dispatch(self, event):
        """Run the handler for an event kind; 'held' when the threshold stops it."""
        handler = self.handlers[event.kind]
        try:
            return handler(self, event.object_id, dict(event.detail, event_id=event.id))
        except ThresholdReached as why:
            Effects(self.auth0, self.graph, self.store, self.config())._audit(
                "sync.threshold.reached", None, event.object_id, reason=str(why), event_id=event.id)
            return "held"


def _reconcile(ctx, _object_id, detail):
    """Handler for a 'reconcile' event (scheduled daily, or queued by the CLI)."""
    from service.reconcile.run import reconcile
    mode = detail.get("mode") or ctx.settings.reconcile_mode
    reconcile(ctx, mode, ctx.settings.reconcile_keep_runs)
    return "done"
