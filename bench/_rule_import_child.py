"""The rule-import benchmark's steps, each in a fresh process so that its memory figures are its own.

Usage (by bench/rule_import.py): python bench/_rule_import_child.py MODE JOB.json OUT.json, MODE one of
  seed   seed both emulators and the link table (bench/_rule_import_seed.py)
  time   one `rule_import(ctx)` (dry run unless the job says apply), with --report FILE.json: wall time,
         peak RSS, emulator requests
  trace  the same run under tracemalloc, for its peak of Python allocations
The measured runs are forked after the imports, as bench/_reconcile_child.py explains.
"""
import json
import os
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench._reconcile_child import _diff, _max_rss_kb, _requests, _status_kb, _write, forked  # noqa: E402


def measure(mode, job, out_path):
    """One measured run; everything the report needs, the report file's path included."""
    from service.companion import Companion
    from service.reconcile import runs
    from service.rule_import.run import rule_import
    from service.settings import from_env
    from service.sync.context import SyncContext
    ctx = SyncContext(Companion.build(from_env(job["env"])))
    report = f"{out_path}.report.json"
    graph_before, auth0_before = _requests(job["graph_url"], job["graph_ca"]), _requests(job["auth0_url"], True)
    rss_before = _status_kb("VmRSS")
    if mode == "trace":
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    run_id = rule_import(ctx, apply=job.get("apply", False), report_path=report)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else None
    tracemalloc.stop()
    run = runs.get(ctx.store, run_id)
    return {"mode": mode, "wall_s": wall, "cpu_s": cpu, "tracemalloc_peak_bytes": peak, "rss_before_kb": rss_before,
            "hwm_kb": _status_kb("VmHWM"), "max_rss_after_kb": _max_rss_kb(),
            "graph": _diff(_requests(job["graph_url"], job["graph_ca"]), graph_before),
            "auth0": _diff(_requests(job["auth0_url"], True), auth0_before),
            "status": run.status, "summary": run.summary, "report": report}


def main(mode, job_path, out_path):
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    if mode == "seed":
        from bench._rule_import_seed import seed_all
        _write(out_path, seed_all(job, os.path.dirname(os.path.abspath(out_path))))
    elif mode in ("time", "trace"):
        forked(lambda: measure(mode, job, out_path), out_path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
