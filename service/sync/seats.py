"""Seat alerts and parked accounts: the scheduled seat check, also queued by a first login that sees seats run low.

Operators hear once per crossing (free seats falling to the low-water mark, and to none), not once per
login; accounts parked for want of a seat are finished here, oldest first, as seats come back.
"""
import logging
import uuid

from service import jobs, leases, links
from service.licensing import LEVELS, level
from service.sync import inbox
from service.sync.effects import Effects

log = logging.getLogger("companion.seats")
STATE_KEY = "licence-seats"
ALERT_LEASE = "licence-seat-alert"
RESUME_WAIT_S = 10.0  # the worker may wait for Entra to show the licence; a person is not waiting on it


def alerted_level(store):
    """The seat level operators were last told about ('ok' until a crossing)."""
    return (inbox.state_get(store, STATE_KEY) or {}).get("level", "ok")


def level_seen(store, sku, seen):
    """Queue a seat check when the login path sees seats lower than operators were last told; True if queued."""
    if LEVELS.index(seen) <= LEVELS.index(alerted_level(store)):
        return False
    event_id = inbox.record(store, "seat_check", None, "provisioning", sku=sku, seen=seen)
    try:
        jobs.enqueue(event_id)
    except KeyError:
        pass  # no queue in this process: the worker re-drives the recorded event
    return True


def check(ctx, _object_id, _detail):
    """Re-read seats, alert on a crossing, then finish parked accounts while seats are free."""
    free, sku = ctx.provisioner.seats.free_now()
    _crossing(ctx, level(free, ctx.settings.o365_seats_low_water), free, sku)
    room, _sku = ctx.provisioner.seats.free_now(parked=False)
    for link in links.by_state(ctx.store, "parked", limit=room) if room > 0 else ():
        outcome = ctx.provisioner.resume(link.auth0_user_id, wait_s=RESUME_WAIT_S)
        log.info("parked account resumed", extra={"fields": {"auth0_user_id": link.auth0_user_id,
                                                              "state": outcome and outcome.state}})
    return "done"


def _crossing(ctx, now, free, sku):
    """Alert when the level got worse than the one last alerted on (one checker decides at a time)."""
    owner = uuid.uuid4().hex
    if not leases.acquire(ctx.store, ALERT_LEASE, owner, ttl_s=60):
        return  # another seat check is deciding right now
    try:
        before = alerted_level(ctx.store)
        if now == before:
            return
        fx = Effects(ctx.auth0, ctx.graph, ctx.store, None, ctx.dry_run)
        if LEVELS.index(now) > LEVELS.index(before):
            _alert(ctx, fx, now, free, sku)
        else:
            fx._audit("licence.seats.recovered", None, None, sku=sku.get("skuPartNumber"), free=free)
        inbox.state_set(ctx.store, STATE_KEY, {"level": now, "free": free})  # after the alert went out
    finally:
        leases.release(ctx.store, ALERT_LEASE, owner)


def _alert(ctx, fx, now, free, sku):
    part, total = sku.get("skuPartNumber"), sku.get("prepaidUnits", {}).get("enabled")
    if now == "out":
        subject = f"No {part} licences left"
        text = (f"All {total} {part} seats are in use or promised. New Office 365 users are refused before an "
                "account is made, and accounts already made wait (parked) until a seat is free; buy or free seats.")
    else:
        subject = f"{part} licences running low"
        text = (f"{max(free, 0)} of {total} {part} seats are free, at or under the low-water mark of "
                f"{ctx.settings.o365_seats_low_water} (O365_SEATS_LOW_WATER).")
    sent = [] if ctx.dry_run else ctx.notifier.send(subject, text)
    fx._audit("licence.seats.exhausted" if now == "out" else "licence.seats.low", None, None, sku=part,
              free=free, channels=sent)
