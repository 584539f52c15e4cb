"""ensure(user): bring one Auth0 user to a ready, licensed Entra ID account — idempotent and restartable.

Each call runs the next steps from where the link table says the user is, under a per-user lease
held in the database (so it holds across gunicorn workers and replicas), and observes readiness by
polling Graph with backoff inside a small budget instead of sleeping a fixed time.
"""
import dataclasses
import logging
import time
import uuid

from service import audit, identity, links, metrics
from service.clients.graph import item_error
from service.errors import AuthFailed, BadRequest, Conflict, NotFound, Transient
from service.licensing import LicenceUnavailable, SeatLedger, SeatsBusy, SkuCatalog, has_sku
from service.models import utcnow

log = logging.getLogger("companion.provisioning")
SELECT = ("id", "userPrincipalName", "onPremisesImmutableId", "assignedLicenses", "usageLocation",
          "accountEnabled")
MAX_UPN_VARIANTS = 50
# A short lease, renewed before every step: a crashed worker delays the user by at most this long,
# and every step is idempotent, so a lease that lapses mid-step costs a repeated call, never a duplicate.
LEASE_S = 15
# Steps that need Entra to show the account: a background pass runs one only with the poller's read.
READINESS_STEPS = ("licence", "verify")
EARLY_STEPS = ("new", "lookup", "create")
# Link states the sign-in path must not act on (graded deprovisioning, B2B guests): say so plainly.
NOT_FOR_LOGIN = {
    "disabled": "Your Office 365 account has been switched off. Ask your help desk to restore it.",
    "guest": "Your organisation reaches Office 365 through a guest invitation; open the invitation link "
             "you were sent instead of signing in here.",
    "inviting": "Your guest invitation to Office 365 is still being prepared; try again in a few minutes.",
}
# An account made but not licensed because seats ran out waits in this state; the seat check finishes it.
PARKED = ("No Office 365 licence is free right now. Your account is kept and will be finished automatically "
          "as soon as a licence is free; try again later.")
# What a person reads when our own configuration fails (the operator's detail goes to the log).
UNAVAILABLE = "Your Office 365 account cannot be set up right now. Please try again later."
PROFILE_KEYS = ("email", "email_verified", "name", "nickname", "given_name", "family_name",
                "username", "connection", "usage_location")


@dataclasses.dataclass
class Outcome:
    """Where a user stands after ensure(): ready, pending or failed, with what the caller shows."""

    state: str
    auth0_user_id: str
    upn: str | None = None
    immutable_id: str | None = None
    object_id: str | None = None
    message: str | None = None
    reference: str | None = None
    since: object = None  # when provisioning of this user began (the link's created_at)

    @classmethod
    def of(cls, link):
        """The outcome a link records (a parked account is a failure the person can read)."""
        state = "failed" if link.state == "parked" else link.state
        return cls(state, link.auth0_user_id, link.upn, link.immutable_id, link.entra_object_id,
                   link.last_error, link.reference, link.created_at)


class _Wait(Exception):
    """Entra has not caught up yet (replication); try again after a pause."""


class _Failed(Exception):
    """The user cannot be provisioned until someone changes something; the message says what."""


class Provisioner:
    """Runs the provisioning steps for one user at a time per user."""

    def __init__(self, settings, store, graph, skus=None, sleep=time.sleep, clock=time.monotonic):
        self.s, self.store, self.graph = settings, store, graph
        self.skus = skus or SkuCatalog(graph)
        self.seats = SeatLedger(settings, store, self.skus, sleep, clock)
        self.sleep, self.clock = sleep, clock

    def ensure(self, user, wait_s=0.0, reference=None):
        """Advance the user towards ready for up to wait_s seconds in this thread; return the outcome.

        Jobs and scripts use it; requests use start() and let the background driver do the work.
        """
        link, profile, early = self._link_for(user, reference)
        if early is not None:
            return early
        uid = link.auth0_user_id
        owner = uuid.uuid4().hex
        if not links.acquire(self.store, uid, owner, ttl_s=LEASE_S):
            return Outcome.of(links.get(self.store, uid))  # another request is on it: join
        try:
            return self._drive(link, profile, wait_s, reference, owner)
        finally:
            links.release(self.store, uid, owner)

    @metrics.timed_login
    def start(self, user, reference=None, retry_failed_before=None):
        """Record the user for provisioning without calling Graph; return where it stands now.

        A failed user is retried when this request began after the failure (a new login or POST),
        not on the waiting page's refreshes of the login that saw it fail.
        """
        link, _profile, early = self._link_for(user, reference)
        if early is not None:
            return early
        if link.state in ("failed", "parked") and retry_failed_before \
                and links.utc(link.updated_at) < retry_failed_before:
            links.save(self.store, link, state="pending", last_error=None, reference=reference)
        return Outcome.of(link)

    def advance(self, auth0_user_id, seen=None, reference=None):
        """One background pass: run the steps that need no waiting, and a readiness step when `seen`
        (the account as a batched read just returned it) is given; never sleeps. None when busy or done."""
        link = links.get(self.store, auth0_user_id)
        if link is None or link.state != "pending":
            return None
        if link.step in READINESS_STEPS and seen is None:
            return Outcome.of(link)  # only the poller's read can move it on
        owner = uuid.uuid4().hex
        if not links.acquire(self.store, auth0_user_id, owner, ttl_s=LEASE_S):
            return None
        try:
            link = links.get(self.store, auth0_user_id)  # fresh, now that the lease is ours
            return self._drive(link, link.profile, 0.0, reference or link.reference, owner, True, seen)
        finally:
            links.release(self.store, auth0_user_id, owner)

    def advance_many(self, auth0_user_ids):
        """One background pass for several users: their seats checked as one group and their accounts
        created in `$batch` calls of 20, recorded in one write; a user the group path does not move on
        (a conflict, a refusal, another step) then takes its own pass, with its own error policy."""
        owner = uuid.uuid4().hex
        # Only users before the readiness steps: a lease on a user the poller is licensing would stop it.
        held = links.acquire_many(self.store, auth0_user_ids, owner, LEASE_S, steps=EARLY_STEPS)
        try:
            self.seats.reserve_all([x for x in held if x.step == "new"])  # a refusal is met again below
            self._create_all([x for x in held if x.step == "create" and x.upn_variant < MAX_UPN_VARIANTS])
            for link in held:
                if link.step not in READINESS_STEPS:
                    self._drive(link, link.profile, 0.0, link.reference, owner, True)
        finally:
            links.release_many(self.store, [x.auth0_user_id for x in held], owner)

    def _create_all(self, todo):
        """Accounts for links at the create step in `$batch` calls; the created move on in one write."""
        if not todo:
            return
        made = [self._new_account(link, link.profile) for link in todo]
        answers = self.graph.batch([self.graph.create_user_request(body) for _upn, body in made])
        created = {link: answer["body"] for link, answer in zip(todo, answers)
                   if item_error(answer) is None and isinstance(answer.get("body"), dict) and answer["body"].get("id")}

        def audited(session, made_links):
            audit.record_facts(session, "entra.user.created", "ok", [
                {"auth0_user_id": x.auth0_user_id, "entra_object_id": created[x]["id"], "fact": created[x]["id"],
                 "reference": x.reference, "detail": {"upn": created[x]["userPrincipalName"]}} for x in made_links])
        with metrics.step("create_batch"):
            links.save_each(self.store, {link: {"entra_object_id": user["id"], "upn": user["userPrincipalName"],
                                                "step": "licence"} for link, user in created.items()}, audited)

    def _new_account(self, link, profile):
        """(UPN, POST /users body) for the link's next UPN variant."""
        user = {"user_id": link.auth0_user_id, **profile}
        upn = identity.upn(user, self.s.o365_upn_template, self.s.o365_domain, link.upn_variant)
        return upn, identity.new_user_body(user, upn, link.immutable_id, profile["usage_location"])

    def _link_for(self, user, reference):
        """(link, profile, outcome to answer at once or None) for a user as a caller sent it."""
        identity.validate_user(user)
        location = identity.usage_location(user, self.s.o365_usage_location)
        uid = user["user_id"]
        iid = identity.immutable_id(uid, self.s.immutable_id_namespace)
        profile = {k: user.get(k) for k in PROFILE_KEYS if user.get(k) is not None}
        profile["usage_location"] = location
        link = links.get_or_create(self.store, uid, iid, profile, reference)
        if link.state == "ready":
            return link, profile, Outcome.of(link)
        if link.state in NOT_FOR_LOGIN:
            return link, profile, Outcome("failed", uid, link.upn, link.immutable_id, link.entra_object_id,
                                          NOT_FOR_LOGIN[link.state], reference, link.created_at)
        return link, profile, None

    def status(self, auth0_user_id):
        """Where a known user stands, from the link table alone (no Graph call); None when unknown."""
        link = links.get(self.store, auth0_user_id)
        if link is None:
            return None
        if link.state in NOT_FOR_LOGIN:
            return Outcome("failed", link.auth0_user_id, link.upn, link.immutable_id, link.entra_object_id,
                           NOT_FOR_LOGIN[link.state], link.reference, link.created_at)
        return Outcome.of(link)

    def resume(self, auth0_user_id, wait_s=0.0, reference=None):
        """Continue a known user's provisioning from its stored profile (status polls, jobs)."""
        link = links.get(self.store, auth0_user_id)
        if link is None or link.state == "ready":
            return None if link is None else Outcome.of(link)
        return self.ensure({"user_id": auth0_user_id, **link.profile}, wait_s, reference)

    def _drive(self, link, profile, wait_s, reference, owner, background=False, seen=None):
        """Run steps until ready, failed, or the wait budget is spent, renewing the lease as it goes.

        In the background a readiness step runs only on `seen` (the poller's batched read), once:
        the next one waits for the poller's next read instead of a read and a sleep here.
        """
        if link.state in ("failed", "parked"):
            links.save(self.store, link, state="pending", last_error=None)
        deadline, delay, renewed = self.clock() + wait_s, 0.25, self.clock()
        while link.state == "pending":
            if self.clock() - renewed > LEASE_S / 3:  # the caller took the lease just now; renew as time passes
                if not links.acquire(self.store, link.auth0_user_id, owner, LEASE_S):
                    break
                renewed = self.clock()
            current = None
            if background and link.step in READINESS_STEPS:
                if seen is None:
                    break
                current, seen = seen, None
            try:
                self._step(link, profile, reference, current)
                continue
            except _Wait as why:
                links.save(self.store, link, last_error=str(why), attempts=link.attempts + 1)
            except Transient as why:
                links.save(self.store, link, last_error=f"Microsoft Graph is busy: {why}")
            except SeatsBusy as why:
                links.save(self.store, link, last_error=str(why))
            except (_Failed, LicenceUnavailable, BadRequest, identity.InvalidUser) as why:
                self._fail(link, why, reference)
                break
            except AuthFailed as why:  # e.g. a wrong or expired Entra secret: the operator must act
                log.warning("upstream error", extra={"fields": {**why.log_fields(), "request_id": reference}})
                self._fail(link, _Failed(UNAVAILABLE), reference)
                break
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            self.sleep(min(delay, remaining))  # the last poll lands at the deadline, not before it
            delay = min(delay * 2, 2.0)
        return Outcome.of(link)

    def _step(self, link, profile, reference, seen=None):
        """Run the step the link is at; each step is safe to repeat after a crash."""
        with metrics.step(link.step):
            if link.step in READINESS_STEPS:
                handler = self._license if link.step == "licence" else self._verify
                return handler(link, profile, reference, seen=seen)
            handler = {"new": self._check_licence, "lookup": self._lookup, "create": self._create}[link.step]
            return handler(link, profile, reference)

    def _check_licence(self, link, profile, reference):
        """Refuse before creating anything when no seat is left; a seat is promised to this user otherwise."""
        # Create first: Entra's uniqueness checks are immediate, so a conflict (not a prior read) tells
        # us the account or its UPN exists already; _create_conflict then looks it up.
        self.seats.reserve(link)

    def _lookup(self, link, profile, reference):
        """Adopt an Entra user that already carries this ImmutableID (e.g. after a crash)."""
        found = self.graph.find_user_by_immutable_id(link.immutable_id, select=SELECT)
        if found:
            self._adopt(link, found, reference)
        else:
            links.save(self.store, link, step="create")

    def _adopt(self, link, graph_user, reference):
        links.save(self.store, link, entra_object_id=graph_user["id"], upn=graph_user["userPrincipalName"],
                   step="licence")
        self._audit("entra.user.adopted", "ok", link, reference, fact=graph_user["id"],
                    reason="an Entra user with this ImmutableID already existed")

    def _create(self, link, profile, reference):
        """Create the federated member account with the next free UPN variant."""
        if link.upn_variant >= MAX_UPN_VARIANTS:
            raise _Failed("No free UPN was found for this user; check O365_UPN_TEMPLATE.")
        upn, body = self._new_account(link, profile)
        try:
            created = self.graph.create_user(body)
        except Conflict as conflict:
            return self._create_conflict(link, conflict, upn, reference)
        links.save(self.store, link, entra_object_id=created["id"], upn=created["userPrincipalName"],
                   step="licence")
        self._audit("entra.user.created", "ok", link, reference, upn=upn, fact=created["id"])

    def _upn_owner_seen(self, link, owner, upn, reference):
        """Our own account is adopted; someone else's UPN moves us to the next variant."""
        if owner.get("onPremisesImmutableId") == link.immutable_id:
            return self._adopt(link, owner, reference)
        links.save(self.store, link, upn_variant=link.upn_variant + 1)
        self._audit("entra.upn.taken", "skipped", link, reference, upn=upn,
                    reason="the UPN belongs to another account (different ImmutableID); trying the next variant")

    def _create_conflict(self, link, conflict, upn, reference):
        """A conflict on create: someone holds the ImmutableID or UPN but Entra does not show it yet."""
        if getattr(conflict, "target", None) == "onPremisesImmutableId":
            links.save(self.store, link, step="lookup")
            raise _Wait("the account exists but Entra has not replicated it yet")
        owner = self.graph.find_user_by_upn(upn, select=SELECT)
        if owner is not None:
            return self._upn_owner_seen(link, owner, upn, reference)
        raise _Wait("the UPN is taken by an account Entra has not replicated yet")

    def _license(self, link, profile, reference, seen=None):
        """Assign the licence (usage location first for adopted accounts); 404 means replication."""
        entry = self.skus.resolve(self.s.o365_license_sku, self.s.o365_disabled_plans, seats=False)
        try:
            current = seen or self.graph.get_user(link.entra_object_id, select=SELECT)
            if has_sku(current, entry["skuId"]):
                return self._licensed(link, entry, reference)
            if not current.get("usageLocation"):
                self.graph.update_user(link.entra_object_id, {"usageLocation": profile["usage_location"]})
            self.graph.assign_license(link.entra_object_id, add=[entry], remove=[])
        except NotFound:
            raise _Wait("Entra does not show the new account yet (replication)") from None
        except BadRequest:
            if not self.seats.exhausted():
                raise
            return self._park(link, reference)
        self._licensed(link, entry, reference)

    def _park(self, link, reference):
        """Seats ran out after the check (e.g. taken outside the companion): park, audit, tell operators."""
        links.save(self.store, link, state="parked", last_error=PARKED, reference=reference)
        self._audit("o365.licence.parked", "parked", link, reference, fact=link.entra_object_id,
                    sku=self.s.o365_license_sku, reason="no free seat when the licence was assigned")
        self.seats.note("out")

    def _licensed(self, link, entry, reference):
        # audited before the step moves on: the seat ledger counts the seat by one or the other (licensing.held)
        self._audit("entra.licence.assigned", "ok", link, reference, sku=self.s.o365_license_sku,
                    fact=f"{link.entra_object_id}:{self.s.o365_license_sku}",
                    disabled_plans=entry["disabledPlans"])
        links.save(self.store, link, licence_sku=self.s.o365_license_sku, step="verify")

    def _verify(self, link, profile, reference, seen=None):
        """Ready once Entra returns the account with the licence (observed, not assumed)."""
        try:
            current = seen or self.graph.get_user(link.entra_object_id, select=SELECT)
        except NotFound:
            raise _Wait("Entra does not show the account yet (replication)") from None
        if not current.get("assignedLicenses"):
            raise _Wait("the licence is not visible on the account yet")
        links.save(self.store, link, state="ready", step="done", last_error=None,
                   ready_at=utcnow())
        metrics.first_login_ready(link.created_at)
        self._audit("o365.user.ready", "ok", link, reference, upn=link.upn, fact=link.entra_object_id)

    def license_all(self, seen):
        """Users at the licence step that a batched read shows ({auth0 user id: Graph user}): licences
        assigned in `$batch` calls of 20, the assigned ones moved on together with one audit row each.
        Returns ({auth0 user id: object id} moved to verify, {the users to run through _license one by
        one}: any other answer, whose error policy applies)."""
        try:
            entry = self.skus.resolve(self.s.o365_license_sku, self.s.o365_disabled_plans)
        except LicenceUnavailable:
            return {}, seen
        held = [uid for uid, user in seen.items() if has_sku(user, entry["skuId"])]
        todo = [uid for uid, user in seen.items() if uid not in held and user.get("usageLocation")]
        answers = self.graph.batch([self.graph.assign_license_request(seen[uid]["id"], [entry]) for uid in todo])
        done = held + [uid for uid, answer in zip(todo, answers) if item_error(answer) is None]

        def audited(session, rows):
            audit.record_facts(session, "entra.licence.assigned", "ok", [
                {"auth0_user_id": r.auth0_user_id, "entra_object_id": r.entra_object_id,
                 "fact": f"{r.entra_object_id}:{self.s.o365_license_sku}",
                 "detail": {"sku": self.s.o365_license_sku, "disabled_plans": entry["disabledPlans"]}} for r in rows])
        moved = links.move_many(self.store, done, "licence", audited, licence_sku=self.s.o365_license_sku,
                                step="verify")
        return ({row.auth0_user_id: row.entra_object_id for row in moved},
                {uid: user for uid, user in seen.items() if uid not in done})

    def ready_all(self, seen_licensed):
        """Users at the verify step whose batched read shows the licence: ready together, one audit row each
        (what _verify does for one user, without a pool pass and six statements per user)."""
        def audited(session, rows):
            audit.record_facts(session, "o365.user.ready", "ok", [
                {"auth0_user_id": r.auth0_user_id, "entra_object_id": r.entra_object_id, "fact": r.entra_object_id,
                 "detail": {"upn": r.upn}} for r in rows])
            for row in rows:
                metrics.first_login_ready(row.created_at)
        return links.move_many(self.store, seen_licensed, "verify", audited, state="ready", step="done",
                               last_error=None, ready_at=utcnow())

    def _fail(self, link, why, reference):
        message = getattr(why, "message", None) or str(why)
        links.save(self.store, link, state="failed", last_error=message, reference=reference)
        self._audit("o365.provisioning.failed", "failed", link, reference, reason=message, step=link.step)
        log.warning("provisioning failed", extra={"fields": {"auth0_user_id": link.auth0_user_id,
                                                              "step": link.step, "reason": message}})

    def _audit(self, action, outcome, link, reference, fact=None, **detail):
        if fact is not None:  # a once-only fact: a repeated step (lease lapsed mid-step) adds no second row
            audit.record_once(self.store, fact, action, outcome, link.auth0_user_id, link.entra_object_id,
                              reference=reference, **detail)
            return
        with self.store.session() as session:
            audit.record(session, action, outcome, link.auth0_user_id, link.entra_object_id,
                         reference=reference, **detail)

