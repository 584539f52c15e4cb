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


def _note(state, oid, change="updated", subscription="sub-1"):
    return {"subscriptionId": subscription, "changeType": change, "clientState": state, "resource": f"Users/{oid}",
            "resourceData": {"id": oid}}


def test_duplicates_within_the_window_make_one_row_and_one_job(app):
    state = client_state(app.extensions["companion"].settings)
    for _ in range(20):
        assert app.test_client().post("/v1/events/graph", json={"value": [_note(state, "u-7")]}).status_code == 202
    other = [_note(state, "u-7", "deleted"), _note(state, "u-7", subscription="sub-2"), _note(state, "u-8")]
    assert app.test_client().post("/v1/events/graph", json={"value": other}).status_code == 202
    rows = [(e.object_id, e.detail.get("deleted")) for e in _events(app)]
    assert rows == [("u-7", False), ("u-7", True), ("u-7", False), ("u-8", False)]
    assert _pending_jobs(app) == 4


def test_a_copy_after_the_window_is_queued_again(app):
    import datetime as dt
    state = client_state(app.extensions["companion"].settings)
    app.test_client().post("/v1/events/graph", json={"value": [_note(state, "u-9")]})
    window = app.extensions["companion"].settings.graph_dedup_window_s
    with app.extensions["companion"].store.session() as session:  # the first copy arrived a window ago
        for row in session.query(SyncEvent):
            row.created_at -= dt.timedelta(seconds=window + 1)
    app.test_client().post("/v1/events/graph", json={"value": [_note(state, "u-9")]})
    assert [e.object_id for e in _events(app)] == ["u-9", "u-9"]


def test_one_bad_item_does_not_sink_the_batch(app):
    state = client_state(app.extensions["companion"].settings)
    body = {"value": [{**_note(state, "bad-1"), "resourceData": {"id": {"nested": 1}}},
                      {**_note(state, "bad-2"), "resourceData": {"id": ["x"]}},
                      {**_note(state, "bad-3"), "clientState": "\ud800"},
                      {**_note(state, "bad-4"), "changeType": "exploded"},
                      _note(state, "good-1")]}
    assert app.test_client().post("/v1/events/graph", json=body).status_code == 202
    assert [e.object_id for e in _events(app)] == ["good-1"]


def test_a_copy_after_a_worker_started_on_the_first_is_queued_again(app):
    from service.sync import inbox
    state = client_state(app.extensions["companion"].settings)
    app.test_client().post("/v1/events/graph", json={"value": [_note(state, "u-10")]})
    (first,) = _events(app)
    assert inbox.claim(app.extensions["companion"].store, first.id)  # the handler may already have read the user
    for _ in range(5):
        app.test_client().post("/v1/events/graph", json={"value": [_note(state, "u-10")]})
    assert [(e.object_id, e.status) for e in _events(app)] == [("u-10", "running"), ("u-10", "queued")]
