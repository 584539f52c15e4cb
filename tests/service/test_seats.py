"""Seats: no Entra account without a seat, parked accounts finish by themselves, one alert per crossing."""
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from service import licensing, links
from service.clients.graph import GraphClient
from service.clients.notify import Notifier
from service.db import Store, migrate
from service.licensing import SEAT_READ_TTL_S, LicenceUnavailable, SeatLedger, SeatsBusy
from service.models import AuditEvent
from service.provisioning import Provisioner
from service.settings import from_env
from service.sync import inbox, seats
from tests.support import emulators as emu
from tests.support.env import companion_env
from tests.support.receivers import SlackReceiver


@pytest.fixture
def world(graph, auth0, tmp_path):
    slack = SlackReceiver()
    settings = from_env({**companion_env(graph, auth0, f"sqlite:///{tmp_path}/s.db"),
                         "O365_SEATS_LOW_WATER": "2", "SLACK_WEBHOOK_URL": slack.url})
    store = Store(settings.database_url)
    migrate(store.engine)
    graph_client = GraphClient.from_settings(settings)
    provisioner = Provisioner(settings, store, graph_client)
    ctx = SimpleNamespace(settings=settings, store=store, graph=graph_client, auth0=None, dry_run=False,
                          provisioner=provisioner, notifier=Notifier.from_settings(settings))
    yield SimpleNamespace(ctx=ctx, p=provisioner, graph=graph, slack=slack, store=store)
    slack.stop()


def _user(i):
    return {"user_id": f"auth0|seat{i}", "email": f"seat{i}@example.com"}


def _accounts(graph):
    return [u for u in graph.state()["users"] if u["userPrincipalName"].endswith("@" + emu.FEDERATED_DOMAIN)]


def _free(graph, n):
    """Set the seat count so that n seats are free (the sandbox seeds some licensed users)."""
    (sku,) = [s for s in graph.state()["subscribedSkus"] if s["skuId"] == emu.SKU_ID]
    graph.configure(seats={emu.SKU_ID: sku["consumedUnits"] + n})


def _actions(store, action):
    with store.session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_seats_taken_behind_a_warm_cache_refuse_the_next_user_before_an_account_is_made(world):
    assert world.p.ensure(_user(1), wait_s=10).state == "ready"  # warms every cache
    _free(world.graph, 0)  # someone else took the rest of the seats
    time.sleep(SEAT_READ_TTL_S + 0.1)
    done = world.p.ensure(_user(2), wait_s=5)
    assert done.state == "failed" and "No ENTERPRISEPACK licences are left" in done.message
    assert len(_accounts(world.graph)) == 1


def test_an_account_that_loses_its_seat_is_parked_and_finished_when_a_seat_comes_back(world):
    _free(world.graph, 1)
    world.graph.configure(replication_lag_s=30)
    first = world.p.ensure(_user(1), wait_s=0)  # promised the only seat; Entra does not show the account yet
    assert links.get(world.store, "auth0|seat1").step == "licence", first
    # the seat goes elsewhere before the licence lands (an admin in the portal, another tool)
    _free(world.graph, 0)
    world.graph.configure(replication_lag_s=0)
    done = world.p.ensure(_user(1), wait_s=5)
    assert first.state == "pending" and done.state == "failed" and "finished automatically" in done.message
    assert links.get(world.store, "auth0|seat1").state == "parked"
    assert len(_actions(world.store, "o365.licence.parked")) == 1
    _free(world.graph, 1)
    seats.check(world.ctx, None, {})
    assert links.get(world.store, "auth0|seat1").state == "ready"
    (mine,) = _accounts(world.graph)
    assert mine["assignedLicenses"]
    assert [m for m in world.slack.messages if "No ENTERPRISEPACK licences left" in m["text"]]


def test_a_burst_with_fewer_seats_than_users_makes_no_account_without_a_seat(world):
    _free(world.graph, 4)
    barrier, results = threading.Barrier(10), {}

    def login(i):
        barrier.wait()
        results[i] = world.p.ensure(_user(i), wait_s=20)

    threads = [threading.Thread(target=login, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    states = sorted(r.state for r in results.values())
    assert states == ["failed"] * 6 + ["ready"] * 4
    accounts = _accounts(world.graph)
    assert len(accounts) == 4 and all(a["assignedLicenses"] for a in accounts)
    assert all("No ENTERPRISEPACK licences are left" in r.message for r in results.values() if r.state == "failed")


def test_operators_hear_once_per_crossing_not_once_per_login(world):
    _free(world.graph, 4)
    seats.check(world.ctx, None, {})
    assert world.slack.messages == []  # 4 free, low-water 2: ok
    for i in range(2):
        assert world.p.ensure(_user(i), wait_s=10).state == "ready"
    queued = inbox.listing(world.store, "queued")
    assert [e.kind for e in queued] == ["seat_check"]  # the login that crossed queued one check
    seats.check(world.ctx, None, {})
    seats.check(world.ctx, None, {})
    assert [m["text"] for m in world.slack.messages] == [m["text"] for m in world.slack.messages[:1]]
    assert "running low" in world.slack.messages[0]["text"]
    for i in range(2, 5):
        world.p.ensure(_user(i), wait_s=10)
    seats.check(world.ctx, None, {})
    seats.check(world.ctx, None, {})
    texts = [m["text"] for m in world.slack.messages]
    assert len(texts) == 2 and "No ENTERPRISEPACK licences left" in texts[1]
    assert len(_actions(world.store, "licence.seats.exhausted")) == 1
    _free(world.graph, 40)
    seats.check(world.ctx, None, {})
    assert len(world.slack.messages) == 2 and _actions(world.store, "licence.seats.recovered")


class _Catalog:
    """subscribedSkus as a fixed answer: `free` seats of ENTERPRISEPACK; the first read waits for `go`."""

    def __init__(self, free):
        self.sku = {"skuId": emu.SKU_ID, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 10,
                    "prepaidUnits": {"enabled": 10 + free}, "servicePlans": []}
        self.reading, self.go, self.reads = threading.Event(), threading.Event(), 0

    def read(self, _part, recent=False, fresh=False):
        self.reads += 1
        if self.reads == 1:  # the first login's check holds the others back until they have queued
            self.reading.set()
            self.go.wait(10)
        return links.utcnow(), self.sku


@pytest.mark.parametrize("free", [20, 5])
def test_a_crowd_queued_behind_the_seat_lease_is_served_as_one_group(world, free, monkeypatch):
    catalog = _Catalog(free)
    ledger = SeatLedger(world.ctx.settings, world.store, catalog)
    leases, take_lease = [], ledger._lease
    monkeypatch.setattr(ledger, "_lease", lambda: leases.append(1) or take_lease())
    crowd = [links.get_or_create(world.store, f"auth0|crowd{i}", f"iid{i}", {}, None) for i in range(12)]
    errors = {}

    def reserve(i):
        try:
            ledger.reserve(crowd[i])
        except LicenceUnavailable as why:
            errors[i] = str(why)

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(12)]
    threads[0].start()
    assert catalog.reading.wait(10)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 10
    while len(ledger._queued) < 11 and time.monotonic() < deadline:
        time.sleep(0.01)
    catalog.go.set()
    for t in threads:
        t.join(10)
    past_check = sorted(i for i in range(12) if links.get(world.store, f"auth0|crowd{i}").step == "create")
    # the eleven behind the first: one lease between them (and one more to re-read when seats ran short)
    assert len(leases) == (2 if free >= 12 else 3)
    assert len(past_check) == min(free, 12) and 0 in past_check  # seats while they last, none over
    assert sorted(errors) == sorted(set(range(12)) - set(past_check))
    assert all(crowd[i].step == "create" for i in past_check) and all(crowd[i].step == "new" for i in errors)
    assert all("No ENTERPRISEPACK licences are left" in e for e in errors.values())


def test_a_login_waits_its_turn_at_the_seat_count_and_is_told_to_retry_when_it_is_held_too_long(
        graph, auth0, database_url, monkeypatch):
    """Another process counting seats (PostgreSQL: the advisory lock; SQLite: the seat lease) holds this
    login back; past SEAT_LEASE_WAIT_S it hears SeatsBusy, and nothing about it has moved."""
    settings = from_env(companion_env(graph, auth0, database_url))
    store = Store(settings.database_url)
    migrate(store.engine)
    monkeypatch.setattr(licensing, "SEAT_LEASE_WAIT_S", 0.5)
    catalog = _Catalog(5)
    catalog.go.set()
    ledger, other = SeatLedger(settings, store, catalog), SeatLedger(settings, store, catalog)
    link = links.get_or_create(store, "auth0|waits", "iid-waits", {}, None)
    holding, release = threading.Event(), threading.Event()

    def count_for_long():
        with other._counting():
            holding.set()
            release.wait(10)
    holder = threading.Thread(target=count_for_long)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(SeatsBusy):
            ledger.reserve(link)
        assert time.monotonic() - started >= 0.5
        assert links.get(store, "auth0|waits").step == "new" and link.step == "new"
    finally:
        release.set()
        holder.join(10)
    ledger.reserve(link)  # its turn: the count is free again
    assert links.get(store, "auth0|waits").step == "create" == link.step
    store.dispose()
