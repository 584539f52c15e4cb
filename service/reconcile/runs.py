"""Stored reconciliation runs: create, finish, fetch, and keep only the newest N."""
import datetime as dt

from sqlalchemy import delete, select

from service.models import ReconcileRun, utcnow


def start(store, mode):
    """A new running run; its id."""
    with store.session() as session:
        run = ReconcileRun(mode=mode, status="running", summary={}, findings=[])
        session.add(run)
        session.flush()
        return run.id


def finish(store, run_id, status, summary=None, findings=None, error=None):
    """Record the outcome of a run."""
    with store.session() as session:
        run = session.get(ReconcileRun, run_id)
        run.status, run.finished_at, run.error = status, utcnow(), error
        if summary is not None:
            run.summary = summary
        if findings is not None:
            run.findings = findings


def get(store, run_id):
    """One run, or None."""
    with store.session() as session:
        return session.get(ReconcileRun, run_id)


def latest(store, limit=20):
    """The newest runs, newest first."""
    with store.session() as session:
        return session.scalars(select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(limit)).all()


def prune(store, keep):
    """Delete all but the newest `keep` runs."""
    with store.session() as session:
        ids = session.scalars(select(ReconcileRun.id).order_by(ReconcileRun.id.desc()).offset(keep)).all()
        if ids:
            session.execute(delete(ReconcileRun).where(ReconcileRun.id.in_(ids)))


def newest_summary(store):
    """{at (epoch seconds), status, by_class} of the newest run without loading its findings, or None."""
    with store.session() as session:
        row = session.execute(select(ReconcileRun.started_at, ReconcileRun.finished_at, ReconcileRun.status,
                                     ReconcileRun.summary).order_by(ReconcileRun.id.desc()).limit(1)).first()
    if row is None:
        return None
    when = row.finished_at or row.started_at
    when = when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when
    return {"at": when.timestamp(), "status": row.status, "by_class": dict((row.summary or {}).get("by_class") or {})}


def interrupt(store, modes, but):
    """Mark other runs of these modes still `running` as interrupted (call while holding the run's lease)."""
    with store.session() as session:
        for run in session.scalars(select(ReconcileRun).where(ReconcileRun.status == "running",
                                                              ReconcileRun.mode.in_(modes), ReconcileRun.id != but)):
            run.status, run.finished_at, run.error = "interrupted", utcnow(), "the process stopped before the end"
