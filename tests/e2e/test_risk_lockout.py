"""End to end (gunicorn, worker, both emulators): a risk lock-out holds, lifts when Entra clears it, alerts once."""
import time

from tests.e2e.test_lifecycle import make_stack  # noqa: F401 (fixture)
from tests.support.receivers import SlackReceiver, SmtpReceiver

REVOKE = "POST /v1.0/users/{id}/revokeSignInSessions"


def test_risk_lockout_holds_through_delta_rounds_and_alerts_once(make_stack, graph):  # noqa: F811
    slack, smtp = SlackReceiver(), SmtpReceiver()
    try:
        stack = make_stack(SYNC_EVENTS="delta", SYNC_DELTA_INTERVAL_S="1", RISK_POLL_INTERVAL_S="1",
                           SLACK_WEBHOOK_URL=slack.url, SMTP_URL=smtp.url, ALERT_EMAIL_TO="soc@example.com")
        eve = stack.user("eve")
        graph.http.post(f"{graph.url}/_emulator/risk", json={"userId": eve["id"], "riskLevel": "high",
                                                             "riskState": "atRisk"}).raise_for_status()
        stack.start_worker()  # the risk is marked while the first full delta round runs
        blocked = lambda: (stack.auth0_user(eve["mail"]) or {}).get("blocked") and stack.auth0_user(eve["mail"])  # noqa
        user = stack.wait(blocked, what="risky user blocked")
        stack.entra.update_user(eve["id"], {"department": "Finance"})  # unrelated change, synced by delta
        stack.wait(lambda: (stack.auth0_user(eve["mail"])["app_metadata"].get("entra") or {}).get("department")
                   == "Finance", what="department synced")
        time.sleep(3)  # more delta rounds and risk polls
        now = stack.auth0_user(eve["mail"])
        assert now["blocked"] is True and now["app_metadata"]["entra_block"]["causes"] == ["risk"]
        assert len(slack.messages) == 1 and len(smtp.messages) == 1
        assert graph.stats()["requests"].get(REVOKE, 0) == 1
        graph.http.post(f"{graph.url}/_emulator/risk", json={"userId": eve["id"], "riskLevel": "none",
                                                             "riskState": "dismissed"}).raise_for_status()
        stack.wait(lambda: stack.auth0_user(eve["mail"])["blocked"] is False, what="unblocked after dismissal")
        actions = [a["action"] for a in stack.audit(user["user_id"])]
        assert actions.count("auth0.user.blocked") == 1 and actions.count("auth0.user.unblocked") == 1
    finally:
        slack.stop()
        smtp.stop()
