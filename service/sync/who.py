"""Who is who: the Auth0 user(s) behind an Entra user, by rules in a fixed order; ambiguity is reported."""
import dataclasses

from sqlalchemy import select

from service.errors import NotFound
from service.models import Link


@dataclasses.dataclass
class Match:
    """The Auth0 user found for an Entra user (or none), and how it was found."""

    user: dict | None
    rule: str | None = None
    ambiguous: tuple = ()


def _by_link(store, oid):
    with store.session() as session:
        return session.scalars(select(Link.auth0_user_id).where(Link.entra_object_id == oid)).all()


def _by_enterprise_connection(auth0, oid):
    """Users of an Entra (waad) enterprise connection carry the object id in their user id."""
    try:
        return [auth0.get_user(f"waad|{oid}")]
    except NotFound:
        return []


def _by_external_id(auth0, oid, namespace):
    return list(auth0.search_users(f'app_metadata.{namespace}.object_id:"{oid}"'))


def resolve(auth0, store, config, oid, email=None):
    """Find the one Auth0 user for Entra object oid; Match.ambiguous lists ids when several qualify."""
    found = {}
    for uid in _by_link(store, oid):
        try:
            found.setdefault(uid, ("link", auth0.get_user(uid)))
        except NotFound:
            pass  # the Auth0 user behind an Office 365 link is gone: no match by this rule
    for rule, users in (("enterprise_connection", _by_enterprise_connection(auth0, oid)),
                        ("external_id", _by_external_id(auth0, oid, config.namespace))):
        for user in users:
            found.setdefault(user["user_id"], (rule, user))
    if not found and email and config.link_by_verified_email:
        verified = [u for u in auth0.users_by_email(email) if u.get("email_verified")]
        found = {u["user_id"]: ("verified_email", u) for u in verified}
    if len(found) > 1:
        return Match(None, ambiguous=tuple(sorted(found)))
    if not found:
        return Match(None)
    (_uid, (rule, user)), = found.items()
    return Match(user, rule)


def owned_by_sync(user, config):
    """Entra-first users the sync created or linked, or of a managed connection: scope applies to them.

    Office 365 accounts (Auth0-first, in the link table) are left out: Auth0 is their source, so leaving
    an Entra sync scope must not block them.
    """
    meta = (user.get("app_metadata") or {}).get(config.namespace) or {}
    connections = {i.get("connection") for i in user.get("identities") or []}
    return bool(meta.get("managed") and not (user.get("app_metadata") or {}).get("entra_companion")) or \
        bool(connections & set(config.managed_connections))


def is_managed(user, config):
    """The companion changes only Auth0 users it created, linked or owns by connection."""
    meta = (user.get("app_metadata") or {}).get(config.namespace) or {}
    if meta.get("managed"):
        return True
    if (user.get("app_metadata") or {}).get("entra_companion"):
        return True  # provisioned to Office 365 by the companion
    connections = {i.get("connection") for i in user.get("identities") or []}
    return bool(connections & set(config.managed_connections))

