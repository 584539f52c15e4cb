"""Graph emulator: whole create bodies seeded at once, and deleted users listed with $select."""
from urllib.parse import urlsplit

from tests.emulators.test_graph_support import GraphApi

FED = "partners.contoso.com"


def _body(n, **extra):
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "accountEnabled": True, "displayName": f"P {n}",
            "mailNickname": f"p{n}", "userPrincipalName": f"auth0-{n}@{FED}", "onPremisesImmutableId": f"iid-{n}",
            "usageLocation": "US", **extra}


def test_bodies_are_seeded_with_their_ids_licences_and_seat_counts():
    api = GraphApi()
    before = api.get("/subscribedSkus").json["value"][0]["consumedUnits"]
    reply = api.control("POST", "users/bodies", {"users": [_body(1, licensed=True), _body(2)]})
    assert reply.status_code == 200 and reply.json["ids"] == [_body(1)["id"], _body(2)["id"]]
    one = api.get(f"/users/{_body(1)['id']}", query_string={"$select": "onPremisesImmutableId,assignedLicenses"}).json
    assert one["onPremisesImmutableId"] == "iid-1" and len(one["assignedLicenses"]) == 1
    assert api.get("/subscribedSkus").json["value"][0]["consumedUnits"] == before + 1


def test_bodies_keep_uniqueness_and_refuse_federated_accounts_without_an_immutable_id():
    api = GraphApi()
    assert api.control("POST", "users/bodies", {"users": [_body(1)]}).status_code == 200
    assert api.control("POST", "users/bodies", {"users": [_body(3, onPremisesImmutableId="iid-1")]}).status_code >= 400
    no_id = _body(4)
    no_id.pop("onPremisesImmutableId")
    assert api.control("POST", "users/bodies", {"users": [no_id]}).status_code == 400
    assert api.control("POST", "users/bodies", {"users": []}).status_code == 400


def test_deleted_users_are_listed_with_the_selected_properties():
    api = GraphApi()
    api.control("POST", "users/bodies", {"users": [_body(5)]})
    assert api.delete(f"/users/{_body(5)['id']}").status_code == 204
    listed = api.get("/directory/deletedItems/microsoft.graph.user",
                     query_string={"$select": "id,userPrincipalName,onPremisesImmutableId"}).json["value"]
    assert [(u["id"], u["onPremisesImmutableId"]) for u in listed] == [(_body(5)["id"], "iid-5")]
    assert set(listed[0]) == {"id", "userPrincipalName", "onPremisesImmutableId"}


def test_an_advanced_query_counts_once_with_its_first_page():
    api = GraphApi()
    api.control("POST", "users/bodies", {"users": [_body(6), _body(7)]})
    query = {"$filter": f"endswith(userPrincipalName,'@{FED}')", "$count": "true", "$top": "1", "$select": "id"}
    first = api.get("/users", query_string=query, headers={"ConsistencyLevel": "eventual"}).json
    assert first["@odata.count"] == 2 and len(first["value"]) == 1
    link = urlsplit(first["@odata.nextLink"])
    following = api.client.open(f"{link.path}?{link.query}",
                                headers={**api.headers, "ConsistencyLevel": "eventual"}).json
    assert "@odata.count" not in following and len(following["value"]) == 1
