"""Graph emulator: B2B invitations create guest users."""
import pytest

from tests.emulators.test_graph_delta import GraphHttp

INVITE = {"invitedUserEmailAddress": "jane.doe@example.org", "inviteRedirectUrl": "https://myapps.microsoft.com",
          "invitedUserDisplayName": "Jane Doe"}


@pytest.fixture
def api(graph):
    return GraphHttp(graph)


def test_an_invitation_creates_a_pending_guest(api):
    reply = api.post("/invitations", INVITE)
    assert reply.status_code == 201, reply.text
    invitation = reply.json()
    assert invitation["status"] == "PendingAcceptance" and invitation["invitedUserEmailAddress"] == "jane.doe@example.org"
    assert invitation["inviteRedeemUrl"].startswith("https://") and invitation["invitedUserType"] == "Guest"
    guest = api.get(f"/users/{invitation['invitedUser']['id']}", **{
        "$select": "userPrincipalName,mail,userType,creationType,externalUserState,displayName"}).json()
    assert guest["userPrincipalName"] == "jane.doe_example.org#EXT#@contoso.onmicrosoft.com"
    assert (guest["mail"], guest["userType"], guest["creationType"], guest["externalUserState"]) == (
        "jane.doe@example.org", "Guest", "Invitation", "PendingAcceptance")
    assert guest["displayName"] == "Jane Doe"


def test_inviting_the_same_address_again_names_the_same_guest(api, graph):
    first = api.post("/invitations", INVITE).json()
    again = api.post("/invitations", dict(INVITE, invitedUserEmailAddress="Jane.Doe@example.org"))
    assert again.status_code == 201 and again.json()["invitedUser"]["id"] == first["invitedUser"]["id"]
    assert again.json()["id"] != first["id"]
    guests = [u for u in graph.state()["users"] if u.get("userType") == "Guest"]
    assert len(guests) == 1
    listed = api.get("/invitations").json()["value"]
    assert [i["id"] for i in listed] == [first["id"], again.json()["id"]]


def test_a_redeemed_guest_is_reinvited_as_completed(api):
    guest_id = api.post("/invitations", INVITE).json()["invitedUser"]["id"]
    api.control("POST", f"invitations/{guest_id}/redeem")
    assert api.get(f"/users/{guest_id}", **{"$select": "externalUserState"}).json()["externalUserState"] == "Accepted"
    assert api.post("/invitations", INVITE).json()["status"] == "Completed"


@pytest.mark.parametrize("change", [
    {"invitedUserEmailAddress": None}, {"invitedUserEmailAddress": "not-an-address"},
    {"invitedUserEmailAddress": "bad!name@example.org"}, {"inviteRedirectUrl": None},
    {"inviteRedirectUrl": "myapps"}, {"invitedUserType": "Owner"}, {"unknownProperty": 1}])
def test_invalid_invitations_are_400(api, change):
    body = {k: v for k, v in dict(INVITE, **change).items() if v is not None}
    reply = api.post("/invitations", body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] in ("BadRequest", "Request_BadRequest")
