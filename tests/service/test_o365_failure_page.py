"""The browser leg answers a page for a person whatever fails under it (the e2e test covers a wrong secret)."""
import time

import pytest
from jose import jwt

from service import create_app
from service.db import migrate
from service.errors import Transient
from service.settings import from_env
from tests.service.test_settings import GOOD


@pytest.fixture
def client(tmp_path):
    app = create_app(from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}))
    migrate(app.extensions["companion"].store.engine)
    return app


def _start(app, failure):
    def start(*_args, **_kwargs):
        raise failure
    app.extensions["companion"].provisioner.start = start
    now = int(time.time())
    token = jwt.encode({"iss": GOOD["AUTH0_DOMAIN"], "sub": "auth0|p1", "iat": now, "exp": now + 60},
                       GOOD["COMPANION_SECRET"], algorithm="HS256")
    return app.test_client().get("/o365/start", query_string={"state": "s1", "session_token": token},
                                 headers={"X-Request-Id": "ref-77"})


@pytest.mark.parametrize("failure,status,text", [
    (RuntimeError("a bug"), 500, "cannot be set up right now"),
    (Transient("Graph is unavailable (HTTP 503)", vendor="graph"), 503, "busy right now"),
])
def test_any_failure_under_the_browser_leg_is_a_page_with_the_way_back(client, failure, status, text):
    resp = _start(client, failure)
    assert resp.status_code == status and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert text in page and "ref-77" in page and f"https://{GOOD['AUTH0_DOMAIN']}/continue?state=s1" in page
    assert "a bug" not in page and "HTTP 503" not in page
