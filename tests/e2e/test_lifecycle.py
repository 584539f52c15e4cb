"""End to end: Entra changes reach Auth0 through the companion under gunicorn and the sync worker."""
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
import yaml

from service import sandbox
from service.clients.auth0 import Auth0Client
from service.clients.graph import GraphClient
from service.settings import from_env
from tests.support.receivers import SlackReceiver, SmtpReceiver

DB_CONNECTION = "Username-Password-Authentication"


class SyncStack:
    """Companion (gunicorn) + worker + an Entra admin client, on one database and queue."""

    def __init__(self, graph, auth0, database_url, work_dir, queue_url=None, mapping=None, **env):
        self.graph_emu, self.auth0_emu, self.work_dir = graph, auth0, str(work_dir)
        config = os.path.join(self.work_dir, "sync.yaml")
        with open(config, "w", encoding="utf-8") as fh:
            yaml.safe_dump(mapping or {"connection": DB_CONNECTION}, fh)
        self.env = {**sandbox.companion_env(graph, auth0, database_url, queue_url=queue_url),
                    "SYNC_CONFIG": config, "ADMIN_API_KEY": "admin-key-" + "x" * 20, **env}
        self.web, self.url = sandbox.start_companion(self.env, self.work_dir)
        self.env["COMPANION_PUBLIC_URL"] = self.url
        self.worker = None
        settings = from_env(self.env)
        self.entra, self.auth0 = GraphClient.from_settings(settings), Auth0Client.from_settings(settings)

    def start_worker(self):
        """Start `python -m service worker` (re-drives unfinished events after 2 s)."""
        self.worker = sandbox.Proc([sys.executable, "-m", "service", "worker", "--redrive-after", "2"],
                                   env=self.env, log_path=os.path.join(self.work_dir, "worker.log"))
        return self

    def cli(self, *args):
        """Run `python -m service …` with the stack's environment."""
        done = subprocess.run([sys.executable, "-m", "service", *args], env={**os.environ, **self.env},
                              cwd=sandbox.ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self):
        for proc in (self.worker, self.web):
            if proc:
                proc.stop()

    def user(self, name):
        upn = f"{name}.{secrets.token_hex(3)}@contoso.onmicrosoft.com"
        return self.entra.create_user({
            "accountEnabled": True, "displayName": name.title(), "mailNickname": upn.split("@")[0],
            "userPrincipalName": upn, "mail": upn, "usageLocation": "GB",
            "passwordProfile": {"password": "Sandbox-" + secrets.token_urlsafe(16) + "9!"}})

    def auth0_user(self, email):
        found = [u for u in self.auth0_emu.state()["users"] if u.get("email") == email]
        return found[0] if found else None

    def wait(self, check, timeout=30, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"{what} not reached in {timeout}s\nworker log:\n"
                             f"{self.worker.output()[-3000:] if self.worker else ''}")

    def audit(self, who):
        import json
        return [json.loads(line) for line in self.cli("audit", who).splitlines() if line.strip()]


@pytest.fixture
def make_stack(graph, auth0, tmp_path):
    stacks = []

    def make(database_url=None, **kw):
        stack = SyncStack(graph, auth0, database_url or f"sqlite:///{tmp_path}/c.db", tmp_path, **kw)
        stacks.append(stack)
        return stack
    yield make
    for s in stacks:
        s.stop()


def _offboarding_round_trip(stack):
    alice = stack.user("alice")
    stack.wait(lambda: stack.auth0_user(alice["mail"]), what="Auth0 user created")
    stack.entra.update_user(alice["id"], {"accountEnabled": False})
    # the block and the revocation are two Auth0 writes, block first: wait for both, not the first alone
    user = stack.wait(lambda: _blocked_and_revoked(stack, alice["mail"]), what="blocked with access revoked")
    return alice, user


def _blocked_and_revoked(stack, email):
    """The Auth0 user once it is blocked and both its sessions and refresh tokens are revoked, else None."""
    user = stack.auth0_user(email) or {}
    revoked = {c for r in stack.auth0_emu.state()["revocations"] if r["user_id"] == user.get("user_id") for c in r["covers"]}
    return user if user.get("blocked") and revoked == {"sessions", "refresh_tokens"} else None


def test_webhook_path_blocks_a_disabled_user_with_sessions_revoked(make_stack, graph):
    stack = make_stack(SYNC_EVENTS="webhook").start_worker()
    stack.cli("sync", "ensure_subscriptions")
    stack.wait(lambda: len(graph.state()["subscriptions"]) == 2, what="subscriptions created")
    _offboarding_round_trip(stack)


def test_delta_path_blocks_a_disabled_user_with_sessions_revoked(make_stack):
    stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1").start_worker()
    _offboarding_round_trip(stack)


def test_duplicate_reordered_and_forged_notifications_change_nothing_wrongly(make_stack, graph):
    from service.sync.subscriptions import client_state
    stack = make_stack(SYNC_EVENTS="webhook").start_worker()
    stack.cli("sync", "ensure_subscriptions")  # queued for the worker: a user made before it runs is never notified
    stack.wait(lambda: len(graph.state()["subscriptions"]) >= 2, what="subscriptions created")
    alice, user = _offboarding_round_trip(stack)
    genuine = client_state(from_env(stack.env))
    note = {"changeType": "updated", "resource": f"Users/{alice['id']}", "clientState": genuine,
            "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": alice["id"]}}
    http = stack.entra.session
    for body in ({"value": [note, note]}, {"value": [note]},  # duplicates, and a late (reordered) copy
                 {"value": [dict(note, clientState="forged")]}):
        assert http.post(f"{stack.url}/v1/events/graph", json=body, timeout=10).status_code == 202
    time.sleep(3)
    assert stack.auth0_user(alice["mail"])["blocked"] is True
    blocks = [a for a in stack.audit(user["user_id"]) if a["action"] == "auth0.user.blocked"]
    assert len(blocks) == 1
    forged = http.post(f"{stack.url}/v1/events/graph", timeout=10,
                       json={"value": [dict(note, clientState="forged", resource="Users/someone-else")]})
    assert forged.status_code == 202 and "someone-else" not in stack.cli("events", "--status", "done")


def test_profile_change_lands_in_app_metadata_through_the_worker(make_stack):
    stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1").start_worker()
    fay = stack.user("fay")
    stack.wait(lambda: stack.auth0_user(fay["mail"]), what="Auth0 user created")
    stack.entra.update_user(fay["id"], {"jobTitle": "Auditor", "department": "Risk"})
    meta = stack.wait(lambda: ((stack.auth0_user(fay["mail"]) or {}).get("app_metadata", {})
                               .get("entra", {}).get("jobTitle") == "Auditor") and stack.auth0_user(fay["mail"]),
                      what="profile synced")
    assert meta["app_metadata"]["entra"]["department"] == "Risk"


def test_admin_api_lists_audit_and_events_behind_its_key(make_stack):
    stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1").start_worker()
    gus = stack.user("gus")
    user = stack.wait(lambda: stack.auth0_user(gus["mail"]), what="Auth0 user created")
    http = stack.entra.session
    assert http.get(f"{stack.url}/v1/admin/audit", params={"user": gus["id"]}, timeout=10).status_code == 401
    auth = {"Authorization": "Bearer " + stack.env["ADMIN_API_KEY"]}
    # the audit row commits with the worker's event, a moment after the Auth0 user appears
    rows = stack.wait(lambda: http.get(f"{stack.url}/v1/admin/audit", params={"user": user["user_id"]},
                                       headers=auth, timeout=10).json()["audit"], what="audit row written")
    assert "auth0.user.created" in [r["action"] for r in rows]
    assert http.get(f"{stack.url}/v1/admin/events", params={"status": "done"}, headers=auth,
                    timeout=10).json()["events"]


def test_redis_queue_and_postgres_store(make_stack):
    from tests.support.databases import PgSchema
    schema = PgSchema()
    try:
        stack = make_stack(database_url=schema.url, queue_url=_redis_url(), SYNC_EVENTS="delta",
                           SYNC_DELTA_INTERVAL_S="1").start_worker()
        _offboarding_round_trip(stack)
        stack.stop()
    finally:
        schema.drop()


def _redis_url():
    """Redis db 15, emptied; start the machine's Redis if it is down."""
    import redis
    client = redis.Redis(host="127.0.0.1", port=6379, db=15)
    try:
        client.ping()
    except redis.ConnectionError:
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                        "--save", "", "--appendonly", "no"], check=False, capture_output=True)
        time.sleep(0.5)
        try:
            client.ping()
        except redis.ConnectionError:
            pytest.skip("Redis is not installed on this machine and could not be started")
    client.flushdb()
    return "redis://127.0.0.1:6379/15"


def test_group_change_moves_roles_through_the_worker(make_stack, graph):
    resp = graph.http.post(f"{graph.url}/_emulator/groups", json={"displayName": "Staff", "members": []})
    staff = resp.json()
    stack = make_stack(mapping={"connection": DB_CONNECTION, "roles": {staff["id"]: ["Staff"]}},
                       SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1").start_worker()
    bob = stack.user("bob")
    user = stack.wait(lambda: stack.auth0_user(bob["mail"]), what="Auth0 user created")
    stack.entra._request("POST", f"/groups/{staff['id']}/members/$ref",
                         json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{bob['id']}"})
    stack.wait(lambda: [r for r in stack.auth0.user_roles(user["user_id"]) if r["name"] == "Staff"],
               what="Staff role assigned")


def test_high_risk_user_is_locked_out_and_alerts_arrive(make_stack, graph):
    slack, smtp = SlackReceiver(), SmtpReceiver()
    try:
        stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1", RISK_POLL_INTERVAL_S="1",
                           SLACK_WEBHOOK_URL=slack.url, SMTP_URL=smtp.url, ALERT_EMAIL_TO="soc@example.com")
        stack.start_worker()
        eve = stack.user("eve")
        user = stack.wait(lambda: stack.auth0_user(eve["mail"]), what="Auth0 user created")
        graph.http.post(f"{graph.url}/_emulator/risk", json={"userId": eve["id"], "riskLevel": "high",
                                                             "riskState": "atRisk"}).raise_for_status()
        stack.wait(lambda: (stack.auth0_user(eve["mail"]) or {}).get("blocked"), what="risky user blocked")
        stack.wait(lambda: slack.messages and smtp.messages, what="alerts delivered")
        assert eve["userPrincipalName"] in slack.messages[0]["text"]
        assert "soc@example.com" in smtp.messages[0]["to"] and "Risky user" in smtp.messages[0]["data"]
        assert graph.stats()["requests"].get("POST /v1.0/users/{id}/revokeSignInSessions", 0) >= 1
        assert any(a["action"] == "auth0.user.blocked" for a in stack.audit(user["user_id"]))
    finally:
        slack.stop()
        smtp.stop()


def test_worker_killed_mid_job_completes_the_job_once_after_restart(make_stack, graph):
    # no scheduled rounds: the only events are the ones this test queues
    stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="0", RISK_POLL_INTERVAL_S="0").start_worker()
    carl = stack.user("carl")
    stack.cli("sync", "user", carl["id"])
    user = stack.wait(lambda: stack.auth0_user(carl["mail"]), what="Auth0 user created")
    stack.entra.update_user(carl["id"], {"accountEnabled": False})
    graph.add_faults({"method": "GET", "path": f"^/v1.0/users/{carl['id']}$", "kind": "timeout",
                      "seconds": 8, "count": 1})
    stack.cli("sync", "user", carl["id"])
    faults = lambda: graph.http.get(f"{graph.url}/_emulator/faults").json()  # noqa: E731
    stack.wait(lambda: all(f.get("remaining") == 0 for f in _fault_list(faults())), what="job held mid-call")
    os.killpg(stack.worker.popen.pid, signal.SIGKILL)
    stack.worker.popen.wait(10)
    assert not (stack.auth0_user(carl["mail"]) or {}).get("blocked")
    stack.start_worker()
    stack.wait(lambda: (stack.auth0_user(carl["mail"]) or {}).get("blocked"), what="blocked after restart")
    time.sleep(3)  # any duplicate would run now
    blocks = [a for a in stack.audit(user["user_id"]) if a["action"] == "auth0.user.blocked"]
    assert len(blocks) == 1


def _fault_list(answer):
    return answer.get("faults", answer) if isinstance(answer, dict) else answer


def test_failed_events_are_listed_and_can_be_re_driven(make_stack, graph):
    stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="0", RISK_POLL_INTERVAL_S="0").start_worker()
    graph.add_faults({"method": "GET", "path": "^/v1.0/users/not-a-real-id", "kind": "status", "status": 400})
    stack.cli("sync", "user", "not-a-real-id")
    stack.wait(lambda: "not-a-real-id" in stack.cli("events", "--status", "failed"), what="failed event listed")
    line = stack.cli("events", "--status", "failed").splitlines()[0]
    import json
    event = json.loads(line)
    assert event["last_error"] and event["kind"] == "user"
    stack.cli("events", "--requeue", str(event["id"]))
    stack.wait(lambda: json.loads(stack.cli("events", "--status", "failed").splitlines()[0])["attempts"] >= 1,
               what="re-driven")
