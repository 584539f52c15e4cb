"""Who is who: the Auth0 user(s) behind an Entra user, by rules in a fixed order; ambiguity is reported."""
import dataclasses
import threading

from sqlalchemy import select

from service.errors import NotFound, Transient
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


def _waad_id(oid):
    """Users of an Entra (waad) enterprise connection carry the object id in their user id."""
    return f"waad|{oid}"


def _claims(user, oid, namespace):
    """True when an Auth0 user carries this object id by either id rule."""
    external = ((user.get("app_metadata") or {}).get(namespace) or {}).get("object_id")
    return user.get("user_id") == _waad_id(oid) or external == oid


def _phrase(value):
    """A Lucene phrase: one id with a quote in it cannot change the query the others share."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rules(oid, namespace):
    """Both id rules for one object id, as a search clause."""
    return f"user_id:{_phrase(_waad_id(oid))} OR app_metadata.{namespace}.object_id:{_phrase(oid)}"


class _Batch:
    """Object ids whose look-ups share one search, and what it found."""

    def __init__(self):
        self.oids, self.led, self.done, self.users, self.error = [], False, False, [], None


class SharedSearch:
    """Look-ups running at once share one Auth0 search for both id rules (group commit: a look-up alone
    goes at once; those arriving while a search is out go together in the next one). A disable costs a
    search and two writes against the tier's rate limit, so k changes in flight save k - 1 calls."""

    MOST = 20  # ~2 KB of query string; an object id has at most a few claimants

    def __init__(self):
        self._cond, self._gathering, self._out = threading.Condition(), {}, set()

    def find(self, auth0, oid, namespace):
        """The Auth0 users that carry oid by either id rule."""
        key = (auth0, namespace)
        with self._cond:
            batch = self._gathering.get(key)
            if batch is None or len(batch.oids) >= self.MOST:
                batch = self._gathering[key] = _Batch()
            batch.oids.append(oid)
            while key in self._out and not batch.done:
                self._cond.wait()
            lead = not batch.done and not batch.led
            if lead:
                batch.led = True
                self._out.add(key)
                if self._gathering.get(key) is batch:
                    del self._gathering[key]
        if lead:
            self._search(auth0, namespace, key, batch)
        with self._cond:
            while not batch.done:
                self._cond.wait()
        if batch.error is not None:
            raise batch.error
        return [u for u in batch.users if _claims(u, oid, namespace)]

    def _search(self, auth0, namespace, key, batch):
        query = " OR ".join(_rules(oid, namespace) for oid in dict.fromkeys(batch.oids))
        batch.error = Transient("the shared Auth0 user search did not finish")  # none reads "nobody found"
        try:
            batch.users, batch.error = list(auth0.search_users(query)), None
        except Exception as err:  # noqa: BLE001 (every look-up in the batch is told the search's error)
            batch.error = err
        finally:
            with self._cond:
                batch.done = True
                self._out.discard(key)
                self._cond.notify_all()


_shared = SharedSearch()


def _by_ids(auth0, oid, namespace):
    """One search for both id rules (the enterprise connection's user id and our external id), shared
    with the look-ups running beside it."""
    return _shared.find(auth0, oid, namespace)


def _read(auth0, user_id):
    try:
        return auth0.get_user(user_id)
    except NotFound:
        return None


def resolve(auth0, store, config, oid, email=None):
    """Find the one Auth0 user for Entra object oid; Match.ambiguous lists ids when several qualify.

    Two Auth0 reads at most for a user the companion knows (one for an external id alone): a change at
    the Auth0 tier's rate limit costs the reads plus its writes, so each read saved is drain rate."""
    found = {}
    for uid in _by_link(store, oid):
        user = _read(auth0, uid)  # gone: the Auth0 user behind an Office 365 link was deleted
        if user is not None:
            found.setdefault(uid, ("link", user))
    for user in _by_ids(auth0, oid, config.namespace):
        if user["user_id"] != _waad_id(oid):
            found.setdefault(user["user_id"], ("external_id", user))
        elif (fresh := _read(auth0, user["user_id"])) is not None:  # search is eventually consistent (§3.2)
            found.setdefault(user["user_id"], ("enterprise_connection", fresh))
    if not found:  # a first sign-in through the connection moments ago may not be searchable yet
        user = _read(auth0, _waad_id(oid))
        found = {user["user_id"]: ("enterprise_connection", user)} if user else {}
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

