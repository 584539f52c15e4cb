"""The newest Identity Protection risk acted on per Entra user: one detection gives one lock-out and one alert."""
import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from service.models import RiskRecord, utcnow

NEW = object()  # claim() found no earlier record


def parse(stamp):
    """Graph's DateTimeOffset (up to 7 fractional digits, Z) as an aware datetime to the microsecond."""
    text = str(stamp).replace("Z", "+00:00")
    head, _, tail = text.partition(".")
    if tail:  # Python reads at most 6 fractional digits
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def claim(store, oid, updated, level, state):
    """Mark this detection acted on; the previous record (or NEW) when it is new, None when already seen."""
    with store.session() as session:
        row = session.get(RiskRecord, oid)
        before = None if row is None else dict(risk_updated_at=_utc(row.risk_updated_at), risk_level=row.risk_level,
                                               risk_state=row.risk_state, active=row.active,
                                               blocked_user_id=row.blocked_user_id)
    if before is not None and before["risk_updated_at"] >= updated:
        return None
    values = dict(risk_updated_at=updated, risk_level=level, risk_state=state, active=True, blocked_user_id=None,
                  updated_at=utcnow())
    if before is None:
        try:
            with store.session() as session:
                session.add(RiskRecord(entra_object_id=oid, **values))
            return NEW
        except IntegrityError:
            return None  # another poll claimed it first
    with store.session() as session:  # compare-and-set: two overlapping polls, one winner
        won = session.execute(update(RiskRecord).where(RiskRecord.entra_object_id == oid,
                                                       RiskRecord.risk_updated_at < updated).values(**values)).rowcount
    return before if won else None


def unclaim(store, oid, before):
    """Undo a claim whose lock-out failed, so the retried poll acts on the detection again."""
    with store.session() as session:
        if before is NEW:
            session.execute(delete(RiskRecord).where(RiskRecord.entra_object_id == oid))
        else:
            session.execute(update(RiskRecord).where(RiskRecord.entra_object_id == oid).values(**before))


def close(store, oid, updated, state):
    """The risk was remediated, dismissed or confirmed safe in Entra; False when this was seen already."""
    with store.session() as session:
        row = session.get(RiskRecord, oid)
        if row is not None and not row.active and _utc(row.risk_updated_at) >= updated:
            return False
        if row is None:
            row = RiskRecord(entra_object_id=oid)
            session.add(row)
        row.active, row.risk_state, row.risk_updated_at, row.updated_at = False, state, updated, utcnow()
    return True


def active(store, oid):
    """True while an acted-on risk of this Entra user is still open."""
    with store.session() as session:
        return bool(session.scalar(select(RiskRecord.active).where(RiskRecord.entra_object_id == oid)))


def unapplied(store, oid):
    """The open risk of this Entra user whose lock-out found no Auth0 user to block yet, or None."""
    with store.session() as session:
        row = session.get(RiskRecord, oid)
        return row if row is not None and row.active and row.blocked_user_id is None else None


def applied(store, oid, auth0_user_id, only_if_unapplied=False):
    """Remember the Auth0 user the lock-out was applied to; with only_if_unapplied, True for one caller only."""
    query = update(RiskRecord).where(RiskRecord.entra_object_id == oid)
    if only_if_unapplied:
        query = query.where(RiskRecord.blocked_user_id.is_(None))
    with store.session() as session:
        return session.execute(query.values(blocked_user_id=auth0_user_id)).rowcount == 1
