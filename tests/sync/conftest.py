"""In-process sync against both emulators: a SyncContext, an admin Graph client, groups and users."""
import json
import secrets

import pytest
import yaml

from service.clients.graph import GraphClient
from service.companion import Companion
from service.db import migrate
from service.settings import from_env
from service.sync.context import SyncContext
from tests.support.env import companion_env

AUTH0_DB = "Username-Password-Authentication"


class World:
    """Both emulators, an Entra admin client, and a factory for SyncContexts with a given mapping."""

    def __init__(self, graph, auth0, tmp_path):
        self.graph_emu, self.auth0_emu, self.tmp = graph, auth0, tmp_path
        self.env = companion_env(graph, auth0, f"sqlite:///{tmp_path}/sync.db")
        self.entra = GraphClient.from_settings(from_env(self.env))

    def context(self, mapping, **env):
        """A SyncContext whose SYNC_CONFIG holds mapping."""
        path = self.tmp / f"sync-{secrets.token_hex(3)}.yaml"
        path.write_text(yaml.safe_dump(mapping))
        companion = Companion.build(from_env({**self.env, "SYNC_CONFIG": str(path), **env}))
        migrate(companion.store.engine)
        return SyncContext(companion)

    def user(self, name, **props):
        """An Entra member in the managed domain."""
        upn = f"{name}.{secrets.token_hex(3)}@contoso.onmicrosoft.com"
        body = {"accountEnabled": True, "displayName": name.title(), "mailNickname": upn.split("@")[0],
                "userPrincipalName": upn, "mail": upn, "usageLocation": "GB",
                "passwordProfile": {"password": "Sandbox-" + secrets.token_urlsafe(16) + "9!"}, **props}
        return self.entra.create_user(body)

    def group(self, name, *members):
        """An Entra group (created through the emulator's control API)."""
        resp = self.graph_emu.http.post(f"{self.graph_emu.url}/_emulator/groups",
                                        json={"displayName": name, "members": [m["id"] for m in members]})
        resp.raise_for_status()
        return resp.json()

    def join(self, group, user):
        """Add a member the way Graph does ($ref)."""
        self.entra._request("POST", f"/groups/{group['id']}/members/$ref",
                            json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"})

    def leave(self, group, user):
        """Remove a member the way Graph does ($ref)."""
        self.entra._request("DELETE", f"/groups/{group['id']}/members/{user['id']}/$ref")

    def auth0_users(self, email=None):
        """Auth0 users, optionally those with one email."""
        users = self.auth0_emu.state()["users"]
        return [u for u in users if email is None or u.get("email") == email]

    def seed_auth0(self, **user):
        """Seed an Auth0 user directly."""
        resp = self.auth0_emu.http.post(f"{self.auth0_emu.url}/_emulator/users", json=[user])
        resp.raise_for_status()
        return resp.json()

    def audit(self, ctx, action=None):
        """Audit rows of a context's store."""
        from service.models import AuditEvent
        with ctx.store.session() as session:
            rows = session.query(AuditEvent).order_by(AuditEvent.id).all()
        return [r for r in rows if action is None or r.action == action]


@pytest.fixture
def world(graph, auth0, tmp_path):
    return World(graph, auth0, tmp_path)


def dump(obj):
    """Readable assertion messages."""
    return json.dumps(obj, indent=1, default=str)[:2000]
