"""Graph emulator: Identity Protection risky users and risk detections, fed by the control API."""
import pytest

from tests.emulators.test_graph_delta import ADMIN, AOIFE, LEE, GraphHttp
from tests.emulators.test_graph_support import GraphApi


@pytest.fixture
def api(graph):
    return GraphHttp(graph)


def raise_risk(api, user_id, **extra):
    return api.control("POST", "risk", {"userId": user_id, **extra})


def ids(reply):
    assert reply.status_code == 200, reply.text
    return [item["id"] for item in reply.json()["value"]]


def test_risk_raised_by_the_control_api_is_listed_and_filtered(api):
    first = raise_risk(api, AOIFE, riskLevel="high", riskState="atRisk", riskEventType="leakedCredentials")
    raise_risk(api, LEE, riskLevel="low", riskState="atRisk", riskEventType="unfamiliarFeatures")
    raise_risk(api, ADMIN, riskLevel="medium", riskState="dismissed")
    risky = first["riskyUser"]
    assert risky["id"] == AOIFE and risky["userPrincipalName"] == "aoife.obrien@contoso.onmicrosoft.com"
    assert ids(api.get("/identityProtection/riskyUsers")) == sorted([AOIFE, LEE, ADMIN])
    assert ids(api.get("/identityProtection/riskyUsers", **{"$filter": "riskLevel eq 'high'"})) == [AOIFE]
    at_risk = api.get("/identityProtection/riskyUsers", **{"$filter": "riskState eq 'atRisk' and riskLevel ne 'high'"})
    assert ids(at_risk) == [LEE]
    since = f"riskLastUpdatedDateTime gt {risky['riskLastUpdatedDateTime']}"
    assert set(ids(api.get("/identityProtection/riskyUsers", **{"$filter": since}))) == {LEE, ADMIN}
    one = api.get(f"/identityProtection/riskyUsers/{AOIFE}", **{"$select": "riskLevel,riskState"}).json()
    assert one["riskLevel"] == "high" and one["riskState"] == "atRisk" and "userPrincipalName" not in one


def test_raising_risk_again_updates_the_user_and_adds_a_detection(api):
    raise_risk(api, LEE, riskLevel="low")
    raise_risk(api, LEE, riskLevel="high", riskState="confirmedCompromised")
    users = api.get("/identityProtection/riskyUsers").json()["value"]
    assert [(u["id"], u["riskLevel"], u["riskState"]) for u in users] == [(LEE, "high", "confirmedCompromised")]
    detections = api.get("/identityProtection/riskDetections", **{"$filter": f"userId eq '{LEE}'"}).json()["value"]
    assert [d["riskLevel"] for d in detections] == ["low", "high"]
    assert api.get(f"/identityProtection/riskDetections/{detections[0]['id']}").json()["userId"] == LEE


def test_detections_filter_by_detection_time(api):
    raise_risk(api, AOIFE, detectedDateTime="2026-01-05T10:00:00Z")
    recent = raise_risk(api, LEE, detectedDateTime="2026-03-01T08:30:00.5Z")["riskDetection"]
    found = api.get("/identityProtection/riskDetections", **{"$filter": "detectedDateTime ge 2026-03-01T08:30:00Z"})
    assert ids(found) == [recent["id"]]


def test_detections_page_twenty_by_default_and_top_is_at_most_500(api):
    for _ in range(23):
        raise_risk(api, AOIFE, riskEventType="passwordSpray")
    first = api.get("/identityProtection/riskDetections").json()
    assert len(first["value"]) == 20
    rest = api.get(first["@odata.nextLink"]).json()
    assert len(rest["value"]) == 3 and "@odata.nextLink" not in rest
    assert len({d["id"] for d in first["value"] + rest["value"]}) == 23
    assert len(api.get("/identityProtection/riskDetections", **{"$top": "500"}).json()["value"]) == 23
    assert api.get("/identityProtection/riskDetections", **{"$top": "501"}).status_code == 400


def test_bad_control_calls_and_unknown_ids(api):
    for body in ({"userId": "nobody"}, {"userId": LEE, "riskLevel": "severe"}, {"userId": LEE, "riskState": "bad"}):
        reply = api.http.post(f"{api.emulator.url}/_emulator/risk", json=body, timeout=30)
        assert reply.status_code in (400, 404)
    assert api.get(f"/identityProtection/riskyUsers/{LEE}").status_code == 404
    assert api.get("/identityProtection/riskyUsers", **{"$filter": "nosuch eq 1"}).status_code == 400


def test_throttle_knob_answers_429_without_retry_after():
    local = GraphApi()
    local.control("PATCH", "config", {"risk_throttle": True})
    assert local.get("/identityProtection/riskyUsers").status_code == 200
    throttled = local.get("/identityProtection/riskDetections")
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert throttled.json["error"]["code"] == "TooManyRequests"
