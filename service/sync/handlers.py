"""Handlers: bring Auth0 in line with one Entra user's current state; idempotent, so repeats change nothing."""
import dataclasses
import logging

from service.errors import NotFound, Transient
from service.sync import mapping, risk, who
from service.sync.effects import Effects

log = logging.getLogger("companion.sync")
USER_SELECT = ("id", "accountEnabled", "userPrincipalName", "mail", "displayName", "givenName", "surname",
               "department", "jobTitle", "officeLocation", "businessPhones", "mobilePhone", "employeeId",
               "companyName", "city", "country", "employeeType", "preferredLanguage", "usageLocation",
               "state", "postalCode", "streetAddress", "faxNumber", "otherMails")


@dataclasses.dataclass
class EntraView:
    """An Entra user as the sync sees it: None user means deleted."""

    oid: str
    user: dict | None
    group_ids: tuple = ()
    manager_upn: str | None = None
    deleted: bool = False


def read_entra(graph, oid, deleted_hint=False):
    """Read the user, its groups (transitive) and manager (not for a disabled user); a replication 404 is
    Transient, not a delete."""
    try:
        user = graph.get_user(oid, select=USER_SELECT)
    except NotFound:
        if deleted_hint or soft_deleted(graph, oid):
            return EntraView(oid, None, deleted=True)
        raise Transient(f"Entra user {oid} is not visible yet") from None
    if not user.get("accountEnabled", True):
        return EntraView(oid, user)  # offboarded whatever its groups and manager: two reads saved
    groups = tuple(g["id"] for g in graph.member_of(oid, transitive=True, select=("id",))
                   if g.get("@odata.type", "#microsoft.graph.group").endswith("group"))
    try:
        manager = graph.get_manager(oid)
    except NotFound:
        manager = None
    return EntraView(oid, user, groups, (manager or {}).get("userPrincipalName"))


def soft_deleted(graph, oid):
    """True when the object sits in deleted items (restorable)."""
    try:
        graph.get_deleted_item(oid)
        return True
    except NotFound:
        return False


def sync_user(ctx, oid, detail):
    """Apply one Entra user's state to its Auth0 user; returns a short word for the audit trail."""
    config = ctx.config()
    view = read_entra(ctx.graph, oid, deleted_hint=detail.get("deleted", False))
    email = (view.user or {}).get("mail") or (view.user or {}).get("userPrincipalName")
    match = who.resolve(ctx.auth0, ctx.store, config, oid, email)
    fx = Effects(ctx.auth0, ctx.graph, ctx.store, config, ctx.dry_run, detail.get("approved", False),
                 detail.get("reference"))
    if match.ambiguous:
        fx._audit("identity.ambiguous", None, oid, candidates=list(match.ambiguous))
        return "ambiguous"
    if view.deleted or not view.user.get("accountEnabled", True):
        return _offboard(fx, match, config, oid, "deleted in Entra ID" if view.deleted else "disabled in Entra ID")
    if not mapping.in_scope(view.group_ids, config):
        if match.user is not None and who.owned_by_sync(match.user, config):
            return _offboard(fx, match, config, oid, "left the sync scope")
        return "out-of-scope"
    user = _ensure_auth0_user(fx, match, view, config)
    if user is None:
        return "not-managed"
    fx.unblock(user, oid)
    risk.hold(fx, user, oid)
    _apply_profile_roles_policy(ctx, fx, user, view, config)
    return "synced"


def _offboard(fx, match, config, oid, reason):
    if match.user is None or not who.is_managed(match.user, config):
        return "not-managed"
    fx.block(match.user, oid, reason, cause="entra")
    return "blocked"


def _ensure_auth0_user(fx, match, view, config):
    record = mapping.namespace_record(None, view.user, view.manager_upn, config)
    if match.user is None:
        if not (config.create_users and config.connection):
            return None
        return fx.create(view.user, record) or None
    if match.rule == "verified_email" and not who.is_managed(match.user, config):
        fx.link(match.user, view.oid, record, match.rule)
        match.user.setdefault("app_metadata", {})[config.namespace] = record
    return match.user if who.is_managed(match.user, config) else None


def _apply_profile_roles_policy(ctx, fx, user, view, config):
    existing = (user.get("app_metadata") or {}).get(config.namespace)
    fx.set_metadata(user, view.oid, config.namespace,
                    mapping.namespace_record(existing, view.user, view.manager_upn, config))
    fx.set_metadata(user, view.oid, "entra_policy", mapping.policy(view.group_ids, config))
    if config.roles:
        current = [r["name"] for r in ctx.auth0.user_roles(user["user_id"])]
        add, remove = mapping.role_changes(current, view.group_ids, config)
        fx.set_roles(user, view.oid, add, remove, ctx.role_ids())
