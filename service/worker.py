"""`python -m service worker`: the huey consumer plus a scheduler for delta, risk and subscriptions."""
import logging
import threading
import time
from urllib.parse import urlparse

from service import jobs, logs
from service.companion import Companion
from service.db import migrate
from service.sync import inbox
from service.sync.context import SyncContext

log = logging.getLogger("companion.worker")
SUBSCRIPTION_CHECK_S = 3600.0
ESCALATION_CHECK_S = 3600.0
DEPROVISION_CHECK_S = 86400.0  # grades are counted in days
DELAYED_FIRST = ("reconcile", "escalate")


class Scheduler(threading.Thread):
    """Queues the periodic work as inbox events, and re-drives events whose job was lost."""

    def __init__(self, ctx, redrive_after_s, tick_s=1.0):
        super().__init__(name="scheduler", daemon=True)
        s = ctx.settings
        self.ctx, self.redrive_after_s, self.tick_s = ctx, redrive_after_s, tick_s
        self.plan = []
        if "delta" in s.sync_events and s.delta_interval_s > 0:
            self.plan += [("users_delta", s.delta_interval_s), ("groups_delta", s.delta_interval_s)]
        if s.risk_interval_s > 0:
            self.plan.append(("risk_poll", s.risk_interval_s))
        if "webhook" in s.sync_events:
            self.plan.append(("ensure_subscriptions", SUBSCRIPTION_CHECK_S))
        if s.sync_config:
            self.plan.append(("escalate", ESCALATION_CHECK_S))
        if s.reconcile_interval_s > 0:
            self.plan.append(("reconcile", s.reconcile_interval_s))
        self.plan.append(("deprovision_steps", DEPROVISION_CHECK_S))
        if s.seat_check_interval_s > 0:
            self.plan.append(("seat_check", s.seat_check_interval_s))
        # Polls start at once; the heavy daily jobs first run one interval after start.
        start = time.monotonic()
        self.next_due = {kind: (start + every if kind in DELAYED_FIRST else 0.0) for kind, every in self.plan}
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(self.tick_s):
            try:
                self.tick(time.monotonic())
            except Exception:  # the scheduler must outlive a database or queue hiccup
                log.exception("scheduler tick failed")

    def tick(self, now):
        """Queue what is due; re-drive lost events."""
        for kind, every in self.plan:
            if now >= self.next_due[kind]:
                self.next_due[kind] = now + every
                jobs.enqueue(inbox.record(self.ctx.store, kind, None, "schedule"))
        for event_id in inbox.redrive_stale(self.ctx.store, self.redrive_after_s):
            log.warning("re-driving a lost job", extra={"fields": {"event_id": event_id}})
            jobs.enqueue(event_id)


def summary(settings, threads):
    """What this worker runs against, for its start line: hosts and switches, never a secret or password."""
    s = settings
    return {"threads": threads, "database": _where(s.database_url), "queue": _where(s.queue_url),
            "auth0_domain": s.auth0_domain, "entra_tenant_id": s.entra_tenant_id, "graph": s.graph_base_url,
            "dry_run": s.dry_run, "sync_events": list(s.sync_events), "sync_config": s.sync_config,
            "delta_interval_s": s.delta_interval_s, "risk_interval_s": s.risk_interval_s,
            "reconcile_mode": s.reconcile_mode, "reconcile_interval_s": s.reconcile_interval_s}


def _where(url):
    """scheme://host:port/db (or the SQLite path) without the user name and password."""
    parsed = urlparse(url)
    host = f"{parsed.hostname}:{parsed.port}" if parsed.port else (parsed.hostname or "")
    return f"{parsed.scheme}://{host}{parsed.path}"


def run(settings, threads=4, redrive_after_s=120.0):
    """Start the consumer (blocks; SIGTERM/SIGINT stop it gracefully)."""
    logs.configure(settings)
    # huey logs two lines per task; ours says the outcome and duration in one (service.jobs).
    logging.getLogger("huey").setLevel(max(logging.WARNING, logging.getLogger().level))
    companion = Companion.build(settings)
    migrate(companion.store.engine)
    ctx = SyncContext(companion)
    jobs.bind(ctx)
    scheduler = Scheduler(ctx, redrive_after_s)
    log.info("worker started", extra={"fields": {**summary(settings, threads), "schedule": dict(scheduler.plan)}})
    scheduler.start()
    companion.driver.start()  # finishes pending provisioning even when no web process is running
    consumer = companion.queue.create_consumer(workers=threads, worker_type="thread", periodic=False)
    consumer.run()
