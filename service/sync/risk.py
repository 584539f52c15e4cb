"""Risky users (Identity Protection, polled: it has no change notifications) → lockout and an alert.

One detection gives one lock-out, one alert and one session revocation: each poll overlaps the last (so a
risk updated as a poll starts is never missed) and risk_records drops what was already acted on. A risk
block holds until Entra reports the risk remediated, dismissed or confirmed safe (or an operator unblocks
the user in Auth0); an Entra re-enable lifts only the block an Entra disable set.
"""
import datetime as dt

from service.clients.graph import odata_str
from service.sync import inbox, risk_records, who
from service.sync.effects import Effects

LEVELS = ("low", "medium", "high")
ACTIVE_STATES = ("atRisk", "confirmedCompromised")
CLEARED_STATES = ("remediated", "dismissed", "confirmedSafe")
OVERLAP = dt.timedelta(seconds=120)  # clock skew between Entra and us; repeats are dropped, not re-alerted


def _at_or_above(level, threshold):
    return level in LEVELS and LEVELS.index(level) >= LEVELS.index(threshold)


def poll(ctx, _object_id, _detail):
    """Lock out managed Auth0 users whose Entra risk reached the threshold; lift blocks of cleared risks."""
    config = ctx.config()
    since = (inbox.state_get(ctx.store, "risk") or {}).get("since")
    started = dt.datetime.now(dt.timezone.utc)
    active = f"riskState eq {odata_str('atRisk')} or riskState eq {odata_str('confirmedCompromised')}"
    # After the first poll every change is read, cleared risks included, so their blocks can be lifted.
    flt = f"riskLastUpdatedDateTime ge {since}" if since else active
    for risky in ctx.graph.iter_risky_users(flt):
        state = risky.get("riskState")
        if state in ACTIVE_STATES and _at_or_above(risky.get("riskLevel"), config.risk_level):
            _lock_out(ctx, config, risky)
        elif state in CLEARED_STATES:
            _lift(ctx, config, risky)
    inbox.state_set(ctx.store, "risk", {"since": (started - OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")})
    return "done"


def _lock_out(ctx, config, risky):
    oid = risky["id"]
    before = risk_records.claim(ctx.store, oid, risk_records.parse(risky["riskLastUpdatedDateTime"]),
                                risky.get("riskLevel"), risky.get("riskState"))
    if before is None:
        return  # this detection was acted on already
    try:
        _act(ctx, config, risky)
    except Exception:
        risk_records.unclaim(ctx.store, oid, before)
        raise


def _act(ctx, config, risky):
    oid = risky["id"]
    match = who.resolve(ctx.auth0, ctx.store, config, oid)  # read after the claim: see Effects.unblock
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, ctx.dry_run)
    reason = f"Entra ID risk {risky.get('riskLevel')} ({risky.get('riskState')})"
    fx.revoke_entra_sessions(oid, reason)
    user = match.user if match.user and who.is_managed(match.user, config) else None
    if user:
        fx.block(user, oid, reason, cause="risk")
        risk_records.applied(ctx.store, oid, user["user_id"])
    text = (f"{risky.get('userPrincipalName') or oid} reached {reason}. Entra sign-in sessions revoked; "
            + (f"Auth0 user {user['user_id']} blocked until the risk is remediated or dismissed in Entra ID, "
               "sessions and refresh tokens revoked." if user else "no managed Auth0 user was found."))
    if not ctx.dry_run:
        sent = ctx.notifier.send("Risky user locked out", text)
        fx._audit("alert.sent", user and user["user_id"], oid, channels=sent)


def _lift(ctx, config, risky):
    oid = risky["id"]
    if not risk_records.close(ctx.store, oid, risk_records.parse(risky["riskLastUpdatedDateTime"]),
                              risky.get("riskState")):
        return  # this clearing was handled already
    match = who.resolve(ctx.auth0, ctx.store, config, oid)
    if match.user and who.is_managed(match.user, config):
        Effects(ctx.auth0, ctx.graph, ctx.store, config, ctx.dry_run).unblock(
            match.user, oid, cause="risk", reason=f"Entra ID risk {risky.get('riskState')}")


def hold(fx, user, oid):
    """An open risk seen before its Auth0 user existed (or was managed) is applied when the sync meets the user."""
    record = risk_records.unapplied(fx.store, oid)
    if record is None or not risk_records.applied(fx.store, oid, user["user_id"], only_if_unapplied=True):
        return False  # nothing held back, or another sync of this user is applying it
    try:
        fx.block(user, oid, f"Entra ID risk {record.risk_level} ({record.risk_state})", cause="risk")
    except Exception:
        risk_records.applied(fx.store, oid, None)  # the retried sync applies it again
        raise
    return True
