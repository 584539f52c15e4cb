"""The Auth0 scopes README documents per feature are enough: each feature runs with exactly those scopes.

The Auth0 emulator grants exactly the scopes set in its `scopes` knob and answers 403 insufficient_scope, like
Auth0, for a call that needs another one; the client turns that into AuthFailed, which would fail these tests.
"""
import os
import re

import pytest

from service.errors import AuthFailed
from service.reconcile import runs
from service.reconcile.run import reconcile
from service.sandbox import ROOT
from service.sync import escalate, handlers, risk
from tests.sync.conftest import AUTH0_DB

# Feature keys → how README names them: in the list under Configuration, and in the quick start's
# permissions table (`python -m service check` derives the same table from code), whichever README has.
FEATURES = {"sync": ("Entra → Auth0 sync", "Entra → Auth0 sync"),
            "create": ("Creating Auth0 users", "Entra → Auth0 user creation"),
            "roles": ("Group → role mapping", "group → role mapping"),
            "delete": ("Deleting blocked users", "Auth0 user deletion"),
            "risk": ("Risky-user lockout", "risky-user lockout"),
            "reconcile": ("Reconciliation", "reconciliation"),
            "login": ("Office 365 provisioning at login", "Office 365 login provisioning"),
            "events": ("Auth0 → Entra", "Auth0 → Entra graded deprovisioning")}
SCOPE = r"`([a-z_]+:[a-z_]+)`"


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        return fh.read()


def from_list(text):
    """{feature key: scopes} from the list between the auth0-scopes markers."""
    block = text.split("<!-- auth0-scopes -->")[1].split("<!-- /auth0-scopes -->")[0]
    items = [item.replace("\n", " ").lstrip("- ") for item in block.strip().split("\n- ")]
    return {key: set(re.findall(SCOPE, next(i for i in items if i.startswith(title))))
            for key, (title, _) in FEATURES.items()}


def from_table(text):
    """{feature key: scopes} from the permissions table (its last column holds the Auth0 scopes)."""
    rows = [r for r in text.split("<!-- permissions-table -->")[1].strip().splitlines() if r.startswith("| ")]
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows[1:]]
    return {key: set(re.findall(SCOPE, next(c[-1] for c in cells if c[0].startswith(name))))
            for key, (_, name) in FEATURES.items()}


def documented():
    """Every statement of the scopes README makes: {source: {feature key: scopes}}."""
    text = _readme()
    sources = {"list": from_list, "table": from_table}
    marker = {"list": "<!-- auth0-scopes -->", "table": "<!-- permissions-table -->"}
    return {name: parse(text) for name, parse in sources.items() if marker[name] in text}


STATEMENTS = documented()
SCOPES = next(iter(STATEMENTS.values()))


def grant(world, *features):
    """The emulator's M2M application gets exactly the documented scopes of the sync plus these features.

    The sync's scopes are always in: its worker runs whenever any of these features does.
    """
    scopes = set().union(SCOPES["sync"], *(SCOPES[f] for f in features))
    world.auth0_emu.configure(scopes=" ".join(sorted(scopes)))
    return scopes


def test_readme_names_every_feature_and_its_statements_agree():
    assert STATEMENTS and SCOPES["login"] == set() and all(SCOPES[k] for k in FEATURES if k != "login")
    assert "create:user_tickets" in SCOPES["create"]
    for other in STATEMENTS.values():  # each feature together with the always-on sync
        assert {k: v | other["sync"] for k, v in other.items()} == {k: v | SCOPES["sync"] for k, v in SCOPES.items()}


def test_create_roles_block_and_delete_run_with_exactly_the_documented_scopes(world):
    grant(world, "create", "roles", "delete")
    alice = world.user("alice")
    staff = world.group("Staff", alice)
    ctx = world.context({"connection": AUTH0_DB, "roles": {staff["id"]: ["Staff"]},
                         "deprovision": {"delete_after_days": 0}})
    assert handlers.sync_user(ctx, alice["id"], {}) == "synced"
    (created,) = world.audit(ctx, "auth0.user.created")
    assert created.detail["password_ticket"] is True
    uid = created.auth0_user_id
    assert [r["name"] for r in ctx.auth0.user_roles(uid)] == ["Staff"]
    world.leave(staff, alice)
    assert handlers.sync_user(ctx, alice["id"], {}) == "synced"
    assert ctx.auth0.user_roles(uid) == []
    world.entra.update_user(alice["id"], {"accountEnabled": False})
    assert handlers.sync_user(ctx, alice["id"], {}) == "blocked"
    assert escalate.run(ctx, None, {}) == "done"
    assert world.auth0_users(alice["mail"]) == [] and world.audit(ctx, "auth0.user.deleted")


def test_risky_user_lockout_runs_with_exactly_its_documented_scopes(world):
    grant(world, "create")
    eve = world.user("eve")
    ctx = world.context({"connection": AUTH0_DB, "risk": {"level": "high"}})
    handlers.sync_user(ctx, eve["id"], {})
    grant(world, "risk")
    ctx = world.context({"connection": AUTH0_DB, "risk": {"level": "high"}})  # a new token with those scopes
    world.graph_emu.http.post(f"{world.graph_emu.url}/_emulator/risk", json={
        "userId": eve["id"], "riskLevel": "high", "riskState": "atRisk"}).raise_for_status()
    assert risk.poll(ctx, None, {}) == "done"
    assert world.auth0_users(eve["mail"])[0]["blocked"] is True


def test_reconciliation_runs_with_exactly_its_documented_scopes(world):
    grant(world, "create", "roles")
    bob = world.user("bob")
    staff = world.group("Staff", bob)
    mapping = {"connection": AUTH0_DB, "roles": {staff["id"]: ["Staff"]}}
    handlers.sync_user(world.context(mapping), bob["id"], {})
    grant(world, "reconcile")
    ctx = world.context(mapping)
    run = runs.get(ctx.store, reconcile(ctx, "dry-run", 5))
    assert run.status == "done", run.summary


def test_without_create_user_tickets_the_user_made_is_audited_with_the_fix(world):
    scopes = grant(world, "create") - {"create:user_tickets"}
    world.auth0_emu.configure(scopes=" ".join(sorted(scopes)))
    carol = world.user("carol")
    ctx = world.context({"connection": AUTH0_DB})
    with pytest.raises(AuthFailed) as caught:
        handlers.sync_user(ctx, carol["id"], {})
    assert caught.value.code == "insufficient_scope" and caught.value.http_status == 403
    (made,) = world.auth0_users(carol["mail"])
    (created,) = world.audit(ctx, "auth0.user.created")
    (failed,) = world.audit(ctx, "auth0.password_ticket.failed")
    assert created.auth0_user_id == made["user_id"] and created.detail["password_ticket"] is False
    assert failed.outcome == "failed" and failed.auth0_user_id == made["user_id"]
    assert failed.detail["error"]["code"] == "insufficient_scope" and "create:user_tickets" in failed.detail["fix"]
