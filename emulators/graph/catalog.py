"""The sandbox tenant's subscriptions: SKUs and their service plans."""

# SKU and service-plan ids are Microsoft's published ones (Learn "Product names and service plan
# identifiers for licensing"); `service` is what assignedPlans/provisionedPlans report; seats None
# means the --seats option.
SKUS = (
    ("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", None, (
        ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", "exchange"),
        ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE", "SharePoint"),
        ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1", "TeamspaceAPI"))),
    ("4b9405b0-7788-4568-add1-99614e613b69", "EXCHANGESTANDARD", 5, (
        ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD", "exchange"),)),
)
PLAN_SERVICE = {plan: service for _, _, _, plans in SKUS for plan, _, service in plans}
