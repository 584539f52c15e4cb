"""Licence lookup by skuPartNumber, and the seat ledger: no Entra account is created without a seat.

The seat check reads subscribedSkus at most SEAT_READ_TTL_S old and takes off every seat the
companion has promised but Entra does not count yet (first logins past the check, parked accounts,
accounts licensed since the read), one process at a time (a PostgreSQL advisory lock, or a lease on
SQLite), so a burst of first logins cannot over-commit.
"""
import contextlib
import threading
import time
import uuid

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import OperationalError

from service import leases, links, metrics
from service.cache import cached_value
from service.models import AuditEvent, Link, utcnow

SEAT_READ_TTL_S = 2.0  # subscribedSkus costs 3 resource units; a burst shares one read
SEAT_LEASE = "licence-seats"
SEAT_LEASE_WAIT_S = 5.0
SEAT_LOCK_KEY = 0x0E7C_5EA7  # pg_advisory_xact_lock key of the seat count (PostgreSQL)
# Link steps past the seat check and before the licence: a seat promised, not yet taken.
HOLDING_STEPS = ("lookup", "create", "licence")
LICENSED = "entra.licence.assigned"  # audited before the link moves on, so a seat is never counted nowhere
LEVELS = ("ok", "low", "out")


class LicenceUnavailable(Exception):
    """The configured licence cannot be assigned; the message says what an admin should change."""


class SeatsBusy(Exception):
    """Another process has held the seat count for longer than expected; try again shortly."""


class SkuCatalog:
    """subscribedSkus, cached for a short while (the call costs 3 resource units)."""

    def __init__(self, graph, ttl_s=60.0):
        self.graph = graph
        self._cached = cached_value(self._read, ttl_s)
        self._recent = cached_value(self._read, SEAT_READ_TTL_S)

    def _read(self):
        """(when the read started, skus): seats licensed after that instant are not in consumedUnits."""
        started, skus = utcnow(), self.graph.subscribed_skus()
        metrics.seats(skus)
        return started, skus

    def read(self, part_number, recent=False, fresh=False):
        """(read_at, sku) from the catalog cache, a read at most SEAT_READ_TTL_S old, or a fresh one."""
        if fresh:
            self._recent.cache_clear()
        read_at, skus = (self._recent if recent or fresh else self._cached)()
        sku = _find(skus, part_number)
        if sku is None:
            raise LicenceUnavailable(f"The tenant has no subscription with skuPartNumber {part_number}; "
                                     "check O365_LICENSE_SKU against GET /subscribedSkus.")
        return read_at, sku

    def resolve(self, part_number, disabled_plans=(), fresh=False, seats=True):
        """The addLicenses entry for part_number, after checking it exists (and, with seats, has a free seat)."""
        _read_at, sku = self.read(part_number, fresh=fresh)
        if seats and free_seats(sku) <= 0 and not fresh:
            return self.resolve(part_number, disabled_plans, fresh=True)
        if seats and free_seats(sku) <= 0:
            raise LicenceUnavailable(no_seats_message(sku, 0))
        return {"skuId": sku["skuId"], "disabledPlans": plan_ids(sku, disabled_plans)}


class _Ticket:
    """One login's request for a seat, served by whichever thread of this process takes its turn."""

    def __init__(self, link):
        self.link, self.done, self.error = link, False, None

    def finish(self, error=None):
        self.done, self.error = True, error


class SeatLedger:
    """Seats promised to first logins, checked against Entra's count before any account is created.

    A crowd of first logins is served in groups: the thread whose turn it is at the seat count also
    serves every login of this process queued behind it (one read, one count, one turn for all of them),
    so the group moves on in one write, not one read, count and turn per person.
    """

    def __init__(self, settings, store, catalog, sleep=time.sleep, clock=time.monotonic):
        self.s, self.store, self.catalog = settings, store, catalog
        self.sleep, self.clock = sleep, clock
        self._queued, self._queue_lock, self._serving = [], threading.Lock(), threading.Lock()

    def reserve(self, link):
        """Promise link (leased by the caller, at step "new") a seat: at the seat count it moves to
        "create", or LicenceUnavailable is raised when no seat is left."""
        error = self.reserve_all([link])[0]
        if error is not None:
            raise error

    def reserve_all(self, held):
        """reserve() for several links at once; the error each met (None for a seat given), in order."""
        tickets = [_Ticket(link) for link in held]
        with self._queue_lock:
            self._queued.extend(tickets)
        with self._serving:
            if not all(t.done for t in tickets):
                with self._queue_lock:
                    group, self._queued = self._queued, []
                self._serve(group)
        return [t.error for t in tickets]

    def _serve(self, group):
        """Grant seats to the group in order while they last; the rest get LicenceUnavailable."""
        try:
            left, free, sku, promised = self._grant(group)
        except Exception as error:  # Graph busy, the count held, a wrong plan name: every login not yet served hears it
            for ticket in group:
                if not ticket.done:
                    ticket.finish(error)
            return
        if left:
            self.note("out")
            for ticket in left:
                ticket.finish(LicenceUnavailable(no_seats_message(sku, promised)))
        else:
            self.note(level(free, self.s.o365_seats_low_water))

    def _grant(self, group):
        """(tickets left without a seat, free seats after the grants, the sku as read, seats promised)."""
        for fresh in (False, True):
            read_at, sku = self.catalog.read(self.s.o365_license_sku, recent=True, fresh=fresh)
            plan_ids(sku, self.s.o365_disabled_plans)  # a wrong plan name stops before anything is created
            with self._counting() as session:
                promised = held(session, read_at, but=[t.link.auth0_user_id for t in group])
                free = free_seats(sku) - promised
                granted, group = group[:max(free, 0)], group[max(free, 0):]
                moved = links.move_leased(session, [t.link for t in granted], "new", step="create")
            links.mirror([t.link for t in granted], moved)  # committed: only now do they count as moved
            for ticket in granted:
                ticket.finish()
            free -= len(granted)
            if not group:
                break
        return group, free, sku, promised

    def free_now(self, parked=True):
        """(free seats after every promise, sku) from a fresh read; parked=False leaves parked accounts out."""
        read_at, sku = self.catalog.read(self.s.o365_license_sku, fresh=True)
        with self.store.session() as session:
            return free_seats(sku) - held(session, read_at, parked=parked), sku

    def exhausted(self):
        """True when a fresh read shows no free seat (tells a seat failure from another bad request)."""
        _read_at, sku = self.catalog.read(self.s.o365_license_sku, fresh=True)
        return free_seats(sku) <= 0

    def note(self, seen):
        """A level seen on the login path: queue the seat check when it differs from the one alerted on."""
        from service.sync import seats  # the alert and the parked accounts live with the worker
        seats.level_seen(self.store, self.s.o365_license_sku, seen)

    @contextlib.contextmanager
    def _counting(self):
        """One transaction in which seats are counted and promised, one process of the deployment at a
        time: on PostgreSQL under a transaction-scoped advisory lock (waiters queue in the database and go
        in turn as each commits), on SQLite under the seat lease."""
        if self.store.engine.dialect.name == "postgresql":
            with self.store.session() as session:
                session.execute(text(f"SET LOCAL lock_timeout = '{int(SEAT_LEASE_WAIT_S * 1000)}ms'"))
                try:
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAT_LOCK_KEY})
                except OperationalError:  # lock_timeout: another process kept it for seconds
                    raise SeatsBusy("other first logins are being given seats; try again in a moment") from None
                yield session
            return
        owner = self._lease()
        try:
            with self.store.session() as session:
                yield session
        finally:
            leases.release(self.store, SEAT_LEASE, owner)

    def _lease(self):
        owner, deadline = uuid.uuid4().hex, self.clock() + SEAT_LEASE_WAIT_S
        while not leases.acquire(self.store, SEAT_LEASE, owner, ttl_s=10):
            if self.clock() > deadline:
                raise SeatsBusy("other first logins are being given seats; try again in a moment")
            self.sleep(0.02)
        return owner


def held(session, read_at, but=(), parked=True):
    """Seats promised but possibly not in a consumedUnits read at read_at (over-counting is the safe side):
    accounts past the seat check and not licensed yet, parked ones, and licences assigned since the read."""
    waiting = or_(and_(Link.state == "pending", Link.step.in_(HOLDING_STEPS)),
                  *([Link.state == "parked"] if parked else []))
    links = select(func.count()).select_from(Link).where(Link.account_type == "member", waiting)
    if but:
        links = links.where(Link.auth0_user_id.not_in(list(but)))
    since = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == LICENSED,
                                                               AuditEvent.at >= read_at)
    return session.scalar(links) + session.scalar(since)


def level(free, low_water):
    """'out' with no seat left, 'low' at or under the low-water mark, else 'ok'."""
    return "out" if free <= 0 else "low" if free <= low_water else "ok"


def no_seats_message(sku, promised):
    """What the person and the operator read when no seat is left."""
    return (f"No {sku.get('skuPartNumber')} licences are left ({sku.get('consumedUnits')} of "
            f"{sku.get('prepaidUnits', {}).get('enabled')} in use, {promised} more promised to accounts "
            "being set up); buy more seats or free some, then sign in again.")


def _find(skus, part_number):
    for sku in skus:
        if sku.get("skuPartNumber", "").lower() == part_number.lower():
            return sku
    return None


def free_seats(sku):
    """Enabled prepaid units not yet consumed."""
    return int(sku.get("prepaidUnits", {}).get("enabled", 0)) - int(sku.get("consumedUnits", 0))


def plan_ids(sku, wanted):
    """servicePlanIds for plans named by id or servicePlanName; unknown names are an error."""
    plans = sku.get("servicePlans", [])
    out = []
    for item in wanted:
        match = [p["servicePlanId"] for p in plans
                 if item.lower() in (p.get("servicePlanId", "").lower(), p.get("servicePlanName", "").lower())]
        if not match:
            raise LicenceUnavailable(f"O365_DISABLED_PLANS names {item}, which is not a service plan of "
                                     f"{sku.get('skuPartNumber')}.")
        out.append(match[0])
    return out


def has_sku(graph_user, sku_id):
    """True when the Graph user object already carries the SKU."""
    return any(lic.get("skuId") == sku_id for lic in graph_user.get("assignedLicenses") or [])
