"""Every entry point (web under gunicorn, worker, CLI) logs JSON lines and reports bad settings in one line each."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from service import sandbox
from tests.support.env import companion_env

GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
ENTRY_POINTS = {
    "gunicorn": [GUNICORN, "-c", "gunicorn.conf.py", "service:create_app()"],
    "web": [sys.executable, "-m", "service", "web"],
    "worker": [sys.executable, "-m", "service", "worker"],
    "cli": [sys.executable, "-m", "service", "migrate"],
}
BAD = {"DRY_RUN": "maybe", "QUEUE_URL": "amqp://x", "DATABASE_URL": "mysql://admin:hunter2-pw@db/x"}


def _json_lines(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_bad_settings_give_one_json_line_each_and_no_traceback(entry, graph, auth0, tmp_path):
    env = {**companion_env(graph, auth0, f"sqlite:///{tmp_path}/c.db"), **BAD, "BIND": f"127.0.0.1:{sandbox.free_port()}"}
    done = subprocess.run(ENTRY_POINTS[entry], cwd=sandbox.ROOT, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output, output
    problems = [line for line in _json_lines(output) if line["logger"] == "companion.config"]
    assert sorted(p["variable"] for p in problems) == sorted(BAD), output
    assert all(p["level"] == "ERROR" and " is malformed: expected " in p["msg"] for p in problems)
    assert "hunter2-pw" not in output and not os.path.exists(tmp_path / "x")


def test_the_web_command_refuses_bad_gunicorn_counts_in_one_line_each(graph, auth0, tmp_path):
    env = {**companion_env(graph, auth0, f"sqlite:///{tmp_path}/c.db"), "WEB_CONCURRENCY": "two",
           "GUNICORN_THREADS": "0"}
    done = subprocess.run(ENTRY_POINTS["web"], cwd=sandbox.ROOT, env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in output, output
    problems = [line for line in _json_lines(output) if line["logger"] == "companion.config"]
    assert sorted(p["variable"] for p in problems) == ["GUNICORN_THREADS", "WEB_CONCURRENCY"], output


def test_the_web_command_serves_under_gunicorn(graph, auth0, tmp_path):
    port = sandbox.free_port()
    env = {**companion_env(graph, auth0, f"sqlite:///{tmp_path}/c.db"), "BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2"}
    proc = subprocess.Popen(ENTRY_POINTS["web"], cwd=sandbox.ROOT, env={"PATH": os.environ["PATH"], **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 30, None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "Starting gunicorn" in output and "Traceback" not in output


def test_the_worker_logs_a_start_line_and_one_line_per_event(graph, auth0, tmp_path):
    env = companion_env(graph, auth0, f"sqlite:///{tmp_path}/w.db", SYNC_EVENTS="delta",
                        SYNC_DELTA_INTERVAL_S="1", RISK_POLL_INTERVAL_S="0", RECONCILE_INTERVAL_S="0")
    worker = sandbox.Proc([sys.executable, "-m", "service", "worker", "--threads", "2"], env=env,
                          log_path=str(tmp_path / "worker.log"))
    try:
        lines = _wait_for(worker, lambda ls: sum(1 for x in ls if x["msg"] == "sync event") >= 4)
    finally:
        worker.stop()
    start = next(x for x in lines if x["msg"] == "worker started")
    assert start["threads"] == 2 and start["dry_run"] is False and start["queue"].startswith("sqlite://")
    assert start["auth0_domain"] == sandbox.AUTH0_DOMAIN and start["schedule"]["users_delta"] == 1.0
    events = [x for x in lines if x["msg"] == "sync event"]
    assert {e["kind"] for e in events} >= {"users_delta", "groups_delta"}
    assert all(e["outcome"] and isinstance(e["ms"], float) and e["event_id"] for e in events)
    text = worker.output()
    for secret in (sandbox.COMPANION_SECRET, sandbox.AUTH0_CLIENT_SECRET, sandbox.GRAPH_CLIENT_SECRET):
        assert secret not in text


def _wait_for(proc, enough, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _json_lines(proc.output())
        if enough(lines):
            return lines
        assert proc.popen.poll() is None, proc.output()[-3000:]
        time.sleep(0.3)
    raise AssertionError(f"worker output after {timeout}s:\n{proc.output()[-3000:]}")


def test_web_and_cli_write_only_json_lines_when_all_is_well(graph, auth0, tmp_path):
    env = companion_env(graph, auth0, f"sqlite:///{tmp_path}/ok.db")
    migrate = subprocess.run([sys.executable, "-m", "service", "migrate"], cwd=sandbox.ROOT, capture_output=True,
                             text=True, timeout=60, env={"PATH": os.environ["PATH"], **env})
    assert migrate.returncode == 0 and migrate.stdout.strip() == "database is up to date"
    assert any(line["logger"].startswith("alembic") for line in _json_lines(migrate.stderr))
    proc, url = sandbox.start_companion(env, str(tmp_path), workers=1, threads=2)
    try:
        sandbox.wait_until_up(f"{url}/healthz")
    finally:
        proc.stop()
    lines = _json_lines(proc.output())
    assert any(x["logger"] == "gunicorn.error" and x["msg"].startswith("Starting gunicorn") for x in lines)
    assert any(x["logger"] == "companion.access" and x["path"] == "/healthz" for x in lines)
