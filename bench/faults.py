"""Bad days: N first logins per fault through the companion under gunicorn, against the emulators' fault knobs.

For each fault (429 with Retry-After, 503, timeouts, dropped connections, 404 during replication lag,
seats exhausted, Auth0 429) N new users sign in at once: half through the browser leg (bench/_browser.py,
waiting pages and all), half through POST /v1/o365/provision in inline mode (timed: the longest inline
answer is the column Auth0's 20 s trigger budget cares about), each followed by status polls as an Action
would. Then Entra is read directly: half-made accounts (no licence and not parked) and duplicates (more
than one Entra account for one Auth0 user) must be 0. Usage: .venv/bin/python bench/faults.py [--n 6]
"""
import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from jose import jwt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _browser, stop_children_on_sigterm  # noqa: E402
from bench.first_login import LATENCY_MS, companion_log_problems, machine, new_user, running  # noqa: E402
from service import identity, sandbox, tokens  # noqa: E402
from service.settings import DEFAULT_IMMUTABLE_ID_NAMESPACE  # noqa: E402
from service.db import Store  # noqa: E402
from service.models import Link  # noqa: E402

OUT = os.path.join(ROOT, "bench", "out", "faults.md")
SETTLE_S = 90.0  # status polls after the logins, as the Action's follow-up would make them
INLINE_BUDGET_S = 10.0  # an Action should keep each call under 10 s of its 20 s


def _half(n):
    return max(1, n // 2)


def _free(graph, n):
    """Set the seat count so that n seats are free."""
    (sku,) = [s for s in graph.state()["subscribedSkus"] if s["skuId"] == sandbox.SKU_ID]
    graph.configure(seats={sandbox.SKU_ID: sku["consumedUnits"] + n})


def _take_seats_once_created(graph, n, timeout_s=30.0):
    """Wait until n accounts exist in the federated domain, then leave no seat free."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        made = [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + sandbox.FEDERATED_DOMAIN)]
        if len(made) >= n:
            break
        time.sleep(0.1)
    _free(graph, 0)


# name -> (what it models, Graph knobs, Graph fault rules, Auth0 fault rules, free seats or None); n = users.
# A scenario may add a sixth item: change(graph, n), run beside the logins.
SCENARIOS = {
    "none (control)": lambda n: ("no fault", {}, [], [], None),
    "Graph 429 + Retry-After": lambda n: ("429 Retry-After: 3 on create and on assignLicense", {}, [
        {"method": "POST", "path": "^/v1.0/users$", "kind": "status", "status": 429, "retry_after": 3, "count": n},
        {"method": "POST", "path": "assignLicense$", "kind": "status", "status": 429, "retry_after": 3,
         "count": _half(n)}], [], None),
    "Graph 503": lambda n: ("503 on create, assignLicense and reads", {}, [
        {"method": "POST", "path": "^/v1.0/users$", "kind": "status", "status": 503, "count": n},
        {"method": "POST", "path": "assignLicense$", "kind": "status", "status": 503, "count": n},
        {"method": "GET", "path": "^/v1.0/users/", "kind": "status", "status": 503, "count": n}], [], None),
    "Graph timeout": lambda n: ("create done but answered after 12 s (> HTTP_TIMEOUT_S 10 s), N times", {}, [
        {"method": "POST", "path": "^/v1.0/users$", "kind": "delay_response", "seconds": 12, "count": n}],
        [], None),
    "dropped connections": lambda n: ("connection dropped after create, and before assignLicense", {}, [
        {"method": "POST", "path": "^/v1.0/users$", "kind": "drop", "when": "after", "count": _half(n)},
        {"method": "POST", "path": "assignLicense$", "kind": "drop", "count": _half(n)}], [], None),
    "replication lag 404": lambda n: ("new users answer 404 for 5 s", {"replication_lag_s": 5}, [], [], None),
    "seats exhausted": lambda n: (f"{_half(n)} free seats for {n} users", {}, [], [], _half(n)),
    "seats taken mid-way": lambda n: ("seats taken elsewhere once the accounts exist, while they replicate (5 s lag)",
                                      {"replication_lag_s": 5}, [], [], n, _take_seats_once_created),
    "Auth0 429": lambda n: ("429 on every Auth0 Management API route", {}, [],
                            [{"path": ".*", "kind": "status", "status": 429}], None),
}


@dataclasses.dataclass
class Result:
    """One scenario's counts."""

    name: str
    what: str
    n: int
    ready: int = 0
    failed_clear: int = 0
    failed_unclear: int = 0
    pending: int = 0
    half_made: int = 0
    parked: int = 0
    duplicates: int = 0
    longest_inline_s: float = 0.0
    wall_s: float = 0.0
    messages: tuple = ()


def bearer(user_id):
    """An Action's HS256 bearer token for the inline API."""
    now = int(time.time())
    claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": user_id, "iat": now, "exp": now + 300}
    return {"Authorization": "Bearer " + jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")}


def inline_login(url, user, deadline):
    """POST inline (timed), then status polls until ready or failed; (final state, message, inline seconds)."""
    body = {k: user[k] for k in ("user_id", "email", "email_verified", "name", "given_name", "family_name",
                                 "nickname", "connection") if k in user}
    with requests.Session() as http:
        http.trust_env = False
        started = time.monotonic()
        resp = http.post(f"{url}/v1/o365/provision", json={**body, "mode": "inline"}, headers=bearer(user["user_id"]),
                         timeout=120)
        inline_s = time.monotonic() - started
        while resp.status_code == 202 and time.monotonic() < deadline:
            time.sleep(1.0)
            resp = http.get(f"{url}/v1/o365/provision/{user['user_id']}", headers=bearer(user["user_id"]), timeout=120)
    return _state(resp), _message(resp), inline_s


def _state(resp):
    return {200: "ready", 202: "pending", 422: "failed"}.get(resp.status_code, f"HTTP {resp.status_code}")


def _message(resp):
    try:
        return (resp.json().get("error") or {}).get("message")
    except ValueError:
        return resp.text[:160]


def browser_login(url, user, deadline):
    """The browser leg with real waiting pages; (final state, message, None)."""
    try:
        _browser.first_login(url, user, max_wait_s=max(5.0, deadline - time.monotonic()))
        return "ready", None, None
    except _browser.LoginFailed as why:
        text = str(why)
        return ("pending" if text.startswith("still waiting") else "failed"), text, None


def run_scenario(graph, auth0, url, db_url, name, n, say):
    """Reset, set the fault, run n first logins at once, then count what Entra holds."""
    what, knobs, graph_faults, auth0_faults, free, *later = SCENARIOS[name](n)
    graph.reset()
    auth0.reset()
    graph.configure(latency_ms=LATENCY_MS, **knobs)
    if free is not None:
        _free(graph, free)
    if graph_faults:
        graph.add_faults(*graph_faults)
    if auth0_faults:
        auth0.add_faults(*auth0_faults)
    tag = "f" + uuid.uuid4().hex[:8]
    users = [new_user(tag, i) for i in range(n)]
    barrier, started = threading.Barrier(n), time.monotonic()
    deadline = started + SETTLE_S

    def one(i):
        barrier.wait()
        login = inline_login if i % 2 else browser_login
        try:
            return login(url, users[i], deadline)
        except Exception as why:  # a login that ends in a transport error counts as failed without a message
            return f"error {type(why).__name__}", None, None

    timers = [threading.Thread(target=change, args=(graph, n)) for change in later]
    for timer in timers:
        timer.start()
    with ThreadPoolExecutor(max_workers=n) as pool:
        outcomes = list(pool.map(one, range(n)))
    for timer in timers:
        timer.join()
    result = Result(name, what, n, wall_s=time.monotonic() - started)
    _count(result, outcomes)
    _inspect(result, graph, db_url, users)
    say(f"  {name}: ready {result.ready}/{n}, half-made {result.half_made}, duplicates {result.duplicates}, "
        f"longest inline {result.longest_inline_s:.1f} s")
    return result


def _count(result, outcomes):
    messages = []
    for state, message, inline_s in outcomes:
        result.longest_inline_s = max(result.longest_inline_s, inline_s or 0.0)
        if state == "ready":
            result.ready += 1
        elif state == "pending":
            result.pending += 1
        elif state == "failed" and message:
            result.failed_clear += 1
            messages.append(message)
        else:
            result.failed_unclear += 1
            messages.append(f"{state}: {message}")
    result.messages = tuple(sorted(set(messages)))


def _inspect(result, graph, db_url, users):
    """Half-made (an account without licence, not parked) and duplicates (accounts per Auth0 user > 1)."""
    store = Store(db_url)
    with store.session() as session:
        states = {link.entra_object_id: link.state for link in session.query(Link).all()}
    store.dispose()
    accounts = [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + sandbox.FEDERATED_DOMAIN)]
    expected = {identity.immutable_id(u["user_id"], DEFAULT_IMMUTABLE_ID_NAMESPACE): u["name"] for u in users}
    per_user = {}
    for account in accounts:
        who = expected.get(account.get("onPremisesImmutableId")) or account.get("displayName")
        per_user[who] = per_user.get(who, 0) + 1
        if not account.get("assignedLicenses"):
            if states.get(account["id"]) == "parked":
                result.parked += 1
            else:
                result.half_made += 1
    result.duplicates = sum(count - 1 for count in per_user.values() if count > 1)


HEADER = ("| fault | N | ready | failed, clear message | failed, unclear | still pending | half-made | parked "
          "(no seat, named state) | duplicates | longest inline answer s | wall s |")


def table(results):
    """The Markdown table."""
    rows = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for r in results:
        cells = [r.name, r.n, r.ready, r.failed_clear, r.failed_unclear, r.pending, r.half_made, r.parked,
                 r.duplicates, f"{r.longest_inline_s:.1f}", f"{r.wall_s:.1f}"]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)


def render(argv, results, wall_s, problems):
    command = " ".join([".venv/bin/python", "bench/faults.py", *argv])
    lines = [f"Command: `{command}`", "",
             f"Machine: {machine()}. Graph emulator latency {LATENCY_MS} ms per request; companion under gunicorn "
             f"(2 workers × 16 threads) on SQLite. Half of each N through the browser leg, half through the inline "
             f"API; status polls for up to {SETTLE_S:.0f} s after. Run in {wall_s / 60:.1f} min.", "",
             table(results), "", "Faults:"]
    lines += [f"- {r.name}: {r.what}" for r in results]
    lines += ["", "Messages the people got:"]
    lines += [f"- {r.name}: {m}" for r in results for m in r.messages]
    lines.append(f"\nCompanion log lines at WARNING or above: {len(problems)}.")
    bad = [r.name for r in results if r.half_made or r.duplicates or r.longest_inline_s > INLINE_BUDGET_S]
    lines.append(f"Half-made or duplicate accounts, or an inline answer over {INLINE_BUDGET_S:.0f} s: "
                 + (", ".join(bad) if bad else "none") + ".")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/faults.py", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=6, help="first logins per fault (default 6: a few minutes in all)")
    p.add_argument("--faults", nargs="+", choices=list(SCENARIOS), metavar="FAULT",
                   help=f"run only these ({', '.join(SCENARIOS)})")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite file)")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("--n must be at least 2 (half browser, half inline)")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731 (progress, not the result)
    work_dir, started = tempfile.mkdtemp(prefix="bench-faults-"), time.monotonic()
    db_url = f"sqlite:///{work_dir}/companion.db"
    say(f"faults benchmark: N {args.n} per fault; work dir {work_dir}")
    one = argparse.Namespace(ru=0, workers=2, threads=16)  # one instance on SQLite, no RU budget
    with running(work_dir, one, 1) as (graph, urls, _service, companions, auth0):
        results = [run_scenario(graph, auth0, urls[0], db_url, name, args.n, say)
                   for name in args.faults or SCENARIOS]
        problems = companion_log_problems(companions[0])
    text = render(argv, results, time.monotonic() - started, problems)
    print(text, end="")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text)
    if not args.keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    bad = any(r.half_made or r.duplicates for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    stop_children_on_sigterm()
    sys.exit(main())
