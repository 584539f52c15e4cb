"""GraphClient against a scripted local server: retries, waits, paging, filters, dry run, $batch."""
import random

import pytest

from service.clients._http import RetryPolicy, retry_after_s
from service.clients.graph import GraphClient
from service.errors import BadRequest, DryRunBlocked, NotFound, Throttled, Transient
from tests.clients.scripted import ScriptedServer

USER = {"id": "u1", "userPrincipalName": "a@contoso.com"}
ERR_503 = {"error": {"code": "serviceNotAvailable", "message": "busy"}}
ERR_429 = {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}


def test_429_waits_at_least_retry_after_then_succeeds(server, graph_client, sleeps):
    server.add("GET", "/v1.0/users/u1", (429, ERR_429, {"Retry-After": "3"}), (200, USER))
    assert graph_client.get_user("u1") == USER
    assert len(server.calls()) == 2
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.3
    first, second = server.calls()
    assert first.headers["Authorization"] == "Bearer test-token"
    # One logical call keeps one client-request-id across its retries, for Microsoft support.
    assert first.headers["Client-Request-Id"] == second.headers["Client-Request-Id"]


def test_503_without_retry_after_backs_off_exponentially(server, graph_client, sleeps):
    server.add("GET", "/v1.0/users/u1", (503, ERR_503), (504, ERR_503), (503, ERR_503), (200, USER))
    assert graph_client.get_user("u1") == USER
    assert len(sleeps) == 3
    for n, wait in enumerate(sleeps, start=1):
        step = 0.5 * 2 ** (n - 1)
        assert step / 2 <= wait <= step


def test_400_is_not_retried(server, graph_client, sleeps):
    body = {"error": {"code": "Request_BadRequest", "message": "One or more properties contains invalid values."}}
    server.add("POST", "/v1.0/users", (400, body))
    with pytest.raises(BadRequest) as caught:
        graph_client.create_user({"displayName": "x"})
    assert len(server.calls()) == 1 and sleeps == []
    assert caught.value.code == "Request_BadRequest"


def test_500_and_404_are_not_retried(server, graph_client, sleeps):
    server.add("GET", "/v1.0/users/a", (500, ERR_503))
    server.add("GET", "/v1.0/users/b", (404, {"error": {"code": "Request_ResourceNotFound", "message": "no"}}))
    with pytest.raises(Transient):
        graph_client.get_user("a")
    with pytest.raises(NotFound):
        graph_client.get_user("b")
    assert len(server.calls()) == 2 and sleeps == []


def test_attempts_are_bounded(server, graph_client, sleeps):
    server.add("GET", "/v1.0/users/u1", (503, ERR_503))
    with pytest.raises(Transient) as caught:
        graph_client.get_user("u1")
    assert len(server.calls()) == RetryPolicy().max_attempts
    assert len(sleeps) == RetryPolicy().max_attempts - 1
    assert caught.value.http_status == 503


def test_retry_after_beyond_the_budget_gives_throttled_at_once(server, graph_client, sleeps):
    server.add("GET", "/v1.0/users/u1", (429, ERR_429, {"Retry-After": "120"}))
    with pytest.raises(Throttled) as caught:
        graph_client.get_user("u1")
    assert caught.value.retry_after == 120.0 and sleeps == [] and len(server.calls()) == 1


def test_total_wait_is_bounded(server, sleeps):
    client = GraphClient(tokens=lambda: "t", base_url=server.url, sleep=sleeps.append,
                         retry=RetryPolicy(max_attempts=10, max_total_wait_s=10.0))
    server.add("GET", "/v1.0/users/u1", (429, ERR_429, {"Retry-After": "4"}))
    with pytest.raises(Throttled):
        client.get_user("u1")
    assert len(sleeps) == 2 and sum(sleeps) <= 10.0


def test_connection_errors_are_retried_then_transient(sleeps):
    dead = ScriptedServer()
    url = dead.url
    dead.stop()
    client = GraphClient(tokens=lambda: "t", base_url=url, sleep=sleeps.append,
                         retry=RetryPolicy(max_attempts=3))
    with pytest.raises(Transient) as caught:
        client.get_user("u1")
    assert len(sleeps) == 2 and caught.value.code == "ConnectionError"


def test_read_timeout_is_retried(server, sleeps):
    client = GraphClient(tokens=lambda: "t", base_url=server.url, sleep=sleeps.append, timeout=0.2)
    server.add("GET", "/v1.0/users/u1", (200, USER, None, 0.6), (200, USER))
    assert client.get_user("u1") == USER
    assert len(sleeps) == 1


def test_retry_after_http_date():
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT"}, now=1445412480.0) == 5.0
    assert retry_after_s({"Retry-After": "soon"}) is None


def test_filters_are_escaped_and_percent_encoded(server, graph_client):
    server.add("GET", "/v1.0/users", (200, {"value": [USER]}))
    graph_client.find_user_by_upn("o'brien@contoso.com")
    graph_client.find_user_by_immutable_id("Ab+c/d==")
    by_upn, by_iid = server.calls()
    assert by_upn.args["$filter"] == "userPrincipalName eq 'o''brien@contoso.com'"
    assert by_iid.args["$filter"] == "onPremisesImmutableId eq 'Ab+c/d=='"
    assert "onPremisesImmutableId" in by_iid.args["$select"].split(",")
    assert "+" not in by_iid.raw_uri.split("?")[1]  # a literal '+' would read as a space


def test_user_ids_are_path_encoded(server, graph_client):
    server.add("GET", "/v1.0/users/guest_x.com#EXT#@contoso.com", (200, USER))
    graph_client.get_user("guest_x.com#EXT#@contoso.com", select=["id", "mail"])
    call = server.calls()[0]
    assert "%23EXT%23" in call.raw_uri and call.args["$select"] == "id,mail"


def test_paging_follows_next_link_and_refuses_foreign_hosts(server, graph_client):
    page2 = f"{server.url}/v1.0/users?$skiptoken=p2"
    server.add("GET", "/v1.0/users", (200, {"value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": page2}),
               (200, {"value": [{"id": "3"}]}))
    assert [u["id"] for u in graph_client.iter_users(top=2)] == ["1", "2", "3"]
    assert server.calls()[1].args == {"$skiptoken": "p2"}
    server.add("GET", "/v1.0/groups/g/members",
               (200, {"value": [], "@odata.nextLink": "https://evil.example/v1.0/x"}))
    with pytest.raises(ValueError):
        list(graph_client.group_members("g"))


def test_priority_header(server, graph_client):
    server.add("POST", "/v1.0/users", (201, USER))
    graph_client.create_user({"displayName": "x"}, priority="High")
    assert server.calls()[0].headers["X-Ms-Throttle-Priority"] == "High"


def test_assign_license_always_sends_both_arrays(server, graph_client):
    server.add("POST", "/v1.0/users/u1/assignLicense", (200, USER))
    graph_client.assign_license("u1", add=[{"skuId": "s1"}])
    assert server.calls()[0].json == {"addLicenses": [{"skuId": "s1", "disabledPlans": []}],
                                      "removeLicenses": []}


def test_dry_run_blocks_writes_before_sending(server, sleeps):
    client = GraphClient(tokens=lambda: "t", base_url=server.url, sleep=sleeps.append, dry_run=True)
    server.add("GET", "/v1.0/users/u1", (200, USER))
    server.add("POST", "/v1.0/$batch", (200, {"responses": [{"id": "0", "status": 200, "body": USER}]}))
    server.add("POST", "/v1.0/users/u1/getMemberGroups", (200, {"value": []}))
    for write in (lambda: client.delete_user("u1"), lambda: client.update_user("u1", {"a": 1}),
                  lambda: client.create_user({}), lambda: client.revoke_sign_in_sessions("u1"),
                  lambda: client.batch([{"method": "PATCH", "url": "/users/u1", "body": {}}])):
        with pytest.raises(DryRunBlocked):
            write()
    assert server.calls() == []
    assert client.get_user("u1") == USER
    assert client.batch([{"method": "GET", "url": "/users/u1"}])[0]["status"] == 200
    client._request("POST", "/users/u1/getMemberGroups", json={"securityEnabledOnly": False})
    assert len(server.calls()) == 3


def _batch_answer(statuses):
    """A $batch handler answering each inner request with the next scripted status for its url."""
    def answer(rec):
        out = []
        for item in rec.json["requests"]:
            status, headers = statuses[item["url"]].pop(0)
            out.append({"id": item["id"], "status": status, "headers": headers,
                        "body": {"url": item["url"]} if status < 400 else ERR_429})
        return 200, {"responses": list(reversed(out))}
    return answer


def test_batch_chunks_orders_and_retries_throttled_items(server, graph_client, sleeps):
    urls = [f"/users/u{i}" for i in range(45)]
    statuses = {u: [(200, {})] for u in urls}
    statuses["/users/u3"] = [(429, {"Retry-After": "2"}), (200, {})]
    statuses["/users/u30"] = [(503, {}), (200, {})]
    server.add("POST", "/v1.0/$batch", _batch_answer(statuses))
    results = graph_client.batch([{"method": "GET", "url": u} for u in urls])
    assert [r["body"]["url"] for r in results] == urls
    assert all(r["status"] == 200 for r in results)
    sizes = [len(c.json["requests"]) for c in server.calls()]
    assert sizes == [20, 1, 20, 1, 5]
    assert server.calls()[1].json["requests"][0]["url"] == "/users/u3"
    assert sleeps[0] >= 2.0 and len(sleeps) == 2


def test_batch_gives_up_on_items_within_the_budget(server, sleeps):
    client = GraphClient(tokens=lambda: "t", base_url=server.url, sleep=sleeps.append,
                         retry=RetryPolicy(max_attempts=3), rng=random.Random(1))
    statuses = {"/users/a": [(429, {"retry-after": "1"})] * 3, "/users/b": [(200, {})]}
    server.add("POST", "/v1.0/$batch", _batch_answer(statuses))
    results = client.batch([{"method": "GET", "url": "/users/a"}, {"method": "GET", "url": "/users/b"}])
    assert [r["status"] for r in results] == [429, 200]
    assert len(server.calls()) == 3 and len(sleeps) == 2


def test_batch_sends_content_type_with_a_body(server, graph_client):
    server.add("POST", "/v1.0/$batch", (200, {"responses": [{"id": "0", "status": 204}]}))
    graph_client.batch([{"method": "PATCH", "url": "/users/u1", "body": {"city": "Oslo"}}])
    inner = server.calls()[0].json["requests"][0]
    assert inner["headers"]["Content-Type"] == "application/json" and inner["body"] == {"city": "Oslo"}
