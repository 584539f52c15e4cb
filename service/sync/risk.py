"""Risky users (Identity Protection, polled: it has no change notifications) → lockout and an alert."""
import datetime as dt

from service.clients.graph import odata_str
from service.sync import inbox, who
from service.sync.effects import Effects

LEVELS = ("low", "medium", "high")
ACTIVE_STATES = ("atRisk", "confirmedCompromised")


def _at_or_above(level, threshold):
    return level in LEVELS and LEVELS.index(level) >= LEVELS.index(threshold)


def poll(ctx, _object_id, _detail):
    """Lock out every managed Auth0 user whose Entra risk reached the threshold since the last poll."""
    config = ctx.config()
    since = (inbox.state_get(ctx.store, "risk") or {}).get("since")
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    flt = f"riskState eq {odata_str('atRisk')} or riskState eq {odata_str('confirmedCompromised')}"
    if since:
        flt = f"({flt}) and riskLastUpdatedDateTime ge {since}"
    for risky in ctx.graph.iter_risky_users(flt):
        if risky.get("riskState") in ACTIVE_STATES and _at_or_above(risky.get("riskLevel"), config.risk_level):
            _lock_out(ctx, config, risky)
    inbox.state_set(ctx.store, "risk", {"since": started})
    return "done"


def _lock_out(ctx, config, risky):
    oid = risky["id"]
    match = who.resolve(ctx.auth0, ctx.store, config, oid)
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, ctx.dry_run)
    reason = f"Entra ID risk {risky.get('riskLevel')} ({risky.get('riskState')})"
    fx.revoke_entra_sessions(oid, reason)
    user = match.user if match.user and who.is_managed(match.user, config) else None
    if user and not user.get("blocked"):
        fx.block(user, oid, reason)
    text = (f"{risky.get('userPrincipalName') or oid} reached {reason}. Entra sign-in sessions revoked; "
            + (f"Auth0 user {user['user_id']} blocked, sessions and refresh tokens revoked."
               if user else "no managed Auth0 user was found."))
    if not ctx.dry_run:
        sent = ctx.notifier.send("Risky user locked out", text)
        fx._audit("alert.sent", user and user["user_id"], oid, channels=sent)
