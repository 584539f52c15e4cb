"""Named leases in the database: one holder at a time across processes and replicas."""
import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from service.models import Lease, utcnow


def acquire(store, name, owner, ttl_s):
    """Take the lease if free or expired (or renew it); True when owner holds it."""
    now = utcnow()
    until = now + dt.timedelta(seconds=ttl_s)
    with store.session() as session:
        taken = session.execute(update(Lease).where(Lease.name == name, or_(Lease.until < now, Lease.owner == owner))
                                .values(owner=owner, until=until)).rowcount
    if taken:
        return True
    try:
        with store.session() as session:
            session.add(Lease(name=name, owner=owner, until=until))
        return True
    except IntegrityError:
        return False  # someone else holds it


def release(store, name, owner):
    """Give the lease back if owner holds it."""
    with store.session() as session:
        session.execute(update(Lease).where(Lease.name == name, Lease.owner == owner)
                        .values(until=utcnow() - dt.timedelta(seconds=1)))
