"""Append to the audit log (the only way the service writes audit rows) and read one person's trail."""
from flask import g, has_request_context
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from service.models import AuditEvent, utcnow


def record(session, action, outcome, auth0_user_id=None, entra_object_id=None, reference=None, fact=None,
           **detail):
    """Add one audit row to session (committed with the caller's work); a once-only fact already there adds none."""
    if fact is not None and session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == action, AuditEvent.auth0_user_id == auth0_user_id, AuditEvent.fact == fact).limit(1)):
        return  # a step repeated after a crash (the unique key would refuse the whole transaction)
    row = _row(action, outcome, auth0_user_id, entra_object_id, reference, detail)
    row.fact = fact
    session.add(row)


def record_once(store, fact, action, outcome, auth0_user_id, entra_object_id=None, reference=None, **detail):
    """Add a row for a once-only fact in its own transaction; False when that fact is already recorded.

    A step that repeats (a lease lapsed mid-step, two replicas on one user) states the same fact again:
    the unique key (action, auth0_user_id, fact) keeps one row, whoever commits first.
    """
    row = _row(action, outcome, auth0_user_id, entra_object_id, reference, detail)
    row.fact = fact
    try:
        with store.session() as session:
            session.add(row)
        return True
    except IntegrityError:
        return False


def _row(action, outcome, auth0_user_id, entra_object_id, reference, detail):
    if reference is None and has_request_context():
        reference = g.get("request_id")
    return AuditEvent(action=action, outcome=outcome, auth0_user_id=auth0_user_id,
                      entra_object_id=entra_object_id, reference=reference, detail=detail)


def record_facts(session, action, outcome, rows):
    """Once-only facts for many users in two statements (what record(fact=…) does one by one): rows are
    dicts of auth0_user_id, entra_object_id, fact, reference and detail; a fact already there adds none."""
    ids = list({r["auth0_user_id"] for r in rows})
    if not ids:
        return
    known = set(session.execute(select(AuditEvent.auth0_user_id, AuditEvent.fact).where(
        AuditEvent.action == action, AuditEvent.auth0_user_id.in_(ids))).tuples())
    now = utcnow()
    values = [{"at": now, "action": action, "outcome": outcome, "auth0_user_id": r["auth0_user_id"],
               "entra_object_id": r["entra_object_id"], "reference": r.get("reference"), "fact": r["fact"],
               "detail": r.get("detail") or {}} for r in rows if (r["auth0_user_id"], r["fact"]) not in known]
    if values:
        session.execute(insert(AuditEvent), values)


def record_many(session, rows, reference=None):
    """Add many audit rows in one statement: rows of (action, outcome, auth0_user_id, entra_object_id, detail)."""
    now = utcnow()
    values = [{"at": now, "action": a, "outcome": o, "auth0_user_id": u, "entra_object_id": e,
               "reference": reference, "detail": d} for a, o, u, e, d in rows]
    if values:
        session.execute(insert(AuditEvent), values)


def trail(store, *ids, limit=500):
    """The newest audit rows that name any of ids (Auth0 user ids or Entra object ids), newest first."""
    ids = [i for i in ids if i]
    if not ids:
        return []
    with store.session() as session:
        return session.scalars(select(AuditEvent).where(or_(AuditEvent.auth0_user_id.in_(ids),
                                                            AuditEvent.entra_object_id.in_(ids)))
                               .order_by(AuditEvent.id.desc()).limit(limit)).all()
