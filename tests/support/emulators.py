"""Handles on the emulator processes that the tests start: URLs, CA bundle, run-time knobs."""
import os

import requests

from tests.support.procs import ROOT, free_port, python_module, wait_until_up

# The sandbox's documented defaults (README, "Sandbox"); the emulators are started with them.
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


class Emulator:
    """A running emulator process and its `/_emulator/…` control surface."""

    def __init__(self, name, proc, url, verify):
        self.name, self.proc, self.url, self.verify = name, proc, url, verify
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = verify

    def _admin(self, method, path, **kwargs):
        resp = self.http.request(method, f"{self.url}/_emulator/{path}", timeout=30, **kwargs)
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


def start_graph(tmp_dir, *extra):
    """Start the Graph/Entra emulator over TLS; its CA lands in tmp_dir."""
    port = free_port()
    cert_dir = os.path.join(tmp_dir, "graph-certs")
    proc = python_module("emulators.graph", "--port", port, "--cert-dir", cert_dir,
                         "--validate-spec", *extra, log_path=os.path.join(tmp_dir, "graph.log"))
    url = f"https://127.0.0.1:{port}"
    ca = os.path.join(cert_dir, "ca.pem")
    _wait_tls(url, ca, proc)
    return Emulator("graph", proc, url, ca)


def _wait_tls(url, ca, proc):
    """Wait until the CA file exists and the TLS endpoint answers with it."""
    import time
    deadline = time.monotonic() + 20
    while not os.path.exists(ca):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"graph emulator did not start:\n{proc.output()}")
        time.sleep(0.05)
    wait_until_up(f"{url}/_emulator/health", verify=ca, proc=proc.popen)


def start_auth0(tmp_dir, *extra):
    """Start the Auth0 Management API emulator over plain HTTP on loopback."""
    port = free_port()
    proc = python_module("emulators.auth0", "--port", port, "--domain", AUTH0_DOMAIN,
                         "--validate-spec", *extra, log_path=os.path.join(tmp_dir, "auth0.log"))
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/_emulator/health", proc=proc.popen)
    return Emulator("auth0", proc, url, True)


__all__ = ["ROOT", "start_graph", "start_auth0", "Emulator"]
