"""The sync inbox: events are written before they are queued, and marked done after their handler ran."""
import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from service.models import SyncEvent, SyncState, utcnow

MAX_ATTEMPTS = 8


def record(store, kind, object_id, source, **detail):
    """Add a queued event; return its id (the caller enqueues it after this commit)."""
    with store.session() as session:
        event = SyncEvent(kind=kind, object_id=object_id, source=source, status="queued", attempts=0,
                          detail=detail)
        session.add(event)
        session.flush()
        return event.id


def record_once(store, kind, object_id, source, key, window_s, **detail):
    """Like record(), but None while an event with the same key, recorded less than window_s ago, still waits.

    The key is unique in the table, so two web workers receiving the same copy at once still make one row;
    claim() frees it, so at most one event per key waits in the queue however often a copy is replayed.
    """
    cutoff = utcnow() - dt.timedelta(seconds=window_s)
    with store.session() as session:  # an older twin no longer collapses anything: free its key
        session.execute(update(SyncEvent).where(SyncEvent.dedup_key == key, SyncEvent.created_at < cutoff)
                        .values(dedup_key=None))
    try:
        with store.session() as session:
            event = SyncEvent(kind=kind, object_id=object_id, source=source, status="queued", attempts=0,
                              detail=detail, dedup_key=key)
            session.add(event)
            session.flush()
            return event.id
    except IntegrityError:
        return None


def get(store, event_id):
    """One event, or None."""
    with store.session() as session:
        return session.get(SyncEvent, event_id)


def mark(store, event_id, status, error=None, attempt=False):
    """Set an event's status (and count an attempt)."""
    values = {"status": status, "last_error": error, "updated_at": utcnow()}
    if attempt:
        values["attempts"] = SyncEvent.attempts + 1
    with store.session() as session:
        session.execute(update(SyncEvent).where(SyncEvent.id == event_id).values(**values))


def claim(store, event_id):
    """Move a queued event to running; False when another worker has it or it is finished."""
    with store.session() as session:
        # Running frees the de-duplication key: a copy arriving now may report a change made after the
        # handler read the user, so it must be queued again.
        result = session.execute(update(SyncEvent).where(SyncEvent.id == event_id, SyncEvent.status == "queued")
                                 .values(status="running", updated_at=utcnow(), dedup_key=None))
        return result.rowcount == 1


def redrive_stale(store, older_than_s, limit=500):
    """Queued or running events untouched for a while (job lost, worker killed): queue them again."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
    with store.session() as session:
        rows = session.scalars(select(SyncEvent).where(SyncEvent.status.in_(("queued", "running")),
                                                       SyncEvent.updated_at < cutoff)
                               .order_by(SyncEvent.id).limit(limit)).all()
        for row in rows:
            row.status, row.updated_at = "queued", utcnow()
        return [row.id for row in rows]


def listing(store, status, limit=200):
    """Events in one status, newest first (failed and held ones are what operators look at)."""
    with store.session() as session:
        return session.scalars(select(SyncEvent).where(SyncEvent.status == status)
                               .order_by(SyncEvent.id.desc()).limit(limit)).all()


def requeue(store, event_ids, approved=False):
    """Put failed or held events back in the queue; approved ones skip the threshold once."""
    with store.session() as session:
        rows = session.scalars(select(SyncEvent).where(SyncEvent.id.in_(event_ids),
                                                       SyncEvent.status.in_(("failed", "held")))).all()
        for row in rows:
            row.status, row.attempts = "queued", 0
            if approved:
                row.detail = {**row.detail, "approved": True}
        return [row.id for row in rows]


def state_get(store, key, default=None):
    """A durable sync-state value."""
    with store.session() as session:
        row = session.get(SyncState, key)
        return row.value if row else default


def state_set(store, key, value):
    """Store a durable sync-state value; the last writer wins, also when two write a new key at once."""
    for attempt in (1, 2):
        try:
            with store.session() as session:
                row = session.get(SyncState, key)
                if row is None:
                    session.add(SyncState(key=key, value=value))
                else:
                    row.value = value
            return
        except IntegrityError:
            if attempt == 2:
                raise  # not the race (it cannot repeat once the row exists): a real fault


def backlog(store):
    """({status: count} of unfinished and parked events, created_at of the oldest queued one or None)."""
    with store.session() as session:
        counts = dict(session.execute(select(SyncEvent.status, func.count()).where(
            SyncEvent.status.in_(("queued", "running", "failed", "held"))).group_by(SyncEvent.status)).all())
        oldest = session.scalar(select(func.min(SyncEvent.created_at)).where(SyncEvent.status == "queued"))
    return {s: counts.get(s, 0) for s in ("queued", "running", "failed", "held")}, oldest
