"""`python -m service demo`: the product's main job, played end to end on the local sandbox."""
import contextlib
import os
import shutil
import signal
import sys
import threading
import time

from filelock import FileLock, Timeout

from service import sandbox, smartlinks
from service.settings import from_env

# Separate folders, so `make demo` never wipes the database, logs or CA of a running `make sandbox`.
DEMO_DIR = os.path.join(sandbox.ROOT, "var", "demo")
SANDBOX_DIR = os.path.join(sandbox.ROOT, "var", "sandbox")
SANDBOX_ADMIN_API_KEY = "sandbox-admin-api-key-0123456789"
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


class SandboxBusy(Exception):
    """Another sandbox or demo runs from the same folder: its data stays untouched."""


@contextlib.contextmanager
def running(lag_s, port=None, log=_say, work_dir=DEMO_DIR):
    """Start both emulators and the companion on SQLite in work_dir; stop them on exit or SIGTERM."""
    os.makedirs(os.path.dirname(work_dir) or ".", exist_ok=True)
    lock = FileLock(work_dir + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SandboxBusy(f"{work_dir} is in use by a running sandbox or demo; stop it first "
                          "(Ctrl-C or SIGTERM), or give another --dir") from None
    in_main = threading.current_thread() is threading.main_thread()  # only there can signals be handled
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main else None
    procs = []
    try:
        shutil.rmtree(work_dir, ignore_errors=True)
        os.makedirs(work_dir)
        yield _start(lag_s, port, log, work_dir, procs)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        lock.release()


def _exit_on_sigterm(_signum, _frame):
    # Unwinds through running()'s finally, which stops the emulators and gunicorn (they run in their own
    # sessions, so nothing else would).
    sys.exit(0)


def _start(lag_s, port, log, work_dir, procs):
    started = time.monotonic()
    graph = sandbox.start_graph(work_dir, "--replication-lag", lag_s, "--latency-ms", 40, validate=False)
    procs.append(graph.proc)
    log(f"  Microsoft Graph / Entra emulator  {graph.url}  (replication lag {lag_s:g} s, 40 ms latency)")
    auth0 = sandbox.start_auth0(work_dir, validate=False)
    procs.append(auth0.proc)
    log(f"  Auth0 Management API emulator     {auth0.url}")
    env = sandbox.companion_env(graph, auth0, f"sqlite:///{work_dir}/companion.db",
                                ADMIN_API_KEY=SANDBOX_ADMIN_API_KEY)
    companion, url = sandbox.start_companion(env, work_dir, port=port)
    procs.append(companion)
    log(f"  companion under gunicorn          {url}  (SQLite {work_dir}/companion.db)")
    log(f"  {sandbox.seed_console(auth0, url)}")
    log(f"  sandbox up in {time.monotonic() - started:.1f} s\n")
    return graph, auth0, url, {**env, "COMPANION_PUBLIC_URL": url}


def _first_login(graph, auth0, url):
    _say(f"1. First Office 365 login of a new Google user ({USER['email']})")
    report = sandbox.play_login(USER, sandbox.action_secrets(url), auth0=auth0)
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


def _second_login(auth0, url, first):
    _say("\n2. Second login of the same user (fast path from app_metadata)")
    user = {**USER, "app_metadata": first["app_metadata"]}
    report = sandbox.play_login(user, sandbox.action_secrets(url), auth0=auth0)
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
    try:
        return _play(lag_s, keep)
    except SandboxBusy as why:
        sys.exit(f"refused: {why}")


def _play(lag_s, keep):
    with running(lag_s) as (graph, auth0, url, env):
        first, ok1 = _first_login(graph, auth0, url)
        second, ok2 = _second_login(auth0, url, first) if ok1 else ({"total_ms": 0}, False)
        _, ok3 = _smart_link(env)
        _say("\nSummary")
        _say(f"  first login   {first['total_ms'] / 1000:6.2f} s  waiting pages {first.get('waiting_pages', 0)}"
             f"   {'OK' if ok1 else 'FAILED'}  (one licensed Entra account, claims match)")
        _say(f"  second login  {second['total_ms'] / 1000:6.2f} s  companion calls 0"
             f"           {'OK' if ok2 else 'FAILED'}")
        _say(f"  smart link    built, foreign host refused                  {'OK' if ok3 else 'FAILED'}")
        if keep:
            _banner(env, DEMO_DIR)
            _wait_for_ctrl_c(url)
    return 0 if ok1 and ok2 and ok3 else 1


def _wait_for_ctrl_c(url):
    _say(f"\nThe sandbox keeps running at {url}; press Ctrl-C (or send SIGTERM) to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def _banner(env, work_dir):
    """Everything a person needs to point tools at the sandbox: its (sandbox-only) secrets included."""
    _say("Settings of this sandbox (sandbox values, not secrets of any real tenant):")
    for key in sorted(env):
        _say(f"  {key}={env[key]}")
    _say(f"Admin API: curl -H 'Authorization: Bearer {env['ADMIN_API_KEY']}' "
         f"{env['COMPANION_PUBLIC_URL']}/v1/admin/events?status=failed")
    port = env["COMPANION_PUBLIC_URL"].rsplit(":", 1)[-1]
    _say(f"Logs: {work_dir}/companion-{port}.log, {work_dir}/graph.log, {work_dir}/auth0.log")


def serve(port=8000, work_dir=SANDBOX_DIR):
    """Run the sandbox until Ctrl-C or SIGTERM, printing the settings a person needs to point tools at it."""
    try:
        with running(3.0, port=port, work_dir=work_dir) as (_graph, _auth0, url, env):
            _banner(env, work_dir)
            _wait_for_ctrl_c(url)
    except SandboxBusy as why:
        sys.exit(f"refused: {why}")
