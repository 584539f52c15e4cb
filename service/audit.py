"""Append to the audit log; the only way the service writes audit rows."""
from flask import g, has_request_context
from sqlalchemy import insert

from service.models import AuditEvent, utcnow


def record(session, action, outcome, auth0_user_id=None, entra_object_id=None, reference=None, **detail):
    """Add one audit row to session (committed with the caller's work)."""
    if reference is None and has_request_context():
        reference = g.get("request_id")
    session.add(AuditEvent(action=action, outcome=outcome, auth0_user_id=auth0_user_id,
                           entra_object_id=entra_object_id, reference=reference, detail=detail))


def record_many(session, rows, reference=None):
    """Add many audit rows in one statement: rows of (action, outcome, auth0_user_id, entra_object_id, detail)."""
    now = utcnow()
    values = [{"at": now, "action": a, "outcome": o, "auth0_user_id": u, "entra_object_id": e,
               "reference": reference, "detail": d} for a, o, u, e, d in rows]
    if values:
        session.execute(insert(AuditEvent), values)
