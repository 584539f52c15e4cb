"""End to end (gunicorn + worker): accounts whose seats went elsewhere are parked, alerted, then finished."""
import time

import requests
from jose import jwt

from service import sandbox, tokens
from tests.e2e.test_lifecycle import make_stack  # noqa: F401 (fixture)
from tests.support.receivers import SlackReceiver


def _free(graph, n):
    (sku,) = [s for s in graph.state()["subscribedSkus"] if s["skuId"] == sandbox.SKU_ID]
    graph.configure(seats={sandbox.SKU_ID: sku["consumedUnits"] + n})


def _accounts(graph):
    return [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + sandbox.FEDERATED_DOMAIN)]


def _call(stack, method, user_id, body=None):
    now = int(time.time())
    token = jwt.encode({"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": user_id, "iat": now,
                        "exp": now + 60}, sandbox.COMPANION_SECRET, algorithm="HS256")
    path = "/v1/o365/provision" + ("" if body else f"/{user_id}")
    return requests.request(method, stack.url + path, json=body, headers={"Authorization": f"Bearer {token}"},
                            timeout=60)


def test_parked_accounts_are_alerted_once_and_finished_when_seats_come_back(make_stack, graph):  # noqa: F811
    slack = SlackReceiver()
    try:
        stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="0", RISK_POLL_INTERVAL_S="0",
                           SEAT_CHECK_INTERVAL_S="1", O365_SEATS_LOW_WATER="0", SLACK_WEBHOOK_URL=slack.url)
        stack.start_worker()
        _free(graph, 2)
        graph.configure(replication_lag_s=60)  # the accounts are made but cannot be licensed yet
        ids = ["auth0|parked1", "auth0|parked2"]
        for uid in ids:
            body = {"user_id": uid, "email": f"{uid[6:]}@example.com", "mode": "async"}
            assert _call(stack, "POST", uid, body).status_code == 202
        # the background driver creates both accounts (each with its seat promised) …
        stack.wait(lambda: len(_accounts(graph)) == 2, what="both accounts created")
        _free(graph, 0)  # … and the seats go elsewhere meanwhile
        graph.configure(replication_lag_s=0)
        # the background driver reaches the licence step once Entra shows the accounts, and parks them
        answers = stack.wait(lambda: (lambda got: got if all(a.status_code != 202 for a in got) else None)(
            [_call(stack, "GET", uid) for uid in ids]), what="both accounts parked")
        assert [a.status_code for a in answers] == [422, 422]
        assert all("finished automatically" in a.json()["error"]["message"] for a in answers), \
            [a.json() for a in answers]
        stack.wait(lambda: any("No ENTERPRISEPACK licences left" in m["text"] for m in slack.messages),
                   what="seats-out alert")
        _free(graph, 2)
        # nobody asks the companion now: only the worker's seat check can finish them
        stack.wait(lambda: len([a for a in _accounts(graph) if a["assignedLicenses"]]) == 2, timeout=40,
                   what="parked accounts licensed by the seat check")
        stack.wait(lambda: all(_call(stack, "GET", uid).status_code == 200 for uid in ids), what="ready")
        time.sleep(2)  # more seat checks run
        assert len([m for m in slack.messages if "No ENTERPRISEPACK licences left" in m["text"]]) == 1
        assert len(_accounts(graph)) == 2
    finally:
        slack.stop()
