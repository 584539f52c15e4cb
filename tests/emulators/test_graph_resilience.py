"""Graph emulator: throttling, injected faults, $batch, and the /_emulator control surface."""
import pytest

from tests.emulators.test_graph_support import STRONG_PASSWORD, GraphApi, error_code

ENGINEERING = "1b2c3d4e-0000-4000-8000-000000000001"


@pytest.fixture
def api():
    return GraphApi()


def new_user_body(alias):
    return {"accountEnabled": True, "displayName": alias, "mailNickname": alias,
            "userPrincipalName": f"{alias}@contoso.onmicrosoft.com", "passwordProfile": {"password": STRONG_PASSWORD}}


@pytest.mark.parametrize("path, query, units", [
    ("/users", {}, 2), ("/users", {"$select": "id"}, 1), ("/users", {"$top": "5", "$select": "id"}, 1),
    ("/users", {"$top": "5"}, 1), ("/subscribedSkus", {}, 3), (f"/groups/{ENGINEERING}/members", {}, 3),
    (f"/groups/{ENGINEERING}/transitiveMembers", {}, 5), ("/users/0a1b2c3d-0000-4000-8000-000000000001/memberOf",
                                                         {}, 2), ("/domains", {}, 1)])
def test_resource_unit_costs_follow_graphs_table(api, path, query, units):
    reply = api.get(path, query_string=query)
    assert reply.status_code == 200 and reply.headers["x-ms-resource-unit"] == str(units)


def test_over_budget_is_429_with_retry_after(api):
    api.control("PATCH", "config", {"ru_per_10s": 5})
    assert [api.get("/users").status_code for _ in range(2)] == [200, 200]
    throttled = api.get("/users")
    assert throttled.status_code == 429 and error_code(throttled) == "TooManyRequests"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    assert api.get("/domains").status_code == 200  # 1 RU still fits
    stats = api.control("GET", "stats").json
    assert stats["throttled"] == 1 and stats["ru"] == 5 and stats["requests"]["GET /v1.0/users"] == 3


def test_batch_inner_requests_are_throttled_one_by_one(api):
    api.control("PATCH", "config", {"ru_per_10s": 3})
    batch = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(1, 4)]}
    reply = api.post("/$batch", json=batch)
    assert reply.status_code == 200
    statuses = {r["id"]: r for r in reply.json["responses"]}
    assert statuses["1"]["status"] == 200 and statuses["2"]["status"] == 429
    assert int(statuses["2"]["headers"]["Retry-After"]) >= 1


def test_status_fault_once_then_normal_service(api):
    api.control("POST", "faults", {"faults": [{"method": "POST", "path": "^/v1.0/users$", "kind": "status",
                                               "status": 503, "count": 1, "retry_after": 1}]})
    first = api.post("/users", json=new_user_body("retry.me"))
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert first.json["error"]["innerError"]["request-id"] == first.headers["request-id"]
    assert api.post("/users", json=new_user_body("retry.me")).status_code == 201
    assert api.control("GET", "faults").json["faults"][0]["remaining"] == 0


def test_a_fault_after_the_write_hides_a_success(api):
    api.control("POST", "faults", {"faults": [{"method": "POST", "path": "^/v1.0/users$", "kind": "status",
                                               "status": 504, "when": "after", "count": 1}]})
    assert api.post("/users", json=new_user_body("ghost")).status_code == 504
    again = api.post("/users", json=new_user_body("ghost"))
    assert again.status_code == 400 and again.json["error"]["details"][0]["code"] == "ObjectConflict"


def test_drop_and_timeout_faults(api):
    api.control("POST", "faults", {"faults": [{"path": "^/v1.0/domains$", "kind": "drop", "count": 1},
                                              {"path": "^/v1.0/groups$", "kind": "timeout", "seconds": 0.01}]})
    with pytest.raises(ConnectionAbortedError):
        api.get("/domains")
    assert api.get("/domains").status_code == 200
    assert api.get("/groups").status_code == 200  # answered after the pause
    api.control("POST", "faults", {"faults": [{"path": "^/v1.0/users$", "kind": "delay_response", "seconds": 0.01}]})
    assert api.post("/users", json=new_user_body("slow.answer")).status_code == 201
    assert api.control("GET", "faults").json["faults"][-1]["kind"] == "delay_response"
    bad = api.control("POST", "faults", {"faults": [{"kind": "explode"}]})
    assert bad.status_code == 400


def test_batch_runs_inner_requests_with_their_own_statuses(api):
    batch = {"requests": [
        {"id": "1", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
         "body": new_user_body("batched")},
        {"id": "2", "method": "GET", "url": "users/batched@contoso.onmicrosoft.com?$select=id,displayName",
         "dependsOn": ["1"]},
        {"id": "3", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"},
         "body": new_user_body("batched")},
        {"id": "4", "method": "GET", "url": "/domains", "dependsOn": ["3"]},
        {"id": "5", "method": "GET", "url": "/users/not-there"}]}
    reply = api.post("/$batch", json=batch)
    assert reply.status_code == 200
    by_id = {r["id"]: r for r in reply.json["responses"]}
    assert [r["id"] for r in reply.json["responses"]] == ["1", "2", "3", "4", "5"]
    assert by_id["1"]["status"] == 201 and by_id["2"]["status"] == 200
    assert by_id["2"]["body"]["displayName"] == "batched"
    assert by_id["3"]["status"] == 400 and by_id["3"]["body"]["error"]["details"][0]["code"] == "ObjectConflict"
    assert by_id["4"]["status"] == 424 and by_id["5"]["status"] == 404
    assert api.control("GET", "stats").json["requests"]["POST /v1.0/users"] == 2


@pytest.mark.parametrize("requests", [
    [{"id": str(i), "method": "GET", "url": "/domains"} for i in range(21)],
    [{"id": "a", "method": "GET", "url": "/domains"}, {"id": "A", "method": "GET", "url": "/domains"}],
    [{"id": "1", "method": "GET", "url": "/domains", "dependsOn": ["9"]}],
    [{"id": "1", "method": "POST", "url": "/users", "body": {}}],
    [],
])
def test_malformed_batches_are_400(api, requests):
    reply = api.post("/$batch", json={"requests": requests})
    assert reply.status_code == 400 and error_code(reply) == "BadRequest"


def test_reset_restores_data_knobs_faults_and_counters(api):
    api.create_user("temporary")
    api.control("PATCH", "config", {"latency_ms": 0, "replication_lag_s": 3, "ru_per_10s": 100, "seats": 7})
    api.control("POST", "faults", {"faults": [{"kind": "status", "path": "^/v1.0/groups"}]})
    assert api.control("POST", "reset").status_code == 200
    state = api.control("GET", "state").json
    assert len(state["users"]) == 3 and state["deletedItems"] == [] and len(state["groups"]) == 2
    config = api.control("GET", "config").json
    assert config["replication_lag_s"] == 0 and config["ru_per_10s"] == 0
    assert config["seats"] == {"ENTERPRISEPACK": 1000, "EXCHANGESTANDARD": 5}
    assert api.control("GET", "faults").json["faults"] == [] and api.get("/groups").status_code == 200
    assert api.control("GET", "stats").json["requests"] == {"GET /v1.0/groups": 1}


def test_bad_knobs_are_refused(api):
    assert api.control("PATCH", "config", {"lag": 1}).status_code == 400
    assert api.control("PATCH", "config", {"latency_ms": -1}).status_code == 400
    assert api.control("PATCH", "config", {"seats": {"NOSUCHSKU": 1}}).status_code == 400
    assert api.control("GET", "violations").json == []
