"""Graph emulator as a process over TLS: msal against it, replication lag, dropped and slow connections."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import msal
import pytest
import requests

from tests.emulators.test_graph_support import STRONG_PASSWORD
from tests.support.emulators import GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID

SCOPES = ["https://graph.microsoft.com/.default"]


def session(graph):
    """A requests session that trusts only the emulator's CA (REQUESTS_CA_BUNDLE would override verify)."""
    http = requests.Session()
    http.trust_env = False
    http.verify = graph.verify
    return http


def msal_app(graph, secret=GRAPH_CLIENT_SECRET):
    return msal.ConfidentialClientApplication(GRAPH_CLIENT_ID, client_credential=secret,
                                              authority=f"{graph.url}/{GRAPH_TENANT_ID}", instance_discovery=False,
                                              http_client=session(graph))


@pytest.fixture
def http(graph):
    """A session with a Graph token from msal."""
    result = msal_app(graph).acquire_token_for_client(scopes=SCOPES)
    client = session(graph)
    client.headers["Authorization"] = f"Bearer {result['access_token']}"
    return client


def new_user(alias):
    return {"accountEnabled": True, "displayName": alias, "mailNickname": alias,
            "userPrincipalName": f"{alias}@contoso.onmicrosoft.com", "passwordProfile": {"password": STRONG_PASSWORD}}


def test_msal_gets_a_token_then_serves_it_from_its_cache(graph):
    app = msal_app(graph)
    first = app.acquire_token_for_client(scopes=SCOPES)
    assert first["token_source"] == "identity_provider" and first["expires_in"] > 3000
    second = app.acquire_token_for_client(scopes=SCOPES)
    assert second["token_source"] == "cache" and second["access_token"] == first["access_token"]
    assert graph.stats()["requests"]["POST /{tenant}/oauth2/v2.0/token"] == 1


def test_msal_with_a_wrong_secret_gets_invalid_client(graph):
    result = msal_app(graph, secret="not-the-secret").acquire_token_for_client(scopes=SCOPES)
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]
    assert "access_token" not in result


def test_new_user_answers_404_until_replication_lag_passes(graph, http):
    graph.configure(replication_lag_s=0.5)
    created = http.post(f"{graph.url}/v1.0/users", json=new_user("lag.process"), timeout=10)
    assert created.status_code == 201
    path = f"{graph.url}/v1.0/users/{created.json()['id']}"
    first = http.get(path, timeout=10)
    assert first.status_code == 404 and first.json()["error"]["code"] == "Request_ResourceNotFound"
    statuses = []
    for _ in range(100):  # bounded poll, as a client with back-off would
        statuses.append(http.get(path, timeout=10).status_code)
        if statuses[-1] == 200:
            break
        time.sleep(0.05)
    assert statuses[-1] == 200 and set(statuses) <= {404, 200}


def test_dropped_connection_then_normal_service(graph, http):
    graph.add_faults({"method": "GET", "path": "^/v1.0/domains$", "kind": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        http.get(f"{graph.url}/v1.0/domains", timeout=10)
    assert http.get(f"{graph.url}/v1.0/domains", timeout=10).status_code == 200


def test_reset_releases_a_request_held_by_a_timeout_fault_without_running_it(graph, http):
    graph.add_faults({"method": "POST", "path": "^/v1.0/users$", "kind": "timeout", "seconds": 60})
    outcome = {}

    def slow_create():
        try:
            outcome["status"] = http.post(f"{graph.url}/v1.0/users", json=new_user("held"), timeout=30).status_code
        except requests.RequestException as exc:
            outcome["error"] = exc
    worker = threading.Thread(target=slow_create)
    worker.start()
    while graph.stats()["requests"].get("POST /v1.0/users", 0) == 0:
        time.sleep(0.02)
    graph.reset()
    worker.join(30)
    assert isinstance(outcome.get("error"), requests.ConnectionError)
    assert all(u["displayName"] != "held" for u in graph.state()["users"])


def test_two_hundred_concurrent_requests_are_all_answered(graph, http):
    barrier = threading.Barrier(200)

    def one(i):
        barrier.wait(30)
        return http.get(f"{graph.url}/v1.0/users", params={"$top": "5", "$select": "id"}, timeout=60).status_code
    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [200] * 200
    assert graph.stats()["requests"]["GET /v1.0/users"] == 200


def test_valid_traffic_leaves_no_spec_violations(graph, http):
    base = f"{graph.url}/v1.0"
    uid = http.post(f"{base}/users", json=dict(new_user("spec.clean"), usageLocation="FR")).json()["id"]
    http.patch(f"{base}/users/{uid}", json={"jobTitle": "Analyst"})
    http.post(f"{base}/users/{uid}/assignLicense", json={
        "addLicenses": [{"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "disabledPlans": []}], "removeLicenses": []})
    for path in (f"/users/{uid}?$select=id,assignedLicenses,usageLocation,identities", f"/users/{uid}/licenseDetails",
                 f"/users/{uid}/memberOf", "/groups", "/subscribedSkus", "/domains", "/users?$top=2"):
        assert http.get(base + path).status_code == 200
    http.post(f"{base}/$batch", json={"requests": [{"id": "1", "method": "GET", "url": f"/users/{uid}"}]})
    http.delete(f"{base}/users/{uid}")
    http.post(f"{base}/directory/deletedItems/{uid}/restore", json={})
    assert graph.violations() == []
