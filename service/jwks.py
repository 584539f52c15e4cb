"""The Auth0 tenant's JWKS, cached (cachetools) and re-read once when an unknown key id appears."""
import threading
import time

from cachetools import TTLCache

from service.tokens import TokenRejected


class Jwks:
    """Signing keys by kid, for verifying RS256 access tokens issued by the tenant."""

    def __init__(self, fetch, ttl_s=600.0):
        self.fetch = fetch
        self._cache = TTLCache(maxsize=1, ttl=ttl_s, timer=time.monotonic)
        self._lock = threading.Lock()

    def _keys(self, fresh=False):
        with self._lock:
            if fresh or "keys" not in self._cache:
                self._cache["keys"] = {k.get("kid"): k for k in self.fetch() if k.get("kty") == "RSA"}
            return self._cache["keys"]

    def key_for(self, kid):
        """The JWK for kid; a rotation is picked up by one fresh read."""
        key = self._keys().get(kid) or self._keys(fresh=True).get(kid)
        if key is None:
            raise TokenRejected("The access token is signed with a key the tenant does not publish.")
        return key
