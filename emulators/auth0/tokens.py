"""The tenant's signing key: client-credentials access tokens (RS256), their checks and the JWKS."""
import base64
import secrets
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError, JWTError

from emulators.auth0.errors import unauthorized


def _b64(number):
    """Unsigned big-endian base64url, as JWK members n and e want it."""
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenAuthority:
    """Signs and verifies Management API tokens with a key made at start-up (kept across resets)."""

    def __init__(self, issuer, audience):
        self.issuer, self.audience = issuer, audience
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_urlsafe(16)
        self._private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
        numbers = key.public_key().public_numbers()
        self.jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": _b64(numbers.n), "e": _b64(numbers.e)}
        self._public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self._verified = {}  # token -> claims; verifying RS256 on every call would dominate latency
        self._lock = threading.Lock()

    def issue(self, client_id, scope, lifetime_s):
        """A signed access token for the M2M client, shaped like Auth0's."""
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": f"{client_id}@clients", "aud": self.audience, "iat": now,
                  "exp": now + int(lifetime_s), "scope": scope, "gty": "client-credentials", "azp": client_id,
                  "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})

    def sign(self, claims):
        """Any claims signed RS256 with the tenant key (ID tokens, /userinfo access tokens)."""
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})

    def decode(self, token, audience):
        """Claims of a token this tenant signed for audience, or JWTError."""
        return jwt.decode(token, self._public, algorithms=["RS256"], audience=audience, issuer=self.issuer,
                          options={"verify_at_hash": False})

    def verify(self, header):
        """Claims of the bearer token in an Authorization header, or Auth0Error(401)."""
        if not header:
            raise unauthorized("Missing authentication")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Bad HTTP authentication header format")
        token = token.strip()
        with self._lock:
            claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            with self._lock:
                self._verified[token] = claims
        if claims["exp"] <= time.time():
            raise unauthorized("Expired token received for JSON Web Token validation")
        return claims

    def _decode(self, token):
        """Full JWT validation: RS256 only, signature, iss, aud, exp."""
        try:
            return jwt.decode(token, self._public, algorithms=["RS256"], audience=self.audience,
                              issuer=self.issuer)
        except ExpiredSignatureError:
            raise unauthorized("Expired token received for JSON Web Token validation") from None
        except JWTClaimsError as exc:
            raise unauthorized(f"Bad audience or issuer: {exc}") from None
        except JWTError as exc:
            if "signature" in str(exc).lower():
                raise unauthorized("Invalid signature received for JSON Web Token validation") from None
            raise unauthorized("Invalid token") from None

    def forget(self):
        """Drop the verification cache (on reset)."""
        with self._lock:
            self._verified.clear()
