"""`python -m service demo`: the product's main job, played end to end on the local sandbox."""
import contextlib
import os
import shutil
import signal
import time

from service import sandbox, smartlinks
from service.settings import from_env

DEMO_DIR = os.path.join(sandbox.ROOT, "var", "demo")
USER = {"user_id": "google-oauth2|104729384756102938475", "email": "jane.doe@gmail.com", "email_verified": True,
        "name": "Jane Doe", "given_name": "Jane", "family_name": "Doe", "nickname": "jane.doe",
        "app_metadata": {}, "user_metadata": {}}
STEP_TEXT = {
    "onExecutePostLogin": "Action runs (post-login, Office 365 client, no identity yet)",
    "redirect": "Action redirects the browser to the companion with a signed token",
    "waiting_page": "companion shows the waiting page while Entra replicates",
    "continue": "companion sends the browser back to Auth0 /continue with the result",
    "onContinuePostLogin": "Action validates the result, stores it in app_metadata, sets claims",
    "done": "login complete",
}
DEEP_LINK = "https://contoso.sharepoint.com/sites/partners/Shared%20Documents"


def _say(text=""):
    print(text, flush=True)


@contextlib.contextmanager
def running(lag_s, port=None, log=_say):
    """Start both emulators and the companion on SQLite; stop them on exit."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    os.makedirs(DEMO_DIR)
    started, procs = time.monotonic(), []
    try:
        graph = sandbox.start_graph(DEMO_DIR, "--replication-lag", lag_s, "--latency-ms", 40, validate=False)
        procs.append(graph.proc)
        log(f"  Microsoft Graph / Entra emulator  {graph.url}  (replication lag {lag_s:g} s, 40 ms latency)")
        auth0 = sandbox.start_auth0(DEMO_DIR, validate=False)
        procs.append(auth0.proc)
        log(f"  Auth0 Management API emulator     {auth0.url}")
        env = sandbox.companion_env(graph, auth0, f"sqlite:///{DEMO_DIR}/companion.db")
        companion, url = sandbox.start_companion(env, DEMO_DIR, port=port)
        procs.append(companion)
        log(f"  companion under gunicorn          {url}  (SQLite {DEMO_DIR}/companion.db)")
        log(f"  {sandbox.seed_console(auth0, url)}")
        log(f"  sandbox up in {time.monotonic() - started:.1f} s\n")
        yield graph, auth0, url, {**env, "COMPANION_PUBLIC_URL": url}
    finally:
        for proc in reversed(procs):
            proc.stop()


def _first_login(graph, url):
    _say(f"1. First Office 365 login of a new Google user ({USER['email']})")
    report = sandbox.play_login(USER, sandbox.action_secrets(url))
    for step in report["steps"]:
        _say(f"   {step['t_ms'] / 1000:6.2f} s  {STEP_TEXT.get(step['step'], step['step'])}")
    if report["outcome"] != "allowed":
        _say(f"   login denied: {report.get('deny_reason')}")
        return report, False
    attrs = report["saml"]["attributes"]
    upn = attrs["http://schemas.xmlsoap.org/claims/UPN"]
    iid = attrs["http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"]
    entra = [u for u in graph.state()["users"] if u.get("onPremisesImmutableId") == iid]
    ok = len(entra) == 1 and entra[0]["userPrincipalName"] == upn and bool(entra[0].get("assignedLicenses"))
    _say(f"   claims: UPN {upn}, ImmutableID {iid}, NameID = ImmutableID")
    _say(f"   Entra ID holds {len(entra)} matching account(s), licensed: "
         f"{bool(entra and entra[0].get('assignedLicenses'))}, usage location: "
         f"{entra[0].get('usageLocation') if entra else '-'} -> {'matches the claims' if ok else 'MISMATCH'}")
    return report, ok


def _second_login(url, first):
    _say("\n2. Second login of the same user (fast path from app_metadata)")
    user = {**USER, "app_metadata": first["app_metadata"]}
    report = sandbox.play_login(user, sandbox.action_secrets(url))
    calls = report["companion_requests"] + report["action_requests"]
    _say(f"   {report['total_ms'] / 1000:6.2f} s  {report['outcome']}; calls to the companion: {calls}")
    return report, report["outcome"] == "allowed" and calls == 0


def _smart_link(env):
    _say("\n3. Smart link for a SharePoint deep link")
    links = smartlinks.links_for(from_env(env), DEEP_LINK)
    _say(f"   smart link:          {links['smart_link']}")
    _say(f"   IdP-initiated link:  {links['idp_initiated_link']}")
    try:
        smartlinks.links_for(from_env(env), "https://evil.example.com/")
        return links, False
    except smartlinks.DeepLinkRefused as why:
        _say(f"   a deep link to evil.example.com is refused: {why}")
        return links, True


def run(lag_s=3.0, keep=False):
    """Play the demo; return a process exit code (0 when every check held)."""
    _say("Entra Companion for Auth0 — sandbox demo (no tenant needed)\n")
    with running(lag_s) as (graph, _auth0, url, env):
        first, ok1 = _first_login(graph, url)
        second, ok2 = _second_login(url, first) if ok1 else ({"total_ms": 0}, False)
        _, ok3 = _smart_link(env)
        _say("\nSummary")
        _say(f"  first login   {first['total_ms'] / 1000:6.2f} s  waiting pages {first.get('waiting_pages', 0)}"
             f"   {'OK' if ok1 else 'FAILED'}  (one licensed Entra account, claims match)")
        _say(f"  second login  {second['total_ms'] / 1000:6.2f} s  companion calls 0"
             f"           {'OK' if ok2 else 'FAILED'}")
        _say(f"  smart link    built, foreign host refused                  {'OK' if ok3 else 'FAILED'}")
        if keep:
            _wait_for_ctrl_c(url)
    return 0 if ok1 and ok2 and ok3 else 1


def _wait_for_ctrl_c(url):
    _say(f"\nThe sandbox keeps running at {url}; press Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def serve(port=8000):
    """Run the sandbox until Ctrl-C, printing the settings a person needs to point tools at it."""
    with running(3.0, port=port) as (_graph, _auth0, url, env):
        for key in sorted(env):
            if "SECRET" not in key:
                _say(f"  {key}={env[key]}")
        _wait_for_ctrl_c(url)
