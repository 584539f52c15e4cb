"""Data access for identity links: create once, lease per user, record progress."""
import datetime as dt

from sqlalchemy import bindparam, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from service.models import Link, utcnow


_BY_ID = select(Link.__table__).where(Link.__table__.c.auth0_user_id == bindparam("uid"))
# A first login's insert, in the one spelling both backends take. Not SQLAlchemy's dialect insert: that one
# opts out of the statement cache (`inherit_cache = False`), so it was compiled anew on every first
# request (~1.2 ms, most of its CPU), and a crowd's first requests queue on that CPU.
_TABLE = Link.__table__
_NEW_KEYS = ("auth0_user_id", "immutable_id", "state", "step", "upn_variant", "attempts", "profile", "reference",
             "created_at", "updated_at")
_NEW = text(f"INSERT INTO {_TABLE.name} ({', '.join(_NEW_KEYS)}) VALUES ({', '.join(':' + k for k in _NEW_KEYS)}) "
            f"ON CONFLICT DO NOTHING RETURNING {', '.join(c.name for c in _TABLE.c)}") \
    .bindparams(*(bindparam(k, type_=_TABLE.c[k].type) for k in _NEW_KEYS)).columns(*_TABLE.c)


def get(store, auth0_user_id):
    """The link for an Auth0 user, or None (a detached Link: read it, or change it through save()).

    One prebuilt Core statement: the ORM's load by primary key was a third of a waiting page's CPU, and
    every page, status read and background pass starts here."""
    row = store.first(_BY_ID, {"uid": auth0_user_id})
    return None if row is None else Link(**row._mapping)


def get_or_create(store, auth0_user_id, immutable_id, profile, reference=None):
    """The link for an Auth0 user, created pending on first sight (safe under concurrency); reference is the
    request that first asked, so a failure in the background names the id the person was shown."""
    existing = get(store, auth0_user_id)
    if existing is not None:
        return existing
    now = utcnow()
    row = dict(auth0_user_id=auth0_user_id, immutable_id=immutable_id, state="pending", step="new", upn_variant=0,
               attempts=0, profile=profile, reference=reference, created_at=now, updated_at=now)
    made = store.first(_NEW, row)  # none back: a racing request (or a resend) made it
    return Link(**made._mapping) if made is not None else get(store, auth0_user_id)


def _takeable(now, owner=None):
    """A lease nobody holds, one that has expired, or (given an owner) one this owner holds already."""
    return or_(Link.lease_until.is_(None), Link.lease_until < now, *([Link.lease_owner == owner] if owner else []))


def acquire(store, auth0_user_id, owner, ttl_s):
    """Take the per-user lease if free or expired; True when this owner holds it."""
    now = utcnow()
    with store.session() as session:
        result = session.execute(
            update(Link).where(Link.auth0_user_id == auth0_user_id, _takeable(now, owner))
            .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=ttl_s))
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def acquire_many(store, auth0_user_ids, owner, ttl_s, steps):
    """Take the free or expired leases of the pending links among the ids at one of `steps`, in one
    statement; the links now held."""
    now, ids = utcnow(), list(auth0_user_ids)
    with store.session() as session:
        session.execute(
            update(Link).where(Link.auth0_user_id.in_(ids), Link.state == "pending", Link.step.in_(steps),
                               _takeable(now, owner))
            .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=ttl_s))
            .execution_options(synchronize_session=False))
        return list(session.scalars(select(Link).where(Link.auth0_user_id.in_(ids), Link.lease_owner == owner)))


def release_many(store, auth0_user_ids, owner):
    """Give back the leases among the ids this owner still holds, in one statement."""
    with store.session() as session:
        session.execute(
            update(Link).where(Link.auth0_user_id.in_(list(auth0_user_ids)), Link.lease_owner == owner)
            .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))


def save_each(store, changes, audited):
    """Persist {link: changes} in one transaction (one statement per set of changed columns), mirrored on
    the objects; audited(session, links) runs once in the same transaction (e.g. their audit rows)."""
    now = utcnow()
    groups = {}
    for link, values in changes.items():
        groups.setdefault(tuple(sorted(values)), []).append(link)
    with store.session() as session:
        for keys, group in groups.items():
            stmt = (update(Link).where(Link.auth0_user_id == bindparam("_id"))
                    .values(updated_at=now, **{k: bindparam("_" + k) for k in keys}))
            session.connection().execute(stmt, [{"_id": x.auth0_user_id, **{"_" + k: changes[x][k] for k in keys}}
                                                for x in group])
        audited(session, list(changes))
    for link, values in changes.items():
        mirror([link], dict(values, updated_at=now))


def release(store, auth0_user_id, owner):
    """Give the lease back if this owner still holds it."""
    release_many(store, [auth0_user_id], owner)


def save(store, link, **changes):
    """Persist changes to a link and mirror them on the in-memory object."""
    changes["updated_at"] = utcnow()
    with store.session() as session:
        session.execute(update(Link).where(Link.auth0_user_id == link.auth0_user_id).values(**changes)
                        .execution_options(synchronize_session=False))
    for key, value in changes.items():
        setattr(link, key, value)
    return link


def move_leased(session, held, from_step, **values):
    """Links the caller holds leases on move from one step in one statement, in the caller's transaction;
    the values written, for mirror() once it has committed."""
    values["updated_at"] = utcnow()
    if held:
        session.execute(update(Link).where(Link.auth0_user_id.in_([x.auth0_user_id for x in held]),
                                           Link.step == from_step).values(**values)
                        .execution_options(synchronize_session=False))
    return values


def mirror(held, values):
    """Values a committed write gave these links, on their in-memory objects."""
    for link in held:
        for key, value in values.items():
            setattr(link, key, value)


def by_state(store, state, limit=100):
    """Links in a given state, oldest first."""
    with store.session() as session:
        return list(session.scalars(select(Link).where(Link.state == state)
                                    .order_by(Link.created_at).limit(limit)))


def adopt(store, rows, origin="rule"):
    """Ready links for Entra accounts that already exist; the user ids now linked.

    rows: auth0_user_id, entra_object_id, upn, immutable_id, licence_sku. A row that clashes with an
    existing link (same user, account, UPN or ImmutableID) is left out, so a second run, or one resumed
    after a crash, adds only what is missing.
    """
    now = utcnow()
    try:
        with store.session() as session:  # one executemany: an import adopts a whole tenant
            session.execute(insert(Link), [dict(row, state="ready", step="done", ready_at=now, origin=origin,
                                                upn_variant=0, attempts=0, profile={}, account_type="member",
                                                created_at=now, updated_at=now) for row in rows])
        return [row["auth0_user_id"] for row in rows]
    except IntegrityError:
        if len(rows) == 1:
            return []
    return [uid for row in rows for uid in adopt(store, [row], origin)]


def move_many(store, auth0_user_ids, from_step, audited, **values):
    """Unleased pending links at from_step among the ids take `values` in one statement; audited(session,
    rows) runs once for the rows changed, in the same transaction (e.g. their audit rows: one fact, one row)."""
    now = utcnow()
    with store.session() as session:
        rows = session.execute(
            update(Link).where(Link.auth0_user_id.in_(list(auth0_user_ids)), Link.state == "pending",
                               Link.step == from_step,
                               _takeable(now))
            .values(updated_at=now, **values)
            .returning(Link.auth0_user_id, Link.entra_object_id, Link.upn, Link.created_at)
            .execution_options(synchronize_session=False)).all()
        audited(session, rows)
    return rows


def pending_unleased(store, now, limit=5000):
    """Pending links no process holds a lease on, oldest first: the few columns the poller needs."""
    with store.statement() as session:
        return list(session.execute(
            select(Link.auth0_user_id, Link.step, Link.entra_object_id, Link.attempts, Link.created_at,
                   Link.updated_at)
            .where(Link.state == "pending", _takeable(now))
            .order_by(Link.created_at).limit(limit)))


def recent_ready_seconds(store, within_s=300, limit=200):
    """Seconds from link creation to ready for links that became ready recently (newest first)."""
    since = utcnow() - dt.timedelta(seconds=within_s)
    with store.statement() as session:
        rows = session.execute(select(Link.created_at, Link.ready_at).where(Link.ready_at >= since)
                               .order_by(Link.ready_at.desc()).limit(limit)).all()
    return [(utc(ready) - utc(created)).total_seconds() for created, ready in rows]


def utc(when):
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
