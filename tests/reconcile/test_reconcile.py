"""Reconciliation against both emulators: every planted drift is found, safe ones fixed, others proposed."""
import pytest

from service.provisioning import Provisioner
from service.reconcile import remediate, report, runs
from service.reconcile.run import reconcile
from service.sync import handlers
from tests.support.receivers import SlackReceiver
from tests.sync.conftest import AUTH0_DB


def _purge(world, oid):
    world.entra.delete_user(oid)
    world.graph_emu.http.post(f"{world.graph_emu.url}/_emulator/users/{oid}/purge").raise_for_status()


def _classes(run):
    return sorted((f["class"], f["entra_object_id"] or "") for f in run.findings)


@pytest.fixture
def planted(world):
    """A synced tenant with one drift of each class planted; returns (ctx, what was planted)."""
    people = {n: world.user(n, department="Sales") for n in ("ann", "bea", "cat", "dee", "eva")}
    staff = world.group("Staff", *people.values())
    hook = SlackReceiver()
    ctx = world.context({"connection": AUTH0_DB, "roles": {staff["id"]: ["Staff"]}},
                        RECONCILE_TICKET_URL=hook.url)
    for p in people.values():
        handlers.sync_user(ctx, p["id"], {})
    uid = {n: world.auth0_users(p["mail"])[0]["user_id"] for n, p in people.items()}
    ctx.auth0.update_user(uid["ann"], {"app_metadata": {"entra": {**world.auth0_users(people["ann"]["mail"])[0]
                                                                  ["app_metadata"]["entra"], "department": "Wrong"}}})
    ctx.auth0.remove_roles(uid["bea"], [ctx.role_ids()["Staff"]])           # role drift
    world.entra.update_user(people["cat"]["id"], {"accountEnabled": False})  # orphan in Auth0 (disabled)
    _purge(world, people["dee"]["id"])                                      # orphan in Auth0 (gone)
    world.seed_auth0(user_id="auth0|twin,with,commas", email="twin@example.com", email_verified=True,  # duplicate
                     connection=AUTH0_DB,
                     password="Sandbox-pass-123!", app_metadata={"entra": {"object_id": people["eva"]["id"],
                                                                           "managed": True}})
    o365 = world.seed_auth0(user_id="auth0|o365user", email="o365@example.com", email_verified=True,
                            connection=AUTH0_DB, password="Sandbox-pass-123!")
    gone = world.seed_auth0(user_id="auth0|o365gone", email="gone@example.com", email_verified=True,
                            connection=AUTH0_DB, password="Sandbox-pass-123!")
    prov = Provisioner(ctx.settings, ctx.store, ctx.graph)
    kept = prov.ensure({"user_id": "auth0|o365user", "email": "o365@example.com"}, wait_s=5)
    lost = prov.ensure({"user_id": "auth0|o365gone", "email": "gone@example.com"}, wait_s=5)
    ctx.auth0.delete_user("auth0|o365user")                                 # orphan in Entra
    _purge(world, lost.object_id)                                           # dangling link
    yield ctx, people, uid, kept, lost, hook, (o365, gone)
    hook.stop()


def test_a_run_finds_every_planted_drift_and_dry_run_changes_nothing(world, planted):
    ctx, people, uid, kept, lost, hook, _ = planted
    run = runs.get(ctx.store, reconcile(ctx, "dry-run"))
    assert _classes(run) == sorted([
        ("attribute_drift", people["ann"]["id"]), ("role_drift", people["bea"]["id"]),
        ("orphan_auth0", people["cat"]["id"]), ("orphan_auth0", people["dee"]["id"]),
        ("duplicate", people["eva"]["id"]), ("orphan_entra", kept.object_id), ("dangling_link", lost.object_id)])
    assert {f["status"] for f in run.findings if f["safe"]} == {"would-fix"}
    assert world.auth0_users(people["ann"]["mail"])[0]["app_metadata"]["entra"]["department"] == "Wrong"
    drift = next(f for f in run.findings if f["class"] == "attribute_drift")
    assert drift["auth0"] == {"department": "Wrong"} and drift["entra"] == {"department": "Sales"}
    (ticket,) = hook.messages
    assert ticket["run_id"] == run.id and ticket["count"] == 4
    assert {p["class"] for p in ticket["proposals"]} == {"orphan_auth0", "duplicate", "orphan_entra"}


def test_a_duplicate_names_one_id_per_field_and_lists_the_others_in_every_report(world, planted):
    import csv
    import io
    import json

    from service import create_app
    ctx, people, uid, *_ = planted
    run = runs.get(ctx.store, reconcile(ctx, "dry-run"))
    (dup,) = [f for f in run.findings if f["class"] == "duplicate"]
    both = {uid["eva"], "auth0|twin,with,commas"}
    assert dup["entra_object_id"] == people["eva"]["id"] and dup["other_entra_object_ids"] == []
    assert {dup["auth0_user_id"], *dup["other_auth0_user_ids"]} == both and len(dup["other_auth0_user_ids"]) == 1
    assert json.loads(report.as_json(run))["findings"][run.findings.index(dup)]["other_auth0_user_ids"] == \
        dup["other_auth0_user_ids"]
    (row,) = [r for r in csv.DictReader(io.StringIO(report.as_csv(run))) if r["class"] == "duplicate"]
    assert row["auth0_user_id"] == dup["auth0_user_id"] and json.loads(row["other_auth0_user_ids"]) == \
        dup["other_auth0_user_ids"]
    with create_app(ctx.settings).app_context():
        html = report.as_html(run)
    assert all(f"<code>{i}</code>" in html for i in both)
    (proposal,) = [p for p in remediate.ticket(run.id, [dup])["proposals"]]
    assert proposal["auth0_user_id"] == dup["auth0_user_id"] and \
        proposal["other_auth0_user_ids"] == dup["other_auth0_user_ids"]


def test_fix_safe_then_approval_then_a_second_run_finds_nothing(world, planted):
    ctx, people, uid, kept, lost, _hook, _ = planted
    first = runs.get(ctx.store, reconcile(ctx, "fix-safe"))
    assert {f["class"]: f["status"] for f in first.findings if f["safe"]} == {
        "attribute_drift": "fixed", "role_drift": "fixed", "dangling_link": "fixed"}
    assert world.auth0_users(people["ann"]["mail"])[0]["app_metadata"]["entra"]["department"] == "Sales"
    assert [r["name"] for r in ctx.auth0.user_roles(uid["bea"])] == ["Staff"]
    assert remediate.approve(ctx, first.id) == {"applied": 3, "stopped_at_threshold": False}
    assert world.auth0_users(people["cat"]["mail"])[0]["blocked"] is True
    assert world.auth0_users(people["dee"]["mail"])[0]["blocked"] is True
    entra = {u["id"]: u for u in world.graph_emu.state()["users"]}
    assert entra[kept.object_id]["accountEnabled"] is False
    assert {f["status"] for f in runs.get(ctx.store, first.id).findings if f["class"] == "duplicate"} == {"manual"}
    twin = world.auth0_users("twin@example.com")[0]
    ctx.auth0.delete_user(twin["user_id"])  # a person resolves the duplicate
    second = runs.get(ctx.store, reconcile(ctx, "fix-safe"))
    assert second.findings == [] and second.summary["by_class"] == {}


def test_the_per_run_threshold_stops_a_mass_block(world):
    crowd = [world.user(f"crowd{n}") for n in range(4)]
    ctx = world.context({"connection": AUTH0_DB, "deprovision": {"threshold": 2}})
    for p in crowd:
        handlers.sync_user(ctx, p["id"], {})
        world.entra.update_user(p["id"], {"accountEnabled": False})
    run_id = reconcile(ctx, "fix-safe")
    assert remediate.approve(ctx, run_id) == {"applied": 2, "stopped_at_threshold": True}
    blocked = [p for p in crowd if world.auth0_users(p["mail"])[0].get("blocked")]
    assert len(blocked) == 2 and runs.get(ctx.store, run_id).status == "stopped"


def test_reports_in_json_csv_and_html(world, planted):
    ctx, people, *_ = planted
    run = runs.get(ctx.store, reconcile(ctx, "dry-run"))
    assert '"attribute_drift"' in report.as_json(run)
    rows = report.as_csv(run).splitlines()
    assert rows[0].startswith("class,safe,status") and len(rows) == 1 + len(run.findings)
    from service import create_app
    from service.settings import from_env
    with create_app(from_env(world.env)).app_context():
        html = report.as_html(run)
    assert html.index("Summary") < html.index("Findings") and people["ann"]["id"] in html


def test_only_one_run_at_a_time(world):
    from service import leases
    from service.reconcile.run import LOCK, AlreadyRunning
    ctx = world.context({"connection": AUTH0_DB})
    assert leases.acquire(ctx.store, LOCK, "another-replica", 60)
    with pytest.raises(AlreadyRunning):
        reconcile(ctx, "dry-run")


def test_one_auth0_user_tied_to_two_entra_accounts_and_ambiguous_emails_are_reported(world):
    ctx = world.context({"connection": AUTH0_DB, "link_by_verified_email": True})
    other = world.user("other")
    world.seed_auth0(user_id="auth0|twice", email="twice@example.com", email_verified=True, connection=AUTH0_DB,
                     password="Sandbox-pass-123!")
    done = Provisioner(ctx.settings, ctx.store, ctx.graph).ensure(
        {"user_id": "auth0|twice", "email": "twice@example.com"}, wait_s=5)
    ctx.auth0.update_user("auth0|twice", {"app_metadata": {"entra": {"object_id": other["id"], "managed": True}}})
    shared = world.user("shared")
    for connection in (AUTH0_DB, "google-oauth2"):
        world.seed_auth0(email=shared["mail"], email_verified=True, connection=connection,
                         **({"password": "Sandbox-pass-123!"} if connection == AUTH0_DB else {}))
    run = runs.get(ctx.store, reconcile(ctx, "dry-run"))
    dup = [f for f in run.findings if f["class"] == "duplicate" and f["auth0_user_id"] == "auth0|twice"]
    assert dup and sorted(dup[0]["auth0"]["object_ids"]) == sorted([done.object_id, other["id"]])
    assert [dup[0]["entra_object_id"], *dup[0]["other_entra_object_ids"]] == dup[0]["auth0"]["object_ids"]
    (amb,) = [f for f in run.findings if f["class"] == "ambiguous"]
    assert amb["entra_object_id"] == shared["id"] and len(amb["auth0"]["user_ids"]) == 2 and not amb["safe"]
    assert [amb["auth0_user_id"], *amb["other_auth0_user_ids"]] == amb["auth0"]["user_ids"]
