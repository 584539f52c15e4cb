"""Graph emulator: assignLicense and seat counts, licenseDetails, subscribedSkus, groups, domains, manager."""
import pytest

from tests.emulators.test_graph_support import GraphApi, error_code
from tests.support.emulators import FEDERATED_DOMAIN, GRAPH_TENANT_ID, MANAGED_DOMAIN, SKU_ID

EXCHANGE_STANDARD = "4b9405b0-7788-4568-add1-99614e613b69"
TEAMS1 = "57ff2da0-773e-42df-b2af-ffb7a2317929"
ADMIN, AOIFE, LEE = (f"0a1b2c3d-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
ENGINEERING, PLATFORM = (f"1b2c3d4e-0000-4000-8000-00000000000{i}" for i in (1, 2))


@pytest.fixture
def api():
    return GraphApi()


def assign(api, uid, add=(), remove=()):
    return api.post(f"/users/{uid}/assignLicense", json={
        "addLicenses": [{"skuId": s, "disabledPlans": []} for s in add], "removeLicenses": list(remove)})


def consumed(api, sku_id=SKU_ID):
    return api.get(f"/subscribedSkus/{GRAPH_TENANT_ID}_{sku_id}").json["consumedUnits"]


def test_both_arrays_are_required(api):
    for body, missing in (({"removeLicenses": []}, "addLicenses"), ({"addLicenses": []}, "removeLicenses"),
                          ({}, "addLicenses, removeLicenses")):
        reply = api.post(f"/users/{LEE}/assignLicense", json=body)
        assert reply.status_code == 400 and error_code(reply) == "Request_BadRequest"
        assert reply.json["error"]["message"] == ("One or more parameters of the operation 'assignLicense' are "
                                                  f"missing from the request payload. The missing parameters are: "
                                                  f"{missing}.")


def test_usage_location_and_known_sku_are_required(api):
    uid = api.create_user("nolocation").json["id"]
    reply = assign(api, uid, [SKU_ID])
    assert reply.status_code == 400
    assert reply.json["error"]["message"] == "License assignment cannot be done for user with invalid usage location."
    unknown = assign(api, LEE, ["00000000-0000-0000-0000-000000000000"])
    assert unknown.status_code == 400 and "does not correspond to a valid company License" in \
        unknown.json["error"]["message"]
    assert assign(api, LEE, remove=[EXCHANGE_STANDARD]).status_code == 400  # not held


def test_assignment_is_idempotent_and_counted_once(api):
    before = consumed(api)
    first = assign(api, LEE, [SKU_ID])
    assert first.status_code == 200 and first.json["id"] == LEE
    assert assign(api, LEE, [SKU_ID]).status_code == 200
    assert consumed(api) == before + 1
    held = api.get(f"/users/{LEE}", query_string={"$select": "assignedLicenses,licenseAssignmentStates"}).json
    assert held["assignedLicenses"] == [{"skuId": SKU_ID, "disabledPlans": []}]
    assert held["licenseAssignmentStates"][0]["state"] == "Active"
    assert assign(api, LEE, remove=[SKU_ID]).status_code == 200 and consumed(api) == before


def test_no_free_seats_is_a_clear_400(api):
    for i in range(5):
        assert assign(api, api.create_user(f"exch{i}", usageLocation="US").json["id"], [EXCHANGE_STANDARD]).status_code \
            == 200
    sixth = assign(api, LEE, [EXCHANGE_STANDARD])
    assert sixth.status_code == 400 and error_code(sixth) == "Request_BadRequest"
    assert "no available licenses" in sixth.json["error"]["message"]
    api.control("PATCH", "config", {"seats": {"ENTERPRISEPACK": consumed(api)}})
    assert "no available licenses" in assign(api, LEE, [SKU_ID]).json["error"]["message"]


def test_deleting_a_user_frees_its_seat_and_restoring_takes_it_back(api):
    uid = api.create_user("seated", usageLocation="DE").json["id"]
    assign(api, uid, [SKU_ID])
    before = consumed(api)
    api.delete(f"/users/{uid}")
    assert consumed(api) == before - 1
    api.post(f"/directory/deletedItems/{uid}/restore", json={})
    assert consumed(api) == before


def test_license_details_show_disabled_plans(api):
    body = {"addLicenses": [{"skuId": SKU_ID, "disabledPlans": [TEAMS1]}], "removeLicenses": []}
    assert api.post(f"/users/{LEE}/assignLicense", json=body).status_code == 200
    (detail,) = api.get(f"/users/{LEE}/licenseDetails").json["value"]
    assert detail["skuPartNumber"] == "ENTERPRISEPACK"
    states = {p["servicePlanName"]: p["provisioningStatus"] for p in detail["servicePlans"]}
    assert states == {"EXCHANGE_S_ENTERPRISE": "Success", "SHAREPOINTENTERPRISE": "Success", "TEAMS1": "Disabled"}


def test_subscribed_skus_and_domains(api):
    skus = {s["skuPartNumber"]: s for s in api.get("/subscribedSkus").json["value"]}
    assert skus["ENTERPRISEPACK"]["prepaidUnits"]["enabled"] == 1000 and skus["EXCHANGESTANDARD"]["prepaidUnits"][
        "enabled"] == 5
    domains = {d["id"]: d for d in api.get("/domains").json["value"]}
    assert domains[MANAGED_DOMAIN]["isInitial"] and domains[FEDERATED_DOMAIN]["authenticationType"] == "Federated"
    assert api.get(f"/domains/{FEDERATED_DOMAIN.upper()}").json["isVerified"] is True
    assert api.get("/domains/example.org").status_code == 404


def test_group_membership_direct_and_transitive(api):
    direct = api.get(f"/groups/{ENGINEERING}/members").json["value"]
    assert {(m["@odata.type"], m["id"]) for m in direct} == {("#microsoft.graph.user", AOIFE),
                                                            ("#microsoft.graph.group", PLATFORM)}
    nested = {m["id"] for m in api.get(f"/groups/{ENGINEERING}/transitiveMembers").json["value"]}
    assert nested == {AOIFE, PLATFORM, LEE}
    assert [g["id"] for g in api.get(f"/users/{LEE}/memberOf").json["value"]] == [PLATFORM]
    assert {g["id"] for g in api.get(f"/users/{LEE}/transitiveMemberOf").json["value"]} == {PLATFORM, ENGINEERING}
    assert api.get("/groups", query_string={"$filter": "displayName eq 'Engineering'"}).json["value"][0]["id"] == \
        ENGINEERING
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{ADMIN}"}
    assert api.post(f"/groups/{PLATFORM}/members/$ref", json=ref).status_code == 204
    assert api.post(f"/groups/{PLATFORM}/members/$ref", json=ref).status_code == 400
    assert ADMIN in {m["id"] for m in api.get(f"/groups/{ENGINEERING}/transitiveMembers").json["value"]}
    assert api.delete(f"/groups/{PLATFORM}/members/{ADMIN}/$ref").status_code == 204
    assert api.get("/groups/unknown-group").status_code == 404


def test_manager_is_404_until_set(api):
    assert api.get(f"/users/{AOIFE}/manager").json["id"] == ADMIN
    assert error_code(api.get(f"/users/{LEE}/manager")) == "Request_ResourceNotFound"
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{AOIFE}"}
    assert api.call("PUT", f"/users/{LEE}/manager/$ref", json=ref).status_code == 204
    assert api.get(f"/users/{LEE}/manager").json["id"] == AOIFE
