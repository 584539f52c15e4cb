"""Microsoft Graph v1.0 client: one session, one `_request` choke point, small typed methods.

Dry run: when `dry_run` is set, `_request` refuses every write before anything is sent and raises
DryRunBlocked (callers report "would have done X"). Reads pass: GET, the read-only POST actions
(getMemberGroups, checkMemberGroups, getMemberObjects, checkMemberObjects, getByIds) and a `$batch`
whose inner requests are all GETs.
"""
import re
import time
import uuid
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from service.clients._http import (RETRYABLE_EXCEPTIONS, Retrier, RetryPolicy, header, make_session,
                                   retry_after_s)
from service.clients._http import json_body as _json
from service.clients.budget import Budget, resource_units
from service.clients.budget import from_settings as budget_from_settings
from service.clients.entra import EntraTokens
from service.errors import (AuthFailed, BadRequest, Conflict, DryRunBlocked, NotFound, Throttled,
                            Transient)

# Graph asks clients to retry these (Learn graph/throttling, graph/best-practices-concept).
RETRY_STATUS = frozenset({429, 503, 504})
READ_ONLY_ACTIONS = ("/getMemberGroups", "/checkMemberGroups", "/getMemberObjects", "/checkMemberObjects",
                     "/getByIds")
BATCH_LIMIT = 20  # Learn graph/json-batching
IN_LIMIT = 15  # values in one `in (…)` by default (Learn graph/filter-query-parameter, "in" operator note)
DEFAULT_USER_SELECT = ("id", "userPrincipalName", "displayName", "mail", "accountEnabled",
                       "onPremisesImmutableId", "usageLocation", "assignedLicenses")
# Duplicate UPN/ImmutableID/proxyAddresses (facts/graph.md §1.3; microsoft-graph-docs issue #1508).
_CONFLICT_RE = re.compile(r"Another object with the same value for property (\w+) already exists")


def odata_str(value):
    """An OData string literal: single quotes doubled (Learn graph/query-parameters, "Escaping")."""
    return "'" + str(value).replace("'", "''") + "'"


def _graph_error_fields(status, body, headers):
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    inner = err.get("innerError") or err.get("innererror") or {}
    details = [d for d in (err.get("details") or []) if isinstance(d, dict)]
    fields = dict(vendor="graph", code=err.get("code"), vendor_message=err.get("message"),
                  request_id=inner.get("request-id") or header(headers, "request-id"), http_status=status)
    return fields, details


def translate_error(status, body, headers=None):
    """The CompanionError for a Graph error answer (status, parsed body, headers)."""
    fields, details = _graph_error_fields(status, body, headers)
    text = fields["vendor_message"] or f"HTTP {status}"
    if status == 400:
        conflict = next((d for d in details if d.get("code") == "ObjectConflict"), None)
        match = _CONFLICT_RE.search(text)
        if conflict or match:
            target = (conflict or {}).get("target") or (match.group(1) if match else None)
            return Conflict(f"Microsoft Graph: {text}", target=target, **fields)
        target = next((d.get("target") for d in details if d.get("target")), None)
        return BadRequest(f"Microsoft Graph rejected the request: {text}", target=target, **fields)
    if status in (401, 403):
        return AuthFailed(f"Microsoft Graph denied access ({fields['code'] or status}): check the app's "
                          "API permissions and admin consent", **fields)
    if status == 404:
        return NotFound(f"Microsoft Graph: {text}", **fields)
    if status == 429:
        return Throttled("Microsoft Graph is throttling requests", retry_after=retry_after_s(headers),
                         **fields)
    if status >= 500 or status == 408:
        return Transient(f"Microsoft Graph is unavailable (HTTP {status})", **fields)
    return BadRequest(f"Microsoft Graph rejected the request: {text}", **fields)


def item_error(response):
    """The CompanionError for one `$batch` inner response, or None when it succeeded."""
    status = int(response.get("status", 500))
    return translate_error(status, response.get("body"), response.get("headers")) if status >= 400 else None


def _query(url):
    """The query parameters of a URL as a dict (only their names matter for the RU cost)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _seg(value):
    """One URL path segment (ids, UPNs: `#EXT#` and `/` must not leak into the path)."""
    return quote(str(value), safe="@")


class GraphClient:
    """Calls Microsoft Graph v1.0 with an app-only token; every call goes through `_request`."""

    def __init__(self, *, tokens, base_url="https://graph.microsoft.com", session=None, ca_bundle=None,
                 timeout=10.0, dry_run=False, retry=None, sleep=time.sleep, rng=None, budget=None):
        self.api = f"{base_url.rstrip('/')}/v1.0"
        self.budget = budget or Budget(0)
        self.tokens, self.timeout, self.dry_run = tokens, timeout, dry_run
        self.session = session or make_session(ca_bundle)
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._retrier = Retrier(self.retry, sleep=sleep, rng=rng, name="graph")

    @classmethod
    def from_settings(cls, s, **overrides):
        """Build the client (and its msal app) from service.settings.Settings."""
        tokens = EntraTokens(tenant_id=s.entra_tenant_id, client_id=s.entra_client_id,
                             authority_host=s.entra_authority_host, client_secret=s.entra_client_secret,
                             cert_path=s.entra_cert_path, cert_thumbprint=s.entra_cert_thumbprint,
                             session=make_session(s.ca_bundle), timeout=s.http_timeout)
        kwargs = dict(tokens=tokens, base_url=s.graph_base_url, ca_bundle=s.ca_bundle,
                      timeout=s.http_timeout, dry_run=s.dry_run, budget=budget_from_settings(s))
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- the choke point ---------------------------------------------------------------------------

    def _url(self, path, params):
        if path.startswith(("https://", "http://")):
            # nextLinks are absolute; never send our bearer token to any other host.
            if not path.startswith(self.api + "/"):
                raise ValueError("refusing to follow a link outside the Graph base URL")
            url = path
        else:
            url = self.api + path
        if params:
            # %20 rather than '+' for spaces: ImmutableIDs are base64 and hold literal '+'.
            url += ("&" if "?" in url else "?") + urlencode(params, quote_via=quote, safe="$,")
        return url

    def _guard(self, method, url, body):
        if not self.dry_run or method == "GET":
            return
        path = urlsplit(url).path
        if method == "POST" and path.endswith(READ_ONLY_ACTIONS):
            return
        if method == "POST" and path.endswith("/$batch") and all(
                str(r.get("method", "")).upper() == "GET" for r in (body or {}).get("requests", [])):
            return
        short = path[len(urlsplit(self.api).path):] or path
        raise DryRunBlocked(f"dry run: {method} {short} was not sent", method=method, path=short)

    def _request(self, method, path, *, params=None, json=None, headers=None, priority=None):
        """Send one Graph call with auth, timeout, retries and error translation; return parsed JSON."""
        method = method.upper()
        url = self._url(path, params)
        self._guard(method, url, json)
        hdrs = {"client-request-id": str(uuid.uuid4()), "Accept": "application/json"}
        if priority:
            hdrs["x-ms-throttle-priority"] = priority  # facts/graph.md §4.1: user-initiated calls only
        hdrs.update(headers or {})
        units = resource_units(method, urlsplit(url).path, _query(url), json)

        def send():
            self.budget.take(units)  # every send, retries included, is paid from the shared window
            hdrs["Authorization"] = f"Bearer {self._token()}"
            return self.session.request(method, url, json=json, headers=hdrs, timeout=self.timeout)

        label = f"{method} {urlsplit(url).path}"  # no query: filters hold personal data
        try:
            resp = self._retrier.run(send, retry_status=RETRY_STATUS, label=label,
                                     hint=lambda r: retry_after_s(r.headers))
        except RETRYABLE_EXCEPTIONS as exc:
            raise Transient(f"Microsoft Graph unreachable ({type(exc).__name__})", vendor="graph",
                            code=type(exc).__name__) from exc
        if resp.status_code >= 400:
            raise translate_error(resp.status_code, _json(resp), resp.headers)
        return _json(resp)

    def _token(self):
        return self.tokens() if callable(self.tokens) else self.tokens.token()

    def iter_pages(self, path, params=None, *, headers=None, priority=None):
        """Yield every item of a collection, following `@odata.nextLink` one page at a time."""
        page = self._request("GET", path, params=params, headers=headers, priority=priority)
        while True:
            yield from (page or {}).get("value", [])
            link = (page or {}).get("@odata.nextLink")
            if not link:
                return
            page = self._request("GET", link, headers=headers, priority=priority)

    # -- users -------------------------------------------------------------------------------------

    def create_user(self, body, *, priority=None):
        """POST /users; returns the created user."""
        return self._request("POST", "/users", json=body, priority=priority)

    def get_user(self, id_or_upn, select=None, *, priority=None):
        """GET /users/{id | userPrincipalName}; NotFound while it has not replicated."""
        params = {"$select": ",".join(select)} if select else None
        return self._request("GET", f"/users/{_seg(id_or_upn)}", params=params, priority=priority)

    def update_user(self, user_id, patch, *, priority=None):
        """PATCH /users/{id} (204, nothing returned)."""
        self._request("PATCH", f"/users/{_seg(user_id)}", json=patch, priority=priority)

    def delete_user(self, user_id):
        """DELETE /users/{id}: soft delete, restorable for 30 days."""
        self._request("DELETE", f"/users/{_seg(user_id)}")

    def iter_users(self, filter=None, select=None, top=999, *, advanced=False, priority=None):
        """Yield users matching an OData filter, page by page (memory stays constant).

        advanced=True adds `ConsistencyLevel: eventual` and `$count=true`, which `ne`, `not`, `endsWith`
        need (Learn graph/aad-advanced-queries); its results are eventually consistent.
        """
        params = {}
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = ",".join(select)
        if top:
            params["$top"] = str(top)
        headers = None
        if advanced:
            params["$count"] = "true"
            headers = {"ConsistencyLevel": "eventual"}
        return self.iter_pages("/users", params, headers=headers, priority=priority)

    def find_users(self, filter, select=None, top=None, *, priority=None):
        """Every user matching the filter, as a list; `top` is the page size."""
        return list(self.iter_users(filter, select, top, priority=priority))

    def find_user_by_immutable_id(self, immutable_id, select=None, *, priority=None):
        """The user whose onPremisesImmutableId equals immutable_id, or None."""
        flt = f"onPremisesImmutableId eq {odata_str(immutable_id)}"
        return next(self.iter_users(flt, select or DEFAULT_USER_SELECT, top=1, priority=priority), None)

    def find_user_by_upn(self, upn, select=None, *, priority=None):
        """The user with this userPrincipalName, or None (a filter: no 404 to tell apart)."""
        flt = f"userPrincipalName eq {odata_str(upn)}"
        return next(self.iter_users(flt, select or DEFAULT_USER_SELECT, top=1, priority=priority), None)

    def users_by_ids(self, ids, select):
        """{id: user} for the ids Entra shows now (absent: not replicated yet, or gone).

        One `$filter=id in (…)` read per 15 ids, 20 such reads per `$batch` call: readiness of 300
        pending users costs one HTTP call and 20 resource units.
        """
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        params = {"$select": ",".join(select)}
        requests = []
        for start in range(0, len(ids), IN_LIMIT):
            flt = f"id in ({','.join(odata_str(i) for i in ids[start:start + IN_LIMIT])})"
            requests.append({"method": "GET", "url": "/users?" + urlencode({**params, "$filter": flt},
                                                                        quote_via=quote, safe="$,")})
        found = {}
        answers = self.batch(requests) if len(requests) > 1 else [self._one_read(requests[0])]
        for answer in answers:
            error = item_error(answer)
            if error is not None:
                raise error
            found.update({u["id"]: u for u in (answer.get("body") or {}).get("value", [])})
        return found

    def _one_read(self, request):
        """A single read sent directly, shaped like a `$batch` answer (no batch needed for one)."""
        return {"status": 200, "body": self._request("GET", request["url"])}

    def revoke_sign_in_sessions(self, user_id):
        """POST /users/{id}/revokeSignInSessions; True when Graph accepted it."""
        answer = self._request("POST", f"/users/{_seg(user_id)}/revokeSignInSessions")
        return bool((answer or {}).get("value", True))

    def member_of(self, user_id, transitive=False, select=None):
        """The groups and roles the user belongs to (directly, or transitively)."""
        rel = "transitiveMemberOf" if transitive else "memberOf"
        params = {"$select": ",".join(select)} if select else None
        return list(self.iter_pages(f"/users/{_seg(user_id)}/{rel}", params))

    # -- licences, groups, domains ----------------------------------------------------------------

    def subscribed_skus(self, *, priority=None):
        """GET /subscribedSkus: the tenant's licences with prepaid and consumed units."""
        return (self._request("GET", "/subscribedSkus", priority=priority) or {}).get("value", [])

    def assign_license(self, user_id, add, remove=(), *, priority=None):
        """POST /users/{id}/assignLicense; both arrays are always sent (facts/graph.md §2.1)."""
        req = self.assign_license_request(user_id, add, remove)
        return self._request("POST", req["url"], json=req["body"], priority=priority)

    @staticmethod
    def create_user_request(body):
        """POST /users as a `$batch` request."""
        return {"method": "POST", "url": "/users", "body": body}

    @staticmethod
    def assign_license_request(user_id, add, remove=()):
        """The assignLicense call as a `$batch` request ({method, url, body})."""
        body = {"addLicenses": [{"skuId": a["skuId"], "disabledPlans": list(a.get("disabledPlans") or [])}
                                for a in add],
                "removeLicenses": list(remove)}
        return {"method": "POST", "url": f"/users/{_seg(user_id)}/assignLicense", "body": body}

    def group_members(self, group_id, transitive=False, select=None):
        """Yield a group's members (directly, or transitively), page by page."""
        rel = "transitiveMembers" if transitive else "members"
        params = {"$select": ",".join(select)} if select else None
        return self.iter_pages(f"/groups/{_seg(group_id)}/{rel}", params)

    def get_domain(self, name, *, priority=None):
        """GET /domains/{name}: authenticationType (Managed/Federated) and isVerified."""
        return self._request("GET", f"/domains/{_seg(name)}", priority=priority)

    # -- $batch ------------------------------------------------------------------------------------

    def batch(self, requests):
        """Run requests ({method, url, headers?, body?}) via $batch; responses come back in input order.

        Chunks of at most 20; inner 429/503/504 answers are retried on their own after their inner
        Retry-After, within the retry policy. Check each response with item_error().
        """
        results = [None] * len(requests)
        for start in range(0, len(requests), BATCH_LIMIT):
            chunk = {i: requests[i] for i in range(start, min(start + BATCH_LIMIT, len(requests)))}
            self._batch_chunk(chunk, results)
        return results

    def _batch_chunk(self, pending, results):
        waited = 0.0
        for attempt in range(1, self.retry.max_attempts + 1):
            answers = self._send_batch(pending)
            for index, answer in answers.items():
                results[index] = answer
            pending = {i: pending[i] for i, a in answers.items() if int(a.get("status", 500)) in RETRY_STATUS}
            if not pending or attempt == self.retry.max_attempts:
                return
            hints = [retry_after_s(answers[i].get("headers")) for i in pending]
            hints = [h for h in hints if h is not None]
            delay = (self.retry.after_hint(max(hints), self._retrier.rng) if hints
                     else self.retry.backoff(attempt, self._retrier.rng))
            if waited + delay > self.retry.max_total_wait_s:
                return
            self.sleep(delay)
            waited += delay

    def _send_batch(self, pending):
        inner = []
        for index, req in pending.items():
            item = {"id": str(index), "method": req.get("method", "GET").upper(), "url": req["url"]}
            if req.get("body") is not None:
                item["body"] = req["body"]
                item["headers"] = {"Content-Type": "application/json", **(req.get("headers") or {})}
            elif req.get("headers"):
                item["headers"] = dict(req["headers"])
            inner.append(item)
        answer = self._request("POST", "/$batch", json={"requests": inner}) or {}
        by_id = {int(r["id"]): r for r in answer.get("responses", []) if str(r.get("id", "")).isdigit()}
        missing = {"status": 502, "body": {"error": {"code": "MissingBatchResponse",
                                                     "message": "No answer for this request in $batch"}}}
        return {i: by_id.get(i, dict(missing, id=str(i))) for i in pending}

    # -- lifecycle sync ----------------------------------------------------------------------------

    def get_manager(self, user_id):
        """GET /users/{id}/manager ($select id, userPrincipalName); NotFound when there is none."""
        return self._request("GET", f"/users/{_seg(user_id)}/manager",
                             params={"$select": "id,userPrincipalName"})

    def get_deleted_item(self, object_id):
        """GET /directory/deletedItems/{id}: a soft-deleted object (restorable for 30 days)."""
        return self._request("GET", f"/directory/deletedItems/{_seg(object_id)}")

    def restore_deleted_item(self, object_id):
        """POST /directory/deletedItems/{id}/restore (the extract declares the JSON body required: send {})."""
        return self._request("POST", f"/directory/deletedItems/{_seg(object_id)}/restore", json={})

    def delta_page(self, link_or_path, params=None):
        """One page of a delta round: a path with params to start, or a nextLink/deltaLink to go on."""
        return self._request("GET", link_or_path, params=params) or {}

    def subscriptions(self):
        """GET /subscriptions: this application's change-notification subscriptions."""
        return list(self.iter_pages("/subscriptions"))

    def create_subscription(self, body):
        """POST /subscriptions (Graph validates notificationUrl before answering)."""
        return self._request("POST", "/subscriptions", json=body)

    def renew_subscription(self, sub_id, expires_iso):
        """PATCH /subscriptions/{id} with a new expirationDateTime."""
        return self._request("PATCH", f"/subscriptions/{_seg(sub_id)}", json={"expirationDateTime": expires_iso})

    def reauthorize_subscription(self, sub_id):
        """POST /subscriptions/{id}/reauthorize (answer to a reauthorizationRequired lifecycle event)."""
        return self._request("POST", f"/subscriptions/{_seg(sub_id)}/reauthorize")

    def delete_subscription(self, sub_id):
        """DELETE /subscriptions/{id}."""
        self._request("DELETE", f"/subscriptions/{_seg(sub_id)}")

    def iter_risky_users(self, filter=None, top=500):
        """Yield riskyUsers (Identity Protection, Entra ID P2), page by page."""
        params = {"$top": str(top), **({"$filter": filter} if filter else {})}
        return self.iter_pages("/identityProtection/riskyUsers", params)

    # -- back-provisioning -------------------------------------------------------------------------

    def invite(self, email, display_name, redirect_url, *, send_message=False):
        """POST /invitations: a B2B guest for email (Learn invitation-post, facts/graph.md §9).

        Inviting an address that already has a guest makes no second user; the answer names that guest.
        """
        body = {"invitedUserEmailAddress": email, "inviteRedirectUrl": redirect_url,
                "sendInvitationMessage": bool(send_message)}
        if display_name:
            body["invitedUserDisplayName"] = display_name
        return self._request("POST", "/invitations", json=body)
