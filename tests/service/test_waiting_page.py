"""The waiting page: its script reloads when the account should be ready, the meta refresh is the way on
without script, and the page runs our own script only."""
import datetime as dt
import html
import re
import time

import pytest
from jose import jwt

from service import create_app
from service.db import migrate
from service.provisioning import Outcome
from service.settings import from_env
from tests.service.test_settings import GOOD


@pytest.fixture
def app(tmp_path):
    app = create_app(from_env({**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path}/w.db"}))
    migrate(app.extensions["companion"].store.engine)
    return app


def _waiting_page(app, waited_s, typical_s=2.0):
    """GET /o365/start for a user whose account was created waited_s ago (Entra has not shown it yet)."""
    companion = app.extensions["companion"]
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=waited_s)
    companion.provisioner.start = lambda user, *a, **kw: Outcome("pending", user["user_id"], object_id="o1",
                                                                 since=since)
    companion.driver.typical_ready_s = lambda: typical_s
    now = int(time.time())
    token = jwt.encode({"iss": GOOD["AUTH0_DOMAIN"], "sub": "auth0|w1", "iat": now, "exp": now + 60},
                       GOOD["COMPANION_SECRET"], algorithm="HS256")
    return app.test_client().get("/o365/start", query_string={"state": "s1", "session_token": token})


def _planned(page):
    meta = re.search(r'http-equiv="refresh" content="(\d+);url=([^"]+)"', page)
    scripted = re.search(r'id="waiting"[^>]*data-refresh-ms="(\d+)"[^>]*data-refresh-url="([^"]+)"', page)
    return int(meta.group(1)), html.unescape(meta.group(2)), int(scripted.group(1)), html.unescape(scripted.group(2))


def test_the_script_reloads_at_the_expected_moment_and_the_meta_refresh_on_the_next_whole_second(app):
    resp = _waiting_page(app, waited_s=0.6)  # ready in ~1.4 s as this deployment goes
    assert resp.status_code == 200
    meta_s, meta_url, script_ms, script_url = _planned(resp.get_data(as_text=True))
    assert 1200 <= script_ms <= 1400 and meta_s == 2
    assert script_url == meta_url and script_url.startswith("/o365/start?state=s1&session_token=")


def test_an_overdue_account_is_asked_for_every_second_by_script_and_without(app):
    meta_s, _url, script_ms, _same = _planned(_waiting_page(app, waited_s=4.0).get_data(as_text=True))
    assert (meta_s, script_ms) == (1, 1000)


def test_the_page_loads_our_script_and_nothing_else(app):
    resp = _waiting_page(app, waited_s=0.0)
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    src = re.search(r'<script src="([^"]+)" defer>', resp.get_data(as_text=True)).group(1)
    script = app.test_client().get(src)
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert b"data-refresh-ms" in script.data and b"location.replace" in script.data
