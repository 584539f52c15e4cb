"""Back-provisioning: Auth0-first identities of chosen connections get an Entra account, exactly once.

`member` runs the Office 365 provisioning itself (a federated member account with a licence, the same
link, lease and derived ImmutableID as a first login, so a later login adopts it). `guest` sends a B2B
invitation (Learn invitation-post, facts/graph.md §9) and records the guest in the link table before and
after the call, under the link's lease, so duplicate or concurrent events invite once.
"""
from sqlalchemy.exc import IntegrityError

from service import identity, links
from service.errors import BadRequest, NotFound, Transient
from service.clients.graph import odata_str
from service.models import Link, utcnow
from service.sync import deprovision

NAME_KEYS = ("email", "name", "nickname", "given_name", "family_name", "username")
PASSED = ("not-linked", "not-in-scope", "not-active")  # outcomes that leave the user to graded deprovisioning


def primary_connection(user):
    """The connection the Auth0 user was made in (its first identity)."""
    identities = user.get("identities") or [{}]
    return (identities[0] or {}).get("connection") or user.get("connection")


def on_event(ctx, user_id, detail):
    """An Auth0 user without a link: give it an Entra account when its connection is back-provisioned."""
    config = ctx.config()
    if detail.get("type") not in ("user.created", None) or not config.back_provision_connections:
        return "not-linked"  # only sign-ups are back-provisioned (and operator re-drives, which have no type)
    if detail.get("connection") and detail["connection"] not in config.back_provision_connections:
        return "not-in-scope"  # a user's connection never changes: the event says enough
    user = deprovision.read_auth0_user(ctx.auth0, user_id)
    if user is None or user.get("blocked"):
        return "not-active"  # deleted or blocked before we got here (events come out of order)
    if primary_connection(user) not in config.back_provision_connections:
        return "not-in-scope"
    fx = deprovision.effects(ctx, detail)
    if config.back_provision_mode == "guest":
        return _guest(ctx, fx, user)
    return _member(ctx, fx, user, detail.get("reference"))


def _member(ctx, fx, user, reference):
    """The Office 365 provisioning path; the first login later finds the account ready (or finishes it)."""
    uid, connection = user["user_id"], primary_connection(user)
    fields = {"user_id": uid, "connection": connection,
              **{k: user[k] for k in NAME_KEYS if isinstance(user.get(k), str) and user[k]}}
    existing = links.get(ctx.store, uid)
    if existing is not None and existing.state not in ("pending", "failed"):
        return "exists"
    if fx.dry_run:
        fx._audit("entra.member.backprovisioned", uid, None, connection=connection)
        return "dry-run"
    outcome = ctx.provisioner.ensure(fields, 0.0, reference)
    if existing is None:
        fx._audit("entra.member.backprovisioned", uid, outcome.object_id, connection=connection,
                  state=outcome.state, upn=outcome.upn)
    if outcome.state == "pending" and outcome.object_id is None:
        raise Transient("the Entra account is not made yet; trying again")  # e.g. Graph busy before create
    return outcome.state


def _guest(ctx, fx, user):
    """One B2B guest per Auth0 user, however many times the event arrives."""
    uid = user["user_id"]
    link = links.get(ctx.store, uid)
    if link is not None and (link.entra_object_id or link.account_type != "guest"):
        return "exists"
    if not user.get("email"):
        fx._audit("entra.guest.skipped", uid, None, reason="the Auth0 user has no email to invite")
        return "no-email"
    if fx.dry_run:
        fx._audit("entra.guest.invited", uid, None, email=user["email"])
        return "dry-run"
    if link is None:
        _new_guest_link(ctx, uid, user)
    with deprovision.held(ctx.store, uid):
        link = links.get(ctx.store, uid)
        if link.entra_object_id:
            return "exists"  # another worker invited while we waited
        return invite(ctx, fx, link, user)


def _new_guest_link(ctx, uid, user):
    """The guest's link row, written before the invitation (state `inviting`: inert for provisioning)."""
    iid = identity.immutable_id(uid, ctx.settings.immutable_id_namespace)
    try:
        with ctx.store.session() as session:
            session.add(Link(auth0_user_id=uid, immutable_id=iid, account_type="guest", state="inviting",
                             step="invite", upn_variant=0, attempts=0,
                             profile={"email": user.get("email"), "connection": primary_connection(user)}))
    except IntegrityError:
        pass  # a concurrent event wrote it first; the lease decides who invites


def invite(ctx, fx, link, user):
    """Invite (or, after a crash mid-call, adopt the guest Entra already made); caller holds the lease."""
    email, config = user.get("email"), fx.config
    if not email:
        return "no-email"
    found = _existing_guest(ctx.graph, email) if link.attempts else None
    links.save(ctx.store, link, attempts=link.attempts + 1)
    if found:
        oid = found["id"]
        fx._audit("entra.guest.adopted", link.auth0_user_id, oid, email=email)
    else:
        try:
            oid = _send_invitation(ctx, fx, link, user, config)
        except BadRequest as why:
            with ctx.store.session() as session:
                session.delete(session.get(Link, link.auth0_user_id))  # nothing half-made lingers
            fx._audit("entra.guest.failed", link.auth0_user_id, None, email=email, reason=why.message)
            return "failed"
    links.save(ctx.store, link, entra_object_id=oid, state="guest", step="done", ready_at=utcnow(),
               last_error=None)
    return "invited"


def _send_invitation(ctx, fx, link, user, config):
    name = identity.display_name({"user_id": link.auth0_user_id, **user})
    answer = ctx.graph.invite(user["email"], name, config.invite_redirect_url, send_message=config.send_invitation)
    oid = answer["invitedUser"]["id"]
    fx._audit("entra.guest.invited", link.auth0_user_id, oid, email=user["email"], status=answer.get("status"),
              message_sent=config.send_invitation)
    return oid


def _existing_guest(graph, email):
    """The guest Entra holds for this address, if any (Graph invites an address once)."""
    try:
        return next(iter(graph.find_users(f"mail eq {odata_str(email)} and userType eq 'Guest'",
                                          select=("id", "userPrincipalName"))), None)
    except NotFound:
        return None
