"""Auth0 users export jobs: wait for completion with back-off, then stream the gzip NDJSON file."""
import dataclasses
import gzip
import io
import json
import logging

from service.clients._http import RETRYABLE_EXCEPTIONS
from service.errors import Transient

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
# Status values of an Auth0 job (facts/auth0.md §3.4); anything else is still running.
DONE, FAILED = "completed", "failed"


@dataclasses.dataclass(frozen=True)
class ExportPoll:
    """How an export job is polled: first wait, growth, largest wait, and the total budget."""

    first_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 10.0
    budget_s: float = 900.0


def wait_for_job(get_job, poll, sleep):
    """Poll get_job() with growing waits until the job completes; Transient if it fails or times out."""
    delay, waited = poll.first_s, 0.0
    while True:
        job = get_job()
        status = job.get("status")
        if status == DONE and job.get("location"):
            return job
        if status == FAILED:
            raise Transient(f"Auth0 export job {job.get('id')} failed", vendor="auth0", code="job_failed")
        if waited + delay > poll.budget_s:
            raise Transient(f"Auth0 export job {job.get('id')} still {status} after {waited:.0f}s",
                            vendor="auth0", code="job_timeout")
        sleep(delay)
        waited += delay
        delay = min(poll.cap_s, delay * poll.factor)


def _open(url, session, retrier, timeout):
    def send():
        return session.get(url, stream=True, timeout=timeout)
    try:
        resp = retrier.run(send, retry_status=frozenset({429, 500, 502, 503, 504}), label="GET export file")
    except RETRYABLE_EXCEPTIONS as exc:
        raise Transient("Auth0 export file unreachable", vendor="auth0", code=type(exc).__name__) from exc
    if resp.status_code >= 400:
        resp.close()
        # The link lives 60 s (facts/auth0.md §3.4): an expired link means "start a new export".
        raise Transient(f"Auth0 export file refused (HTTP {resp.status_code}); start a new export",
                        vendor="auth0", code="export_download_failed", http_status=resp.status_code)
    return resp


def _readable(resp):
    """A buffered byte stream of the body with every gzip layer removed (file or transfer encoding)."""
    resp.raw.decode_content = False  # unwrap gzip ourselves, whichever header the server sent
    resp.raw.auto_close = False  # else urllib3 closes at EOF and gzip's end-of-member probe fails
    stream = io.BufferedReader(resp.raw, 64 * 1024)
    while stream.peek(2)[:2] == GZIP_MAGIC:
        stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), 64 * 1024)
    return stream


def stream_ndjson(url, session, retrier, timeout):
    """Yield each JSON object of an NDJSON (optionally gzip) file, reading it in small chunks."""
    resp = _open(url, session, retrier, timeout)
    try:
        for line in io.TextIOWrapper(_readable(resp), encoding="utf-8"):
            line = line.strip()
            if line:
                yield json.loads(line)
    finally:
        resp.close()
