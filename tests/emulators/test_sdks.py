"""The vendors' official Python SDKs against the running emulators (emulators/README.md, "Official SDKs").

msgraph-sdk (with azure-identity) talks to the Graph emulator over TLS, trusting only the emulator's CA;
auth0-python talks to the Auth0 emulator over plain HTTP on loopback. Both emulators check their traffic
against the vendor extracts (the session fixtures fail on any violation).
"""
import asyncio
import ssl

import httpx
from auth0.authentication import GetToken
from auth0.management import Auth0
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

from tests.support.emulators import (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_DOMAIN, GRAPH_CLIENT_ID,
                                     GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID)

ENGINEERING = "1b2c3d4e-0000-4000-8000-000000000001"
STAFF = "rol_sandboxstaff0001"


def graph_client(graph_url, ca_pem):
    """A GraphServiceClient for the Graph emulator; TLS checked against the emulator's CA only."""
    credential = ClientSecretCredential(GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, authority=graph_url,
                                        disable_instance_discovery=True, connection_verify=ca_pem)
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca_pem)))
    auth = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{graph_url}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def auth0_client(auth0_url):
    """An auth0-python Management API client for the Auth0 emulator (plain HTTP on loopback)."""
    host = auth0_url.removeprefix("http://")
    token = GetToken(host, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, protocol="http").client_credentials(
        f"https://{AUTH0_DOMAIN}/api/v2/")["access_token"]
    return Auth0(base_url=f"{auth0_url}/api/v2", token=token)


def eventual(**query):
    """Request options with `ConsistencyLevel: eventual` (Graph's advanced queries)."""
    options = RequestConfiguration(query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        **query) if query else None)
    options.headers.add("ConsistencyLevel", "eventual")
    return options


async def _graph_walk(client):
    """Everything the Graph test checks, in one event loop."""
    seen = {}
    first = await client.users.get(request_configuration=RequestConfiguration(
        query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=2, select=["id", "mail"])))
    seen["first_page"] = len(first.value)
    upns = []
    await PageIterator(first, client.request_adapter).iterate(lambda user: upns.append(user.id) or True)
    seen["paged_ids"] = upns
    created = await client.users.post(User(
        account_enabled=True, display_name="Sdk Person", mail_nickname="sdk.person",
        user_principal_name="sdk.person@contoso.onmicrosoft.com", usage_location="GB",
        password_profile=PasswordProfile(password="Correct-Horse-42-battery")))
    seen["created"] = (await client.users.by_user_id(created.id).get()).user_principal_name
    seen["count"] = await client.users.count.get(request_configuration=eventual())
    seen["odata_count"] = (await client.users.get(request_configuration=eventual(count=True, top=1))).odata_count
    group = client.groups.by_group_id(ENGINEERING)
    seen["transitive_users"] = sorted(u.display_name for u in (await group.transitive_members.graph_user.get()).value)
    seen["member_groups"] = [g.display_name for g in (await group.members.graph_group.get()).value]
    await client.users.by_user_id(created.id).delete()
    deleted = (await client.directory.deleted_items.graph_user.get()).value
    seen["deleted"] = [(u.id == created.id, u.deleted_date_time is not None) for u in deleted]
    return seen


def test_msgraph_sdk_against_the_graph_emulator(graph):
    seen = asyncio.run(_graph_walk(graph_client(graph.url, graph.verify)))
    assert seen["first_page"] == 2 and len(seen["paged_ids"]) == 3 == len(set(seen["paged_ids"]))
    assert seen["created"] == "sdk.person@contoso.onmicrosoft.com"
    assert seen["count"] == 4 and seen["odata_count"] == 4
    assert seen["transitive_users"] == ["Aoife O'Brien", "Lee Gu"]
    assert seen["member_groups"] == ["Platform Team"]
    assert seen["deleted"] == [(True, True)]
    assert graph.stats()["requests"]["GET /v1.0/users/$count"] == 1


def test_auth0_python_against_the_auth0_emulator(auth0):
    client = auth0_client(auth0.url)
    made = client.users.create(connection="Username-Password-Authentication", email="sdk@example.com",
                               password="correct-horse-battery")
    assert client.users.get(made.user_id).email == "sdk@example.com"
    auth0.http.post(f"{auth0.url}/_emulator/users", json=[
        {"email": f"busy{i}@example.com", "sessions": 3, "refresh_tokens": 2} for i in range(4)]).raise_for_status()
    emails = [u.email for u in client.users.list(per_page=2)]  # the pager walks all three pages
    assert sorted(emails) == sorted(["sdk@example.com"] + [f"busy{i}@example.com" for i in range(4)])

    role = client.roles.create(name="Contractors", description="Short-term staff")
    assert client.roles.get(role.id).name == "Contractors"
    user_ids = [u.user_id for u in client.users.list()]
    client.roles.users.assign(role.id, users=user_ids)
    pages = list(client.roles.users.list(role.id, take=2).iter_pages())
    assert [len(p.items) for p in pages] == [2, 2, 1]  # checkpoint paging: `from` = the previous `next`
    assert sorted(u.user_id for p in pages for u in p.items) == sorted(user_ids)
    assert [r.id for r in client.users.roles.list(made.user_id)] == [role.id]

    auth0.http.post(f"{auth0.url}/_emulator/user-blocks", json={"identifier": "sdk@example.com",
                                                                "ip": "203.0.113.9"}).raise_for_status()
    assert [b.ip for b in client.user_blocks.list(made.user_id).blocked_for] == ["203.0.113.9"]
    client.user_blocks.delete(made.user_id)
    assert client.user_blocks.list_by_identifier(identifier="sdk@example.com").blocked_for == []

    busy = next(iter(client.users.list(q='email:"busy0@example.com"')))
    sessions = list(client.users.sessions.list(busy.user_id, take=2).iter_pages())
    assert [len(p.items) for p in sessions] == [2, 1]
    tokens = list(client.users.refresh_token.list(busy.user_id))
    assert len(tokens) == 2 and {t.session_id for t in tokens} <= {s.id for p in sessions for s in p.items}
    assert [c.name for c in client.connections.list(take=1)] == [
        "google-oauth2", "partner-saml", "Username-Password-Authentication", "contoso-entra"]
