"""A companion under gunicorn wired to the emulators, on each database backend."""
import time

import pytest
import requests
from jose import jwt

from service import sandbox, tokens


class Stack:
    """The running companion plus handles on both emulators."""

    def __init__(self, graph, auth0, database_url, work_dir):
        self.graph, self.auth0, self.database_url, self.work_dir = graph, auth0, database_url, work_dir
        self.env = sandbox.companion_env(graph, auth0, database_url)
        self.proc, self.url = None, None
        self.http = requests.Session()
        self.http.trust_env = False

    def start(self, **extra_env):
        """Start (or restart) gunicorn with the same database."""
        self.proc, self.url = sandbox.start_companion({**self.env, **extra_env}, self.work_dir)
        return self

    def stop(self, sig=None):
        """Stop gunicorn."""
        if self.proc:
            self.proc.stop(sig)

    def logs(self):
        """Everything the companion logged."""
        return self.proc.output()

    def bearer(self, user_id, secret=sandbox.COMPANION_SECRET, **over):
        """An Action-style bearer token for the inline API."""
        now = int(time.time())
        claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": user_id,
                  "iat": now, "exp": now + 60, **over}
        return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}

    def provision(self, user, mode="inline", **token_over):
        """POST /v1/o365/provision as an Action would."""
        body = {k: v for k, v in user.items() if k not in ("app_metadata", "user_metadata")}
        return self.http.post(f"{self.url}/v1/o365/provision", json={**body, "mode": mode},
                              headers=self.bearer(user["user_id"], **token_over), timeout=60)

    def entra_users(self):
        """Accounts in the federated domain, as the Graph emulator holds them."""
        return [u for u in self.graph.state()["users"]
                if u["userPrincipalName"].endswith("@" + sandbox.FEDERATED_DOMAIN)]

    def login(self, user, **kwargs):
        """Play a login through the real Action in Node."""
        kwargs.setdefault("fast_refresh", True)
        return sandbox.play_login(user, sandbox.action_secrets(self.url), **kwargs)


@pytest.fixture
def stack(graph, auth0, database_url, tmp_path):
    """A started companion on the parametrised database."""
    s = Stack(graph, auth0, database_url, str(tmp_path)).start()
    yield s
    s.stop()


@pytest.fixture
def sqlite_stack(graph, auth0, tmp_path):
    """A started companion on SQLite only."""
    s = Stack(graph, auth0, f"sqlite:///{tmp_path}/companion.db", str(tmp_path)).start()
    yield s
    s.stop()
