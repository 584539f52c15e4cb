"""Counters of served requests by route template, resource units spent, throttled answers and webhooks."""
from collections import Counter

from emulators._counters import RouteCounters


class Stats(RouteCounters):
    """Thread-safe counters, zeroed by reset."""

    # notifications: posts, delivered, failed_posts, dropped, suppressed (deliver_notifications off), lifecycle
    FIELDS = {"ru": int, "throttled": int, "notifications": Counter}

    def spent(self, units):
        """Add resource units spent on an answered request."""
        self.bump(ru=units)

    def throttle(self):
        """Count one throttled answer."""
        self.bump(throttled=1)

    def count(self, name, n=1):
        """Add to a change-notification counter."""
        self.tally("notifications", name, n)
