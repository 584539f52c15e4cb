"""Graph change notifications in: handshake, clientState, queueing, lifecycle events."""
import pytest

from service import create_app
from service.db import migrate
from service.models import SyncEvent
from service.settings import from_env
from service.sync.subscriptions import client_state
from tests.service.test_settings import GOOD


@pytest.fixture
def app(tmp_path):
    settings = from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/w.db",
                         "QUEUE_URL": f"sqlite:///{tmp_path}/q.db"})
    app = create_app(settings)
    migrate(app.extensions["companion"].store.engine)
    return app


def _events(app):
    with app.extensions["companion"].store.session() as session:
        return session.query(SyncEvent).order_by(SyncEvent.id).all()


def _pending_jobs(app):
    return app.extensions["companion"].queue.pending_count()


def test_validation_handshake_echoes_the_decoded_token_as_plain_text(app):
    token = "Validation: <script>alert(1)</script> & more"
    resp = app.test_client().post("/v1/events/graph", query_string={"validationToken": token},
                                  headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200 and resp.get_data(as_text=True) == token
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and _events(app) == []


def test_genuine_notifications_are_recorded_queued_and_acknowledged_with_202(app):
    state = client_state(app.extensions["companion"].settings)
    body = {"value": [
        {"changeType": "updated", "clientState": state, "resource": "Users/u-1",
         "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": "u-1"}},
        {"changeType": "deleted", "clientState": state, "resource": "Users/u-2", "resourceData": {"id": "u-2"}},
        {"changeType": "updated", "clientState": state, "resource": "Groups/g-1", "resourceData": {"id": "g-1"}},
    ]}
    resp = app.test_client().post("/v1/events/graph", json=body)
    assert resp.status_code == 202
    events = [(e.kind, e.object_id, e.detail.get("deleted")) for e in _events(app)]
    assert events == [("user", "u-1", False), ("user", "u-2", True), ("groups_delta", "g-1", None)]
    assert _pending_jobs(app) == 3


def test_forged_client_state_changes_nothing(app):
    body = {"value": [{"changeType": "updated", "clientState": "guess", "resource": "Users/u-9"},
                      {"changeType": "updated", "resource": "Users/u-8"}]}
    resp = app.test_client().post("/v1/events/graph", json=body)
    assert resp.status_code == 202 and _events(app) == [] and _pending_jobs(app) == 0


def test_lifecycle_event_is_recorded(app):
    state = client_state(app.extensions["companion"].settings)
    body = {"value": [{"subscriptionId": "sub-1", "clientState": state,
                       "lifecycleEvent": "reauthorizationRequired"}]}
    assert app.test_client().post("/v1/events/graph", json=body).status_code == 202
    (event,) = _events(app)
    assert (event.kind, event.object_id, event.detail["lifecycle_event"]) == (
        "lifecycle", "sub-1", "reauthorizationRequired")


def test_malformed_bodies_are_named_errors(app):
    resp = app.test_client().post("/v1/events/graph", data="nope", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json["error"]["field"] == "body"
    resp = app.test_client().post("/v1/events/graph", json={"value": "nope"})
    assert resp.status_code == 400 and resp.json["error"]["field"] == "value"
