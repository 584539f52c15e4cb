"""Auth0 emulator: Actions and trigger bindings as `service check` reads them, and their control call.

The extract in ../shared/specs has no Actions paths, so the field names are held to Auth0's documented
models here (Management API reference "Get actions" / "Get trigger bindings"; auth0-python 5.x
types/action.py, action_deployed_version.py, action_binding.py, action_trigger.py).
"""
import pytest

ACTION_FIELDS = {"id", "name", "supported_triggers", "all_changes_deployed", "created_at", "updated_at", "code",
                 "dependencies", "runtime", "secrets", "deployed_version", "installed_integration_id",
                 "integration", "status", "built_at", "deploy", "modules"}
VERSION_FIELDS = {"id", "action_id", "code", "dependencies", "deployed", "runtime", "secrets", "status", "number",
                  "errors", "action", "built_at", "created_at", "updated_at", "supported_triggers", "modules"}
BINDING_FIELDS = {"id", "trigger_id", "display_name", "action", "created_at", "updated_at"}
TRIGGER_FIELDS = {"id", "version", "status", "runtimes", "default_runtime", "compatible_triggers", "binding_policy"}
BUILD_STATUSES = {"pending", "building", "packaged", "built", "retrying", "failed"}


def assert_documented_action(action):
    assert set(action) <= ACTION_FIELDS and action["status"] in BUILD_STATUSES
    for trigger in action["supported_triggers"]:
        assert set(trigger) <= TRIGGER_FIELDS
    if "deployed_version" in action:
        assert set(action["deployed_version"]) <= VERSION_FIELDS
        assert action["deployed_version"]["action_id"] == action["id"]


def test_sandbox_holds_the_deploy_layout_actions_bound_in_order(emu):
    listing = emu.api("GET", "/actions/actions").json
    assert set(listing) == {"total", "page", "per_page", "actions"} and listing["total"] == 5
    for action in listing["actions"]:
        assert_documented_action(action)
    bindings = emu.api("GET", "/actions/triggers/post-login/bindings").json
    assert set(bindings) == {"total", "page", "per_page", "bindings"}
    assert [b["action"]["name"] for b in bindings["bindings"]] == [
        "entra-policy", "entra-profile-claims", "office365-preprovision-on-login", "office365-provisioning"]
    for binding in bindings["bindings"]:
        assert set(binding) <= BINDING_FIELDS and binding["trigger_id"] == "post-login"
    registration = emu.api("GET", "/actions/triggers/post-user-registration/bindings").json["bindings"]
    assert [b["display_name"] for b in registration] == ["Office 365 pre-provisioning"]


def test_list_filters_by_name_trigger_deployed_and_pages(emu):
    named = emu.api("GET", "/actions/actions", query_string={"actionName": "office365-provisioning",
                                                             "triggerId": "post-login"}).json["actions"]
    assert [a["name"] for a in named] == ["office365-provisioning"]
    other_trigger = {"actionName": "office365-provisioning", "triggerId": "post-user-registration"}
    assert emu.api("GET", "/actions/actions", query_string=other_trigger).json["actions"] == []
    page = emu.api("GET", "/actions/actions", query_string={"per_page": 2, "page": 2}).json
    assert page["total"] == 5 and len(page["actions"]) == 1 and page["page"] == 2
    assert emu.api("GET", "/actions/actions", query_string={"installed": "true"}).json["actions"] == []
    emu.control("PUT", "actions", json={"actions": [{"name": "draft", "trigger": "post-login", "deployed": False}]})
    assert emu.api("GET", "/actions/actions", query_string={"deployed": "true"}).json["total"] == 0
    draft = emu.api("GET", "/actions/actions").json["actions"][0]
    assert "deployed_version" not in draft and draft["all_changes_deployed"] is False


@pytest.mark.parametrize("path,query", [("/actions/actions", {"triggerId": "post-logon"}),
                                        ("/actions/triggers/post-logon/bindings", {}),
                                        ("/actions/actions", {"per_page": 101})])
def test_bad_query_is_a_400(emu, path, query):
    reply = emu.api("GET", path, query_string=query)
    assert reply.status_code == 400 and reply.json["errorCode"] == "invalid_query_string"


def test_reading_actions_needs_read_actions(emu):
    emu.control("PATCH", "config", json={"scopes": "read:users"})
    emu._token = None
    reply = emu.api("GET", "/actions/actions")
    assert reply.status_code == 403 and reply.json["message"] == "Insufficient scope, expected any of: read:actions"


def test_control_refuses_bindings_to_unknown_actions(emu):
    reply = emu.http.open("/_emulator/actions", method="PUT", json={"actions": [],
                                                                    "bindings": {"post-login": ["ghost"]}})
    assert reply.status_code == 400
