"""The application factory, health endpoints and JSON logs with a request id."""
import json

import pytest

from service import create_app
from service.db import migrate
from service.settings import from_env
from tests.service.test_settings import GOOD


@pytest.fixture
def app(tmp_path):
    settings = from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/app.db"})
    app = create_app(settings)
    migrate(app.extensions["companion"].store.engine)
    return app


def test_healthz_and_readyz(app):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"settings": "ok", "database": "ok"}


def test_readyz_reports_an_unreachable_database(tmp_path):
    settings = from_env({**GOOD, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    resp = create_app(settings).test_client().get("/readyz")
    assert resp.status_code == 503 and resp.json["checks"]["database"] == "unreachable"


def test_log_lines_are_json_with_the_callers_request_id(app, capfd):
    resp = app.test_client().get("/healthz", headers={"X-Request-Id": "req-123"})
    assert resp.headers["X-Request-Id"] == "req-123"
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "companion.access"]
    assert access and access[-1]["request_id"] == "req-123" and access[-1]["status"] == 200


def test_unknown_routes_get_a_json_error_with_a_reference(app):
    resp = app.test_client().get("/nope")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert resp.json["error"]["reference"]


def test_a_secret_that_reaches_a_log_call_is_redacted(app, capfd):
    import logging
    logging.getLogger("companion.test").error("leaked %s", GOOD["COMPANION_SECRET"])
    err = capfd.readouterr().err
    assert GOOD["COMPANION_SECRET"] not in err and "[redacted]" in err


def test_oversized_bodies_get_a_named_413(app):
    import time
    from jose import jwt
    from service import tokens
    now = int(time.time())
    token = jwt.encode({"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": "u", "iat": now,
                        "exp": now + 60}, GOOD["COMPANION_SECRET"], algorithm="HS256")
    resp = app.test_client().post("/v1/o365/provision", data=b"x" * (2 << 20),
                                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert resp.status_code == 413 and resp.json["error"]["code"] == "request_entity_too_large"


def test_a_secret_inside_an_exception_and_its_traceback_is_redacted(app, capfd):
    import logging
    secret = GOOD["COMPANION_SECRET"]
    try:
        raise RuntimeError(f"vendor said: bad credentials {secret}")
    except RuntimeError:
        logging.getLogger("companion.test").exception("call failed with %s", secret)
    err = capfd.readouterr().err
    (line,) = [json.loads(x) for x in err.splitlines() if '"companion.test"' in x]
    assert "RuntimeError" in line["exc"] and "[redacted]" in line["exc"]
    assert secret not in err


def test_uncaught_exceptions_in_threads_are_logged_redacted(app, capfd):
    import threading

    def boom():
        raise ValueError("leaking " + GOOD["COMPANION_SECRET"])

    worker = threading.Thread(target=boom)
    worker.start()
    worker.join()
    err = capfd.readouterr().err
    assert "uncaught exception in a thread" in err and "ValueError" in err
    assert GOOD["COMPANION_SECRET"] not in err


def test_an_unexpected_error_in_a_view_is_logged_with_its_traceback_redacted(app, capfd):
    def explode():
        raise KeyError("token " + GOOD["COMPANION_SECRET"])
    app.add_url_rule("/explode", "explode", explode)
    resp = app.test_client().get("/explode")
    err = capfd.readouterr().err
    assert resp.status_code == 500 and GOOD["COMPANION_SECRET"] not in resp.get_data(as_text=True)
    assert "KeyError" in err and GOOD["COMPANION_SECRET"] not in err
