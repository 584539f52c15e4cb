"""The tenant's data, in memory and guarded by one lock: users, connections, roles, revocations, jobs."""
import copy
import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timezone

from emulators.auth0.config import SEED_APPLICATIONS, SEED_CONNECTIONS, SEED_ROLES
from emulators.auth0.errors import role_not_found, user_not_found

LOG_CAP = 10000  # tenant logs kept (the oldest are dropped, like retention)


def now_iso():
    """Auth0's timestamp format: ISO 8601 UTC with milliseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id(prefix, size=16):
    """An Auth0-style object id such as `rol_…` / `job_…` (16 alphanumerics)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(size))


class Store:
    """Every object of the emulated tenant; callers hold `lock` across read-modify-write."""

    def __init__(self):
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        """Back to the sandbox seed: four connections, three roles, no users."""
        with self.lock:
            self.connections = {c["name"]: dict(c) for c in SEED_CONNECTIONS}
            self.roles = {r["id"]: dict(r) for r in SEED_ROLES}
            self.users = {}          # user_id -> stored user (public shape)
            self.by_email = {}       # (connection name, email) -> user_id
            self.created_at = {}     # user_id -> monotonic seconds, for the search-index lag
            self.user_roles = {}     # user_id -> [role ids] in assignment order
            self.sessions = {}       # user_id -> [session]
            self.refresh_tokens = {}  # user_id -> [refresh token]
            self.revocations = []    # [{user_id, kind, at, ...}]
            self.user_blocks = []    # brute-force blocks: [{identifier, ip?, connection?}]
            self.jobs = {}           # job id -> job record
            self.logs, self.log_seq = [], 0
            # Sign-in (emulators/auth0/oidc.py): password hashes, applications, and login transactions,
            # authorization codes and SSO sessions.
            self.passwords = {}      # user_id -> (salt, pbkdf2 hash)
            self.applications = {a["client_id"]: dict(a) for a in SEED_APPLICATIONS}
            self.logins = {"transactions": {}, "codes": {}, "sessions": {}}

    # users -----------------------------------------------------------------
    def user(self, user_id):
        """The stored user or Auth0Error(404 inexistent_user)."""
        found = self.users.get(user_id)
        if found is None:
            raise user_not_found()
        return found

    def add_user(self, user):
        """Index a new user (caller checked uniqueness)."""
        uid = user["user_id"]
        self.users[uid] = user
        self.by_email[(primary_connection(user), user.get("email"))] = uid
        self.created_at[uid] = time.monotonic()
        self.sessions.setdefault(uid, [])
        self.refresh_tokens.setdefault(uid, [])

    def reindex_email(self, user, old_email):
        """Move the email index entry after an email change."""
        conn = primary_connection(user)
        self.by_email.pop((conn, old_email), None)
        self.by_email[(conn, user.get("email"))] = user["user_id"]

    def remove_user(self, user_id):
        """Forget a user and everything hanging off it (revocation history stays)."""
        user = self.users.pop(user_id, None)
        if user is None:
            return None
        self.by_email.pop((primary_connection(user), user.get("email")), None)
        for table in (self.created_at, self.user_roles, self.sessions, self.refresh_tokens):
            table.pop(user_id, None)
        return user

    def set_password(self, user_id, password):
        """Keep a salted hash of a database user's password (the login page checks it)."""
        salt = secrets.token_bytes(16)
        self.passwords[user_id] = (salt, _hash_password(password, salt))

    def password_ok(self, user_id, password):
        """Whether password is the user's (False for users without one, e.g. social)."""
        stored = self.passwords.get(user_id)
        return bool(stored) and hmac.compare_digest(stored[1], _hash_password(password, stored[0]))

    def email_taken(self, connection, email):
        """Whether the connection already holds a user with this email."""
        return (connection, email) in self.by_email

    # roles, connections ------------------------------------------------------
    def grant(self, user_id, role_ids):
        """Give the user these roles, once each, in order (caller checked both exist)."""
        held = self.user_roles.setdefault(user_id, [])
        held.extend(r for r in dict.fromkeys(role_ids) if r not in held)

    def role(self, role_id):
        """The role or Auth0Error(404 inexistent_role)."""
        found = self.roles.get(role_id)
        if found is None:
            raise role_not_found()
        return found

    def connection_by_id(self, connection_id):
        """The connection with this id, or None."""
        return next((c for c in self.connections.values() if c["id"] == connection_id), None)

    # logs --------------------------------------------------------------------
    def log(self, kind, description, **fields):
        """Append a tenant log event (type codes: facts §3.5)."""
        self.log_seq += 1
        event = {"log_id": f"{self.log_seq:056d}", "date": now_iso(), "type": kind,
                 "description": description, **fields}
        self.logs.append(event)
        if len(self.logs) > LOG_CAP:
            del self.logs[: len(self.logs) - LOG_CAP]

    def user_log_fields(self, user):
        """The user and connection fields of a log event about this user."""
        conn = self.connections.get(primary_connection(user)) or {}
        fields = {"user_id": user["user_id"], "user_name": user.get("email") or user.get("username") or user["user_id"]}
        fields.update({k: conn[src] for k, src in (("connection", "name"), ("connection_id", "id"),
                                                   ("strategy", "strategy")) if src in conn})
        return fields

    def snapshot(self):
        """Deep copy of everything, for `/_emulator/state`."""
        with self.lock:
            users, revoked = [], {}
            for r in self.revocations:  # grouped once: a per-user scan is quadratic at 10,000 users
                revoked.setdefault(r["user_id"], []).append(r)
            for uid, user in self.users.items():
                users.append(dict(copy.deepcopy(user), roles=list(self.user_roles.get(uid, [])),
                                  sessions=copy.deepcopy(self.sessions.get(uid, [])),
                                  refresh_tokens=copy.deepcopy(self.refresh_tokens.get(uid, [])),
                                  revocations=copy.deepcopy(revoked.get(uid, []))))
            assignments = {rid: [u for u, rs in self.user_roles.items() if rid in rs] for rid in self.roles}
            jobs = [{k: v for k, v in job.items() if not k.startswith("_")} for job in self.jobs.values()]
            return {"users": users, "roles": list(copy.deepcopy(self.roles).values()),
                    "role_assignments": assignments, "connections": list(self.connections.values()),
                    "revocations": copy.deepcopy(self.revocations), "jobs": jobs, "logs": len(self.logs)}


def _hash_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)


def primary_connection(user):
    """The connection name of the user's primary identity."""
    identities = user.get("identities") or [{}]
    return identities[0].get("connection")
