"""The write_lag_s knob: writes by id can land on the primary while reads still miss the new user."""
import secrets

import pytest

from service.clients.graph import GraphClient
from service.errors import NotFound
from service.settings import from_env
from tests.support.env import companion_env


@pytest.fixture
def client(graph, auth0, tmp_path):
    return GraphClient.from_settings(from_env(companion_env(graph, auth0, f"sqlite:///{tmp_path}/x.db")))


def _new_user(client):
    upn = f"w{secrets.token_hex(3)}@contoso.onmicrosoft.com"
    return client.create_user({"accountEnabled": True, "displayName": "W", "mailNickname": upn.split("@")[0],
                               "userPrincipalName": upn, "usageLocation": "GB",
                               "passwordProfile": {"password": "Sandbox-" + secrets.token_urlsafe(12) + "9!"}})


def test_licence_write_succeeds_inside_the_read_lag_when_write_lag_is_shorter(graph, client):
    graph.configure(replication_lag_s=30.0, write_lag_s=0.0)
    user = _new_user(client)
    client.assign_license(user["id"], add=[{"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900"}])
    with pytest.raises(NotFound):
        client.get_user(user["id"])


def test_by_default_writes_wait_for_the_same_lag_as_reads(graph, client):
    graph.configure(replication_lag_s=30.0)
    user = _new_user(client)
    with pytest.raises(NotFound):
        client.assign_license(user["id"], add=[{"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900"}])
