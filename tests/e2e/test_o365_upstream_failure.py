"""A wrong Entra secret: the person gets a page with a reference and the way back; the operator gets the log."""
import json
import time
from urllib.parse import parse_qs, urlparse

from jose import jwt

from service import sandbox
from tests.e2e.conftest import Stack

WRONG_SECRET = "expired-entra-secret-value-0042"


def _session_token(sub):
    """What the Action's api.redirect.encodeToken makes (HS256, iss = the tenant domain)."""
    now = int(time.time())
    claims = {"iss": sandbox.AUTH0_DOMAIN, "sub": sub, "iat": now, "exp": now + 120,
              "user": {"email": "wrong.secret@gmail.com", "given_name": "Wrong", "family_name": "Secret"}}
    return jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")


def _log_lines(stack):
    return [json.loads(line) for line in stack.logs().splitlines() if line.startswith("{")]


def test_a_wrong_entra_secret_shows_the_person_a_page_and_the_operator_the_detail(graph, auth0, tmp_path):
    stack = Stack(graph, auth0, f"sqlite:///{tmp_path}/s.db", str(tmp_path)).start(ENTRA_CLIENT_SECRET=WRONG_SECRET)
    sub, other = "google-oauth2|wrong-secret-1", "google-oauth2|wrong-secret-2"
    query = {"state": "st-1", "session_token": _session_token(sub)}
    # Graph is called in the background: the first visit gets the waiting page, a refresh the failure page.
    resp = stack.http.get(f"{stack.url}/o365/start", timeout=60, headers={"X-Request-Id": "help-desk-ref-1"},
                          params=query)
    for _ in range(60):
        if "cannot be set up right now" in resp.text:
            break
        time.sleep(0.5)
        resp = stack.http.get(f"{stack.url}/o365/start", timeout=60, params=query)
    api = stack.http.post(f"{stack.url}/v1/o365/provision", json={"user_id": other, "email": "w@gmail.com"},
                          headers={**stack.bearer(other), "X-Request-Id": "help-desk-ref-2"}, timeout=60)
    for _ in range(60):
        if api.status_code != 202:
            break
        time.sleep(0.5)
        api = stack.http.get(api.json()["status_url"], headers=stack.bearer(other), timeout=60)
    stack.stop()

    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    page = resp.text
    assert "cannot be set up right now" in page and "help-desk-ref-1" in page
    for operator_text in ("secret", "client id", "AADSTS", "tenant", "{"):
        assert operator_text not in page.split("<main", 1)[-1].split("href=")[0]
    way_back = next(part.split('"')[1] for part in page.split("href=")[1:] if "/continue?" in part)
    back = urlparse(way_back.replace("&amp;", "&"))
    assert back.netloc == sandbox.AUTH0_DOMAIN and back.path == "/continue"
    result = jwt.decode(parse_qs(back.query)["session_token"][0], sandbox.COMPANION_SECRET, algorithms=["HS256"],
                        options={"verify_aud": False, "verify_iss": False})
    assert result["status"] == "failed" and result["sub"] == sub and result["reference"] == "help-desk-ref-1"
    assert parse_qs(back.query)["state"] == ["st-1"]

    upstream = [line for line in _log_lines(stack) if line["msg"] == "upstream error"]
    by_ref = {line["request_id"]: line for line in upstream}
    assert set(by_ref) >= {"help-desk-ref-1", "help-desk-ref-2"}, upstream
    for line in by_ref.values():
        assert line["kind"] == "auth_failed" and line["vendor"] == "entra" and line["code"].startswith("AADSTS")
        assert line["vendor_request_id"] and line["vendor_request_id"] != line["request_id"]
    assert WRONG_SECRET not in stack.logs()
    assert api.status_code == 422 and api.json()["error"]["reference"] == "help-desk-ref-2"
    assert "cannot be set up right now" in api.json()["error"]["message"]
