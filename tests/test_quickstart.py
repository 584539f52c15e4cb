"""README's "Quick start for a real tenant", followed against the sandbox emulators.

The vendor-side steps (admin consent, M2M scopes, Actions, domain federation) are played on the emulators
through their control API, starting from a tenant where none of them is done; after each step the line of
`python -m service check` that the README names for it must turn ✓.
"""
import os
import re
import subprocess
import sys

import pytest

from service import permissions, preflight, sandbox

README = os.path.join(sandbox.ROOT, "README.md")


def quick_start():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    return text[text.index("## Quick start for a real tenant"):text.index("## Metrics")]


def readme_table():
    """{feature: (graph permissions, auth0 scopes)} from the README's permissions table."""
    rows = quick_start().split("<!-- permissions-table -->")[1].strip().splitlines()[2:]
    table = {}
    for row in rows:
        if not row.startswith("|"):
            break
        feature, graph, auth0 = (cell.strip() for cell in row.strip("|").split("|"))
        table[feature] = (re.findall(r"`([^`]+)`", graph), re.findall(r"`([^`]+)`", auth0))
    return table


def readme_healthy_output():
    block = quick_start().split("<!-- check-output: healthy -->")[1]
    return block.split("```")[1].strip("\n")


def cli(env, *args):
    return subprocess.run([sys.executable, "-m", "service", *args], env={**os.environ, **env}, cwd=sandbox.ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(graph, auth0, tmp_path):
    return sandbox.companion_env(graph, auth0, f"sqlite:///{tmp_path}/companion.db")


def test_the_permissions_table_is_what_the_check_requires():
    features = [permissions.LOGIN, permissions.ENTRA_SYNC, permissions.CREATE_USERS, permissions.DELETE_USERS,
                permissions.ROLES, permissions.RISK, permissions.RECONCILE, permissions.DEPROVISION,
                permissions.GUESTS, permissions.PREFLIGHT]
    assert readme_table() == {f.name: ([alts[0] for alts in f.graph], list(f.auth0)) for f in features}


def test_readme_check_output_is_what_the_sandbox_prints(env):
    assert cli(env, "migrate").stdout.strip() == "database is up to date"
    done = cli(env, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip("\n") == readme_healthy_output()


def status(env, title):
    return next(line.status for line in preflight.run(env) if line.title == title)


def test_following_the_steps_turns_each_line_green(env, graph, auth0):
    # A tenant where nothing is done yet: no consent, no scopes, no Actions, the domain still Managed.
    graph._admin("PUT", "roles", json={"roles": []})
    auth0.configure(scopes="")
    auth0._admin("PUT", "actions", json={"actions": [], "bindings": {}})
    graph._admin("PATCH", f"domains/{sandbox.FEDERATED_DOMAIN}", json={"authenticationType": "Managed"})
    before = cli(env, "check")
    assert before.returncode == 1
    failing = {line.split(":")[0][2:] for line in before.stdout.splitlines() if line.startswith("✗")}
    assert failing == {"database", "Graph permissions", "federated domain", "Auth0 scopes",
                       "Action office365-provisioning"}
    table = readme_table().values()
    # Step 1: admin consent to exactly the README's least privileged permissions.
    graph._admin("PUT", "roles", json={"roles": sorted({p for graph_perms, _ in table for p in graph_perms})})
    assert status(env, "Graph permissions") == preflight.OK
    # Step 2: the M2M application gets exactly the README's scopes.
    auth0.configure(scopes=" ".join(sorted({s for _, scopes in table for s in scopes})))
    assert status(env, "Auth0 scopes") == preflight.OK
    # Step 5: migrate.
    assert cli(env, "migrate").returncode == 0 and status(env, "database") == preflight.OK
    # Step 7: the Action deployed and bound to post-login.
    auth0._admin("PUT", "actions", json={"actions": [{"name": "office365-provisioning", "trigger": "post-login"}],
                                          "bindings": {"post-login": ["office365-provisioning"]}})
    assert status(env, "Action office365-provisioning") == preflight.OK
    # Step 8: the domain federated.
    graph._admin("PATCH", f"domains/{sandbox.FEDERATED_DOMAIN}", json={"authenticationType": "Federated"})
    after = cli(env, "check")
    assert after.returncode == 0 and after.stdout.rstrip().endswith("all checks passed"), after.stdout
