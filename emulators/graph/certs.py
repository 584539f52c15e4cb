"""A small local CA and a server certificate for 127.0.0.1/localhost, made once per cert directory.

msal accepts only https authorities (DESIGN.md, "The sandbox"), so the emulator serves TLS with a
certificate its callers can trust through the CA file; checking is never switched off.
"""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Entra Companion sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path, data, mode=0o644):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_certificates(cert_dir):
    """(server cert path, server key path); creates the CA and server pair when any file is missing."""
    # ca.pem is written last: its presence tells waiting callers that the whole set is ready.
    os.makedirs(cert_dir, exist_ok=True)
    ca_path, cert_path, key_path = (os.path.join(cert_dir, n) for n in ("ca.pem", "server.pem", "server-key.pem"))
    if all(os.path.exists(p) for p in (ca_path, cert_path, key_path)):
        return cert_path, key_path
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Entra Companion sandbox CA")
    ca_cert = (_builder(ca_name, ca_name, ca_key.public_key(), 3650)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                        x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (_builder(_name("localhost"), ca_name, key.public_key(), 825)
            .add_extension(sans, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(key_path, _pem_key(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
