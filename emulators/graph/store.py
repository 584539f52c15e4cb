"""The in-memory directory: users, soft-deleted users, groups, domains and SKUs, behind one lock.

Users sit in a dict keyed by id plus a sorted id list, so paging is a bisect and a slice (no scan),
and unique properties (userPrincipalName, onPremisesImmutableId) have their own indexes. Stored
objects are replaced, never changed in place, so a response built from them is a stable snapshot.
"""
import bisect
import threading
import time
import uuid
from datetime import datetime, timezone

from emulators.graph.changes import ChangeLog
from emulators.graph.errors import conflict

# Properties kept unique across the tenant, with the index key they use.
UNIQUE = {"userPrincipalName": str.lower, "onPremisesImmutableId": str.lower}


def now_iso():
    """Current UTC time the way Graph writes it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def changed_properties(old, new):
    """Names of the properties whose values differ between two versions of an object."""
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


class Store:
    """Everything the emulator holds; callers take `lock` around multi-step operations."""

    def __init__(self, replication_lag_s=0.0, clock=time.monotonic):
        self.lock = threading.RLock()
        self.clock = clock
        self.replication_lag_s = replication_lag_s
        self.write_lag_s = -1.0  # < 0: writes see the same lag as reads
        self.users, self.born, self.ids = {}, {}, []
        self.deleted = {}
        self.unique = {prop: {} for prop in UNIQUE}  # soft-deleted users keep their values (Entra does)
        self.groups, self.group_ids = {}, []
        self.members, self.member_of = {}, {}
        self.managers = {}
        self.domains, self.skus = {}, {}
        self.initial_domain = None
        # Lifecycle-sync state: change log, delta-token validity, subscriptions, risk, invitations.
        self.changes = ChangeLog()
        self.epoch = uuid.uuid4().hex[:12]  # delta tokens of another store (before a reset) are void
        self.delta_generation, self.delta_cache = 0, {}
        self.subscriptions = {}
        self.risky_users, self.risk_detections = {}, {}
        self.risk_last_call = None  # for Identity Protection's 1 request/s limit
        self.invitations = []

    # --- visibility (replication lag, facts §3) ---
    def visible(self, uid, write=False):
        """Whether reads (or, with write=True, writes by id) may see the user yet.

        Writes use `write_lag_s` when it is set (>= 0): a write that reaches the primary can succeed
        while reads from replicas still miss the user (facts §3), the window the old Rule fell into.
        """
        lag = self.write_lag_s if write and self.write_lag_s >= 0 else self.replication_lag_s
        return self.clock() - self.born.get(uid, float("-inf")) >= lag

    def lag_remaining(self, uid):
        """Seconds until reads may see the user (0 when they already can)."""
        return max(0.0, self.born.get(uid, float("-inf")) + self.replication_lag_s - self.clock())

    def user(self, key, include_lagging=False, write=False):
        """The active user with this id or userPrincipalName, or None."""
        with self.lock:
            uid = self.unique["userPrincipalName"].get(key.lower()) if "@" in key else key
            user = self.users.get(uid) if uid else None
            if user is None or not (include_lagging or self.visible(uid, write)):
                return None
            return user

    # --- writes ---
    def check_unique(self, values, own_id=None):
        """Raise ObjectConflict when another object (active or soft-deleted) holds one of the values."""
        for prop, key in UNIQUE.items():
            value = values.get(prop)
            if value is not None and self.unique[prop].get(key(value), own_id) != own_id:
                raise conflict(prop)

    def add_user(self, user, born=None):
        """Insert a new user after the uniqueness check, atomically."""
        with self.lock:
            self.check_unique(user)
            self._index(user)
            self.users[user["id"]] = user
            self.born[user["id"]] = self.clock() if born is None else born
            bisect.insort(self.ids, user["id"])
            self.changes.append("user", [user["id"]], "created", user)

    def add_users(self, users):
        """Insert many users at once (already visible); one sort instead of N inserts."""
        with self.lock:
            for user in users:
                self.check_unique(user)
            for user in users:
                self._index(user)
                self.users[user["id"]] = user
            self.ids.extend(u["id"] for u in users)
            self.ids.sort()
            self.changes.append("user", [u["id"] for u in users], "created", users[0] if users else ())

    def replace_user(self, old, new):
        """Swap a user's stored object for an updated copy, keeping indexes in step."""
        with self.lock:
            self.check_unique(new, own_id=old["id"])
            self._unindex(old)
            self._index(new)
            self.users[new["id"]] = new
            props = changed_properties(old, new)
            if props:
                self.changes.append("user", [new["id"]], "updated", props)

    def soft_delete(self, uid):
        """Move a user to deleted items; it keeps its unique values until purged."""
        with self.lock:
            user = self.users.pop(uid)
            self.ids.pop(bisect.bisect_left(self.ids, uid))
            self.deleted[uid] = dict(user, deletedDateTime=now_iso())
            self.adjust_consumed(user, -1)  # a deleted user's licences are free for others
            self.changes.append("user", [uid], "deleted", ("deletedDateTime",))
            self._log_memberships(uid, "removed")  # kept for a restore, but no longer listed
            return self.deleted[uid]

    def restore(self, uid):
        """Bring a soft-deleted user back (visible at once: it already replicated)."""
        with self.lock:
            user = dict(self.deleted.pop(uid), deletedDateTime=None)
            self.users[uid] = user
            self.born.pop(uid, None)
            bisect.insort(self.ids, uid)
            self.adjust_consumed(user, +1)
            self.changes.append("user", [uid], "restored", ("deletedDateTime",))
            self._log_memberships(uid, "added")
            return user

    def purge(self, uid):
        """Delete a soft-deleted user for good, freeing its unique values and memberships."""
        with self.lock:
            user = self.deleted.pop(uid)
            self._unindex(user)
            self.born.pop(uid, None)
            for gid in self.member_of.pop(uid, set()):
                self.members[gid] = [m for m in self.members[gid] if m != uid]
            self.managers.pop(uid, None)
            for report in [r for r, m in self.managers.items() if m == uid]:
                del self.managers[report]
            self.changes.append("user", [uid], "purged")

    def _log_memberships(self, uid, change):
        """One group-members entry per group the user is a direct member of."""
        for gid in sorted(self.member_of.get(uid, ())):
            self.changes.append("group", [gid], "members", members=[(uid, "user", change)])

    def adjust_consumed(self, user, delta):
        """Count the user's licences in (delta=+1) or out of (-1) their SKUs' consumedUnits."""
        for licence in user.get("assignedLicenses") or ():
            sku = self.skus.get(licence["skuId"].lower())
            if sku is not None:
                self.skus[sku["skuId"]] = dict(sku, consumedUnits=sku["consumedUnits"] + delta)

    def _index(self, user):
        for prop, key in UNIQUE.items():
            if user.get(prop) is not None:
                self.unique[prop][key(user[prop])] = user["id"]

    def _unindex(self, user):
        for prop, key in UNIQUE.items():
            if user.get(prop) is not None:
                self.unique[prop].pop(key(user[prop]), None)

    def lookup_ids(self, plan):
        """Ids of users holding any of the planned (property, values) pairs, via the indexes."""
        out = set()
        for prop, values in plan:
            for value in values:
                if prop == "id":
                    out.add(value.lower())
                elif self.unique[prop].get(value.lower()):
                    out.add(self.unique[prop][value.lower()])
        return out

    # --- groups ---
    def add_group(self, group, member_ids=()):
        """Insert a group with its direct members (users or groups)."""
        with self.lock:
            self.groups[group["id"]] = group
            bisect.insort(self.group_ids, group["id"])
            self.members[group["id"]] = []
            self.changes.append("group", [group["id"]], "created", group)
            for member in member_ids:
                self.add_member(group["id"], member)

    def replace_group(self, old, new):
        """Swap a group's stored object for an updated copy."""
        with self.lock:
            self.groups[new["id"]] = new
            props = changed_properties(old, new)
            if props:
                self.changes.append("group", [new["id"]], "updated", props)

    def add_member(self, gid, member_id):
        """Add a direct member (idempotent)."""
        with self.lock:
            if member_id not in self.members[gid]:
                self.members[gid] = self.members[gid] + [member_id]
                self.member_of.setdefault(member_id, set()).add(gid)
                kind = "group" if member_id in self.groups else "user"
                self.changes.append("group", [gid], "members", members=[(member_id, kind, "added")])

    def remove_member(self, gid, member_id):
        """Remove a direct member; False when it was not one."""
        with self.lock:
            if member_id not in self.members.get(gid, ()):
                return False
            self.members[gid] = [m for m in self.members[gid] if m != member_id]
            self.member_of.get(member_id, set()).discard(gid)
            kind = "group" if member_id in self.groups else "user"
            self.changes.append("group", [gid], "members", members=[(member_id, kind, "removed")])
            return True

    def directory_object(self, oid):
        """(kind, object) of an active, visible user or a group; None otherwise."""
        if oid in self.groups:
            return "group", self.groups[oid]
        if oid in self.users and self.visible(oid):
            return "user", self.users[oid]
        return None

    # --- paging ---
    def page(self, kind, after, top, predicate=None, candidates=None):
        """(objects, more) after id `after` in id order, visible ones only, at most `top`."""
        with self.lock:
            objects = self.users if kind == "user" else self.groups
            ids = self.ids if kind == "user" else self.group_ids
            if candidates is not None:
                ids = sorted(oid for oid in candidates if oid in objects)
            start = bisect.bisect_right(ids, after) if after else 0
            out, check_lag = [], kind == "user" and self.replication_lag_s > 0
            for i in range(start, len(ids)):
                oid = ids[i]
                obj = objects[oid]
                if (check_lag and not self.visible(oid)) or (predicate and not predicate(obj)):
                    continue
                if len(out) == top:
                    return out, True
                out.append(obj)
            return out, False

    def count(self, kind, predicate=None, candidates=None):
        """How many visible objects match (for $count=true)."""
        more, total, after = True, 0, None
        while more:
            objects, more = self.page(kind, after, 5000, predicate, candidates)
            total += len(objects)
            after = objects[-1]["id"] if objects else None
        return total
