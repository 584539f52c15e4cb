"""Pure classification of the Rule's users and accounts into the classes the import reports."""
from service.reconcile.classify import finding

SAFE = frozenset({"adopt", "metadata_drift", "unlicensed"})
UNCLAIMED = "rule-unclaimed|"  # the link key of an account no Auth0 user claims (graded like a deleted user)


def _found(kind, uid, oid, auth0, entra, fix, safe=None):
    f = finding(kind, uid, oid, auth0, entra, fix)
    f["safe"] = kind in SAFE if safe is None else safe
    return f


def link_row(uid, account, sku):
    """The identity link an adopted account gets (JSON-safe; links.adopt adds the times)."""
    return {"auth0_user_id": uid, "entra_object_id": account["id"], "upn": account["upn"],
            "immutable_id": account["immutable_id"], "licence_sku": sku}


def _entra_side(account):
    return {"upn": account["upn"], "immutable_id": account["immutable_id"], "accountEnabled": account["enabled"],
            "licensed": account["licensed"], "displayName": account["displayName"],
            "mailNickname": account["mailNickname"], "usageLocation": account["usageLocation"]}


def rule_user(user, account, link, deleted, sku):
    """Findings for one Auth0 user the Rule provisioned, given its matched account, link and deleted item."""
    uid = user["user_id"]
    auth0 = {"upn": user["upn"], "immutable_id": user["immutable_id"], "blocked": user["blocked"]}
    if account is None:
        if link or user["blocked"]:
            return []  # the companion owns it, or there is nothing to take away
        if deleted:
            return [_found("missing_in_entra", uid, deleted["id"], auth0, {"deleted": True, **deleted},
                           {"action": "restore", "adopt": link_row(uid, deleted, sku)}, safe=True)]
        return [_found("missing_in_entra", uid, None, auth0, {"exists": False},
                       {"action": "clear_rule_keys", "note": "the next sign-in provisions through the companion"},
                       safe=False)]
    oid, entra = account["id"], _entra_side(account)
    if link and (link["id"] != oid or link["deprovision_step"]):
        return []  # another account, or graded deprovisioning owns it: reconciliation's business
    if user["blocked"] and not link:
        return [_found("gone_in_auth0", uid, oid, {**auth0, "state": "blocked in Auth0"}, entra,
                       {"action": "disable_entra_user", "adopt": link_row(uid, account, sku)})]
    out = [] if link else [_found("adopt", uid, oid, auth0, entra,
                                  {"action": "adopt", "adopt": link_row(uid, account, sku)})]
    if (user["upn"], user["immutable_id"]) != (account["upn"], account["immutable_id"]):
        out.append(_found("metadata_drift", uid, oid, auth0, entra,
                          {"action": "set_rule_keys", "office365UPN": account["upn"],
                           "office365ImmutableId": account["immutable_id"]}))
    if not account["licensed"] and not user["blocked"]:
        out.append(_found("unlicensed", uid, oid, auth0, entra, {"action": "assign_licence", "sku": sku}))
    return out


def unclaimed(account, siblings, sku):
    """A Rule-made account no Auth0 user claims: a leftover of failed logins, or one whose user is gone.

    The Rule licensed an account before it saved the user's metadata, so a licensed account nobody claims
    belonged to an Auth0 user since deleted; an unlicensed one is a failed login's leftover, and so is any
    account of a person who signs in today with another account.
    """
    live = [s for s in siblings if s[2] and not s[2].startswith(UNCLAIMED)]
    kind = "gone_in_auth0" if account["licensed"] and not live else "leftover"
    state = "deleted in Auth0" if kind == "gone_in_auth0" else "no Auth0 user claims it"
    person = {"person": account["person"], "accounts": 1 + len(siblings),
              "other_accounts": [{"id": o, "upn": u, "claimed_by": c} for o, u, c in siblings]}
    uid = UNCLAIMED + account["id"]
    return _found(kind, None, account["id"], {"state": state}, {**_entra_side(account), **person},
                  {"action": "disable_entra_user", "adopt": link_row(uid, account, sku if account["licensed"] else None),
                   "note": "graded deprovisioning: disabled, then unlicensed, then deleted (restorable 30 days)"})
