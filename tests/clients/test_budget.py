"""The Graph resource-unit budget: Microsoft's costs, one window shared by processes through Redis."""
import multiprocessing
import uuid

import pytest
import redis

from service.clients.budget import Budget, resource_units
from service.errors import Throttled

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("method, path, params, units", [
    ("GET", "/v1.0/users", {}, 2),                                   # a user list
    ("GET", "/v1.0/users", {"$select": "id", "$filter": "id in ('a')"}, 1),
    ("GET", "/v1.0/users", {"$top": "1"}, 1),
    ("GET", "/v1.0/subscribedSkus", {}, 3),
    ("GET", "/v1.0/users/abc", {"$select": "id"}, 1),                 # any other GET: 1, never below 1
    ("GET", "/v1.0/groups/g/transitiveMembers", {}, 5),
    ("POST", "/v1.0/users", {}, 1),
    ("POST", "/v1.0/users/abc/checkMemberGroups", {}, 4),
])
def test_costs_follow_microsofts_table(method, path, params, units):
    assert resource_units(method, path, params) == units


def test_a_batch_costs_what_its_requests_cost():
    body = {"requests": [{"id": "1", "method": "GET", "url": "/users?$select=id&$filter=id in ('a')"},
                         {"id": "2", "method": "GET", "url": "/subscribedSkus"},
                         {"id": "3", "method": "POST", "url": "/users"}]}
    assert resource_units("POST", "/v1.0/$batch", None, body) == 1 + 3 + 1


def test_over_budget_waits_then_says_throttled():
    clock = [0.0]
    budget = Budget(5, max_wait_s=0.5, key=uuid.uuid4().hex, sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                    clock=lambda: clock[0])
    budget.take(5)
    with pytest.raises(Throttled):
        budget.take(1)
    assert Budget(0).take(10_000) is None  # 0 = no budget


def _spend(key, attempts, results):
    budget = Budget(50, REDIS_URL, max_wait_s=0, key=key, window_s=120)
    admitted = 0
    for _ in range(attempts):
        try:
            budget.take(1)
            admitted += 1
        except Throttled:
            pass
    results.put(admitted)


def test_two_processes_share_one_window_in_redis():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    key, results = f"test-budget-{uuid.uuid4().hex}", multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_spend, args=(key, 40, results)) for _ in range(2)]
    for proc in procs:
        proc.start()
    admitted = sorted(results.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(30)
    assert sum(admitted) == 50          # 80 attempts, one window of 50 between them
    assert admitted[0] >= 10            # both drew from it (each alone could have taken 40)
