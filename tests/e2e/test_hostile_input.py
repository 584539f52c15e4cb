"""Hostile input through gunicorn on PostgreSQL: named 4xx, never 5xx, nothing forwarded to Graph or stored."""
import concurrent.futures
import time

import pytest
from jose import jwt

from service import sandbox, tokens
from service.sync.subscriptions import client_state
from service.settings import from_env
from tests.e2e.conftest import Stack
from tests.support.databases import PgSchema
from tests.support.openapi import described

ADMIN_KEY = "hostile-admin-key-0123456789ab"
EVENTS_TOKEN = "hostile-events-token-0123456789"


@pytest.fixture(scope="module")
def started(graph_emulator, auth0_emulator, tmp_path_factory):
    """One companion (two workers) on a fresh PostgreSQL schema; every answer is checked against /openapi.json."""
    schema, tmp = PgSchema(), tmp_path_factory.mktemp("hostile")
    stack = Stack(graph_emulator, auth0_emulator, schema.url, str(tmp))
    stack.start(ADMIN_API_KEY=ADMIN_KEY, AUTH0_EVENTS_TOKEN=EVENTS_TOKEN)
    outside = []
    stack.http.hooks["response"].append(described(stack, outside))
    yield stack
    stack.stop()
    schema.drop()
    assert not outside, f"answers outside the description: {outside[:3]}"


@pytest.fixture
def hs(started, graph, auth0):
    return started


def _created(stack):
    return stack.graph.stats()["requests"].get("POST /v1.0/users", 0)


def _field(resp):
    return resp.json()["error"].get("field")


# Item 3: HS256 Action tokens
@pytest.mark.parametrize("over", [
    pytest.param({"aud": None}, id="no-aud"),
    pytest.param({"iat": int(time.time()) + 365 * 86400, "exp": int(time.time()) + 365 * 86400 + 60},
                 id="iat-a-year-ahead"),
    pytest.param({"iat": str(int(time.time())), "exp": str(int(time.time()) + 60)}, id="numeric-string-times"),
    pytest.param({"exp": 1e400}, id="infinite-exp"),
    pytest.param({"sub": ["google-oauth2|t"]}, id="sub-a-list"),
])
def test_malformed_action_tokens_get_401_and_change_nothing(hs, over):
    now = int(time.time())
    claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": "google-oauth2|t", "iat": now,
              "exp": now + 60, **over}
    claims = {k: v for k, v in claims.items() if v is not None}
    raw = jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")
    resp = hs.http.post(f"{hs.url}/v1/o365/provision", json={"user_id": "google-oauth2|t"}, timeout=30,
                        headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 401, resp.text
    assert _created(hs) == 0


# Item 4: text nobody can store or forward
@pytest.mark.parametrize("body,field", [
    ({"user_id": "google-oauth2|n\u0000ul"}, "user_id"),
    ({"user_id": "google-oauth2|s1", "name": "Eve \ud800"}, "name"),
    ({"user_id": "google-oauth2|s2", "email": "eve\u0000@gmail.com"}, "email"),
    ({"user_id": "google-oauth2|s3", "given_name": "Eve\u001b[31m"}, "given_name"),
    ({"user_id": "google-oauth2|s4\u0007"}, "user_id"),
])
def test_unusable_text_is_a_400_naming_the_field_and_never_reaches_graph(hs, body, field):
    resp = hs.provision(body)
    assert resp.status_code == 400 and _field(resp) == field, resp.text
    assert _created(hs) == 0
    assert hs.http.get(f"{hs.url}/v1/o365/provision/google-oauth2%7Cn%00ul", headers=hs.bearer("google-oauth2|n\0ul"),
                       timeout=30).status_code == 400


# Item 5: deep nesting on every JSON endpoint
@pytest.mark.parametrize("path,headers", [
    ("/v1/events/graph", {}),
    ("/v1/o365/provision", None),
    ("/v1/events/auth0", {"Authorization": f"Bearer {EVENTS_TOKEN}"}),
    ("/v1/admin/events/requeue", {"Authorization": f"Bearer {ADMIN_KEY}"}),
])
def test_deeply_nested_json_is_a_named_400(hs, path, headers):
    headers = hs.bearer("google-oauth2|deep") if headers is None else headers
    resp = hs.http.post(f"{hs.url}{path}", data="[" * 50000, timeout=30,
                        headers={**headers, "Content-Type": "application/json"})
    assert resp.status_code == 400 and _field(resp) == "body", resp.text


# Item 6: smart-link targets the URL parser refuses
@pytest.mark.parametrize("target", ["https://[contoso.sharepoint.com/", "https://contoso.sharepoint.com]/",
                                    "https://contoso.sharepoint.com／evil.com", "https://contoso.sharepoint.com＃x",
                                    "https://contoso.sharepoint.com℀x", "https://contoso.sharepoint.com:99999/"])
def test_deep_links_the_url_parser_refuses_are_a_400(hs, target):
    resp = hs.http.get(f"{hs.url}/v1/o365/links", params={"target": target}, timeout=30)
    assert resp.status_code == 400 and _field(resp) == "target", resp.text


def _queued(stack):
    resp = stack.http.get(f"{stack.url}/v1/admin/events", params={"status": "queued"}, timeout=30,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    return [(e["kind"], e["object_id"]) for e in resp.json()["events"]]


def _note(state, oid, change="updated", **over):
    return {"subscriptionId": "sub-1", "changeType": change, "clientState": state, "resource": f"Users/{oid}",
            "resourceData": {"id": oid}, **over}


# Item 7: bad items never sink the batch
def test_bad_notification_items_are_counted_and_the_good_ones_kept(hs):
    state = client_state(from_env(hs.env))
    body = {"value": [_note("\ud800", "x-1"), _note(state, "x-2", resourceData={"id": {"$gt": ""}}),
                      _note(state, "x-3", resourceData={"id": ["a"]}), _note(state, "keep-1")]}
    resp = hs.http.post(f"{hs.url}/v1/events/graph", json=body, timeout=30)
    assert resp.status_code == 202
    queued = _queued(hs)
    assert ("user", "keep-1") in queued and not {o for _k, o in queued} & {"x-1", "x-2", "x-3"}


# Item 8: replays collapse, across both gunicorn workers
def test_replayed_notifications_make_one_inbox_row(hs):
    state = client_state(from_env(hs.env))
    body = {"value": [_note(state, "replayed-1")]}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: hs.http.post(f"{hs.url}/v1/events/graph", json=body, timeout=30).status_code,
                                range(20)))
    assert answers == [202] * 20
    hs.http.post(f"{hs.url}/v1/events/graph", json={"value": [_note(state, "replayed-1", "deleted")]}, timeout=30)
    assert [o for k, o in _queued(hs) if o == "replayed-1"] == ["replayed-1", "replayed-1"]  # updated + deleted


# Item 9: the admin API's key and ids
@pytest.mark.parametrize("auth", [ADMIN_KEY, f"bearer {ADMIN_KEY}", f"Bearer  {ADMIN_KEY}x", f"Basic {ADMIN_KEY}"])
def test_the_admin_key_counts_only_after_exactly_bearer(hs, auth):
    resp = hs.http.get(f"{hs.url}/v1/admin/events", headers={"Authorization": auth}, timeout=30)
    assert resp.status_code == 401


@pytest.mark.parametrize("ids", [[True], [1e30], [10**30], [0], [-1], ["1"], [], None])
def test_requeue_ids_must_be_ids_in_range(hs, ids):
    resp = hs.http.post(f"{hs.url}/v1/admin/events/requeue", json={"ids": ids}, timeout=30,
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code == 400 and _field(resp) == "ids", resp.text


def test_run_ids_out_of_range_are_not_found(hs):
    resp = hs.http.get(f"{hs.url}/v1/admin/reconcile/runs/{10**30}.json", timeout=30,
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code == 404
