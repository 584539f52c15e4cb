"""The shared OpenAPI checker, against both vendor extracts."""
import json
import os

import pytest

from emulators._spec import SpecValidator
from tests.support.procs import ROOT

SPECS = os.path.join(os.path.dirname(ROOT), "shared", "specs")
JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": "Bearer token", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def graph_spec():
    return SpecValidator(os.path.join(SPECS, "msgraph-v1.0-subset.yaml"), "/v1.0")


@pytest.fixture(scope="module")
def auth0_spec():
    return SpecValidator(os.path.join(SPECS, "auth0-mgmt-v2-subset.json"), "/api/v2")


def _body(obj):
    return json.dumps(obj).encode()


GRAPH_USER = {"accountEnabled": True, "displayName": "Ada", "mailNickname": "ada",
              "userPrincipalName": "ada@contoso.com",
              "passwordProfile": {"password": "x-Long-Secret-1", "forceChangePasswordNextSignIn": False}}


def test_graph_paths_prefer_literal_templates(graph_spec):
    assert graph_spec.find("GET", "/v1.0/users/delta()")[0] == "/users/delta()"
    assert graph_spec.find("GET", "/v1.0/users/abc")[0] == "/users/{user-id}"
    assert graph_spec.find("GET", "/v1.0/users/a%40b.com")[1] == {"user-id": "a@b.com"}
    assert graph_spec.find("POST", "/v1.0/users/abc/assignLicense")[0] == "/users/{user-id}/assignLicense"
    assert not graph_spec.matches("PUT", "/v1.0/users/abc")
    assert not graph_spec.matches("GET", "/v1.0/nowhere")
    assert not graph_spec.matches("GET", "/beta/users")


def test_graph_valid_create_user_passes(graph_spec):
    created = {k: v for k, v in GRAPH_USER.items() if k != "passwordProfile"}
    created["id"] = "8f1e"
    assert graph_spec.check("POST", "/v1.0/users", "", JSON, _body(GRAPH_USER), 201, JSON,
                            _body(created)) == []


def test_graph_wrong_type_in_request_is_a_violation_when_accepted(graph_spec):
    bad = dict(GRAPH_USER, accountEnabled="yes")
    found = graph_spec.check("POST", "/v1.0/users", "", JSON, _body(bad), 201, JSON,
                             _body(dict(GRAPH_USER, id="1")))
    assert len(found) == 1 and "accountEnabled" in found[0] and "request" in found[0]
    # Rejecting the same request, as Graph does, is fine.
    error = {"error": {"code": "Request_BadRequest", "message": "bad"}}
    assert graph_spec.check("POST", "/v1.0/users", "", JSON, _body(bad), 400, JSON, _body(error)) == []


def test_graph_response_wrong_type_and_unknown_field(graph_spec):
    bad = dict(GRAPH_USER, id="1", accountEnabled="yes")
    assert any("accountEnabled" in v for v in graph_spec.check(
        "GET", "/v1.0/users/1", "", {}, b"", 200, JSON, _body(bad)))
    extra = dict(GRAPH_USER, id="1", immutableIdentifier="x")
    found = graph_spec.check("GET", "/v1.0/users/1", "", {}, b"", 200, JSON, _body(extra))
    assert found == ["GET /users/{user-id} -> 200: response field $.immutableIdentifier is not in the vendor schema"]


def test_graph_unknown_fields_follow_allof_and_collections(graph_spec):
    page = {"@odata.context": "x", "@odata.nextLink": "https://x", "value": [
        {"id": "1", "displayName": "A", "deletedDateTime": None},
        {"id": "2", "bogus": 1, "assignedLicenses": [{"skuId": "s", "disabledPlans": [], "x": 1}]}]}
    found = graph_spec.response_unknown_fields("GET", "/v1.0/users", 200, page)
    assert sorted(found) == sorted([
        "GET /users -> 200: response field $.value[1].bogus is not in the vendor schema",
        "GET /users -> 200: response field $.value[1].assignedLicenses[0].x is not in the vendor schema"])
    member = {"@odata.type": "#microsoft.graph.group", "id": "g", "displayName": "Staff"}
    assert graph_spec.unknown_properties("microsoft.graph.directoryObject", member) == []
    assert graph_spec.unknown_properties("microsoft.graph.directoryObject", {"id": "g", "displayName": "x"}) \
        == ["$.displayName"]


AUTH0_USER = {"user_id": "auth0|0123456789abcdef01234567", "email": "a@example.com", "email_verified": False,
              "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0",
                              "user_id": "0123456789abcdef01234567", "isSocial": False}],
              "app_metadata": {"anything": {"goes": 1}}, "user_metadata": {}, "blocked": False,
              "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"}
USER_PATH = "/api/v2/users/auth0%7C0123456789abcdef01234567"


def test_auth0_ids_with_pipes_match(auth0_spec):
    assert auth0_spec.find("GET", USER_PATH) == ("/users/{id}", {"id": "auth0|0123456789abcdef01234567"})
    assert auth0_spec.find("DELETE", USER_PATH + "/sessions")[0] == "/users/{user_id}/sessions"
    assert auth0_spec.find("GET", "/api/v2/roles/rol_1/users")[0] == "/roles/{id}/users"
    assert auth0_spec.find("GET", "/api/v2/users-by-email?email=a")[0] == "/users-by-email"
    assert not auth0_spec.matches("GET", "/api/v2/clients")


def test_auth0_valid_patch_passes(auth0_spec):
    body = _body({"blocked": True, "app_metadata": {"k": None}})
    assert auth0_spec.check("PATCH", USER_PATH, "", AUTH, body, 200, JSON,
                            _body(dict(AUTH0_USER, blocked=True))) == []


def test_auth0_patch_with_wrong_type_is_a_violation_when_accepted(auth0_spec):
    body = _body({"blocked": "yes"})
    found = auth0_spec.check("PATCH", USER_PATH, "", AUTH, body, 200, JSON, _body(AUTH0_USER))
    assert len(found) == 1 and "blocked" in found[0] and "'yes' is not of type 'boolean'" in found[0]
    assert auth0_spec.check_request("PATCH", USER_PATH, "", AUTH, body)
    error = {"statusCode": 400, "error": "Bad Request", "message": "x", "errorCode": "invalid_body"}
    assert auth0_spec.check("PATCH", USER_PATH, "", AUTH, body, 400, JSON, _body(error)) == []


def test_auth0_query_parameters_are_checked(auth0_spec):
    found = auth0_spec.check("GET", "/api/v2/users", "per_page=500&q=email%3A%22a%22", AUTH, b"",
                             200, JSON, b"[]")
    assert len(found) == 1 and "per_page" in found[0]
    assert auth0_spec.check("GET", "/api/v2/users", "per_page=50&include_totals=true", AUTH, b"", 200, JSON,
                            _body({"start": 0, "limit": 50, "length": 1, "total": 1,
                                   "users": [AUTH0_USER]})) == []


def test_auth0_response_type_error_and_unknown_fields(auth0_spec):
    bad = dict(AUTH0_USER, blocked="no")
    assert any("blocked" in v for v in auth0_spec.check("GET", USER_PATH, "", AUTH, b"", 200, JSON, _body(bad)))
    extra = dict(AUTH0_USER, office365UPN="x")
    assert auth0_spec.check("GET", USER_PATH, "", AUTH, b"", 200, JSON, _body(extra)) == [
        "GET /users/{id} -> 200: response field $.office365UPN is not in the vendor schema"]
    ident = dict(AUTH0_USER, identities=[dict(AUTH0_USER["identities"][0], extra=1)])
    found = auth0_spec.check("GET", USER_PATH, "", AUTH, b"", 200, JSON, _body(ident))
    assert found and "$.identities[0]" in found[0]


def test_auth0_undeclared_status(auth0_spec):
    assert auth0_spec.check("GET", USER_PATH, "", AUTH, b"", 413, JSON, b"{}") == []
    found = auth0_spec.check("GET", USER_PATH, "", AUTH, b"", 202, JSON, _body(AUTH0_USER))
    assert found and "202" in found[0]


def test_auth0_error_body_schema(auth0_spec):
    good = {"statusCode": 400, "error": "Bad Request", "message": "m", "errorCode": "invalid_body"}
    assert auth0_spec.schema_errors("BadRequestSchema", good) == []
    assert auth0_spec.schema_errors("BadRequestSchema", {"statusCode": 400, "error": "Bad"})
    assert auth0_spec.unknown_properties("Role", {"id": "r", "name": "n", "description": "d"}) == []
    assert auth0_spec.unknown_properties("Role", {"id": "r", "members": []}) == ["$.members"]


def test_auth0_ambiguous_one_of_and_required_only_fields(auth0_spec):
    # {"users": [...]} fits both paginated alternatives of a oneOf: the value conforms (vendor meant anyOf).
    page = {"users": [{"user_id": "auth0|1", "email": "a@example.com"}]}
    assert auth0_spec.check("GET", "/api/v2/roles/rol_1/users", "take=5", AUTH, b"", 200, JSON, _body(page)) == []
    bad_page = {"users": [{"user_id": 1}]}
    assert auth0_spec.check("GET", "/api/v2/roles/rol_1/users", "", AUTH, b"", 200, JSON, _body(bad_page))
    # `connection` is only listed in `required` of the export response, yet it is declared.
    job = {"id": "job_1", "type": "users_export", "status": "pending", "connection": "db", "format": "json"}
    assert auth0_spec.check("POST", "/api/v2/jobs/users-exports", "", AUTH, _body({"format": "json"}), 200,
                            JSON, _body(job)) == []
    assert auth0_spec.response_unknown_fields("GET", "/api/v2/jobs/job_1", 200, dict(job, id="job_1")) == [
        "GET /jobs/{id} -> 200: response field $.connection is not in the vendor schema"]


def test_auth0_checkpoint_pages_match_the_extract(auth0_spec):
    page = {"connections": [{"id": "con_googleoauth20001", "name": "google-oauth2", "strategy": "google-oauth2"}],
            "next": "con_googleoauth20001"}
    assert auth0_spec.check("GET", "/api/v2/connections", "take=1", AUTH, b"", 200, JSON, _body(page)) == []
    assert auth0_spec.check("GET", "/api/v2/connections", "take=1", AUTH, b"", 200, JSON,
                            _body(dict(page, next=5)))
    assert auth0_spec.check("GET", "/api/v2/connections", "take=101", AUTH, b"", 200, JSON, _body(page))
    # Paths the extract lacks (documented by Auth0, served by the emulator) are not checked at all.
    for method, path in (("POST", "/api/v2/roles"), ("GET", "/api/v2/roles/rol_1"), ("GET", "/api/v2/user-blocks"),
                         ("GET", USER_PATH + "/sessions"), ("GET", USER_PATH + "/refresh-tokens")):
        assert not auth0_spec.matches(method, path)
