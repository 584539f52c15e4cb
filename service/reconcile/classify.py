"""Pure classification of drift between one Entra user (or link) and what Auth0 holds."""
from service.sync import mapping

SAFE = frozenset({"attribute_drift", "role_drift", "dangling_link"})


def finding(kind, auth0_user_id=None, entra_object_id=None, auth0=None, entra=None, fix=None,
            other_auth0_user_ids=(), other_entra_object_ids=()):
    """One finding; safe ones may be fixed automatically, the others are proposed.

    Each single-id field holds one id; a duplicate or ambiguous finding lists the other ids involved in
    other_auth0_user_ids / other_entra_object_ids (Auth0 user ids may contain commas, so never joined).
    """
    return {"class": kind, "safe": kind in SAFE, "auth0_user_id": auth0_user_id, "entra_object_id": entra_object_id,
            "other_auth0_user_ids": list(other_auth0_user_ids), "other_entra_object_ids": list(other_entra_object_ids),
            "auth0": auth0 or {}, "entra": entra or {}, "fix": fix or {}, "status": "found"}


def _unmatched(eu, by_email, config):
    """With email linking on, more than one verified Auth0 user for an Entra user is ambiguous."""
    if not (config.link_by_verified_email and by_email):
        return []
    verified = [u for u in by_email(eu.get("mail") or "") if u["email_verified"] and not u["managed"]]
    if len(verified) < 2:
        return []
    ids = [u["user_id"] for u in verified]
    return [finding("ambiguous", ids[0], eu["id"], {"user_ids": ids}, {"mail": eu.get("mail")},
                    {"action": "choose", "note": "several verified Auth0 users share this email"},
                    other_auth0_user_ids=ids[1:])]


def entra_user(eu, candidates, roles_of, groups, config, unclaimed_by_email=None):
    """Findings for one listed Entra user, given the managed Auth0 users that claim it."""
    oid = eu["id"]
    if len(candidates) > 1:
        ids = [c["user_id"] for c in candidates]
        return [finding("duplicate", ids[0], oid, {"user_ids": ids}, {"upn": eu.get("userPrincipalName")},
                        {"action": "merge", "note": "keep one Auth0 user, delete or unlink the others"},
                        other_auth0_user_ids=ids[1:])]
    if not candidates:
        return _unmatched(eu, unclaimed_by_email, config)
    user = candidates[0]
    if not eu.get("accountEnabled", True):
        return [] if user["blocked"] else [_orphan_auth0(user, oid, "disabled in Entra ID")]
    return _attribute_drift(eu, user, config) + _role_drift(user, oid, roles_of(user["user_id"]), groups, config)


def _orphan_auth0(user, oid, why):
    return finding("orphan_auth0", user["user_id"], oid, {"blocked": user["blocked"], "email": user["email"]},
                   {"state": why}, {"action": "block_auth0_user"})


def missing_entra(user):
    """A managed Auth0 user whose Entra object is gone."""
    return _orphan_auth0(user, user["oid"], "not found in Entra ID") if not user["blocked"] else None


def _attribute_drift(eu, user, config):
    want = mapping.profile(eu, None, config)
    meta = user["meta"]
    have = {k: meta.get(k) for k in config.attributes if k != "manager"}
    want = {k: want.get(k) for k in config.attributes if k != "manager"}
    changed = sorted(k for k in want if (want[k] or None) != (have[k] or None))
    if not changed:
        return []
    return [finding("attribute_drift", user["user_id"], eu["id"], {k: have[k] for k in changed},
                    {k: want[k] for k in changed}, {"action": "update_app_metadata", "fields": changed})]


def _role_drift(user, oid, current, groups, config):
    if not config.roles:
        return []
    add, remove = mapping.role_changes(current, groups, config)
    if not add and not remove:
        return []
    return [finding("role_drift", user["user_id"], oid, {"roles": current},
                    {"roles": sorted(mapping.desired_roles(groups, config))},
                    {"action": "set_roles", "add": add, "remove": remove})]


def link(link_row, auth0_row, entra_enabled):
    """Findings for one identity link (an account the companion made for Office 365)."""
    oid, uid = link_row["entra_object_id"], link_row["auth0_user_id"]
    if link_row.get("deprovision_step"):
        return None  # graded deprovisioning owns this account (it may sit in deleted items, restorable)
    if auth0_row is not None and auth0_row["oid"] and auth0_row["oid"] != oid:
        return finding("duplicate", uid, oid, {"object_ids": [oid, auth0_row["oid"]]}, {},
                       {"action": "merge", "note": "one Auth0 user is tied to two Entra accounts"},
                       other_entra_object_ids=[auth0_row["oid"]])
    if entra_enabled is None:
        return finding("dangling_link", uid, oid, {"exists": auth0_row is not None}, {"exists": False},
                       {"action": "remove_link"})
    if entra_enabled and (auth0_row is None or auth0_row["blocked"]):
        why = "deleted in Auth0" if auth0_row is None else "blocked in Auth0"
        return finding("orphan_entra", uid, oid, {"state": why}, {"accountEnabled": True},
                       {"action": "disable_entra_user"})
    return None
