"""Append to the audit log (the only way the service writes audit rows) and read one person's trail."""
from flask import g, has_request_context
from sqlalchemy import or_, select

from service.models import AuditEvent


def record(session, action, outcome, auth0_user_id=None, entra_object_id=None, reference=None, **detail):
    """Add one audit row to session (committed with the caller's work)."""
    if reference is None and has_request_context():
        reference = g.get("request_id")
    session.add(AuditEvent(action=action, outcome=outcome, auth0_user_id=auth0_user_id,
                           entra_object_id=entra_object_id, reference=reference, detail=detail))


def trail(store, *ids, limit=500):
    """The newest audit rows that name any of ids (Auth0 user ids or Entra object ids), newest first."""
    ids = [i for i in ids if i]
    if not ids:
        return []
    with store.session() as session:
        return session.scalars(select(AuditEvent).where(or_(AuditEvent.auth0_user_id.in_(ids),
                                                            AuditEvent.entra_object_id.in_(ids)))
                               .order_by(AuditEvent.id.desc()).limit(limit)).all()
