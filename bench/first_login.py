"""First Office 365 login: the old Auth0 Rule's algorithm beside the companion, on one sandbox.

For each replication lag, N simultaneous new users log in through the Rule's algorithm (bench/_rule.py)
and through the companion's browser leg (bench/_browser.py), on one companion instance (SQLite) or two
(one PostgreSQL database, the Redis queue and one shared Graph budget); at the instant claims are
returned, Graph is asked whether the licensed user is visible. During each storm a returning user's
status is read every 200 ms, and the service processes' CPU and memory are sampled from /proc. Then one
returning user plays the real Action in Node.
Usage: .venv/bin/python bench/first_login.py [--quick | --storm] (see bench/README.md).
"""
import argparse
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _browser, _report, _rule, _stages, _storm, stop_children_on_sigterm  # noqa: E402
from bench._observer import Observer  # noqa: E402
from service import sandbox  # noqa: E402

LATENCY_MS = 40
FULL = {"lags": [0, 0.5, 2, 5, 10, 20], "ns": [1, 10, 100], "instances": [1], "ru": 0}
QUICK = {"lags": [0, 0.5, 5, 20], "ns": [1, 10], "instances": [1], "ru": 0}
STORM = {"lags": [2, 10], "ns": [200], "instances": [1, 2], "ru": 3500}  # issue 11's goals
OUT = os.path.join(ROOT, "bench", "out", "first_login.md")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/first_login.py", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="lags 0, 0.5, 5, 20 s and N = 1, 10 (about 2 min)")
    p.add_argument("--storm", action="store_true",
                   help="N = 200 at lags 2 and 10 s, RU budget 3500 per 10 s, one and two instances (about 6 min)")
    p.add_argument("--instances", type=int, nargs="+", choices=(1, 2),
                   help="1 = one companion on SQLite; 2 = two companions on one PostgreSQL database and Redis")
    p.add_argument("--ru-per-10s", dest="ru", type=int, help="the Graph emulator's RU budget (0 = off)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance (default 2)")
    p.add_argument("--threads", type=int, default=16, help="gunicorn threads per worker (default 16)")
    p.add_argument("--no-rule", dest="rule", action="store_false", help="skip the Rule's baseline rows")
    p.add_argument("--lags", type=float, nargs="+", help="replication lags in seconds (0 is the control row)")
    p.add_argument("--n", dest="ns", type=int, nargs="+", help="numbers of simultaneous new users")
    p.add_argument("--write-lag", type=float, default=None,
                   help="let writes by id (assignLicense) land after this many seconds while reads still lag "
                        "(the emulator's write_lag_s; default: writes lag like reads)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite file) after the run")
    args = p.parse_args(argv)
    plan = STORM if args.storm else QUICK if args.quick else FULL
    args.lags, args.ns = args.lags or plan["lags"], args.ns or plan["ns"]
    args.instances = args.instances or plan["instances"]
    args.ru = plan["ru"] if args.ru is None else args.ru
    return args


@contextlib.contextmanager
def running(work_dir, args, instances):
    """Graph emulator (fixed latency, RU budget, no spec checks), Auth0 emulator, and the companion under
    gunicorn: one instance on SQLite, or two on one PostgreSQL schema with the Redis queue and budget."""
    procs, schema = [], None
    try:
        graph = sandbox.start_graph(work_dir, "--latency-ms", LATENCY_MS, "--ru-per-10s", args.ru, validate=False)
        procs.append(graph.proc)
        auth0 = sandbox.start_auth0(work_dir, validate=False)
        procs.append(auth0.proc)
        if instances == 1:
            env = sandbox.companion_env(graph, auth0, f"sqlite:///{work_dir}/companion.db")
        else:
            schema = _storm.PgSchema()
            env = sandbox.companion_env(graph, auth0, schema.url, queue_url=_storm.REDIS_URL,
                                        GRAPH_RU_STORAGE_URL=_storm.REDIS_URL)
        env["GRAPH_RU_PER_10S"] = str(args.ru)
        urls, masters = [], []
        database_url = env["DATABASE_URL"]
        for _ in range(instances):
            companion, url = sandbox.start_companion(env, work_dir, workers=args.workers, threads=args.threads)
            procs.append(companion)
            urls.append(url)
            masters.append(companion.popen.pid)
        yield graph, urls, _storm.Service(masters), procs[2:], database_url
    finally:
        for proc in reversed(procs):
            proc.stop()
        if schema is not None:
            schema.drop()


def new_user(tag, i):
    """A Google user Auth0 has never sent to Office 365."""
    return {"user_id": f"google-oauth2|{tag}{i:04d}", "email": f"bench.{tag}.{i}@gmail.com", "email_verified": True,
            "name": f"Bench User {i}", "given_name": "Bench", "family_name": f"User {i}",
            "nickname": f"bench.{tag}.{i}", "connection": "google-oauth2", "strategy": "google-oauth2"}


def rule_login(rule, observer, user, _i):
    """The Rule's login; visibility is asked right after its sleep, when it would return claims."""
    started = time.monotonic()
    try:
        _upn, _iid, object_id = rule.login(user)
    except _rule.RuleFailed as why:
        return _report.Login(False, time.monotonic() - started, error=str(why))
    seconds = time.monotonic() - started
    return _report.Login(True, seconds, visible=observer.licensed_visible(object_id))


def our_login(urls, observer, user, i):
    """Our browser leg (user i goes to instance i mod the count); visibility is asked after the 302."""
    url = urls[i % len(urls)]
    started, wall = time.monotonic(), time.time()
    try:
        arrival = _browser.first_login(url, user)
    except Exception as why:  # every way a login can end without claims counts as failed
        reason = str(why) if isinstance(why, _browser.LoginFailed) else f"{type(why).__name__}: {why}"
        return _report.Login(False, time.monotonic() - started, error=reason[:160])
    visible = observer.licensed_visible(arrival.claims["object_id"])
    return _report.Login(True, arrival.seconds, visible=visible, pages=arrival.pages, resent=arrival.resent,
                         user_id=user["user_id"], started=wall)


def batch(login, observer, lag_s, n, tag, name, watch=None):
    """Start n logins at once (threads behind a barrier); count the Graph calls, RUs and 429s they cost."""
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        return login(new_user(tag, i), i)

    before, observed_before = observer.graph_stats(), observer.calls
    cpu_before = watch.service.cpu_s() if watch else 0.0
    if watch:
        watch.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        logins = list(pool.map(one, range(n)))
    wall = time.monotonic() - started
    extra = {}
    if watch:
        watch.stop()
        extra = dict(cpu_s=watch.service.cpu_s() - cpu_before, peak_mb=watch.peak_mb, status_reads=watch.reads)
    after = observer.graph_stats()
    calls = after["requests"] - before["requests"] - (observer.calls - observed_before)
    return _report.Batch(lag_s, n, logins, wall, calls, name=name, ru=after["ru"] - before["ru"],
                         throttled=after["throttled"] - before["throttled"], **extra)


def run_lag(graph, urls, service, lag_s, args, say, setup, database_url):
    """One lag: reset Entra, set the knobs, then (optionally) the Rule and ours for each N."""
    graph.reset()
    graph.configure(replication_lag_s=lag_s, latency_ms=LATENCY_MS, ru_per_10s=args.ru,
                    **({} if args.write_lag is None else {"write_lag_s": min(args.write_lag, lag_s)}))
    observer = Observer(graph)
    rule = _rule.Rule(graph_url=graph.url, tenant=sandbox.MANAGED_DOMAIN, client_id=sandbox.GRAPH_CLIENT_ID,
                      client_secret=sandbox.GRAPH_CLIENT_SECRET, domain=sandbox.FEDERATED_DOMAIN,
                      sku_part_number=sandbox.SKU_PART_NUMBER, ca_bundle=graph.verify)
    status_url = _storm.make_ready(urls[0], new_user(f"back{uuid.uuid4().hex[:6]}", 0))
    rss_idle = service.rss_mb()
    batches = []
    for n in args.ns:
        tag = f"l{str(lag_s).replace('.', 'p')}n{n}x{uuid.uuid4().hex[:6]}"
        if args.rule and setup == args.instances[0]:
            r = batch(lambda u, i: rule_login(rule, observer, u, i), observer, lag_s, n, "rule" + tag, "Rule")
            batches.append(r)
            say(f"  lag {lag_s:g} s, N {n}: Rule {r.wall_s:.1f} s wall")
        watch = _storm.Watch(service, status_url, unquote(status_url.rsplit("/", 1)[1]))
        o = batch(lambda u, i: our_login(urls, observer, u, i), observer, lag_s, n, "ours" + tag,
                  f"ours, {setup} instance{'s' if setup > 1 else ''}", watch)
        o.idle_mb = rss_idle
        o.stages = _stages.stage_seconds(database_url, o.logins)
        batches.append(o)
        say(f"  lag {lag_s:g} s, N {n}: ours ({setup} instance(s)) {o.wall_s:.1f} s wall")
    return batches


def returning_user(graph, url):
    """A first login through the real Action in Node, then the same user again (fast path)."""
    graph.reset()
    graph.configure(replication_lag_s=2, latency_ms=LATENCY_MS)
    user = {**new_user("returning", 0), "app_metadata": {}, "user_metadata": {}}
    for key in ("connection", "strategy"):
        user.pop(key)
    first = sandbox.play_login(user, sandbox.action_secrets(url))
    if first.get("outcome") != "allowed":
        return first, None
    again = sandbox.play_login({**user, "app_metadata": first["app_metadata"]}, sandbox.action_secrets(url))
    return first, again


def returning_line(first, again):
    if again is None:
        return f"Returning user: not measured, the first login through the Action ended {first.get('outcome')}."
    calls = again["companion_requests"] + again["action_requests"]
    return (f"Returning user (real Action in Node, app_metadata from its first login): outcome {again['outcome']}, "
            f"calls to the companion {calls} (companion_requests {again['companion_requests']} + action_requests "
            f"{again['action_requests']}, expected 0), {again['total_ms']:.0f} ms in the Action runtime. "
            f"Its first login through the same Action at 2 s lag took {first['total_ms'] / 1000:.2f} s "
            f"with {first.get('waiting_pages', 0)} waiting page(s).")


def companion_log_problems(companion):
    """Lines of the companion's log at WARNING or above, and tracebacks."""
    lines = companion.output().splitlines()
    return [x for x in lines if '"level": "ERROR"' in x or '"level": "WARNING"' in x or "Traceback" in x
            or '"level":"ERROR"' in x or '"level":"WARNING"' in x]


def machine():
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        model = next((x.split(":", 1)[1].strip() for x in fh if x.startswith("model name")), "")
    return (f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def render(args, argv, batches, returning, wall_s, problems):
    command = " ".join([".venv/bin/python", "bench/first_login.py", *argv])
    lines = [f"Command: `{command}`", "",
             f"Machine: {machine()}, shared with other work while measured. Graph emulator latency {LATENCY_MS} ms "
             f"per request, RU budget {args.ru or 'off'} per 10 s; companion under gunicorn ({args.workers} workers × "
             f"{args.threads} threads per instance); one instance on SQLite, two on one PostgreSQL database with the "
             "Redis queue and one Redis-held Graph budget." +
             ("" if args.write_lag is None else f" Writes by id land after {args.write_lag:g} s while reads still "
                                                "lag (emulator write_lag_s)."),
             f"Run: lags {', '.join(f'{x:g}' for x in args.lags)} s × N {', '.join(map(str, args.ns))} × instances "
             f"{', '.join(map(str, args.instances))}, in {wall_s / 60:.1f} min.", "", _report.table(batches), "",
             returning, ""]
    stages = _stages.table(batches)
    if stages:
        lines += ["Where ours spent the time, per login, p50 / p95 s (the browser's own start and end joined with "
                  "the link's and the audit log's times):", "", stages, ""]
    failures = _report.errors(batches)
    if failures:
        lines += ["Failure reasons:", *failures, ""]
    resent, refreshes = _report.resends(batches)
    lines.append(f"Waiting-page refreshes (ours): {refreshes}; resent by the browser because the kept-alive "
                 f"connection was closed as the refresh went out: {resent}.")
    lines.append(f"Companion log lines at WARNING or above: {len(problems)}.")
    lines += [f"    {x[:300]}" for x in problems[:10]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731 (progress, not the result)
    work_dir, started = tempfile.mkdtemp(prefix="bench-first-login-"), time.monotonic()
    say(f"first-login benchmark: lags {args.lags} s, N {args.ns}, instances {args.instances}; work dir {work_dir}")
    batches, problems, returning = [], [], None
    for setup in args.instances:
        with running(work_dir, args, setup) as (graph, urls, service, companions, database_url):
            batches += [b for lag in args.lags
                        for b in run_lag(graph, urls, service, lag, args, say, setup, database_url)]
            if returning is None:
                returning = returning_line(*returning_user(graph, urls[0]))
            problems += [x for c in companions for x in companion_log_problems(c)]
    text = render(args, argv, batches, returning, time.monotonic() - started, problems)
    print(text, end="")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text)
    if args.keep or problems:
        say(f"work dir kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    stop_children_on_sigterm()
    sys.exit(main())
