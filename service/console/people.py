"""One person across both systems: find them by any identifier, then read the link, both sides and the trail."""
import uuid

from sqlalchemy import func, or_, select

from service import audit, links
from service.errors import CompanionError, NotFound
from service.models import Link

ENTRA_SELECT = ("id", "userPrincipalName", "displayName", "mail", "accountEnabled", "onPremisesImmutableId",
                "usageLocation", "assignedLicenses", "userType")
AUTH0_FIELDS = ("user_id", "email", "email_verified", "name", "blocked", "last_login", "logins_count",
                "created_at", "app_metadata")
LINK_FIELDS = ("state", "step", "immutable_id", "upn", "account_type", "deprovision_step", "deprovision_reason",
               "last_error", "created_at", "ready_at")


def _is_guid(text):
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def find(companion, query):
    """People matching an Auth0 user id, email, UPN or Entra object id: [{auth0_user_id, entra_object_id}]."""
    q = query.strip()
    if not q:
        return []
    found = {(lk.auth0_user_id, lk.entra_object_id) for lk in _links_matching(companion.store, q)}
    if "@" in q:
        found |= {(u["user_id"], _oid_of(u)) for u in _safe(lambda: companion.auth0.users_by_email(q), [])}
    if "|" in q:
        user = _safe(lambda: companion.auth0.get_user(q), None)
        found |= {(user["user_id"], _oid_of(user))} if user else set()
    if _is_guid(q) or "@" in q:
        entra = _safe(lambda: companion.graph.get_user(q, select=("id",)), None)
        found |= {(None, entra["id"])} if entra else set()
    return _merge(found)


def _links_matching(store, q):
    with store.session() as session:
        return session.scalars(select(Link).where(or_(Link.auth0_user_id == q, Link.entra_object_id == q,
                                                      func.lower(Link.upn) == q.lower()))).all()


def _oid_of(user):
    """The Entra object id the lifecycle sync keeps in app_metadata (any namespace), if any."""
    for value in (user.get("app_metadata") or {}).values():
        if isinstance(value, dict) and value.get("oid"):
            return value["oid"]
    return None


def _merge(pairs):
    """One entry per person: an Entra-only hit is dropped when a fuller hit names the same object."""
    known = {oid for uid, oid in pairs if uid and oid}
    return sorted(({"auth0_user_id": uid, "entra_object_id": oid} for uid, oid in pairs
                   if uid or oid not in known), key=lambda p: (p["auth0_user_id"] or "", p["entra_object_id"] or ""))


def _safe(read, default):
    try:
        return read()
    except NotFound:
        return default
    except CompanionError:
        return default  # search is best effort; the person page says when a side cannot be read


def person(companion, auth0_user_id=None, entra_object_id=None):
    """The link, both sides' current values and the audit trail (oldest first) of one person."""
    link = links.get(companion.store, auth0_user_id) if auth0_user_id else _link_by_oid(companion.store,
                                                                                          entra_object_id)
    uid = auth0_user_id or (link.auth0_user_id if link else None)
    oid = entra_object_id or (link.entra_object_id if link else None)
    auth0_side = _side(lambda: companion.auth0.get_user(uid), AUTH0_FIELDS) if uid else None
    if oid is None and auth0_side and auth0_side.get("values"):
        oid = _oid_of(auth0_side["values"])
    entra_side = _side(lambda: companion.graph.get_user(oid, select=ENTRA_SELECT), ENTRA_SELECT) if oid else None
    rows = audit.trail(companion.store, uid, oid)
    return {"auth0_user_id": uid, "entra_object_id": oid, "link": _link_view(link), "auth0": auth0_side,
            "entra": entra_side, "trail": list(reversed(rows))}


def _link_by_oid(store, oid):
    with store.session() as session:
        return session.scalars(select(Link).where(Link.entra_object_id == oid)).first()


def _link_view(link):
    if link is None:
        return None
    view = {name: getattr(link, name) for name in LINK_FIELDS}
    view["origin"] = getattr(link, "origin", None)  # recorded by newer versions of the link table
    return view


def _side(read, fields):
    """{"values": {...}} or {"error": "..."}: a side that cannot be read is said so, not hidden."""
    try:
        found = read()
    except NotFound:
        return {"error": "not found"}
    except CompanionError as why:
        return {"error": f"could not be read: {why.message}"}
    return {"values": {k: found.get(k) for k in fields if k in found}}
