"""Rule import at scale: N Rule-era Auth0 users × N Entra accounts with 1 % debris of every class.

Both emulators are seeded the way the Rule left a tenant (setup, not timed): UUID-string ImmutableIDs,
auth0-<uuid> UPNs, renamed and unlicensed accounts, failed logins' leftovers (half of them beside the
person's working account), accounts of deleted and blocked Auth0 users, accounts in deleted items and
purged ones, plus look-alikes that must not be reported (the companion's own accounts, hand-made ones).
Then `rule_import` runs in fresh processes with `--report FILE.json`: a dry run timed, the same dry run
under tracemalloc, `--apply`, and a last dry run that must find only the proposals still awaiting
approval. Findings are compared with the planted set exactly.
Usage: .venv/bin/python bench/rule_import.py [--users N ...] [--quick]   (see README)
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import _rule_import_plan as P, stop_children_on_sigterm  # noqa: E402
from bench.reconcile import _calls, _routes, _write, machine, running  # noqa: E402

GOAL_S, GOAL_MB = 60.0, 300.0
PAGE = 999
MB = 1024 * 1024
OUT = os.path.join(ROOT, "bench", "out", "rule_import.md")
CHILD = os.path.join(ROOT, "bench", "_rule_import_child.py")
USER_PAGES = "GET /v1.0/users"
PROPOSED = ("leftover", "gone_in_auth0", "missing_in_entra")


def parse_args(argv):
    """Command-line options; N defaults to 100,000 (10,000 with --quick)."""
    p = argparse.ArgumentParser(prog="bench/rule_import.py", description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, nargs="+", help="N (default 100000); several values give several rows")
    p.add_argument("--quick", action="store_true", help="N = 10,000")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, SQLite, reports)")
    args = p.parse_args(argv)
    args.users = args.users or ([10_000] if args.quick else [100_000])
    return args


def child(mode, job_path, out_path):
    """Run bench/_rule_import_child.py in one mode; its JSON result."""
    done = subprocess.run([sys.executable, CHILD, mode, job_path, out_path], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} step failed ({done.returncode}):\n{done.stderr[-4000:]}")
    with open(out_path, encoding="utf-8") as fh:
        return json.load(fh)


def found_keys(result):
    """The finding keys of a measured run, read from its JSON report (then the report is removed)."""
    with open(result["report"], encoding="utf-8") as fh:
        keys = [P.finding_key(f) for f in json.load(fh)["findings"]]
    os.remove(result["report"])
    return keys


def check(expected, got):
    """Per class: (expected, found, missing, unexpected); and whether the two lists are the same set."""
    want, have = set(expected), set(got)
    classes = sorted({k[0] for k in want | have})
    rows = {c: (sum(k[0] == c for k in want), sum(k[0] == c for k in got), len([k for k in want - have if k[0] == c]),
                len([k for k in have - want if k[0] == c])) for c in classes}
    return rows, want == have and len(got) == len(have)


def run_n(graph, auth0, work_dir, n, say):
    """Seed one N, then the four measured runs; rows for the table and the per-class checks."""
    urls = {"graph_url": graph.url, "graph_ca": graph.verify, "auth0_url": auth0.url}
    seeded = child("seed", _write(os.path.join(work_dir, f"seed-{n}.json"), {"n": n, **urls}),
                   os.path.join(work_dir, f"seeded-{n}.json"))
    expected = [tuple(k) for k in seeded.pop("expected")]
    env = seeded.pop("env")
    say(f"  N {n}: seeded in {seeded['seconds']:.1f} s ({seeded['entra_users']} listed accounts, "
        f"{seeded['auth0_users']} Auth0 users, {seeded['links']} links)")
    rows = []
    # What --apply leaves for a person to approve; restored accounts are adopted, so no longer missing.
    after_apply = [k for k in expected if k[0] in PROPOSED and not (k[0] == "missing_in_entra" and k[2])]
    for label, mode, apply, want in (("dry run", "time", False, expected), ("dry run (traced)", "trace", False, expected),
                                     ("--apply", "time", True, expected), ("dry run after --apply", "time", False,
                                                                           after_apply)):
        job = _write(os.path.join(work_dir, f"job-{n}-{len(rows)}.json"), {"env": env, "apply": apply, **urls})
        result = child(mode, job, os.path.join(work_dir, f"result-{n}-{len(rows)}.json"))
        classes, ok = check(want, found_keys(result))
        rows.append({"n": n, "label": label, "result": result, "classes": classes, "expected": len(want),
                     "correct": ok and result["status"] == "done"})
        say(f"  N {n}: {label}: {result['wall_s']:.1f} s, {'PASS' if rows[-1]['correct'] else 'FAIL'}")
    return seeded, rows


def table(rows):
    """The Markdown result table, one row per measured run."""
    lines = ["| N | run | wall s | companion CPU s | peak MB (tracemalloc) | max RSS MB | Graph calls (user pages / ⌈N/999⌉) "
             "| Auth0 calls | findings expected / found | correct |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        res = r["result"]
        peak = f"{res['tracemalloc_peak_bytes'] / MB:.1f}" if res["tracemalloc_peak_bytes"] else "—"
        found = sum(v for v in res["summary"].get("by_class", {}).values())
        lines.append(f"| {r['n']:,} | {r['label']} | {res['wall_s']:.1f} | {res['cpu_s']:.1f} | {peak} | {res['max_rss_after_kb'] / 1024:.0f} "
                     f"| {_calls(res['graph'])} ({res['graph'].get(USER_PAGES, 0)} / {math.ceil(r['n'] / PAGE)}) "
                     f"| {_calls(res['auth0'])} | {r['expected']:,} / {found:,} | {'PASS' if r['correct'] else 'FAIL'} |")
    return "\n".join(lines)


def details(n, seeded, rows):
    """What was seeded, the requests by route and the per-class check of each run."""
    lines = [f"**N = {n:,}**: seeded in {seeded['seconds']:.1f} s — " + ", ".join(
        f"{k} {v}" for k, v in seeded["counts"].items()) + f"; {seeded['links']} identity links.", ""]
    for r in rows:
        res = r["result"]
        lines += [f"*{r['label']}*: Graph {_routes(res['graph'])}; Auth0 {_routes(res['auth0'])}.", "",
                  "| class | expected | found | missing | unexpected |", "|---|---|---|---|---|"]
        lines += [f"| {c} | {w} | {g} | {m} | {x} |" for c, (w, g, m, x) in r["classes"].items()] + [""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731 (progress, not the result)
    work_dir, started = tempfile.mkdtemp(prefix="bench-rule-import-"), time.monotonic()
    say(f"rule-import benchmark: N {args.users}; work dir {work_dir}")
    all_rows, texts = [], []
    try:
        with running(work_dir) as (graph, auth0):
            for n in args.users:
                seeded, rows = run_n(graph, auth0, work_dir, n, say)
                all_rows += rows
                texts.append(details(n, seeded, rows))
    except Exception:
        say(f"work dir kept for its logs: {work_dir}")
        raise
    over = [r for r in all_rows if r["result"]["wall_s"] > GOAL_S or r["result"]["max_rss_after_kb"] / 1024 > GOAL_MB]
    text = "\n".join([f"Command: `.venv/bin/python bench/rule_import.py {' '.join(argv)}`".replace(" `", " `"), "",
                      f"Machine: {machine()}. Emulators without latency or spec checks; companion in-process on "
                      f"SQLite; every run writes its JSON report. Goal: under {GOAL_S:.0f} s and {GOAL_MB:.0f} MB "
                      f"({'met by every run' if not over else f'{len(over)} run(s) over'}). "
                      f"Whole benchmark {(time.monotonic() - started) / 60:.1f} min.", "", table(all_rows), "",
                      *texts])
    print(text)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    if args.keep:
        say(f"work dir kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if all(r["correct"] for r in all_rows) else 1


if __name__ == "__main__":
    stop_children_on_sigterm()
    sys.exit(main())
