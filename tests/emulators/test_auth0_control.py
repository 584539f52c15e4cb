"""Auth0 emulator: rate limiting, injected faults, reset, counters, knobs and spec checking."""
import pytest
import requests

from emulators.auth0.testing import Auth0TestClient, user_path
from tests.support.emulators import AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_DOMAIN


def test_rate_limit_answers_429_with_headers(emu):
    emu.control("PATCH", "config", json={"rate_limit": 3})
    answers = [emu.api("GET", "/roles") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
    throttled = answers[-1]
    assert int(throttled.headers["x-ratelimit-reset"]) >= int(answers[0].headers["x-ratelimit-reset"])
    assert throttled.json == {"statusCode": 429, "error": "Too Many Requests",
                              "message": "Global limit has been reached", "errorCode": "too_many_requests"}
    assert emu.control("GET", "stats")["throttled"] == 1
    assert emu.api("GET", "/logs").status_code == 429  # logs are behind the same bucket


def test_status_fault_with_retry_after_then_recovery(emu):
    emu.control("POST", "faults", json={"faults": [
        {"method": "GET", "path": r"^/api/v2/users/", "kind": "status", "status": 503, "count": 2,
         "retry_after": 1}]})
    user = emu.create_user("f@example.com")
    first = emu.api("GET", user_path(user["user_id"]))
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert first.json == {"statusCode": 503, "error": "Service Unavailable", "message": "Service Unavailable"}
    assert "x-ratelimit-remaining" in first.headers
    assert emu.api("GET", user_path(user["user_id"])).status_code == 503
    assert emu.api("GET", user_path(user["user_id"])).status_code == 200
    assert emu.control("GET", "stats")["faulted"] == 2


def test_timeout_and_drop_faults_in_process(emu):
    emu.control("POST", "faults", json={"faults": [
        {"path": "/roles", "kind": "timeout", "seconds": 0.01}, {"path": "/connections", "kind": "drop"}]})
    assert emu.api("GET", "/roles").status_code == 504
    with pytest.raises(ConnectionResetError):
        emu.api("GET", "/connections")
    assert emu.api("GET", "/connections").status_code == 200


def test_bad_fault_and_knob_requests_are_refused(emu):
    assert emu.http.post("/_emulator/faults", json={"faults": [{"kind": "explode"}]}).status_code == 400
    assert emu.http.post("/_emulator/faults", json={"faults": [{"path": "("}]}).status_code == 400
    assert emu.http.patch("/_emulator/config", json={"latency": 5}).status_code == 400
    assert emu.http.patch("/_emulator/config", json={"rate_limit": "fast"}).status_code == 400
    assert emu.http.post("/_emulator/users", json=[{"email": "x@example.com", "office365UPN": "x"}]).status_code == 400


def test_reset_restores_data_knobs_faults_and_counters(emu):
    emu.create_user("gone@example.com")
    emu.api("POST", "/users/auth0|x/roles", json={"roles": ["rol_sandboxstaff0001"]})
    emu.control("PATCH", "config", json={"latency_ms": 1, "rate_limit": 5})
    emu.control("POST", "faults", json={"faults": [{"path": "/roles", "count": None}]})
    emu.reset()
    state = emu.control("GET", "state")
    assert state["users"] == [] and state["revocations"] == [] and len(state["roles"]) == 3
    assert emu.control("GET", "config")["rate_limit"] == 1000.0
    assert emu.control("GET", "stats") == {"requests": {}, "throttled": 0, "faulted": 0, "tokens_issued": 0}
    assert emu.api("GET", "/roles").status_code == 200


def test_stats_are_keyed_by_route_template(emu):
    user = emu.create_user("s@example.com")
    emu.api("GET", user_path(user["user_id"]))
    emu.api("GET", "/users/auth0|other")
    requests_seen = emu.control("GET", "stats")["requests"]
    assert requests_seen["GET /api/v2/users/{id}"] == 2
    assert requests_seen["POST /api/v2/users"] == 1


def test_spec_check_flags_fields_the_vendor_schema_lacks():
    emu = Auth0TestClient(validate_spec=True)
    user = emu.create_user("spec@example.com")
    emu.api("PATCH", user_path(user["user_id"]), json={"blocked": "yes"})  # rejected: not a violation
    emu.api("GET", "/users", token="")  # 401 in Auth0's error shape: not a violation
    assert emu.control("GET", "violations") == []
    # Model an emulator bug: a stored field Auth0's user schema does not have.
    emu.app.store.users[user["user_id"]]["office365UPN"] = "private-dialect"
    emu.api("GET", user_path(user["user_id"]))
    assert emu.control("GET", "violations") == [
        "GET /users/{id} -> 200: response field $.office365UPN is not in the vendor schema"]


def test_process_emulator_end_to_end(auth0):
    """The real process: token over HTTP, a dropped connection, and its traffic checked against the spec."""
    http = requests.Session()
    http.trust_env = False
    token = http.post(f"{auth0.url}/oauth/token", json={
        "grant_type": "client_credentials", "client_id": AUTH0_CLIENT_ID, "client_secret": AUTH0_CLIENT_SECRET,
        "audience": f"https://{AUTH0_DOMAIN}/api/v2/"}, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = http.post(f"{auth0.url}/api/v2/users", headers=headers, timeout=10, json={
        "connection": "Username-Password-Authentication", "email": "proc@example.com",
        "password": "long-enough-1"})
    assert created.status_code == 201
    user_url = f"{auth0.url}/api/v2/users/{created.json()['user_id'].replace('|', '%7C')}"
    auth0.add_faults({"method": "GET", "path": "/api/v2/users/", "kind": "drop"})
    with pytest.raises(requests.ConnectionError):
        http.get(user_url, headers=headers, timeout=10)
    got = http.get(user_url, headers=headers, timeout=10)
    assert got.status_code == 200 and int(got.headers["x-ratelimit-remaining"]) >= 0
    assert auth0.stats()["requests"]["GET /api/v2/users/{id}"] == 2
    assert auth0.violations() == []
