"""Reconciliation at scale: N Entra users × N Auth0 users with 1 % planted drift, one dry run measured.

Both emulators are seeded (setup, not timed), drift of every class is planted and remembered, then
`reconcile(ctx, "dry-run")` runs in a fresh process (bench/_reconcile_child.py) for wall time, max RSS
and the requests each emulator served, and again under tracemalloc for its allocation peak; the findings
must equal the planted set exactly. Usage: .venv/bin/python bench/reconcile.py [--users N ...] [--quick]
(see bench/README.md).
"""
import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _reconcile_plan as P, stop_children_on_sigterm  # noqa: E402
from service import sandbox  # noqa: E402

GOAL_S, GOAL_MB = 60.0, 300.0
PAGE = 999  # the $top the reconciler asks for (Graph's largest user page)
MB = 1024 * 1024
OUT = os.path.join(ROOT, "bench", "out", "reconcile.md")
CHILD = os.path.join(ROOT, "bench", "_reconcile_child.py")
USER_PAGES = "GET /v1.0/users"


def parse_args(argv):
    """Command-line options; N defaults to 100,000 (10,000 with --quick)."""
    p = argparse.ArgumentParser(prog="bench/reconcile.py", description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, nargs="+", help="N, Entra users (and about as many Auth0 users); "
                   "several values give several rows (default 100000)")
    p.add_argument("--quick", action="store_true", help="N = 10,000 (about half a minute)")
    p.add_argument("--profile", action="store_true", help="also run once under cProfile and print the top "
                   "functions (done anyway when a run misses the goal)")
    p.add_argument("--auth0-rate-limit", type=float, metavar="RPS", help="Auth0 emulator's Management API "
                   "token bucket (size and refill per second) during the measured runs, e.g. 16 for Enterprise "
                   "production (facts/auth0.md §3.6); default: the emulator's 1000")
    p.add_argument("--seed", type=int, default=7, help="random seed of the drift plan")
    p.add_argument("--keep", action="store_true", help="keep the work dir (emulator logs, SQLite, raw results)")
    args = p.parse_args(argv)
    args.users = args.users or ([10_000] if args.quick else [100_000])
    return args


@contextlib.contextmanager
def running(work_dir):
    """Graph emulator (no latency, no spec checks) and Auth0 emulator, stopped afterwards."""
    procs = []
    try:
        graph = sandbox.start_graph(work_dir, validate=False)
        procs.append(graph)
        auth0 = sandbox.start_auth0(work_dir, validate=False)
        procs.append(auth0)
        yield graph, auth0
    finally:
        for emu in reversed(procs):
            emu.stop()


@dataclasses.dataclass
class Setup:
    """One seeded tenant pair: what was seeded and planted, and the findings a correct run reports."""

    n: int
    seeded: dict
    expected: list
    job_path: str


def child(mode, job_path, out_path):
    """Run bench/_reconcile_child.py in one mode; its JSON result."""
    done = subprocess.run([sys.executable, CHILD, mode, job_path, out_path], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} step failed ({done.returncode}):\n{done.stderr[-4000:]}")
    with open(out_path, encoding="utf-8") as fh:
        return json.load(fh)


def _write(path, data):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


def seed(graph, auth0, work_dir, n, rng_seed):
    """Seed and plant in a child process (this one stays small); the measuring job file."""
    urls = {"graph_url": graph.url, "graph_ca": graph.verify, "auth0_url": auth0.url}
    job = _write(os.path.join(work_dir, f"seed-{n}.json"), {"n": n, "seed": rng_seed, **urls})
    seeded = child("seed", job, os.path.join(work_dir, f"seeded-{n}.json"))
    expected = [P.freeze(k) for k in seeded.pop("expected")]
    job_path = _write(os.path.join(work_dir, f"job-{n}.json"), {"env": seeded.pop("env"), **urls})
    return Setup(n, seeded, expected, job_path)


def measure(mode, setup, work_dir):
    """One measured dry run in a fresh process."""
    out = os.path.join(work_dir, f"result-{setup.n}-{mode}.json")
    return dict(child(mode, setup.job_path, out), pstats=out + ".pstats")


def check(expected, findings):
    """Per class: (expected, found, missing keys, unexpected keys); and whether the sets are equal."""
    want = set(expected)
    got = [P.finding_key(f) for f in findings]
    have = set(got)
    classes = sorted({k[0] for k in want | have})
    rows = {c: (sum(k[0] == c for k in want), sum(k[0] == c for k in got),
                sorted(k for k in want - have if k[0] == c), sorted(k for k in have - want if k[0] == c))
            for c in classes}
    return rows, want == have and len(got) == len(have)


@dataclasses.dataclass
class Row:
    """One N: the timed run, the traced run, and the check of both."""

    setup: Setup
    timed: dict
    traced: dict
    classes: dict
    correct: bool

    @property
    def max_rss_mb(self):
        """Peak RSS of the timed run's process (getrusage)."""
        return self.timed["max_rss_after_kb"] / 1024

    @property
    def rss_growth_mb(self):
        """That peak minus the RSS when the run started."""
        return (self.timed["max_rss_after_kb"] - self.timed["rss_before_kb"]) / 1024

    @property
    def peak_mb(self):
        """tracemalloc's peak in the traced run."""
        return self.traced["tracemalloc_peak_bytes"] / MB

    @property
    def over_goal(self):
        """Slower than GOAL_S, or larger than GOAL_MB by either measure."""
        return self.timed["wall_s"] > GOAL_S or max(self.max_rss_mb, self.peak_mb) > GOAL_MB


def run_n(graph, auth0, work_dir, n, args, say):
    """Seed, time, trace and check one N (and profile it when asked or when it misses the goal)."""
    setup = seed(graph, auth0, work_dir, n, args.seed)
    if args.auth0_rate_limit:
        auth0.configure(rate_limit=args.auth0_rate_limit)  # seeding used the control API, which has no limit
    info = setup.seeded
    say(f"  N {n}: seeded in {info['seconds']:.1f} s ({info['auth0_users']} Auth0 users, {info['links']} links, "
        f"{info['drift']} drifts); timing the dry run …")
    timed = measure("time", setup, work_dir)
    say(f"  N {n}: {timed['wall_s']:.1f} s; tracing …")
    traced = measure("trace", setup, work_dir)
    classes, ok_timed = check(setup.expected, timed["findings"])
    _, ok_traced = check(setup.expected, traced["findings"])
    done = timed["status"] == traced["status"] == "done"
    row = Row(setup, timed, traced, classes, ok_timed and ok_traced and done)
    profile = None
    if args.profile or row.over_goal:
        say(f"  N {n}: profiling …")
        profile = measure("profile", setup, work_dir)
    return row, profile


def _calls(counts):
    """Requests served (429 answers included), and "(n × 429)" when some were throttled."""
    total = sum(v for k, v in counts.items() if " " in k and not k.split(" ", 1)[1].startswith("/_emulator/"))
    return f"{total} ({counts['throttled']} × 429)" if counts.get("throttled") else str(total)


def table(rows):
    """The Markdown result table, one row per N."""
    head = ("| N | wall s | peak MB (tracemalloc) | max RSS MB (growth in run) | Graph calls (user pages / ⌈N/999⌉) "
            "| Auth0 calls | findings expected / found | correct |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        pages = r.timed["graph"].get(USER_PAGES, 0)
        lines.append(f"| {r.setup.n:,} | {r.timed['wall_s']:.1f} | {r.peak_mb:.1f} | {r.max_rss_mb:.0f} "
                     f"({r.rss_growth_mb:+.0f}) | {_calls(r.timed['graph'])} ({pages} / "
                     f"{math.ceil(r.setup.n / PAGE)}) | {_calls(r.timed['auth0'])} | {len(r.setup.expected):,} / "
                     f"{len(r.timed['findings']):,} | {'PASS' if r.correct else 'FAIL'} |")
    return "\n".join(lines)


def details(r):
    """What was seeded, the calls by route, and the check per class, for one N."""
    s, counts = r.setup.seeded, r.setup.seeded["counts"]
    lines = [f"**N = {r.setup.n:,}** — seeded in {s['seconds']:.1f} s: {r.setup.n:,} Entra users, "
             f"{s['auth0_users']:,} Auth0 users, {s['links']} identity links, mapped group of {s['members']} members "
             f"(role Staff). The run read {r.timed['summary'].get('entra_users')} Entra and "
             f"{r.timed['summary'].get('auth0_users')} Auth0 users, ended `{r.timed['status']}` and found "
             f"{json.dumps(r.timed['summary'].get('by_class', {}), sort_keys=True)}; the traced run took "
             f"{r.traced['wall_s']:.1f} s (tracemalloc slows it down). RSS when the run started "
             f"{r.timed['rss_before_kb'] / 1024:.0f} MB (interpreter, imports, clients); peak RSS by /proc VmHWM "
             f"{_mb(r.timed['hwm_kb'])} MB, by getrusage {r.max_rss_mb:.0f} MB.", "",
             "Planted: " + ", ".join(f"{k} {counts[k]}" for k in P.SHARES) + "; look-alikes that must not "
             "be reported: " + ", ".join(f"{k} {counts[k]}" for k in P.CONTROLS) + ".", "",
             "Graph requests: " + _routes(r.timed["graph"]) + ".", "",
             "Auth0 requests: " + _routes(r.timed["auth0"]) + ".", "",
             "| class | expected | found | missing | unexpected |", "|---|---|---|---|---|"]
    for cls, (want, got, missing, extra) in r.classes.items():
        lines.append(f"| {cls} | {want} | {got} | {len(missing)}{_sample(missing)} | {len(extra)}{_sample(extra)} |")
    return "\n".join(lines)


def _limit(argv):
    args = parse_args(argv)
    return f", Auth0 rate limit {args.auth0_rate_limit:g} requests/s" if args.auth0_rate_limit else ""


def _mb(kb):
    return "—" if kb is None else f"{kb / 1024:.0f}"


def _routes(counts):
    routes = sorted(((k, v) for k, v in counts.items() if " " in k), key=lambda kv: -kv[1])
    return ", ".join(f"`{k}` {v}" for k, v in routes) + (f"; {counts['throttled']} answered 429"
                                                         if counts.get("throttled") else "")


def _sample(keys):
    return f" (e.g. `{keys[0]}`)" if keys else ""


def profile_text(profile):
    """The top functions of the profiled run, by cumulative and by own time."""
    out = io.StringIO()
    stats = pstats.Stats(profile["pstats"], stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    text = out.getvalue().replace(ROOT + "/", "").replace(os.path.dirname(os.__file__) + "/", "")
    text = "\n".join(x for x in text.splitlines() if ".pstats" not in x and "List reduced" not in x)
    return (f"Profile (cProfile, N = {profile['n']:,}, {profile['wall_s']:.1f} s under the profiler):\n\n"
            "```\n" + text.strip() + "\n```")


def machine():
    """Cores, CPU model, OS and Python (as bench/first_login.py prints them; not imported from there, so
    this process stays small: its children's getrusage high-water mark starts from its size)."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        model = next((x.split(":", 1)[1].strip() for x in fh if x.startswith("model name")), "")
    return (f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def render(argv, rows, profiles, wall_s):
    """The whole report: command, machine, table, details per N, profiles."""
    command = " ".join([".venv/bin/python", "bench/reconcile.py", *argv])
    lines = [f"Command: `{command}`", "",
             f"Machine: {machine()}. Emulators without latency or spec checks"
             f"{_limit(argv)}; companion in-process on SQLite. "
             f"Goal: under {GOAL_S:.0f} s and {GOAL_MB:.0f} MB. Whole benchmark {wall_s / 60:.1f} min.", "",
             table(rows), ""]
    for r in rows:
        lines += [details(r), ""]
        verdict = "over the goal" if r.over_goal else "within the goal"
        lines += [f"N = {r.setup.n:,}: {'PASS' if r.correct else 'FAIL'}, {verdict}.", ""]
    for p in profiles:
        lines += [profile_text(p), ""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731 (progress, not the result)
    work_dir, started = tempfile.mkdtemp(prefix="bench-reconcile-"), time.monotonic()
    say(f"reconciliation benchmark: N {args.users}; work dir {work_dir}")
    rows, profiles = [], []
    try:
        with running(work_dir) as (graph, auth0):
            for n in args.users:
                row, profile = run_n(graph, auth0, work_dir, n, args, say)
                rows.append(row)
                if profile:
                    profiles.append(dict(profile, n=n))
    except Exception:
        say(f"work dir kept for its logs: {work_dir}")
        raise
    text = render(argv, rows, profiles, time.monotonic() - started)
    print(text, end="")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text)
    if args.keep:
        say(f"work dir kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if all(r.correct for r in rows) else 1


if __name__ == "__main__":
    stop_children_on_sigterm()
    sys.exit(main())
