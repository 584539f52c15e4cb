"""End to end (gunicorn, both databases): a burst of first logins with fewer seats than users."""
import time
from concurrent.futures import ThreadPoolExecutor

from service import sandbox

USERS, SEATS = 10, 4


def _free(graph, n):
    (sku,) = [s for s in graph.state()["subscribedSkus"] if s["skuId"] == sandbox.SKU_ID]
    graph.configure(seats={sandbox.SKU_ID: sku["consumedUnits"] + n})


def _settle(stack, user, answer, deadline):
    """Follow a 202 with status polls until the user is ready or failed."""
    while answer.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = stack.http.get(f"{stack.url}/v1/o365/provision/{user['user_id']}",
                                headers=stack.bearer(user["user_id"]), timeout=30)
    return answer


def test_a_burst_with_fewer_seats_than_users_leaves_no_account_without_a_seat(stack):
    _free(stack.graph, SEATS)
    users = [{"user_id": f"auth0|burst{i}", "email": f"burst{i}@example.com"} for i in range(USERS)]
    with ThreadPoolExecutor(USERS) as pool:
        answers = list(pool.map(stack.provision, users))
    deadline = time.monotonic() + 60
    answers = [_settle(stack, u, a, deadline) for u, a in zip(users, answers)]
    codes = sorted(a.status_code for a in answers)
    odd = [(a.status_code, a.text[:300]) for a in answers if a.status_code not in (200, 422)]
    assert codes == [200] * SEATS + [422] * (USERS - SEATS), odd
    refused = [a.json()["error"]["message"] for a in answers if a.status_code == 422]
    assert all("No ENTERPRISEPACK licences are left" in m for m in refused)
    accounts = stack.entra_users()
    assert len(accounts) == SEATS and all(a["assignedLicenses"] for a in accounts)
