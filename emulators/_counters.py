"""Thread-safe request counters keyed by route template, shared by both emulators' `/_emulator/stats`."""
import threading
from collections import Counter


class RouteCounters:
    """`requests` by method + route template plus the named `FIELDS`, all zeroed by clear()."""

    # name -> factory (int for a total, Counter for a tally by name); the snapshot keeps this order
    FIELDS = {}

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self):
        """Zero every counter."""
        with self._lock:
            self.requests = Counter()
            for name, factory in self.FIELDS.items():
                setattr(self, name, factory())

    def bump(self, key=None, **amounts):
        """Count one request under `key` (if given) and add `amounts` to totals, as one update."""
        with self._lock:
            if key is not None:
                self.requests[key] += 1
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def request(self, key):
        """Count one request."""
        self.bump(key)

    def tally(self, field, name, n=1):
        """Add `n` to `name` in the Counter-valued field `field`."""
        with self._lock:
            getattr(self, field)[name] += n

    def snapshot(self):
        """JSON-ready counters: `requests` first, then FIELDS in declaration order."""
        with self._lock:  # copy under the lock: requests keep updating the Counters in place
            values = {name: getattr(self, name) for name in ("requests", *self.FIELDS)}
            return {name: dict(value) if isinstance(value, Counter) else value for name, value in values.items()}
