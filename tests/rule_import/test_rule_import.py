"""rule-import end to end on both emulators: every class found and nothing else, dry run, apply, approve."""
import datetime as dt
import json

from service import links, sandbox
from service.models import SyncEvent
from service.reconcile import remediate, runs
from service.rule_import.run import rule_import
from service.sync import auth0_events

UPN = "http://schemas.xmlsoap.org/claims/UPN"
IID = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"


def _expected(rw):
    p = rw.people
    uid = {n: p[n]["user"]["user_id"] for n in p}
    oid = {n: (p[n]["account"] or {}).get("id") for n in p}
    return sorted((c, u or "", o or "") for c, u, o in [
        ("adopt", uid["ann"], oid["ann"]), ("adopt", uid["bob"], oid["bob"]), ("adopt", uid["cat"], oid["cat"]),
        ("adopt", uid["dan"], oid["dan"]), ("metadata_drift", uid["cat"], oid["cat"]),
        ("unlicensed", uid["dan"], oid["dan"]), ("missing_in_entra", uid["eve"], oid["eve"]),
        ("missing_in_entra", uid["fay"], None), ("gone_in_auth0", None, oid["gus"]),
        ("gone_in_auth0", uid["hal"], oid["hal"]), ("leftover", None, p["bob"]["leftovers"][0]),
        ("leftover", None, p["ivy"]["leftovers"][0])])


def _found(findings):
    return sorted((f["class"], f["auth0_user_id"] or "", f["entra_object_id"] or "") for f in findings)


def _report(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _sides(world):
    graph, auth0 = world.graph_emu.state(), world.auth0_emu.state()
    return ({u["id"]: u for u in graph["users"]}, sorted(d["id"] for d in graph["deletedItems"]),
            {u["user_id"]: u for u in auth0["users"]})


def test_dry_run_finds_every_class_and_nothing_else_and_changes_nothing(world, rule_world, tmp_path):
    ctx, before = rule_world.ctx, _sides(world)
    run_id = rule_import(ctx, apply=False, report_path=str(tmp_path / "report.json"))
    report = _report(tmp_path / "report.json")
    assert _found(report["findings"]) == _expected(rule_world)
    assert _sides(world) == before
    assert links.get(ctx.store, rule_world.people["ann"]["user"]["user_id"]) is None
    by = {(f["class"], f["auth0_user_id"]): f for f in report["findings"]}
    cat = rule_world.people["cat"]
    drift = by[("metadata_drift", cat["user"]["user_id"])]
    assert drift["auth0"]["upn"] == cat["account"]["upn"] and drift["entra"]["upn"] == rule_world.renamed
    assert {f["status"] for f in report["findings"] if f["safe"]} <= {"would-adopt", "would-fix"}
    leftover = next(f for f in report["findings"] if f["entra_object_id"] == rule_world.people["bob"]["leftovers"][0])
    bob_nickname = rule_world.people["bob"]["user"]["email"].split("@")[0]  # the Rule's mailNickname
    assert leftover["status"] == "proposed" and leftover["entra"]["person"] == bob_nickname
    assert [a["id"] for a in leftover["entra"]["other_accounts"]] == [rule_world.people["bob"]["account"]["id"]]
    run = runs.get(ctx.store, run_id)
    assert run.mode == "rule-dry-run" and run.summary["by_class"]["adopt"] == 4
    (ticket,) = rule_world.hook.messages
    assert ticket["count"] == 5 and {p["class"] for p in ticket["proposals"]} == {
        "leftover", "gone_in_auth0", "missing_in_entra"}


def test_apply_then_approve_then_a_second_run_finds_nothing(world, rule_world, tmp_path):
    ctx, p = rule_world.ctx, rule_world.people
    run_id = rule_import(ctx, apply=True, report_path=str(tmp_path / "apply.csv"))
    status = {(f["class"], f["auth0_user_id"]): f["status"] for f in runs.get(ctx.store, run_id).findings}
    uid = {n: p[n]["user"]["user_id"] for n in p}
    assert status[("metadata_drift", uid["cat"])] == "fixed" and status[("unlicensed", uid["dan"])] == "fixed"
    assert status[("missing_in_entra", uid["eve"])] == "restored"
    assert status[("missing_in_entra", uid["fay"])] == "proposed"
    for name in ("ann", "bob", "cat", "dan", "eve"):
        link = links.get(ctx.store, uid[name])
        assert (link.state, link.origin, link.entra_object_id) == ("ready", "rule", p[name]["account"]["id"])
    adopted = world.audit(ctx, "link.adopted")
    assert sorted(r.auth0_user_id for r in adopted) == sorted(uid[n] for n in ("ann", "bob", "cat", "dan", "eve"))
    assert {(r.outcome, r.detail["origin"]) for r in adopted} == {("ok", "rule")}
    users, deleted, auth0 = _sides(world)
    assert auth0[uid["cat"]]["app_metadata"]["office365UPN"] == rule_world.renamed
    assert users[p["dan"]["account"]["id"]]["assignedLicenses"]
    assert p["eve"]["account"]["id"] in users
    assert all(users[o]["accountEnabled"] for o in p["bob"]["leftovers"] + p["ivy"]["leftovers"])
    assert "apply.csv" in str(tmp_path / "apply.csv") and (tmp_path / "apply.csv").read_text().count("\n") == 13

    assert remediate.approve(ctx, run_id) == {"applied": 4, "stopped_at_threshold": False}
    users, _, auth0 = _sides(world)
    for oid in p["bob"]["leftovers"] + p["ivy"]["leftovers"] + [p["gus"]["account"]["id"], p["hal"]["account"]["id"]]:
        assert users[oid]["accountEnabled"] is False
    assert "office365UPN" not in (auth0[uid["fay"]].get("app_metadata") or {})
    assert users[p["bob"]["account"]["id"]]["accountEnabled"] is True

    again = runs.get(ctx.store, rule_import(ctx, apply=True))
    assert again.summary["by_class"] == {} and again.findings == []


def test_adopted_users_sign_in_with_entras_values_and_leave_by_the_graded_path(world, rule_world):
    ctx, p = rule_world.ctx, rule_world.people
    rule_import(ctx, apply=True)
    users, _, auth0 = _sides(world)
    secrets = sandbox.action_secrets("http://127.0.0.1:9")  # the fast path calls no companion
    for name in ("ann", "cat"):
        user = auth0[p[name]["user"]["user_id"]]
        claims = sandbox.play_login(user, secrets, redirect=False)["saml"]["attributes"]
        account = users[p[name]["account"]["id"]]
        assert (claims[UPN], claims[IID]) == (account["userPrincipalName"], account["onPremisesImmutableId"])

    ann = p["ann"]["user"]["user_id"]
    ctx.auth0.delete_user(ann)
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    (event_id,), _ = auth0_events.record(ctx.store, [{"id": "evt-ann-deleted", "type": "user.deleted", "time": now,
                                                      "data": {"object": {"user_id": ann}}}])
    with ctx.store.session() as session:
        event = session.get(SyncEvent, event_id)
    assert ctx.dispatch(event) == "blocked"  # the Auth0 event stream's handler: graded deprovisioning
    users, _, _ = _sides(world)
    assert users[p["ann"]["account"]["id"]]["accountEnabled"] is False
    assert links.get(ctx.store, ann).deprovision_step == "blocked"


def test_a_run_that_dies_half_way_is_finished_by_the_next(world, rule_world, monkeypatch):
    ctx, p = rule_world.ctx, rule_world.people
    from service.rule_import import fix
    real, calls = links.adopt, []

    def dying(store, rows, origin="rule"):
        calls.append(len(rows))
        if len(calls) == 3:  # eve's restore, one batch of two, then the worker dies
            raise RuntimeError("worker killed")
        return real(store, rows, origin)
    monkeypatch.setattr(fix.links, "adopt", dying)
    monkeypatch.setattr(fix, "ADOPT_BATCH", 2)
    try:
        rule_import(ctx, apply=True)
    except RuntimeError:
        pass
    died = runs.latest(ctx.store, 1)[0]
    assert died.status == "failed" and len(calls) == 3
    with ctx.store.session() as session:  # as a killed process leaves it: still `running`
        session.get(type(died), died.id).status = "running"
    monkeypatch.setattr(fix.links, "adopt", real)

    resumed = runs.get(ctx.store, rule_import(ctx, apply=True))
    assert runs.get(ctx.store, died.id).status == "interrupted"
    assert resumed.summary["by_class"]["adopt"] == 2  # the first batch was adopted before the crash
    assert "metadata_drift" not in resumed.summary["by_class"]  # fixed before the crash, not again
    assert all(links.get(ctx.store, p[n]["user"]["user_id"]) for n in ("ann", "bob", "cat", "dan", "eve"))


def test_the_command_line_dry_run_writes_a_readable_html_report(world, rule_world, tmp_path, monkeypatch, capsys):
    from service.__main__ import main
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    main(["rule-import", "--report", str(tmp_path / "rule.html")])
    said = json.loads(capsys.readouterr().out)
    assert said["mode"] == "rule-dry-run" and said["summary"]["by_class"]["leftover"] == 2
    assert said["approve"] == f"python -m service reconcile approve --run {said['run']}"
    page = (tmp_path / "rule.html").read_text()
    assert page.startswith("<!doctype html>") and page.count("<tr><td class=") == 12
    assert rule_world.renamed in page and "gone_in_auth0" in page


def test_no_seats_left_fails_the_licence_and_the_next_run_tries_again(world, rule_world):
    ctx, dan = rule_world.ctx, rule_world.people["dan"]
    used = next(s["consumedUnits"] for s in ctx.graph.subscribed_skus() if s["skuPartNumber"] == sandbox.SKU_PART_NUMBER)
    world.graph_emu.configure(seats={sandbox.SKU_PART_NUMBER: used})  # a bad day: every seat taken
    run = runs.get(ctx.store, rule_import(ctx, apply=True))
    (unlicensed,) = [f for f in run.findings if f["class"] == "unlicensed"]
    assert unlicensed["status"] == "failed" and "licences are left" in unlicensed["fix"]["error"]
    users, _, _ = _sides(world)
    assert users[dan["account"]["id"]]["assignedLicenses"] == []
    assert links.get(ctx.store, dan["user"]["user_id"]).origin == "rule"  # adopted all the same
    again = runs.get(ctx.store, rule_import(ctx, apply=False))
    assert [f["auth0_user_id"] for f in again.findings if f["class"] == "unlicensed"] == [dan["user"]["user_id"]]
