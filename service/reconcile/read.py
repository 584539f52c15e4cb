"""Read both directories in full, streaming into the spool: Auth0 by export job, Entra by paged listing."""
from sqlalchemy import select

from service.models import Link
from service.sync import who

EXPORT_FIELDS = ("user_id", "email", "email_verified", "blocked", "app_metadata", "identities")
BATCH = 5000


def auth0_users(ctx, spool, config):
    """Every Auth0 user through a users export job (GET /users?q= stops at 1,000); returns the count."""
    job = ctx.auth0.start_users_export(fields=list(EXPORT_FIELDS))
    batch, count = [], 0
    for user in ctx.auth0.iter_export(job["id"]):
        meta = (user.get("app_metadata") or {}).get(config.namespace) or {}
        batch.append((user["user_id"], meta.get("object_id"), user.get("email"), user.get("email_verified"),
                      user.get("blocked"), who.is_managed(user, config), meta))
        if len(batch) >= BATCH:
            spool.add_auth0(batch)
            count, batch = count + len(batch), []
    spool.add_auth0(batch)
    return count + len(batch)


def auth0_roles(ctx, spool, config):
    """Holders of every role the mapping manages."""
    ids = {r["name"]: r["id"] for r in ctx.auth0.list_roles()}
    for name in sorted(config.managed_roles):
        if name in ids:
            spool.add_roles(name, (u["user_id"] for u in ctx.auth0.iter_role_users(ids[name])))


def entra_groups(ctx, spool, config):
    """Members of every mapped and scope group (transitive)."""
    for group_id in sorted(set(config.roles) | set(config.scope_groups)):
        spool.add_members(group_id, (m["id"] for m in ctx.graph.group_members(group_id, transitive=True,
                                                                              select=("id",))))


def entra_select(config):
    """The user properties the comparison needs."""
    props = {"id", "accountEnabled", "userPrincipalName", "mail"} | set(config.attributes.values())
    props.discard("manager")  # a navigation property: one call per user, so it is not reconciled
    return sorted(props)


def links(store, batch=1000):
    """Every identity link, streamed in primary-key order."""
    last = ""
    while True:
        with store.session() as session:
            rows = session.execute(select(Link.auth0_user_id, Link.entra_object_id, Link.deprovision_step)
                                   .where(Link.auth0_user_id > last, Link.entra_object_id.is_not(None))
                                   .order_by(Link.auth0_user_id).limit(batch)).all()
        if not rows:
            return
        for uid, oid, step in rows:
            yield {"auth0_user_id": uid, "entra_object_id": oid, "deprovision_step": step}
        last = rows[-1][0]
