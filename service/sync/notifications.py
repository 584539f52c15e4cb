"""Graph change notifications, item by item: genuine or not, usable or not, and their de-duplication key."""
import dataclasses
import hashlib
import hmac

from service import text

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclasses.dataclass(frozen=True)
class Notification:
    """One usable notification: the inbox row it becomes and its de-duplication key."""

    kind: str
    object_id: str
    key: str
    detail: dict


class Malformed(ValueError):
    """The item is not a notification Graph would send (the rest of the batch still counts)."""


def _text(item, name, limit, required=True):
    value = item.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or not text.storable(value):
        raise Malformed(name)
    return value


def genuine(item, expected_state):
    """True when clientState matches (constant-time); anything else is never acted on."""
    given = item.get("clientState") if isinstance(item, dict) else None
    if not isinstance(given, str) or not text.storable(given):
        return False
    return hmac.compare_digest(given.encode(), expected_state.encode())


def parse(item):
    """The Notification for a genuine item, None for resources we do not act on; Malformed if unusable."""
    subscription = _text(item, "subscriptionId", 128, required=False) or ""
    if item.get("lifecycleEvent") is not None:
        event = _text(item, "lifecycleEvent", 64)
        return Notification("lifecycle", subscription or "unknown", _key(subscription, "", event),
                            {"lifecycle_event": event})
    resource = _text(item, "resource", 512)
    change = _text(item, "changeType", 64)
    if change not in CHANGE_TYPES:
        raise Malformed("changeType")
    data = item.get("resourceData", {})
    if not isinstance(data, dict):
        raise Malformed("resourceData")
    oid = _text(data, "id", 255, required=False) or resource.rsplit("/", 1)[-1]
    if not oid or not text.storable(oid):
        raise Malformed("resource")
    key = _key(subscription, resource.lower(), change)
    if resource.lower().startswith("users/"):
        return Notification("user", oid, key, {"deleted": change == "deleted"})
    if resource.lower().startswith("groups"):
        return Notification("groups_delta", oid, key, {})  # membership: read it from groups delta
    return None


def _key(*parts):
    """A fixed-size key: subscription, resource and change type."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
