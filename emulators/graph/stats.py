"""Counters of served requests by route template, resource units spent, throttled answers and webhooks."""
import collections
import threading


class Stats:
    """Thread-safe counters, zeroed by reset."""

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self):
        with self._lock:
            self.requests, self.ru, self.throttled = collections.Counter(), 0, 0
            # posts, delivered, failed_posts, dropped, suppressed (deliver_notifications off), lifecycle
            self.notifications = collections.Counter()

    def request(self, key):
        with self._lock:
            self.requests[key] += 1

    def spent(self, units):
        with self._lock:
            self.ru += units

    def throttle(self):
        with self._lock:
            self.throttled += 1

    def count(self, name, n=1):
        """Add to a change-notification counter."""
        with self._lock:
            self.notifications[name] += n

    def snapshot(self):
        with self._lock:
            return {"requests": dict(self.requests), "ru": self.ru, "throttled": self.throttled,
                    "notifications": dict(self.notifications)}
