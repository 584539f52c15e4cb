"""The Auth0 tenant's JWKS, cached (cachetools) and re-read on an unknown key id at most once per interval."""
import threading
import time

from service.cache import cached_value
from service.errors import Transient
from service.tokens import TokenRejected

REFRESH_INTERVAL_S = 30.0  # whatever callers send, the tenant sees at most one JWKS read per interval


class Jwks:
    """Signing keys by kid, for verifying RS256 access tokens issued by the tenant."""

    def __init__(self, fetch, ttl_s=600.0, refresh_interval_s=REFRESH_INTERVAL_S, clock=time.monotonic):
        self._cached = cached_value(lambda: {k.get("kid"): k for k in fetch() if k.get("kty") == "RSA"}, ttl_s)
        self._interval, self._clock = refresh_interval_s, clock
        self._last_forced = self._failed_at = None
        self._lock = threading.Lock()

    def _keys(self):
        """The cached keys; after a failed read, callers get 503 without a new read until the interval passed."""
        with self._lock:
            failed = self._failed_at
        if failed is not None and self._clock() - failed < self._interval:
            raise Transient("The tenant's signing keys could not be read; try again in a few seconds.",
                            vendor="auth0")
        try:
            keys = self._cached()
        except Exception:
            with self._lock:
                self._failed_at = self._clock()
            raise
        self._failed_at = None
        return keys

    def _may_refresh(self):
        """True for the first unknown kid of an interval; later ones wait (an attacker can send many)."""
        with self._lock:
            now = self._clock()
            if self._last_forced is not None and now - self._last_forced < self._interval:
                return False
            self._last_forced = now
            return True

    def key_for(self, kid):
        """The JWK for kid; a rotation is picked up by one fresh read."""
        if not isinstance(kid, str):
            raise TokenRejected("The access token names no signing key (kid).")
        key = self._keys().get(kid)
        if key is None and self._may_refresh():
            self._cached.cache_clear()
            key = self._keys().get(kid)
        if key is None:
            raise TokenRejected("The access token is signed with a key the tenant does not publish.")
        return key
