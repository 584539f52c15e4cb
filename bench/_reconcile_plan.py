"""The drift the reconciliation benchmark plants (1 % of N users), and the exact findings it must cause.

Pure data: which Entra users (by index in UPN order) get which drift, the Auth0 users and identity links
that follow from it, and the finding keys a correct run reports. Seeding lives in _reconcile_seed.py.
"""
import base64
import collections
import dataclasses
import random
import uuid

CONNECTION = "Username-Password-Authentication"
ROLE = "Staff"
NAMESPACE = "entra"
ATTRIBUTES = {"displayName": "displayName", "surname": "surname"}  # properties every bulk-seeded user has
DRIFT_SHARE = 0.01
GROUP_SHARE = 0.01
# Each drift kind's share of the planted drift; counts are rounded by largest remainder so they add up to
# exactly 1 % of N. Kind → (finding class, detail that class reports).
SHARES = {"attribute_renamed": 0.15, "attribute_missing": 0.15, "role_missing": 0.10, "role_extra": 0.10,
          "disabled_in_entra": 0.15, "claims_missing_oid": 0.15, "duplicate_claim": 0.10,
          "link_auth0_blocked": 0.025, "link_auth0_deleted": 0.025, "link_entra_gone": 0.05}
# Look-alikes that must NOT be reported (a run that flags them is wrong too); N // 5000 of each, at least 2.
CONTROLS = ("disabled_and_blocked", "claims_missing_oid_blocked", "claims_missing_oid_unmanaged",
            "claim_unmanaged", "link_healthy")
# Kinds planted on existing Entra users (by index); the others add Auth0 users or links of their own.
ON_ENTRA = ("attribute_renamed", "attribute_missing", "role_missing", "role_extra", "disabled_in_entra",
            "duplicate_claim", "link_auth0_blocked", "link_auth0_deleted", "disabled_and_blocked",
            "claim_unmanaged", "link_healthy", "member")

EntraUser = collections.namedtuple("EntraUser", "oid upn display surname")


@dataclasses.dataclass
class Plan:
    """Indexes of the Entra users each kind touches, and the made-up object ids of the other kinds."""

    n: int
    counts: dict
    picks: dict        # kind → Entra user indexes
    fake_oids: dict    # kind → object ids that are not in Entra ID

    @property
    def drift(self):
        """How many drifts are planted (each causes exactly one finding)."""
        return sum(self.counts[k] for k in SHARES)

    def of(self, index):
        """The kind planted on Entra user `index` (or None)."""
        return self._by_index.get(index)

    def __post_init__(self):
        self._by_index = {i: kind for kind, idx in self.picks.items() for i in idx}


def _split(total, shares):
    """Integer counts proportional to shares that add up to total (largest remainder)."""
    raw = {k: total * s / sum(shares.values()) for k, s in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (counts[k] - raw[k], k))[:total - sum(counts.values())]:
        counts[k] += 1
    return counts


def make_plan(n, seed=7):
    """Choose disjoint users for every drift and control kind (deterministic for a seed)."""
    rng = random.Random(seed)
    counts = _split(round(n * DRIFT_SHARE), SHARES)
    counts.update({k: max(2, n // 5000) for k in CONTROLS})
    counts["member"] = max(0, round(n * GROUP_SHARE) - counts["role_missing"])  # group members with the role
    need = sum(counts[k] for k in ON_ENTRA)
    if need > n:
        raise ValueError(f"{n} users are too few to plant {need} distinct drifts and controls; use --users 1000+")
    chosen = iter(rng.sample(range(n), need))
    picks = {k: sorted(next(chosen) for _ in range(counts[k])) for k in ON_ENTRA}
    fake = {k: [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(counts[k])]
            for k in ("claims_missing_oid", "claims_missing_oid_blocked", "claims_missing_oid_unmanaged",
                      "link_entra_gone")}
    return Plan(n, counts, picks, fake)


def auth0_id(index):
    """The Auth0 user id matched to Entra user `index`."""
    return f"auth0|e{index:07d}"


def _auth0(uid, email, meta, blocked=False, roles=()):
    user = {"user_id": uid, "email": email, "email_verified": True, "connection": CONNECTION,
            "app_metadata": {NAMESPACE: meta} if meta is not None else {}}
    if blocked:
        user["blocked"] = True
    if roles:
        user["roles"] = list(roles)
    return user


def _record(e):
    """What the sync writes to app_metadata.entra for an Entra user (sync.mapping.namespace_record)."""
    return {"object_id": e.oid, "upn": e.upn, "managed": True, "displayName": e.display, "surname": e.surname}


def _matched(plan, i, e):
    """The Auth0 user kept in step with Entra user i, with its planted drift (None: deleted in Auth0)."""
    kind, meta = plan.of(i), _record(e)
    if kind == "link_auth0_deleted":
        return None
    if kind == "attribute_renamed":
        meta["displayName"] = e.display + " (renamed in Auth0)"
    elif kind == "attribute_missing":
        del meta["surname"]
    roles = (ROLE,) if kind in ("member", "role_extra") else ()
    blocked = kind in ("disabled_and_blocked", "link_auth0_blocked")
    return _auth0(auth0_id(i), f"e{i:07d}@bench.example.com", meta, blocked, roles)


def auth0_users(plan, entra):
    """Every Auth0 user to seed: one per Entra user (bar the deleted ones), then the extra claimants."""
    for i, e in enumerate(entra):
        user = _matched(plan, i, e)
        if user is not None:
            yield user
    for k, i in enumerate(plan.picks["duplicate_claim"]):
        yield _auth0(f"auth0|dup{k:06d}", f"dup{k:06d}@bench.example.com", _record(entra[i]))
    for k, i in enumerate(plan.picks["claim_unmanaged"]):
        yield _auth0(f"auth0|twin{k:06d}", f"twin{k:06d}@bench.example.com", {"object_id": entra[i].oid})
    for kind, extra in (("claims_missing_oid", {"managed": True}), ("claims_missing_oid_blocked", {"managed": True}),
                        ("claims_missing_oid_unmanaged", {})):
        for k, oid in enumerate(plan.fake_oids[kind]):
            yield _auth0(f"auth0|{_short(kind)}{k:06d}", f"{_short(kind)}{k:06d}@bench.example.com",
                         {"object_id": oid, **extra}, blocked=kind.endswith("_blocked"))
    for k in range(0, plan.counts["link_entra_gone"], 2):  # half the dangling links' Auth0 users still exist
        yield _auth0(f"auth0|o365gone{k:06d}", f"o365gone{k:06d}@bench.example.com", None)


def _short(kind):
    return {"claims_missing_oid": "ghost", "claims_missing_oid_blocked": "ghostblocked",
            "claims_missing_oid_unmanaged": "ghostfree"}[kind]


def group_members(plan, entra):
    """Object ids of the mapped group (role ``Staff``): members with the role, and those missing it."""
    return [entra[i].oid for kind in ("member", "role_missing") for i in plan.picks[kind]]


def disabled(plan, entra):
    """Object ids to disable in Entra ID."""
    return [entra[i].oid for kind in ("disabled_in_entra", "disabled_and_blocked") for i in plan.picks[kind]]


def links(plan, entra):
    """Identity links (Office 365 accounts the companion made): (Auth0 user id, Entra object id)."""
    rows = [(auth0_id(i), entra[i].oid) for kind in ("link_auth0_blocked", "link_auth0_deleted", "link_healthy",
                                                     "disabled_and_blocked") for i in plan.picks[kind]]
    rows += [(f"auth0|o365gone{k:06d}", oid) for k, oid in enumerate(plan.fake_oids["link_entra_gone"])]
    return rows


def immutable_id(oid):
    """A link's ImmutableID: standard base64 of 16 GUID bytes (stable per object id here)."""
    return base64.b64encode(uuid.UUID(oid).bytes).decode()


def expected(plan, entra):
    """The finding keys (see finding_key) a correct run reports: one per planted drift."""
    out = []
    for i in plan.picks["attribute_renamed"]:
        out.append(("attribute_drift", (auth0_id(i),), entra[i].oid, ("displayName",)))
    for i in plan.picks["attribute_missing"]:
        out.append(("attribute_drift", (auth0_id(i),), entra[i].oid, ("surname",)))
    for i in plan.picks["role_missing"]:
        out.append(("role_drift", (auth0_id(i),), entra[i].oid, ((ROLE,), ())))
    for i in plan.picks["role_extra"]:
        out.append(("role_drift", (auth0_id(i),), entra[i].oid, ((), (ROLE,))))
    for i in plan.picks["disabled_in_entra"]:
        out.append(("orphan_auth0", (auth0_id(i),), entra[i].oid, "disabled in Entra ID"))
    for k, oid in enumerate(plan.fake_oids["claims_missing_oid"]):
        out.append(("orphan_auth0", (f"auth0|ghost{k:06d}",), oid, "not found in Entra ID"))
    for k, i in enumerate(plan.picks["duplicate_claim"]):
        out.append(("duplicate", tuple(sorted((auth0_id(i), f"auth0|dup{k:06d}"))), entra[i].oid, ()))
    for kind, state in (("link_auth0_blocked", "blocked in Auth0"), ("link_auth0_deleted", "deleted in Auth0")):
        out += [("orphan_entra", (auth0_id(i),), entra[i].oid, state) for i in plan.picks[kind]]
    for k, oid in enumerate(plan.fake_oids["link_entra_gone"]):
        out.append(("dangling_link", (f"auth0|o365gone{k:06d}",), oid, ()))
    return out


def freeze(value):
    """JSON lists back into tuples, so keys that went through a file compare equal."""
    return tuple(freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def finding_key(f):
    """A comparable key for one finding of a run: class, Auth0 user id(s), object id, and what differs."""
    cls = f["class"]
    detail = {"attribute_drift": lambda: tuple(f["fix"].get("fields") or ()),
              "role_drift": lambda: (tuple(f["fix"].get("add") or ()), tuple(f["fix"].get("remove") or ())),
              "orphan_auth0": lambda: f["entra"].get("state"),
              "orphan_entra": lambda: f["auth0"].get("state")}.get(cls, lambda: ())()
    return cls, tuple(sorted((f["auth0_user_id"] or "").split(","))), f["entra_object_id"], detail
