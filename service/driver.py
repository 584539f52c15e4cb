"""Background provisioning: requests never wait on Graph; a bounded pool runs the steps and one poller
per deployment observes readiness for every pending user in batched reads.

- kick(user) (from a request, in any process) queues the user's next steps in this process's pool:
  the seat check, the create. Nothing in the request thread calls Graph or sleeps.
- The poller runs in every web process and in the worker, but only the holder of one database lease
  works (service/leases.py), so a deployment of any size reads Graph once per round. Each round reads
  every user waiting on replication with `$filter=id in (…)` (15 ids per read, 20 reads per `$batch`),
  hands the ones Entra shows to the pool (assign the licence; or mark ready once the licence is seen),
  and re-drives users nobody is working on — an abandoned browser, a lost process, a pre-provisioning
  with no browser at all — so every pending provisioning finishes, whoever started it.
"""
import collections
import datetime as dt
import logging
import itertools
import math
import queue
import threading
import time
import uuid

from service import leases, links
from service.cache import cached_value
from service.clients.graph import IN_LIMIT
from service.errors import CompanionError
from service.models import utcnow
from service.provisioning import READINESS_STEPS, SELECT

log = logging.getLogger("companion.driver")
LEASE_NAME = "provisioning-poller"
LEASE_TTL_S = 5.0
BATCH = 20                   # licences or new accounts per `$batch` call (Graph's limit)
CROWD_WINDOW_S = 0.1         # kicks closer together than this are a crowd ...
GATHER_S = 0.1               # ... and a pass waits this long first, so it takes several users at once
MAX_WAITING_PER_ROUND = 600  # two `$batch` calls; older users first, the rest next round
SWEEP_AFTER_S = 5.0          # an early step untouched this long (doubling per attempt) is re-driven
SWEEP_MAX_S = 120.0
EARLY_EVERY_S = 1.0          # before the usual lag has passed, a user is read once a second
SLOW_AFTER_S, SLOW_EVERY_S = 60.0, 10.0  # a user invisible for a minute is read every 10 s, not every round
DEFAULT_TYPICAL_S = 2.0      # until the deployment has seen its own replication lag
OVERDUE_STEP_S = 30         # a page overdue by less than this still asks often (a 10 s lag after 2 s ones)
REFRESH_MIN_S, REFRESH_MAX_S = 0.5, 3.0  # 3 keeps a late arrival under lag + 3 s
OVERDUE_EVERY_S = 1.0       # 0.5 s made a crowd's refreshes the load: p95 +1 s at lag 10 s, N 200
REFRESH_UNKNOWN_S = 1.0     # no account yet: its creation, not the lag, is what the page waits for


def refresh_s(since, typical_s, now):
    """Seconds until the waiting page asks again: when this user should be ready (0.5 to 3 s); once that
    has passed, every second at first, then less often the longer it is overdue (a slow day is not made
    slower by refreshes)."""
    if since is None:
        return REFRESH_UNKNOWN_S
    left = (links.utc(since) + dt.timedelta(seconds=typical_s) - now).total_seconds()
    wait = left if left > 0 else (OVERDUE_EVERY_S if -left < OVERDUE_STEP_S else 1 + int(-left // OVERDUE_STEP_S))
    return round(min(REFRESH_MAX_S, max(REFRESH_MIN_S, wait)), 3)


def _since(link):
    """When the user's current wait began: at the licence step, when the account was created (the
    step's last write), so time queued before the create does not count as replication lag."""
    return links.utc(link.updated_at if link.step == "licence" else link.created_at)


class Driver:
    """The pool that runs provisioning steps in the background, and the readiness poller."""

    def __init__(self, provisioner, settings, clock=time.monotonic):
        self.p, self.store, self.graph = provisioner, provisioner.store, provisioner.graph
        self.threads, self.poll_s, self.clock = settings.provision_threads, settings.provision_poll_s, clock
        self.owner = uuid.uuid4().hex
        self._queue, self._workers, self._busy, self._lock = queue.PriorityQueue(), [], set(), threading.Lock()
        self._order = itertools.count()  # FIFO within a priority
        self._fresh, self._crowd, self._last_kick = collections.deque(), False, float("-inf")
        self._gathering = False
        self._stop, self._thread = threading.Event(), None
        self.lag_s = None  # moving estimate of account created → Entra shows it (leader only)
        self.reads = 0     # batched readiness reads sent (benchmarks, tests)
        self._last_read = {}  # auth0 user id → when the poller last read it (leader only)
        self.typical_ready_s = cached_value(self._typical_ready_s, 5.0)

    # -- requests ----------------------------------------------------------------------------------

    def nudge(self, outcome):
        """Kick a pending user whose account is not made yet (a request saw it); once Entra has the
        account, only the poller's reads move it on, so a waiting page's refresh costs no pass."""
        if outcome is not None and outcome.state == "pending" and outcome.object_id is None:
            self.kick(outcome.auth0_user_id)

    def kick(self, auth0_user_id, seen=None):
        """Queue one background pass for the user (no-op while one is queued or running here)."""
        if seen is not None:  # a user Entra already shows is nearer to ready than one still to create
            return self._submit([auth0_user_id], self._run, auth0_user_id, seen, first=True)
        with self._lock:
            if auth0_user_id in self._busy:
                return False
            self._busy.add(auth0_user_id)
            self._fresh.append(auth0_user_id)
            now = self.clock()
            self._crowd, self._last_kick = now - self._last_kick < CROWD_WINDOW_S, now
            self._start_workers()
        self._queue.put((1, next(self._order), ([], self._run_fresh, ())))
        return True

    def _submit(self, auth0_user_ids, fn, *args, first=False):
        """Run fn(*args) on the pool unless one of these users is already queued or running here."""
        with self._lock:
            if self._busy.intersection(auth0_user_ids):
                return False
            self._busy.update(auth0_user_ids)
            self._start_workers()
        self._queue.put((0 if first else 1, next(self._order), (auth0_user_ids, fn, args)))
        return True

    def _start_workers(self):
        while len(self._workers) < self.threads:  # under self._lock
            self._workers.append(threading.Thread(target=self._work, name="provision", daemon=True))
            self._workers[-1].start()

    def _work(self):
        # Daemon threads, not a ThreadPoolExecutor: its threads are joined at interpreter exit, so a
        # worker sleeping out a Graph Retry-After would hold a stopping process (and act after it).
        # Dying mid-step is safe: every step is idempotent and the sweep picks the user up again.
        while True:
            _priority, _n, item = self._queue.get()
            if item is None:
                return
            auth0_user_ids, fn, args = item
            try:
                fn(*args)
            except Exception:  # one bug must not stop the pool; the sweep retries the users later
                log.exception("background provisioning failed", extra={"fields": {"users": len(auth0_user_ids)}})
            finally:
                with self._lock:
                    self._busy.difference_update(auth0_user_ids)

    def _run(self, auth0_user_id, seen):
        self.p.advance(auth0_user_id, seen)

    def _run_fresh(self):
        """Advance users kicked and not yet taken, up to 20 in one pass (one seat group, one `$batch` of
        creates). In a crowd one pass at a time waits a moment first, so that it gathers several; what it
        leaves goes to the next pass."""
        with self._lock:
            if self._gathering or not self._fresh:
                return  # the gathering pass takes these users, or queues a pass for them
            self._gathering = self._crowd and len(self._fresh) < BATCH
        if self._gathering:
            time.sleep(GATHER_S)
        with self._lock:
            uids = [self._fresh.popleft() for _ in range(min(BATCH, len(self._fresh)))]
            self._gathering, more = False, bool(self._fresh)
        if more:
            self._queue.put((1, next(self._order), ([], self._run_fresh, ())))
        try:
            if len(uids) == 1:
                self.p.advance(uids[0])
            elif uids:  # another pass took them all meanwhile
                self.p.advance_many(uids)
        finally:
            with self._lock:
                self._busy.difference_update(uids)

    def _license(self, visible):
        """Assign licences for up to 20 users in one `$batch` and read them back at once (ready when the
        read shows the licence, else the poller reads them next); the rest go through their step one by one."""
        moved, rest = self.p.license_all(visible)
        if moved:
            self._read_back(moved)
        for uid, user in rest.items():
            self.p.advance(uid, user)

    def _read_back(self, moved):
        """One batched read of users whose licence was just assigned: the hop to the next round saved."""
        try:
            seen = self.graph.users_by_ids(list(moved.values()), SELECT)
        except CompanionError as why:  # they wait at "verify"; the poller's next round reads them
            log.warning("licence read-back failed", extra={"fields": {"users": len(moved), **why.log_fields()}})
            return
        self.reads += math.ceil(len(moved) / IN_LIMIT)
        self.p.ready_all([uid for uid, oid in moved.items() if (seen.get(oid) or {}).get("assignedLicenses")])

    def idle(self):
        """True when no pass is queued or running in this process."""
        with self._lock:
            return not self._busy

    def refresh_after(self, outcome):
        """Seconds the waiting page should wait for this pending outcome."""
        return refresh_s(outcome.since, self.typical_ready_s(), utcnow())

    def _typical_ready_s(self):
        recent = links.recent_ready_seconds(self.store)
        return sorted(recent)[len(recent) // 2] if recent else DEFAULT_TYPICAL_S

    # -- the poller --------------------------------------------------------------------------------

    def start(self):
        """Start the poller thread (once per process)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="provisioning-poller", daemon=True)
            self._thread.start()
        return self

    def stop(self, wait_s=0.0):
        """Stop the poller and the pool threads (passes already running finish, waited for up to wait_s)."""
        self._stop.set()
        for _ in self._workers:
            self._queue.put((-1, next(self._order), None))
        deadline = time.monotonic() + wait_s
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _loop(self):
        # The lease is written at half its life, not every round: few writes, and a lost leader is
        # replaced within LEASE_TTL_S. Two leaders for a moment are harmless (per-user leases).
        leader, renew_at = False, 0.0
        while not self._stop.wait(self.poll_s):
            try:
                if self.clock() >= renew_at:
                    leader = leases.acquire(self.store, LEASE_NAME, self.owner, LEASE_TTL_S)
                    renew_at = self.clock() + LEASE_TTL_S / 2
                if leader:
                    self.tick()
            except Exception:  # a database or Graph hiccup: the next round tries again
                leader, renew_at = False, 0.0
                log.exception("provisioning poller round failed")

    def tick(self):
        """One round: re-drive users nobody works on, read the waiting ones in batches, hand on the seen."""
        now = utcnow()
        pending = links.pending_unleased(self.store, now)
        waiting = [x for x in pending if x.step in READINESS_STEPS and x.entra_object_id]
        for link in pending:
            if link.step not in READINESS_STEPS and self._stale(link, now):
                self.kick(link.auth0_user_id)
        due = [x for x in waiting if self._due(x, now)][:MAX_WAITING_PER_ROUND]
        if not due:
            return 0
        seen = self.graph.users_by_ids([x.entra_object_id for x in due], SELECT)
        self.reads += math.ceil(len(due) / IN_LIMIT)
        recent = {k: v for k, v in self._last_read.items() if (now - v).total_seconds() < 2 * SLOW_EVERY_S}
        self._last_read = recent | {x.auth0_user_id: now for x in due}
        visible, licensed = {}, []
        for link in due:
            user = seen.get(link.entra_object_id)
            if user is None:
                continue
            self._learn_lag(link, now)
            if link.step == "licence":
                visible[link.auth0_user_id] = user
            elif user.get("assignedLicenses"):
                licensed.append(link.auth0_user_id)
        if licensed:
            self.p.ready_all(licensed)
        with self._lock:
            items = [(uid, user) for uid, user in visible.items() if uid not in self._busy]
        for start in range(0, len(items), BATCH):  # chunks in parallel on the pool, each one `$batch` call
            chunk = dict(items[start:start + BATCH])
            self._submit(list(chunk), self._license, chunk, first=True)
        return len(due)

    def _stale(self, link, now):
        after = min(SWEEP_MAX_S, SWEEP_AFTER_S * 2 ** min(link.attempts, 10))
        return (now - links.utc(link.updated_at)).total_seconds() >= after

    def _due(self, link, now):
        """Read a user often once it could plausibly be visible (from ~80 % of the lag seen so far), then
        a little less often the longer it waits past that (up to 0.5 s apart; every 10 s after a minute).
        Before that, once a second: a lag that has dropped since (a slow hour ends) is seen at once and
        lowers the estimate, which a hard gate would never learn."""
        age = (now - _since(link)).total_seconds()
        gate = 0.8 * self.lag_s if link.step == "licence" and self.lag_s is not None else 0.0
        last = self._last_read.get(link.auth0_user_id)
        if age < gate:
            every = EARLY_EVERY_S
        elif age >= SLOW_AFTER_S:
            every = SLOW_EVERY_S
        else:  # a licence just assigned is read next round; replication is read at most 0.5 s apart
            every = 0.0 if link.step == "verify" else min(0.5, 0.1 * (age - gate))
        if last is None:
            return age >= min(gate, EARLY_EVERY_S)
        return (now - last).total_seconds() >= every

    def _learn_lag(self, link, now):
        if link.step != "licence":
            return
        took = (now - _since(link)).total_seconds()
        self.lag_s = took if self.lag_s is None else 0.8 * self.lag_s + 0.2 * took
