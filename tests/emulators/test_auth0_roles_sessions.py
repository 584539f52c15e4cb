"""Auth0 emulator: roles and their members, sessions/refresh-token revocation, connections, logs."""
import pytest

from emulators.auth0.testing import user_path

STAFF, PARTNER = "rol_sandboxstaff0001", "rol_sandboxpartner01"


def test_seeded_roles_and_name_filter(emu):
    names = [r["name"] for r in emu.api("GET", "/roles").json]
    assert names == ["Staff", "Partner Admin", "SharePoint Editors"]
    assert [r["id"] for r in emu.api("GET", "/roles", query_string={"name_filter": "partner"}).json] == [PARTNER]
    paged = emu.api("GET", "/roles", query_string={"per_page": 2, "page": 1, "include_totals": "true"}).json
    assert paged == {"start": 2, "limit": 2, "total": 3, "roles": [
        {"id": "rol_sandboxspeditor1", "name": "SharePoint Editors", "description": "Edit rights on SharePoint sites"}]}


def test_assign_list_and_remove_roles(emu):
    user = emu.create_user("r@example.com")
    path = user_path(user["user_id"], "/roles")
    assert emu.api("POST", path, json={"roles": [STAFF, PARTNER, STAFF]}).status_code == 204
    assert emu.api("POST", path, json={"roles": [STAFF]}).status_code == 204  # idempotent
    assert [r["id"] for r in emu.api("GET", path).json] == [STAFF, PARTNER]
    members = emu.api("GET", f"/roles/{STAFF}/users").json
    assert members == [{"user_id": user["user_id"], "email": "r@example.com", "name": "r@example.com",
                        "picture": user["picture"]}]
    assert emu.api("DELETE", path, json={"roles": [STAFF]}).status_code == 204
    assert [r["id"] for r in emu.api("GET", path).json] == [PARTNER]
    assert emu.api("GET", f"/roles/{STAFF}/users").json == []
    state = emu.control("GET", "state")
    assert state["role_assignments"][PARTNER] == [user["user_id"]]


@pytest.mark.parametrize("body, status", [
    ({"roles": []}, 400), ({"roles": "rol_x"}, 400), ({}, 400), ({"roles": [STAFF], "x": 1}, 400),
    ({"roles": ["rol_doesnotexist0000"]}, 404),
])
def test_role_assignment_validation(emu, body, status):
    user = emu.create_user("v@example.com")
    assert emu.api("POST", user_path(user["user_id"], "/roles"), json=body).status_code == status
    assert emu.api("GET", user_path(user["user_id"], "/roles")).json == []


def test_role_users_checkpoint_paging(emu):
    emu.seed(*[{"email": f"m{i}@example.com", "roles": ["Staff"]} for i in range(5)])
    first = emu.api("GET", f"/roles/{STAFF}/users", query_string={"take": 3}).json
    assert len(first["users"]) == 3 and "next" in first
    rest = emu.api("GET", f"/roles/{STAFF}/users", query_string={"take": 3, "from": first["next"]}).json
    assert len(rest["users"]) == 2 and "next" not in rest
    assert emu.api("GET", "/roles/rol_doesnotexist0000/users").status_code == 404


def test_sessions_and_refresh_tokens_revocation_is_recorded(emu):
    user = emu.seed({"email": "leaver@example.com", "sessions": 2, "refresh_tokens": 3})[0]
    bystander = emu.seed({"email": "stay@example.com", "sessions": 1, "refresh_tokens": 1})[0]
    assert emu.api("DELETE", user_path(user["user_id"], "/sessions")).status_code == 202
    assert emu.api("DELETE", user_path(user["user_id"], "/refresh-tokens")).status_code == 202
    users = {u["user_id"]: u for u in emu.control("GET", "state")["users"]}
    leaver = users[user["user_id"]]
    assert leaver["sessions"] == [] and leaver["refresh_tokens"] == []
    assert [(r["kind"], len(r["sessions_removed"]), len(r["refresh_tokens_removed"]))
            for r in leaver["revocations"]] == [("sessions", 2, 0), ("refresh-tokens", 0, 3)]
    assert all(r["at"].endswith("Z") for r in leaver["revocations"])
    assert len(users[bystander["user_id"]]["sessions"]) == 1
    assert emu.api("DELETE", "/users/auth0|ghost/sessions").status_code == 404


def test_revoke_access_one_session_or_everything(emu):
    user = emu.seed({"email": "x@example.com", "sessions": ["sess_a", "sess_b"], "refresh_tokens": 2})[0]
    path = user_path(user["user_id"], "/revoke-access")
    assert emu.api("POST", path, json={"session_id": "sess_a"}).status_code == 202
    stored = emu.control("GET", "state")["users"][0]
    assert [s["id"] for s in stored["sessions"]] == ["sess_b"]
    assert [t["session_id"] for t in stored["refresh_tokens"]] == ["sess_b"]
    assert emu.api("POST", path, json={"preserve_refresh_tokens": True}).status_code == 202
    stored = emu.control("GET", "state")["users"][0]
    assert stored["sessions"] == [] and len(stored["refresh_tokens"]) == 1
    assert emu.api("POST", path, json={"preserve_refresh_tokens": "no"}).status_code == 400
    assert emu.api("POST", path).status_code == 202
    assert emu.control("GET", "state")["users"][0]["refresh_tokens"] == []


def test_connections_seed_and_filters(emu):
    rows = emu.api("GET", "/connections").json
    assert [(c["name"], c["strategy"]) for c in rows] == [
        ("Username-Password-Authentication", "auth0"), ("google-oauth2", "google-oauth2"),
        ("partner-saml", "samlp"), ("contoso-entra", "waad")]
    assert all(c["id"].startswith("con_") and len(c["id"]) == 20 for c in rows)
    only = emu.api("GET", "/connections?strategy=samlp&strategy=auth0").json
    assert [c["strategy"] for c in only] == ["auth0", "samlp"]


def test_writes_are_logged(emu):
    user = emu.create_user("l@example.com")
    emu.api("PATCH", user_path(user["user_id"]), json={"blocked": "x"})
    logs = emu.api("GET", "/logs").json
    assert [e["type"] for e in logs] == ["fapi", "sapi"]
    assert logs[0]["user_id"] == user["user_id"]
    found = emu.api("GET", "/logs", query_string={"q": "type:sapi", "include_totals": "true"}).json
    assert found["total"] == 1 and found["logs"][0]["details"]["request"]["method"] == "POST"
    after = emu.api("GET", "/logs", query_string={"from": logs[1]["log_id"], "take": 10}).json
    assert [e["type"] for e in after] == ["fapi"]


def test_tickets(emu):
    user = emu.create_user("t@example.com")
    got = emu.api("POST", "/tickets/password-change", json={"user_id": user["user_id"], "ttl_sec": 600})
    assert got.status_code == 201 and got.json["ticket"].startswith("https://")
    got = emu.api("POST", "/tickets/email-verification", json={"user_id": "auth0|ghost"})
    assert got.status_code == 404
