"""A Rule-era tenant, made through the vendors' APIs the way Auth0's Office 365 Rule made it."""
import base64
import secrets
import uuid

import pytest

from bench._rule import Rule
from service import sandbox
from service.provisioning import Provisioner
from tests.support.receivers import SlackReceiver
from tests.sync.conftest import AUTH0_DB, World, world  # noqa: F401


class RuleWorld:
    """Auth0 users signed in through the Rule (Graph v1.0 port in bench/_rule.py), then the usual decay."""

    def __init__(self, world, ctx):
        self.world, self.ctx = world, ctx
        self.rule = Rule(graph_url=world.graph_emu.url, tenant=sandbox.GRAPH_TENANT_ID,
                         client_id=sandbox.GRAPH_CLIENT_ID, client_secret=sandbox.GRAPH_CLIENT_SECRET,
                         domain=sandbox.FEDERATED_DOMAIN, sku_part_number=sandbox.SKU_PART_NUMBER,
                         ca_bundle=world.graph_emu.verify, delay_s=0)
        self.people = {}

    def auth0_user(self, name):
        """A database user in Auth0 (Management API)."""
        email = f"{name}.{secrets.token_hex(2)}@example.com"
        user = self.ctx.auth0.create_user({"connection": AUTH0_DB, "email": email, "email_verified": True,
                                           "nickname": name.title(), "password": "Sandbox-pass-123!"})
        return {**user, "nickname": name.title(), "email": email}

    def failed_login(self, user):
        """createAzureADUser succeeded, assignOffice365License failed: the login ended, nothing was saved."""
        rid = str(uuid.uuid4())
        iid = base64.b64encode(rid.encode()).decode()  # new Buffer(uuid).toString('base64')
        return self.rule._create(self.rule._token(), user, f"auth0-{rid}@{sandbox.FEDERATED_DOMAIN}", iid)

    def login(self, user):
        """The whole Rule: account, licence, then saveUserMetadata (app_metadata through the Management API)."""
        upn, iid, oid = self.rule.login(user)
        self.ctx.auth0.update_user(user["user_id"], {"app_metadata": {
            "office365Provisioned": True, "office365UPN": upn, "office365ImmutableId": iid}})
        return {"upn": upn, "immutable_id": iid, "id": oid, "user_id": user["user_id"]}

    def person(self, name, failed=0, succeed=True):
        """One person: some failed logins first, then (optionally) one that worked."""
        user = self.auth0_user(name)
        leftovers = [self.failed_login(user)["id"] for _ in range(failed)]
        account = self.login(user) if succeed else None
        self.people[name] = {"user": user, "account": account, "leftovers": leftovers}
        return self.people[name]


@pytest.fixture
def rule_world(world):  # noqa: F811
    """ann, bob (a failed login first), cat (UPN renamed in Entra), dan (licence removed), eve (account
    in deleted items), fay (account purged), gus (Auth0 user deleted), hal (Auth0 user blocked), ivy (only
    a failed login); and look-alikes nobody may report: a companion user, a hand-made account, a plain user."""
    hook = SlackReceiver()
    ctx = world.context({"connection": AUTH0_DB}, RECONCILE_TICKET_URL=hook.url)
    rw = RuleWorld(world, ctx)
    for name in ("ann", "cat", "dan", "eve", "fay", "gus", "hal"):
        rw.person(name)
    rw.person("bob", failed=1)
    rw.person("ivy", failed=1, succeed=False)
    graph, p = world.entra, rw.people
    renamed = f"cat.renamed@{sandbox.FEDERATED_DOMAIN}"
    graph.update_user(p["cat"]["account"]["id"], {"userPrincipalName": renamed})
    sku = next(s["skuId"] for s in graph.subscribed_skus() if s["skuPartNumber"] == sandbox.SKU_PART_NUMBER)
    graph.assign_license(p["dan"]["account"]["id"], add=[], remove=[sku])
    graph.delete_user(p["eve"]["account"]["id"])
    graph.delete_user(p["fay"]["account"]["id"])
    graph._request("DELETE", f"/directory/deletedItems/{p['fay']['account']['id']}")  # purged for good
    ctx.auth0.delete_user(p["gus"]["user"]["user_id"])
    ctx.auth0.update_user(p["hal"]["user"]["user_id"], {"blocked": True})
    rw.plain = rw.auth0_user("plain")
    companion = rw.auth0_user("kim")
    rw.companion = Provisioner(ctx.settings, ctx.store, ctx.graph).ensure(
        {"user_id": companion["user_id"], "email": companion["email"]}, wait_s=5)
    rw.handmade = world.user("handmade", userPrincipalName=f"hand.made@{sandbox.FEDERATED_DOMAIN}",
                             onPremisesImmutableId="q83vEjRWeJCrze8SNFZ4kA==")
    rw.renamed, rw.hook = renamed, hook
    yield rw
    hook.stop()
