"""Accounts in graded deprovisioning, with the step that comes next and when it is due."""
import datetime as dt

from sqlalchemy import select

from service.models import Link
from service.sync.deprovision import RESTORABLE_DAYS, aware


def graded(store, settings):
    """Every link with a grade, oldest first: who, grade, why, since, next step and its date."""
    with store.session() as session:
        rows = session.scalars(select(Link).where(Link.deprovision_step.is_not(None))
                               .order_by(Link.deprovisioned_at)).all()
    return [dict(auth0_user_id=r.auth0_user_id, entra_object_id=r.entra_object_id, upn=r.upn,
                 step=r.deprovision_step, reason=r.deprovision_reason, since=aware(r.deprovisioned_at),
                 account_type=r.account_type, **next_step(r.deprovision_step, aware(r.deprovisioned_at), settings))
            for r in rows]


def next_step(step, since, settings):
    """{"next", "due"}: the grade after `step` under the configured delays (due None when never)."""
    unlicense = dt.timedelta(days=settings.deprovision_unlicense_after_days)
    delete_days = settings.deprovision_delete_after_days
    if since is None:
        return {"next": "unknown", "due": None}
    if step == "blocked":
        return {"next": "remove the licence", "due": since + unlicense}
    if step == "unlicensed":
        if delete_days is None:
            return {"next": "none (DEPROVISION_DELETE_AFTER_DAYS is never)", "due": None}
        return {"next": "delete the account (restorable for 30 days)", "due": since + dt.timedelta(days=delete_days)}
    return {"next": "Entra purges it for good", "due": since + dt.timedelta(days=(delete_days or 0) + RESTORABLE_DAYS)}
