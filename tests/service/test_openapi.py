"""GET /openapi.json describes every route, and what the routes answer stays inside the description."""
import re
import time

import pytest
from jose import jwt
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service import create_app, tokens
from service.db import migrate
from service.settings import from_env
from tests.service.test_settings import GOOD

ADMIN_KEY = "admin-key-for-openapi-tests-0123"
EVENTS_TOKEN = "events-token-for-openapi-tests-01"
# Routes that are not part of the API, and why. Everything else must be described.
NOT_API = {
    ("GET", "/static/{filename}"),  # Flask's built-in static files: the console's stylesheet
}
# The operator console: HTML pages for a person signed in with Auth0 (session cookie, CSRF token on every
# POST), not an API; tests/console drives every page in a browser and checks its refusals.
CONSOLE_PREFIX = "/admin"


def _app(folder):
    settings = from_env({**GOOD, "DATABASE_URL": f"sqlite:///{folder}/o.db", "QUEUE_URL": f"sqlite:///{folder}/q.db",
                         "ADMIN_API_KEY": ADMIN_KEY, "AUTH0_EVENTS_TOKEN": EVENTS_TOKEN})
    app = create_app(settings)
    migrate(app.extensions["companion"].store.engine)
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for the read-only samples."""
    return _app(tmp_path_factory.mktemp("openapi"))


@pytest.fixture
def fresh_app(tmp_path):
    return _app(tmp_path)


def _template(rule):
    """A werkzeug rule as an OpenAPI path template: /x/<int:id>.<fmt> → /x/{id}.{fmt}."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _routes(app):
    return {(method, _template(rule.rule)) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def _described(spec):
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")}


def test_every_route_is_described_and_every_description_is_a_route(app):
    spec = app.test_client().get("/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    api = {(m, path) for m, path in _routes(app) - NOT_API if not path.startswith(CONSOLE_PREFIX + "/")
           and path != CONSOLE_PREFIX}
    assert api == _described(spec)


class _token:
    """An Action token's header, signed when the test runs (samples are collected long before)."""

    def __init__(self, sub, **over):
        self.sub, self.over = sub, over

    def header(self):
        now = int(time.time())
        claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": self.sub, "iat": now,
                  "exp": now + 60, **self.over}
        return {"Authorization": "Bearer " + jwt.encode(claims, GOOD["COMPANION_SECRET"], algorithm="HS256")}


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# (method, path, keyword arguments of the test client, expected status): answers no emulator is needed for
SAMPLES = [
    ("GET", "/healthz", {}, 200),
    ("GET", "/readyz", {}, 200),
    ("GET", "/o365/start", {"query_string": {"state": "s", "session_token": "forged"}}, 400),
    ("GET", "/o365/start", {}, 400),
    ("POST", "/v1/o365/provision", {"json": {"user_id": "auth0|1"}}, 401),
    ("POST", "/v1/o365/provision", {"json": {"user_id": "auth0|1"}, "headers": _token("auth0|2")}, 403),
    ("POST", "/v1/o365/provision", {"json": {"user_id": "auth0|1\u0000"}, "headers": _token("auth0|1")}, 400),
    ("POST", "/v1/o365/provision", {"data": "[" * 50000, "headers": _token("auth0|1"),
                                    "content_type": "application/json"}, 400),
    ("POST", "/v1/o365/provision", {"data": b"x" * (2 << 20), "headers": _token("auth0|1"),
                                    "content_type": "application/json"}, 413),
    ("GET", "/v1/o365/provision/auth0%7C1", {"headers": _token("auth0|1")}, 404),
    ("GET", "/v1/o365/provision/auth0%7C1", {"headers": _token("auth0|1", aud=None)}, 401),
    ("GET", "/v1/o365/links", {}, 200),
    ("GET", "/v1/o365/links", {"query_string": {"target": "https://[contoso.sharepoint.com/"}}, 400),
    ("POST", "/v1/events/graph", {"query_string": {"validationToken": "hello"}}, 200),
    ("POST", "/v1/events/graph", {"json": {"value": [{"clientState": "\ud800"}]}}, 202),
    ("POST", "/v1/events/graph", {"json": {"value": 1}}, 400),
    ("POST", "/v1/events/auth0", {"json": {"type": "user.created"}}, 401),
    ("POST", "/v1/events/auth0", {"json": {"type": "other"}, "headers": {"Authorization": f"Bearer {EVENTS_TOKEN}"}},
     202),
    ("GET", "/v1/admin/audit", {"query_string": {"user": "auth0|1"}, "headers": ADMIN}, 200),
    ("GET", "/v1/admin/audit", {"query_string": {"user": "auth0|1"}, "headers": {"Authorization": ADMIN_KEY}}, 401),
    ("GET", "/v1/admin/events", {"headers": ADMIN}, 200),
    ("GET", "/v1/admin/events", {"query_string": {"status": "x"}, "headers": ADMIN}, 400),
    ("POST", "/v1/admin/events/requeue", {"json": {"ids": [True]}, "headers": ADMIN}, 400),
    ("POST", "/v1/admin/events/requeue", {"json": {"ids": [1]}, "headers": ADMIN}, 200),
    ("GET", "/v1/admin/reconcile/runs", {"headers": ADMIN}, 200),
    ("GET", "/v1/admin/reconcile/runs/99999999999.json", {"headers": ADMIN}, 404),
    ("POST", "/v1/admin/reconcile/runs/1/approve", {"headers": ADMIN}, 404),
    ("GET", "/openapi.json", {}, 200),
]


@pytest.mark.parametrize("method,path,kwargs,status", SAMPLES,
                         ids=[f"{m} {p} {s}" for m, p, _k, s in SAMPLES])
def test_answers_match_the_description(app, method, path, kwargs, status):
    openapi = OpenAPI.from_dict(app.test_client().get("/openapi.json").json)
    if isinstance(kwargs.get("headers"), _token):
        kwargs = {**kwargs, "headers": kwargs["headers"].header()}
    resp = app.test_client().open(path, method=method, **kwargs)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    # the operation is found from method, path and query; the body was read by the app already
    asked = Request(EnvironBuilder(path=path, method=method, query_string=kwargs.get("query_string")).get_environ())
    openapi.validate_response(WerkzeugOpenAPIRequest(asked), WerkzeugOpenAPIResponse(resp))


@pytest.mark.parametrize("error", ["transient", "unexpected"])
def test_an_upstream_failure_on_the_browser_leg_is_a_page_inside_the_description(fresh_app, error):
    app = fresh_app
    from service.errors import Transient

    def fail(*_args, **_kwargs):
        raise Transient("Graph unavailable") if error == "transient" else RuntimeError("bug")
    app.extensions["companion"].provisioner.start = fail
    now = int(time.time())
    token = jwt.encode({"iss": GOOD["AUTH0_DOMAIN"], "sub": "google-oauth2|p", "iat": now, "exp": now + 60},
                       GOOD["COMPANION_SECRET"], algorithm="HS256")
    query = {"state": "st", "session_token": token}
    resp = app.test_client().get("/o365/start", query_string=query)
    assert resp.status_code == (503 if error == "transient" else 500) and resp.mimetype == "text/html"
    assert "Graph unavailable" not in resp.get_data(as_text=True)  # operator text stays in the log
    if error == "transient":
        openapi = OpenAPI.from_dict(app.test_client().get("/openapi.json").json)
        asked = Request(EnvironBuilder(path="/o365/start", query_string=query).get_environ())
        openapi.validate_response(WerkzeugOpenAPIRequest(asked), WerkzeugOpenAPIResponse(resp))
