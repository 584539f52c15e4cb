"""The reconciliation spool plus the tables a Rule import needs: Rule users, accounts, deleted items, findings."""
import json

from service.reconcile.spool import Spool

RULE_SCHEMA = """
CREATE TABLE rule_users (user_id TEXT PRIMARY KEY, upn TEXT, iid TEXT, blocked INTEGER, email TEXT);
CREATE TABLE accounts (oid TEXT PRIMARY KEY, upn TEXT, iid TEXT, upn_l TEXT, iid_l TEXT, enabled INTEGER,
                       licensed INTEGER, display TEXT, nick TEXT, person TEXT, claimed_by TEXT);
CREATE INDEX accounts_upn ON accounts (upn_l);
CREATE INDEX accounts_iid ON accounts (iid_l);
CREATE INDEX accounts_person ON accounts (person);
CREATE TABLE deleted (oid TEXT PRIMARY KEY, upn TEXT, iid TEXT, upn_l TEXT, iid_l TEXT);
CREATE INDEX deleted_upn ON deleted (upn_l);
CREATE INDEX deleted_iid ON deleted (iid_l);
CREATE TABLE linked (user_id TEXT PRIMARY KEY, oid TEXT, step TEXT);
CREATE INDEX linked_oid ON linked (oid);
CREATE TABLE findings (seq INTEGER PRIMARY KEY, class TEXT, data TEXT);
CREATE INDEX findings_class ON findings (class, seq);
"""
ACCOUNT = "oid, upn, iid, enabled, licensed, display, nick, person, claimed_by"


class RuleSpool(Spool):
    """Disk-backed state of one Rule import, so memory stays flat whatever the tenant's size."""

    schema = RULE_SCHEMA

    def add_rule_users(self, rows):
        """rows: (user_id, upn, immutable_id, blocked, email)."""
        self.db.executemany("INSERT OR REPLACE INTO rule_users VALUES (?, ?, ?, ?, ?)", rows)

    def add_accounts(self, rows):
        """rows: (oid, upn, iid, enabled, licensed, display, nick, person)."""
        self.db.executemany(f"INSERT OR REPLACE INTO accounts ({ACCOUNT}, upn_l, iid_l) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, lower(?), lower(?))",
                            ((*r, r[1], r[2]) for r in rows))

    def add_deleted(self, rows):
        """rows: (oid, original upn, iid) of soft-deleted users."""
        self.db.executemany("INSERT OR REPLACE INTO deleted VALUES (?, ?, ?, lower(?), lower(?))",
                            ((o, u, i, u, i) for o, u, i in rows))

    def add_links(self, rows):
        """rows: (auth0 user id, Entra object id, deprovisioning grade or None) of the identity links."""
        self.db.executemany("INSERT OR REPLACE INTO linked VALUES (?, ?, ?)", rows)

    def rule_users(self, batch=2000):
        """Every Rule user, in user id order, read a batch at a time."""
        last = ""
        while True:
            rows = self.db.execute("SELECT * FROM rule_users WHERE user_id > ? ORDER BY user_id LIMIT ?",
                                   (last, batch)).fetchall()
            if not rows:
                return
            for uid, upn, iid, blocked, email in rows:
                yield {"user_id": uid, "upn": upn, "immutable_id": iid, "blocked": bool(blocked), "email": email}
            last = rows[-1][0]

    def account_for(self, upn, iid):
        """The account with this ImmutableID (Entra compares it case-insensitively), else with this UPN."""
        found = self._first("accounts", ACCOUNT, upn, iid)
        return _account(found) if found else None

    def deleted_for(self, upn, iid):
        """A soft-deleted user with this ImmutableID or UPN, or None."""
        found = self._first("deleted", "oid, upn, iid", upn, iid)
        return {"id": found[0], "upn": found[1], "immutable_id": found[2]} if found else None

    def _first(self, table, columns, upn, iid):
        for column, value in (("iid_l", iid), ("upn_l", upn)):
            if value:
                found = self.db.execute(f"SELECT {columns} FROM {table} WHERE {column} = lower(?)",
                                        (value,)).fetchone()
                if found:
                    return found
        return None

    def link_of(self, user_id):
        """{"id", "deprovision_step"} of the user's identity link, or None (no link)."""
        found = self.db.execute("SELECT oid, step FROM linked WHERE user_id = ?", (user_id,)).fetchone()
        return {"id": found[0], "deprovision_step": found[1]} if found else None

    def claim(self, oid, user_id):
        """Remember that an Auth0 user (or a link) claims this account."""
        self.db.execute("UPDATE accounts SET claimed_by = ? WHERE oid = ?", (user_id, oid))

    def claim_linked(self):
        """Accounts in the link table are the companion's, whoever made them."""
        self.db.execute("UPDATE accounts SET claimed_by = (SELECT user_id FROM linked WHERE linked.oid = "
                        "accounts.oid) WHERE claimed_by IS NULL AND oid IN (SELECT oid FROM linked)")

    def unclaimed(self, batch=2000):
        """Accounts no Auth0 user and no link claims, in object id order."""
        last = ""
        while True:
            rows = self.db.execute(f"SELECT {ACCOUNT} FROM accounts WHERE claimed_by IS NULL AND oid > ? "
                                   "ORDER BY oid LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield from map(_account, rows)
            last = rows[-1][0]

    def same_person(self, person, oid):
        """The person's other accounts: (oid, upn, claimed by) each."""
        if not person:
            return []
        return self.db.execute("SELECT oid, upn, claimed_by FROM accounts WHERE person = ? AND oid != ? "
                               "ORDER BY oid", (person, oid)).fetchall()

    def add_findings(self, findings):
        """Keep findings on disk until the run writes them out."""
        self.db.executemany("INSERT INTO findings (class, data) VALUES (?, ?)",
                            ((f["class"], json.dumps(f)) for f in findings))

    def findings(self, classes=None, exclude=(), batch=1000):
        """(seq, finding) pairs in the order found, optionally of some classes only."""
        last = 0
        where = "seq > ?" + (f" AND class IN ({','.join('?' * len(classes))})" if classes else "")
        where += f" AND class NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        while True:
            rows = self.db.execute(f"SELECT seq, data FROM findings WHERE {where} ORDER BY seq LIMIT ?",
                                   (last, *(classes or ()), *exclude, batch)).fetchall()
            if not rows:
                return
            for seq, data in rows:
                yield seq, json.loads(data)
            last = rows[-1][0]

    def update_findings(self, pairs):
        """Write back (seq, finding) pairs whose status changed."""
        self.db.executemany("UPDATE findings SET data = ? WHERE seq = ?", ((json.dumps(f), s) for s, f in pairs))

    def counts(self):
        """Findings per class."""
        return dict(self.db.execute("SELECT class, count(*) FROM findings GROUP BY class ORDER BY class"))


def _account(r):
    return {"id": r[0], "upn": r[1], "immutable_id": r[2], "enabled": bool(r[3]), "licensed": bool(r[4]),
            "displayName": r[5], "mailNickname": r[6], "person": r[7], "claimed_by": r[8]}
