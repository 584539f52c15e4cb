"""What a login storm costs the companion: its processes' CPU and memory, and a returning user's reads.

CPU and memory come from /proc for the gunicorn masters and their workers only (the emulators, the
browsers and this script are other processes), so they are the service's own rusage.
"""
import multiprocessing
import os
import threading
import time

import requests
from jose import jwt
from service import sandbox, tokens
from tests.support.databases import PgSchema  # noqa: F401 (the two-instance run's throw-away schema)

CLK_TCK = os.sysconf("SC_CLK_TCK")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def _stat(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK  # ppid, utime + stime (s)


def _rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        line = next((x for x in fh if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


class Service:
    """The companion's processes: the gunicorn masters given and every worker they forked."""

    def __init__(self, master_pids):
        self.masters = set(master_pids)

    def pids(self):
        found = set(self.masters)
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if _stat(int(name))[0] in self.masters:
                        found.add(int(name))
                except (OSError, IndexError):
                    continue
        return found

    def _sum(self, read):
        total = 0.0
        for pid in self.pids():
            try:
                total += read(pid)
            except OSError:
                continue  # a worker that exited between listing and reading
        return total

    def cpu_s(self):
        """User + system CPU seconds of all service processes so far."""
        return self._sum(lambda pid: _stat(pid)[1])

    def rss_mb(self):
        """Resident memory of all service processes now."""
        return self._sum(_rss_mb)


class Watch(threading.Thread):
    """During a storm: the service's peak RSS (here), and a returning user's status reads, timed in a
    process of their own: that person's browser does not share an interpreter with the 200 others."""

    def __init__(self, service, status_url, user_id, every_s=0.05, rss_every_s=0.2):
        super().__init__(daemon=True)  # a read every 50 ms: ~90 per storm, enough for a steady p95
        self.service, self.url, self.user_id, self.rss_every_s = service, status_url, user_id, rss_every_s
        self.peak_mb, self.reads, self.bad = 0.0, [], 0
        self._halt = threading.Event()
        spawn = multiprocessing.get_context("spawn")
        self._reading, self._stop_reads, self._results = spawn.Event(), spawn.Event(), spawn.Queue()
        self._reader = spawn.Process(target=read_status, daemon=True, args=(
            status_url, user_id, every_s, self._reading, self._stop_reads, self._results))

    def start(self):
        self._reader.start()
        if not self._reading.wait(60):  # the storm starts once the returning user is reading
            raise RuntimeError("the status reader did not start")
        super().start()

    def run(self):
        while not self._halt.wait(self.rss_every_s):
            self.peak_mb = max(self.peak_mb, self.service.rss_mb())

    def stop(self):
        self._halt.set()
        self._stop_reads.set()
        self.reads, self.bad = self._results.get(timeout=60)
        self._reader.join(30)
        self.join(30)


def read_status(url, user_id, every_s, reading, stop, results):
    """A returning user's status reads every every_s until stop is set: (seconds each, non-200 count)."""
    http = requests.Session()
    http.trust_env = False
    headers, reads, bad = bearer(user_id), [], 0
    http.get(url, headers=headers, timeout=30)  # connected and warm, like the Watch thread was before
    reading.set()
    while not stop.wait(every_s):
        started = time.monotonic()
        resp = http.get(url, headers=headers, timeout=30)
        reads.append(time.monotonic() - started)
        bad += resp.status_code != 200
    results.put((reads, bad))


def bearer(user_id):
    """An Action-style token for the companion's JSON API."""
    now = int(time.time())
    claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": user_id, "iat": now,
              "exp": now + 600}
    return {"Authorization": "Bearer " + jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")}


def make_ready(url, user, timeout_s=120):
    """Provision one user through the API and wait until it is ready (the storm's returning user)."""
    http = requests.Session()
    http.trust_env = False
    body = {k: v for k, v in user.items() if k not in ("strategy",)}
    http.post(f"{url}/v1/o365/provision", json={**body, "mode": "async"}, headers=bearer(user["user_id"]),
              timeout=30)
    status_url = f"{url}/v1/o365/provision/{requests.utils.quote(user['user_id'], safe='')}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if http.get(status_url, headers=bearer(user["user_id"]), timeout=30).status_code == 200:
            return status_url
        time.sleep(0.25)
    raise RuntimeError("the returning user never became ready")
