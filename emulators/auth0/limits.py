"""Run-time knobs that model the real service: token-bucket rate limit, injected faults, counters."""
import math
import re
import threading
import time

from emulators._counters import RouteCounters
from emulators.auth0.errors import Auth0Error

FAULT_KINDS = ("status", "timeout", "drop")


class TokenBucket:
    """Auth0's limiter: bucket size = burst, refilled at the sustained rate (facts §3.6)."""

    def __init__(self, rate):
        self._lock = threading.Lock()
        self.configure(rate)

    def configure(self, rate):
        """New rate (requests per second); the bucket starts full."""
        with self._lock:
            self.rate = float(rate)
            self.capacity = max(1, int(math.ceil(self.rate)))
            self.tokens, self.stamp = float(self.capacity), time.monotonic()

    def take(self):
        """(allowed, x-ratelimit-* headers) for one request."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            allowed = self.tokens >= 1
            if allowed:
                self.tokens -= 1
            return allowed, self._headers(now)

    def peek(self):
        """The x-ratelimit-* headers as they stand, without spending a token."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            return self._headers(now)

    def _headers(self, now):
        """Limit, remaining and the UNIX second when a token is next added."""
        wait = 0.0 if self.tokens >= self.capacity else (1 - (self.tokens % 1)) / self.rate
        reset = math.ceil(time.time() + wait)
        return {"x-ratelimit-limit": str(self.capacity), "x-ratelimit-remaining": str(int(self.tokens)),
                "x-ratelimit-reset": str(reset)}


class Faults:
    """Injected failures: `{"method", "path" (regex on the full path), "kind", "status", "count", ...}`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self.wake = threading.Event()  # set on reset so requests held by a "timeout" fault return

    def add(self, rules):
        """Validate and append rules; a bad rule raises Auth0Error(400) naming the problem."""
        parsed = [self._parse(rule) for rule in rules]
        with self._lock:
            self._rules.extend(parsed)
            return [dict(r, path=r["path"].pattern) for r in self._rules]

    @staticmethod
    def _parse(rule):
        """One rule with defaults: any method, status 503, count 1 (null = every matching request)."""
        if not isinstance(rule, dict) or rule.get("kind", "status") not in FAULT_KINDS:
            raise Auth0Error(400, f"fault kind must be one of {FAULT_KINDS}: {rule!r}")
        try:
            path = re.compile(rule.get("path", ".*"))
        except re.error as exc:
            raise Auth0Error(400, f"fault path is not a regex: {exc}") from None
        return {"method": (rule.get("method") or "").upper() or None, "path": path,
                "kind": rule.get("kind", "status"), "status": int(rule.get("status", 503)),
                "count": rule.get("count", 1), "retry_after": rule.get("retry_after"),
                "seconds": float(rule.get("seconds", 30))}

    def take(self, method, path):
        """The first rule matching this request (its count spent), or None."""
        with self._lock:
            for rule in self._rules:
                if rule["method"] not in (None, method) or not rule["path"].search(path):
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self._rules.remove(rule)
                return dict(rule)
        return None

    def clear(self):
        """Drop every rule and release requests held by timeout faults."""
        with self._lock:
            self._rules.clear()
        self.wake.set()
        self.wake = threading.Event()


class Stats(RouteCounters):
    """Request counters keyed by method + route template, since the last reset."""

    FIELDS = {"throttled": int, "faulted": int, "tokens_issued": int}

    def count(self, key, throttled=False, faulted=False):
        """Count one request."""
        self.bump(key, throttled=int(throttled), faulted=int(faulted))

    def token_issued(self):
        """Count one access token handed out (M2M tokens have a monthly quota, facts §3.7)."""
        self.bump(tokens_issued=1)
