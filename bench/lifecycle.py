"""Lifecycle throughput: an Entra disable → the Auth0 user blocked, sessions and refresh tokens revoked.

For each path (webhook: Graph change notifications posted to /v1/events/graph; delta: the worker's
1 s delta rounds), each Auth0 Management API rate limit and each queue depth K, K managed users are
disabled in Entra at once and the time from the notification's arrival (webhook) or the change
(delta) to the companion's `auth0.user.blocked` audit row — written after the block and both
revocations — is taken per user. Usage: .venv/bin/python bench/lifecycle.py [--quick] (bench/README.md).
"""
import argparse
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time

import yaml
from sqlalchemy import create_engine, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import stop_children_on_sigterm  # noqa: E402
from bench.first_login import machine  # noqa: E402
from bench._report import percentile  # noqa: E402
from service import sandbox  # noqa: E402
from service.clients.graph import GraphClient  # noqa: E402
from service.settings import from_env  # noqa: E402
from service.sync.subscriptions import client_state  # noqa: E402

CONNECTION, NAMESPACE = "Username-Password-Authentication", "entra"
LATENCY_MS = 40
NOTIFICATIONS_PER_POST = 100
OUT = os.path.join(ROOT, "bench", "out", "lifecycle.md")
FULL = [("webhook", 16, 1), ("webhook", 16, 100), ("webhook", 50, 1), ("webhook", 50, 100),
        ("webhook", 50, 10_000), ("delta", 16, 100), ("delta", 50, 1), ("delta", 50, 100)]
QUICK = [("webhook", 50, 1), ("webhook", 50, 100), ("delta", 50, 100)]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/lifecycle.py", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="webhook 1 and 100, delta 100, at 50 requests/s")
    p.add_argument("--run", nargs=3, action="append", metavar=("PATH", "RATE", "K"),
                   help="one row: webhook|delta, Auth0 requests/s, users disabled at once (repeatable)")
    p.add_argument("--threads", type=int, default=4, help="worker threads (python -m service worker --threads)")
    args = p.parse_args(argv)
    args.rows = [(r[0], float(r[1]), int(r[2])) for r in args.run] if args.run else (QUICK if args.quick else FULL)
    return args


@contextlib.contextmanager
def stack(work_dir, path, threads):
    """Both emulators, the companion under gunicorn and its worker, on one SQLite file and queue."""
    procs = []
    try:
        graph = sandbox.start_graph(work_dir, validate=False)
        procs.append(graph.proc)
        auth0 = sandbox.start_auth0(work_dir, validate=False)
        procs.append(auth0.proc)
        config = os.path.join(work_dir, "sync.yaml")
        with open(config, "w", encoding="utf-8") as fh:
            # The hourly destructive budget (default 500) would hold the rest of a 1,000-user wave for
            # approval, as it should in production; the benchmark measures the pipeline, so it is lifted.
            yaml.safe_dump({"connection": CONNECTION, "deprovision": {"threshold": 1_000_000}}, fh)
        env = {**sandbox.companion_env(graph, auth0, f"sqlite:///{work_dir}/companion.db"), "SYNC_CONFIG": config,
               "SYNC_EVENTS": path, "SYNC_DELTA_INTERVAL_S": "1", "RISK_POLL_INTERVAL_S": "0"}
        web, url = sandbox.start_companion(env, work_dir)
        procs.append(web)
        env["COMPANION_PUBLIC_URL"] = url
        worker = sandbox.Proc([sys.executable, "-m", "service", "worker", "--threads", str(threads),
                               "--redrive-after", "30"], env=env, log_path=os.path.join(work_dir, "worker.log"))
        procs.append(worker)
        yield graph, auth0, env, url
    finally:
        for proc in reversed(procs):
            proc.stop()


def seed(graph, auth0, admin, k):
    """k Entra users and their managed Auth0 users (as the sync leaves them); their object ids."""
    resp = graph.http.post(f"{graph.url}/_emulator/users/bulk", json={"count": k, "prefix": "life"}, timeout=300)
    resp.raise_for_status()
    entra = [u for u in admin.iter_users(select=("id", "userPrincipalName"), top=999)
             if u["userPrincipalName"].startswith("life")]
    users = [{"user_id": f"auth0|life{i:06d}", "email": e["userPrincipalName"], "email_verified": True,
              "connection": CONNECTION,
              "app_metadata": {NAMESPACE: {"object_id": e["id"], "upn": e["userPrincipalName"], "managed": True}}}
             for i, e in enumerate(entra)]
    for start in range(0, len(users), 1000):
        auth0.http.post(f"{auth0.url}/_emulator/users", json=users[start:start + 1000], timeout=300).raise_for_status()
    return [e["id"] for e in entra]


def disable(admin, oids):
    """accountEnabled false for every oid ($batch PATCH, 20 a request); the time the last one landed."""
    failed = [r for r in admin.batch([{"method": "PATCH", "url": f"/users/{oid}", "body": {"accountEnabled": False}}
                                      for oid in oids]) if int(r.get("status", 500)) >= 300]
    if failed:
        raise RuntimeError(f"{len(failed)} users could not be disabled: {failed[0]}")
    return time.time()


def notify(url, env, oids):
    """POST Graph-shaped `updated` notifications, 100 a body; {oid: arrival time}."""
    state, arrived = client_state(from_env(env)), {}
    http = sandbox.Emulator("companion", None, url, True).http
    for start in range(0, len(oids), NOTIFICATIONS_PER_POST):
        part = oids[start:start + NOTIFICATIONS_PER_POST]
        body = {"value": [{"changeType": "updated", "resource": f"Users/{oid}", "clientState": state,
                           "subscriptionId": "bench", "resourceData": {"@odata.type": "#Microsoft.Graph.User",
                                                                       "id": oid}} for oid in part]}
        sent = time.time()
        if http.post(f"{url}/v1/events/graph", json=body, timeout=60).status_code != 202:
            raise RuntimeError("the companion refused a notification batch")
        arrived.update({oid: sent for oid in part})
    return arrived


def blocked_at(db_path):
    """{entra object id: epoch seconds} of the `auth0.user.blocked` audit rows, and failed events."""
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT entra_object_id, at FROM audit_log WHERE action = 'auth0.user.blocked'")).all()
        failed = conn.execute(text("SELECT count(*) FROM sync_events WHERE status = 'failed'")).scalar()
    engine.dispose()
    stamp = {oid: (at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at))
             .replace(tzinfo=dt.timezone.utc).timestamp() for oid, at in rows}
    return stamp, failed


def quiet(db_path, timeout_s=600):
    """Wait until the worker has no queued events (the delta path's first full round, for instance)."""
    engine = create_engine(f"sqlite:///{db_path}")
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM sync_events WHERE status = 'queued'")).scalar()
            if not left:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise RuntimeError("the worker did not drain its queue")


def run_row(work_dir, path, rate, k, threads, say):
    """One row: a fresh stack, k users seeded, disabled, and timed until each is blocked in Auth0."""
    row_dir = tempfile.mkdtemp(prefix=f"{path}-{k}-", dir=work_dir)
    with stack(row_dir, path, threads) as (graph, auth0, env, url):
        admin = GraphClient.from_settings(from_env(env))
        oids = seed(graph, auth0, admin, k)
        db = os.path.join(row_dir, "companion.db")
        time.sleep(3 if path == "delta" else 0.5)
        quiet(db)
        # The bench posts each change's notification itself (timed); the emulator's own subscription
        # delivery would send every change a second time.
        graph.configure(latency_ms=LATENCY_MS, deliver_notifications=False)
        auth0.configure(rate_limit=rate)
        g0, a0 = sum(graph.stats()["requests"].values()), auth0.stats()
        failed_before = blocked_at(db)[1]  # seeding's own (e.g. a delta round racing Auth0's search index)
        started = time.time()
        changed = disable(admin, oids)
        # Delta: the clock starts when Entra changed; webhook: when each notification reached us.
        arrived = dict.fromkeys(oids, changed) if path == "delta" else notify(url, env, oids)
        deadline = time.monotonic() + max(120, 20 * k / rate)
        while time.monotonic() < deadline:
            done, failed = blocked_at(db)
            failed -= failed_before
            if all(oid in done for oid in oids) or failed:
                break
            time.sleep(0.5)
        finished = time.time()
        g1, a1 = sum(graph.stats()["requests"].values()), auth0.stats()
        state = auth0.state()
    return summarize(path, rate, k, oids, arrived, done, failed, state, (g1 - g0, a0, a1, finished - started), say)


def summarize(path, rate, k, oids, arrived, done, failed, state, counters, say):
    graph_calls, a0, a1, wall = counters
    auth0_calls = sum(a1["requests"].values()) - sum(a0["requests"].values())
    throttled = a1.get("throttled", 0) - a0.get("throttled", 0)
    latencies = [done[oid] - arrived[oid] for oid in oids if oid in done]
    blocked = {u["user_id"] for u in state["users"] if u.get("blocked")}
    revoked = {}
    for r in state["revocations"]:
        revoked.setdefault(r["user_id"], set()).update(r["covers"])
    ok = sum(1 for i in range(k) if f"auth0|life{i:06d}" in blocked
             and revoked.get(f"auth0|life{i:06d}", set()) >= {"sessions", "refresh_tokens"})
    last = max(done.values(), default=None)
    drain_s = (last - min(arrived.values())) if last else None
    rate_used = (auth0_calls - throttled) / drain_s if drain_s else None  # answered, not refused
    say(f"  {path} at {rate:g}/s, K {k}: {len(latencies)}/{k} blocked in {wall:.1f} s")
    return {"path": path, "rate": rate, "k": k, "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "blocked": ok, "lost": k - len(latencies), "failed": failed, "throttled": throttled,
            "drain": rate_used, "graph_per": graph_calls / k, "auth0_per": auth0_calls / k}


def table(rows):
    head = ("| path | Auth0 limit req/s | queued K | p50 s | p95 s | blocked + revoked | lost | failed "
            "| Auth0 429s absorbed | drain: answered req/s (share of limit) | Graph calls/change | Auth0 calls/change |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        drain = "—" if r["drain"] is None else f"{r['drain']:.1f} ({100 * r['drain'] / r['rate']:.0f} %)"
        lines.append(f"| {r['path']} | {r['rate']:g} | {r['k']:,} | {_s(r['p50'])} | {_s(r['p95'])} | "
                     f"{r['blocked']}/{r['k']} | {r['lost']} | {r['failed']} | {r['throttled']} | {drain} | "
                     f"{r['graph_per']:.1f} | {r['auth0_per']:.1f} |")
    return "\n".join(lines)


def _s(value):
    return "—" if value is None else f"{value:.2f}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 (progress)
    started, work_dir = time.monotonic(), tempfile.mkdtemp(prefix="bench-lifecycle-")
    say(f"lifecycle benchmark: {len(args.rows)} rows; work dir {work_dir}")
    rows = [run_row(work_dir, path, rate, k, args.threads, say) for path, rate, k in args.rows]
    text_out = "\n".join([f"Command: `{' '.join(['.venv/bin/python', 'bench/lifecycle.py', *argv])}`", "",
                          f"Machine: {machine()}, shared with other work while measured. Graph latency "
                          f"{LATENCY_MS} ms per request; worker threads {args.threads}; "
                          f"{(time.monotonic() - started) / 60:.1f} min in all.", "", table(rows), ""])
    print(text_out)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text_out)
    return 0


if __name__ == "__main__":
    stop_children_on_sigterm()
    sys.exit(main())
