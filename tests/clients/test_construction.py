"""Building the clients from settings, and the certificate credential for msal."""
import types

from cryptography.hazmat.primitives import hashes, serialization

from service.clients.auth0 import Auth0Client
from service.clients.entra import MICROSOFT_AUTHORITY_HOSTS, EntraTokens, certificate_credential
from service.clients.graph import GraphClient
from tests.support.certs import self_signed


def _settings(**over):
    base = dict(entra_tenant_id="tid", entra_client_id="cid", entra_client_secret="sec",
                entra_cert_path=None, entra_cert_thumbprint=None,
                entra_authority_host="https://login.microsoftonline.com",
                graph_base_url="https://graph.microsoft.com", ca_bundle="/tmp/ca.pem", http_timeout=7.0,
                auth0_domain="acme.eu.auth0.com", auth0_client_id="a0c", auth0_client_secret="a0s",
                auth0_api_base_url="http://127.0.0.1:1234", dry_run=True)
    base.update(over)
    return types.SimpleNamespace(**base)


def test_graph_from_settings_wires_tls_timeout_and_dry_run():
    client = GraphClient.from_settings(_settings())
    assert client.api == "https://graph.microsoft.com/v1.0"
    assert client.timeout == 7.0 and client.dry_run is True
    # REQUESTS_CA_BUNDLE must not override the configured bundle (DESIGN.md, "The sandbox").
    assert client.session.verify == "/tmp/ca.pem" and client.session.trust_env is False
    tokens = client.tokens
    assert isinstance(tokens, EntraTokens)
    assert tokens.authority == "https://login.microsoftonline.com/tid"
    assert tokens._session.verify == "/tmp/ca.pem" and tokens._session.trust_env is False


def test_default_trust_is_certifi_not_the_environment():
    client = GraphClient.from_settings(_settings(ca_bundle=None))
    assert client.session.verify is True and client.session.trust_env is False


def test_auth0_from_settings():
    client = Auth0Client.from_settings(_settings())
    assert client.api == "http://127.0.0.1:1234/api/v2"
    assert client.audience == "https://acme.eu.auth0.com/api/v2/"
    assert client.dry_run is True and client.timeout == 7.0


def test_login_microsoftonline_is_a_known_authority():
    assert "login.microsoftonline.com" in MICROSOFT_AUTHORITY_HOSTS
    assert "127.0.0.1" not in MICROSOFT_AUTHORITY_HOSTS


def _pem_with_cert(tmp_path):
    pem, cert = self_signed("companion")
    path = tmp_path / "app.pem"
    path.write_bytes(pem + cert.public_bytes(serialization.Encoding.PEM))
    return str(path), cert.fingerprint(hashes.SHA1()).hex()


def test_certificate_credential_reads_the_pem_and_derives_the_thumbprint(tmp_path):
    path, sha1 = _pem_with_cert(tmp_path)
    cred = certificate_credential(path)
    assert cred["thumbprint"] == sha1 and "PRIVATE KEY" in cred["private_key"]
    assert certificate_credential(path, "AB:CD:EF")["thumbprint"] == "abcdef"


def test_both_clients_build_from_the_real_settings_object():
    from service.settings import from_env
    env = {"AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CLIENT_ID": "a0c", "AUTH0_CLIENT_SECRET": "a0s",
           "ENTRA_TENANT_ID": "8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b",
           "ENTRA_CLIENT_ID": "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "ENTRA_CLIENT_SECRET": "sec",
           "COMPANION_SECRET": "x" * 32, "COMPANION_PUBLIC_URL": "https://companion.example.com",
           "O365_DOMAIN": "partners.example.com", "O365_USAGE_LOCATION": "GB",
           "O365_LICENSE_SKU": "ENTERPRISEPACK", "DRY_RUN": "true"}
    settings = from_env(env)
    graph = GraphClient.from_settings(settings)
    auth0 = Auth0Client.from_settings(settings)
    assert graph.dry_run and auth0.dry_run
    assert auth0.api == "https://acme.eu.auth0.com/api/v2"
    assert graph.tokens.authority == "https://login.microsoftonline.com/8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b"
