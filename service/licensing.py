"""Licence lookup by skuPartNumber, with a short cache and a seat check before anything is created."""
from service import metrics
from service.cache import cached_value


class LicenceUnavailable(Exception):
    """The configured licence cannot be assigned; the message says what an admin should change."""


class SkuCatalog:
    """subscribedSkus, cached for a short while (the call costs 3 resource units)."""

    def __init__(self, graph, ttl_s=60.0):
        self.graph = graph
        self._cached = cached_value(graph.subscribed_skus, ttl_s)

    def _skus(self, fresh=False):
        if fresh:
            self._cached.cache_clear()
        skus = self._cached()
        metrics.seats(skus)
        return skus

    def resolve(self, part_number, disabled_plans=(), fresh=False):
        """The addLicenses entry for part_number, after checking it exists and has a free seat."""
        sku = _find(self._skus(fresh), part_number)
        if sku is None:
            raise LicenceUnavailable(f"The tenant has no subscription with skuPartNumber {part_number}; "
                                     "check O365_LICENSE_SKU against GET /subscribedSkus.")
        if free_seats(sku) <= 0 and not fresh:
            return self.resolve(part_number, disabled_plans, fresh=True)
        if free_seats(sku) <= 0:
            raise LicenceUnavailable(f"No {part_number} licences are left ({sku.get('consumedUnits')} of "
                                     f"{sku.get('prepaidUnits', {}).get('enabled')} in use); "
                                     "buy more seats or free some, then sign in again.")
        return {"skuId": sku["skuId"], "disabledPlans": plan_ids(sku, disabled_plans)}


def _find(skus, part_number):
    for sku in skus:
        if sku.get("skuPartNumber", "").lower() == part_number.lower():
            return sku
    return None


def free_seats(sku):
    """Enabled prepaid units not yet consumed."""
    return int(sku.get("prepaidUnits", {}).get("enabled", 0)) - int(sku.get("consumedUnits", 0))


def plan_ids(sku, wanted):
    """servicePlanIds for plans named by id or servicePlanName; unknown names are an error."""
    plans = sku.get("servicePlans", [])
    out = []
    for item in wanted:
        match = [p["servicePlanId"] for p in plans
                 if item.lower() in (p.get("servicePlanId", "").lower(), p.get("servicePlanName", "").lower())]
        if not match:
            raise LicenceUnavailable(f"O365_DISABLED_PLANS names {item}, which is not a service plan of "
                                     f"{sku.get('skuPartNumber')}.")
        out.append(match[0])
    return out


def has_sku(graph_user, sku_id):
    """True when the Graph user object already carries the SKU."""
    return any(lic.get("skuId") == sku_id for lic in graph_user.get("assignedLicenses") or [])
