"""RS256 access tokens of the tenant (COMPANION_API_AUDIENCE): explicit permissions, people act on themselves.

Tokens are signed by the Auth0 emulator with the tenant key; the companion under gunicorn reads the JWKS
from it, as it would from the tenant.
"""
import pytest
import requests

from service import identity
from service.settings import DEFAULT_IMMUTABLE_ID_NAMESPACE

from tests.e2e.conftest import Stack
from tests.support.openapi import described

AUDIENCE = "https://companion.contoso.test/api"
MACHINE = {"sub": "partner-portal@clients", "gty": "client-credentials", "azp": "partner-portal"}


@pytest.fixture(scope="module")
def started(graph_emulator, auth0_emulator, tmp_path_factory):
    """One companion for the module (tests use distinct users; the emulators are reset per test)."""
    tmp = tmp_path_factory.mktemp("rs")
    stack = Stack(graph_emulator, auth0_emulator, f"sqlite:///{tmp}/rs.db", str(tmp))
    stack.start(COMPANION_API_AUDIENCE=AUDIENCE)
    outside = []
    stack.http.hooks["response"].append(described(stack, outside))
    yield stack
    stack.stop()
    assert not outside, f"answers outside the description: {outside[:3]}"


@pytest.fixture
def rs_stack(started, graph, auth0):
    return started


def _token(auth0, kid=None, **claims):
    body = {"claims": {"aud": AUDIENCE, **claims}, **({"kid": kid} if kid else {})}
    resp = requests.post(f"{auth0.url}/_emulator/access-tokens", json=body, timeout=10)
    resp.raise_for_status()
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def _provision(stack, user_id, headers):
    return stack.http.post(f"{stack.url}/v1/o365/provision", timeout=30, headers=headers,
                           json={"user_id": user_id, "email": f"{user_id.split('|')[1]}@gmail.com", "mode": "async"})


def _status(stack, user_id, headers):
    return stack.http.get(f"{stack.url}/v1/o365/provision/{requests.utils.quote(user_id, safe='')}", timeout=30,
                          headers=headers)


def _created(stack, user_id):
    """Entra accounts made for user_id (by ImmutableID: other tests' users are made in the background)."""
    iid = identity.immutable_id(user_id, DEFAULT_IMMUTABLE_ID_NAMESPACE)
    return len([u for u in stack.graph.state()["users"] if u.get("onPremisesImmutableId") == iid])


def test_a_machine_needs_the_permission_for_each_operation(rs_stack, auth0):
    bare = _token(auth0, **MACHINE, scope="read:users")
    assert _provision(rs_stack, "google-oauth2|m1", bare).status_code == 403
    assert _created(rs_stack, "google-oauth2|m1") == 0  # refused before anything was written
    reader = _token(auth0, **MACHINE, permissions=["read:office365"])
    assert _status(rs_stack, "google-oauth2|m1", reader).status_code == 404
    may_provision = _token(auth0, **MACHINE, scope="provision:office365")
    assert _provision(rs_stack, "google-oauth2|m1", may_provision).status_code in (200, 202)
    denied = _status(rs_stack, "google-oauth2|m1", may_provision)
    assert denied.status_code == 403 and "read:office365" in denied.json()["error"]["message"]
    may_read = _token(auth0, **MACHINE, permissions=["read:office365"])
    assert _status(rs_stack, "google-oauth2|m1", may_read).status_code in (200, 202)


def test_a_person_acts_on_themselves_only(rs_stack, auth0):
    alice = _token(auth0, sub="google-oauth2|alice", permissions=["provision:office365", "read:office365"])
    other = _provision(rs_stack, "google-oauth2|victim", alice)
    assert other.status_code == 403 and other.json()["error"]["field"] == "user_id"
    assert _status(rs_stack, "google-oauth2|victim", alice).status_code == 403
    assert _created(rs_stack, "google-oauth2|victim") == 0
    # nothing recorded either (the request path writes the link before any background work could start)
    reader = _token(auth0, **MACHINE, permissions=["read:office365"])
    assert _status(rs_stack, "google-oauth2|victim", reader).status_code == 404
    assert _provision(rs_stack, "google-oauth2|alice", alice).status_code in (200, 202)
    assert _status(rs_stack, "google-oauth2|alice", alice).status_code in (200, 202)
    without = _token(auth0, sub="google-oauth2|bob")
    assert _provision(rs_stack, "google-oauth2|bob", without).status_code == 403


@pytest.mark.parametrize("claims", [
    pytest.param({"sub": "google-oauth2|x", "gty": "client-credentials", "scope": "provision:office365"},
                 id="client-credentials-for-a-user-sub"),
    pytest.param({"sub": "evil@clients", "scope": "provision:office365"}, id="clients-sub-without-gty"),
])
def test_tokens_that_mix_the_two_shapes_are_refused(rs_stack, auth0, claims):
    assert _provision(rs_stack, "google-oauth2|x", _token(auth0, **claims)).status_code == 403
    assert _created(rs_stack, "google-oauth2|x") == 0
    reader = _token(auth0, **MACHINE, permissions=["read:office365"])
    assert _status(rs_stack, "google-oauth2|x", reader).status_code == 404


def test_unknown_key_ids_read_the_jwks_at_most_once_per_interval_per_process(rs_stack, auth0):
    auth0.reset()  # counters from zero
    answers = [_provision(rs_stack, "google-oauth2|k", _token(auth0, kid=f"unknown-{i}", **MACHINE,
                                                              scope="provision:office365")).status_code
               for i in range(50)]
    assert set(answers) == {401}
    reads = auth0.stats()["requests"].get("GET /.well-known/jwks.json", 0)
    # each gunicorn worker (2) reads the JWKS once to fill its cache and at most once more per interval
    assert 1 <= reads <= 4, reads
