"""End to end: Prometheus scrapes /metrics from gunicorn (two workers) plus the sync worker after a login."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from service import sandbox
from tests.e2e.test_lifecycle import SyncStack

TOKEN = "e2e-metrics-token-" + "p" * 12


@pytest.fixture
def stack(graph, auth0, tmp_path):
    shared = tmp_path / "metrics"
    shared.mkdir()
    s = SyncStack(graph, auth0, f"sqlite:///{tmp_path}/c.db", tmp_path, METRICS_TOKEN=TOKEN,
                  PROMETHEUS_MULTIPROC_DIR=str(shared), SYNC_EVENTS="delta", RISK_POLL_INTERVAL_S="0")
    yield s.start_worker()
    s.stop()


def scrape(url, token=TOKEN):
    http = requests.Session()
    http.trust_env = False
    return http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def total(text, name, **labels):
    """Sum of the samples called name whose labels include the given ones."""
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and labels.items() <= s.labels.items())


def test_a_login_and_the_worker_move_the_counters(stack):
    assert scrape(stack.url, token="wrong").status_code == 401
    before = scrape(stack.url).text
    # One throttled create: Graph answers 429 with Retry-After once, the client waits and sends again.
    stack.graph_emu.add_faults({"method": "POST", "path": "^/v1.0/users$", "kind": "status", "status": 429,
                                "retry_after": 0, "count": 1})
    user = {"user_id": "google-oauth2|metrics1", "email": "metrics1@gmail.com", "email_verified": True,
            "name": "Metrics One", "app_metadata": {}, "user_metadata": {}}
    report = sandbox.play_login(user, sandbox.action_secrets(stack.url), fast_refresh=True)
    assert report["outcome"] == "allowed", report
    after = stack.wait(lambda: _with_worker_events(scrape(stack.url).text), what="worker events in /metrics")
    assert total(after, "companion_login_requests_total", outcome="ready") >= 1
    assert total(after, "companion_first_login_seconds_count") == total(before, "companion_first_login_seconds_count") + 1
    assert total(after, "companion_provisioning_step_seconds_count", step="create", result="ok") >= 1
    assert total(after, "companion_upstream_requests_total", system="graph", operation="POST /v1.0/users",
                 status="429") == 1
    assert total(after, "companion_upstream_requests_total", system="graph", operation="POST /v1.0/users",
                 status="201") == 1
    assert total(after, "companion_upstream_retries_total", system="graph", reason="429") == 1
    # the poller assigns licences in $batch calls (the single-user path only for what a batch leaves)
    assert total(after, "companion_upstream_requests_total", system="graph", operation="POST /v1.0/$batch",
                 status="200") + total(after, "companion_upstream_requests_total", system="graph",
                                       operation="POST /v1.0/users/{id}/assignLicense", status="200") >= 1
    assert total(after, "companion_licence_free_seats", sku=sandbox.SKU_PART_NUMBER) > 0
    assert {"companion_sync_inbox_events", "companion_queue_pending_jobs"} <= _names(after)


def _with_worker_events(text):
    """The scrape once the worker's handled events show in it (same PROMETHEUS_MULTIPROC_DIR)."""
    return text if total(text, "companion_sync_events_total") >= 1 else None


def _names(text):
    return {family.name for family in text_string_to_metric_families(text)}
