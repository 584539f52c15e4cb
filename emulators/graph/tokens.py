"""Signing keys and JWT checks: the emulator's own access tokens and callers' client assertions."""
import base64
import functools
import hashlib
import json
import threading
import time
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwt
from jose.exceptions import ExpiredSignatureError, JWTError

GRAPH_AUDIENCE = "https://graph.microsoft.com"
# Application permissions the sandbox app holds (facts §12.1).
ROLES = ["User.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All", "Organization.Read.All",
         "Directory.Read.All", "IdentityRiskyUser.Read.All", "User.Invite.All"]


def b64url(data):
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text):
    """Inverse of b64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_KEY_LOCK = threading.Lock()


def signing_key():
    """(private PEM, public key, kid): one RSA key per process, so tokens outlive a reset."""
    with _KEY_LOCK:  # lru_cache alone lets two first callers make two keys and sign with the losing one
        return _signing_key()


@functools.lru_cache(maxsize=1)
def _signing_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, key.public_key(), b64url(hashlib.sha1(der).digest())


def jwks():
    """The JWKS document that lists the signing key."""
    _, public, kid = signing_key()
    numbers = public.public_numbers()
    as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")  # noqa: E731
    return {"keys": [{"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                      "n": b64url(as_bytes(numbers.n)), "e": b64url(as_bytes(numbers.e))}]}


class TokenIssuer:
    """Mints Graph access tokens for the sandbox app and verifies them (with a small cache)."""

    def __init__(self, tenant_id, client_id):
        self.tenant_id, self.client_id = tenant_id, client_id
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self._cache, self._lock = {}, threading.Lock()

    def mint(self, lifetime, via_certificate):
        """A v1.0 app-only token for Graph, shaped like Entra's."""
        pem, _, kid = signing_key()
        now = int(time.time())
        sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{self.client_id}"))
        claims = {"aud": GRAPH_AUDIENCE, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + lifetime,
                  "appid": self.client_id, "appidacr": "2" if via_certificate else "1", "idp": self.issuer,
                  "idtyp": "app", "oid": sp_id, "sub": sp_id, "roles": ROLES, "tid": self.tenant_id,
                  "uti": b64url(uuid.uuid4().bytes), "ver": "1.0", "app_displayname": "Entra Companion (sandbox)"}
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid, "x5t": kid})

    def verify(self, token):
        """The token's claims; raises ValueError with Graph's reason when it is not acceptable."""
        hit = self._cache.get(token)
        if hit is not None and hit["exp"] > time.time():
            return hit
        _, public, _ = signing_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        try:
            claims = jwt.decode(token, pem, algorithms=["RS256"], audience=GRAPH_AUDIENCE, issuer=self.issuer)
        except ExpiredSignatureError:
            raise ValueError("Lifetime validation failed, the token is expired.") from None
        except JWTError:
            raise ValueError("Invalid JWT token. The token signature or claims could not be validated.") from None
        if claims["exp"] <= time.time():  # jose accepts exp == now; Entra's lifetime check does not
            raise ValueError("Lifetime validation failed, the token is expired.")
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[token] = claims
        return claims


class TrustedCertificate:
    """A client certificate whose key may sign client assertions (RS256 or PS256, as msal sends)."""

    def __init__(self, pem_path):
        with open(pem_path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        self.public_key = cert.public_key()
        der = cert.public_bytes(serialization.Encoding.DER)
        self.thumbprints = {"x5t": b64url(hashlib.sha1(der).digest()),
                            "x5t#S256": b64url(hashlib.sha256(der).digest())}

    def verify(self, assertion):
        """(header, claims) of a correctly signed assertion; raises ValueError otherwise."""
        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            header = json.loads(b64url_decode(head_b64))
            claims = json.loads(b64url_decode(body_b64))
            signature = b64url_decode(sig_b64)
        except ValueError:
            raise ValueError("malformed") from None
        for name, value in self.thumbprints.items():
            # msal keeps the base64 padding on thumbprints; JOSE omits it: compare without it.
            if name in header and str(header[name]).rstrip("=") != value:
                raise ValueError("unknown certificate")
        signed = f"{head_b64}.{body_b64}".encode()
        pads = {"RS256": padding.PKCS1v15(),
                "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)}
        if header.get("alg") not in pads:
            raise ValueError("unsupported algorithm")
        try:
            self.public_key.verify(signature, signed, pads[header["alg"]], hashes.SHA256())
        except InvalidSignature:
            raise ValueError("signature") from None
        return header, claims
