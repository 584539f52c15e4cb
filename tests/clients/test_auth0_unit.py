"""Auth0Client against a scripted local server: token cache, retries, paging, dry run, export stream."""
import gzip
import json
import time

import pytest

from service.clients.auth0 import Auth0Client
from service.clients.auth0_export import ExportPoll
from service.errors import AuthFailed, Conflict, DryRunBlocked, NotFound, Throttled, Transient

USER = {"user_id": "auth0|abc", "email": "a@example.com"}


def test_token_is_cached_until_shortly_before_expiry(server, auth0_client, clock):
    server.add("GET", "/api/v2/users/auth0|abc", (200, USER))
    auth0_client.get_user("auth0|abc")
    auth0_client.get_user("auth0|abc")
    assert len(server.calls("POST", "/oauth/token")) == 1
    token_req = server.calls("POST", "/oauth/token")[0].json
    assert token_req["grant_type"] == "client_credentials"
    assert token_req["audience"] == "https://tenant.example.auth0.com/api/v2/"
    clock.now += 86400 - 61
    auth0_client.get_user("auth0|abc")
    assert len(server.calls("POST", "/oauth/token")) == 1
    clock.now += 2  # inside the 60 s refresh margin
    auth0_client.get_user("auth0|abc")
    assert len(server.calls("POST", "/oauth/token")) == 2
    assert server.calls("GET")[0].headers["Authorization"] == "Bearer m2m-token"


def test_user_ids_are_url_encoded(server, auth0_client):
    server.add("GET", "/api/v2/users/auth0|abc", (200, USER))
    auth0_client.get_user("auth0|abc")
    assert server.calls("GET")[0].raw_uri == "/api/v2/users/auth0%7Cabc"


def test_401_refreshes_the_token_once(server, auth0_client):
    server.add("GET", "/api/v2/users/auth0|abc", (401, {"statusCode": 401, "error": "Unauthorized",
                                                        "message": "Expired token"}), (200, USER))
    assert auth0_client.get_user("auth0|abc") == USER
    assert len(server.calls("POST", "/oauth/token")) == 2


def test_401_twice_is_auth_failed(server, auth0_client, sleeps):
    server.add("GET", "/api/v2/users/x", (401, {"statusCode": 401, "error": "Unauthorized", "message": "no"}))
    with pytest.raises(AuthFailed):
        auth0_client.get_user("x")
    assert len(server.calls("GET")) == 2 and sleeps == []


def test_wrong_client_secret_is_auth_failed_without_the_secret(server, sleeps, clock):
    server.add("POST", "/oauth/token", (401, {"error": "access_denied", "error_description": "Unauthorized"}))
    client = Auth0Client(domain="t.auth0.com", client_id="cid", client_secret="wrong-s3cret",
                         base_url=server.url, sleep=sleeps.append, clock=clock)
    with pytest.raises(AuthFailed) as caught:
        client.get_user("x")
    assert "wrong-s3cret" not in str(caught.value) and caught.value.code == "access_denied"
    assert server.calls("GET") == []


def test_429_waits_for_ratelimit_reset(server, auth0_client, sleeps):
    reset = int(time.time()) + 5
    server.add("GET", "/api/v2/users/x", (429, {"statusCode": 429, "error": "Too Many Requests",
                                               "message": "Global limit has been reached"},
                                         {"x-ratelimit-reset": str(reset), "x-ratelimit-remaining": "0"}),
               (200, USER))
    before = time.time()
    assert auth0_client.get_user("x") == USER
    assert len(sleeps) == 1 and reset - before - 0.5 <= sleeps[0] <= (reset - before) * 1.1 + 0.1


def test_an_empty_bucket_holds_the_next_call_until_its_reset(server, auth0_client, sleeps):
    """The answer that spent the last token says so: the next call waits for the refill instead of
    going out to a 429 (at most a second: a reset further off is clock skew)."""
    near = int(time.time()) + 2  # 1-2 s ahead: still ahead when the third call goes out on a slow machine
    server.add("GET", "/api/v2/users/x", (200, USER, {"x-ratelimit-remaining": "7", "x-ratelimit-reset": str(near)}),
               (200, USER, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(near)}),
               (200, USER, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(near + 60)}), (200, USER))
    auth0_client.get_user("x")
    auth0_client.get_user("x")
    assert sleeps == []  # tokens were left after the first answer
    before = time.time()
    auth0_client.get_user("x")
    assert len(sleeps) == 1 and 0 < sleeps[0] <= min(1.0, near - before + 0.1)
    auth0_client.get_user("x")
    assert len(sleeps) == 2 and sleeps[1] == 1.0
    assert len(server.calls("GET")) == 4


def test_429_persisting_becomes_throttled(server, auth0_client, sleeps):
    server.add("GET", "/api/v2/users/x", (429, {"statusCode": 429, "error": "Too Many Requests",
                                               "message": "slow down"}, {"Retry-After": "1"}))
    with pytest.raises(Throttled) as caught:
        auth0_client.get_user("x")
    assert caught.value.retry_after == 1.0 and len(sleeps) == 4


def test_5xx_retried_and_409_404_not(server, auth0_client, sleeps):
    server.add("POST", "/api/v2/users",
               (503, {"statusCode": 503, "error": "Service Unavailable", "message": "x"}),
               (409, {"statusCode": 409, "error": "Conflict", "message": "The user already exists.",
                      "errorCode": "auth0_idp_error"}))
    with pytest.raises(Conflict) as caught:
        auth0_client.create_user({"connection": "db", "email": "a@b.c", "password": "x"})
    assert caught.value.code == "auth0_idp_error" and len(server.calls("POST", "/api/v2/users")) == 2
    server.add("DELETE", "/api/v2/users/nobody",
               (404, {"statusCode": 404, "error": "Not Found", "message": "The user does not exist."}))
    with pytest.raises(NotFound):
        auth0_client.delete_user("nobody")
    assert len(sleeps) == 1


def test_connection_refused_is_transient(sleeps, clock):
    client = Auth0Client(domain="t.auth0.com", client_id="c", client_secret="s",
                         base_url="http://127.0.0.1:9", sleep=sleeps.append, clock=clock)
    with pytest.raises(Transient):
        client.get_user("x")
    assert len(sleeps) == 4


def test_roles_are_paged_and_assigned(server, auth0_client):
    roles = [{"id": f"rol_{i}", "name": f"r{i}"} for i in range(230)]

    def page(rec):
        start = int(rec.args["page"]) * int(rec.args["per_page"])
        chunk = roles[start:start + int(rec.args["per_page"])]
        return 200, {"roles": chunk, "start": start, "limit": 100, "total": len(roles)}
    server.add("GET", "/api/v2/roles", page)
    assert auth0_client.list_roles(name_filter="r") == roles
    assert [c.args["page"] for c in server.calls("GET")] == ["0", "1", "2"]
    assert server.calls("GET")[0].args["name_filter"] == "r"
    server.add("POST", "/api/v2/users/auth0|abc/roles", (204, None))
    server.add("DELETE", "/api/v2/users/auth0|abc/roles", (204, None))
    auth0_client.assign_roles("auth0|abc", ["rol_1"])
    auth0_client.remove_roles("auth0|abc", ["rol_2"])
    auth0_client.assign_roles("auth0|abc", [])
    assert server.calls("POST", "/api/v2/users/auth0|abc/roles")[0].json == {"roles": ["rol_1"]}
    assert server.calls("DELETE")[0].json == {"roles": ["rol_2"]}


def test_search_stops_at_the_1000_cap(server, auth0_client):
    def page(rec):
        return 200, {"users": [{"user_id": f"{rec.args['page']}-{i}"} for i in range(100)],
                     "start": 0, "limit": 100, "total": 5000}
    server.add("GET", "/api/v2/users", page)
    found = list(auth0_client.search_users('email:"x"'))
    assert len(found) == 1000 and len(server.calls("GET")) == 10
    assert server.calls("GET")[0].args["search_engine"] == "v3"


def test_dry_run_blocks_writes_but_not_exports(server, sleeps, clock):
    server.add("POST", "/oauth/token", (200, {"access_token": "t", "expires_in": 86400}))
    server.add("POST", "/api/v2/jobs/users-exports", (201, {"id": "job_1", "status": "pending"}))
    client = Auth0Client(domain="t.auth0.com", client_id="c", client_secret="s", base_url=server.url,
                         sleep=sleeps.append, clock=clock, dry_run=True)
    for write in (lambda: client.delete_user("u"), lambda: client.update_user("u", {}),
                  lambda: client.assign_roles("u", ["r"]), lambda: client.revoke_access("u"),
                  lambda: client.create_user({})):
        with pytest.raises(DryRunBlocked):
            write()
    assert server.calls() == []
    assert client.start_users_export(fields=["user_id", {"name": "email"}])["id"] == "job_1"
    assert server.calls("POST", "/api/v2/jobs/users-exports")[0].json == {
        "format": "json", "fields": [{"name": "user_id"}, {"name": "email"}]}


def test_export_polls_with_backoff_and_streams_gzip_ndjson(server, auth0_client, sleeps):
    users = [{"user_id": f"auth0|{i}", "email": f"u{i}@x.com"} for i in range(500)]
    blob = gzip.compress("".join(json.dumps(u) + "\n" for u in users).encode())
    location = f"{server.url}/exports/job_1.json.gz"
    server.add("GET", "/api/v2/jobs/job_1", (200, {"id": "job_1", "status": "pending"}),
               (200, {"id": "job_1", "status": "processing"}), (200, {"id": "job_1", "status": "processing"}),
               (200, {"id": "job_1", "status": "completed", "location": location}))
    server.add("GET", "/exports/job_1.json.gz", (200, blob, {"Content-Type": "application/gzip"}))
    stream = auth0_client.iter_export("job_1", poll=ExportPoll(first_s=1, factor=2, cap_s=3))
    assert server.calls() == []  # lazy: nothing happens before iteration
    assert list(stream) == users
    assert sleeps == [1, 2, 3]
    assert "Authorization" not in server.calls("GET", "/exports/job_1.json.gz")[0].headers


def test_export_job_failure_and_budget(server, auth0_client, sleeps):
    server.add("GET", "/api/v2/jobs/bad", (200, {"id": "bad", "status": "failed"}))
    with pytest.raises(Transient):
        list(auth0_client.iter_export("bad"))
    server.add("GET", "/api/v2/jobs/slow", (200, {"id": "slow", "status": "pending"}))
    with pytest.raises(Transient):
        list(auth0_client.iter_export("slow", poll=ExportPoll(first_s=1, cap_s=4, budget_s=10)))
    assert sleeps == [1, 2, 4]


# mtime=0 and explicit ids: the parameters must be identical in every pytest-xdist worker's collection.
@pytest.mark.parametrize("body, headers", [
    (b'{"user_id": "a"}\n\n{"user_id": "b"}\n', {}),
    (gzip.compress(b'{"user_id": "a"}\n{"user_id": "b"}', mtime=0), {"Content-Encoding": "gzip"}),
    (gzip.compress(gzip.compress(b'{"user_id": "a"}\n{"user_id": "b"}\n', mtime=0), mtime=0),
     {"Content-Encoding": "gzip"}),
], ids=["plain-ndjson", "gzip-transfer-encoded", "gzip-file-also-transfer-encoded"])
def test_export_file_encodings(server, auth0_client, body, headers):
    server.add("GET", "/api/v2/jobs/j", (200, {"id": "j", "status": "completed",
                                              "location": f"{server.url}/f"}))
    server.add("GET", "/f", (200, body, headers))
    assert [u["user_id"] for u in auth0_client.iter_export("j")] == ["a", "b"]


def test_expired_export_link_is_transient(server, auth0_client):
    server.add("GET", "/api/v2/jobs/j", (200, {"id": "j", "status": "completed", "location": f"{server.url}/f"}))
    server.add("GET", "/f", (403, b"<Error><Code>AccessDenied</Code></Error>"))
    with pytest.raises(Transient) as caught:
        list(auth0_client.iter_export("j"))
    assert caught.value.code == "export_download_failed"


def test_concurrent_callers_share_one_token_fetch(server, auth0_client):
    from concurrent.futures import ThreadPoolExecutor
    server.add("GET", "/api/v2/users/u", (200, USER))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: auth0_client.get_user("u"), range(16)))
    assert results == [USER] * 16
    assert len(server.calls("POST", "/oauth/token")) == 1
