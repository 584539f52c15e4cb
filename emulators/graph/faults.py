"""Injected faults: error statuses, slow answers and dropped connections, matched by method and path."""
import re
import threading

from emulators.graph.errors import GraphError

KINDS = ("status", "timeout", "drop", "delay_response")
# Error codes Graph uses for these statuses (Learn `graph/errors`).
CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceNotAvailable",
         504: "GatewayTimeout"}


class Rule:
    """One fault rule; `count` None means every matching request until reset."""

    def __init__(self, spec):
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {KINDS}")
        # delay_response = run the request, then hold its answer: a timeout applied after the work.
        self.kind = "timeout" if spec["kind"] == "delay_response" else spec["kind"]
        self.method = (spec.get("method") or "").upper() or None
        self.path = re.compile(spec.get("path") or ".*")
        self.count = spec.get("count")
        self.status = int(spec.get("status", 503))
        self.seconds = float(spec.get("seconds", 30))
        self.retry_after = spec.get("retry_after")
        self.when = "after" if spec["kind"] == "delay_response" else spec.get("when", "before")
        self.code, self.message = spec.get("code"), spec.get("message")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError("count must be a positive integer")
        if not 400 <= self.status <= 599 or self.seconds < 0 or self.when not in ("before", "after"):
            raise ValueError("status must be 4xx/5xx, seconds >= 0, when 'before' or 'after'")
        self.spec = dict(spec)

    def error(self):
        """The GraphError a status fault answers with."""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        code = self.code or CODES.get(self.status, "UnknownError")
        return GraphError(self.status, code, self.message or "Injected fault (emulator).", headers=headers)

    def describe(self):
        """The rule as given, with the count still to go."""
        return dict(self.spec, remaining=self.count)


class Faults:
    """The active rules; reset() clears them and wakes requests sleeping in a timeout fault."""

    def __init__(self):
        self._rules, self._lock = [], threading.Lock()
        self._wake = threading.Event()

    def add(self, specs):
        """Append rules (ValueError on a bad one; none are added then)."""
        rules = [Rule(spec) for spec in specs]
        with self._lock:
            self._rules.extend(rules)
        return [r.describe() for r in rules]

    def take(self, method, path, inner=False):
        """The first rule matching this request, counting it down; None when none applies."""
        with self._lock:
            for rule in self._rules:
                if rule.count == 0 or (rule.method and rule.method != method):
                    continue
                if inner and rule.kind == "drop":
                    continue  # an inner $batch request has no connection of its own to drop
                if rule.path.search(path):
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
            return None

    def sleep(self, seconds):
        """Sleep; False when a reset cut the sleep short (the request is then abandoned)."""
        return not self._wake.wait(seconds)

    def clear(self):
        """Remove every rule and release sleepers."""
        with self._lock:
            self._rules = []
            self._wake.set()
            self._wake = threading.Event()

    def describe(self):
        with self._lock:
            return [r.describe() for r in self._rules]
