"""Back-provisioning Auth0-first identities into Entra, through the event webhook and the handlers."""
import datetime as dt
import secrets

import pytest

from service import create_app, links
from service.db import migrate
from service.models import Link, SyncEvent
from service.settings import from_env
from service.sync import inbox
from service.sync.config import SyncConfigError, parse

TOKEN = "auth0-events-token-" + "k" * 16
PARTNERS = "partner-saml"
REDIRECT = "https://myapps.microsoft.com/?tenantid=8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b"


def cloud_event(kind, user, event_id=None, at=None):
    """An Event Streams CloudEvent as Auth0 posts it (facts/auth0.md §4.2)."""
    at = at or dt.datetime.now(dt.timezone.utc)
    return {"specversion": "1.0", "type": kind, "source": "urn:auth0:sandbox.eu.auth0.com",
            "id": event_id or "evt_" + secrets.token_hex(8), "time": at.isoformat().replace("+00:00", "Z"),
            "data": {"object": user}}


class Hub:
    """The webhook (Flask test client) and a SyncContext on one database: what the worker would run."""

    def __init__(self, world, mapping, **env):
        self.world = world
        self.ctx = world.context(mapping, AUTH0_EVENTS_TOKEN=TOKEN, **env)
        self.app = create_app(from_env({**world.env, "AUTH0_EVENTS_TOKEN": TOKEN}))
        migrate(self.app.extensions["companion"].store.engine)
        self.http = self.app.test_client()

    def post(self, body, token=TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post("/v1/events/auth0", json=body, headers=headers)

    def deliver(self, *events):
        """POST each event, then run every queued inbox event as the worker does; the handlers' outcomes."""
        for event in events:
            assert self.post(event).status_code == 202
        return self.drain()

    def drain(self):
        with self.ctx.store.session() as session:
            ids = [e.id for e in session.query(SyncEvent).filter_by(status="queued").order_by(SyncEvent.id)]
        outcomes = []
        for event_id in ids:
            assert inbox.claim(self.ctx.store, event_id)
            outcomes.append(self.ctx.dispatch(inbox.get(self.ctx.store, event_id)))
            inbox.mark(self.ctx.store, event_id, "done")
        return outcomes

    def seed(self, name, connection=PARTNERS, **fields):
        email = f"{name}.{secrets.token_hex(3)}@example.com"
        (user,) = self.world.seed_auth0(email=email, email_verified=True, connection=connection,
                                        name=name.title(), **fields)["users"]
        return user


def _mapping(mode, connections=(PARTNERS,)):
    section = {"connections": list(connections), "mode": mode}
    if mode == "guest":
        section["invite_redirect_url"] = REDIRECT
    return {"back_provision": section}


def _federated(world, immutable_id):
    return [u for u in world.graph_emu.state()["users"] if u.get("onPremisesImmutableId") == immutable_id]


def test_member_mode_makes_one_licensed_federated_account_however_often_the_event_comes(world):
    hub = Hub(world, _mapping("member"))
    ada = hub.seed("ada")
    created = cloud_event("user.created", ada)
    outcomes = hub.deliver(created, created, cloud_event("user.created", ada), cloud_event("user.updated", ada))
    assert outcomes[0] == "ready" and len(outcomes) == 3  # the repeated id never reached the inbox
    link = links.get(hub.ctx.store, ada["user_id"])
    (account,) = _federated(world, link.immutable_id)
    assert account["userPrincipalName"].endswith("@partners.contoso.com") and account["assignedLicenses"]
    assert (link.state, link.account_type, link.entra_object_id) == ("ready", "member", account["id"])
    assert len(world.audit(hub.ctx, "entra.member.backprovisioned")) == 1
    assert len(world.audit(hub.ctx, "entra.user.created")) == 1


def test_guest_mode_invites_exactly_once(world):
    hub = Hub(world, _mapping("guest"))
    bea = hub.seed("bea")
    created = cloud_event("user.created", bea)
    assert hub.post(created).json == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert hub.post(created).json == {"accepted": 0, "duplicates": 1, "ignored": 0}
    assert hub.drain() == ["invited"]
    # an operator's re-drive and a later sign-up copy with a new id change nothing
    event_id = inbox.record(hub.ctx.store, "auth0_user", bea["user_id"], "cli")
    assert hub.deliver(cloud_event("user.created", bea)) == ["active", "active"] and event_id
    (invitation,) = world.graph_emu.state()["invitations"]
    assert invitation["invitedUserEmailAddress"] == bea["email"]
    assert invitation["inviteRedirectUrl"] == REDIRECT and invitation["sendInvitationMessage"] is False
    link = links.get(hub.ctx.store, bea["user_id"])
    assert (link.account_type, link.state, link.entra_object_id) == ("guest", "guest", invitation["invitedUser"]["id"])
    (row,) = world.audit(hub.ctx, "entra.guest.invited")
    assert (row.auth0_user_id, row.entra_object_id) == (bea["user_id"], link.entra_object_id)


def test_only_listed_connections_and_live_users_are_back_provisioned(world):
    hub = Hub(world, _mapping("guest"))
    outsider = hub.seed("cy", connection="google-oauth2")
    gone, blocked = hub.seed("dee"), hub.seed("eli")
    hub.ctx.auth0.delete_user(gone["user_id"])  # deleted before its (late) user.created arrives
    hub.ctx.auth0.update_user(blocked["user_id"], {"blocked": True})
    outcomes = hub.deliver(cloud_event("user.created", outsider), cloud_event("user.created", gone),
                           cloud_event("user.created", blocked))
    assert outcomes == ["not-in-scope", "not-active", "not-active"]
    assert world.graph_emu.state()["invitations"] == []
    with hub.ctx.store.session() as session:
        assert session.query(Link).count() == 0


def test_dry_run_invites_nobody_and_says_what_it_would_do(world):
    hub = Hub(world, _mapping("guest"), DRY_RUN="true")
    fay = hub.seed("fay")
    assert hub.deliver(cloud_event("user.created", fay)) == ["dry-run"]
    assert world.graph_emu.state()["invitations"] == [] and links.get(hub.ctx.store, fay["user_id"]) is None
    (row,) = world.audit(hub.ctx, "entra.guest.invited")
    assert row.outcome == "dry-run"


def test_a_guest_invited_before_a_crash_is_adopted_not_invited_again(world):
    hub = Hub(world, _mapping("guest"))
    gil = hub.seed("gil")
    made = world.entra.invite(gil["email"], "Gil", REDIRECT)  # the call went out; the worker died
    with hub.ctx.store.session() as session:
        session.add(Link(auth0_user_id=gil["user_id"], immutable_id="aW1tdXRhYmxlLWdpbA==", account_type="guest",
                         state="inviting", step="invite", upn_variant=0, attempts=1, profile={}))
    assert hub.deliver(cloud_event("user.created", gil)) == ["invited"]
    assert links.get(hub.ctx.store, gil["user_id"]).entra_object_id == made["invitedUser"]["id"]
    assert len(world.graph_emu.state()["invitations"]) == 1
    assert world.audit(hub.ctx, "entra.guest.adopted") and not world.audit(hub.ctx, "entra.guest.invited")


def test_a_deleted_auth0_user_disables_its_guest(world):
    hub = Hub(world, _mapping("guest"))
    hal = hub.seed("hal")
    hub.deliver(cloud_event("user.created", hal))
    oid = links.get(hub.ctx.store, hal["user_id"]).entra_object_id
    hub.ctx.auth0.delete_user(hal["user_id"])
    assert hub.deliver(cloud_event("user.deleted", hal)) == ["blocked"]
    (guest,) = [u for u in world.graph_emu.state()["users"] if u["id"] == oid]
    assert guest["accountEnabled"] is False


@pytest.mark.parametrize("section, message", [
    ({"mode": "partner"}, "mode must be"),
    ({"mode": "guest"}, "invite_redirect_url is needed"),
    ({"mode": "guest", "invite_redirect_url": "http://example.com"}, "absolute https URL"),
    ({"connections": "partner-saml", "surprise": 1}, "may only hold"),
    ({"connections": [1]}, "back_provision.connections must be a list of strings"),
])
def test_back_provision_config_errors_name_the_key(section, message):
    with pytest.raises(SyncConfigError, match=message):
        parse({"back_provision": section})
