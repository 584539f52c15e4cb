"""`python -m service check` against the emulators: a healthy sandbox, then each fault in turn."""
import pytest

from service import preflight, sandbox
from service.db import Store, migrate
from tests.support.procs import free_port


@pytest.fixture
def env(graph, auth0, tmp_path):
    """A companion environment on the sandbox emulators with a migrated SQLite database."""
    values = sandbox.companion_env(graph, auth0, f"sqlite:///{tmp_path}/companion.db")
    migrate(Store(values["DATABASE_URL"]).engine)
    return values


def lines_of(env, **changes):
    return preflight.run({**env, **{k: str(v) for k, v in changes.items()}})


def line(lines, title):
    found = [x for x in lines if x.title == title]
    assert found, f"no line {title!r} in {[x.title for x in lines]}"
    return found[0]


def only_failure(lines, title):
    """The one ✗ line, which must be `title`, with a fix."""
    failures = [x for x in lines if x.status == preflight.FAIL]
    assert [x.title for x in failures] == [title], preflight.render(lines)
    assert failures[0].fix
    return failures[0]


def test_healthy_sandbox_passes_every_check(env):
    lines = lines_of(env)
    assert [x.status for x in lines] == [preflight.OK] * len(lines), preflight.render(lines)
    assert [x.title for x in lines] == ["settings", "public URL", "database", "queue", "Entra token",
                                        "Graph permissions", "federated domain", "licence", "Auth0 token",
                                        "Auth0 scopes", "Action office365-provisioning"]
    assert not preflight.failed(lines)
    assert preflight.render(lines).endswith("all checks passed")


def test_settings_problem_names_the_variable_and_skips_the_rest(env):
    lines = lines_of({k: v for k, v in env.items() if k != "O365_DOMAIN"}, O365_USAGE_LOCATION="gb")
    bad = [x for x in lines if x.status == preflight.FAIL]
    assert {x.detail.split(" ")[0] for x in bad} == {"O365_DOMAIN", "O365_USAGE_LOCATION"}
    assert [x.fix.split(" ")[0] for x in bad] == ["set", "correct"]
    assert lines[-1].status == preflight.SKIP


@pytest.mark.parametrize("url,ok", [("https://companion.example.com", True), ("http://127.0.0.1:8000", True),
                                    ("http://localhost:8000", True), ("http://[::1]:8000", True),
                                    ("http://companion.example.com", False), ("http://10.0.0.5:8000", False)])
def test_public_url_is_https_or_loopback(url, ok):
    assert (preflight.public_url(url).status == preflight.OK) is ok


def test_plain_http_public_url_fails(env):
    # Without the console, whose settings already refuse a plain-http public URL at start-up.
    assert "plain http" in only_failure(lines_of(env, COMPANION_PUBLIC_URL="http://companion.example.com",
                                                 CONSOLE_CLIENT_ID=""),
                                        "public URL").detail


def test_database_behind_the_latest_migration_fails(env, tmp_path):
    found = only_failure(lines_of(env, DATABASE_URL=f"sqlite:///{tmp_path}/fresh.db"), "database")
    assert "empty" in found.detail and "python -m service migrate" in found.fix


def test_unreachable_database_fails_without_its_password(env):
    url = f"postgresql://companion:s3cret-pw@127.0.0.1:{free_port()}/companion"
    found = only_failure(lines_of(env, DATABASE_URL=url), "database")
    assert found.detail.startswith("unreachable") and "s3cret-pw" not in found.detail


def test_unreachable_queue_fails(env):
    found = only_failure(lines_of(env, QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0"), "queue")
    assert "unreachable" in found.detail and "QUEUE_URL" in found.fix


def test_wrong_entra_secret_names_the_aadsts_error(env):
    lines = lines_of(env, ENTRA_CLIENT_SECRET="not-the-secret")
    found = only_failure(lines, "Entra token")
    assert found.detail.startswith("AADSTS7000215: Invalid client secret provided")
    assert "not-the-secret" not in preflight.render(lines)
    assert line(lines, "Graph checks").status == preflight.SKIP


def test_missing_graph_permission_is_named_with_its_feature(env, graph):
    graph._admin("PUT", "roles", json={"roles": ["User.ReadWrite.All", "Organization.Read.All", "Domain.Read.All"]})
    found = only_failure(lines_of(env), "Graph permissions")
    assert "GroupMember.Read.All (for Entra → Auth0 sync" in found.detail
    assert "IdentityRiskyUser.Read.All (for risky-user lockout" in found.detail
    assert "Grant admin consent" in found.fix


def test_higher_privileged_permissions_satisfy_the_need(env, graph):
    graph._admin("PUT", "roles", json={"roles": ["Directory.ReadWrite.All", "IdentityRiskyUser.ReadWrite.All"]})
    assert line(lines_of(env), "Graph permissions").status == preflight.OK


@pytest.mark.parametrize("change,expected", [
    (None, "is not a domain of this tenant"),
    ({"isVerified": False}, "is not verified"),
    ({"authenticationType": "Managed"}, "is Managed, not Federated"),
])
def test_domain_missing_unverified_or_managed_fails(env, graph, change, expected):
    if change is None:
        graph._admin("DELETE", f"domains/{sandbox.FEDERATED_DOMAIN}")
    else:
        graph._admin("PATCH", f"domains/{sandbox.FEDERATED_DOMAIN}", json=change)
    assert expected in only_failure(lines_of(env), "federated domain").detail


def test_unknown_sku_lists_what_the_tenant_has(env):
    found = only_failure(lines_of(env, O365_LICENSE_SKU="SPE_E5"), "licence")
    assert "no subscription SPE_E5" in found.detail and "ENTERPRISEPACK" in found.detail


def test_sku_without_free_seats_fails(env, graph):
    graph.configure(seats=1)  # the seeded admin holds the only seat
    assert "no free seats" in only_failure(lines_of(env), "licence").detail


def test_seats_under_the_low_water_mark_warn_without_failing(env, graph):
    graph.configure(seats=5)
    lines = lines_of(env, O365_SEATS_LOW_WATER=10)
    assert line(lines, "licence").status == preflight.WARN and "only 4 free seat(s)" in line(lines, "licence").detail
    assert not preflight.failed(lines)


def test_wrong_auth0_secret_fails(env):
    lines = lines_of(env, AUTH0_CLIENT_SECRET="not-the-auth0-secret")
    found = only_failure(lines, "Auth0 token")
    assert "access_denied" in found.detail and "AUTH0_CLIENT_SECRET" in found.fix
    assert line(lines, "Auth0 checks").status == preflight.SKIP


def test_missing_auth0_scope_is_named_for_the_feature_that_needs_it(env, auth0, tmp_path):
    mapping = tmp_path / "sync.yaml"
    mapping.write_text("connection: Username-Password-Authentication\n")
    granted = auth0.configure()["scopes"].replace("create:user_tickets", "")
    auth0.configure(scopes=granted)
    found = only_failure(lines_of(env, SYNC_CONFIG=mapping), "Auth0 scopes")
    assert found.detail == "missing create:user_tickets (for Entra → Auth0 user creation (SYNC_CONFIG connection))"


def test_without_read_actions_the_actions_cannot_be_checked(env, auth0):
    auth0.configure(scopes=auth0.configure()["scopes"].replace("read:actions", ""))
    lines = lines_of(env)
    assert "read:actions" in line(lines, "Auth0 scopes").detail
    assert "read:actions" in line(lines, "Action office365-provisioning").fix


PROVISIONING = {"name": "office365-provisioning", "trigger": "post-login"}


@pytest.mark.parametrize("spec,expected", [
    ({"actions": [], "bindings": {}}, "not found for the post-login trigger"),
    ({"actions": [{**PROVISIONING, "deployed": False}], "bindings": {}}, "never deployed"),
    ({"actions": [PROVISIONING], "bindings": {}}, "not bound to post-login"),
])
def test_action_missing_undeployed_or_unbound_fails(env, auth0, spec, expected):
    auth0._admin("PUT", "actions", json=spec)
    assert expected in only_failure(lines_of(env), "Action office365-provisioning").detail


def test_action_with_undeployed_changes_warns(env, auth0):
    auth0._admin("PUT", "actions", json={"actions": [{**PROVISIONING, "all_changes_deployed": False}],
                                          "bindings": {"post-login": ["office365-provisioning"]}})
    lines = lines_of(env)
    assert line(lines, "Action office365-provisioning").status == preflight.WARN and not preflight.failed(lines)


def test_unknown_entra_app_names_aadsts700016(env):
    found = only_failure(lines_of(env, ENTRA_CLIENT_ID="0f0f0f0f-1c4a-4e5b-9f7a-0c1d2e3f4a5b"), "Entra token")
    assert found.detail.startswith("AADSTS700016:") and "ENTRA_CLIENT_ID" in found.fix


def test_unknown_entra_tenant_points_at_the_tenant_id(env):
    found = only_failure(lines_of(env, ENTRA_TENANT_ID="0f0f0f0f-1c4a-4e5b-9f7a-0c1d2e3f4a5b"), "Entra token")
    assert "ENTRA_TENANT_ID" in found.fix


def test_unreadable_sync_config_fails_and_the_defaults_are_checked(env, tmp_path):
    mapping = tmp_path / "sync.yaml"
    mapping.write_text("roles: 5\n")
    found = only_failure(lines_of(env, SYNC_CONFIG=mapping), "SYNC_CONFIG")
    assert "roles must map" in found.detail


def test_a_graph_outage_fails_the_line_it_hits(env, graph):
    graph.add_faults({"method": "GET", "path": "^/v1.0/subscribedSkus$", "kind": "status", "status": 503})
    assert "unavailable (HTTP 503)" in only_failure(lines_of(env), "licence").detail


def test_an_auth0_outage_fails_the_actions_line(env, auth0):
    auth0.add_faults({"method": "GET", "path": "^/api/v2/actions/", "kind": "status", "status": 503, "count": None})
    assert "unavailable (HTTP 503)" in only_failure(lines_of(env), "Action office365-provisioning").detail


@pytest.mark.parametrize("value", ["-1", "ten", "2.5"])
def test_low_water_mark_must_be_a_whole_number(env, value):
    (problem,) = [x.detail for x in lines_of(env, O365_SEATS_LOW_WATER=value) if x.status == preflight.FAIL]
    assert problem.startswith("O365_SEATS_LOW_WATER is malformed")
