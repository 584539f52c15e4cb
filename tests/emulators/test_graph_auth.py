"""Graph emulator: the Entra v2.0 token endpoint (secrets, certificate assertions) and OpenID metadata."""
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from msal.oauth2cli.assertion import JwtAssertionCreator
from werkzeug.test import Client

from emulators.graph import GraphConfig, create_app
from tests.support.certs import self_signed
from tests.support.emulators import GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID

TOKEN_PATH = f"/{GRAPH_TENANT_ID}/oauth2/v2.0/token"
ENDPOINT = f"http://localhost{TOKEN_PATH}"
SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """(private key PEM, certificate, path of the certificate PEM)."""
    pem, cert = self_signed()
    path = tmp_path_factory.mktemp("cert") / "client.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pem, cert, str(path)


@pytest.fixture
def client(certificate):
    return Client(create_app(GraphConfig(client_cert_pem=certificate[2])))


def token(client, **form):
    data = {"grant_type": "client_credentials", "client_id": GRAPH_CLIENT_ID, "client_secret": GRAPH_CLIENT_SECRET,
            "scope": SCOPE}
    data.update(form)
    return client.post(TOKEN_PATH, data={k: v for k, v in data.items() if v is not None})


def test_secret_grant_gives_a_graph_token_for_3599_seconds(client):
    reply = token(client)
    assert reply.status_code == 200 and reply.json["token_type"] == "Bearer" and reply.json["expires_in"] == 3599
    claims = jwt.get_unverified_claims(reply.json["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com" and claims["appid"] == GRAPH_CLIENT_ID
    assert claims["tid"] == GRAPH_TENANT_ID and claims["exp"] - claims["iat"] == 3599
    users = client.get("/v1.0/users", headers={"Authorization": f"Bearer {reply.json['access_token']}"})
    assert users.status_code == 200


@pytest.mark.parametrize("form, status, error, code", [
    ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"scope": "https://graph.microsoft.com/User.Read"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://example.org/.default"}, 400, "invalid_resource", 500011),
    ({"scope": None}, 400, "invalid_request", 900144),
    ({"client_secret": None}, 401, "invalid_client", 7000218),
])
def test_token_errors_carry_aadsts_codes(client, form, status, error, code):
    reply = token(client, **form)
    assert reply.status_code == status and reply.json["error"] == error
    assert reply.json["error_codes"] == [code] and reply.json["error_description"].startswith(f"AADSTS{code}:")


def test_unknown_tenant_is_refused_but_domain_names_are_aliases(client):
    assert token(client).status_code == 200
    assert client.post("/contoso.onmicrosoft.com/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": GRAPH_CLIENT_ID, "client_secret": GRAPH_CLIENT_SECRET,
        "scope": SCOPE}).status_code == 200
    other = client.post("/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token", data={})
    assert other.status_code == 400 and other.json["error_codes"] == [90002]


@pytest.mark.parametrize("algorithm", ["PS256", "RS256"])
def test_certificate_assertion_as_msal_signs_it(client, certificate, algorithm):
    pem, cert, _ = certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    thumb = {"sha256_thumbprint": hashlib.sha256(der).hexdigest()} if algorithm == "PS256" else \
        {"sha1_thumbprint": hashlib.sha1(der).hexdigest()}
    assertion = JwtAssertionCreator(pem, algorithm=algorithm, **thumb).create_normal_assertion(
        audience=ENDPOINT, issuer=GRAPH_CLIENT_ID)
    form = {"client_secret": None, "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    reply = token(client, **form)
    assert reply.status_code == 200, reply.json
    assert jwt.get_unverified_claims(reply.json["access_token"])["appidacr"] == "2"


def test_assertion_from_another_key_or_audience_is_refused(client, certificate):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    kind = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    forged = JwtAssertionCreator(other, algorithm="RS256").create_normal_assertion(
        audience=ENDPOINT, issuer=GRAPH_CLIENT_ID)
    reply = token(client, client_secret=None, client_assertion=forged, client_assertion_type=kind)
    assert reply.status_code == 401 and reply.json["error_codes"] == [700027]
    elsewhere = JwtAssertionCreator(certificate[0], algorithm="RS256").create_normal_assertion(
        audience="https://example.org/token", issuer=GRAPH_CLIENT_ID)
    reply = token(client, client_secret=None, client_assertion=elsewhere, client_assertion_type=kind)
    assert reply.status_code == 401 and reply.json["error_codes"] == [700021]


def test_openid_metadata_and_keys_verify_the_tokens(client):
    meta = client.get(f"/{GRAPH_TENANT_ID}/v2.0/.well-known/openid-configuration").json
    assert meta["token_endpoint"] == ENDPOINT
    assert meta["authorization_endpoint"].endswith(f"/{GRAPH_TENANT_ID}/oauth2/v2.0/authorize")
    keys = client.get(meta["jwks_uri"].removeprefix("http://localhost")).json
    access = token(client).json["access_token"]
    claims = jwt.decode(access, keys, algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert claims["roles"] and claims["idtyp"] == "app"


def test_expired_tokens_are_refused(client):
    client.patch("/_emulator/config", json={"token_lifetime_s": 0})
    access = token(client).json["access_token"]
    reply = client.get("/v1.0/users", headers={"Authorization": f"Bearer {access}"})
    assert reply.status_code == 401 and "expired" in reply.json["error"]["message"]
