"""GraphClient against the Graph/Entra emulator: lag, throttling, faults, conflicts, licences, paging."""
import base64
import secrets
import time
import uuid

import pytest

from service.clients.graph import GraphClient, item_error, odata_str
from service.errors import AuthFailed, BadRequest, Conflict, DryRunBlocked, NotFound
from tests.clients.sandbox import (ADMIN_ID, AOIFE_OBRIEN_ID, ENGINEERING_ID, EXCHANGE_STANDARD, LEE_ID,
                                    graph_settings)
from tests.support.emulators import FEDERATED_DOMAIN, MANAGED_DOMAIN, SKU_ID


@pytest.fixture
def client(graph):
    """A GraphClient built from settings, as the service builds it."""
    return GraphClient.from_settings(graph_settings(graph))


def user_body(alias, domain=FEDERATED_DOMAIN, usage_location="US", **extra):
    """A create body; federated users get a fresh standard-base64 ImmutableID."""
    body = {"accountEnabled": True, "displayName": alias, "mailNickname": alias.replace("'", "") or "x",
            "userPrincipalName": f"{alias}@{domain}",
            "passwordProfile": {"password": secrets.token_urlsafe(32) + "aA1!",
                                "forceChangePasswordNextSignIn": False}}
    if domain == FEDERATED_DOMAIN:
        body["onPremisesImmutableId"] = base64.b64encode(uuid.uuid4().bytes).decode()
    if usage_location:
        body["usageLocation"] = usage_location
    body.update(extra)
    return body


def requests_to(graph, key):
    """How many requests the emulator served for a route template, e.g. 'POST /v1.0/users'."""
    return graph.stats()["requests"].get(key, 0)


def eventually(call, budget_s=10.0):
    """call() until it stops raising NotFound (bounded, so a broken emulator fails the test)."""
    deadline = time.monotonic() + budget_s
    while True:
        try:
            return call()
        except NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_new_user_is_404_during_replication_lag_then_readable(graph, client):
    graph.configure(replication_lag_s=1.0)
    created = client.create_user(user_body("lagging"))
    with pytest.raises(NotFound) as caught:
        client.get_user(created["id"])
    assert caught.value.code == "Request_ResourceNotFound" and caught.value.request_id
    assert eventually(lambda: client.get_user(created["id"]))["id"] == created["id"]


def test_429_retry_after_is_waited_for_real(graph):
    client = GraphClient.from_settings(graph_settings(graph))
    client.get_domain(FEDERATED_DOMAIN)  # token fetched before timing
    graph.add_faults({"kind": "status", "status": 429, "retry_after": 1, "count": 1, "method": "GET",
                      "path": "^/v1.0/users/"})
    started = time.monotonic()
    assert client.get_user(LEE_ID)["id"] == LEE_ID
    assert time.monotonic() - started >= 1.0
    assert requests_to(graph, "GET /v1.0/users/{id}") == 2


def test_injected_503s_are_retried(graph, client):
    graph.add_faults({"kind": "status", "status": 503, "count": 2, "method": "GET", "path": "^/v1.0/domains/"})
    assert client.get_domain(FEDERATED_DOMAIN)["authenticationType"] == "Federated"
    assert requests_to(graph, "GET /v1.0/domains/{id}") == 3


def test_a_400_is_not_retried(graph, client):
    body = user_body("no-immutable-id")
    del body["onPremisesImmutableId"]  # required on a federated domain (facts/graph.md §1.2)
    with pytest.raises(BadRequest) as caught:
        client.create_user(body)
    assert caught.value.code == "Request_BadRequest"
    assert requests_to(graph, "POST /v1.0/users") == 1


def test_duplicate_upn_and_immutable_id_are_conflicts_with_target(client):
    first = user_body("dup.person")
    client.create_user(first)
    with pytest.raises(Conflict) as by_upn:
        client.create_user(user_body("dup.person"))
    assert by_upn.value.target == "userPrincipalName"
    with pytest.raises(Conflict) as by_iid:
        client.create_user(user_body("other.person", onPremisesImmutableId=first["onPremisesImmutableId"]))
    assert by_iid.value.target == "onPremisesImmutableId"


def test_licence_needs_usage_location_and_a_free_seat(graph, client):
    nowhere = client.create_user(user_body("nowhere", usage_location=None))
    with pytest.raises(BadRequest) as no_location:
        client.assign_license(nowhere["id"], add=[{"skuId": SKU_ID}])
    assert "usage location" in no_location.value.message
    graph.configure(seats={"EXCHANGESTANDARD": 1})
    first = client.create_user(user_body("seat.one"))
    second = client.create_user(user_body("seat.two"))
    client.assign_license(first["id"], add=[{"skuId": EXCHANGE_STANDARD}])
    with pytest.raises(BadRequest) as no_seat:
        client.assign_license(second["id"], add=[{"skuId": EXCHANGE_STANDARD}])
    assert no_seat.value.vendor_message and no_seat.value.http_status == 400
    licensed = client.get_user(first["id"], select=["id", "assignedLicenses"])
    assert [lic["skuId"] for lic in licensed["assignedLicenses"]] == [EXCHANGE_STANDARD]


def test_filter_with_a_quote_finds_exactly_the_right_user(client):
    made = {}
    for alias, surname in (("quote.one", "O'Brien"), ("quote.two", "OBrien"), ("quote.three", "O''Brien"),
                           ("quote.four", "O'Brien-Smith")):
        made[surname] = client.create_user(user_body(alias, surname=surname))["id"]
    client.create_user(user_body("o'brien"))
    found = client.find_users(f"surname eq {odata_str(chr(79) + chr(39) + 'Brien')}", select=["id", "surname"])
    assert sorted(u["id"] for u in found) == sorted([made["O'Brien"], AOIFE_OBRIEN_ID])
    assert {u["surname"] for u in found} == {"O'Brien"}
    two_quotes = client.find_users(f"surname eq {odata_str(chr(79) + chr(39) * 2 + 'Brien')}", select=["id"])
    assert [u["id"] for u in two_quotes] == [made["O''Brien"]]
    assert client.find_user_by_upn(f"o'brien@{FEDERATED_DOMAIN}")["userPrincipalName"] == \
        f"o'brien@{FEDERATED_DOMAIN}"


def test_find_by_immutable_id_with_base64_plus_and_slash(client):
    body = user_body("b64.person", onPremisesImmutableId="ab+/cd+/ef+/gh+/ij+/kw==")
    created = client.create_user(body)
    found = client.find_user_by_immutable_id("ab+/cd+/ef+/gh+/ij+/kw==")
    assert found["id"] == created["id"] and found["onPremisesImmutableId"] == "ab+/cd+/ef+/gh+/ij+/kw=="
    assert client.find_user_by_immutable_id("ab /cd /ef /gh /ij /kw==") is None


def test_paging_over_2500_users_returns_each_once(graph, client):
    graph.http.post(f"{graph.url}/_emulator/users/bulk", json={"count": 2500, "domain": MANAGED_DOMAIN},
                    timeout=60).raise_for_status()
    ids = [u["id"] for u in client.iter_users(select=["id"], top=999)]
    expected = len(graph.state()["users"])
    assert len(ids) == len(set(ids)) == expected >= 2500
    assert requests_to(graph, "GET /v1.0/users") == 3


def test_token_comes_from_msal_cache_on_the_second_call(graph, client):
    client.get_user(LEE_ID)
    client.get_domain(MANAGED_DOMAIN)
    client.subscribed_skus()
    assert requests_to(graph, "POST /{tenant}/oauth2/v2.0/token") == 1


def test_wrong_secret_is_auth_failed_without_the_secret(graph):
    wrong = "Wr0ng~Secret.Value-" + secrets.token_hex(4)
    client = GraphClient.from_settings(graph_settings(graph, entra_client_secret=wrong))
    with pytest.raises(AuthFailed) as caught:
        client.get_user(LEE_ID)
    err = caught.value
    assert err.code == "AADSTS7000215" and "AADSTS7000215" in err.message
    for text in (err.message, str(err), repr(err.log_fields()), repr(err.to_body())):
        assert wrong not in text
    assert requests_to(graph, "GET /v1.0/users/{id}") == 0


def test_batch_retries_only_the_throttled_item(graph, client):
    client.get_domain(MANAGED_DOMAIN)  # token fetched before timing
    graph.add_faults({"kind": "status", "status": 429, "retry_after": 1, "count": 1, "method": "GET",
                      "path": f"^/v1.0/users/{LEE_ID}$"})
    wanted = [LEE_ID, ADMIN_ID, "no-such-user", LEE_ID]
    started = time.monotonic()
    results = client.batch([{"method": "GET", "url": f"/users/{uid}?$select=id"} for uid in wanted])
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in results] == [200, 200, 404, 200]
    assert [r["body"]["id"] for r in results if r["status"] == 200] == [wanted[0], wanted[1], wanted[3]]
    assert isinstance(item_error(results[2]), NotFound)
    assert requests_to(graph, "POST /v1.0/$batch") == 2


def test_membership_and_revocation(client):
    groups = client.member_of(LEE_ID, transitive=True, select=["id", "displayName"])
    assert {g["displayName"] for g in groups} == {"Platform Team", "Engineering"}
    members = list(client.group_members(ENGINEERING_ID, transitive=True))
    assert LEE_ID in {m["id"] for m in members}
    assert client.revoke_sign_in_sessions(LEE_ID) is True


def test_update_and_delete(client):
    created = client.create_user(user_body("short.lived"))
    eventually(lambda: client.update_user(created["id"], {"jobTitle": "Partner"}))
    assert client.get_user(created["id"], select=["jobTitle"])["jobTitle"] == "Partner"
    client.delete_user(created["id"])
    with pytest.raises(NotFound):
        client.get_user(created["id"])


def test_dry_run_sends_no_write(graph):
    client = GraphClient.from_settings(graph_settings(graph, dry_run=True))
    with pytest.raises(DryRunBlocked):
        client.delete_user(LEE_ID)
    with pytest.raises(DryRunBlocked):
        client.create_user(user_body("never"))
    assert client.get_user(LEE_ID)["id"] == LEE_ID
    assert client.batch([{"method": "GET", "url": f"/users/{LEE_ID}"}])[0]["status"] == 200
    served = graph.stats()["requests"]
    assert not any(key.startswith(("POST /v1.0/users", "DELETE")) for key in served)


def test_untrusted_tls_certificate_is_auth_failed_at_once(graph):
    client = GraphClient.from_settings(graph_settings(graph, ca_bundle=None))  # certifi: not the sandbox CA
    with pytest.raises(AuthFailed) as caught:
        client.get_user(LEE_ID)
    assert caught.value.code == "tls_verify_failed" and "CA_BUNDLE" in caught.value.message
