"""/metrics in one process: protection, operation labels, and the state read at scrape time."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import create_app, metrics
from service.db import migrate
from service.settings import from_env
from service.sync import inbox
from tests.service.test_settings import GOOD

TOKEN = "metrics-token-" + "m" * 16
ADMIN_KEY = "admin-key-" + "a" * 20


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def app(tmp_path):
    app = create_app(from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
                               "QUEUE_URL": f"sqlite:///{tmp_path}/queue.db", "METRICS_TOKEN": TOKEN,
                               "ADMIN_API_KEY": ADMIN_KEY}))
    migrate(app.extensions["companion"].store.engine)
    return app


def test_metrics_need_their_own_token(app, tmp_path):
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 401
    disabled = create_app(from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/other.db"}))
    assert disabled.test_client().get("/metrics").status_code == 404


def test_queue_state_is_read_at_scrape_time(app):
    store = app.extensions["companion"].store
    first = inbox.record(store, "users_delta", None, "test")
    inbox.record(store, "risk_poll", None, "test")
    inbox.mark(store, first, "failed", "boom")
    resp = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    found = samples(resp.get_data(as_text=True))
    assert found[("companion_sync_inbox_events", frozenset({("status", "queued")}))] == 1
    assert found[("companion_sync_inbox_events", frozenset({("status", "failed")}))] == 1
    assert found[("companion_sync_oldest_queued_seconds", frozenset())] >= 0
    assert found[("companion_state_up", frozenset())] == 1
    assert ("companion_reconcile_last_run_timestamp_seconds", frozenset()) not in found  # no run yet


@pytest.mark.parametrize("label,expected", [
    ("GET /v1.0/users/8f1e2d3c-0000-4000-8000-000000000001", "GET /v1.0/users/{id}"),
    ("POST /v1.0/users/ada@partners.contoso.com/assignLicense", "POST /v1.0/users/{id}/assignLicense"),
    ("GET /v1.0/domains/partners.contoso.com", "GET /v1.0/domains/{id}"),
    ("GET /v1.0/groups/1b2c/transitiveMembers/microsoft.graph.user", "GET /v1.0/groups/{id}/transitiveMembers/"
                                                                     "microsoft.graph.user"),
    ("POST /v1.0/$batch", "POST /v1.0/$batch"),
    ("GET /v1.0/users/delta()", "GET /v1.0/users/delta()"),
    ("PATCH /api/v2/users/auth0%7C0123abcd", "PATCH /api/v2/users/{id}"),
    ("GET /api/v2/roles/rol_sandboxstaff0001/users", "GET /api/v2/roles/{id}/users"),
    ("GET /api/v2/actions/triggers/post-login/bindings", "GET /api/v2/actions/triggers/post-login/bindings"),
    ("POST /oauth/token", "POST /oauth/token"),
    ("GET export file", "GET export file"),
])
def test_operation_labels_hide_ids(label, expected):
    assert metrics.operation(label) == expected


def test_a_scrape_answers_while_the_state_cannot_be_read(app):
    def broken():
        raise ConnectionError("database down")
    body, _ = metrics.exposition(broken)
    found = samples(body.decode())
    assert found[("companion_state_up", frozenset())] == 0
    assert ("companion_sync_oldest_queued_seconds", frozenset()) not in found


def test_a_short_metrics_token_is_refused_at_start(tmp_path):
    from service.settings import ConfigError
    with pytest.raises(ConfigError) as caught:
        from_env({**GOOD, "METRICS_TOKEN": "short"})
    assert caught.value.problems == ["METRICS_TOKEN is malformed: must be at least 24 characters long"]
