"""Certificate credentials: msal signs a client assertion with the PEM's key; Entra (emulated) checks it."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from service.clients.graph import GraphClient
from service.errors import AuthFailed
from tests.clients.sandbox import LEE_ID, graph_settings
from tests.support.emulators import start_graph


def _key_and_cert(common_name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def cert_graph(tmp_path_factory):
    """A Graph emulator whose app registration trusts one certificate; yields (emulator, PEM path)."""
    tmp = tmp_path_factory.mktemp("graph-cert")
    key_pem, cert_pem = _key_and_cert("companion-sandbox")
    (tmp / "registered-cert.pem").write_bytes(cert_pem)
    (tmp / "app.pem").write_bytes(key_pem + cert_pem)  # what ENTRA_CERT_PATH holds: key + certificate
    other_key, other_cert = _key_and_cert("someone-else")
    (tmp / "other.pem").write_bytes(other_key + other_cert)
    emu = start_graph(str(tmp), "--client-cert-pem", str(tmp / "registered-cert.pem"))
    yield emu, tmp
    found = emu.violations()
    emu.stop()
    assert not found, found[:5]


def test_certificate_credential_gets_a_token(cert_graph):
    emu, tmp = cert_graph
    client = GraphClient.from_settings(graph_settings(emu, entra_client_secret=None,
                                                    entra_cert_path=str(tmp / "app.pem")))
    assert client.get_user(LEE_ID)["id"] == LEE_ID


def test_an_unregistered_certificate_is_auth_failed(cert_graph):
    emu, tmp = cert_graph
    client = GraphClient.from_settings(graph_settings(emu, entra_client_secret=None,
                                                    entra_cert_path=str(tmp / "other.pem")))
    with pytest.raises(AuthFailed) as caught:
        client.get_user(LEE_ID)
    assert caught.value.code.startswith("AADSTS7000")
    assert "PRIVATE KEY" not in str(caught.value) and "PRIVATE KEY" not in repr(caught.value.log_fields())
