"""Resource-unit throttling per app and tenant over a sliding 10 s window (facts §4.1, §4.2)."""
import collections
import math
import threading
import time

WINDOW_S = 10.0


def cost(method, base, args):
    """RU cost of one request: the route's base cost for reads, 1 for writes, with Graph's modifiers."""
    if method != "GET":
        return 1
    units = base
    if "$select" in args:
        units -= 1
    if "$expand" in args:
        units += 1
    top = args.get("$top", "")
    if top.isdigit() and int(top) < 20:
        units -= 1
    return max(1, units)


class Budget:
    """RUs spent in the last 10 s; refuses a request that would exceed the limit (0 = unlimited)."""

    def __init__(self, limit, clock=time.monotonic):
        self.limit, self.clock = limit, clock
        self._spent, self._used = collections.deque(), 0
        self._lock = threading.Lock()

    def charge(self, units):
        """None when admitted (and counted), else the Retry-After seconds until enough RUs free up."""
        with self._lock:
            now = self.clock()
            while self._spent and self._spent[0][0] <= now - WINDOW_S:
                self._used -= self._spent.popleft()[1]
            if self.limit and self._used + units > self.limit:
                return self._retry_after(now, units)
            self._spent.append((now, units))
            self._used += units
            return None

    def _retry_after(self, now, units):
        """Seconds until the oldest spends have left the window and `units` fit again."""
        need, freed = self._used + units - self.limit, 0
        for stamp, spent in self._spent:
            freed += spent
            if freed >= need:
                return max(1, math.ceil(stamp + WINDOW_S - now))
        return math.ceil(WINDOW_S)
