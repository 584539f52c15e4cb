"""B2B invitations: POST /invitations makes a guest user; GET /invitations lists what was sent (facts §9).

Learn `invitation-post`: `invitedUserEmailAddress` and `inviteRedirectUrl` are required; the answer
is 201 with `inviteRedeemUrl`, `status` and `invitedUser: {id}`; the user is created with
`userType: Guest`, `creationType: Invitation`, `externalUserState: PendingAcceptance` and the UPN
`{email with @ as _}#EXT#@{initial domain}`. Inviting the same address again invites the same guest
(the answer names the existing user; nothing new is created).
"""
import re
import uuid
from urllib.parse import quote, urlsplit

from emulators.graph import odata
from emulators.graph.errors import GraphError, conflict, not_found
from emulators.graph.routing import Reply, Route
from emulators.graph.store import now_iso
from emulators.graph.users import build_user

# The extract's invitedUserEmailAddress description: no ~!#$%^&*()+=[]{}\/|;:'"<>?, in the user name;
# . and - anywhere but at the ends; _ anywhere.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"([A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?)@({_LABEL}(?:\.{_LABEL})+)")
USER_TYPES = ("Guest", "Member")
DEFAULT_MESSAGE_INFO = {"messageLanguage": None, "customizedMessageBody": None,
                        "ccRecipients": [{"emailAddress": {"name": None, "address": None}}]}


def _bad(message):
    return GraphError(400, "BadRequest", message)


def _check(ctx, body):
    """The invitation's required values; 400 for the rest of what Graph refuses."""
    ctx.app.schema.check_object("invitation", body)
    email = body.get("invitedUserEmailAddress")
    if not isinstance(email, str) or not EMAIL.fullmatch(email):
        raise _bad("The invited user email address is invalid.")
    redirect = body.get("inviteRedirectUrl")
    parts = urlsplit(redirect) if isinstance(redirect, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad("The inviteRedirectUrl is required and must be an absolute URL.")
    if body.get("invitedUserType", "Guest") not in USER_TYPES:
        raise _bad("The invitedUserType must be Guest or Member.")
    if body.get("resetRedemption"):
        raise _bad("resetRedemption is not emulated.")


def _guest(ctx, body):
    """(user, created) for the invited address: the existing guest, or a new one."""
    store, email = ctx.store, body["invitedUserEmailAddress"]
    local = email.replace("@", "_")
    upn = f"{local}#EXT#@{store.initial_domain}"
    uid = store.unique["userPrincipalName"].get(upn.lower())
    if uid is not None:
        if uid not in store.users:
            raise conflict("userPrincipalName")  # a soft-deleted guest still holds the UPN
        return store.users[uid], False
    user = build_user({"accountEnabled": True, "displayName": body.get("invitedUserDisplayName") or email.split("@")[0],
                       "mailNickname": f"{local}#EXT#", "userPrincipalName": upn, "mail": email,
                       "otherMails": [email], "userType": body.get("invitedUserType") or "Guest"}, store)
    user.update(creationType="Invitation", externalUserState="PendingAcceptance",
                externalUserStateChangeDateTime=now_iso())
    store.add_user(user)
    return user, True


def create_invitation(ctx):
    """POST /invitations -> 201 + the invitation."""
    body = ctx.json()
    _check(ctx, body)
    with ctx.store.lock:
        user, _ = _guest(ctx, body)
        invitation = _invitation(ctx, body, user)
        ctx.store.invitations.append(invitation)
    return Reply(201, dict({"@odata.context": odata.context(ctx.base, "invitations", entity=True)}, **invitation))


def _invitation(ctx, body, user):
    """The invitation as Graph answers it."""
    iid, tenant = str(uuid.uuid4()), ctx.app.config.tenant_id
    ticket = uuid.uuid4().hex
    inner = f"https://invitations.microsoft.com/redeem/?tenant={tenant}&user={iid}&ticket={ticket}&ver=2.0"
    return {"id": iid, "inviteRedeemUrl": f"https://login.microsoftonline.com/redeem?rd={quote(inner, safe='')}",
            "invitedUserDisplayName": body.get("invitedUserDisplayName"),
            "invitedUserEmailAddress": body["invitedUserEmailAddress"],
            "invitedUserType": body.get("invitedUserType") or "Guest",
            "invitedUserMessageInfo": body.get("invitedUserMessageInfo") or DEFAULT_MESSAGE_INFO,
            "inviteRedirectUrl": body["inviteRedirectUrl"],
            "sendInvitationMessage": bool(body.get("sendInvitationMessage")), "resetRedemption": False,
            "status": "Completed" if user.get("externalUserState") == "Accepted" else "PendingAcceptance",
            "invitedUser": {"id": user["id"]}}


def list_invitations(ctx):
    """GET /invitations: the invitations sent, oldest first, in pages."""
    odata.reject_unsupported(ctx.args, ("$top", "$skiptoken"))
    top = odata.parse_top(ctx.args.get("$top"))
    start = int(odata.decode_skiptoken(ctx.args["$skiptoken"])) if "$skiptoken" in ctx.args else 0
    with ctx.store.lock:
        page = ctx.store.invitations[start:start + top]
        more = start + top < len(ctx.store.invitations)
    body = {"@odata.context": odata.context(ctx.base, "invitations")}
    if more:
        body["@odata.nextLink"] = odata.next_link(ctx.base, "/v1.0/invitations", ctx.args, str(start + top))
    body["value"] = page
    return Reply(200, body)


def redeem(ctx, uid):
    """POST /_emulator/invitations/{userId}/redeem: the guest accepts (externalUserState Accepted)."""
    with ctx.store.lock:
        user = ctx.store.user(uid, include_lagging=True)
        if user is None or user.get("creationType") != "Invitation":
            raise not_found(uid)
        ctx.store.replace_user(user, dict(user, externalUserState="Accepted",
                                          externalUserStateChangeDateTime=now_iso()))
    return Reply(200, {"redeemed": uid})


# Invitations have their own limit (150 per 5 s per tenant, facts §4.1), not the directory's units.
ROUTES = [
    Route("POST", "/v1.0/invitations", create_invitation, ru=0, entity="invitation"),
    Route("GET", "/v1.0/invitations", list_invitations, ru=0, entity="invitation"),
]
CONTROL_ROUTES = [Route("POST", "/_emulator/invitations/<uid>/redeem", redeem)]
