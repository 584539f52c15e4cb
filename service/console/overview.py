"""The console's overview: can we reach both vendors, is the sync keeping up, what happened lately."""
import datetime as dt

from sqlalchemy import func, select

from service.errors import CompanionError
from service.licensing import free_seats
from service.models import Link, SyncEvent, SyncState, utcnow
from service.reconcile import runs
from service.sync import inbox
from service.sync.deprovision import aware

DELTA_KEYS = ("delta:users", "delta:groups")


def gather(companion, now=None):
    """Everything the overview page shows, as plain data."""
    s, store = companion.settings, companion.store
    now = now or utcnow()
    graph, skus = _graph(companion)
    last = runs.latest(store, 1)
    return {"graph": graph, "auth0": _auth0(companion), "sku": _sku(skus, s.o365_license_sku),
            "subscriptions": _subscriptions(store, now), "delta": _delta_rounds(store), "queue": queue(store),
            "last_run": last[0] if last else None,
            "run_counts": sorted(((last[0].summary or {}).get("by_class") or {}).items()) if last else [],
            "first_logins": first_logins(store, now - dt.timedelta(hours=24))}


def _graph(companion):
    """Reachability of Graph, read through subscribedSkus (which the seat count needs anyway)."""
    try:
        return {"ok": True, "detail": "answered"}, companion.graph.subscribed_skus()
    except CompanionError as why:
        return {"ok": False, "detail": why.message}, None


def _auth0(companion):
    """Reachability of the Auth0 Management API, and whether the operator role exists there."""
    role = companion.settings.console_operator_role
    try:
        found = [r for r in companion.auth0.list_roles(role) if r.get("name") == role]
    except CompanionError as why:
        return {"ok": False, "detail": why.message}
    return {"ok": True, "detail": f"answered; role {role!r} {'exists' if found else 'is missing'}"}


def _sku(skus, part_number):
    if skus is None:
        return None
    sku = next((k for k in skus if k.get("skuPartNumber", "").lower() == part_number.lower()), None)
    if sku is None:
        return {"part_number": part_number, "missing": True}
    return {"part_number": part_number, "missing": False, "free": free_seats(sku),
            "enabled": int(sku.get("prepaidUnits", {}).get("enabled", 0)), "consumed": int(sku.get("consumedUnits", 0))}


def _subscriptions(store, now):
    out = []
    for resource, sub in sorted((inbox.state_get(store, "subscriptions") or {}).items()):
        if not sub:
            continue
        expires = dt.datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))
        out.append({"resource": resource, "id": sub["id"], "expires": expires, "expired": expires <= now})
    return out


def _delta_rounds(store):
    """When each delta round last stored its deltaLink (the end of a round)."""
    with store.session() as session:
        rows = session.execute(select(SyncState.key, SyncState.updated_at).where(SyncState.key.in_(DELTA_KEYS)))
        return [{"resource": key.split(":", 1)[1], "at": aware(at)} for key, at in sorted(rows)]


def queue(store):
    """Events waiting or running, and the age of the oldest one."""
    with store.session() as session:
        count, oldest = session.execute(select(func.count(), func.min(SyncEvent.created_at))
                                        .where(SyncEvent.status.in_(("queued", "running")))).one()
    return {"depth": count, "oldest": aware(oldest)}


def first_logins(store, since):
    """Links made since `since` (a first Office 365 sign-in or pre-provisioning), counted by state."""
    with store.session() as session:
        rows = session.execute(select(Link.state, func.count()).where(Link.created_at >= since)
                               .group_by(Link.state)).all()
    return sorted(rows)
