"""The background driver against the running Graph emulator: batched readiness reads, the sweep."""
import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, update

from service import links
from service.clients.graph import GraphClient
from service.db import Store, migrate
from service.driver import Driver, refresh_s
from service.errors import Transient
from service.models import AuditEvent, Link
from service.provisioning import Provisioner
from service.settings import from_env
from tests.support import emulators as emu
from tests.support.env import companion_env


@pytest.fixture
def driver(graph, auth0, tmp_path):
    settings = from_env(companion_env(graph, auth0, f"sqlite:///{tmp_path}/d.db"))
    store = Store(settings.database_url)
    migrate(store.engine)
    made = Driver(Provisioner(settings, store, GraphClient.from_settings(settings)), settings)
    yield made
    made.stop()


def _user(i):
    return {"user_id": f"google-oauth2|drv{i:03d}", "email": f"drv{i}@gmail.com", "name": f"Driver {i}"}


def _run_until_ready(driver, ids, timeout=60):
    """Poller rounds (as the lease holder runs them) until every user is ready; the number of rounds."""
    rounds, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        while not driver.idle():
            time.sleep(0.02)
        if all(links.get(driver.store, uid).state == "ready" for uid in ids):
            return rounds
        driver.tick()
        rounds += 1
        time.sleep(0.2)
    raise AssertionError("users did not become ready")


def _calls(graph):
    return graph.stats()["requests"]


def test_one_batched_read_per_fifteen_waiting_users_and_licences_in_batches(graph, driver, monkeypatch):
    graph.configure(replication_lag_s=1.0)
    client, batches = driver.p.graph, []  # per `$batch` call: is it creates? (how many depends on how kicks bunch)
    batch = client.batch
    monkeypatch.setattr(client, "batch", lambda requests: batches.append(
        any(r["method"] == "POST" and r["url"] == "/users" for r in requests)) or batch(requests))
    users = [_user(i) for i in range(40)]
    for user in users:
        assert driver.p.start(user).state == "pending"
        driver.kick(user["user_id"])
    rounds = _run_until_ready(driver, [u["user_id"] for u in users])
    calls = _calls(graph)
    assert calls.get("POST /v1.0/users") == 40
    assert calls.get("POST /v1.0/users/{id}/assignLicense") == 40
    assert calls.get("GET /v1.0/users/{id}", 0) == 0  # nobody polls one user at a time
    reads = calls.get("GET /v1.0/users", 0)  # each a `$filter=id in (…)` of up to 15 ids, inside $batch
    # ⌈40 / 15⌉ = 3 per round at most, and at most ⌈20 / 15⌉ = 2 reading back each chunk of licences
    assert reads == driver.reads and reads <= 3 * rounds + 2 * (2 + rounds)
    # besides the creates: a round's read, then per chunk of ≤ 20 seen users one licence call and one
    # read-back; the chunks of all rounds number at most ⌈40 / 20⌉ + rounds
    assert calls.get("POST /v1.0/$batch", 0) - sum(batches) <= rounds + 2 * (2 + rounds)
    assert calls["POST /v1.0/$batch"] == len(batches)  # every `$batch` went through the client counted here
    assert calls["POST /v1.0/$batch"] < calls["POST /v1.0/users/{id}/assignLicense"]
    assert (calls["POST /v1.0/users"] + calls["POST /v1.0/users/{id}/assignLicense"] + reads) / 40 <= 4
    entra = [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + emu.FEDERATED_DOMAIN)]
    assert len(entra) == 40 and all(u["assignedLicenses"] for u in entra)
    with driver.store.session() as session:  # readied in bulk: still one audit row per user
        ready = session.scalars(select(AuditEvent.auth0_user_id).where(AuditEvent.action == "o365.user.ready")).all()
    assert sorted(ready) == sorted(u["user_id"] for u in users)


def _settle(driver):
    while not driver.idle():
        time.sleep(0.02)


def test_a_licence_pass_reads_its_users_back_and_readies_them_at_once(graph, driver):
    graph.configure(replication_lag_s=0.5)
    uid = _user(1)["user_id"]
    driver.p.start(_user(1))
    driver.kick(uid)
    _settle(driver)
    link = links.get(driver.store, uid)
    assert (link.state, link.step) == ("pending", "licence")  # created; nothing reads it but the poller
    time.sleep(0.6)
    before = _calls(graph).get("GET /v1.0/users", 0)
    driver.tick()
    _settle(driver)
    assert links.get(driver.store, uid).state == "ready"  # one round: seen, licensed, read back with it
    assert _calls(graph)["GET /v1.0/users"] - before == 2  # the round's read and the read-back


def test_ready_only_after_a_read_shows_the_licence(graph, driver, monkeypatch):
    graph.configure(replication_lag_s=0.5)
    uid = _user(4)["user_id"]
    driver.p.start(_user(4))
    driver.kick(uid)
    _settle(driver)
    time.sleep(0.6)
    reads, real = [], driver.graph.users_by_ids

    def read_back_fails(ids, select):  # the round's read answers; the read-back after the licence does not
        reads.append(ids)
        if len(reads) > 1:
            raise Transient("Graph is busy (test)")
        return real(ids, select)
    monkeypatch.setattr(driver.graph, "users_by_ids", read_back_fails)
    driver.tick()
    _settle(driver)
    assert len(reads) == 2 and links.get(driver.store, uid).step == "verify"  # assigned, not seen licensed
    monkeypatch.setattr(driver.graph, "users_by_ids", real)
    _run_until_ready(driver, [uid])


def test_the_sweep_finishes_an_abandoned_first_login(graph, driver):
    """A browser that never came back, its process gone mid-way: nothing but the poller runs."""
    graph.configure(replication_lag_s=0.5)
    uid = _user(2)["user_id"]
    driver.p.ensure(_user(2), wait_s=0)  # created by a request that then went away (licence step, 404)
    link = links.get(driver.store, uid)
    assert (link.state, link.step) == ("pending", "licence")
    links.save(driver.store, link, lease_owner="dead-process", lease_until=links.utc(link.updated_at))
    _run_until_ready(driver, [uid])


def test_the_sweep_finishes_a_pre_provisioning_nobody_kicked(graph, driver):
    """An async POST recorded the user (the process died before its pool ran): the sweep starts it."""
    graph.configure(replication_lag_s=1.0)
    uid = _user(3)["user_id"]
    driver.p.start(_user(3))
    stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    with driver.store.session() as session:  # age the row as if it had waited for minutes
        session.execute(update(Link).where(Link.auth0_user_id == uid).values(updated_at=stale))
    _run_until_ready(driver, [uid])


def test_refresh_is_short_first_then_tracks_the_typical_wait():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ago = lambda s: now - dt.timedelta(seconds=s)  # noqa: E731
    assert refresh_s(now, 10.0, now) == 3          # long lag: at most 3 s between checks
    assert refresh_s(now, 2.0, now) == 2
    assert refresh_s(ago(0.75), 2.0, now) == 1.25  # to the millisecond: no whole-second rounding
    assert refresh_s(ago(1.9), 2.0, now) == 0.5    # never sooner than half a second
    assert refresh_s(ago(5), 2.0, now) == 1        # overdue: check every second
    assert refresh_s(ago(14), 2.0, now) == 1       # a lag of 10 s after typical 2 s ones
    assert refresh_s(ago(40), 2.0, now) == 2       # a slow day: less often
    assert refresh_s(ago(200), 2.0, now) == 3
    assert refresh_s(None, 2.0, now) == 1


def test_a_crowd_is_created_in_batches_of_at_most_twenty_with_one_audit_row_each(graph, driver, monkeypatch):
    client, direct, batched = driver.p.graph, [], []
    create_user, batch = client.create_user, client.batch
    monkeypatch.setattr(client, "create_user", lambda body, **kw: direct.append(body) or create_user(body, **kw))

    def counted_batch(requests):
        batched.append(sum(1 for r in requests if r["method"] == "POST" and r["url"] == "/users"))
        return batch(requests)
    monkeypatch.setattr(client, "batch", counted_batch)
    graph.configure(replication_lag_s=0.5)
    users = [_user(i) for i in range(40)]
    for user in users:  # a crowd: kicks milliseconds apart
        driver.p.start(user)
        driver.kick(user["user_id"])
    _run_until_ready(driver, [u["user_id"] for u in users])
    creates = [n for n in batched if n]
    assert sum(creates) + len(direct) == 40  # each account created once
    assert max(creates) <= 20 and len(creates) + len(direct) <= 20  # gathered: at most half as many calls
    with driver.store.session() as session:
        made = session.scalars(select(AuditEvent.auth0_user_id).where(AuditEvent.action == "entra.user.created")).all()
    assert sorted(made) == sorted(u["user_id"] for u in users)


def test_a_group_pass_leases_only_users_before_the_readiness_steps(driver):
    for i, step in enumerate(("new", "create", "licence", "verify")):
        links.get_or_create(driver.store, f"auth0|step{i}", f"iid{i}", {}, None)
        with driver.store.session() as session:
            session.execute(update(Link).where(Link.auth0_user_id == f"auth0|step{i}").values(step=step))
    held = links.acquire_many(driver.store, [f"auth0|step{i}" for i in range(4)], "me", 15,
                              steps=("new", "lookup", "create"))
    # the poller licenses users at licence/verify: a lease taken on them here would stop it
    assert sorted(x.auth0_user_id for x in held) == ["auth0|step0", "auth0|step1"]
    assert links.get(driver.store, "auth0|step2").lease_owner is None


def test_a_lag_that_has_dropped_is_noticed_and_unlearned(graph, driver):
    graph.configure(replication_lag_s=0.3)
    driver.lag_s = 20.0  # learned on a slow day
    user = _user(900)
    driver.p.start(user)
    driver.kick(user["user_id"])
    started = time.monotonic()
    _run_until_ready(driver, [user["user_id"]], timeout=30)
    # read once a second before the old lag: ready in seconds, not after 80 % of 20 s
    assert time.monotonic() - started < 8
    assert driver.lag_s < 20.0


def test_a_request_nudges_only_users_whose_account_is_not_made_yet(driver, monkeypatch):
    from service.provisioning import Outcome
    passes = []
    monkeypatch.setattr(driver.p, "advance", lambda uid, seen=None: passes.append(uid))
    driver.nudge(Outcome("pending", "auth0|shown", object_id="oid-1"))  # the poller's to move on
    driver.nudge(Outcome("ready", "auth0|done", object_id="oid-2"))
    driver.nudge(Outcome("pending", "auth0|new"))
    deadline = time.monotonic() + 5
    while not (passes and driver.idle()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert passes == ["auth0|new"]


def test_stop_waits_for_the_pass_that_is_running(driver, monkeypatch):
    """A process that stops (or a test that drops its database) must not be written to afterwards."""
    started, finished = threading.Event(), []

    def slow_advance(uid, seen=None):
        started.set()
        time.sleep(0.3)
        finished.append(uid)
    monkeypatch.setattr(driver.p, "advance", slow_advance)
    driver.kick("auth0|first")
    assert started.wait(5)
    driver.stop(wait_s=5)
    assert finished == ["auth0|first"]
