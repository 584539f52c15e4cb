"""Graph emulator: OData casts (with the `graph.` alias), `$count` segments, and `//` in paths."""
import pytest

from tests.emulators.test_graph_support import GraphApi, error_code

ENGINEERING, PLATFORM = "1b2c3d4e-0000-4000-8000-000000000001", "1b2c3d4e-0000-4000-8000-000000000002"
AOIFE, LEE = "0a1b2c3d-0000-4000-8000-000000000002", "0a1b2c3d-0000-4000-8000-000000000003"
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture(scope="module")
def shared():
    """One spec-checked emulator app for the module (loading the extract is the slow part)."""
    return GraphApi(validate_spec=True)


@pytest.fixture
def api(shared):
    assert shared.control("POST", "reset").status_code == 200
    return shared


def ids(reply):
    return [item["id"] for item in reply.json["value"]]


@pytest.mark.parametrize("prefix", ["microsoft.graph", "graph"])
def test_casts_keep_one_type_of_member(api, prefix):
    mixed = api.get(f"/groups/{ENGINEERING}/members")
    assert sorted(ids(mixed)) == sorted([AOIFE, PLATFORM])
    users = api.get(f"/groups/{ENGINEERING}/members/{prefix}.user")
    assert users.status_code == 200 and ids(users) == [AOIFE]
    assert users.json["@odata.context"].endswith("/v1.0/$metadata#users")
    assert "@odata.type" not in users.json["value"][0] and users.json["value"][0]["displayName"] == "Aoife O'Brien"
    assert ids(api.get(f"/groups/{ENGINEERING}/members/{prefix}.group")) == [PLATFORM]
    nested = api.get(f"/groups/{ENGINEERING}/transitiveMembers/{prefix}.user", query_string={"$select": "id,mail"})
    assert sorted(ids(nested)) == sorted([AOIFE, LEE]) and set(nested.json["value"][0]) == {"id", "mail"}
    groups = api.get(f"/users/{LEE}/transitiveMemberOf/{prefix}.group")
    assert sorted(ids(groups)) == sorted([ENGINEERING, PLATFORM])
    assert api.control("GET", "violations").json == []


def test_cast_select_names_the_cast_type_and_pages(api):
    bad = api.get(f"/groups/{ENGINEERING}/members/microsoft.graph.user", query_string={"$select": "securityEnabled"})
    assert bad.status_code == 400 and "microsoft.graph.user" in bad.json["error"]["message"]
    first = api.get(f"/groups/{ENGINEERING}/transitiveMembers/graph.user", query_string={"$top": "1"})
    assert len(first.json["value"]) == 1
    assert "/transitiveMembers/microsoft.graph.user?" in first.json["@odata.nextLink"]
    rest = api.client.get(first.json["@odata.nextLink"], headers=api.headers)
    assert len(rest.json["value"]) == 1 and "@odata.nextLink" not in rest.json
    counted = api.get(f"/groups/{ENGINEERING}/transitiveMembers/graph.user", query_string={"$count": "true"},
                      headers=EVENTUAL)
    assert counted.json["@odata.count"] == 2


def test_deleted_users_through_the_alias(api):
    uid = api.create_user("gone.soon").json["id"]
    assert api.delete(f"/users/{uid}").status_code == 204
    for prefix in ("microsoft.graph", "graph"):
        listed = api.get(f"/directory/deletedItems/{prefix}.user")
        assert ids(listed) == [uid] and listed.json["value"][0]["deletedDateTime"]
    assert api.control("GET", "violations").json == []


def test_count_segment_needs_eventual_consistency_and_answers_text(api):
    plain = api.get("/users/$count")
    assert plain.status_code == 400 and error_code(plain) == "Request_BadRequest"
    counted = api.get("/users/$count", headers=EVENTUAL)
    assert counted.status_code == 200 and counted.mimetype == "text/plain" and counted.get_data(as_text=True) == "3"
    api.create_user("one.more")
    assert api.get("/users/$count", headers=EVENTUAL).get_data(as_text=True) == "4"
    filtered = api.get("/users/$count", headers=EVENTUAL, query_string={"$filter": "startswith(displayName,'One')"})
    assert filtered.get_data(as_text=True) == "1"
    assert api.get("/groups/$count", headers=EVENTUAL).get_data(as_text=True) == "2"
    assert api.get("/users/$count", headers=EVENTUAL, query_string={"$top": "1"}).status_code == 400
    assert api.control("GET", "violations").json == []


def test_list_count_true_adds_odata_count(api):
    reply = api.get("/users", query_string={"$count": "true", "$top": "1"}, headers=EVENTUAL)
    assert reply.json["@odata.count"] == 3 and len(reply.json["value"]) == 1


def test_repeated_slashes_and_aliased_actions_route_as_graph_does(api):
    assert api.client.get("/v1.0//users", headers=api.headers).status_code == 200
    revoked = api.post(f"/users/{LEE}/graph.revokeSignInSessions")
    assert revoked.status_code == 200 and revoked.json["value"] is True
    # A key that merely starts like the alias is left alone.
    assert error_code(api.get("/users/graph.user@contoso.onmicrosoft.com")) == "Request_ResourceNotFound"
    assert api.get("/groups/not-a-type/members/graph.device").status_code == 400


def test_batch_items_use_the_same_spelling(api):
    reply = api.post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/groups/{ENGINEERING}/members/graph.user"},
        {"id": "2", "method": "GET", "url": "/users/$count", "headers": EVENTUAL}]})
    first, second = sorted(reply.json["responses"], key=lambda r: r["id"])
    assert first["status"] == 200 and [u["id"] for u in first["body"]["value"]] == [AOIFE]
    assert second["status"] == 200 and second["headers"]["Content-Type"].startswith("text/plain")
