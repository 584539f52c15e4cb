"""GET /metrics for Prometheus, behind its own bearer token (METRICS_TOKEN), not the admin key."""
from flask import Blueprint, current_app

from service import metrics
from service.views.guards import require_bearer

bp = Blueprint("metrics", __name__)


@bp.before_request
def _require_token():
    # A scraper's credential only reads numbers; the admin key can re-drive events and approve deletions.
    require_bearer(current_app.extensions["companion"].settings.metrics_token, "METRICS_TOKEN", "/metrics")


@bp.get("/metrics")
def scrape():
    """Every process's counters and histograms, plus queue and reconciliation state."""
    companion = current_app.extensions["companion"]
    body, content_type = metrics.exposition(lambda: metrics.state_of(companion))
    return body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"}
