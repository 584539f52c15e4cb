"""Policy escalation: Auth0 users the companion blocked long enough ago are deleted after the grace period."""
import datetime as dt

from service.errors import Transient
from service.sync import who
from service.sync.effects import Effects
from service.sync.handlers import read_entra


def run(ctx, _object_id, detail, now=None):
    """Delete companion-blocked users whose Entra account has stayed off for delete_after_days."""
    config = ctx.config()
    if config.delete_after_days is None:
        return "done"
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=float(config.delete_after_days))
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, ctx.dry_run, detail.get("approved", False))
    for user in ctx.auth0.search_users(f"app_metadata.{config.namespace}.blocked_by_companion:true"):
        meta = (user.get("app_metadata") or {}).get(config.namespace) or {}
        since = _parse(meta.get("disabled_at"))
        if not (user.get("blocked") and since and since <= cutoff and who.is_managed(user, config)):
            continue
        if _still_off(ctx, meta.get("object_id")):
            fx.delete(user, meta.get("object_id"), f"blocked since {since.date()}, grace of "
                                                   f"{config.delete_after_days} days over")
    return "done"


def _parse(value):
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _still_off(ctx, oid):
    """Re-check Entra before deleting: a user re-enabled in the meantime is kept."""
    if not oid:
        return False
    try:
        view = read_entra(ctx.graph, oid)
    except Transient:
        return False
    return view.deleted or not view.user.get("accountEnabled", True)
