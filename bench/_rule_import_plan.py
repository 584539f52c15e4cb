"""The Rule-era tenant the rule-import benchmark seeds (1 % debris of every class), and its exact findings.

Pure data, by index: person i has a deterministic UUID (so ImmutableID = base64 of the UUID string and UPN
auth0-<uuid>@domain, as the Rule made them), an Auth0 user id, an Entra object id and a mail nickname.
"""
import base64
import dataclasses
import uuid

CONNECTION = "Username-Password-Authentication"
NS = uuid.UUID("3c5e7a90-1b2d-4f6e-8a9b-0c1d2e3f4a5b")
SHARE = 0.01
# kind → how it is planted; every kind but "ok" is 1 % of N (the two halves of a class share the 1 %).
KINDS = ("drift", "unlicensed", "leftover", "gone_deleted", "gone_blocked", "missing_restore", "missing_purged",
         "control_linked", "control_handmade")
HALVES = {"gone_deleted": "gone_blocked", "missing_restore": "missing_purged", "control_linked": "control_handmade"}


@dataclasses.dataclass
class Plan:
    """How many people of each kind, and the index where each kind starts."""

    n: int
    counts: dict

    def people(self):
        """(kind, index) for every person, kinds in KINDS order after the ordinary ones."""
        i = 0
        for kind in ("ok",) + KINDS:
            for _ in range(self.counts[kind]):
                yield kind, i
                i += 1


def make_plan(n):
    """N Entra accounts in the listing: the ordinary adoptions plus 1 % of each class (and look-alikes)."""
    d = max(2, round(n * SHARE))
    counts = {k: d for k in ("drift", "unlicensed", "leftover")}
    for first, second in HALVES.items():
        counts[first], counts[second] = d // 2, d - d // 2
    listed = n - sum(counts[k] for k in KINDS if k not in ("missing_restore", "missing_purged"))
    return Plan(n, {"ok": listed, **counts})


def rid(i):
    """Person i's UUID string (the Rule's uuid.v4(), made repeatable)."""
    return str(uuid.uuid5(NS, f"rule-{i}"))


def iid(i):
    """The Rule's ImmutableID: base64 of the UUID string (48 characters)."""
    return base64.b64encode(rid(i).encode()).decode()


def oid(i):
    """Person i's Entra object id."""
    return str(uuid.uuid5(NS, f"oid-{i}"))


def uid(i):
    """Person i's Auth0 user id."""
    return f"auth0|rule{i:07d}"


def sibling(plan, i):
    """Half the leftovers belong to an ordinary person (a failed login before the one that worked)."""
    k = i - (plan.counts["ok"] + plan.counts["drift"] + plan.counts["unlicensed"])
    return k if k % 2 == 0 and k < plan.counts["ok"] else None


def entra_user(plan, kind, i, domain):
    """The create body of person i's account (None when Entra holds none)."""
    if kind == "missing_purged":
        return None
    nick, name = f"p{i:07d}", f"Person {i}"
    twin = sibling(plan, i) if kind == "leftover" else None
    if twin is not None:
        nick, name = f"p{twin:07d}", f"Person {twin}"
    body = {"id": oid(i), "accountEnabled": True, "displayName": name, "mailNickname": nick,
            "userPrincipalName": f"auth0-{rid(i)}@{domain}", "onPremisesImmutableId": iid(i), "usageLocation": "US",
            "licensed": kind not in ("unlicensed", "leftover", "control_handmade")}
    if kind == "drift":
        body["userPrincipalName"] = f"renamed-{rid(i)}@{domain}"  # renamed in Entra by hand
    if kind.startswith("control"):
        body.update(userPrincipalName=f"{nick}@{domain}",
                    onPremisesImmutableId=base64.b64encode(uuid.uuid5(NS, nick).bytes).decode())
    return body


def auth0_user(kind, i, domain):
    """Person i's Auth0 user (None when it was deleted or never existed)."""
    if kind in ("leftover", "gone_deleted", "control_handmade"):
        return None
    meta = {"office365Provisioned": True, "office365UPN": f"auth0-{rid(i)}@{domain}", "office365ImmutableId": iid(i)}
    user = {"user_id": uid(i), "email": f"p{i:07d}@example.com", "email_verified": True, "connection": CONNECTION,
            "app_metadata": {} if kind == "control_linked" else meta}
    if kind == "gone_blocked":
        user["blocked"] = True
    return user


def expected(plan):
    """The finding keys (class, Auth0 user id, object id) a correct dry run reports."""
    out = []
    for kind, i in plan.people():
        u, o = uid(i), oid(i)
        if kind in ("ok", "drift", "unlicensed"):
            out.append(("adopt", u, o))
        if kind in ("drift", "unlicensed"):
            out.append(({"drift": "metadata_drift"}.get(kind, kind), u, o))
        if kind in ("missing_restore", "missing_purged"):
            out.append(("missing_in_entra", u, o if kind == "missing_restore" else ""))
        if kind == "leftover":
            out.append(("leftover", "", o))
        if kind in ("gone_deleted", "gone_blocked"):
            out.append(("gone_in_auth0", u if kind == "gone_blocked" else "", o))
    return out


def finding_key(f):
    """The comparable key of one reported finding."""
    return f["class"], f["auth0_user_id"] or "", f["entra_object_id"] or ""
