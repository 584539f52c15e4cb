"""`make sandbox` / `make demo`: own folders, clean stop on SIGTERM, a useful banner, no orphans after a login."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from service import demo, sandbox


def _descendants(pid):
    """Every live process below pid (emulators, gunicorn master and its workers)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return str(pid)


def _wait_for_banner(proc, timeout=90):
    deadline = time.monotonic() + timeout
    while "Logs:" not in proc.output():
        assert proc.popen.poll() is None and time.monotonic() < deadline, proc.output()[-3000:]
        time.sleep(0.2)
    return dict(line.strip().split("=", 1) for line in proc.output().splitlines()
                if line.startswith("  ") and "=" in line and line.strip().split("=", 1)[0].isupper())


def test_the_sandbox_shows_its_settings_refuses_a_second_user_of_its_folder_and_stops_cleanly_on_sigterm(tmp_path):
    assert demo.DEMO_DIR != demo.SANDBOX_DIR  # `make demo` never starts in the folder of `make sandbox`
    folder, port = str(tmp_path / "sandbox"), sandbox.free_port()
    box = sandbox.Proc([sys.executable, "-m", "service", "sandbox", "--port", str(port), "--dir", folder],
                       log_path=str(tmp_path / "banner.txt"))
    try:
        env = _wait_for_banner(box)
        assert env["AUTH0_CLIENT_SECRET"] == sandbox.AUTH0_CLIENT_SECRET
        assert env["ENTRA_CLIENT_SECRET"] == sandbox.GRAPH_CLIENT_SECRET and env["COMPANION_SECRET"]
        assert f"{folder}/companion-{port}.log" in box.output()
        events = requests.get(f"http://127.0.0.1:{port}/v1/admin/events", timeout=30,
                              headers={"Authorization": f"Bearer {env['ADMIN_API_KEY']}"})
        assert events.status_code == 200, events.text
        with open(os.path.join(sandbox.ROOT, "README.md"), encoding="utf-8") as fh:
            assert f"`{env['ADMIN_API_KEY']}`" in fh.read()  # the sandbox table states the key the banner shows

        before = sorted(os.listdir(folder))
        second = subprocess.run([sys.executable, "-m", "service", "sandbox", "--port", str(sandbox.free_port()),
                                 "--dir", folder], capture_output=True, text=True, timeout=60, cwd=sandbox.ROOT)
        assert second.returncode != 0 and "refused" in second.stderr and "in use" in second.stderr
        assert sorted(os.listdir(folder)) == before and os.path.exists(os.path.join(folder, "companion.db"))
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200

        children = _descendants(box.popen.pid)
        assert len(children) >= 4  # two emulators, the gunicorn master and at least one worker
        box.popen.send_signal(signal.SIGTERM)
        assert box.popen.wait(60) == 0
        deadline = time.monotonic() + 15
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)]
    finally:
        box.stop()


def test_a_login_played_in_the_sandbox_makes_the_auth0_user_so_reconcile_finds_no_orphan(tmp_path):
    with demo.running(0.0, log=lambda _text: None, work_dir=str(tmp_path / "demo")) as (graph, auth0, url, env):
        report = sandbox.play_login(demo.USER, sandbox.action_secrets(url), auth0=auth0, fast_refresh=True)
        assert report["outcome"] == "allowed"
        held = [u for u in auth0.state()["users"] if u["user_id"] == demo.USER["user_id"]]
        assert held and held[0]["app_metadata"] == report["app_metadata"]
        done = subprocess.run([sys.executable, "-m", "service", "reconcile", "run", "--mode", "dry-run"],
                              capture_output=True, text=True, timeout=120, cwd=sandbox.ROOT,
                              env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    assert "by_class" in summary and not summary["by_class"], summary


@pytest.mark.parametrize("started", [3, 4])  # stopped while gunicorn starts (3), or once the worker runs (4)
def test_a_benchmark_stopped_with_sigterm_leaves_no_emulator_or_gunicorn_behind(tmp_path, started):
    bench = sandbox.Proc([sys.executable, "bench/lifecycle.py", "--run", "webhook", "16", "300"],
                         log_path=str(tmp_path / "bench.txt"))
    children = []
    try:
        deadline = time.monotonic() + 90
        while len(children := _descendants(bench.popen.pid)) < started:  # emulators, gunicorn, the worker
            assert bench.popen.poll() is None and time.monotonic() < deadline, bench.output()[-3000:]
            time.sleep(0.2)
        bench.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while bench.popen.poll() is None and time.monotonic() < deadline:  # one it starts while unwinding counts too
            children = sorted(set(children) | set(_descendants(bench.popen.pid)))
            time.sleep(0.05)
        assert bench.popen.wait(1) == 143
        deadline = time.monotonic() + 15
        while _in_sessions(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [_cmdline(pid) for pid in _in_sessions(children)]
    finally:
        bench.stop()
        for pid in _in_sessions(children):  # what a failing run left behind
            os.kill(pid, signal.SIGKILL)


def _in_sessions(leaders):
    """Live processes in the sessions these children lead (each is started in a session of its own), so
    gunicorn workers forked after the children were listed count too."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) in leaders:
            found.append(int(entry))
    return found
