"""Auth0 Management API v2 client: one session, one `_request` choke point, small typed methods.

Why not the official auth0-python SDK (v6, Fern-generated, httpx): it would add httpx, pydantic, aiohttp
and pyjwt for the dozen calls we make; its retry loop lives inside its own httpx client and also retries
409 (facts/auth0.md §6), which would turn a duplicate create into three sends and hide the Conflict our
idempotent upserts rely on; its errors are its own ApiError classes, so a second translation layer and a
second place to enforce the dry-run guard would be needed; and its ManagementClient derives the token
URL from `domain` as https, so pointing it at the plain-http sandbox emulator means bypassing its token
provider too. A thin requests client keeps one choke point for auth, timeout, retry, error translation
and dry-run, the same shape as the Graph client.

Dry run: writes (POST/PATCH/PUT/DELETE) raise DryRunBlocked before anything is sent, except starting a
users export job, which changes no user.
"""
import logging
import threading
import time
from urllib.parse import quote

from jose import jwt

from service.clients._http import (RETRYABLE_EXCEPTIONS, Retrier, RetryPolicy, header, make_session,
                                   ratelimit_reset_s, retry_after_s)
from service.clients._http import json_body as _json
from service.clients.auth0_export import ExportPoll, stream_ndjson, wait_for_job
from service.errors import (AuthFailed, BadRequest, Conflict, DryRunBlocked, NotFound, Throttled,
                            Transient)

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
READ_ONLY_POSTS = frozenset({"/jobs/users-exports"})
SEARCH_CAP = 1000  # GET /users pages only through the first 1,000 results (facts/auth0.md §3.2)
PER_PAGE = 100     # the largest per_page Auth0 accepts
MAX_HOLD_S = 1.0   # a reset further off than a second is clock skew: a 429 and its retry are cheaper


def _seg(value):
    """A URL path segment: `auth0|abc` → `auth0%7Cabc`."""
    return quote(str(value), safe="")


def wait_hint(headers, now=None):
    """Seconds to wait on a 429: Retry-After first, else x-ratelimit-reset (facts/auth0.md §3.6)."""
    hint = retry_after_s(headers, now)
    return hint if hint is not None else ratelimit_reset_s(headers, now)


def translate_error(status, body, headers=None):
    """The CompanionError for an Auth0 error answer (Management API or /oauth/token body)."""
    body = body if isinstance(body, dict) else {}
    code = body.get("errorCode") or body.get("error")
    text = body.get("message") or body.get("error_description") or f"HTTP {status}"
    fields = dict(vendor="auth0", code=code, vendor_message=text, http_status=status,
                  request_id=header(headers, "x-auth0-requestid"))
    if status == 409:
        return Conflict(f"Auth0: {text}", **fields)
    if status == 404:
        return NotFound(f"Auth0: {text}", **fields)
    if status in (401, 403):
        return AuthFailed(f"Auth0 denied access ({code or status}): check the M2M application's client "
                          "id, secret and granted scopes", **fields)
    if status == 429:
        return Throttled("Auth0 rate limit reached", retry_after=wait_hint(headers), **fields)
    if status >= 500 or status == 408:
        return Transient(f"Auth0 is unavailable (HTTP {status})", **fields)
    return BadRequest(f"Auth0 rejected the request: {text}", **fields)


class Auth0Client:
    """Calls the Auth0 Management API v2 with a cached client-credentials token."""

    def __init__(self, *, domain, client_id, client_secret, base_url=None, session=None, ca_bundle=None,
                 timeout=10.0, dry_run=False, retry=None, sleep=time.sleep, clock=time.monotonic, rng=None):
        self.base = (base_url or f"https://{domain}").rstrip("/")
        self.api = self.base + "/api/v2"
        # The audience is always the canonical tenant domain, even via a custom domain (facts §3.7).
        self.audience = f"https://{domain}/api/v2/"
        self.client_id, self._secret = client_id, client_secret
        self.timeout, self.dry_run, self.sleep, self.clock = timeout, dry_run, sleep, clock
        self.ca_bundle = ca_bundle
        self.session = session or make_session(ca_bundle)
        self.retry = retry or RetryPolicy()
        self._retrier = Retrier(self.retry, sleep=sleep, rng=rng, name="auth0")
        self._token_lock = threading.Lock()
        self._token_value, self._token_expires = None, 0.0
        self._hold_until = float("-inf")  # shared by this client's threads (see _note)

    @classmethod
    def from_settings(cls, s, **overrides):
        """Build the client from service.settings.Settings."""
        kwargs = dict(domain=s.auth0_domain, client_id=s.auth0_client_id, client_secret=s.auth0_client_secret,
                      base_url=s.auth0_api_base_url, ca_bundle=s.ca_bundle, timeout=s.http_timeout,
                      dry_run=s.dry_run)
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- token and the choke point -----------------------------------------------------------------

    def _token(self, force=False):
        """The Management API token, fetched once and reused until shortly before it expires."""
        with self._token_lock:
            if not force and self._token_value and self.clock() < self._token_expires:
                return self._token_value
            body = {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self._secret, "audience": self.audience}
            resp = self._send("POST", self.base + "/oauth/token", "POST /oauth/token", json=body)
            answer = _json(resp) or {}
            if resp.status_code >= 400 or "access_token" not in answer:
                raise translate_error(resp.status_code, answer, resp.headers)
            expires_in = float(answer.get("expires_in") or 86400)
            # Refresh a little early so a token never expires between our check and Auth0's.
            self._token_expires = self.clock() + expires_in - min(60.0, expires_in * 0.1)
            self._token_value = answer["access_token"]
            return self._token_value

    def _send(self, method, url, label, *, headers=None, **kwargs):
        def send():
            self._hold()
            resp = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            if resp.status_code < 400:
                self._note(resp.headers)
            return resp
        try:
            return self._retrier.run(send, retry_status=RETRY_STATUS, label=label,
                                     hint=lambda r: wait_hint(r.headers))
        except RETRYABLE_EXCEPTIONS as exc:
            raise Transient(f"Auth0 unreachable ({type(exc).__name__})", vendor="auth0",
                            code=type(exc).__name__) from exc

    def _note(self, headers):
        """After an answer that spent the bucket's last token, hold every thread's next call until Auth0
        adds one (x-ratelimit-reset): a call sent into an empty bucket only comes back 429 and goes again."""
        if str(header(headers, "x-ratelimit-remaining") or "").strip() == "0":
            wait = ratelimit_reset_s(headers)
            if wait is not None:
                self._hold_until = self.clock() + min(wait, MAX_HOLD_S)

    def _hold(self):
        wait = self._hold_until - self.clock()
        if wait > 0:
            self.sleep(wait)

    def granted_scopes(self):
        """The scopes of the Management API token in use, as the token itself lists them."""
        return str(jwt.get_unverified_claims(self._token()).get("scope") or "").split()

    def jwks(self):
        """The tenant's signing keys (GET /.well-known/jwks.json, no token), for RS256 access tokens."""
        resp = self._send("GET", self.base + "/.well-known/jwks.json", "GET /.well-known/jwks.json")
        if resp.status_code >= 400:
            raise translate_error(resp.status_code, _json(resp), resp.headers)
        return (_json(resp) or {}).get("keys", [])

    def _guard(self, method, path):
        if self.dry_run and method != "GET" and not (method == "POST" and path in READ_ONLY_POSTS):
            raise DryRunBlocked(f"dry run: {method} {path.split('?')[0]} was not sent",
                                method=method, path=path)

    def _request(self, method, path, *, params=None, json=None):
        """Send one Management API call with auth, timeout, retries and error translation."""
        method = method.upper()
        self._guard(method, path)
        label = f"{method} /api/v2{path}"
        for refreshed in (False, True):
            headers = {"Authorization": f"Bearer {self._token(force=refreshed)}", "Accept": "application/json"}
            resp = self._send(method, self.api + path, label, headers=headers, params=params, json=json)
            if resp.status_code != 401:
                break  # a 401 may be a token revoked or rotated early: fetch a new one once
        if resp.status_code >= 400:
            raise translate_error(resp.status_code, _json(resp), resp.headers)
        return _json(resp)

    def _iter_pages(self, path, key, params=None, cap=None):
        """Yield items of an offset-paged list (page/per_page/include_totals)."""
        page, seen = 0, 0
        while True:
            query = dict(params or {}, page=page, per_page=PER_PAGE, include_totals="true")
            body = self._request("GET", path, params=query)
            items = body.get(key, []) if isinstance(body, dict) else (body or [])
            yield from items
            seen += len(items)
            total = body.get("total") if isinstance(body, dict) else None
            if len(items) < PER_PAGE or (total is not None and seen >= total):
                return
            if cap is not None and seen >= cap:
                log.warning("auth0 %s: stopped at the %d-result cap of %s; use an export job", path, cap,
                            total)
                return
            page += 1

    # -- users -------------------------------------------------------------------------------------

    def get_user(self, user_id):
        """GET /users/{id} (consistent, unlike search)."""
        return self._request("GET", f"/users/{_seg(user_id)}")

    def users_by_email(self, email):
        """GET /users-by-email: exact, case-sensitive; one user per connection."""
        return self._request("GET", "/users-by-email", params={"email": email}) or []

    def search_users(self, q, per_page=PER_PAGE):
        """Yield users matching a Lucene query (search_engine v3).

        Auth0 pages only through the first 1,000 results of a search (facts/auth0.md §3.2) and search is
        eventually consistent: this stops at 1,000 with a warning; use an export job for full scans.
        """
        page, seen = 0, 0
        while seen < SEARCH_CAP:
            params = {"q": q, "search_engine": "v3", "page": page, "per_page": per_page,
                      "include_totals": "true"}
            body = self._request("GET", "/users", params=params) or {}
            users = body.get("users", [])
            yield from users[:SEARCH_CAP - seen]
            seen += len(users)
            if len(users) < per_page or seen >= int(body.get("total", seen)):
                return
            page += 1
        log.warning("auth0 user search stopped at the %d-result cap; use an export job", SEARCH_CAP)

    def create_user(self, body):
        """POST /users; Conflict when the user already exists in that connection."""
        return self._request("POST", "/users", json=body)

    def update_user(self, user_id, patch):
        """PATCH /users/{id}; returns the user.

        Auth0 merges app_metadata/user_metadata one level deep: top-level keys are merged, a nested
        object is replaced whole, and a key set to null is removed (facts/auth0.md §3.3).
        """
        return self._request("PATCH", f"/users/{_seg(user_id)}", json=patch)

    def delete_user(self, user_id):
        """DELETE /users/{id} (irreversible)."""
        self._request("DELETE", f"/users/{_seg(user_id)}")

    def revoke_access(self, user_id):
        """POST /users/{id}/revoke-access with no session named: every session and refresh token of the
        user in one call (202; DELETE …/sessions and …/refresh-tokens would take two)."""
        self._request("POST", f"/users/{_seg(user_id)}/revoke-access", json={})

    def password_change_ticket(self, user_id, ttl_sec=604800):
        """POST /tickets/password-change: a link the person uses to set their own password."""
        answer = self._request("POST", "/tickets/password-change",
                               json={"user_id": user_id, "ttl_sec": ttl_sec, "mark_email_as_verified": True})
        return (answer or {}).get("ticket")

    # -- roles -------------------------------------------------------------------------------------

    def list_roles(self, name_filter=None):
        """Every role (all pages), optionally filtered by name."""
        params = {"name_filter": name_filter} if name_filter else None
        return list(self._iter_pages("/roles", "roles", params))

    def iter_role_users(self, role_id):
        """Yield the users holding a role, page by page (offset paging, 100 a page)."""
        return self._iter_pages(f"/roles/{_seg(role_id)}/users", "users")

    def user_roles(self, user_id):
        """Every role assigned to the user."""
        return list(self._iter_pages(f"/users/{_seg(user_id)}/roles", "roles"))

    def assign_roles(self, user_id, role_ids):
        """POST /users/{id}/roles; nothing is sent for an empty list."""
        if role_ids:
            self._request("POST", f"/users/{_seg(user_id)}/roles", json={"roles": list(role_ids)})

    def remove_roles(self, user_id, role_ids):
        """DELETE /users/{id}/roles; nothing is sent for an empty list."""
        if role_ids:
            self._request("DELETE", f"/users/{_seg(user_id)}/roles", json={"roles": list(role_ids)})

    # -- actions (read by `service check`) ---------------------------------------------------------

    def actions_named(self, name, trigger_id):
        """GET /actions/actions?actionName=…&triggerId=…: the Actions of that name for the trigger."""
        body = self._request("GET", "/actions/actions", params={"actionName": name, "triggerId": trigger_id,
                                                                 "per_page": PER_PAGE}) or {}
        return body.get("actions", [])

    def trigger_bindings(self, trigger_id):
        """GET /actions/triggers/{id}/bindings: the Actions bound to a trigger, in execution order."""
        body = self._request("GET", f"/actions/triggers/{_seg(trigger_id)}/bindings",
                             params={"per_page": PER_PAGE}) or {}
        return body.get("bindings", [])

    # -- connections and export jobs ---------------------------------------------------------------

    def list_connections(self):
        """Every connection (all pages)."""
        return list(self._iter_pages("/connections", "connections"))

    def start_users_export(self, connection_id=None, fields=None):
        """POST /jobs/users-exports (NDJSON); fields are names or {name, export_as} objects."""
        body = {"format": "json"}
        if connection_id:
            body["connection_id"] = connection_id
        if fields:
            body["fields"] = [f if isinstance(f, dict) else {"name": f} for f in fields]
        return self._request("POST", "/jobs/users-exports", json=body)

    def get_job(self, job_id):
        """GET /jobs/{id}: status pending/processing/completed/failed, and `location` when done."""
        return self._request("GET", f"/jobs/{_seg(job_id)}")

    def iter_export(self, job_id, poll=None):
        """Wait for an export job, then stream its gzip NDJSON file, yielding one user at a time."""
        job = wait_for_job(lambda: self.get_job(job_id), poll or ExportPoll(), self.sleep)
        # The location is a short-lived pre-signed link (60 s): no bearer token goes there.
        yield from stream_ndjson(job["location"], make_session(self.ca_bundle), self._retrier, self.timeout)
