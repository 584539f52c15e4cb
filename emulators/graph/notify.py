"""Webhook traffic: the validation handshake and a background thread that delivers notifications.

Learn `change-notifications-delivery-webhooks` (facts §6.2-6.4): the handshake is a POST of
`?validationToken=` answered 200 text/plain with the decoded token within 10 s; a notification POST
is delivered when the endpoint answers 2xx, otherwise retried with exponential back-off. Several
notifications for one URL travel in one POST when they pile up. The sandbox scales the back-off
down (knob `notification_retry_s`) and gives up after `notification_max_attempts`.
"""
import heapq
import itertools
import json
import os
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from emulators.graph.store import now_iso

MAX_BATCH = 100
# Real Graph sends a sentence with a request id (microsoft-graph-docs issue #21160): spaces and
# colons, so an endpoint that echoes the still-encoded query value fails, as it would in production.
TOKEN_TEXT = "Validation: Testing client application reachability for subscription Request-Id: {}"


def _system_trust():
    """The OS CA bundle for https endpoints (not this environment's REQUESTS_CA_BUNDLE)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.exists(candidate):
            return candidate
    return True


def _session():
    http = requests.Session()
    http.trust_env = False  # no proxies or CA overrides from the environment: loopback receivers
    http.verify = _system_trust()
    return http


def handshake(url, timeout):
    """None when the endpoint passes validation, else Graph's error message (facts §6.2)."""
    token = TOKEN_TEXT.format(uuid.uuid4())
    joiner = "&" if "?" in url else "?"
    try:
        with _session() as http:
            reply = http.post(f"{url}{joiner}validationToken={quote(token, safe='')}", data=b"",
                              headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=timeout,
                              allow_redirects=False)
    except requests.Timeout:
        return "Subscription validation request timed out."
    except requests.RequestException:
        return "Subscription validation request failed. Notification endpoint must respond with 200 OK to " \
               "validation request."
    if reply.status_code != 200:
        return "Subscription validation request failed. Notification endpoint must respond with 200 OK to " \
               "validation request."
    plain = reply.headers.get("Content-Type", "").split(";")[0].strip().lower() == "text/plain"
    if not plain or reply.content.decode("utf-8", "replace") != token:
        return "Subscription validation request failed. Response must exactly match validationToken query " \
               "parameter."
    return None


@dataclass
class Item:
    """One notification on its way: where, what, for which subscription, when it is due."""

    url: str
    kind: str  # "change" | "lifecycle": never mixed in one POST
    payload: dict
    subscription_id: str
    due: float
    ready: object = None  # callable -> seconds still to wait (replication lag), or None
    attempt: int = 0
    seq: int = field(default_factory=itertools.count().__next__)


class Delivery:
    """The queue of notifications and the thread that POSTs them; `settings()` gives the knobs."""

    def __init__(self, stats, settings):
        self.stats, self.settings = stats, settings
        self._cond = threading.Condition()
        self._heap, self._busy, self._generation = [], 0, 0
        self.attempts = {}  # subscription id -> [{time, kind, attempt, notifications, status, error}]
        self._thread = None
        self._http = _session()

    def enqueue(self, *items):
        """Queue notifications at once, so that they can share a POST (starts the worker on first use)."""
        with self._cond:
            for item in items:
                heapq.heappush(self._heap, (item.due, item.seq, item))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="graph-notify", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def clear(self):
        """Forget everything queued and recorded; answers still in flight are ignored."""
        with self._cond:
            self._heap, self._generation = [], self._generation + 1
            self.attempts = {}
            self._cond.notify_all()

    def flush(self, timeout):
        """Wait until nothing is queued or in flight; False when the timeout came first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def pending(self):
        with self._cond:
            return len(self._heap) + self._busy

    def recorded(self, subscription_id):
        with self._cond:
            return list(self.attempts.get(subscription_id, ()))

    def _run(self):
        while True:
            batch, generation = self._next_batch()
            status, error = self._post(batch)
            with self._cond:
                self._busy -= 1
                if generation == self._generation:
                    self._settle(batch, status, error)
                self._cond.notify_all()

    def _next_batch(self):
        """Block until items are due; take up to MAX_BATCH of them for one URL and kind."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    batch = self._take_due(now)
                    if batch:
                        self._busy += 1
                        return batch, self._generation
                    continue
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def _take_due(self, now):
        """Due items sharing the first one's URL and kind; items still hidden by lag go back."""
        batch, later = [], []
        while self._heap and self._heap[0][0] <= now and len(batch) < MAX_BATCH:
            item = heapq.heappop(self._heap)[2]
            wait = item.ready() if item.ready else 0
            if wait > 0:
                item.due = now + wait
                later.append(item)
            elif batch and (item.url, item.kind) != (batch[0].url, batch[0].kind):
                later.append(item)
            else:
                batch.append(item)
        for item in later:
            heapq.heappush(self._heap, (item.due, item.seq, item))
        return batch

    def _post(self, batch):
        """(HTTP status or None, error text or None) of one POST."""
        body = json.dumps({"value": [item.payload for item in batch]}, separators=(",", ":")).encode()
        _, timeout, _ = self.settings()
        try:
            reply = self._http.post(batch[0].url, data=body, timeout=timeout, allow_redirects=False,
                                    headers={"Content-Type": "application/json; charset=utf-8"})
            return reply.status_code, None
        except requests.RequestException as exc:
            return None, type(exc).__name__

    def _settle(self, batch, status, error):
        """Record the attempt per subscription; schedule a retry or drop after the last attempt."""
        retry_s, _, max_attempts = self.settings()
        delivered = status is not None and 200 <= status < 300
        self.stats.count("posts")
        self.stats.count("delivered" if delivered else "failed_posts", len(batch) if delivered else 1)
        per_subscription = {}
        for item in batch:
            item.attempt += 1
            per_subscription.setdefault(item.subscription_id, []).append(item)
        for sid, items in per_subscription.items():
            self.attempts.setdefault(sid, []).append({
                "time": now_iso(), "kind": batch[0].kind, "attempt": items[0].attempt, "url": batch[0].url,
                "notifications": len(items), "status": status, "error": error, "delivered": delivered})
        if delivered:
            return
        for item in batch:
            if item.attempt >= max_attempts:
                self.stats.count("dropped")
                continue
            item.due = time.monotonic() + retry_s * 2 ** (item.attempt - 1)
            heapq.heappush(self._heap, (item.due, item.seq, item))
