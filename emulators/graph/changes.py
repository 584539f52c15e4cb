"""The directory's change log: one numbered entry per user or group write, for delta queries and webhooks.

Entries are appended under the store lock; an entry's version is the log's length after the append,
so "what changed since version v" is a slice. Listeners (the change-notification matcher) are called
with each new entry, still under the lock, and must only queue work.

Replication lag (facts §3): an entry about a user that reads cannot see yet is not *settled*. Delta
tokens never move past the first unsettled entry, so such a change is served once the user is
readable, possibly again in a later round (Learn `delta-query-overview`: replays happen).
"""
from collections import namedtuple

# kind: "user" | "group"; oids: the objects (a bulk seed logs many in one entry);
# event: user "created" | "updated" | "deleted" (soft) | "restored" | "purged",
#        group "created" | "updated" | "members";
# props: changed property names; members: ((member id, "user" | "group", "added" | "removed"), ...).
Change = namedtuple("Change", "version kind oids event props members")


class ChangeLog:
    """A list of Change entries plus the settled watermark."""

    def __init__(self):
        self.entries = []
        self.listeners = []
        self._settled = 0

    @property
    def version(self):
        """The version of the newest entry (0 when empty)."""
        return len(self.entries)

    def append(self, kind, oids, event, props=(), members=()):
        """Record one write and tell the listeners."""
        entry = Change(len(self.entries) + 1, kind, tuple(oids), event, frozenset(props), tuple(members))
        self.entries.append(entry)
        for listener in self.listeners:
            listener(entry)
        return entry

    def between(self, after, upto):
        """Entries with after < version <= upto."""
        return self.entries[after:upto]

    def settled(self, visible):
        """The highest version up to which every entry's objects are readable (never moves back)."""
        while self._settled < len(self.entries):
            entry = self.entries[self._settled]
            if entry.kind == "user" and not all(visible(oid) for oid in entry.oids):
                break
            self._settled += 1
        return self._settled
