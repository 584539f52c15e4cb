"""Seed both emulators and the companion's link table for the reconciliation benchmark (setup, not timed)."""
import json
import os
import time

import yaml

from bench import _reconcile_plan as P
from service import sandbox
from service.clients.graph import GraphClient
from service.db import Store, migrate
from service.models import Link
from service.settings import from_env

SEED_BODY_BYTES = 900_000  # the Auth0 emulator refuses bodies over 1 MB, as Auth0 does (facts/auth0.md §3)
ENTRA_SELECT = ("id", "userPrincipalName", "displayName", "surname")


def entra_users(graph_emu, admin, n):
    """Exactly n Entra users: the sandbox's three default users deleted, n bulk-seeded; listed in UPN order."""
    graph_emu.reset()
    for user in admin.iter_users(select=("id",)):
        admin.delete_user(user["id"])  # soft delete: out of every listing, so Entra holds n users
    _control(graph_emu, "users/bulk", {"count": n, "prefix": "bench"})
    listed = [P.EntraUser(u["id"], u["userPrincipalName"], u["displayName"], u["surname"])
              for u in admin.iter_users(select=ENTRA_SELECT, top=999)]
    if len(listed) != n:
        raise RuntimeError(f"Entra lists {len(listed)} users after seeding {n}")
    return sorted(listed, key=lambda e: e.upn)


def _control(emu, path, body):
    """POST to an emulator's control API; the JSON answer."""
    resp = emu.http.post(f"{emu.url}/_emulator/{path}", json=body, timeout=300)
    resp.raise_for_status()
    return resp.json()


def _chunks(users):
    """JSON bodies of at most SEED_BODY_BYTES, each a list of users."""
    parts, size = [], 2
    for user in users:
        text = json.dumps(user, separators=(",", ":"))
        if parts and size + len(text) + 1 > SEED_BODY_BYTES:
            yield "[" + ",".join(parts) + "]"
            parts, size = [], 2
        parts.append(text)
        size += len(text) + 1
    if parts:
        yield "[" + ",".join(parts) + "]"


def auth0_users(auth0_emu, plan, entra):
    """Seed the Auth0 users the plan asks for through the control API; returns how many."""
    auth0_emu.reset()
    count = 0
    for body in _chunks(P.auth0_users(plan, entra)):
        resp = auth0_emu.http.post(f"{auth0_emu.url}/_emulator/users", data=body, timeout=300,
                                   headers={"Content-Type": "application/json"})
        resp.raise_for_status()
        count += len(resp.json()["users"])
    return count


def entra_drift(graph_emu, admin, plan, entra):
    """The mapped group (control API) and the disabled users ($batch PATCH, 20 a request); the group id."""
    group = _control(graph_emu, "groups", {"displayName": "Staff (reconcile benchmark)",
                                           "members": P.group_members(plan, entra)})
    patches = [{"method": "PATCH", "url": f"/users/{oid}", "body": {"accountEnabled": False}}
               for oid in P.disabled(plan, entra)]
    failed = [r for r in admin.batch(patches) if int(r.get("status", 500)) >= 300]
    if failed:
        raise RuntimeError(f"{len(failed)} users could not be disabled, e.g. {failed[0]}")
    return group["id"]


def identity_links(store, plan, entra):
    """Rows in the companion's identity_links table, as Office 365 provisioning leaves them."""
    rows = [Link(auth0_user_id=uid, entra_object_id=oid, immutable_id=P.immutable_id(oid), state="ready",
                 step="done") for uid, oid in P.links(plan, entra)]
    with store.session() as session:
        session.add_all(rows)
    return len(rows)


def mapping(group_id):
    """The sync mapping the run reconciles against."""
    return {"connection": P.CONNECTION, "roles": {group_id: [P.ROLE]},
            "profile": {"namespace": P.NAMESPACE, "attributes": dict(P.ATTRIBUTES)}}


def seed_all(job, work_dir):
    """Seed N users on both sides, plant the drift, write the mapping, migrate and fill the link table.

    Returns what the measuring runs and the check need: the companion's environment, the finding keys a
    correct run reports, and the counts of what was seeded.
    """
    started, n = time.monotonic(), job["n"]
    graph = sandbox.Emulator("graph", None, job["graph_url"], job["graph_ca"])
    auth0 = sandbox.Emulator("auth0", None, job["auth0_url"], True)
    env = sandbox.companion_env(graph, auth0, f"sqlite:///{work_dir}/companion-{n}.db")
    admin = GraphClient.from_settings(from_env(env))
    entra = entra_users(graph, admin, n)
    plan = P.make_plan(n, job["seed"])
    auth0_count = auth0_users(auth0, plan, entra)
    group_id = entra_drift(graph, admin, plan, entra)
    env["SYNC_CONFIG"] = os.path.join(work_dir, f"sync-{n}.yaml")
    with open(env["SYNC_CONFIG"], "w", encoding="utf-8") as fh:
        yaml.safe_dump(mapping(group_id), fh)
    store = Store(env["DATABASE_URL"])
    migrate(store.engine)
    links = identity_links(store, plan, entra)
    store.dispose()
    return {"env": env, "expected": P.expected(plan, entra), "counts": plan.counts, "drift": plan.drift,
            "auth0_users": auth0_count, "links": links, "members": len(P.group_members(plan, entra)),
            "seconds": time.monotonic() - started}
