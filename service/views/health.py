"""Liveness and readiness for load balancers and orchestrators."""
from flask import Blueprint, current_app, jsonify

from service.db import ping

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Settings were valid at start and the database answers."""
    db_ok = ping(current_app.extensions["companion"].store.engine)
    body = {"status": "ready" if db_ok else "not ready", "checks": {"settings": "ok",
                                                                     "database": "ok" if db_ok else "unreachable"}}
    return jsonify(body), 200 if db_ok else 503
