"""Auth0 Event Streams in: record each event once, then bring the user's Entra side in line with Auth0.

Delivery is at least once and unordered (facts/auth0.md §4.2): the event id is kept in
`auth0_event_receipts` in the same transaction as the inbox row, so a repeat changes nothing; the handler
reads the *current* Auth0 user (404 = deleted) instead of trusting the event's snapshot, and skips an
event older than the newest one it already applied to that user.
"""
import datetime as dt

from sqlalchemy.exc import IntegrityError

from service import links, text
from service.models import Auth0EventReceipt, SyncEvent, utcnow
from service.sync import backprovision, deprovision

USER_EVENTS = ("user.created", "user.updated", "user.deleted")
KIND = "auth0_user"
SOURCE = "auth0_stream"


def parse_time(value):
    """An RFC 3339 time as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def parse(item):
    """The inbox detail of one CloudEvent we act on, or None (other types, malformed items)."""
    if not isinstance(item, dict) or item.get("type") not in USER_EVENTS:
        return None
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    user = data.get("object") if isinstance(data.get("object"), dict) else {}
    event_id, user_id = item.get("id"), user.get("user_id")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 128 and text.storable(event_id)):
        return None
    if not (isinstance(user_id, str) and 0 < len(user_id) <= 255 and text.storable(user_id)):
        return None
    connection = backprovision.primary_connection(user)
    if connection is not None and not (isinstance(connection, str) and text.storable(connection)):
        return None
    when = parse_time(item.get("time"))
    return {"user_id": user_id, "auth0_event_id": event_id, "type": item["type"],
            "time": when.isoformat() if when else None, "blocked": bool(user.get("blocked")),
            "connection": connection}


def record(store, items):
    """Inbox rows for the new events among items; (ids to enqueue after this commit, counts)."""
    queued, counts = [], {"accepted": 0, "duplicates": 0, "ignored": 0}
    for item in items:
        detail = parse(item)
        if detail is None:
            counts["ignored"] += 1
            continue
        event_id = _record_one(store, detail)
        counts["accepted" if event_id else "duplicates"] += 1
        if event_id:
            queued.append(event_id)
    return queued, counts


def _record_one(store, detail):
    """One inbox row and its receipt in one transaction; None when the event id was seen before."""
    user_id = detail.pop("user_id")
    try:
        with store.session() as session:
            if session.get(Auth0EventReceipt, detail["auth0_event_id"]) is not None:
                return None
            event = SyncEvent(kind=KIND, object_id=user_id, source=SOURCE, status="queued", attempts=0,
                              detail=detail)
            session.add(event)
            session.flush()
            session.add(Auth0EventReceipt(event_id=detail["auth0_event_id"], sync_event_id=event.id))
            session.flush()  # a concurrent copy of the same event fails here, on the primary key
            return event.id
    except IntegrityError:
        return None


def handle(ctx, user_id, detail, now=None):
    """Handler of `auth0_user` events: graded deprovisioning or restore for linked users, else back-provision."""
    now = now or utcnow()
    when = parse_time(detail.get("time"))
    link = links.get(ctx.store, user_id)
    if link is None or (link.entra_object_id is None and link.deprovision_step is None):
        # No account yet (or one half-made when a worker died): back-provisioning decides.
        outcome = backprovision.on_event(ctx, user_id, detail)
        if link is None or outcome not in backprovision.PASSED:
            return outcome
    if when and link.auth0_event_at and when < deprovision.aware(link.auth0_event_at):
        return "stale"  # a newer event already read the user's current state
    fx = deprovision.effects(ctx, detail)
    with deprovision.held(ctx.store, user_id):
        link = links.get(ctx.store, user_id)
        user = deprovision.read_auth0_user(ctx.auth0, user_id)
        outcome = deprovision.reconcile(ctx, fx, link, user, now, since=_since(detail, user, when))
        newest = deprovision.aware(link.auth0_event_at)
        if when and not fx.dry_run and (newest is None or when > newest):
            links.save(ctx.store, link, auth0_event_at=when)
    return outcome


def _since(detail, user, when):
    """The grace period runs from the Auth0 change when the event reports it, else from now."""
    if when and ((user is None and detail.get("type") == "user.deleted") or detail.get("blocked")):
        return when
    return None
