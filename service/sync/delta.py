"""Delta rounds over users and groups: each change becomes a user event; an expired token resyncs."""
import logging

from service import jobs
from service.errors import BadRequest, NotFound
from service.sync import inbox

log = logging.getLogger("companion.sync.delta")
USER_DELTA_SELECT = "id,accountEnabled,userPrincipalName,mail,displayName,department,jobTitle,officeLocation," \
                    "businessPhones,mobilePhone,employeeId"
START = {"users": ("/users/delta", {"$select": USER_DELTA_SELECT}),
         "groups": ("/groups/delta", {"$select": "displayName,members"})}


def run_round(ctx, resource):
    """Follow nextLinks from the stored deltaLink (or from scratch) and queue an event per changed user."""
    key = f"delta:{resource}"
    link = (inbox.state_get(ctx.store, key) or {}).get("delta_link")
    try:
        page = ctx.graph.delta_page(link) if link else ctx.graph.delta_page(*START[resource])
    except (NotFound, BadRequest) as why:
        if not link or not _expired(why):
            raise
        log.warning("delta token expired; full resync", extra={"fields": {"resource": resource}})
        inbox.state_set(ctx.store, key, {"delta_link": None, "resynced": True})
        page = ctx.graph.delta_page(*START[resource])  # a full round: every object, so nothing is lost
    seen = 0
    while True:
        seen += _queue_changes(ctx, resource, page.get("value", []))
        if page.get("@odata.deltaLink"):
            inbox.state_set(ctx.store, key, {"delta_link": page["@odata.deltaLink"]})
            return seen
        page = ctx.graph.delta_page(page["@odata.nextLink"])


def _expired(why):
    """syncStateNotFound / 410 Gone: the delta token is no longer valid (facts/graph.md §5)."""
    return why.http_status == 410 or (why.code or "").lower() in ("syncstatenotfound", "resyncrequired")


def _queue_changes(ctx, resource, items):
    ids = {}
    for item in items:
        if resource == "users":
            removed = item.get("@removed")
            ids[item["id"]] = ids.get(item["id"], False) or bool(removed and removed.get("reason") == "deleted")
        else:
            for member in item.get("members@delta", []):
                if member.get("@odata.type", "#microsoft.graph.user").endswith("user"):
                    ids.setdefault(member["id"], False)
    for oid, hard_deleted in ids.items():
        event_id = inbox.record(ctx.store, "user", oid, f"delta:{resource}", deleted=hard_deleted)
        jobs.enqueue(event_id)
    return len(ids)


def users_round(ctx, _object_id, _detail):
    """Handler for a 'users_delta' event."""
    run_round(ctx, "users")
    return "done"


def groups_round(ctx, _object_id, _detail):
    """Handler for a 'groups_delta' event."""
    run_round(ctx, "groups")
    return "done"
