"""An in-process client of the emulator (werkzeug test client) for fast tests of code that calls Auth0."""
from urllib.parse import quote

from werkzeug.test import Client

from emulators.auth0.app import create_app
from emulators.auth0.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET


class Auth0TestClient:
    """Talks to an emulator app without sockets: token, Management API calls, control calls."""

    def __init__(self, app=None, **overrides):
        self.app = app or create_app(**overrides)
        self.http = Client(self.app)
        self._token = None

    def token_response(self, **params):
        """POST /oauth/token with the sandbox client credentials (params override them)."""
        body = {"grant_type": "client_credentials", "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SANDBOX_CLIENT_SECRET, "audience": self.app.config.audience, **params}
        return self.http.post("/oauth/token", json=body)

    @property
    def token(self):
        """A cached Management API access token."""
        if self._token is None:
            self._token = self.token_response().json["access_token"]
        return self._token

    def api(self, method, path, token=None, **kwargs):
        """A Management API call (`path` below /api/v2), with the bearer token unless token=""."""
        headers = dict(kwargs.pop("headers", {}))
        bearer = self.token if token is None else token
        if bearer:
            headers.setdefault("Authorization", f"Bearer {bearer}")
        return self.http.open(f"/api/v2{path}", method=method, headers=headers, **kwargs)

    def control(self, method, name, **kwargs):
        """A `/_emulator/<name>` call, returning the decoded JSON."""
        resp = self.http.open(f"/_emulator/{name}", method=method, **kwargs)
        assert resp.status_code < 400, resp.get_data(as_text=True)
        return resp.json

    def reset(self):
        """Back to the sandbox defaults (the token stays valid: the signing key is kept)."""
        return self.control("POST", "reset")

    def seed(self, *users):
        """Seed users directly; returns them as the API shows them."""
        return self.control("POST", "users", json=list(users))["users"]

    def create_user(self, email, password="correct-horse-battery", **fields):
        """POST /users in the database connection; returns the created user."""
        body = {"connection": "Username-Password-Authentication", "email": email, "password": password, **fields}
        resp = self.api("POST", "/users", json=body)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.json


def user_path(user_id, suffix=""):
    """`/users/<id>` with the id URL-encoded the way SDKs send it (`|` → %7C)."""
    return f"/users/{quote(user_id, safe='')}{suffix}"
