"""Auth0Client against the Auth0 Management API emulator."""
import time

import pytest

from service.clients.auth0 import Auth0Client
from service.clients.auth0_export import ExportPoll
from service.errors import AuthFailed, Conflict, DryRunBlocked, NotFound
from tests.clients.sandbox import auth0_settings

DB = "Username-Password-Authentication"
STAFF, PARTNER = "rol_sandboxstaff0001", "rol_sandboxpartner01"


@pytest.fixture
def client(auth0):
    """An Auth0Client built from settings, as the service builds it."""
    return Auth0Client.from_settings(auth0_settings(auth0))


def seed(auth0, *users):
    """Store users directly in the emulator; returns them as Auth0 shows them."""
    return auth0._admin("POST", "users", json={"users": list(users)})["users"]


def served(auth0, key):
    """Requests the emulator served for 'METHOD /path/{template}'."""
    return auth0.stats()["requests"].get(key, 0)


def new_db_user(client, email, **extra):
    """Create a database user through the Management API."""
    body = {"connection": DB, "email": email, "password": "Sandbox-Passw0rd!-long-enough", **extra}
    return client.create_user(body)


def test_token_is_requested_once_and_reused(auth0, client):
    user = new_db_user(client, "cache@example.com")
    client.get_user(user["user_id"])
    client.list_roles()
    assert auth0.stats()["tokens_issued"] == 1 and served(auth0, "POST /oauth/token") == 1


def test_metadata_merges_one_level_deep(client):
    user = new_db_user(client, "merge@example.com",
                       app_metadata={"office365": {"upn": "a@x", "immutableId": "i"}, "plan": "gold"})
    updated = client.update_user(user["user_id"], {"app_metadata": {"office365": {"upn": "b@x"},
                                                                    "plan": None, "roles": ["r"]}})
    assert updated["app_metadata"] == {"office365": {"upn": "b@x"}, "roles": ["r"]}
    assert client.get_user(user["user_id"])["app_metadata"] == updated["app_metadata"]


def test_duplicate_is_conflict_and_missing_is_not_found(client):
    new_db_user(client, "twice@example.com")
    with pytest.raises(Conflict) as caught:
        new_db_user(client, "twice@example.com")
    assert caught.value.http_status == 409
    with pytest.raises(NotFound):
        client.get_user("auth0|does-not-exist")
    client.delete_user("auth0|does-not-exist")  # Auth0 answers 204 here: deletes are idempotent


def test_429_waits_until_x_ratelimit_reset(auth0, client):
    user = new_db_user(client, "limited@example.com")
    other = Auth0Client.from_settings(auth0_settings(auth0))  # another process: it has not seen the bucket
    resets = []
    other.session.hooks["response"].append(
        lambda resp, *a, **k: resets.append(float(resp.headers["x-ratelimit-reset"]))
        if resp.status_code == 429 else None)
    other.get_user(user["user_id"])  # its token, before the limit is lowered
    auth0.configure(rate_limit=1)
    client.get_user(user["user_id"])
    other.get_user(user["user_id"])  # the bucket is empty: 429, wait, retry
    assert len(resets) == 1 and time.time() >= resets[0]
    assert auth0.stats()["throttled"] == 1


def test_a_client_that_emptied_the_bucket_waits_for_the_refill_instead_of_a_429(auth0, client):
    user = new_db_user(client, "paced@example.com")
    auth0.configure(rate_limit=2)
    started = time.monotonic()
    for _ in range(6):
        client.get_user(user["user_id"])
    assert auth0.stats()["throttled"] == 0
    assert time.monotonic() - started >= 1.0  # 6 calls from a bucket of 2 at 2 a second


def test_injected_503_is_retried(auth0, client):
    user = new_db_user(client, "flaky@example.com")
    auth0.add_faults({"kind": "status", "status": 503, "count": 2, "method": "GET", "path": "^/api/v2/users/"})
    assert client.get_user(user["user_id"])["email"] == "flaky@example.com"
    assert served(auth0, "GET /api/v2/users/{id}") == 3


def test_roles_assign_and_remove(auth0, client):
    (user,) = seed(auth0, {"email": "roles@example.com", "connection": DB})
    uid = user["user_id"]
    assert {r["id"] for r in client.list_roles()} >= {STAFF, PARTNER}
    assert [r["id"] for r in client.list_roles(name_filter="Partner")] == [PARTNER]
    client.assign_roles(uid, [STAFF, PARTNER])
    assert {r["id"] for r in client.user_roles(uid)} == {STAFF, PARTNER}
    client.remove_roles(uid, [PARTNER])
    assert [r["id"] for r in client.user_roles(uid)] == [STAFF]
    assert auth0.state()["role_assignments"][PARTNER] == []


def test_revoke_access_ends_every_session_and_refresh_token_in_one_call(auth0, client):
    (user,) = seed(auth0, {"email": "leaver@example.com", "connection": DB, "sessions": 2,
                           "refresh_tokens": 3})
    client.revoke_access(user["user_id"])
    held = next(u for u in auth0.state()["users"] if u["user_id"] == user["user_id"])
    assert held["sessions"] == [] and held["refresh_tokens"] == []
    assert [r["covers"] for r in held["revocations"]] == [["sessions", "refresh_tokens"]]


def test_lookup_by_email_search_and_connections(auth0, client):
    seeded = seed(auth0, {"email": "find.me@example.com", "connection": DB},
                  {"email": "find.me@example.com", "connection": "google-oauth2", "user_id": "google-oauth2|123"},
                  {"email": "other@example.com", "connection": DB})
    wanted = {u["user_id"] for u in seeded[:2]}
    assert {u["user_id"] for u in client.users_by_email("find.me@example.com")} == wanted
    assert client.users_by_email("Find.Me@example.com") == []
    assert {u["user_id"] for u in client.search_users('email:"find.me@example.com"')} == wanted
    assert {c["name"] for c in client.list_connections()} >= {DB, "google-oauth2"}


def test_export_job_is_polled_and_streamed(auth0, client):
    seeded = seed(auth0, *({"email": f"export{i}@example.com", "connection": DB} for i in range(150)))
    job = client.start_users_export(fields=["user_id", "email"])
    exported = list(client.iter_export(job["id"], poll=ExportPoll(first_s=0.1, cap_s=0.5, budget_s=20)))
    assert sorted(u["email"] for u in exported) == sorted(u["email"] for u in seeded)
    assert set(exported[0]) == {"user_id", "email"}
    assert served(auth0, "GET /api/v2/jobs/{id}") >= 2


def test_wrong_secret_is_auth_failed_without_the_secret(auth0):
    wrong = "wrong-m2m-secret-0451"
    client = Auth0Client.from_settings(auth0_settings(auth0, auth0_client_secret=wrong))
    with pytest.raises(AuthFailed) as caught:
        client.get_user("auth0|x")
    for text in (caught.value.message, str(caught.value), repr(caught.value.log_fields())):
        assert wrong not in text


def test_dry_run_sends_no_write(auth0):
    (user,) = seed(auth0, {"email": "kept@example.com", "connection": DB, "sessions": 1})
    client = Auth0Client.from_settings(auth0_settings(auth0, dry_run=True))
    for write in (lambda: client.delete_user(user["user_id"]), lambda: client.revoke_access(user["user_id"]),
                  lambda: client.update_user(user["user_id"], {"blocked": True})):
        with pytest.raises(DryRunBlocked):
            write()
    assert client.get_user(user["user_id"])["email"] == "kept@example.com"
    keys = auth0.stats()["requests"]
    assert not any(k.startswith(("DELETE", "PATCH")) for k in keys)
