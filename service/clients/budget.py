"""Graph's resource-unit budget, shared by every process of every instance through Redis (`limits`).

Graph throttles per application and tenant in resource units (RU) per 10 s: 3,500 / 5,000 / 8,000 by
tenant size (facts/graph.md §4.1, Learn graph/throttling-limits). Every Graph call takes its cost from
one moving 10 s window before it is sent, so instances that share the window stay inside the tenant's
budget together instead of each learning about it from 429s.
"""
import logging
import re
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from service.errors import Throttled

log = logging.getLogger("companion.graph.budget")
WINDOW_S = 10
# Base costs of reads (Learn graph/throttling-limits, "identity and access"); any other GET costs 1.
_READ_COSTS = ((re.compile(r"/users/?$"), 2), (re.compile(r"/subscribedSkus/?$"), 3),
               (re.compile(r"/groups/[^/]+/members/?$"), 3), (re.compile(r"/groups/[^/]+/transitiveMembers/?$"), 5),
               (re.compile(r"/users/[^/]+/(transitiveMemberOf|memberOf)/?$"), 2))
_ACTION_COSTS = ((re.compile(r"/getMemberGroups$"), 2), (re.compile(r"/checkMemberGroups$"), 4),
                 (re.compile(r"/getByIds$"), 5))


def resource_units(method, path, params=None, body=None):
    """The RU cost of one Graph call, with Graph's modifiers ($select −1, $expand +1, $top < 20 −1, min 1)."""
    method = method.upper()
    path = path.split("?", 1)[0]
    if path.endswith("/$batch"):
        return sum(_inner_units(item) for item in (body or {}).get("requests", [])) or 1
    if method != "GET":
        return next((units for rx, units in _ACTION_COSTS if rx.search(path)), 1)
    units = next((units for rx, units in _READ_COSTS if rx.search(path)), 1)
    params = params or {}
    if "$select" in params:
        units -= 1
    if "$expand" in params:
        units += 1
    top = str(params.get("$top", ""))
    if top.isdigit() and int(top) < 20:
        units -= 1
    return max(1, units)


def _inner_units(item):
    """Cost of one `$batch` inner request (each is throttled on its own)."""
    url = str(item.get("url", ""))
    path, _, query = url.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return resource_units(str(item.get("method", "GET")), path, params)


class Budget:
    """A moving 10 s window of RUs; take() waits until a call's cost fits, or raises Throttled."""

    def __init__(self, ru_per_10s, storage_url="memory://", max_wait_s=60.0, key="graph",
                 sleep=time.sleep, clock=time.time, window_s=WINDOW_S):
        self.limit = int(ru_per_10s)
        self.item = RateLimitItemPerSecond(self.limit, window_s) if self.limit > 0 else None
        self.storage = storage_from_string(storage_url) if self.item else None
        self.limiter = MovingWindowRateLimiter(self.storage) if self.item else None
        self.max_wait_s, self.key, self.sleep, self.clock = max_wait_s, key, sleep, clock
        self.waited_s = 0.0  # total time callers spent waiting here (for benchmarks and logs)

    def take(self, units):
        """Spend `units` from the shared window, waiting for room; Throttled when it will not come in time."""
        if self.item is None:
            return
        units = min(int(units), self.limit)
        deadline = self.clock() + self.max_wait_s
        while not self._hit(units):
            reset = self.limiter.get_window_stats(self.item, self.key).reset_time
            pause = min(max(0.05, reset - self.clock()), 1.0)  # re-check often: others' RUs age out too
            if self.clock() + pause > deadline:
                raise Throttled("The Graph resource-unit budget (GRAPH_RU_PER_10S) is spent; try again shortly",
                                retry_after=max(1, round(reset - self.clock())), vendor="graph", code="budget")
            self.sleep(pause)
            self.waited_s += pause

    def _hit(self, units):
        """Take units from the window; an unreachable store lets the call through (Graph's own 429s still
        count) rather than failing every sign-in because Redis is down."""
        try:
            return self.limiter.hit(self.item, self.key, cost=units)
        except Exception as why:  # the storage backend's own errors (redis ConnectionError, timeouts)
            log.warning("Graph budget store unreachable; call not counted",
                        extra={"fields": {"error": type(why).__name__}})
            return True

    def used(self):
        """RUs spent in the current 10 s window (0 when off)."""
        if self.item is None:
            return 0
        return self.limit - self.limiter.get_window_stats(self.item, self.key).remaining


def from_settings(s):
    """The budget the settings describe: Redis when GRAPH_RU_STORAGE_URL names it, else this process only."""
    # One window per application and tenant, as Graph counts it. Settings-like objects without the
    # budget fields (scripts, older callers) get no budget rather than an error.
    ru, url = getattr(s, "graph_ru_per_10s", 0), getattr(s, "graph_ru_storage_url", "memory://")
    return Budget(ru, url, key=f"graph:{s.entra_tenant_id}:{s.entra_client_id}")
