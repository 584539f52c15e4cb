"""Shared HTTP plumbing for the outbound clients: sessions, retry policy, server wait hints."""
import dataclasses
import email.utils
import logging
import random
import time

import requests

from service import metrics
from service.errors import AuthFailed

log = logging.getLogger(__name__)

# Transport failures worth another try: refused/reset connections, time-outs, a body cut short.
RETRYABLE_EXCEPTIONS = (requests.ConnectionError, requests.Timeout,
                        requests.exceptions.ChunkedEncodingError)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one logical call may be retried."""

    max_attempts: int = 5          # sends in total, the first included
    max_total_wait_s: float = 60.0  # sleeping between sends, summed
    base_s: float = 0.5             # first back-off step without a server hint
    cap_s: float = 16.0             # largest single back-off step without a server hint
    hint_jitter: float = 0.1        # fraction added on top of a server's wait hint, never below it

    def backoff(self, retry_index, rng=random):
        """Exponential back-off with equal jitter for the n-th retry (1-based)."""
        step = min(self.cap_s, self.base_s * (2 ** (retry_index - 1)))
        return step / 2 + rng.uniform(0, step / 2)

    def after_hint(self, hint_s, rng=random):
        """Wait at least what the server asked for, plus a little jitter so clients do not stampede."""
        return hint_s + rng.uniform(0, self.hint_jitter * hint_s)


POOL_SIZE = 32


def make_session(ca_bundle):
    """A requests session that trusts ca_bundle (or certifi) and ignores REQUESTS_CA_BUNDLE/proxies.

    requests lets the REQUESTS_CA_BUNDLE environment variable override `Session.verify` unless trust_env
    is off (DESIGN.md, "The sandbox"), so the configured bundle would silently be ignored.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle or True
    # One session serves every thread of a gunicorn worker (16 by default): keep that many connections.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def header(headers, name):
    """Case-insensitive header lookup that works on plain dicts too (e.g. $batch inner headers)."""
    if not headers:
        return None
    if hasattr(headers, "lower_items"):
        return headers.get(name)
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def json_body(resp):
    """The decoded JSON body of a response, or None when it is empty or not JSON."""
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def retry_after_s(headers, now=None):
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), or None."""
    raw = header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(str(raw).strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def ratelimit_reset_s(headers, now=None):
    """Seconds until Auth0's x-ratelimit-reset (UNIX epoch seconds), or None."""
    raw = header(headers, "x-ratelimit-reset")
    try:
        reset = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return max(0.0, reset - (time.time() if now is None else now))


class Retrier:
    """Runs one logical call: sends, decides whether to retry, sleeps, gives up within the budget."""

    def __init__(self, policy, sleep=time.sleep, rng=None, name="http"):
        self.policy, self.sleep, self.name = policy, sleep, name
        self.rng = rng or random.Random()

    def run(self, send, *, retry_status, hint=None, label=""):
        """Return the first response not worth retrying, or the last one when the budget runs out.

        send() returns a requests.Response or raises a requests exception; hint(resp) gives the server's
        wait in seconds or None. A transport error on the last attempt is re-raised.
        """
        waited = 0.0
        for attempt in range(1, self.policy.max_attempts + 1):
            resp, error = self._attempt(send)
            metrics.upstream(self.name, label, resp, error)
            if error is None and resp.status_code not in retry_status:
                return resp
            if attempt == self.policy.max_attempts:
                break
            delay = self._delay(resp, attempt, hint)
            if waited + delay > self.policy.max_total_wait_s:
                break
            log.info("%s %s: retry %d after %.2fs (%s)", self.name, label, attempt, delay,
                     type(error).__name__ if error else resp.status_code)
            metrics.retry(self.name, label, resp, error)
            self.sleep(delay)
            waited += delay
        if error is not None:
            raise error
        return resp

    def _attempt(self, send):
        try:
            return send(), None
        except requests.exceptions.SSLError as exc:
            # A certificate we do not trust will not fix itself: stop at once and say what to configure.
            raise AuthFailed(f"TLS certificate of the {self.name} endpoint is not trusted: check CA_BUNDLE",
                             vendor=self.name, code="tls_verify_failed") from exc
        except RETRYABLE_EXCEPTIONS as exc:
            return None, exc

    def _delay(self, resp, attempt, hint):
        wait = hint(resp) if (hint and resp is not None) else None
        if wait is not None:
            return self.policy.after_hint(wait, self.rng)
        return self.policy.backoff(attempt, self.rng)
