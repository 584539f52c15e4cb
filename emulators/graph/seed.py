"""The default sandbox tenant (documented in emulators/README.md): domains, SKUs, users, groups."""
import uuid

from emulators.graph.catalog import SKUS
from emulators.graph.config import MANAGED_DOMAIN
from emulators.graph.licences import apply_licences
from emulators.graph.store import Store
from emulators.graph.users import build_user

ADMIN_ID = "0a1b2c3d-0000-4000-8000-000000000001"
OBRIEN_ID = "0a1b2c3d-0000-4000-8000-000000000002"
LEE_ID = "0a1b2c3d-0000-4000-8000-000000000003"
ENGINEERING_ID = "1b2c3d4e-0000-4000-8000-000000000001"
PLATFORM_ID = "1b2c3d4e-0000-4000-8000-000000000002"


def _domain(name, authentication, initial):
    return {"id": name, "authenticationType": authentication, "availabilityStatus": None,
            "isAdminManaged": True, "isDefault": initial, "isInitial": initial, "isRoot": True,
            "isVerified": True, "passwordNotificationWindowInDays": 14, "passwordValidityPeriodInDays": 2147483647,
            "supportedServices": ["Email", "OfficeCommunicationsOnline"] if initial else ["Email"]}


def _sku(tenant_id, sku_id, part, seats, plans):
    return {"id": f"{tenant_id}_{sku_id}", "accountId": tenant_id, "accountName": "Contoso", "appliesTo": "User",
            "capabilityStatus": "Enabled", "consumedUnits": 0, "skuId": sku_id, "skuPartNumber": part,
            "prepaidUnits": {"enabled": seats, "suspended": 0, "warning": 0, "lockedOut": 0},
            "subscriptionIds": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{part}"))],
            "servicePlans": [{"servicePlanId": plan, "servicePlanName": name, "provisioningStatus": "Success",
                              "appliesTo": "User"} for plan, name, _ in plans]}


def _people():
    """(id, create body) of the seeded users."""
    def person(uid, alias, given, surname, title, location, **extra):
        body = {"accountEnabled": True, "displayName": f"{given} {surname}", "givenName": given, "surname": surname,
                "mailNickname": alias.replace("'", ""), "userPrincipalName": f"{alias}@{MANAGED_DOMAIN}",
                "jobTitle": title, "usageLocation": location, "mail": f"{alias}@{MANAGED_DOMAIN}",
                "passwordProfile": {"password": "unused"}, **extra}
        return uid, body
    return [person(ADMIN_ID, "admin", "Sandbox", "Admin", "Global Administrator", "US"),
            person(OBRIEN_ID, "aoife.obrien", "Aoife", "O'Brien", "Engineer", "IE", otherMails=["aoife@example.org"]),
            person(LEE_ID, "lee.gu", "Lee", "Gu", "Platform Engineer", "US")]


def seed_store(config):
    """A Store holding the default sandbox for this configuration."""
    store = Store(config.replication_lag_s)
    store.initial_domain = MANAGED_DOMAIN
    for name, kind, initial in ((MANAGED_DOMAIN, "Managed", True), (config.federated_domain, "Federated", False)):
        store.domains[name.lower()] = _domain(name, kind, initial)
    for sku_id, part, seats, plans in SKUS:
        store.skus[sku_id] = _sku(config.tenant_id, sku_id, part, config.seats if seats is None else seats, plans)
    users = [build_user(body, store, uid) for uid, body in _people()]
    store.add_users(users)
    apply_licences(store, users[0], [{"skuId": SKUS[0][0], "disabledPlans": []}], [])
    store.managers[OBRIEN_ID] = ADMIN_ID
    for gid, name, members in ((PLATFORM_ID, "Platform Team", [LEE_ID]),
                               (ENGINEERING_ID, "Engineering", [OBRIEN_ID, PLATFORM_ID])):
        store.add_group(group_record(gid, name), members)
    return store


def group_record(gid, name):
    """A security group as the directory stores it (seeded ones and those made by control calls)."""
    nick = name.lower().replace(" ", "-")
    return {"id": gid, "displayName": name, "description": f"{name} (sandbox)", "mailNickname": nick,
            "mail": None, "mailEnabled": False, "securityEnabled": True, "groupTypes": [],
            "createdDateTime": "2024-01-01T00:00:00Z", "deletedDateTime": None, "visibility": None,
            "isAssignableToRole": None, "membershipRule": None, "onPremisesSyncEnabled": None,
            "onPremisesSecurityIdentifier": None, "securityIdentifier": f"S-1-12-1-{uuid.UUID(gid).int % 10**9}",
            "proxyAddresses": [], "classification": None}
