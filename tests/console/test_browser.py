"""The operator console in a real headless Chromium: Auth0 sign-in through the emulator's login page, the pages,
confirmed actions audited with the operator's identity, CSRF refusal and sign-out. Screenshots of each page
land in test-artefacts/console/ (git-ignored)."""
import datetime as dt
import os

import pytest
import requests

from service import audit, links, sandbox
from service.db import Store
from service.models import utcnow
from service.reconcile import classify, runs
from service.sync import inbox
from tests.e2e.conftest import Stack
from tests.support.chromium import headless, needs_chromium

SHOTS = os.path.join(sandbox.ROOT, "test-artefacts", "console")
PERSON = {"user_id": "google-oauth2|1040000000000000001", "email": "pat.partner@gmail.com", "email_verified": True,
          "name": "Pat Partner", "app_metadata": {}, "user_metadata": {}}
VISITOR = ("visitor@contoso.com", "visitor-password-123")
ORPHAN_EMAIL = "orphan@contoso.com"
GRADED_ID = "auth0|graded0000000000000001"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(graph_emulator, auth0_emulator, tmp_path_factory):
    """The companion under gunicorn with the console on, the seeded operator, and data to look at."""
    graph_emulator.reset()
    auth0_emulator.reset()
    work = str(tmp_path_factory.mktemp("console"))
    stack = Stack(graph_emulator, auth0_emulator, f"sqlite:///{work}/companion.db", work).start()
    sandbox.seed_console(auth0_emulator, stack.url)
    data = _seed(stack)
    yield stack, data
    stack.stop()


def _seed(stack):
    """A provisioned person with a two-way trail, a failed and a held event, a run with a proposal, a grade."""
    auth0 = stack.auth0
    seeded = auth0._admin("POST", "users", json=[
        {"email": VISITOR[0], "password": VISITOR[1], "email_verified": True, "name": "Visiting Vic"},
        {"email": ORPHAN_EMAIL, "password": "orphan-password-123", "name": "Orphaned Olga"},
        {"user_id": PERSON["user_id"], "connection": "google-oauth2", "email": PERSON["email"],
         "email_verified": True, "name": PERSON["name"]}])["users"]
    assert stack.provision(PERSON).status_code in (200, 202)
    store = Store(stack.database_url)
    link = links.get(store, PERSON["user_id"])
    with store.session() as session:  # the other direction: Entra → Auth0, recorded under the object id only
        audit.record(session, "entra.sessions.revoked", "ok", None, link.entra_object_id, reason="risk: high")
    failed = inbox.record(store, "user", link.entra_object_id, "webhook")
    inbox.mark(store, failed, "failed", "Transient: Microsoft Graph is unavailable (HTTP 503)", attempt=True)
    held = inbox.record(store, "auth0_user", seeded[0]["user_id"], "auth0-events")
    inbox.mark(store, held, "held", "500 blocks/disables/deletes in the last hour reached the threshold")
    orphan = seeded[1]["user_id"]
    run_id = runs.start(store, "dry-run")
    finding = classify.finding("orphan_auth0", orphan, "0f0e0d0c-0000-4000-8000-000000000001",
                               {"blocked": False, "email": ORPHAN_EMAIL}, {"state": "disabled in Entra ID"},
                               {"action": "block_auth0_user"})
    runs.finish(store, run_id, "done", {"by_class": {"orphan_auth0": 1}, "auth0_users": 3, "entra_users": 1},
                [dict(finding, status="proposed")])
    graded = links.get_or_create(store, GRADED_ID, "Z3JhZGVkSW1tdXRhYmxlSUQ9PQ==", {})
    links.save(store, graded, state="disabled", upn="graded.user@partners.contoso.com", deprovision_step="blocked",
               deprovision_reason="blocked", deprovisioned_at=utcnow() - dt.timedelta(days=2))
    return {"store": store, "link": link, "failed": failed, "held": held, "run": run_id, "orphan": orphan}


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, with a throw-away profile and no network beyond loopback."""
    with headless() as driver:
        driver.implicitly_wait(5)
        os.makedirs(SHOTS, exist_ok=True)
        yield driver


def _go(browser, by, value):
    """Click something that loads a page, and wait until the new page has replaced the old one."""
    from selenium.webdriver.support.ui import WebDriverWait
    old = browser.find_element("tag name", "html")
    browser.find_element(by, value).click()
    WebDriverWait(browser, 15, poll_frequency=0.05).until(_replaced(old))


def _replaced(old):
    """Staleness that also accepts chromedriver's answer for a node caught mid-navigation."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def check(_):
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:  # "Node with given id does not belong to the document": it is gone
            return "does not belong to the document" in str(e)
        return False
    return check


A11Y_PROBLEMS = """
const out = [];
if (!document.documentElement.lang) out.push('no lang');
if (document.querySelectorAll('h1').length !== 1) out.push('not one h1');
for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) out.push('unlabelled ' + el.name);
}
for (const b of document.querySelectorAll('button, a')) { if (!b.textContent.trim()) out.push('empty ' + b.tagName); }
for (const t of document.querySelectorAll('th')) { if (!t.textContent.trim()) out.push('empty th'); }
if (document.querySelectorAll('script, style, [style]').length) out.push('inline script or style');
return out;
"""


def _shot(browser, name):
    """Check the page's basics (one h1, labels, named controls), then keep a screenshot of it."""
    if name != "00-auth0-login":  # the emulator's page, not ours
        assert browser.execute_script(A11Y_PROBLEMS) == [], name  # the CSP would block inline ones anyway
    browser.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def _text(browser):
    return browser.find_element("tag name", "body").text


def _log_in(browser, url, email, password):
    browser.get(f"{url}/admin/")
    assert "/u/login" in browser.current_url, browser.current_url  # the emulator's Universal Login form
    browser.find_element("id", "username").send_keys(email)
    browser.find_element("id", "password").send_keys(password)
    _shot(browser, "00-auth0-login")
    _go(browser, "id", "continue")


def _audited(store, action):
    with store.session() as session:
        from sqlalchemy import select
        from service.models import AuditEvent
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_a_signed_in_non_operator_is_refused(site, browser):
    stack, data = site
    _log_in(browser, stack.url, *VISITOR)
    assert browser.find_element("tag name", "h1").text == "You are not an operator"
    _shot(browser, "01-refused")
    browser.get(f"{stack.url}/admin/events")  # no console session: Auth0 (still signed in) answers, refused again
    assert browser.find_element("tag name", "h1").text == "You are not an operator"
    assert "Failed events" not in _text(browser)
    rows = _audited(data["store"], "console.sign_in.refused")
    assert len(rows) == 2 and {r.detail["operator"] for r in rows} == {VISITOR[0]}
    _go(browser, "id", "sign-out")
    assert browser.find_element("tag name", "h1").text == "You are signed out"


def test_an_operator_signs_in_through_auth0_and_sees_the_overview(site, browser):
    stack, _ = site
    browser.delete_all_cookies()  # a fresh browser: no Auth0 session and no console session
    _log_in(browser, stack.url, sandbox.OPERATOR_EMAIL, sandbox.OPERATOR_PASSWORD)
    assert browser.find_element("id", "operator").text == sandbox.OPERATOR_EMAIL
    cookie = browser.get_cookie("companion-console")  # Secure is off only because this is http on loopback
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    page = _text(browser)
    assert page.count("reachable") == 2 and "unreachable" not in page
    assert "role 'Companion Operator' exists" in page
    assert "free seat(s) of ENTERPRISEPACK" in browser.find_element("id", "free-seats").text
    assert "orphan_auth0" in page
    _shot(browser, "02-overview")
    from selenium.webdriver.common.keys import Keys
    browser.find_element("tag name", "body").send_keys(Keys.TAB)  # keyboard: the skip link comes first
    assert browser.switch_to.active_element.text == "Skip to content"


def test_find_a_person_by_upn_and_read_the_trail_in_both_directions(site, browser):
    stack, data = site
    _go(browser, "link text", "People")
    browser.find_element("id", "q").send_keys(data["link"].upn)
    _go(browser, "id", "search")
    assert browser.find_element("tag name", "h1").text == PERSON["user_id"]
    assert data["link"].immutable_id in browser.find_element("id", "link").text
    assert PERSON["email"] in browser.find_element("id", "auth0-side").text
    assert data["link"].upn in browser.find_element("id", "entra-side").text
    actions = [row.find_elements("tag name", "td")[1].text
               for row in browser.find_elements("css selector", "#trail tbody tr")]
    assert actions.index("entra.user.created") < actions.index("entra.sessions.revoked")
    _shot(browser, "03-person")


def _confirm(browser, link_id, shot):
    _go(browser, "id", link_id)
    _shot(browser, shot)
    _go(browser, "id", "confirm")


def test_a_failed_event_is_shown_with_its_error_and_requeued_after_confirmation(site, browser):
    stack, data = site
    _go(browser, "link text", "Events")
    assert "Microsoft Graph is unavailable (HTTP 503)" in browser.find_element("id", "failed-events").text
    _shot(browser, "04-events")
    _confirm(browser, f"requeue-{data['failed']}", "05-confirm-requeue")
    assert "queued again" in _text(browser)
    assert inbox.get(data["store"], data["failed"]).status == "queued"
    (row,) = _audited(data["store"], "console.event.requeued")
    assert row.detail["operator"] == sandbox.OPERATOR_EMAIL and row.detail["event_id"] == data["failed"]


def test_a_held_event_is_approved_after_confirmation(site, browser):
    stack, data = site
    _confirm(browser, f"approve-{data['held']}", "06-confirm-approve")
    assert "approved and queued" in _text(browser)
    event = inbox.get(data["store"], data["held"])
    assert event.status == "queued" and event.detail.get("approved") is True
    assert _audited(data["store"], "console.event.approved")[0].detail["operator"] == sandbox.OPERATOR_EMAIL


def test_a_reconciliation_report_is_read_and_its_proposals_approved(site, browser):
    stack, data = site
    _go(browser, "link text", "Reconciliation")
    _shot(browser, "07-runs")
    _go(browser, "id", f"run-{data['run']}")
    assert "orphan_auth0" in browser.find_element("id", "report-title").find_element("xpath", "..").text
    _shot(browser, "08-report")
    _confirm(browser, "approve-run", "09-confirm-approve-run")
    assert "1 proposal(s) applied" in _text(browser)
    blocked = {u["user_id"]: u.get("blocked") for u in stack.auth0.state()["users"]}
    assert blocked[data["orphan"]] is True
    assert runs.get(data["store"], data["run"]).findings[0]["status"] == "applied"
    assert _audited(data["store"], "console.reconcile.approved")[0].detail["operator"] == sandbox.OPERATOR_EMAIL


def test_deprovisioning_lists_grades_with_the_next_step_and_its_date(site, browser):
    stack, _ = site
    _go(browser, "link text", "Deprovisioning")
    row = browser.find_element("id", "grades").text
    due = (utcnow() + dt.timedelta(days=5)).strftime("%Y-%m-%d")
    assert GRADED_ID in row and "remove the licence" in row and due in row
    _shot(browser, "10-deprovisioning")


def test_a_post_without_the_csrf_token_is_refused(site, browser):
    stack, data = site
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    http = requests.Session()
    http.trust_env = False
    page = http.get(f"{stack.url}/admin/events", cookies=cookies, allow_redirects=False)
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    inbox.mark(data["store"], data["failed"], "failed", "failed again")
    refused = http.post(f"{stack.url}/admin/events/{data['failed']}/requeue", cookies=cookies, allow_redirects=False)
    assert refused.status_code == 400 and "could not be accepted" in refused.text
    assert inbox.get(data["store"], data["failed"]).status == "failed"


def test_sign_out_ends_the_console_and_the_auth0_session(site, browser):
    stack, data = site
    _go(browser, "id", "sign-out")
    assert browser.current_url == f"{stack.url}/admin/signed-out"
    assert browser.find_element("tag name", "h1").text == "You are signed out"
    _shot(browser, "11-signed-out")
    browser.get(f"{stack.url}/admin/")
    assert "/u/login" in browser.current_url  # Auth0 asks again: its session ended too
    assert _audited(data["store"], "console.signed_out")[0].detail["operator"] == sandbox.OPERATOR_EMAIL
