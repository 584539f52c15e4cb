"""Durable background work on huey (SQLite by default, Redis when QUEUE_URL names one).

Every unit of work is first a row in the sync inbox (service.sync.inbox); the queue only carries its
id. A job lost with a killed worker is re-driven from the inbox, and handlers are idempotent, so each
change takes effect once.
"""
import logging
import os
import time

from filelock import FileLock
from huey import RedisHuey, SqliteHuey
from huey.exceptions import RetryTask

from service import metrics
from service.errors import Transient
from service.sync import inbox

log = logging.getLogger("companion.jobs")
QUEUE_NAME = "entra-companion"
_tasks = {}
_context = {}  # the worker's SyncContext, set by bind()


def make_queue(queue_url):
    """A huey instance for QUEUE_URL: redis://… → Redis, sqlite:///path → a SQLite file."""
    if queue_url.startswith(("redis://", "rediss://")):
        return RedisHuey(QUEUE_NAME, url=queue_url)
    path = queue_url[len("sqlite:///"):] if queue_url.startswith("sqlite:///") else queue_url
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    # One process at a time: processes opening a new file at once (web workers booting together) failed
    # with "database is locked", as turning it to WAL takes the whole file, and gunicorn stopped.
    with FileLock(path + ".open.lock", timeout=60):
        return SqliteHuey(QUEUE_NAME, filename=path)


def register(huey):
    """Declare the tasks on huey (the web and the worker process both do this; names must match)."""
    _tasks["process"] = huey.task(name="process_event")(_process_event)
    return _tasks


def bind(context):
    """Give the worker's tasks their SyncContext (clients, store, config)."""
    _context["ctx"] = context


def enqueue(event_id):
    """Send an inbox event to the queue (call after the inbox row is committed)."""
    _tasks["process"](event_id)


@metrics.counted_event
def _process_event(event_id):
    """Run the handler for one inbox event, once in effect; one log line says how it went."""
    ctx = _context["ctx"]
    if not inbox.claim(ctx.store, event_id):
        return None  # finished already, or another worker runs it (a duplicate job)
    event, started = inbox.get(ctx.store, event_id), time.monotonic()
    fields = {"event_id": event_id, "kind": event.kind, "object_id": event.object_id, "attempt": event.attempts + 1}
    try:
        outcome = ctx.dispatch(event)
    except Transient as why:
        return _retry_or_fail(ctx, event, why, fields, started)
    except Exception as why:  # a bug or a bad answer: park it where operators can see and re-drive it
        vendor = why.log_fields() if hasattr(why, "log_fields") else None  # our errors name the vendor's answer
        log.exception("sync event", extra={"fields": {**fields, "outcome": "failed", "ms": _ms(started),
                                                      "error": vendor}})
        inbox.mark(ctx.store, event_id, "failed", f"{type(why).__name__}: {why}", attempt=True)
        return "failed"
    inbox.mark(ctx.store, event_id, outcome if outcome == "held" else "done", attempt=True)
    log.info("sync event", extra={"fields": {**fields, "outcome": outcome, "ms": _ms(started)}})
    return outcome


def _ms(started):
    return round((time.monotonic() - started) * 1000, 1)


def _retry_or_fail(ctx, event, why, fields, started):
    """Transient trouble: retry with exponential backoff, then give up visibly."""
    detail = {**fields, "ms": _ms(started), "error": why.log_fields()}
    if event.attempts + 1 >= inbox.MAX_ATTEMPTS:
        inbox.mark(ctx.store, event.id, "failed", str(why), attempt=True)
        log.error("sync event", extra={"fields": {**detail, "outcome": "failed"}})
        return "failed"
    inbox.mark(ctx.store, event.id, "queued", str(why), attempt=True)
    delay = min(2 ** event.attempts, 300)
    log.warning("sync event", extra={"fields": {**detail, "outcome": "retry", "retry_in_s": delay}})
    raise RetryTask(delay=delay)
