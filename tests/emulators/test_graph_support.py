"""In-process access to the Graph emulator for its tests (werkzeug test client, a real token)."""
from werkzeug.test import Client

from emulators.graph import GraphConfig, create_app
from tests.support.emulators import GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID

STRONG_PASSWORD = "Correct-Horse-42-battery"


class GraphApi:
    """The app, a test client, and helpers that send an access token with every Graph call."""

    def __init__(self, **config):
        self.app = create_app(GraphConfig(**config))
        self.client = Client(self.app)
        reply = self.client.post(f"/{GRAPH_TENANT_ID}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": GRAPH_CLIENT_ID, "client_secret": GRAPH_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default"})
        self.headers = {"Authorization": f"Bearer {reply.json['access_token']}"}

    def call(self, method, path, **kwargs):
        """A Graph request with the bearer token (path relative to /v1.0)."""
        headers = dict(self.headers, **kwargs.pop("headers", {}))
        return self.client.open(f"/v1.0{path}", method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.call("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.call("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def control(self, method, path, json=None):
        """A /_emulator/ call."""
        return self.client.open(f"/_emulator/{path}", method=method, json=json)

    def create_user(self, alias, domain="contoso.onmicrosoft.com", **extra):
        """POST /users with a valid body; returns the response."""
        body = {"accountEnabled": True, "displayName": alias.title(), "mailNickname": alias.replace("'", ""),
                "userPrincipalName": f"{alias}@{domain}", "passwordProfile": {"password": STRONG_PASSWORD}}
        body.update(extra)
        return self.post("/users", json=body)


def error_code(response):
    """The Graph error code of a response."""
    return response.json["error"]["code"]
