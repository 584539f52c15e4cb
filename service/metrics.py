"""Prometheus metrics: counters and histograms fed by one-line hooks, plus state read at scrape time.

Under gunicorn every worker is its own process: prometheus-client's multiprocess mode (the directory in
PROMETHEUS_MULTIPROC_DIR, set before this module is imported; gunicorn.conf.py does it) lets one scrape
add them up, and the sync worker joins in when it shares the directory. Without the variable (the CLI,
tests in one process) the default registry serves. The state gauges (queue, reconciliation) are read from
the database on each scrape, so every replica reports the same numbers.
"""
import contextlib
import datetime as dt
import functools
import logging
import os
import re
import time

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("companion.metrics")
# prometheus-client picks its multiprocess value store from this variable when it is imported; mirror it.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LOGIN_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600)
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

LOGIN_REQUESTS = Counter("companion_login_requests", "ensure() calls (browser leg, inline API, status polls, "
                         "back-provisioning) by the state the user was left in", ["outcome"])
LOGIN_SECONDS = Histogram("companion_login_request_seconds", "Time one ensure() call took, by outcome", ["outcome"],
                          buckets=LOGIN_BUCKETS)
FIRST_LOGIN_SECONDS = Histogram("companion_first_login_seconds", "From a user's first login request to a ready, "
                                "licensed Entra account", buckets=LOGIN_BUCKETS)
STEP_SECONDS = Histogram("companion_provisioning_step_seconds", "Time of one provisioning step by its result",
                         ["step", "result"], buckets=STEP_BUCKETS)
UPSTREAM = Counter("companion_upstream_requests", "HTTP sends to Graph and Auth0 (each retry counts) by "
                   "operation and status", ["system", "operation", "status"])
RETRIES = Counter("companion_upstream_retries", "Sends repeated after a retryable answer", ["system", "operation",
                                                                                             "reason"])
EVENTS = Counter("companion_sync_events", "Sync inbox events handled by the worker, by outcome", ["outcome"])
EVENT_SECONDS = Histogram("companion_sync_event_seconds", "Time to handle one sync event", ["outcome"],
                          buckets=STEP_BUCKETS)
FREE_SEATS = Gauge("companion_licence_free_seats", "Free seats per SKU when subscribedSkus was last read",
                   ["sku"], multiprocess_mode="mostrecent")

# A path segment that names an operation rather than an object: letters, `-`, `$`, `()` and OData casts.
_WORD = re.compile(r"^(?:[$A-Za-z][A-Za-z$()-]*|v\d+(?:\.\d+)?|(?:microsoft\.)?graph\.[A-Za-z]+)$")


def operation(label):
    """`GET /v1.0/users/8f1e…/assignLicense` → `GET /v1.0/users/{id}/assignLicense` (bounded label values)."""
    method, _, path = label.partition(" ")
    if not path.startswith("/"):
        return label  # a fixed name such as "GET export file"
    segments = [s if (not s or _WORD.match(s)) else "{id}" for s in path.split("?")[0].split("/")]
    return f"{method} {'/'.join(segments)}".strip()


def upstream(system, label, resp, error):
    """Count one send: its HTTP status, or the transport error's class name."""
    status = str(resp.status_code) if resp is not None else type(error).__name__
    UPSTREAM.labels(system, operation(label), status).inc()


def retry(system, label, resp, error):
    """Count one retry and why (a status such as 429, or a transport error)."""
    reason = str(resp.status_code) if resp is not None and error is None else type(error).__name__
    RETRIES.labels(system, operation(label), reason).inc()


@contextlib.contextmanager
def step(name):
    """Time one provisioning step; the result is `ok` or the exception's class (wait, transient, …)."""
    started, result = time.monotonic(), "ok"
    try:
        yield
    except Exception as exc:
        result = type(exc).__name__.lstrip("_").lower()
        raise
    finally:
        STEP_SECONDS.labels(name, result).observe(time.monotonic() - started)


def first_login_ready(created_at, now=None):
    """Observe the time from the link's creation (the first login request) to ready."""
    now = now or dt.datetime.now(dt.timezone.utc)
    FIRST_LOGIN_SECONDS.observe(max(0.0, (now - _utc(created_at)).total_seconds()))


def _observed(counter, histogram, outcome_of):
    """A decorator counting each call's outcome and timing it by outcome (`error`/`retry` when it raised)."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started, outcome = time.monotonic(), "error"
            try:
                result = function(*args, **kwargs)
                outcome = outcome_of(result)
                return result
            except Exception as exc:
                outcome = "retry" if type(exc).__name__ == "RetryTask" else "error"  # huey's "try again later"
                raise
            finally:
                counter.labels(outcome).inc()
                histogram.labels(outcome).observe(time.monotonic() - started)
        return wrapper
    return decorate


# Provisioner.ensure: the state the user was left in (ready, pending, failed).
timed_login = _observed(LOGIN_REQUESTS, LOGIN_SECONDS, lambda outcome: outcome.state)
# The worker's event task: the handler's word (done, held, failed, synced …); None means another worker had it.
counted_event = _observed(EVENTS, EVENT_SECONDS, lambda result: result or "duplicate")


def seats(skus):
    """Record free seats of every SKU subscribedSkus returned."""
    for sku in skus:
        free = int(sku.get("prepaidUnits", {}).get("enabled", 0)) - int(sku.get("consumedUnits", 0))
        FREE_SEATS.labels(sku.get("skuPartNumber", sku.get("skuId", "?"))).set(free)


class StateCollector:
    """Queue depth, oldest queued event and the last reconciliation, read when Prometheus scrapes."""

    def __init__(self, read_state):
        self.read_state = read_state  # () -> dict shaped like state_of()

    def collect(self):
        try:
            state = self.read_state()
        except Exception:  # a scrape must still answer while the database or Redis is down
            log.exception("metrics: the queue and reconciliation state could not be read")
            yield GaugeMetricFamily("companion_state_up", "1 when the state gauges could be read", value=0.0)
            return
        yield GaugeMetricFamily("companion_state_up", "1 when the state gauges could be read", value=1.0)
        inbox = GaugeMetricFamily("companion_sync_inbox_events", "Sync inbox events by status", labels=["status"])
        for status, count in sorted(state["inbox"].items()):
            inbox.add_metric([status], count)
        yield inbox
        yield GaugeMetricFamily("companion_sync_oldest_queued_seconds", "Age of the oldest queued sync event "
                                "(0 when none waits)", value=state["oldest_queued_s"])
        yield GaugeMetricFamily("companion_queue_pending_jobs", "Jobs waiting in the huey queue",
                                value=state["queue_pending"])
        yield from _reconcile_families(state.get("reconcile"))


def _reconcile_families(run):
    if run is None:
        return
    yield GaugeMetricFamily("companion_reconcile_last_run_timestamp_seconds", "When the newest reconciliation "
                            "run finished (started, while it runs)", value=run["at"])
    yield GaugeMetricFamily("companion_reconcile_last_run_failed", "1 when the newest run failed",
                            value=1.0 if run["status"] == "failed" else 0.0)
    findings = GaugeMetricFamily("companion_reconcile_last_run_findings", "Findings of the newest run by class",
                                 labels=["class"])
    for kind, count in sorted(run["by_class"].items()):
        findings.add_metric([kind], count)
    yield findings


def state_of(companion):
    """What the state gauges report, from the database and the queue (one small query each)."""
    from service.reconcile import runs
    from service.sync import inbox
    counts, oldest = inbox.backlog(companion.store)
    age = (dt.datetime.now(dt.timezone.utc) - _utc(oldest)).total_seconds() if oldest else 0.0
    return {"inbox": counts, "oldest_queued_s": max(0.0, age), "queue_pending": companion.queue.pending_count(),
            "reconcile": runs.newest_summary(companion.store)}


def _utc(when):
    """SQLite hands timestamps back without their zone; they are UTC."""
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when


def exposition(read_state):
    """(body, content type) of one scrape: process metrics (all processes in multiprocess mode) and state."""
    state_registry = CollectorRegistry()
    state_registry.register(StateCollector(read_state))
    if MULTIPROCESS:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(state_registry), CONTENT_TYPE_LATEST
