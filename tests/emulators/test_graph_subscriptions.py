"""Graph emulator: change-notification subscriptions, the validation handshake, delivery and retries."""
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from tests.emulators.receivers import Receiver
from tests.emulators.test_graph_delta import ENGINEERING, LEE, GraphHttp

HANDSHAKE_FAILED = ("Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                    "validation request.")
MISMATCH = "Subscription validation request failed. Response must exactly match validationToken query parameter."


@pytest.fixture
def api(graph):
    return GraphHttp(graph)


@pytest.fixture
def hook():
    with Receiver() as receiver:
        yield receiver


def in_minutes(minutes):
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribe(api, hook, resource="users", change_type="updated,deleted", **extra):
    body = {"changeType": change_type, "notificationUrl": hook.url, "resource": resource,
            "expirationDateTime": in_minutes(600), "clientState": "s3cret-state", **extra}
    return api.post("/subscriptions", body)


def flush(api):
    assert api.control("POST", "flush", {"timeout_s": 20})["flushed"] is True


def test_create_runs_the_handshake_and_keeps_the_subscription(api, hook):
    reply = subscribe(api, hook, expirationDateTime=in_minutes(5))
    assert reply.status_code == 201, reply.text
    sub = reply.json()
    token = hook.validation_tokens[0]
    assert token.startswith("Validation: ") and quote(token, safe="") != token
    assert sub["clientState"] == "s3cret-state" and sub["resource"] == "users" and sub["notificationUrl"] == hook.url
    raised = datetime.fromisoformat(sub["expirationDateTime"])
    assert raised > datetime.now(timezone.utc) + timedelta(minutes=44)  # under 45 minutes is raised to 45
    assert api.get(f"/subscriptions/{sub['id']}").json()["id"] == sub["id"]
    assert [s["id"] for s in api.get("/subscriptions").json()["value"]] == [sub["id"]]
    renewed = api.patch(f"/subscriptions/{sub['id']}", {"expirationDateTime": in_minutes(41000)})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"].startswith(in_minutes(41000)[:16])
    assert api.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert api.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert api.get(f"/subscriptions/{sub['id']}").status_code == 404


@pytest.mark.parametrize("mode, message", [
    ("wrong_token", MISMATCH), ("wrong_type", MISMATCH), ("status", HANDSHAKE_FAILED),
    ("slow", "Subscription validation request timed out.")])
def test_a_failed_handshake_refuses_the_subscription(api, hook, mode, message):
    api.control("PATCH", "config", {"notification_timeout_s": 0.3})
    hook.validation, hook.validation_delay = mode, 1.0
    reply = subscribe(api, hook)
    error = reply.json()["error"]
    assert reply.status_code == 400 and (error["code"], error["message"]) == ("ValidationError", message)
    assert len(hook.validation_tokens) == 1 and api.get("/subscriptions").json()["value"] == []


def test_an_unreachable_endpoint_fails_validation(api, hook):
    url = hook.url
    hook.close()
    reply = api.post("/subscriptions", {"changeType": "updated", "notificationUrl": url, "resource": "users",
                                        "expirationDateTime": in_minutes(60)})
    assert reply.status_code == 400 and reply.json()["error"]["message"] == HANDSHAKE_FAILED


@pytest.mark.parametrize("change, status, code", [
    ({"changeType": "created"}, 400, "InvalidRequest"),
    ({"expirationDateTime": in_minutes(41760 + 60)}, 400, "ExtensionError"),
    ({"clientState": "x" * 129}, 400, "InvalidRequest"),
    ({"resource": "groups/abc/owners"}, 400, "InvalidRequest"),
    ({"resource": "users/no-such-user@contoso.onmicrosoft.com"}, 404, "Request_ResourceNotFound"),
    ({"notificationUrl": "http://hooks.example.com/notify"}, 400, "InvalidRequest"),
    ({"includeResourceData": True}, 400, "InvalidRequest"),
])
def test_subscription_rules(api, hook, change, status, code):
    reply = subscribe(api, hook, **change)
    assert reply.status_code == status and reply.json()["error"]["code"] == code
    assert hook.validation_tokens == []  # refused before anything is sent to the endpoint


def test_same_change_type_and_resource_twice_is_409(api, hook):
    first = subscribe(api, hook, resource="/users").json()
    again = subscribe(api, hook, resource="users", change_type="deleted,updated")
    assert again.status_code == 409 and first["id"] in again.json()["error"]["message"]
    assert subscribe(api, hook, change_type="updated").status_code == 201


def test_user_changes_are_delivered_as_updated_and_purges_as_deleted(api, hook):
    sub = subscribe(api, hook).json()
    uid = api.create_user("hooked.user")
    api.patch(f"/users/{uid}", {"jobTitle": "Tester"})
    api.delete(f"/users/{uid}")
    api.control("POST", f"users/{uid}/purge")
    flush(api)
    received = hook.notifications()
    assert [n["changeType"] for n in received] == ["updated", "updated", "updated", "deleted"]
    first = received[0]
    assert first["subscriptionId"] == sub["id"] and first["clientState"] == "s3cret-state"
    assert first["resource"] == f"Users/{uid}" and first["tenantId"] and first["id"]
    assert first["resourceData"] == {"@odata.type": "#Microsoft.Graph.User", "@odata.id": f"Users/{uid}", "id": uid}
    assert first["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert hook.posts()[0]["headers"]["Content-Type"].startswith("application/json")


def test_a_single_user_subscription_and_a_deleted_only_one(api, hook):
    subscribe(api, hook, resource=f"users/{LEE}", change_type="updated")
    subscribe(api, hook, change_type="deleted")
    api.patch(f"/users/{LEE}", {"jobTitle": "Lead"})
    api.create_user("someone.else")
    flush(api)
    assert [(n["resource"], n["changeType"]) for n in hook.notifications()] == [(f"Users/{LEE}", "updated")]


def test_notifications_that_pile_up_travel_in_one_post(api, hook):
    subscribe(api, hook)
    api.control("POST", "users/bulk", {"count": 5, "prefix": "batched"})
    flush(api)
    assert len(hook.posts()) == 1 and len(hook.notifications()) == 5


def test_failed_deliveries_are_retried_then_recorded(api, hook, graph):
    api.control("PATCH", "config", {"notification_retry_s": 0.05})
    sub = subscribe(api, hook).json()
    hook.fail(2, status=500)
    api.patch(f"/users/{LEE}", {"jobTitle": "Retried"})
    flush(api)
    assert [post["answered"] for post in hook.posts()] == [500, 500, 202]
    recorded = next(s for s in graph.state()["subscriptions"] if s["id"] == sub["id"])["_deliveries"]
    assert [(d["attempt"], d["status"], d["delivered"]) for d in recorded] == [(1, 500, False), (2, 500, False),
                                                                               (3, 202, True)]
    counters = graph.stats()["notifications"]
    assert counters["posts"] == 3 and counters["failed_posts"] == 2 and counters["delivered"] == 1


def test_delivery_gives_up_after_the_last_attempt(api, hook, graph):
    api.control("PATCH", "config", {"notification_retry_s": 0.01, "notification_max_attempts": 2})
    subscribe(api, hook)
    hook.fail(5, status=503)
    api.patch(f"/users/{LEE}", {"jobTitle": "Dropped"})
    flush(api)
    assert len(hook.posts()) == 2 and graph.stats()["notifications"]["dropped"] == 1


def test_switching_delivery_off_leaves_a_gap(api, hook, graph):
    subscribe(api, hook)
    api.control("PATCH", "config", {"deliver_notifications": False})
    api.patch(f"/users/{LEE}", {"jobTitle": "Missed"})
    flush(api)
    assert hook.received == [] and graph.stats()["notifications"]["suppressed"] == 1
    api.control("PATCH", "config", {"deliver_notifications": True})
    api.patch(f"/users/{LEE}", {"jobTitle": "Seen"})
    flush(api)
    assert len(hook.notifications()) == 1


def test_lifecycle_events_go_to_the_lifecycle_url(api, hook):
    lifecycle_url = hook.base + "/lifecycle"
    sub = subscribe(api, hook, lifecycleNotificationUrl=lifecycle_url).json()
    assert len(hook.validation_tokens) == 2  # both endpoints are validated
    api.control("POST", f"subscriptions/{sub['id']}/lifecycle", {"event": "reauthorizationRequired"})
    flush(api)
    assert hook.notifications("/lifecycle") == [{
        "subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
        "tenantId": hook.notifications("/lifecycle")[0]["tenantId"], "clientState": "s3cret-state",
        "lifecycleEvent": "reauthorizationRequired"}]
    assert hook.notifications() == [] and api.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204


def test_group_membership_changes_notify_group_subscriptions(api, hook):
    members = subscribe(api, hook, resource=f"groups/{ENGINEERING}/members", change_type="updated").json()
    subscribe(api, hook, resource="groups", change_type="updated")
    api.delete(f"/groups/{ENGINEERING}/members/{LEE}/$ref")  # not a member: 404, no change
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{LEE}"}
    assert api.post(f"/groups/{ENGINEERING}/members/$ref", ref).status_code == 204
    api.patch(f"/users/{LEE}", {"jobTitle": "Not a group change"})
    flush(api)
    received = hook.notifications()
    assert len(received) == 2 and {n["resource"] for n in received} == {f"Groups/{ENGINEERING}"}
    assert received[0]["resourceData"]["@odata.type"] == "#Microsoft.Graph.Group"
    assert members["id"] in {n["subscriptionId"] for n in received}


def test_a_new_user_is_notified_once_readable(api, hook):
    api.control("PATCH", "config", {"replication_lag_s": 0.5})
    subscribe(api, hook)
    uid = api.create_user("lagging.hooked")
    flush(api)
    assert [n["resource"] for n in hook.notifications()] == [f"Users/{uid}"]
    assert api.get(f"/users/{uid}").status_code == 200


def test_reset_forgets_subscriptions_and_deliveries(api, hook, graph):
    subscribe(api, hook)
    api.control("POST", "reset")
    api.patch(f"/users/{LEE}", {"jobTitle": "After reset"})
    flush(api)
    assert api.get("/subscriptions").json()["value"] == [] and hook.received == []
    assert graph.state()["subscriptions"] == []
