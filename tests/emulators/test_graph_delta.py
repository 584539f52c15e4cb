"""Graph emulator: delta queries for users and groups, the change log behind them, deleted items."""
import pytest
import requests

from tests.emulators.test_graph_support import STRONG_PASSWORD, GraphApi
from tests.support.emulators import GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID

ADMIN, AOIFE, LEE = (f"0a1b2c3d-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
ENGINEERING, PLATFORM = "1b2c3d4e-0000-4000-8000-000000000001", "1b2c3d4e-0000-4000-8000-000000000002"


class GraphHttp:
    """Graph calls to the emulator process (the session `graph` fixture) with an app token."""

    def __init__(self, emulator):
        self.emulator, self.base = emulator, f"{emulator.url}/v1.0"
        self.http = requests.Session()
        self.http.trust_env, self.http.verify = False, emulator.verify
        token = self.http.post(f"{emulator.url}/{GRAPH_TENANT_ID}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": GRAPH_CLIENT_ID, "client_secret": GRAPH_CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default"}, timeout=30).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, **kwargs):
        """A request to a path under /v1.0 or to an absolute URL (a nextLink or deltaLink)."""
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, timeout=30, allow_redirects=False, **kwargs)

    def get(self, path, **params):
        return self.call("GET", path, params=params or None)

    def post(self, path, body=None):
        return self.call("POST", path, json=body)

    def patch(self, path, body):
        return self.call("PATCH", path, json=body)

    def delete(self, path):
        return self.call("DELETE", path)

    def control(self, method, path, body=None):
        """A /_emulator/ call; raises on an error status."""
        reply = self.http.request(method, f"{self.emulator.url}/_emulator/{path}", json=body, timeout=60)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def create_user(self, alias, **extra):
        body = {"accountEnabled": True, "displayName": alias, "mailNickname": alias,
                "userPrincipalName": f"{alias}@contoso.onmicrosoft.com",
                "passwordProfile": {"password": STRONG_PASSWORD}, **extra}
        reply = self.post("/users", body)
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    def round(self, first):
        """Follow nextLinks from `first` (a path or link) to the deltaLink: (items, pages, deltaLink)."""
        items, pages, reply = [], 0, self.get(first)
        while True:
            assert reply.status_code == 200, reply.text
            body, pages = reply.json(), pages + 1
            items += body["value"]
            if "@odata.deltaLink" in body:
                assert "@odata.nextLink" not in body
                return items, pages, body["@odata.deltaLink"]
            assert "$skiptoken=" in body["@odata.nextLink"]
            reply = self.get(body["@odata.nextLink"])


@pytest.fixture
def api(graph):
    return GraphHttp(graph)


def by_id(items):
    return {item["id"]: item for item in items}


def test_first_round_pages_every_user_then_hands_out_a_delta_link(api):
    api.control("PATCH", "config", {"delta_page_size": 2})
    created = {api.create_user(f"delta.page{i}") for i in range(3)}
    items, pages, link = api.round("/users/delta()?$select=displayName,accountEnabled")
    assert pages == 3 and "$deltatoken=" in link and "$select" not in link
    assert set(by_id(items)) == created | {ADMIN, AOIFE, LEE}
    assert all(set(item) == {"id", "displayName", "accountEnabled"} for item in items)
    again, _, _ = api.round(link)
    assert again == []


def test_later_rounds_report_changes_soft_deletes_and_purges(api):
    doomed, purged = api.create_user("delta.doomed"), api.create_user("delta.purged")
    _, _, link = api.round("/users/delta?$select=displayName,accountEnabled")
    fresh = api.create_user("delta.fresh")
    assert api.patch(f"/users/{LEE}", {"accountEnabled": False}).status_code == 204
    assert api.patch(f"/users/{ADMIN}", {"jobTitle": "Untracked change"}).status_code == 204
    assert api.delete(f"/users/{doomed}").status_code == 204
    assert api.delete(f"/users/{purged}").status_code == 204
    api.control("POST", f"users/{purged}/purge")
    items, _, link = api.round(link)
    changed = by_id(items)
    assert set(changed) == {fresh, LEE, doomed, purged}  # the admin's jobTitle is not selected, so not tracked
    assert changed[LEE] == {"id": LEE, "displayName": "Lee Gu", "accountEnabled": False}
    assert changed[doomed] == {"id": doomed, "@removed": {"reason": "changed"}}
    assert changed[purged] == {"id": purged, "@removed": {"reason": "deleted"}}
    restored = api.post(f"/directory/deletedItems/{doomed}/restore", {})
    assert restored.status_code == 200 and restored.json()["id"] == doomed
    items, _, _ = api.round(link)
    assert by_id(items) == {doomed: {"id": doomed, "displayName": "delta.doomed", "accountEnabled": True}}


def test_deleted_items_can_be_read_restored_and_purged(api):
    uid = api.create_user("delta.bin")
    api.delete(f"/users/{uid}")
    item = api.get(f"/directory/deletedItems/{uid}")
    assert item.status_code == 200 and item.json()["@odata.type"] == "#microsoft.graph.user"
    assert item.json()["deletedDateTime"]
    api.control("POST", f"users/{uid}/purge")
    assert api.get(f"/directory/deletedItems/{uid}").status_code == 404
    assert api.post(f"/directory/deletedItems/{uid}/restore", {}).status_code == 404
    assert api.create_user("delta.bin")  # the purged user's UPN is free again


def test_group_rounds_carry_members_delta(api):
    items, _, link = api.round("/groups/delta()")
    first = by_id(items)
    assert first[ENGINEERING]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": AOIFE}, {"@odata.type": "#microsoft.graph.group", "id": PLATFORM}]
    assert first[PLATFORM]["displayName"] == "Platform Team"
    assert api.delete(f"/groups/{ENGINEERING}/members/{AOIFE}/$ref").status_code == 204
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{LEE}"}
    assert api.post(f"/groups/{ENGINEERING}/members/$ref", ref).status_code == 204
    api.control("PATCH", f"groups/{PLATFORM}", {"description": "Renamed in a test"})
    items, _, link = api.round(link)
    changed = by_id(items)
    assert set(changed) == {ENGINEERING, PLATFORM} and "members@delta" not in changed[PLATFORM]
    assert changed[ENGINEERING]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": AOIFE, "@removed": {"reason": "deleted"}},
        {"@odata.type": "#microsoft.graph.user", "id": LEE}]
    made = api.control("POST", "groups", {"displayName": "Sales", "members": [ADMIN]})
    items, _, _ = api.round(link)
    assert by_id(items)[made["id"]]["members@delta"] == [{"@odata.type": "#microsoft.graph.user", "id": ADMIN}]


def test_group_select_without_members_leaves_membership_untracked(api):
    _, _, link = api.round("/groups/delta()?$select=displayName")
    api.delete(f"/groups/{ENGINEERING}/members/{AOIFE}/$ref")
    assert api.round(link)[0] == []
    _, _, link = api.round("/groups/delta()?$select=displayName,members")
    api.delete(f"/users/{LEE}")  # a member's soft delete removes it from the member list
    items, _, _ = api.round(link)
    assert items == [{"id": PLATFORM, "displayName": "Platform Team", "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": LEE, "@removed": {"reason": "deleted"}}]}]


def test_latest_token_syncs_from_now(api):
    reply = api.get("/users/delta()", **{"$deltatoken": "latest"})
    assert reply.status_code == 200 and reply.json()["value"] == []
    uid = api.create_user("delta.latest")
    items, _, _ = api.round(reply.json()["@odata.deltaLink"])
    assert [item["id"] for item in items] == [uid]


def test_expired_tokens_answer_410_with_a_restart_location(api):
    api.control("PATCH", "config", {"delta_page_size": 2})
    first = api.get("/users/delta()", **{"$select": "displayName"}).json()
    _, _, link = api.round("/groups/delta()")
    api.control("POST", "delta/expire")
    for stale in (link, first["@odata.nextLink"]):
        reply = api.get(stale)
        assert reply.status_code == 410 and reply.json()["error"]["code"] == "syncStateNotFound"
    restart = api.get(first["@odata.nextLink"]).headers["Location"]
    assert restart.endswith("/v1.0/users/delta()?$select=displayName&$deltatoken=")
    items, _, _ = api.round(restart)
    assert len(items) == 3 and all(set(i) == {"id", "displayName"} for i in items)
    api.control("POST", "reset")
    assert api.get(link).status_code == 410  # a reset forgets every sync state


def test_bad_tokens_and_unsupported_options_are_400(api):
    assert api.get("/users/delta()", **{"$deltatoken": "not-a-token"}).status_code == 400
    _, _, group_link = api.round("/groups/delta()")
    assert api.get(group_link.replace("/groups/", "/users/")).status_code == 400
    assert api.get("/users/delta()", **{"$top": "5"}).status_code == 400
    assert api.get("/users/delta()", **{"$select": "noSuchProperty"}).status_code == 400


def test_delta_costs_resource_units_like_a_list(api):
    assert api.get("/users/delta()").headers["x-ms-resource-unit"] == "2"
    assert api.get("/users/delta()", **{"$select": "id"}).headers["x-ms-resource-unit"] == "1"
    assert api.get("/groups/delta()").headers["x-ms-resource-unit"] == "1"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_user_still_replicating_appears_once_readable():
    local = GraphApi(replication_lag_s=30)
    clock = FakeClock()
    local.app.store.clock = clock
    first = local.get("/users/delta()").json
    created = local.create_user("delta.lagging").json["id"]
    local.patch(f"/users/{LEE}", json={"displayName": "Lee G."})
    link = first["@odata.deltaLink"].replace("http://localhost/v1.0", "")
    body = local.get(link).json
    assert [item["id"] for item in body["value"]] == [LEE]
    clock.now += 31
    body = local.get(body["@odata.deltaLink"].replace("http://localhost/v1.0", "")).json
    assert created in {item["id"] for item in body["value"]}  # the token never moved past the hidden create
