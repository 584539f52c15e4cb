"""The local sandbox: both emulators and the companion under gunicorn, as real processes.

Used by `python -m service demo|sandbox`, by the end-to-end tests and by the benchmarks.
"""
import contextlib
import os
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The sandbox's documented defaults (README, "Sandbox"); the emulators start with them.
GRAPH_TENANT_ID = "8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b"
GRAPH_CLIENT_ID = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
GRAPH_CLIENT_SECRET = "sandbox-entra-secret"
FEDERATED_DOMAIN = "partners.contoso.com"
MANAGED_DOMAIN = "contoso.onmicrosoft.com"
SKU_PART_NUMBER = "ENTERPRISEPACK"
SKU_ID = "6fd2c87f-b296-42f0-b197-1e91e994b900"
AUTH0_DOMAIN = "sandbox.eu.auth0.com"
AUTH0_CLIENT_ID = "sandbox-m2m-client-id"
AUTH0_CLIENT_SECRET = "sandbox-m2m-client-secret"
COMPANION_SECRET = "sandbox-companion-secret-" + "0123456789abcdef" * 2
OFFICE365_CLIENT_ID = "sandbox-office365-client-id"
# The operator console's Auth0 application and the seeded operator (shown in the sandbox banner).
CONSOLE_CLIENT_ID = "sandbox-console-client-id"
CONSOLE_CLIENT_SECRET = "sandbox-console-client-secret"
OPERATOR_ROLE = "Companion Operator"
OPERATOR_EMAIL = "operator@contoso.com"
OPERATOR_PASSWORD = "sandbox-operator-password"


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, verify=True, timeout=20.0, proc=None):
    """Poll url until it answers any HTTP status, or fail early if the process died."""
    session = requests.Session()
    session.trust_env = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            session.get(url, verify=verify, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


_LIVE = set()  # children started and not stopped yet: stop_all() ends them when their owner unwinds
_STARTING = {"depth": 0, "exit": None}  # a child being started and put on record; an exit asked meanwhile


def exit_when_safe(code):
    """sys.exit(code), but not between starting a child and putting it on record (a signal handler's
    exit there would lose the child: start_new_session keeps the signal from reaching it)."""
    if _STARTING["depth"]:
        _STARTING["exit"] = code
        return
    sys.exit(code)


@contextlib.contextmanager
def _on_record():
    _STARTING["depth"] += 1
    try:
        yield
    finally:
        _STARTING["depth"] -= 1
    if not _STARTING["depth"] and _STARTING["exit"] is not None:
        sys.exit(_STARTING["exit"])


def stop_all():
    """Stop every child this process started and has not stopped (a benchmark unwinding on SIGTERM)."""
    for proc in list(_LIVE):
        proc.stop()


class Proc:
    """A child process writing to a log file."""

    def __init__(self, args, env=None, log_path=None, cwd=ROOT):
        self.log_path = log_path or os.devnull
        self._log = open(self.log_path, "ab")
        with _on_record():
            self.popen = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=self._log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
            _LIVE.add(self)

    def stop(self, sig=None):
        """Terminate (or send sig) and reap the process."""
        _LIVE.discard(self)
        if self.popen.poll() is None:
            self.popen.terminate() if sig is None else self.popen.send_signal(sig)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()

    def output(self):
        """What the process has logged so far."""
        if self.log_path == os.devnull:
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


def python_module(module, *args, env=None, log_path=None):
    """Start `python -m module args…` with this interpreter."""
    return Proc([sys.executable, "-m", module, *map(str, args)], env=env, log_path=log_path)


class Emulator:
    """A running emulator process and its `/_emulator/…` control surface."""

    def __init__(self, name, proc, url, verify):
        self.name, self.proc, self.url, self.verify = name, proc, url, verify
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = verify

    def _admin(self, method, path, **kwargs):
        resp = self.http.request(method, f"{self.url}/_emulator/{path}", timeout=60, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def reset(self):
        """Back to the default sandbox data and knobs."""
        return self._admin("POST", "reset")

    def configure(self, **knobs):
        """Change run-time knobs (latency_ms, replication_lag_s, ...)."""
        return self._admin("PATCH", "config", json=knobs)

    def add_faults(self, *rules):
        """Append fault rules (see emulators/README.md)."""
        return self._admin("POST", "faults", json={"faults": list(rules)})

    def state(self):
        """Every object the emulator holds."""
        return self._admin("GET", "state")

    def stats(self):
        """Request counters since the last reset."""
        return self._admin("GET", "stats")

    def violations(self):
        """Requests and responses that did not match the vendor's OpenAPI extract."""
        return self._admin("GET", "violations")

    def stop(self):
        """Stop the process."""
        self.proc.stop()


@contextlib.contextmanager
def _or_stopped(proc):
    """Stop a process just started when waiting for it fails in any way (Ctrl-C and SIGTERM included):
    the caller never got it back, so nothing else would stop it."""
    try:
        yield proc
    except BaseException:
        proc.stop()
        raise


def start_graph(work_dir, *extra, validate=True):
    """Start the Graph/Entra emulator over TLS; its CA lands in work_dir/graph-certs/ca.pem."""
    port = free_port()
    cert_dir = os.path.join(work_dir, "graph-certs")
    args = ["--port", port, "--cert-dir", cert_dir, *(["--validate-spec"] if validate else []), *extra]
    proc = python_module("emulators.graph", *args, log_path=os.path.join(work_dir, "graph.log"))
    url, ca = f"https://127.0.0.1:{port}", os.path.join(cert_dir, "ca.pem")
    deadline = time.monotonic() + 30
    with _or_stopped(proc):
        while not os.path.exists(ca):
            if proc.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"graph emulator did not start:\n{proc.output()}")
            time.sleep(0.05)
        wait_until_up(f"{url}/_emulator/health", verify=ca, proc=proc.popen)
    return Emulator("graph", proc, url, ca)


def start_auth0(work_dir, *extra, validate=True):
    """Start the Auth0 Management API emulator over plain HTTP on loopback."""
    port = free_port()
    args = ["--port", port, "--domain", AUTH0_DOMAIN, *(["--validate-spec"] if validate else []), *extra]
    proc = python_module("emulators.auth0", *args, log_path=os.path.join(work_dir, "auth0.log"))
    url = f"http://127.0.0.1:{port}"
    with _or_stopped(proc):
        wait_until_up(f"{url}/_emulator/health", proc=proc.popen)
    return Emulator("auth0", proc, url, True)


def companion_env(graph, auth0, database_url, public_url="http://127.0.0.1:8000", queue_url=None, **extra):
    """Every variable the companion needs, pointing at the emulators."""
    if queue_url is None:
        import tempfile
        folder = (os.path.dirname(database_url[len("sqlite:///"):]) if database_url.startswith("sqlite:///")
                  else tempfile.mkdtemp(prefix="companion-queue-"))
        queue_url = f"sqlite:///{folder}/queue.db"
    env = {
        "AUTH0_DOMAIN": AUTH0_DOMAIN, "AUTH0_CLIENT_ID": AUTH0_CLIENT_ID,
        "AUTH0_CLIENT_SECRET": AUTH0_CLIENT_SECRET, "AUTH0_API_BASE_URL": auth0.url,
        "ENTRA_TENANT_ID": GRAPH_TENANT_ID, "ENTRA_CLIENT_ID": GRAPH_CLIENT_ID,
        "ENTRA_CLIENT_SECRET": GRAPH_CLIENT_SECRET, "ENTRA_AUTHORITY_HOST": graph.url,
        "GRAPH_BASE_URL": graph.url, "CA_BUNDLE": graph.verify,
        "COMPANION_SECRET": COMPANION_SECRET, "COMPANION_PUBLIC_URL": public_url,
        "O365_DOMAIN": FEDERATED_DOMAIN, "O365_LICENSE_SKU": SKU_PART_NUMBER, "O365_USAGE_LOCATION": "GB",
        "OFFICE365_CLIENT_ID": OFFICE365_CLIENT_ID,
        "O365_DEEP_LINK_HOSTS": "contoso.sharepoint.com,outlook.office.com",
        "DATABASE_URL": database_url, "QUEUE_URL": queue_url, "LOG_LEVEL": "INFO",
        "CONSOLE_CLIENT_ID": CONSOLE_CLIENT_ID, "CONSOLE_CLIENT_SECRET": CONSOLE_CLIENT_SECRET,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def seed_console(auth0, companion_url):
    """Point the console application at this companion and seed the operator; the banner line to print."""
    auth0._admin("POST", "applications", json={
        "client_id": CONSOLE_CLIENT_ID, "client_secret": CONSOLE_CLIENT_SECRET, "name": "Entra Companion console",
        "callbacks": [f"{companion_url}/admin/callback"], "allowed_logout_urls": [f"{companion_url}/admin/signed-out"]})
    auth0._admin("POST", "roles", json={"name": OPERATOR_ROLE, "description": "Uses the companion's console"})
    if not any(u.get("email") == OPERATOR_EMAIL for u in auth0.state()["users"]):
        auth0._admin("POST", "users", json=[{"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD,
                                             "email_verified": True, "name": "Sandbox Operator",
                                             "roles": [OPERATOR_ROLE]}])
    return f"operator console {companion_url}/admin  (sign in as {OPERATOR_EMAIL} / {OPERATOR_PASSWORD})"


def start_companion(env, work_dir, workers=2, threads=16, port=None):
    """Start gunicorn with the project's config; return (proc, base_url)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                "GUNICORN_THREADS": str(threads), "COMPANION_PUBLIC_URL": url}
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = Proc([gunicorn, "-c", "gunicorn.conf.py", "service:create_app()"], env=full_env,
                log_path=os.path.join(work_dir, f"companion-{port}.log"))
    with _or_stopped(proc):
        try:
            wait_until_up(f"{url}/healthz", proc=proc.popen, timeout=30)
        except RuntimeError as err:
            raise RuntimeError(f"{err}\n{proc.output()}") from None
    return proc, url


def play_login(user, secrets, *, action="auth0_actions/office365-provisioning.js", client_id=OFFICE365_CLIENT_ID,
               connection="google-oauth2", strategy="google-oauth2", redirect=True, fast_refresh=False,
               max_wait_s=120, work_dir=None, trigger=None, auth0=None):
    """Play one login through the real Action file in Node (auth0_actions/sandbox); return its JSON report.

    With the Auth0 emulator given, the tenant behaves as Auth0 does around a login: the person is an Auth0
    user before any Action runs, and what the Action set with api.user.setAppMetadata is saved at the end.
    """
    if auth0 is not None:
        sign_up(auth0, user, connection)
    report = _run_login(user, secrets, action=action, client_id=client_id, connection=connection,
                        strategy=strategy, redirect=redirect, fast_refresh=fast_refresh, max_wait_s=max_wait_s,
                        work_dir=work_dir, trigger=trigger)
    if auth0 is not None and report.get("app_metadata"):
        save_app_metadata(auth0, user["user_id"], report["app_metadata"])
    return report


def sign_up(auth0, user, connection):
    """The user as the Auth0 tenant holds it (seeded once; a returning user is already there)."""
    fields = {k: v for k, v in user.items() if k not in ("identities",)}
    resp = auth0.http.post(f"{auth0.url}/_emulator/users", json=[{**fields, "connection": connection}], timeout=30)
    if resp.status_code != 409:
        resp.raise_for_status()


def save_app_metadata(auth0, user_id, app_metadata):
    """What Auth0 does with api.user.setAppMetadata at the end of the flow: PATCH the user (one-level merge)."""
    from service.clients.auth0 import Auth0Client
    client = Auth0Client(domain=AUTH0_DOMAIN, client_id=AUTH0_CLIENT_ID, client_secret=AUTH0_CLIENT_SECRET,
                         base_url=auth0.url)
    client.update_user(user_id, {"app_metadata": app_metadata})


def _run_login(user, secrets, *, action, client_id, connection, strategy, redirect, fast_refresh, max_wait_s,
               work_dir, trigger):
    import json
    import tempfile
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        user_path, secrets_path = os.path.join(tmp, "user.json"), os.path.join(tmp, "secrets.json")
        with open(user_path, "w", encoding="utf-8") as fh:
            json.dump(user, fh)
        with open(secrets_path, "w", encoding="utf-8") as fh:
            json.dump(secrets, fh)
        args = ["node", os.path.join(ROOT, "auth0_actions/sandbox/login.js"), "--action", os.path.join(ROOT, action),
                "--user", user_path, "--secrets", secrets_path, "--domain", AUTH0_DOMAIN, "--client-id", client_id,
                "--connection", connection, "--strategy", strategy, "--max-wait-s", str(max_wait_s)]
        args += [] if redirect else ["--no-redirect"]
        args += ["--fast-refresh"] if fast_refresh else []
        args += ["--trigger", trigger] if trigger else []
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=max_wait_s + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the Action runtime failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def action_secrets(companion_url, **extra):
    """The secrets the Office 365 Action needs in the sandbox."""
    return {"COMPANION_URL": companion_url, "COMPANION_SECRET": COMPANION_SECRET,
            "OFFICE365_CLIENT_ID": OFFICE365_CLIENT_ID, **extra}
