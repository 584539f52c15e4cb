"""The browser leg of our first login, played as a browser with scripts plays it (real waits: the waiting
page's script reload, as service/static/waiting.js plans it, else the meta refresh)."""
import html
import re
import secrets
import time
from typing import NamedTuple
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from jose import jwt

from service import sandbox

TOKEN_LIFETIME_S = 600  # the Action's REDIRECT_TOKEN_LIFETIME_S
META_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="([^"]*)"', re.I)
REFRESH_CONTENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*;\s*url=(.*)$", re.I)
SCRIPT_RELOAD = re.compile(r'<[^>]*\bid="waiting"[^>]*\bdata-refresh-ms="(\d+)"[^>]*\bdata-refresh-url="([^"]*)"', re.I)
CONTINUE_LINK = re.compile(r'href="(https://[^"]*/continue\?[^"]*)"')


class Arrival(NamedTuple):
    """The browser reached /continue: verified result claims, seconds since the first GET, waiting pages
    seen, and GETs resent after a reused connection was closed under them."""

    claims: dict
    seconds: float
    pages: int
    resent: int


class LoginFailed(Exception):
    """The companion ended the login without a ready account (failure page, error, or too long)."""


def session_token(user):
    """What api.redirect.encodeToken makes: HS256, iss = tenant, sub = user id, payload `user`."""
    now = int(time.time())
    profile = {k: v for k, v in user.items() if k != "user_id"}
    claims = {"user": profile, "iss": sandbox.AUTH0_DOMAIN, "sub": user["user_id"], "iat": now,
              "exp": now + TOKEN_LIFETIME_S, "ip": "127.0.0.1"}
    return jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")


def first_login(companion_url, user, max_wait_s=180, sleep=time.sleep, clock=time.monotonic):
    """GET /o365/start, follow waiting pages until the 302 to /continue; return an Arrival."""
    state = secrets.token_urlsafe(24)  # Auth0's opaque state
    url = f"{companion_url}/o365/start"
    params = {"state": state, "session_token": session_token(user)}
    pages, started, resent = 0, clock(), [0]
    with requests.Session() as http:
        http.trust_env = False
        while True:
            resp = _get(http, url, params, reused=pages > 0, resent=resent)
            params = None  # the waiting page's URL carries the query from now on
            if resp.status_code in (301, 302, 303, 307, 308):
                elapsed = clock() - started
                return Arrival(_result(resp.headers["Location"], state, companion_url), elapsed, pages, resent[0])
            wait_s, next_url = _refresh(resp)
            pages += 1
            if clock() - started + wait_s > max_wait_s:
                raise LoginFailed(f"still waiting after {max_wait_s} s ({pages} waiting pages)")
            sleep(wait_s)
            url = urljoin(resp.url, next_url)


def _get(http, url, params, reused, resent):
    """One GET; a GET that fails on a reused keep-alive connection is sent once more on a new one,
    as browsers do (Chromium's HttpNetworkTransaction::ShouldResendRequest), and counted."""
    try:
        return http.get(url, params=params, allow_redirects=False, timeout=60)
    except requests.ConnectionError:
        if not reused:
            raise
        resent[0] += 1
        return http.get(url, params=params, allow_redirects=False, timeout=60)


def _refresh(resp):
    """(seconds, url) of a waiting page; a page without a refresh is a failure page."""
    found = META_REFRESH.search(resp.text) if resp.status_code == 200 else None
    parts = REFRESH_CONTENT.match(html.unescape(found.group(1))) if found else None
    if parts is None:
        raise LoginFailed(f"HTTP {resp.status_code} page without a refresh: {_failure_reason(resp.text)}")
    target = parts.group(2).strip()
    if urlsplit(target).path == "/continue":  # the failure page hands the login back to Auth0 by itself
        raise LoginFailed(f"HTTP {resp.status_code} failure page: {_failure_reason(resp.text)}")
    scripted = SCRIPT_RELOAD.search(resp.text)  # what waiting.js reads: the reload it plans comes first
    if scripted and int(scripted.group(1)) <= 1000 * float(parts.group(1)):
        return int(scripted.group(1)) / 1000, html.unescape(scripted.group(2))
    return float(parts.group(1)), target


def _failure_reason(page):
    """The reason in the failure page's link back to /continue, else the start of the page."""
    link = CONTINUE_LINK.search(page)
    if link:
        token = parse_qs(urlsplit(html.unescape(link.group(1))).query).get("session_token", [""])[0]
        try:
            return jwt.get_unverified_claims(token).get("reason", "failed")
        except Exception:  # an unreadable token still means a failure page
            pass
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))[:200].strip()


def _result(location, state, companion_url):
    """Verify the result token on https://{tenant}/continue as the Action's validateToken would."""
    target = urlsplit(location)
    if target.scheme != "https" or target.netloc != sandbox.AUTH0_DOMAIN or target.path != "/continue":
        raise LoginFailed(f"redirected somewhere else: {location[:120]}")
    query = parse_qs(target.query)
    claims = jwt.decode(query["session_token"][0], sandbox.COMPANION_SECRET, algorithms=["HS256"],
                        issuer=companion_url, options={"verify_aud": False})
    if claims.get("state") != state or query.get("state") != [state]:
        raise LoginFailed("the result token is for another transaction")
    if claims.get("status") != "ready":
        raise LoginFailed(f"status {claims.get('status')}: {claims.get('reason')}")
    return claims
