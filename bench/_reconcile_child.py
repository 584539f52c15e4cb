"""The reconciliation benchmark's work, each step in a fresh process so that memory figures are its own.

Usage (by bench/reconcile.py): python bench/_reconcile_child.py MODE JOB.json OUT.json, MODE one of
  seed     seed both emulators and the link table, plant the drift (bench/_reconcile_seed.py)
  time     one `reconcile(ctx, "dry-run")`: wall time, peak RSS, emulator requests (nothing traced)
  trace    the same run under tracemalloc, for its peak of Python allocations
  profile  the same run under cProfile; the stats go to OUT.json.pstats

Why separate processes: each N is seeded in a process of its own, so the measured one never held the
seeded data. And the measured run happens in a process forked from this one after the imports, because on
Linux getrusage's ru_maxrss survives execve: a process started by bench/reconcile.py (about 85 MB with
the service imported) would start with that parent's high-water mark as its own; a fork starts afresh
from its own RSS.
"""
import cProfile
import json
import os
import resource
import sys
import time
import traceback
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402


def _status_kb(field):
    """A VmRSS/VmHWM line of /proc/self/status, in KiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith(field + ":"))


def _max_rss_kb():
    """getrusage(RUSAGE_SELF).ru_maxrss: the process's high-water RSS (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _requests(url, verify):
    """An emulator's request counters by route, plus its 429 answers as "throttled" (GET /_emulator/stats)."""
    http = requests.Session()
    http.trust_env = False
    resp = http.get(f"{url}/_emulator/stats", verify=verify, timeout=60)
    resp.raise_for_status()
    stats = resp.json()
    return {**stats["requests"], "throttled": stats.get("throttled", 0)}


def _diff(after, before):
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}


def _run(ctx, mode, out_path):
    """reconcile() under the mode's instrument; (run id, wall seconds, tracemalloc peak bytes or None)."""
    from service.reconcile.run import reconcile
    peak, profiler = None, None
    if mode == "trace":
        tracemalloc.start()
    elif mode == "profile":
        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    run_id = reconcile(ctx, "dry-run")
    wall = time.perf_counter() - started
    if mode == "trace":
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    elif mode == "profile":
        profiler.disable()
        profiler.dump_stats(out_path + ".pstats")
    return run_id, wall, peak


def measure(mode, job, out_path):
    """One measured dry run; everything the report needs, findings included."""
    from service.companion import Companion
    from service.reconcile import runs
    from service.settings import from_env
    from service.sync.context import SyncContext
    ctx = SyncContext(Companion.build(from_env(job["env"])))
    graph_before = _requests(job["graph_url"], job["graph_ca"])
    auth0_before = _requests(job["auth0_url"], True)
    rss_before, max_before = _status_kb("VmRSS"), _max_rss_kb()
    run_id, wall, peak = _run(ctx, mode, out_path)
    hwm, max_after = _status_kb("VmHWM"), _max_rss_kb()
    run = runs.get(ctx.store, run_id)
    return {"mode": mode, "wall_s": wall, "tracemalloc_peak_bytes": peak, "rss_before_kb": rss_before,
            "hwm_kb": hwm, "max_rss_before_kb": max_before, "max_rss_after_kb": max_after,
            "graph": _diff(_requests(job["graph_url"], job["graph_ca"]), graph_before),
            "auth0": _diff(_requests(job["auth0_url"], True), auth0_before),
            "status": run.status, "summary": run.summary, "findings": run.findings}


def forked(work, out_path):
    """Run work() in a forked process that writes its JSON result to out_path; exit status 0 or raise."""
    import service.companion  # noqa: F401 (imports before the fork: the child's RSS starts with them)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _write(out_path, work())
            code = 0
        except BaseException:  # the parent reports the failure; the traceback goes to stderr
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)  # never return into the parent's stack
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the measured run failed (status {status}); see the traceback above")


def _write(path, result):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


def main(mode, job_path, out_path):
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    if mode == "seed":
        from bench._reconcile_seed import seed_all
        _write(out_path, seed_all(job, os.path.dirname(os.path.abspath(out_path))))
    elif mode in ("time", "trace", "profile"):
        forked(lambda: measure(mode, job, out_path), out_path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
