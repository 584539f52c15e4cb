"""End to end: the real Action in Node, the companion under gunicorn, the emulators, lag on."""
import concurrent.futures as cf
import os
import signal
import time

import pytest

from service import sandbox

UPN = "http://schemas.xmlsoap.org/claims/UPN"
IID = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"


def _user(n="1", **over):
    return {"user_id": f"google-oauth2|10{n}", "email": f"user{n}@gmail.com", "email_verified": True,
            "name": f"User {n}", "app_metadata": {}, "user_metadata": {}, **over}


def test_first_login_redirects_waits_and_emits_claims_matching_entra(stack):
    stack.graph.configure(replication_lag_s=4.5)  # long enough that waiting pages show
    report = stack.login(_user("jane", name="Jane Doe"))
    assert report["outcome"] == "allowed", report
    assert report["waiting_pages"] >= 1
    attrs = report["saml"]["attributes"]
    (entra,) = stack.entra_users()
    assert attrs[UPN] == entra["userPrincipalName"] and attrs[IID] == entra["onPremisesImmutableId"]
    assert report["saml"]["nameIdentifierProbes"] == [IID]
    assert entra["usageLocation"] == "GB" and [lic["skuId"] for lic in entra["assignedLicenses"]] == [sandbox.SKU_ID]
    stored = report["app_metadata"]["entra_companion"]
    assert (stored["upn"], stored["immutable_id"], stored["object_id"]) == (attrs[UPN], attrs[IID], entra["id"])


def test_returning_user_takes_the_fast_path_with_no_call(sqlite_stack):
    first = sqlite_stack.login(_user("ret"))
    again = sqlite_stack.login(_user("ret", app_metadata=first["app_metadata"]))
    assert again["outcome"] == "allowed"
    assert again["companion_requests"] == 0 and again["action_requests"] == 0
    assert again["saml"]["attributes"] == first["saml"]["attributes"]


def test_users_of_the_old_rule_keep_their_identity(sqlite_stack):
    legacy = {"office365Provisioned": True, "office365UPN": "legacy.user@partners.contoso.com",
              "office365ImmutableId": "bGVnYWN5SW1tdXRhYmxlSWQ="}
    report = sqlite_stack.login(_user("legacy", app_metadata=legacy))
    assert report["outcome"] == "allowed" and report["companion_requests"] == 0
    assert report["saml"]["attributes"][UPN] == "legacy.user@partners.contoso.com"
    assert report["saml"]["attributes"][IID] == "bGVnYWN5SW1tdXRhYmxlSWQ="
    assert sqlite_stack.entra_users() == []


def test_inline_path_when_the_flow_cannot_redirect(sqlite_stack):
    report = sqlite_stack.login(_user("inline"), redirect=False)
    assert report["outcome"] == "allowed", report
    (entra,) = sqlite_stack.entra_users()
    assert report["saml"]["attributes"][UPN] == entra["userPrincipalName"]


def test_no_seats_denies_the_login_with_a_readable_reason_and_no_account(sqlite_stack):
    sqlite_stack.graph.configure(seats={sandbox.SKU_ID: 0})
    report = sqlite_stack.login(_user("noseat"))
    assert report["outcome"] == "denied" and "licences are left" in report["deny_reason"]
    assert "reference" in report["deny_reason"] and sqlite_stack.entra_users() == []


def test_fifty_concurrent_first_logins_of_one_user_make_one_account(stack):
    stack.graph.configure(replication_lag_s=0.5)
    user = _user("same")
    with cf.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: stack.provision(user).status_code, range(50)))
    assert set(answers) <= {200, 202}
    _settle(stack, [user])
    (entra,) = stack.entra_users()
    assert len(entra["assignedLicenses"]) == 1
    stats = stack.graph.stats()["requests"]
    assert stats.get("POST /v1.0/users", 0) == 1
    assert stats.get("POST /v1.0/users/{id}/assignLicense", 0) == 1


def test_two_hundred_distinct_users_at_once_none_lost_none_duplicated(stack):
    users = [_user(f"many{n:03d}") for n in range(200)]
    with cf.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda u: stack.provision(u, mode="async").status_code, users))
    assert set(answers) <= {200, 202}
    _settle(stack, users)
    entra = stack.entra_users()
    assert len(entra) == 200
    assert len({u["onPremisesImmutableId"] for u in entra}) == 200
    assert all(u["assignedLicenses"] for u in entra)


def _settle(stack, users, timeout=120):
    """Poll each user's status until ready (each poll also advances it)."""
    deadline = time.monotonic() + timeout
    pending = list(users)
    while pending and time.monotonic() < deadline:
        still = []
        for user in pending:
            resp = stack.http.get(f"{stack.url}/v1/o365/provision/{user['user_id']}",
                                  headers=stack.bearer(user["user_id"]), timeout=30)
            if resp.status_code != 200:
                still.append(user)
        pending = still
    assert not pending, f"{len(pending)} users never became ready"


def test_a_crash_between_create_and_write_back_converges_on_the_same_account(graph, auth0, tmp_path):
    from tests.e2e.conftest import Stack
    stack = Stack(graph, auth0, f"sqlite:///{tmp_path}/crash.db", str(tmp_path)).start()
    graph.add_faults({"method": "POST", "path": "^/v1.0/users$", "kind": "delay_response", "seconds": 30,
                      "count": 1})
    user = _user("crash")
    with cf.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(lambda: stack.provision(user))
        _wait_for(lambda: len(stack.entra_users()) == 1)
        os.killpg(stack.proc.popen.pid, signal.SIGKILL)  # master and workers die mid-request
        stack.proc.popen.wait(10)
        with pytest.raises(Exception):
            pending.result(timeout=30)
    stack.start()
    report = stack.login(user)
    assert report["outcome"] == "allowed", report
    (entra,) = stack.entra_users()
    assert report["saml"]["attributes"][IID] == entra["onPremisesImmutableId"]
    stack.stop()


def _wait_for(check, timeout=20):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)
