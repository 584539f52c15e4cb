"""Auth0 emulator: users — create, read, PATCH merge, delete, by-email, search and bad input."""
import json

import pytest

from emulators.auth0.testing import user_path

DB = "Username-Password-Authentication"


def test_create_get_and_delete(emu):
    user = emu.create_user("Ada@Example.com", given_name="Ada")
    assert user["user_id"].startswith("auth0|") and len(user["user_id"]) == len("auth0|") + 24
    assert user["email"] == "ada@example.com"  # database connections keep emails lower-case
    assert user["identities"] == [{"connection": DB, "provider": "auth0", "user_id": user["user_id"][6:],
                                   "isSocial": False}]
    assert "password" not in user
    got = emu.api("GET", user_path(user["user_id"]))
    assert got.status_code == 200 and got.json == user
    assert emu.api("DELETE", user_path(user["user_id"])).status_code == 204
    missing = emu.api("GET", user_path(user["user_id"]))
    assert missing.status_code == 404
    assert missing.json == {"statusCode": 404, "error": "Not Found", "message": "The user does not exist.",
                            "errorCode": "inexistent_user"}


def test_given_user_id_and_fields_selection(emu):
    emu.create_user("b@example.com", user_id="legacy-42")
    got = emu.api("GET", "/users/auth0|legacy-42", query_string={"fields": "user_id,email"})
    assert got.json == {"user_id": "auth0|legacy-42", "email": "b@example.com"}
    got = emu.api("GET", user_path("auth0|legacy-42"), query_string={"fields": "identities,picture",
                                                                     "include_fields": "false"})
    assert "identities" not in got.json and got.json["email"] == "b@example.com"


def test_patch_replaces_root_and_merges_metadata_one_level(emu):
    user = emu.create_user("m@example.com", app_metadata={"plan": "gold", "nested": {"a": 1, "b": 2}, "drop": 1},
                           user_metadata={"lang": "fr"})
    patch = {"app_metadata": {"nested": {"c": 3}, "drop": None, "added": True}, "blocked": True, "name": "M"}
    got = emu.api("PATCH", user_path(user["user_id"]), json=patch)
    assert got.status_code == 200
    assert got.json["app_metadata"] == {"plan": "gold", "nested": {"c": 3}, "added": True}
    assert got.json["user_metadata"] == {"lang": "fr"}
    assert got.json["blocked"] is True and got.json["name"] == "M"
    assert got.json["updated_at"] >= user["updated_at"]
    cleared = emu.api("PATCH", user_path(user["user_id"]), json={"name": None}).json
    assert "name" not in cleared


def test_patch_email_change_resets_verification_and_reindexes(emu):
    user = emu.create_user("old@example.com", email_verified=True)
    got = emu.api("PATCH", user_path(user["user_id"]), json={"email": "New@Example.com"}).json
    assert got["email"] == "new@example.com" and got["email_verified"] is False
    assert emu.api("GET", "/users-by-email", query_string={"email": "old@example.com"}).json == []
    assert len(emu.api("GET", "/users-by-email", query_string={"email": "new@example.com"}).json) == 1


@pytest.mark.parametrize("body, needle", [
    ({"blocked": "yes"}, "on property blocked"),
    ({"app_metadata": []}, "on property app_metadata"),
    ({"email_verified": 1}, "on property email_verified"),
    ({"shoe_size": 44}, "shoe_size"),
    ({"user_id": "auth0|x"}, "user_id"),
    ({"phone_number": "0612"}, "phone_number"),
    ({"email": "not-an-email"}, "format email"),
])
def test_patch_rejects_bad_fields_naming_them(emu, body, needle):
    user = emu.create_user("v@example.com")
    got = emu.api("PATCH", user_path(user["user_id"]), json=body)
    assert got.status_code == 400
    assert got.json["errorCode"] == "invalid_body" and needle in got.json["message"]
    assert emu.api("GET", user_path(user["user_id"])).json == user


def test_patch_unknown_user_is_404(emu):
    assert emu.api("PATCH", "/users/auth0|nope", json={"blocked": True}).status_code == 404


def test_duplicate_email_in_connection_is_409(emu):
    emu.create_user("dup@example.com")
    again = emu.api("POST", "/users", json={"connection": DB, "email": "DUP@example.com",
                                            "password": "another-long-one"})
    assert again.status_code == 409
    assert again.json == {"statusCode": 409, "error": "Conflict", "message": "The user already exists.",
                          "errorCode": "auth0_idp_error"}


@pytest.mark.parametrize("body, status, needle", [
    ({"email": "a@example.com", "password": "long-enough-1"}, 400, "connection"),
    ({"connection": "nope", "email": "a@example.com", "password": "long-enough-1"}, 400, "connection does not exist"),
    ({"connection": "google-oauth2", "email": "a@example.com"}, 400, "database or passwordless"),
    ({"connection": DB, "email": "a@example.com"}, 400, "password"),
    ({"connection": DB, "password": "long-enough-1"}, 400, "email"),
    ({"connection": DB, "email": "a@example.com", "password": "short"}, 400, "PasswordStrengthError"),
    ({"connection": DB, "email": "a@example.com", "password": "long-enough-1", "username": "a"}, 400, "username"),
    ({"connection": DB, "email": "a@example.com", "password": "long-enough-1", "blocked": "no"}, 400, "blocked"),
    ({"connection": DB, "email": "a@example.com", "password": "long-enough-1", "role": "x"}, 400, "role"),
])
def test_create_rejects_bad_input(emu, body, status, needle):
    got = emu.api("POST", "/users", json=body)
    assert got.status_code == status and needle in got.json["message"], got.json
    assert emu.control("GET", "state")["users"] == []


def test_malformed_json_and_oversized_bodies(emu):
    got = emu.api("POST", "/users", data=b"{not json", headers={"Content-Type": "application/json"})
    assert got.status_code == 400 and got.json["message"] == "Invalid request payload JSON format"
    big = json.dumps({"connection": DB, "email": "a@example.com", "password": "long-enough-1",
                      "user_metadata": {"blob": "x" * (1024 * 1024)}})
    got = emu.api("POST", "/users", data=big, headers={"Content-Type": "application/json"})
    assert got.status_code == 413 and "maximum allowed: 1048576" in got.json["message"]
    assert got.json["error"] == "Request Entity Too Large"


def test_users_by_email_is_exact_and_case_sensitive(emu):
    emu.create_user("exact@example.com")
    emu.seed({"connection": "google-oauth2", "email": "exact@example.com"},
             {"connection": "partner-saml", "email": "Exact@Example.com"})
    found = emu.api("GET", "/users-by-email", query_string={"email": "exact@example.com"}).json
    assert sorted(u["identities"][0]["connection"] for u in found) == [DB, "google-oauth2"]
    upper = emu.api("GET", "/users-by-email", query_string={"email": "Exact@Example.com"}).json
    assert [u["identities"][0]["connection"] for u in upper] == ["partner-saml"]
    assert emu.api("GET", "/users-by-email", query_string={"email": "exact@example"}).json == []
    assert emu.api("GET", "/users-by-email").status_code == 400


def test_search_subset(emu):
    a = emu.create_user("alice@contoso.com", app_metadata={"office365Provisioned": True, "tier": 2})
    emu.create_user("bob@fabrikam.com", app_metadata={"office365Provisioned": False})
    emu.seed({"connection": "google-oauth2", "email": "carol@contoso.com", "logins_count": 150})

    def q(query, **extra):
        got = emu.api("GET", "/users", query_string={"q": query, "search_engine": "v3", **extra})
        assert got.status_code == 200, got.json
        return sorted(u["email"] for u in got.json)

    assert q('email:"ALICE@contoso.com"') == ["alice@contoso.com"]
    assert q('identities.connection:"google-oauth2"') == ["carol@contoso.com"]
    assert q("app_metadata.office365Provisioned:true") == ["alice@contoso.com"]
    assert q("_exists_:app_metadata.office365Provisioned") == ["alice@contoso.com", "bob@fabrikam.com"]
    assert q("app_metadata.tier:2 AND NOT email:bob*") == ["alice@contoso.com"]
    assert q("email.domain:contoso.com") == ["alice@contoso.com", "carol@contoso.com"]
    assert q("logins_count:{100 TO *]") == ["carol@contoso.com"]
    assert q('email:alice* OR (identities.connection:"google-oauth2")') == ["alice@contoso.com",
                                                                          "carol@contoso.com"]
    assert q(f'user_id:"{a["user_id"]}"') == ["alice@contoso.com"]
    assert emu.api("GET", "/users", query_string={"q": "email:(unclosed"}).status_code == 400


def test_search_paging_totals_and_the_1000_window(emu):
    emu.control("POST", "users/bulk", json={"count": 120, "prefix": "p"})
    page = emu.api("GET", "/users", query_string={"per_page": 50, "page": 2, "include_totals": "true",
                                                  "sort": "email:1"}).json
    assert (page["start"], page["limit"], page["length"], page["total"]) == (100, 50, 20, 120)
    assert page["users"][0]["email"] == "p0000100@example.com"
    too_far = emu.api("GET", "/users", query_string={"per_page": 100, "page": 10})
    assert too_far.status_code == 400 and "only page through the first 1000 records" in too_far.json["message"]
    assert emu.api("GET", "/users", query_string={"per_page": 100, "page": 9}).status_code == 200
    assert emu.api("GET", "/users", query_string={"per_page": 101}).status_code == 400
    assert emu.api("GET", "/users", query_string={"search_engine": "v2"}).status_code == 400


def test_search_index_lag(emu):
    emu.control("PATCH", "config", json={"search_lag_s": 3600})
    user = emu.create_user("fresh@example.com")
    assert emu.api("GET", "/users", query_string={"q": 'email:"fresh@example.com"'}).json == []
    assert emu.api("GET", user_path(user["user_id"])).status_code == 200  # by id is consistent


def test_link_and_unlink_identities(emu):
    primary = emu.create_user("p@example.com")
    secondary = emu.seed({"connection": "google-oauth2", "email": "p@gmail.com", "user_id": "1234567890"})[0]
    linked = emu.api("POST", user_path(primary["user_id"], "/identities"),
                     json={"provider": "google-oauth2", "user_id": "1234567890"})
    assert linked.status_code == 201 and [i["provider"] for i in linked.json] == ["auth0", "google-oauth2"]
    assert emu.api("GET", user_path(secondary["user_id"])).status_code == 404
    unlinked = emu.api("DELETE", user_path(primary["user_id"], "/identities/google-oauth2/1234567890"))
    assert unlinked.status_code == 200 and len(unlinked.json) == 1
    assert emu.api("GET", user_path(secondary["user_id"])).json["email"] == "p@gmail.com"
