"""Graph emulator: creating, reading, updating and deleting users, with Entra's validation rules."""
import json

import pytest

from tests.emulators.test_graph_support import STRONG_PASSWORD, GraphApi, error_code
from tests.support.emulators import FEDERATED_DOMAIN


@pytest.fixture
def api():
    return GraphApi()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_create_returns_201_with_the_default_property_set(api):
    created = api.create_user("jane.doe", givenName="Jane", surname="Doe", usageLocation="GB")
    assert created.status_code == 201
    body = created.json
    assert body["userPrincipalName"] == "jane.doe@contoso.onmicrosoft.com" and body["surname"] == "Doe"
    assert "usageLocation" not in body and "passwordProfile" not in body and "accountEnabled" not in body
    by_upn = api.get("/users/JANE.DOE@contoso.onmicrosoft.com", query_string={"$select": "id,usageLocation"})
    assert by_upn.status_code == 200 and by_upn.json["id"] == body["id"]
    assert by_upn.json["usageLocation"] == "GB" and "displayName" not in by_upn.json
    assert by_upn.json["@odata.context"].endswith("$metadata#users(id,usageLocation)/$entity")


@pytest.mark.parametrize("change, target", [
    ({"displayName": None}, "displayName"),
    ({"mailNickname": "x" * 65}, "mailNickname"),
    ({"displayName": "d" * 257}, "displayName"),
    ({"passwordProfile": None}, "passwordProfile"),
    ({"usageLocation": "Ireland"}, "usageLocation"),
])
def test_missing_or_oversized_values_are_rejected(api, change, target):
    reply = api.create_user("bad.value", **change)
    assert reply.status_code == 400 and error_code(reply) == "Request_BadRequest"
    assert reply.json["error"]["details"][0]["target"] == target


def test_upn_must_use_a_verified_domain_and_allowed_characters(api):
    foreign = api.create_user("someone", domain="gmail.com")
    assert foreign.status_code == 400
    assert foreign.json["error"]["message"].startswith("The domain portion of the userPrincipalName property is invalid")
    accented = api.create_user("zoë", mailNickname="zoe")
    assert accented.status_code == 400 and accented.json["error"]["message"] == "Property userPrincipalName is invalid."
    assert api.create_user("o'neil.x_y#1").status_code == 201


def test_federated_domain_requires_a_clean_immutable_id(api):
    missing = api.create_user("fed.user", domain=FEDERATED_DOMAIN)
    assert missing.status_code == 400 and error_code(missing) == "Request_BadRequest"
    assert missing.json["error"]["message"] == "One or more properties contains invalid values."
    for bad in ("abc$def", "abc_def"):
        assert api.create_user("fed.user", domain=FEDERATED_DOMAIN, onPremisesImmutableId=bad).status_code == 400
    ok = api.create_user("fed.user", domain=FEDERATED_DOMAIN, onPremisesImmutableId="q1+2/3==")
    assert ok.status_code == 201
    got = api.get(f"/users/{ok.json['id']}", query_string={"$select": "onPremisesImmutableId,identities"}).json
    assert got["onPremisesImmutableId"] == "q1+2/3=="
    assert got["identities"][0] == {"signInType": "federated", "issuer": FEDERATED_DOMAIN,
                                    "issuerAssignedId": "q1+2/3=="}


def test_duplicates_are_object_conflicts(api):
    assert api.create_user("dup", domain=FEDERATED_DOMAIN, onPremisesImmutableId="imm1").status_code == 201
    same_upn = api.create_user("DUP", domain=FEDERATED_DOMAIN, onPremisesImmutableId="imm2")
    same_immutable = api.create_user("other", domain=FEDERATED_DOMAIN, onPremisesImmutableId="imm1")
    for reply, prop in ((same_upn, "userPrincipalName"), (same_immutable, "onPremisesImmutableId")):
        assert reply.status_code == 400 and error_code(reply) == "Request_BadRequest"
        assert reply.json["error"]["message"] == f"Another object with the same value for property {prop} already exists."
        assert reply.json["error"]["details"][0]["code"] == "ObjectConflict"
        assert reply.json["error"]["details"][0]["target"] == prop


def test_unknown_properties_wrong_types_and_bad_json_are_400(api):
    unknown = api.create_user("typo", favouriteColour="blue")
    assert unknown.status_code == 400 and error_code(unknown) == "Request_BadRequest"
    assert "Property 'favouriteColour' does not exist on type 'microsoft.graph.user'" in unknown.json["error"]["message"]
    nested = api.create_user("typo", passwordProfile={"password": STRONG_PASSWORD, "expires": True})
    assert nested.status_code == 400 and "microsoft.graph.passwordProfile" in nested.json["error"]["message"]
    wrong_type = api.create_user("typo", accountEnabled="yes")
    assert wrong_type.status_code == 400 and "Edm.Boolean" in wrong_type.json["error"]["message"]
    not_array = api.create_user("typo", otherMails="a@b.com")
    assert not_array.status_code == 400 and "StartArray" in not_array.json["error"]["message"]
    malformed = api.call("POST", "/users", data=b'{"displayName": ', content_type="application/json")
    assert malformed.status_code == 400 and error_code(malformed) == "BadRequest"


def test_bodies_over_4_mb_are_413(api):
    body = json.dumps({"displayName": "x" * (4 * 1024 * 1024)}).encode()
    reply = api.call("POST", "/users", data=body, content_type="application/json")
    assert reply.status_code == 413


def test_weak_passwords_are_refused(api):
    reply = api.create_user("weak", passwordProfile={"password": "alllowercase"})
    assert reply.status_code == 400 and "password complexity" in reply.json["error"]["message"]


def test_a_new_user_is_invisible_until_replication_lag_passes(api):
    clock = FakeClock()
    api.app.store.clock = clock
    api.control("PATCH", "config", {"replication_lag_s": 5})
    created = api.create_user("lagging", usageLocation="US")
    assert created.status_code == 201
    uid, upn = created.json["id"], created.json["userPrincipalName"]
    for path in (f"/users/{uid}", f"/users/{upn}"):
        missing = api.get(path)
        assert missing.status_code == 404 and error_code(missing) == "Request_ResourceNotFound"
    assert api.get(f"/users/{uid}").json["error"]["message"] == (
        f"Resource '{uid}' does not exist or one of its queried reference-property objects are not present.")
    assert api.patch(f"/users/{uid}", json={"jobTitle": "x"}).status_code == 404
    assert api.post(f"/users/{uid}/revokeSignInSessions").status_code == 404
    assert api.post(f"/users/{uid}/assignLicense", json={"addLicenses": [], "removeLicenses": []}).status_code == 404
    listed = api.get("/users", query_string={"$filter": f"userPrincipalName eq '{upn}'"}).json["value"]
    held = [u for u in api.control("GET", "state").json["users"] if u["id"] == uid]  # state lists by id, not age
    assert listed == [] and [u["_visible"] for u in held] == [False]
    clock.now += 5
    assert api.get(f"/users/{uid}").status_code == 200
    assert [u["id"] for u in api.get("/users", query_string={"$filter": f"id eq '{uid}'"}).json["value"]] == [uid]


def test_patch_updates_and_checks_like_create(api):
    uid = api.create_user("patchme").json["id"]
    assert api.patch(f"/users/{uid}", json={"jobTitle": "Pilot", "usageLocation": "NZ"}).status_code == 204
    got = api.get(f"/users/{uid}", query_string={"$select": "jobTitle,usageLocation"}).json
    assert (got["jobTitle"], got["usageLocation"]) == ("Pilot", "NZ")
    assert api.patch(f"/users/{uid}", json={"nickname": "x"}).status_code == 400
    taken = api.patch(f"/users/{uid}", json={"userPrincipalName": "admin@contoso.onmicrosoft.com"})
    assert taken.status_code == 400 and taken.json["error"]["details"][0]["code"] == "ObjectConflict"
    federated = api.patch(f"/users/{uid}", json={"userPrincipalName": f"patchme@{FEDERATED_DOMAIN}"})
    assert federated.status_code == 400


def test_soft_delete_keeps_the_upn_until_restored_or_purged(api):
    uid = api.create_user("leaver").json["id"]
    assert api.delete(f"/users/{uid}").status_code == 204
    assert api.get(f"/users/{uid}").status_code == 404
    deleted = api.get(f"/directory/deletedItems/{uid}")
    assert deleted.status_code == 200 and deleted.json["deletedDateTime"]
    assert deleted.json["@odata.type"] == "#microsoft.graph.user"
    assert api.create_user("leaver").json["error"]["details"][0]["code"] == "ObjectConflict"
    restored = api.post(f"/directory/deletedItems/{uid}/restore", json={})
    assert restored.status_code == 200 and api.get(f"/users/{uid}").status_code == 200
    assert api.delete(f"/users/{uid}").status_code == 204
    assert api.delete(f"/directory/deletedItems/{uid}").status_code == 204
    assert api.create_user("leaver").status_code == 201


def test_revoke_sign_in_sessions_answers_value_true(api):
    uid = api.create_user("revoker").json["id"]
    before = api.get(f"/users/{uid}", query_string={"$select": "signInSessionsValidFromDateTime"}).json
    reply = api.post(f"/users/{uid}/revokeSignInSessions")
    assert reply.status_code == 200 and reply.json["value"] is True
    after = api.get(f"/users/{uid}", query_string={"$select": "signInSessionsValidFromDateTime"}).json
    assert after["signInSessionsValidFromDateTime"] >= before["signInSessionsValidFromDateTime"]


def test_errors_carry_request_ids_and_calls_need_a_token(api):
    anonymous = api.client.get("/v1.0/users", headers={"client-request-id": "abc-123"})
    assert anonymous.status_code == 401 and error_code(anonymous) == "InvalidAuthenticationToken"
    inner = anonymous.json["error"]["innerError"]
    assert inner["client-request-id"] == "abc-123" == anonymous.headers["client-request-id"]
    assert inner["request-id"] == anonymous.headers["request-id"] and inner["date"]
    forged = api.client.get("/v1.0/users", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401 and error_code(forged) == "InvalidAuthenticationToken"
    assert api.get("/nonsense").status_code == 400
    assert api.call("PUT", "/users").status_code == 405
