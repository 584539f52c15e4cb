"""Auth0 emulator: Event Streams delivered to a real local webhook — payload, auth, retries, auto-disable, gaps."""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulators.auth0.testing import Auth0TestClient, user_path

EVENT_ID = re.compile(r"^evt_[A-Za-z0-9]{16}$")
STREAM_ID = re.compile(r"^est_[A-Za-z0-9]{16}$")
TOKEN = "Bearer webhook-token-0123456789"


class Receiver:
    """A webhook on loopback that records every POST and answers from a script (then 204)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts, self.script = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.posts.append({"headers": dict(self.headers), "body": body})
                    answer = receiver.script.pop(0) if receiver.script else 204
                if answer == "slow":  # answer late: the emulator's attempt times out, the event was still seen
                    time.sleep(1.5)
                    answer = 204
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth0-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, *statuses):
        """The next answers, in order; 204 after them."""
        with self.lock:
            self.script = list(statuses)

    def clear(self):
        with self.lock:
            self.posts, self.script = [], []

    def bodies(self):
        with self.lock:
            return [p["body"] for p in self.posts]


@pytest.fixture(scope="module")
def receiver():
    hook = Receiver()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def shared():
    client = Auth0TestClient(validate_spec=True)
    yield client
    assert client.control("GET", "violations") == []
    client.reset()


@pytest.fixture
def emu(shared, receiver):
    shared.reset()
    receiver.clear()
    shared.control("PATCH", "config", json={"stream_retry_s": 0.01})
    return shared


def add_stream(emu, receiver, **fields):
    body = {"url": receiver.url, "authorization": TOKEN, **fields}
    return emu.control("POST", "streams", json=body)


def flush(emu):
    assert emu.control("POST", "flush", json={"timeout_s": 30}) == {"pending": 0}


def deliveries(emu, stream):
    return emu.control("GET", f"streams/{stream['id']}")["deliveries"]


def test_created_updated_deleted_reach_the_webhook_as_cloudevents(emu, receiver):
    stream = add_stream(emu, receiver)
    assert STREAM_ID.match(stream["id"]) and stream["status"] == "enabled"
    user = emu.create_user("ev@example.com", app_metadata={"plan": "gold"})
    emu.api("PATCH", user_path(user["user_id"]), json={"blocked": True})
    emu.api("DELETE", user_path(user["user_id"]))
    flush(emu)
    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["user.created", "user.updated", "user.deleted"]
    assert all(p["headers"]["Authorization"] == TOKEN for p in receiver.posts)
    assert all(p["headers"]["Content-Type"] == "application/json" for p in receiver.posts)
    ids = [b["id"] for b in bodies]
    assert len(set(ids)) == 3 and all(EVENT_ID.match(i) for i in ids)
    for body in bodies:
        assert set(body) == {"specversion", "type", "source", "id", "time", "data", "a0tenant", "a0stream"}
        assert body["specversion"] == "1.0" and body["source"] == "urn:auth0:sandbox.eu.auth0.com"
        assert body["a0tenant"] == "sandbox" and body["a0stream"] == stream["id"]
        assert body["data"]["object"]["user_id"] == user["user_id"]
    created, updated, deleted = (b["data"]["object"] for b in bodies)
    assert created == user  # the user as the Management API answered it
    assert updated["blocked"] is True and "blocked" not in created
    assert deleted["blocked"] is True and deleted["deleted_at"] >= updated["updated_at"]
    assert [d["status"] for d in deliveries(emu, stream)] == ["delivered"] * 3


def test_only_subscribed_types_and_a_seeded_user_counts_as_a_sign_up(emu, receiver):
    add_stream(emu, receiver, events=["user.created"])
    [seeded] = emu.seed({"email": "signup@example.com", "connection": "google-oauth2"})
    emu.api("PATCH", user_path(seeded["user_id"]), json={"name": "Signed Up"})
    flush(emu)
    assert [(b["type"], b["data"]["object"]["user_id"]) for b in receiver.bodies()] == [
        ("user.created", seeded["user_id"])]
    signups = emu.api("GET", "/logs", query_string={"q": "type:ss"}).json
    assert [(e["user_id"], e["connection"], e["strategy"]) for e in signups] == [
        (seeded["user_id"], "google-oauth2", "google-oauth2")]


def test_a_5xx_is_retried_with_the_same_event_id(emu, receiver):
    stream = add_stream(emu, receiver)
    receiver.answer(500, 503)
    emu.create_user("retry@example.com")
    flush(emu)
    bodies = receiver.bodies()
    assert len(bodies) == 3 and len({b["id"] for b in bodies}) == 1  # at least once: one event, three tries
    [record] = deliveries(emu, stream)
    assert record["status"] == "delivered" and [a["status"] for a in record["attempts"]] == [500, 503, 204]
    assert emu.control("GET", f"streams/{stream['id']}")["failures_in_a_row"] == 0


def test_four_attempts_at_most_then_the_event_fails(emu, receiver):
    stream = add_stream(emu, receiver)
    receiver.answer(500, 500, 500, 500)
    emu.create_user("four@example.com")
    flush(emu)
    [record] = deliveries(emu, stream)
    assert record["status"] == "failed" and len(record["attempts"]) == 4 and len(receiver.posts) == 4
    view = emu.control("GET", f"streams/{stream['id']}")
    assert (view["status"], view["failures_in_a_row"], view["failures_total"]) == ("enabled", 1, 1)


def test_a_4xx_fails_at_once(emu, receiver):
    stream = add_stream(emu, receiver)
    receiver.answer(400)
    emu.create_user("bad@example.com")
    flush(emu)
    [record] = deliveries(emu, stream)
    assert record["status"] == "failed" and [a["status"] for a in record["attempts"]] == [400]
    assert len(receiver.posts) == 1


def test_a_timeout_is_retried_so_the_webhook_may_see_an_event_twice(emu, receiver):
    stream = add_stream(emu, receiver)
    emu.control("PATCH", "config", json={"stream_timeout_s": 0.3})
    receiver.answer("slow")
    emu.create_user("slow@example.com")
    flush(emu)
    [record] = deliveries(emu, stream)
    assert record["status"] == "delivered" and record["attempts"][0]["error"] == "ReadTimeout"
    bodies = receiver.bodies()
    assert len(bodies) == 2 and bodies[0]["id"] == bodies[1]["id"]  # consumers must deduplicate by id


def test_three_failed_events_in_a_row_disable_the_stream(emu, receiver):
    stream = add_stream(emu, receiver)
    receiver.answer(401, 401, 401)
    for n in range(3):
        emu.create_user(f"fail{n}@example.com")
        flush(emu)
    view = emu.control("GET", f"streams/{stream['id']}")
    assert view["status"] == "disabled" and view["disabled_reason"] == "3 consecutive failed events"
    assert view["failures_in_a_row"] == 3 and "disabled_at" in view
    emu.create_user("unsent@example.com")
    flush(emu)
    assert len(receiver.posts) == 3  # nothing goes to a disabled stream
    enabled = emu.control("PATCH", f"streams/{stream['id']}", json={"status": "enabled"})
    assert enabled["status"] == "enabled" and enabled["failures_in_a_row"] == 0 and "disabled_reason" not in enabled
    emu.create_user("back@example.com")
    flush(emu)
    assert receiver.bodies()[-1]["data"]["object"]["email"] == "back@example.com"


def test_a_success_resets_the_failure_run(emu, receiver):
    stream = add_stream(emu, receiver)
    receiver.answer(400, 400, 204, 400)
    for n in range(4):
        emu.create_user(f"run{n}@example.com")
        flush(emu)
    view = emu.control("GET", f"streams/{stream['id']}")
    assert view["status"] == "enabled" and (view["failures_in_a_row"], view["failures_total"]) == (1, 3)


def test_deliver_events_false_drops_events_as_a_gap(emu, receiver):
    stream = add_stream(emu, receiver)
    emu.control("PATCH", "config", json={"deliver_events": False})
    emu.create_user("lost@example.com")
    flush(emu)
    assert receiver.posts == [] and deliveries(emu, stream) == []
    assert emu.control("GET", f"streams/{stream['id']}")["dropped"] == 1
    emu.control("PATCH", "config", json={"deliver_events": True})
    emu.create_user("seen@example.com")
    flush(emu)
    assert [b["data"]["object"]["email"] for b in receiver.bodies()] == ["seen@example.com"]


def test_flush_waits_for_backoff_and_reports_what_is_left(emu, receiver):
    add_stream(emu, receiver)
    emu.control("PATCH", "config", json={"stream_retry_s": 0.2})
    receiver.answer(502, 502)
    emu.create_user("wait@example.com")
    flush(emu)  # 0.2 s + 0.4 s of backoff, no sleep in the test
    assert len(receiver.posts) == 3
    emu.control("PATCH", "config", json={"stream_retry_s": 30})
    receiver.answer(500)
    emu.create_user("later@example.com")
    late = emu.http.post("/_emulator/flush", json={"timeout_s": 0.5})
    assert late.status_code == 504 and late.json["pending"] == 1
    emu.reset()  # stops the retry and forgets the stream
    assert emu.control("POST", "flush", json={"timeout_s": 0}) == {"pending": 0}
    assert emu.control("GET", "streams") == []


def test_linking_updates_the_primary_and_deletes_the_secondary(emu, receiver):
    add_stream(emu, receiver, events=["user.updated", "user.deleted"])
    primary = emu.create_user("link@example.com")
    [secondary] = emu.seed({"email": "link@example.com", "connection": "google-oauth2"})
    provider, _, local = secondary["user_id"].partition("|")
    emu.api("POST", user_path(primary["user_id"], "/identities"), json={"provider": provider, "user_id": local})
    flush(emu)
    assert [(b["type"], b["data"]["object"]["user_id"]) for b in receiver.bodies()] == [
        ("user.updated", primary["user_id"]), ("user.deleted", secondary["user_id"])]


def test_deletion_is_logged_and_unknown_ids_emit_nothing(emu, receiver):
    add_stream(emu, receiver)
    user = emu.create_user("gone@example.com")
    emu.api("DELETE", user_path(user["user_id"]))
    emu.api("DELETE", user_path(user["user_id"]))  # 204 again, but nothing was deleted
    flush(emu)
    assert [b["type"] for b in receiver.bodies()] == ["user.created", "user.deleted"]
    [entry] = emu.api("GET", "/logs", query_string={"q": "type:sdu"}).json
    assert entry["user_id"] == user["user_id"] and entry["user_name"] == "gone@example.com"


def test_stream_control_refuses_bad_input_and_never_shows_the_token(emu, receiver):
    for bad in ({"url": "ftp://x"}, {"url": receiver.url, "authorization": "Token abc"},
                {"url": receiver.url, "events": ["user.exploded"]}, {"url": receiver.url, "events": []},
                {"url": receiver.url, "secret": 1}, ["not", "an", "object"]):
        assert emu.http.post("/_emulator/streams", json=bad).status_code == 400, bad
    stream = add_stream(emu, receiver, name="companion", events=["user.deleted"])
    listed = emu.control("GET", "streams")
    assert [s["id"] for s in listed] == [stream["id"]] and listed[0]["name"] == "companion"
    assert listed[0]["subscriptions"] == [{"event_type": "user.deleted"}]
    assert listed[0]["destination"] == {"type": "webhook", "configuration": {
        "webhook_endpoint": receiver.url, "webhook_authorization": {"method": "bearer"}}}
    assert "webhook-token" not in json.dumps(listed)
    assert emu.http.patch(f"/_emulator/streams/{stream['id']}", json={"status": "paused"}).status_code == 400
    assert emu.http.delete(f"/_emulator/streams/{stream['id']}").status_code == 204
    assert emu.http.delete(f"/_emulator/streams/{stream['id']}").status_code == 404
    assert emu.http.patch("/_emulator/config", json={"deliver_events": 1}).status_code == 400
    assert emu.http.patch("/_emulator/config", json={"stream_retry_s": True}).status_code == 400


def test_the_emulator_process_delivers_too(auth0, receiver):
    receiver.clear()
    auth0.configure(stream_retry_s=0.01)
    created = auth0.http.post(f"{auth0.url}/_emulator/streams", json={"url": receiver.url, "authorization": TOKEN},
                              timeout=10)
    assert created.status_code == 201
    receiver.answer(503)
    seeded = auth0.http.post(f"{auth0.url}/_emulator/users", json=[{"email": "proc@example.com"}], timeout=10)
    assert seeded.status_code == 201
    assert auth0.http.post(f"{auth0.url}/_emulator/flush", json={}, timeout=70).json() == {"pending": 0}
    bodies = receiver.bodies()
    assert len(bodies) == 2 and bodies[1]["data"]["object"]["email"] == "proc@example.com"
