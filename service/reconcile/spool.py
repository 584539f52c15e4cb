"""A disk-backed index of one side (SQLite in a temp file), so memory stays flat however large the tenant."""
import json
import os
import sqlite3
import tempfile

SCHEMA = """
CREATE TABLE auth0 (user_id TEXT PRIMARY KEY, oid TEXT, email TEXT, email_verified INTEGER, blocked INTEGER,
                    managed INTEGER, meta TEXT, seen INTEGER DEFAULT 0);
CREATE INDEX auth0_oid ON auth0 (oid);
CREATE INDEX auth0_email ON auth0 (email);
CREATE TABLE roles (user_id TEXT, role TEXT);
CREATE INDEX roles_user ON roles (user_id);
CREATE TABLE members (oid TEXT, group_id TEXT);
CREATE INDEX members_oid ON members (oid);
CREATE TABLE entra_seen (oid TEXT PRIMARY KEY, enabled INTEGER);
"""


class Spool:
    """Temporary tables for one run; removed by close(). Subclasses add tables through `schema`."""

    schema = SCHEMA

    def __init__(self, folder=None):
        fd, self.path = tempfile.mkstemp(prefix="reconcile-", suffix=".db", dir=folder)
        os.close(fd)
        self.db = sqlite3.connect(self.path)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + self.schema)

    def close(self):
        """Drop the spool file."""
        self.db.close()
        os.remove(self.path)

    def add_auth0(self, rows):
        """rows: (user_id, oid, email, email_verified, blocked, managed, meta dict)."""
        self.db.executemany("INSERT OR REPLACE INTO auth0 (user_id, oid, email, email_verified, blocked, managed, "
                            "meta) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            ((u, o, e, int(bool(v)), int(bool(b)), int(bool(m)), json.dumps(meta))
                             for u, o, e, v, b, m, meta in rows))

    def add_roles(self, role, user_ids):
        """Members of one Auth0 role."""
        self.db.executemany("INSERT INTO roles VALUES (?, ?)", ((u, role) for u in user_ids))

    def add_members(self, group_id, oids):
        """Members of one Entra group."""
        self.db.executemany("INSERT INTO members VALUES (?, ?)", ((o, group_id) for o in oids))

    def by_oid(self, oid):
        """Auth0 rows that claim Entra object oid."""
        return [_row(r) for r in self.db.execute("SELECT * FROM auth0 WHERE oid = ?", (oid,))]

    def by_email(self, email):
        """Auth0 rows with this email."""
        return [_row(r) for r in self.db.execute("SELECT * FROM auth0 WHERE email = ?", (email,))]

    def by_user_id(self, user_id):
        """One Auth0 row, or None."""
        found = self.db.execute("SELECT * FROM auth0 WHERE user_id = ?", (user_id,)).fetchone()
        return _row(found) if found else None

    def roles_of(self, user_id):
        """Role names the Auth0 user holds (managed roles only are spooled)."""
        return sorted(r for (r,) in self.db.execute("SELECT role FROM roles WHERE user_id = ?", (user_id,)))

    def groups_of(self, oid):
        """Mapped Entra groups the user is in."""
        return [g for (g,) in self.db.execute("SELECT group_id FROM members WHERE oid = ?", (oid,))]

    def mark_seen(self, oid, enabled):
        """Remember an Entra user seen in the listing."""
        self.db.execute("INSERT OR REPLACE INTO entra_seen VALUES (?, ?)", (oid, int(bool(enabled))))

    def entra_state(self, oid):
        """None (absent), True (enabled) or False (disabled)."""
        found = self.db.execute("SELECT enabled FROM entra_seen WHERE oid = ?", (oid,)).fetchone()
        return None if found is None else bool(found[0])

    def managed_without_entra(self):
        """Managed Auth0 users whose claimed Entra object was not in the listing."""
        query = ("SELECT a.* FROM auth0 a LEFT JOIN entra_seen e ON e.oid = a.oid "
                 "WHERE a.managed = 1 AND a.oid IS NOT NULL AND e.oid IS NULL")
        return [_row(r) for r in self.db.execute(query)]


def _row(r):
    return {"user_id": r[0], "oid": r[1], "email": r[2], "email_verified": bool(r[3]), "blocked": bool(r[4]),
            "managed": bool(r[5]), "meta": json.loads(r[6] or "{}")}
