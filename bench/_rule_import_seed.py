"""Seed the Rule-era tenant of the rule-import benchmark (setup, not timed): both emulators and the links."""
import time

from bench import _rule_import_plan as P
from bench._reconcile_seed import _chunks, _control
from service import sandbox
from service.clients.graph import GraphClient
from service.db import Store, migrate
from service.models import Link
from service.settings import from_env

GRAPH_CHUNK = 5000  # users per control request (the emulator takes bodies up to 4 MB)


def entra(graph_emu, admin, plan, domain):
    """Every account in one store operation per chunk; then the restorable ones soft-deleted ($batch)."""
    graph_emu.reset()
    graph_emu.configure(seats=2 * plan.n)  # enough Office 365 seats for every account and the unlicensed ones
    for user in admin.iter_users(select=("id",)):
        admin.delete_user(user["id"])  # the sandbox's own users: out of every listing
    bodies = [b for b in (P.entra_user(plan, k, i, domain) for k, i in plan.people()) if b]
    for start in range(0, len(bodies), GRAPH_CHUNK):
        _control(graph_emu, "users/bodies", {"users": bodies[start:start + GRAPH_CHUNK]})
    gone = [{"method": "DELETE", "url": f"/users/{P.oid(i)}"} for k, i in plan.people() if k == "missing_restore"]
    failed = [r for r in admin.batch(gone) if int(r.get("status", 500)) >= 300]
    if failed:
        raise RuntimeError(f"{len(failed)} accounts could not be deleted, e.g. {failed[0]}")
    return len(bodies) - len(gone)


def auth0(auth0_emu, plan, domain):
    """The Auth0 users through the control API, in bodies under 1 MB; how many."""
    auth0_emu.reset()
    users = (u for u in (P.auth0_user(k, i, domain) for k, i in plan.people()) if u)
    count = 0
    for body in _chunks(users):
        resp = auth0_emu.http.post(f"{auth0_emu.url}/_emulator/users", data=body, timeout=300,
                                   headers={"Content-Type": "application/json"})
        resp.raise_for_status()
        count += len(resp.json()["users"])
    return count


def links(store, plan):
    """The companion's own accounts (look-alikes the import must leave alone) in identity_links."""
    rows = [Link(auth0_user_id=P.uid(i), entra_object_id=P.oid(i), state="ready", step="done",
                 immutable_id=P.entra_user(plan, k, i, "x")["onPremisesImmutableId"])
            for k, i in plan.people() if k == "control_linked"]
    with store.session() as session:
        session.add_all(rows)
    return len(rows)


def seed_all(job, work_dir):
    """Seed N people; the companion's environment, the expected findings and what was seeded."""
    started, n = time.monotonic(), job["n"]
    graph = sandbox.Emulator("graph", None, job["graph_url"], job["graph_ca"])
    auth0_emu = sandbox.Emulator("auth0", None, job["auth0_url"], True)
    env = sandbox.companion_env(graph, auth0_emu, f"sqlite:///{work_dir}/companion-{n}.db")
    admin = GraphClient.from_settings(from_env(env))
    plan = P.make_plan(n)
    listed = entra(graph, admin, plan, sandbox.FEDERATED_DOMAIN)
    auth0_count = auth0(auth0_emu, plan, sandbox.FEDERATED_DOMAIN)
    store = Store(env["DATABASE_URL"])
    migrate(store.engine)
    linked = links(store, plan)
    store.dispose()
    return {"env": env, "expected": P.expected(plan), "counts": plan.counts, "entra_users": listed,
            "auth0_users": auth0_count, "links": linked, "seconds": time.monotonic() - started}
