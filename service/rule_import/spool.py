"""The reconciliation spool plus the tables a Rule import needs: Rule users, accounts, deleted items, findings."""
import json

from service.reconcile.spool import Spool

RULE_SCHEMA = """
CREATE TABLE rule_users (user_id TEXT PRIMARY KEY, upn TEXT, iid TEXT, blocked INTEGER, email TEXT);
CREATE TABLE accounts (oid TEXT PRIMARY KEY, upn TEXT, iid TEXT, upn_l TEXT, iid_l TEXT, enabled INTEGER,
                       licensed INTEGER, display TEXT, nick TEXT, person TEXT, usage TEXT, claimed_by TEXT);
CREATE INDEX accounts_upn ON accounts (upn_l);
CREATE INDEX accounts_iid ON accounts (iid_l);
CREATE INDEX accounts_person ON accounts (person);
CREATE TABLE deleted (oid TEXT PRIMARY KEY, upn TEXT, iid TEXT, upn_l TEXT, iid_l TEXT);
CREATE INDEX deleted_upn ON deleted (upn_l);
CREATE INDEX deleted_iid ON deleted (iid_l);
CREATE TABLE linked (user_id TEXT PRIMARY KEY, oid TEXT, step TEXT);
CREATE INDEX linked_oid ON linked (oid);
CREATE TABLE findings (seq INTEGER PRIMARY KEY, class TEXT, status TEXT, data TEXT);
CREATE INDEX findings_class ON findings (class, seq);
"""
ACCOUNT = "oid, upn, iid, enabled, licensed, display, nick, person, usage, claimed_by"


class RuleSpool(Spool):
    """Disk-backed state of one Rule import, so memory stays flat whatever the tenant's size."""

    schema = RULE_SCHEMA

    def add_rule_users(self, rows):
        """rows: (user_id, upn, immutable_id, blocked, email)."""
        self.db.executemany("INSERT OR REPLACE INTO rule_users VALUES (?, ?, ?, ?, ?)", rows)

    def add_accounts(self, rows):
        """rows: (oid, upn, iid, enabled, licensed, display, nick, person, usageLocation)."""
        self.db.executemany(f"INSERT OR REPLACE INTO accounts ({ACCOUNT}, upn_l, iid_l) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, lower(?), lower(?))",
                            ((*r, r[1], r[2]) for r in rows))

    def add_deleted(self, rows):
        """rows: (oid, original upn, iid) of soft-deleted users."""
        self.db.executemany("INSERT OR REPLACE INTO deleted VALUES (?, ?, ?, lower(?), lower(?))",
                            ((o, u, i, u, i) for o, u, i in rows))

    def add_links(self, rows):
        """rows: (auth0 user id, Entra object id, deprovisioning grade or None) of the identity links."""
        self.db.executemany("INSERT OR REPLACE INTO linked VALUES (?, ?, ?)", rows)

    def matched_rule_users(self, batch=2000):
        """(user, account or None, link or None) for every Rule user in user id order, a batch a query.

        The account is the one with the user's ImmutableID (Entra compares it case-insensitively), else
        the one with its UPN.
        """
        a_cols = ", ".join(f"a.{c}" for c in ACCOUNT.split(", "))
        b_cols = a_cols.replace("a.", "b.")
        query = (f"SELECT r.user_id, r.upn, r.iid, r.blocked, r.email, {a_cols}, {b_cols}, l.oid, l.step "
                 "FROM rule_users r LEFT JOIN accounts a ON a.iid_l = lower(r.iid) "
                 "LEFT JOIN accounts b ON b.upn_l = lower(r.upn) LEFT JOIN linked l ON l.user_id = r.user_id "
                 "WHERE r.user_id > ? ORDER BY r.user_id LIMIT ?")
        width, last = len(ACCOUNT.split(", ")), ""
        while True:
            rows = self.db.execute(query, (last, batch)).fetchall()
            if not rows:
                return
            for r in rows:
                by_iid, by_upn = r[5:5 + width], r[5 + width:5 + 2 * width]
                account = by_iid if by_iid[0] else by_upn if by_upn[0] else None
                yield ({"user_id": r[0], "upn": r[1], "immutable_id": r[2], "blocked": bool(r[3]), "email": r[4]},
                       _account(account) if account else None,
                       {"id": r[-2], "deprovision_step": r[-1]} if r[-2] else None)
            last = rows[-1][0]

    def deleted_for(self, upn, iid):
        """A soft-deleted user with this ImmutableID, else with this UPN, or None."""
        for column, value in (("iid_l", iid), ("upn_l", upn)):
            found = value and self.db.execute(f"SELECT oid, upn, iid FROM deleted WHERE {column} = lower(?)",
                                              (value,)).fetchone()
            if found:
                return {"id": found[0], "upn": found[1], "immutable_id": found[2]}
        return None

    def claim(self, pairs):
        """Remember which Auth0 user claims each account: pairs of (object id, user id)."""
        self.db.executemany("UPDATE accounts SET claimed_by = ? WHERE oid = ?", ((u, o) for o, u in pairs))

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
        """Keep findings on disk until the run writes them out (the status in a column of its own)."""
        self.db.executemany("INSERT INTO findings (class, status, data) VALUES (?, ?, ?)",
                            ((f["class"], f["status"], json.dumps(f)) for f in findings))

    def findings(self, classes=None, exclude=(), batch=1000):
        """(seq, finding) pairs in the order found, optionally of some classes only."""
        last = 0
        where = "seq > ?" + (f" AND class IN ({','.join('?' * len(classes))})" if classes else "")
        where += f" AND class NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        while True:
            rows = self.db.execute(f"SELECT seq, status, data FROM findings WHERE {where} ORDER BY seq LIMIT ?",
                                   (last, *(classes or ()), *exclude, batch)).fetchall()
            if not rows:
                return
            for seq, status, data in rows:
                yield seq, dict(json.loads(data), status=status)
            last = rows[-1][0]

    def update_findings(self, pairs):
        """Write back (seq, finding) pairs that changed."""
        self.db.executemany("UPDATE findings SET status = ?, data = ? WHERE seq = ?",
                            ((f["status"], json.dumps(f), s) for s, f in pairs))

    def set_status(self, pairs):
        """Only the status of findings: pairs of (seq, status)."""
        self.db.executemany("UPDATE findings SET status = ? WHERE seq = ?", ((st, s) for s, st in pairs))

    def set_class_status(self, cls, status):
        """One status for every finding of a class."""
        self.db.execute("UPDATE findings SET status = ? WHERE class = ?", (status, cls))

    def counts(self):
        """Findings per class."""
        return dict(self.db.execute("SELECT class, count(*) FROM findings GROUP BY class ORDER BY class"))


def _account(r):
    return {"id": r[0], "upn": r[1], "immutable_id": r[2], "enabled": bool(r[3]), "licensed": bool(r[4]),
            "displayName": r[5], "mailNickname": r[6], "person": r[7], "usageLocation": r[8], "claimed_by": r[9]}
