"""Event Streams: `user.created`, `user.updated` and `user.deleted` POSTed to webhooks by a background thread.

What Auth0 documents (facts §4.2; auth0/docs-v2 at main/docs/…) and this module reproduces:
- The payload is a CloudEvent: `specversion` "1.0", `type` "user.created" (the bare event type), `source`
  "urn:auth0:<tenant domain>", `id` "evt_" + 16 alphanumerics, `time`, `data.object` = the user as the
  Management API shows it (`user.deleted` adds `deleted_at`), `a0tenant` = the tenant name and `a0stream` =
  the stream id ("est_" + 16) — oas/events/events-schema.json, schemas `user.created`/`user.updated`/
  `user.deleted` and their examples. (customize/events/event-types.mdx still shows an older sample with
  `com.auth0.user.*` types and `spec_version`; the schema, the catalogue and the webhook sample in
  event-testing-observability-and-failure-recovery.mdx all use the shape above.)
- The webhook gets `Authorization: Bearer <token>` (create-an-event-stream.mdx, `webhook_authorization`).
- At least once: an event keeps its id across retries; order is not guaranteed (events-best-practices.mdx).
- Four attempts in all, backing off 1 s, 2 s, 4 s; any 4xx fails the event at once (events-best-practices.mdx).
- A stream is disabled after three consecutive failures or 5000 failures in total (events-best-practices.mdx).
  That page says "three consecutive delivery attempt failures", which taken per attempt would disable a
  stream before any event used its four attempts; we count failed *events*, as facts §4.2 reads it.
"""
import copy
import heapq
import itertools
import json
import threading
import time

import requests

from emulators.auth0 import users as U
from emulators.auth0.errors import Auth0Error
from emulators.auth0.store import new_id, now_iso

EVENT_TYPES = ("user.created", "user.updated", "user.deleted")
MAX_ATTEMPTS = 4
DISABLE_AFTER_IN_A_ROW = 3
DISABLE_AFTER_TOTAL = 5000
DELIVERIES_KEPT = 10000  # delivery records kept per stream (the oldest are dropped)


class EventStreams:
    """The tenant's event streams, their delivery queue and the thread that works through it."""

    def __init__(self, domain, knobs):
        self.domain, self.knobs = domain, knobs  # knobs: a callable returning the live knob dict
        self.cond = threading.Condition()
        self.seq = itertools.count()
        self.generation, self.worker_generation = 0, -1
        self.streams, self.heap, self.inflight = {}, [], 0

    # streams ---------------------------------------------------------------
    def create(self, body):
        """Register a webhook stream from `{"url", "authorization"?, "events"?, "name"?}`."""
        url, auth, events, name = _check_stream(body)
        stamp = now_iso()
        with self.cond:
            stream = {"id": new_id("est_"), "name": name or f"stream-{len(self.streams) + 1}", "status": "enabled",
                      "created_at": stamp, "updated_at": stamp, "url": url, "auth": auth, "events": events,
                      "deliveries": [], "failures_in_a_row": 0, "failures_total": 0, "dropped": 0}
            self.streams[stream["id"]] = stream
            return public(stream)

    def get(self, stream_id=None):
        """One stream's public view, or all of them."""
        with self.cond:
            if stream_id is None:
                return [public(s) for s in self.streams.values()]
            return public(self._stream(stream_id))

    def set_status(self, stream_id, status):
        """Enable (clearing the failure run) or disable a stream by hand."""
        if status not in ("enabled", "disabled"):
            raise Auth0Error(400, 'status must be "enabled" or "disabled"')
        with self.cond:
            stream = self._stream(stream_id)
            if status == "disabled":
                self._disable(stream, "disabled through the control API")
            else:
                stream.update(status="enabled", failures_in_a_row=0, updated_at=now_iso())
                stream.pop("disabled_reason", None)
                stream.pop("disabled_at", None)
            return public(stream)

    def delete(self, stream_id):
        """Remove a stream; its queued deliveries are dropped."""
        with self.cond:
            stream = self._stream(stream_id)
            del self.streams[stream_id]
            self._purge(stream, None)
            self.cond.notify_all()

    def _stream(self, stream_id):
        """The stream or a 404."""
        stream = self.streams.get(stream_id)
        if stream is None:
            raise Auth0Error(404, f"no event stream {stream_id!r}")
        return stream

    # events ----------------------------------------------------------------
    def emit(self, event_type, user, **extra):
        """Queue one event for every enabled stream subscribed to it; the id, or None when nobody listens."""
        if not self.streams:  # the common case (benchmarks seeding 100,000 users): no lock, no copy
            return None
        with self.cond:
            targets = [s for s in self.streams.values() if s["status"] == "enabled" and event_type in s["events"]]
            if not targets:
                return None
            if not self.knobs()["deliver_events"]:
                for stream in targets:  # the knob models a gap: Auth0 lost these events
                    stream["dropped"] += 1
                return None
            event = {"specversion": "1.0", "type": event_type, "source": f"urn:auth0:{self.domain}",
                     "id": new_id("evt_"), "time": now_iso(),
                     "data": {"object": dict(copy.deepcopy(U.public(user)), **extra)},
                     "a0tenant": self.domain.split(".")[0]}
            for stream in targets:
                self._queue(stream, dict(event, a0stream=stream["id"]))
            self._ensure_worker()
            self.cond.notify_all()
            return event["id"]

    def _queue(self, stream, event):
        """A delivery record on the stream and its first attempt on the queue, due now."""
        record = {"event_id": event["id"], "event_type": event["type"],
                  "user_id": event["data"]["object"].get("user_id"), "status": "pending", "attempts": [],
                  "queued_at": now_iso()}
        stream["deliveries"].append(record)
        del stream["deliveries"][:-DELIVERIES_KEPT]
        job = {"stream": stream, "event": event, "record": record}
        heapq.heappush(self.heap, (time.monotonic(), next(self.seq), job))

    def pending(self):
        """Deliveries queued, waiting for a retry, or being attempted."""
        with self.cond:
            return len(self.heap) + self.inflight

    def flush(self, timeout_s):
        """Wait until every queued delivery has succeeded or failed for good; the number still pending."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while self.heap or self.inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            return len(self.heap) + self.inflight

    def reset(self):
        """Forget every stream and queued delivery; an attempt under way is finished but not recorded."""
        with self.cond:
            self.generation += 1
            self.streams, self.heap, self.inflight = {}, [], 0
            self.cond.notify_all()

    # the worker ------------------------------------------------------------
    def _ensure_worker(self):
        """Start the delivery thread of this generation if it is not running (caller holds the lock)."""
        if self.worker_generation != self.generation:
            self.worker_generation = self.generation
            threading.Thread(target=self._work, args=(self.generation,), daemon=True,
                             name="auth0-event-streams").start()

    def _work(self, generation):
        """Deliver due jobs one at a time until a reset starts a new generation."""
        with requests.Session() as http:  # one per thread: a worker of the last generation may still be posting
            http.trust_env = False  # loopback receivers: no proxy or CA-bundle variables from the environment
            while True:
                with self.cond:
                    job = self._next_job(generation)
                    if job is None:
                        return
                outcome = self._post(http, job)
                with self.cond:
                    if self.generation != generation:
                        return
                    self.inflight -= 1
                    self._settle(job, outcome)
                    self.cond.notify_all()

    def _next_job(self, generation):
        """Wait for the earliest due job and claim it (caller holds the lock); None after a reset."""
        while self.generation == generation:
            if not self.heap:
                self.cond.wait()
                continue
            due = self.heap[0][0] - time.monotonic()
            if due > 0:
                self.cond.wait(due)
                continue
            job = heapq.heappop(self.heap)[2]
            stream = job["stream"]
            job.update(url=stream["url"], auth=stream["auth"], timeout=float(self.knobs()["stream_timeout_s"]))
            self.inflight += 1
            return job
        return None

    @staticmethod
    def _post(http, job):
        """One HTTP attempt (no lock held): `{"status": n}` or `{"error": "<exception name>"}`."""
        headers = {"Content-Type": "application/json"}
        if job["auth"]:
            headers["Authorization"] = job["auth"]
        try:
            resp = http.post(job["url"], data=json.dumps(job["event"]), headers=headers, timeout=job["timeout"],
                                  allow_redirects=False)
            resp.close()
            return {"status": resp.status_code}
        except requests.RequestException as exc:
            return {"error": type(exc).__name__}

    def _settle(self, job, outcome):
        """Record an attempt, then mark the event delivered, retry it later, or fail it (lock held)."""
        record, stream = job["record"], job["stream"]
        record["attempts"].append({"at": now_iso(), **outcome})
        status = outcome.get("status")
        if status is not None and 200 <= status < 300:
            record.update(status="delivered", completed_at=now_iso())
            stream["failures_in_a_row"] = 0
            return
        if self.streams.get(stream["id"]) is not stream:
            record.update(status="failed", completed_at=now_iso())  # deleted while the attempt ran
            return
        client_error = status is not None and 400 <= status < 500  # "retrying is unlikely to change the response"
        tries = len(record["attempts"])
        if not client_error and tries < MAX_ATTEMPTS and stream["status"] == "enabled":
            delay = float(self.knobs()["stream_retry_s"]) * 2 ** (tries - 1)  # 1 s, 2 s, 4 s by default
            heapq.heappush(self.heap, (time.monotonic() + delay, next(self.seq), job))
            return
        self._fail(stream, record)

    def _fail(self, stream, record, reason=None):
        """An event failed for good; three in a row (or 5000 in all) disable the stream."""
        record.update(status="failed", completed_at=now_iso())
        if reason:
            record["error"] = reason
            return
        stream["failures_in_a_row"] += 1
        stream["failures_total"] += 1
        if stream["status"] != "enabled":
            return
        if stream["failures_in_a_row"] >= DISABLE_AFTER_IN_A_ROW:
            self._disable(stream, f"{DISABLE_AFTER_IN_A_ROW} consecutive failed events")
        elif stream["failures_total"] >= DISABLE_AFTER_TOTAL:
            self._disable(stream, f"{DISABLE_AFTER_TOTAL} failed events in total")

    def _disable(self, stream, reason):
        """Stop a stream: Auth0 sends nothing to disabled streams, so its queued events fail now."""
        stamp = now_iso()
        stream.update(status="disabled", disabled_reason=reason, disabled_at=stamp, updated_at=stamp)
        self._purge(stream, "stream disabled")

    def _purge(self, stream, reason):
        """Take a stream's jobs off the queue, failing their records with `reason` (None: just drop them)."""
        keep = []
        for item in self.heap:
            if item[2]["stream"] is stream:
                if reason:
                    self._fail(stream, item[2]["record"], reason)
            else:
                keep.append(item)
        heapq.heapify(keep)
        self.heap = keep


def _check_stream(body):
    """(url, authorization, events, name) from a create body, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise Auth0Error(400, 'stream body must be {"url", "authorization", "events"}')
    unknown = set(body) - {"url", "authorization", "events", "name"}
    if unknown:
        raise Auth0Error(400, f"unknown stream fields {sorted(unknown)}")
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise Auth0Error(400, "url must be an http(s) URL")
    auth = body.get("authorization")
    if auth is not None and (not isinstance(auth, str) or auth.split(" ")[0].lower() not in ("bearer", "basic")):
        raise Auth0Error(400, 'authorization must be "Bearer <token>" or "Basic <credentials>"')
    events = body.get("events", list(EVENT_TYPES))
    if not isinstance(events, list) or not events or any(e not in EVENT_TYPES for e in events):
        raise Auth0Error(400, f"events must be a non-empty list drawn from {list(EVENT_TYPES)}")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise Auth0Error(400, "name must be a string")
    return url, auth, list(dict.fromkeys(events)), name


def public(stream):
    """A stream as Auth0's API shows it (the token never leaves), plus the emulator's delivery records."""
    method = stream["auth"].split(" ")[0].lower() if stream["auth"] else None
    config = {"webhook_endpoint": stream["url"]}
    if method:
        config["webhook_authorization"] = {"method": method}
    out = {k: stream[k] for k in ("id", "name", "status", "created_at", "updated_at")}
    out.update(subscriptions=[{"event_type": e} for e in stream["events"]],
               destination={"type": "webhook", "configuration": config},
               deliveries=copy.deepcopy(stream["deliveries"]),
               **{k: stream[k] for k in ("failures_in_a_row", "failures_total", "dropped")})
    out.update({k: stream[k] for k in ("disabled_reason", "disabled_at") if k in stream})
    return out
