"""Licensing: assignLicense, licenseDetails and subscribedSkus, with seat counts enforced.

Learn `graph/api/user-assignlicense`: both arrays are required, `usageLocation` must be set first,
the answer is 200 with the user. Seats: prepaidUnits.enabled - consumedUnits (facts §2.3).
"""
import re

from emulators.graph import odata
from emulators.graph.errors import GraphError, bad_request, not_found
from emulators.graph.routing import Reply, Route
from emulators.graph.catalog import PLAN_SERVICE
from emulators.graph.store import now_iso
from emulators.graph.users import load_user, user_view

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PARAMS = ("addLicenses", "removeLicenses")


def parse_body(body):
    """(adds, removes) of an assignLicense body; 400 for missing or unknown parameters."""
    missing = [p for p in PARAMS if p not in body]
    if missing:
        raise bad_request("One or more parameters of the operation 'assignLicense' are missing from the request "
                          f"payload. The missing parameters are: {', '.join(missing)}.")
    for key in body:
        if key not in PARAMS:
            raise GraphError(400, "BadRequest", f"The parameter '{key}' in the request payload is not a valid "
                             "parameter for the operation 'assignLicense'.")
    adds, removes = body["addLicenses"] or [], body["removeLicenses"] or []
    if not isinstance(adds, list) or not all(isinstance(a, dict) and isinstance(a.get("skuId"), str) for a in adds):
        raise GraphError(400, "BadRequest", "Invalid value for parameter 'addLicenses'.")
    if not isinstance(removes, list) or not all(isinstance(r, str) and GUID.fullmatch(r) for r in removes):
        raise GraphError(400, "BadRequest", "Invalid value for parameter 'removeLicenses'.")
    return adds, [r.lower() for r in removes]


def check_request(store, user, adds, removes):
    """Every rule Entra applies before changing anything (the change is all-or-nothing)."""
    held = {lic["skuId"] for lic in user.get("assignedLicenses") or ()}
    for item in adds:
        sku = store.skus.get(item["skuId"].lower())
        if sku is None or not GUID.fullmatch(item["skuId"]):
            raise bad_request(f"License {item['skuId']} does not correspond to a valid company License.")
        plans = {p["servicePlanId"] for p in sku["servicePlans"]}
        for plan in item.get("disabledPlans") or []:
            if not isinstance(plan, str) or plan.lower() not in plans:
                raise bad_request(f"Service plan {plan} is not part of license {sku['skuId']}.")
    for sku_id in removes:
        if sku_id not in held:
            raise bad_request("User does not have a corresponding license.")
    if adds and not user.get("usageLocation"):
        raise bad_request("License assignment cannot be done for user with invalid usage location.")
    for item in adds:
        sku = store.skus[item["skuId"].lower()]
        enabled = sku["prepaidUnits"]["enabled"]
        if sku["skuId"] not in held and sku["consumedUnits"] >= enabled:
            raise bad_request(f"License assignment failed: there are no available licenses for subscription "
                              f"{sku['skuPartNumber']} ({sku['skuId']}); {sku['consumedUnits']} of {enabled} "
                              "units are assigned.")


def apply_licences(store, user, adds, removes):
    """Store the new assignments (idempotent per SKU) and derived plan lists; returns the new user."""
    with store.lock:
        licences = {lic["skuId"]: lic for lic in user.get("assignedLicenses") or ()}
        store.adjust_consumed(user, -1)
        for sku_id in removes:
            licences.pop(sku_id, None)
        for item in adds:
            sku_id = item["skuId"].lower()
            licences[sku_id] = {"skuId": sku_id, "disabledPlans": [p.lower() for p in item.get("disabledPlans") or []]}
        updated = dict(user, **derived_plans(store, list(licences.values())))
        store.adjust_consumed(updated, +1)
        store.replace_user(user, updated)
        return updated


def derived_plans(store, licences):
    """assignedLicenses plus the assignedPlans/provisionedPlans/licenseAssignmentStates they imply."""
    stamp = now_iso()
    assigned, provisioned, states = [], [], []
    for lic in licences:
        for plan in store.skus[lic["skuId"]]["servicePlans"]:
            if plan["servicePlanId"] in lic["disabledPlans"]:
                continue
            service = PLAN_SERVICE.get(plan["servicePlanId"], "unknown")
            assigned.append({"assignedDateTime": stamp, "capabilityStatus": "Enabled", "service": service,
                             "servicePlanId": plan["servicePlanId"]})
            provisioned.append({"capabilityStatus": "Enabled", "provisioningStatus": "Success", "service": service})
        states.append({"assignedByGroup": None, "disabledPlans": lic["disabledPlans"], "error": "None",
                       "lastUpdatedDateTime": stamp, "skuId": lic["skuId"], "state": "Active"})
    return {"assignedLicenses": licences, "assignedPlans": assigned, "provisionedPlans": provisioned,
            "licenseAssignmentStates": states}


def assign_license(ctx, key):
    """POST /users/{id}/assignLicense -> 200 + user."""
    adds, removes = parse_body(ctx.json())
    with ctx.store.lock:
        user = load_user(ctx, key, write=True)
        check_request(ctx.store, user, adds, removes)
        updated = apply_licences(ctx.store, user, adds, removes)
    return Reply(200, user_view(ctx, updated, None, entity=True))


def license_details(ctx, key):
    """GET /users/{id}/licenseDetails: one entry per assigned SKU with plan states."""
    user = load_user(ctx, key)
    value = []
    for lic in user.get("assignedLicenses") or ():
        sku = ctx.store.skus[lic["skuId"]]
        plans = [dict(p, provisioningStatus="Disabled" if p["servicePlanId"] in lic["disabledPlans"] else "Success")
                 for p in sku["servicePlans"]]
        value.append({"id": f"{user['id']}_{sku['skuId']}", "skuId": sku["skuId"],
                      "skuPartNumber": sku["skuPartNumber"], "servicePlans": plans})
    context = f"{ctx.base}/v1.0/$metadata#users('{user['id']}')/licenseDetails"
    return Reply(200, {"@odata.context": context, "value": value})


def list_skus(ctx):
    """GET /subscribedSkus with live consumedUnits."""
    odata.reject_unsupported(ctx.args, ("$select",))
    with ctx.store.lock:
        skus = list(ctx.store.skus.values())
    return Reply(200, {"@odata.context": odata.context(ctx.base, "subscribedSkus"), "value": skus})


def get_sku(ctx, sku_key):
    """GET /subscribedSkus/{tenantId_skuId}."""
    for sku in list(ctx.store.skus.values()):
        if sku["id"].lower() == sku_key.lower():
            return Reply(200, dict({"@odata.context": odata.context(ctx.base, "subscribedSkus", entity=True)}, **sku))
    raise not_found(sku_key)


ROUTES = [
    Route("POST", "/v1.0/users/<key>/assignLicense", assign_license, entity="user"),
    Route("POST", "/v1.0/users/<key>/microsoft.graph.assignLicense", assign_license, entity="user"),
    Route("GET", "/v1.0/users/<key>/licenseDetails", license_details, entity="licenseDetails"),
    Route("GET", "/v1.0/subscribedSkus", list_skus, ru=3, entity="subscribedSku"),
    Route("GET", "/v1.0/subscribedSkus/<sku_key>", get_sku, entity="subscribedSku"),
]
