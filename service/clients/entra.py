"""App-only tokens for Microsoft Graph from Microsoft Entra ID, through one long-lived msal app."""
import logging
import re
import threading
from urllib.parse import urlparse

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from service.errors import AuthFailed, Transient

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Authority hosts msal knows; any other host (the sandbox emulator, a proxy) must skip instance discovery,
# which would otherwise call login.microsoftonline.com first (DESIGN.md, "The sandbox", trap 1).
MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.microsoftonline.us", "login.usgovcloudapi.net", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn", "login.microsoftonline.de",
})
# Token endpoint answers that mean "try again later" rather than "fix the configuration".
TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error", "throttled"})


def certificate_credential(cert_path, thumbprint=None):
    """msal's certificate credential from a PEM holding the private key and the certificate."""
    with open(cert_path, "rb") as fh:
        pem = fh.read()
    if not thumbprint:
        # Entra identifies the key by the SHA-1 thumbprint of the certificate it was registered with.
        thumbprint = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA1()).hex()
    return {"private_key": pem.decode("ascii"), "thumbprint": thumbprint.replace(":", "").lower()}


def token_error(result, secret=None):
    """Translate an msal error result into AuthFailed/Transient with a message free of secrets."""
    error = result.get("error") or "unknown_error"
    description = str(result.get("error_description") or "")
    codes = result.get("error_codes") or []
    match = re.search(r"AADSTS\d+", description)
    aadsts = f"AADSTS{codes[0]}" if codes else (match.group(0) if match else None)
    vendor_message = description.splitlines()[0] if description else None
    if secret and vendor_message:
        vendor_message = vendor_message.replace(secret, "[redacted]")
    cls = Transient if error in TRANSIENT_TOKEN_ERRORS else AuthFailed
    message = f"Entra ID refused the token request: {error}" + (f" ({aadsts})" if aadsts else "")
    if cls is AuthFailed:
        message += "; check the tenant id, client id, secret or certificate, and admin consent"
    return cls(message, vendor="entra", code=aadsts or error, vendor_message=vendor_message,
               request_id=result.get("correlation_id"))


class EntraTokens:
    """Client-credentials tokens for Graph; msal caches them and refreshes before expiry."""

    def __init__(self, *, tenant_id, client_id, authority_host="https://login.microsoftonline.com",
                 client_secret=None, cert_path=None, cert_thumbprint=None, session=None, timeout=10.0,
                 scope=GRAPH_SCOPE):
        if not client_secret and not cert_path:
            raise ValueError("Entra credentials need a client secret or a certificate")
        self.authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self.client_id, self.scope, self.timeout = client_id, scope, timeout
        self._secret = client_secret
        # Read the PEM once at start-up; the key stays in memory for msal, never in logs.
        self._credential = client_secret or certificate_credential(cert_path, cert_thumbprint)
        self._session = session or requests.Session()
        self._app, self._lock = None, threading.Lock()

    def _msal_app(self):
        # Built lazily: msal fetches the authority's OpenID metadata on construction.
        with self._lock:
            if self._app is None:
                host = urlparse(self.authority).hostname or ""
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._credential, authority=self.authority,
                    http_client=self._session, timeout=self.timeout,
                    instance_discovery=host in MICROSOFT_AUTHORITY_HOSTS)
            return self._app

    def token(self):
        """A valid access token for Graph (from msal's cache when it has one)."""
        try:
            result = self._msal_app().acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.SSLError as exc:
            raise AuthFailed("TLS certificate of the Entra authority is not trusted: check CA_BUNDLE",
                             vendor="entra", code="tls_verify_failed") from exc
        except (requests.ConnectionError, requests.Timeout, requests.HTTPError) as exc:
            raise Transient("Entra ID token endpoint unreachable", vendor="entra",
                            code=type(exc).__name__) from exc
        except ValueError as exc:
            # msal's word for an authority whose OpenID metadata answers 4xx: an unknown tenant.
            raise AuthFailed("Entra ID authority rejected: check the tenant id and authority host",
                             vendor="entra", code="authority_invalid") from exc
        if "access_token" not in result:
            raise token_error(result, self._secret)
        log.debug("graph token from %s", result.get("token_source", "unknown"))
        return result["access_token"]
