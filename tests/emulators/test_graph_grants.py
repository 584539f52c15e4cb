"""Graph emulator: the granted application permissions in tokens, and domain set-up, set by control calls."""
from jose import jwt

from emulators.graph.tokens import ROLES
from tests.emulators.test_graph_support import GraphApi
from tests.support.emulators import FEDERATED_DOMAIN


def roles_of(api):
    return jwt.get_unverified_claims(api.headers["Authorization"].split()[1])["roles"]


def test_tokens_carry_the_granted_roles_until_reset():
    api = GraphApi()
    assert roles_of(api) == ROLES
    assert api.control("PUT", "roles", json={"roles": ["User.Read.All"]}).status_code == 200
    fresh = api.client.post(f"/{api.app.config.tenant_id}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": api.app.config.client_id,
        "client_secret": api.app.config.client_secret, "scope": "https://graph.microsoft.com/.default"})
    assert jwt.get_unverified_claims(fresh.json["access_token"])["roles"] == ["User.Read.All"]
    api.control("POST", "reset")
    assert api.control("GET", "roles").json["roles"] == ROLES
    assert api.control("PUT", "roles", json={"roles": "User.Read.All"}).status_code == 400


def test_domain_state_changes_show_in_get_domain():
    api = GraphApi()
    assert api.get(f"/domains/{FEDERATED_DOMAIN}").json["authenticationType"] == "Federated"
    assert api.control("PATCH", f"domains/{FEDERATED_DOMAIN}",
                       json={"isVerified": False, "authenticationType": "Managed"}).status_code == 200
    domain = api.get(f"/domains/{FEDERATED_DOMAIN}").json
    assert domain["isVerified"] is False and domain["authenticationType"] == "Managed"
    assert api.control("PATCH", f"domains/{FEDERATED_DOMAIN}", json={"isRoot": False}).status_code == 400
    assert api.control("DELETE", f"domains/{FEDERATED_DOMAIN}").status_code == 204
    assert api.get(f"/domains/{FEDERATED_DOMAIN}").status_code == 404
