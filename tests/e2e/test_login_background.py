"""End to end: requests never wait on Graph; the background driver finishes what they start."""
import os
import signal
import sys
import time

from service import links, sandbox
from service.db import Store
from tests.e2e.test_office365_login import _user

AUTH0_TRIGGER_BUDGET_S = 20  # Auth0 gives a whole post-login trigger 20 s (facts/actions.md)


def test_inline_answers_pending_within_its_budget_under_retry_after_30(sqlite_stack):
    sqlite_stack.graph.add_faults({"method": "POST", "path": "^/v1.0/users$", "kind": "status", "status": 429,
                                   "retry_after": 30, "count": 1})
    started = time.monotonic()
    resp = sqlite_stack.provision(_user("throttled"))
    took = time.monotonic() - started
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    assert took < AUTH0_TRIGGER_BUDGET_S / 2  # the retry sleeps in the background, not in this answer
    again = sqlite_stack.http.get(resp.json()["status_url"], headers=sqlite_stack.bearer(_user("throttled")["user_id"]),
                                  timeout=30)
    assert again.status_code == 202  # still pending (waiting out Retry-After), not failed


def test_async_pre_provisioning_finishes_during_lag_with_no_one_asking(sqlite_stack):
    sqlite_stack.graph.configure(replication_lag_s=2.0)
    user = _user("prepro")
    assert sqlite_stack.provision(user, mode="async").status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # no status poll, no login: only the driver works on it
        entra = sqlite_stack.entra_users()
        if entra and entra[0]["assignedLicenses"]:
            break
        time.sleep(0.5)
    (entra,) = sqlite_stack.entra_users()
    assert [lic["skuId"] for lic in entra["assignedLicenses"]] == [sandbox.SKU_ID]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = sqlite_stack.http.get(f"{sqlite_stack.url}/v1/o365/provision/{user['user_id']}",
                                      headers=sqlite_stack.bearer(user["user_id"]), timeout=30)
        if ready.status_code == 200:
            break
        time.sleep(0.5)
    assert ready.json()["object_id"] == entra["id"]


def test_the_worker_finishes_what_a_dead_web_process_started(sqlite_stack, tmp_path):
    """An async pre-provisioning accepted, then every web process killed: the worker's poller finishes it."""
    sqlite_stack.graph.configure(replication_lag_s=2.0)
    user = _user("orphan")
    assert sqlite_stack.provision(user, mode="async").status_code == 202
    os.killpg(sqlite_stack.proc.popen.pid, signal.SIGKILL)  # no web process is left to drive it
    sqlite_stack.proc.popen.wait(10)
    env = {**sqlite_stack.env, "SYNC_EVENTS": "delta", "SYNC_DELTA_INTERVAL_S": "0", "RISK_POLL_INTERVAL_S": "0"}
    worker = sandbox.Proc([sys.executable, "-m", "service", "worker"], env=env,
                          log_path=os.path.join(str(tmp_path), "worker.log"))
    try:
        store, deadline = Store(sqlite_stack.database_url), time.monotonic() + 90
        while time.monotonic() < deadline and (links.get(store, user["user_id"]).state != "ready"):
            time.sleep(0.5)
        assert links.get(store, user["user_id"]).state == "ready", worker.output()[-2000:]
    finally:
        worker.stop()
    (entra,) = sqlite_stack.entra_users()
    assert [lic["skuId"] for lic in entra["assignedLicenses"]] == [sandbox.SKU_ID]
