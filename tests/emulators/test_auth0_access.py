"""Auth0 emulator: roles create/get/assign users, brute-force blocks, sessions and refresh tokens listing,
and checkpoint paging on the list endpoints that document it."""
import pytest

from emulators.auth0.testing import user_path

STAFF = "rol_sandboxstaff0001"


def test_create_and_get_a_role(emu):
    created = emu.api("POST", "/roles", json={"name": "Contractors", "description": "Short-term staff"})
    assert created.status_code == 200
    role = created.json
    assert role["id"].startswith("rol_") and len(role["id"]) == 20
    assert role == {"id": role["id"], "name": "Contractors", "description": "Short-term staff"}
    assert emu.api("GET", f"/roles/{role['id']}").json == role
    assert "Contractors" in [r["name"] for r in emu.api("GET", "/roles").json]
    assert emu.api("POST", "/roles", json={"name": "Contractors"}).status_code == 409
    assert emu.api("GET", "/roles/rol_doesnotexist0000").json["errorCode"] == "inexistent_role"


@pytest.mark.parametrize("payload, field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 51}, "name"), ({"name": 3}, "name"),
    ({"name": "ok", "permissions": []}, "permissions"),
])
def test_create_role_rejects_bad_bodies_naming_the_field(emu, payload, field):
    reply = emu.api("POST", "/roles", json=payload)
    assert reply.status_code == 400 and field in reply.json["message"]


def test_assign_users_to_a_role(emu):
    one, two = emu.create_user("one@example.com"), emu.create_user("two@example.com")
    path = f"/roles/{STAFF}/users"
    assert emu.api("POST", path, json={"users": [one["user_id"], two["user_id"], one["user_id"]]}).status_code == 200
    assert emu.api("POST", path, json={"users": [one["user_id"]]}).status_code == 200  # idempotent
    members = emu.api("GET", path).json
    assert sorted(m["user_id"] for m in members) == sorted([one["user_id"], two["user_id"]])
    assert [r["id"] for r in emu.api("GET", user_path(one["user_id"], "/roles")).json] == [STAFF]
    assert emu.api("POST", path, json={"users": ["auth0|ghost"]}).status_code == 404
    assert emu.api("POST", path, json={"users": []}).status_code == 400
    assert emu.api("POST", "/roles/rol_doesnotexist0000/users", json={"users": [one["user_id"]]}).status_code == 404


def test_user_blocks_by_identifier_and_by_user(emu):
    user = emu.create_user("locked@example.com")
    other = emu.create_user("fine@example.com")
    emu.control("POST", "user-blocks", json={"identifier": "Locked@example.com", "ip": "203.0.113.7",
                                             "connection": "Username-Password-Authentication"})
    expected = {"blocked_for": [{"identifier": "Locked@example.com", "ip": "203.0.113.7",
                                 "connection": "Username-Password-Authentication"}]}
    assert emu.api("GET", "/user-blocks", query_string={"identifier": "locked@example.com"}).json == expected
    assert emu.api("GET", user_path(user["user_id"]).replace("/users", "/user-blocks")).json == expected
    assert emu.api("GET", user_path(other["user_id"]).replace("/users", "/user-blocks")).json == {"blocked_for": []}
    assert emu.api("DELETE", user_path(user["user_id"]).replace("/users", "/user-blocks")).status_code == 204
    assert emu.api("GET", "/user-blocks", query_string={"identifier": "locked@example.com"}).json == {
        "blocked_for": []}
    emu.control("POST", "user-blocks", json={"identifier": "locked@example.com"})
    assert emu.api("DELETE", "/user-blocks", query_string={"identifier": "LOCKED@example.com"}).status_code == 204
    assert emu.control("GET", "state")["users"][0].get("blocked") is None  # the admin flag is another thing
    missing = emu.api("GET", "/user-blocks")
    assert missing.status_code == 400 and "identifier" in missing.json["message"]
    assert emu.api("GET", "/user-blocks/auth0%7Cghost").status_code == 404


def test_sessions_and_refresh_tokens_are_listed_with_checkpoint_paging(emu):
    user = emu.seed({"email": "busy@example.com", "sessions": 3, "refresh_tokens": 2})[0]
    first = emu.api("GET", user_path(user["user_id"], "/sessions"), query_string={"take": 2}).json
    assert len(first["sessions"]) == 2 and first["next"] == first["sessions"][1]["id"]
    session = first["sessions"][0]
    assert session["user_id"] == user["user_id"] and session["expires_at"] > session["idle_expires_at"]
    rest = emu.api("GET", user_path(user["user_id"], "/sessions"), query_string={"take": 2, "from": first["next"]})
    assert len(rest.json["sessions"]) == 1 and "next" not in rest.json
    tokens = emu.api("GET", user_path(user["user_id"], "/refresh-tokens")).json
    assert "next" not in tokens and len(tokens["tokens"]) == 2
    session_ids = {s["id"] for s in first["sessions"] + rest.json["sessions"]}
    assert all(t["session_id"] in session_ids and t["user_id"] == user["user_id"] for t in tokens["tokens"])
    emu.api("DELETE", user_path(user["user_id"], "/refresh-tokens"))
    assert emu.api("GET", user_path(user["user_id"], "/refresh-tokens")).json == {"tokens": []}
    assert emu.api("GET", "/users/auth0%7Cghost/sessions").status_code == 404
    assert emu.api("GET", user_path(user["user_id"], "/sessions"), query_string={"take": 101}).status_code == 400


def test_connections_checkpoint_paging(emu):
    first = emu.api("GET", "/connections", query_string={"take": 2}).json
    assert [c["id"] for c in first["connections"]] == ["con_googleoauth20001", "con_partnersaml00001"]
    rest = emu.api("GET", "/connections", query_string={"take": 2, "from": first["next"], "fields": "name"}).json
    assert rest == {"connections": [{"name": "Username-Password-Authentication"}, {"name": "contoso-entra"}]}


def test_new_routes_need_their_scopes(emu):
    emu.control("PATCH", "config", json={"scopes": "read:users"})
    token = emu.token_response().json["access_token"]
    assert emu.api("POST", "/roles", token=token, json={"name": "x"}).status_code == 403
    assert emu.api("DELETE", "/user-blocks", token=token, query_string={"identifier": "a"}).status_code == 403
    assert emu.api("GET", "/user-blocks", token=token, query_string={"identifier": "a"}).status_code == 200
