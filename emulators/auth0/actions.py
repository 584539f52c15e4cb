"""Actions and trigger bindings: the read side `service check` uses, plus a control call to set them.

Shapes follow Auth0's documented Management API (`GET /api/v2/actions/actions` answers
`{total, page, per_page, actions}`; `GET /api/v2/actions/triggers/{triggerId}/bindings` answers
`{total, page, per_page, bindings}`, each binding `{id, trigger_id, display_name, action, created_at,
updated_at}`; an Action carries `deployed_version` once deployed and `all_changes_deployed`). The default
sandbox holds the Actions of auth0_actions/deploy/tenant.yaml, deployed and bound as that file binds them.
"""
import json
import threading
import uuid

from emulators.auth0.errors import Auth0Error, bad_query
from emulators.auth0.store import now_iso
from emulators.auth0.web import Reply, bool_arg, int_arg

# Auth0's ActionTriggerTypeEnum values the sandbox knows (the ones our Actions use, and a few neighbours).
TRIGGERS = {"post-login": "v3", "post-user-registration": "v2", "pre-user-registration": "v2",
            "credentials-exchange": "v2", "post-change-password": "v2"}
SEED = (("entra-policy", "post-login"), ("entra-profile-claims", "post-login"),
        ("office365-preprovision-on-login", "post-login"), ("office365-provisioning", "post-login"),
        ("office365-preprovision", "post-user-registration"))
SEED_DISPLAY = {"entra-policy": "Entra sign-in policy", "entra-profile-claims": "Entra profile claims",
                "office365-preprovision-on-login": "Office 365 pre-provisioning on login",
                "office365-provisioning": "Office 365 provisioning",
                "office365-preprovision": "Office 365 pre-provisioning"}


def _action(name, trigger, deployed=True, all_changes_deployed=True):
    """One Action as Auth0 lists it (no code: the check never reads it)."""
    action_id, stamp = str(uuid.uuid5(uuid.NAMESPACE_URL, f"action/{name}")), now_iso()
    supported = [{"id": trigger, "version": TRIGGERS[trigger]}]
    action = {"id": action_id, "name": name, "supported_triggers": supported, "runtime": "node22",
              "all_changes_deployed": bool(deployed and all_changes_deployed), "created_at": stamp,
              "updated_at": stamp, "dependencies": [], "secrets": [], "status": "built"}
    if deployed:
        action["deployed_version"] = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"version/{name}")),
                                      "action_id": action_id, "deployed": True, "number": 1, "runtime": "node22",
                                      "status": "built", "built_at": stamp, "created_at": stamp,
                                      "updated_at": stamp, "supported_triggers": supported}
    return action


class ActionsState:
    """The tenant's Actions by id and the ordered bindings of each trigger (action ids)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.actions, self.bindings = {}, {t: [] for t in TRIGGERS}
        for name, trigger in SEED:
            action = _action(name, trigger)
            self.actions[action["id"]] = action
            self.bindings[trigger].append((action["id"], SEED_DISPLAY[name]))

    def replace(self, spec):
        """Control: {"actions": [{name, trigger, deployed?, all_changes_deployed?}], "bindings": {trigger: [names]}}."""
        actions = {}
        for item in spec.get("actions", []):
            if not isinstance(item, dict) or item.get("trigger") not in TRIGGERS or not item.get("name"):
                raise Auth0Error(400, f"each action needs a name and a trigger out of {sorted(TRIGGERS)}")
            action = _action(item["name"], item["trigger"], item.get("deployed", True),
                             item.get("all_changes_deployed", True))
            actions[action["id"]] = action
        by_name = {a["name"]: a["id"] for a in actions.values()}
        bindings = {t: [] for t in TRIGGERS}
        for trigger, names in (spec.get("bindings") or {}).items():
            if trigger not in TRIGGERS or any(n not in by_name for n in names):
                raise Auth0Error(400, f"bindings.{trigger} must name actions listed under actions")
            bindings[trigger] = [(by_name[n], n) for n in names]
        with self.lock:
            self.actions, self.bindings = actions, bindings


def _state(emu):
    return emu.actions


def _trigger(req_value):
    if req_value not in TRIGGERS:
        raise bad_query(f"'Value {req_value} is not one of the allowed values' on property triggerId.")
    return req_value


def _page(req, default_per_page=20):
    return int_arg(req, "page", 0, low=0), int_arg(req, "per_page", default_per_page, low=1, high=100)


def list_actions(emu, req):
    """GET /actions/actions with triggerId, actionName, deployed, installed, page, per_page."""
    trigger = _trigger(req.args["triggerId"]) if req.args.get("triggerId") else None
    name, deployed_only = req.args.get("actionName"), bool_arg(req, "deployed")
    if bool_arg(req, "installed"):
        found = []  # the sandbox has no Marketplace integrations installed
    else:
        with _state(emu).lock:
            found = [dict(a) for a in _state(emu).actions.values()
                     if (trigger is None or any(t["id"] == trigger for t in a["supported_triggers"]))
                     and (name is None or a["name"] == name)
                     and (not deployed_only or "deployed_version" in a)]
    page, per_page = _page(req)
    return Reply(200, {"total": len(found), "page": page, "per_page": per_page,
                       "actions": found[page * per_page:(page + 1) * per_page]})


def list_bindings(emu, req, trigger_id):
    """GET /actions/triggers/{triggerId}/bindings, in execution order."""
    trigger = _trigger(trigger_id)
    state = _state(emu)
    with state.lock:
        rows = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"binding/{trigger}/{aid}")), "trigger_id": trigger,
                 "display_name": display, "action": dict(state.actions[aid]), "created_at": now_iso(),
                 "updated_at": now_iso()} for aid, display in state.bindings[trigger]]
    page, per_page = _page(req, 50)
    return Reply(200, {"total": len(rows), "page": page, "per_page": per_page,
                       "bindings": rows[page * per_page:(page + 1) * per_page]})


def put_actions(emu, req):
    """PUT /_emulator/actions: replace the tenant's Actions and bindings (see ActionsState.replace)."""
    try:
        spec = json.loads(req.get_data() or b"{}")
    except ValueError:
        raise Auth0Error(400, "control body is not JSON") from None
    if not isinstance(spec, dict):
        raise Auth0Error(400, "control body must be an object")
    _state(emu).replace(spec)
    return Reply(200, {"actions": len(_state(emu).actions)})


ROUTES = (
    ("GET", "/actions/actions", list_actions, ("read:actions",)),
    ("GET", "/actions/triggers/<trigger_id>/bindings", list_bindings, ("read:actions",)),
)
CONTROL_ROUTES = (("PUT", "/_emulator/actions", put_actions),)
