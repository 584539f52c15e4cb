"""The Auth0 tenant's JWKS, cached (cachetools) and re-read once when an unknown key id appears."""
from service.cache import cached_value
from service.tokens import TokenRejected


class Jwks:
    """Signing keys by kid, for verifying RS256 access tokens issued by the tenant."""

    def __init__(self, fetch, ttl_s=600.0):
        self._cached = cached_value(lambda: {k.get("kid"): k for k in fetch() if k.get("kty") == "RSA"}, ttl_s)

    def _keys(self, fresh=False):
        if fresh:
            self._cached.cache_clear()
        return self._cached()

    def key_for(self, kid):
        """The JWK for kid; a rotation is picked up by one fresh read."""
        key = self._keys().get(kid) or self._keys(fresh=True).get(kid)
        if key is None:
            raise TokenRejected("The access token is signed with a key the tenant does not publish.")
        return key
