"""What Entra shows at the instant claims are returned, asked directly of Graph (not through the companion)."""
import threading

import requests

from service import sandbox


class Observer:
    """Reads one user with its own Graph token, as Office 365 would look the account up."""

    def __init__(self, graph):
        self.graph = graph
        self.calls = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._token = None

    def _http(self):
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
            http.trust_env, http.verify = False, self.graph.verify
        return http

    def _bearer(self):
        with self._lock:
            if self._token is None:
                form = {"client_id": sandbox.GRAPH_CLIENT_ID, "client_secret": sandbox.GRAPH_CLIENT_SECRET,
                        "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"}
                resp = self._http().post(f"{self.graph.url}/{sandbox.GRAPH_TENANT_ID}/oauth2/v2.0/token",
                                         data=form, timeout=30)
                resp.raise_for_status()
                self._token = resp.json()["access_token"]
                self.calls += 1
            return self._token

    def licensed_visible(self, object_id):
        """True when GET /users/{id} answers 200 with the sandbox SKU in assignedLicenses."""
        url = f"{self.graph.url}/v1.0/users/{object_id}"
        resp = self._http().get(url, params={"$select": "id,assignedLicenses"},
                                headers={"Authorization": f"Bearer {self._bearer()}"}, timeout=30)
        with self._lock:
            self.calls += 1
        if resp.status_code == 404:
            return False
        resp.raise_for_status()
        return any(lic.get("skuId") == sandbox.SKU_ID for lic in resp.json().get("assignedLicenses") or ())

    def graph_stats(self):
        """Requests served (`$batch` inner requests counted one by one), RUs spent and 429s, since reset."""
        stats = self.graph.stats()
        return {"requests": sum(stats["requests"].values()), "ru": stats.get("ru", 0),
                "throttled": stats.get("throttled", 0)}
