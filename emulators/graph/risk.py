"""Identity Protection: /identityProtection/riskyUsers and /riskDetections, fed by a control call (facts §8).

Learn `riskyuser-list`, `riskdetection-list`: `$filter` and `$select`, default page 20, `$top` at most
500; a riskyUser's id is the user's object id. Identity Protection has its own limit of 1 request per
second per tenant, answered without Retry-After (facts §4.1); the `risk_throttle` knob turns it on.
"""
import itertools
import threading
import time
import uuid

from emulators.graph import odata
from emulators.graph.errors import GraphError, not_found
from emulators.graph.filters import compile_filter
from emulators.graph.routing import Reply, Route

DEFAULT_TOP, MAX_TOP = 20, 500
# Enum members from the extract (microsoft.graph.riskLevel / riskState / riskDetail).
RISK_LEVELS = ("low", "medium", "high", "hidden", "none")
RISK_STATES = ("none", "confirmedSafe", "remediated", "dismissed", "atRisk", "confirmedCompromised")
RISK_DETAILS = ("none", "adminGeneratedTemporaryPassword", "userPerformedSecuredPasswordChange",
                "userPerformedSecuredPasswordReset", "adminConfirmedSigninSafe", "aiConfirmedSigninSafe",
                "userPassedMFADrivenByRiskBasedPolicy", "adminDismissedAllRiskForUser",
                "adminConfirmedSigninCompromised", "hidden", "adminConfirmedUserCompromised")
_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def precise_now():
    """Current UTC time with Graph's 7 fractional digits (risk timestamps are polled with `ge`)."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1_000_000):06d}0Z"


def _throttle(ctx):
    """429 without Retry-After when the tenant asks more than once a second (knob risk_throttle)."""
    if not ctx.app.knobs.risk_throttle:
        return
    store, now = ctx.store, time.monotonic()
    with store.lock:
        last = store.risk_last_call
        if last is not None and now - last < 1.0:
            ctx.app.stats.throttle()
            raise GraphError(429, "TooManyRequests", "Too many requests.")
        store.risk_last_call = now


def _list(ctx, entity, objects, path):
    """One page of risky users or detections: $filter, $select, $top (<= 500), $skiptoken."""
    _throttle(ctx)
    args, schema = ctx.args, ctx.app.schema
    odata.reject_unsupported(args, ("$filter", "$select", "$top", "$skiptoken"))
    select = odata.parse_select(args.get("$select"), schema, entity)
    top = odata.parse_top(args.get("$top"), DEFAULT_TOP, MAX_TOP)
    # Identity Protection filters are not directory queries: ne/not need no advanced-query headers.
    predicate = compile_filter(args["$filter"], schema, entity, advanced=True)[0] if args.get("$filter") else None
    after = odata.decode_skiptoken(args["$skiptoken"]) if "$skiptoken" in args else None
    with ctx.store.lock:
        ordered = sorted(objects.values(), key=lambda o: o["id"])
    page, more = [], False
    for obj in ordered:
        if (after and obj["id"] <= after) or (predicate and not predicate(obj)):
            continue
        if len(page) == top:
            more = True
            break
        page.append(obj)
    body = {"@odata.context": odata.context(ctx.base, path, select)}
    if more:
        body["@odata.nextLink"] = odata.next_link(ctx.base, f"/v1.0/{path}", args, page[-1]["id"])
    fields = schema.fields(entity)
    body["value"] = [odata.project(o, select, fields) if select else dict(o) for o in page]
    return Reply(200, body)


def _get(ctx, entity, objects, oid, path):
    _throttle(ctx)
    select = odata.parse_select(ctx.args.get("$select"), ctx.app.schema, entity)
    obj = objects.get(oid)
    if obj is None:
        raise not_found(oid)
    body = odata.project(obj, select, ctx.app.schema.fields(entity)) if select else dict(obj)
    return Reply(200, {"@odata.context": odata.context(ctx.base, path, select, entity=True), **body})


def list_risky_users(ctx):
    """GET /identityProtection/riskyUsers."""
    return _list(ctx, "riskyUser", ctx.store.risky_users, "identityProtection/riskyUsers")


def get_risky_user(ctx, oid):
    """GET /identityProtection/riskyUsers/{userId}."""
    return _get(ctx, "riskyUser", ctx.store.risky_users, oid, "identityProtection/riskyUsers")


def list_detections(ctx):
    """GET /identityProtection/riskDetections."""
    return _list(ctx, "riskDetection", ctx.store.risk_detections, "identityProtection/riskDetections")


def get_detection(ctx, oid):
    """GET /identityProtection/riskDetections/{id}."""
    return _get(ctx, "riskDetection", ctx.store.risk_detections, oid, "identityProtection/riskDetections")


# --- control call ---
def _choice(body, name, allowed, default):
    value = body.get(name, default)
    if value not in allowed:
        raise GraphError(400, "BadRequest", f"{name} must be one of {', '.join(allowed)}.")
    return value


def raise_risk(ctx):
    """POST /_emulator/risk {"userId", "riskLevel", "riskState", "riskEventType", ...}: set a user's risk."""
    body = ctx.json()
    level = _choice(body, "riskLevel", RISK_LEVELS, "high")
    state = _choice(body, "riskState", RISK_STATES, "atRisk")
    detail = _choice(body, "riskDetail", RISK_DETAILS, "none")
    event = body.get("riskEventType", "leakedCredentials")
    detected = body.get("detectedDateTime") or precise_now()
    if not isinstance(event, str) or not isinstance(detected, str):
        raise GraphError(400, "BadRequest", "riskEventType and detectedDateTime must be strings.")
    store = ctx.store
    with store.lock:
        uid = str(body.get("userId") or "")
        user = store.user(uid, include_lagging=True) or store.deleted.get(uid)
        if user is None:
            raise not_found(uid)
        risky = {"id": user["id"], "isDeleted": user["id"] in store.deleted, "isProcessing": False,
                 "riskLevel": level, "riskState": state, "riskDetail": detail, "riskLastUpdatedDateTime": precise_now(),
                 "userDisplayName": user.get("displayName"), "userPrincipalName": user.get("userPrincipalName")}
        detection = _detection(user, level, state, detail, event, detected, body.get("ipAddress"))
        store.risky_users[user["id"]] = risky
        store.risk_detections[detection["id"]] = detection
    return Reply(200, {"riskyUser": risky, "riskDetection": detection})


def _detection(user, level, state, detail, event, detected, ip_address):
    """A riskDetection record; ids sort in creation order so paging follows arrival."""
    with _sequence_lock:
        sequence = next(_sequence)
    request_id = str(uuid.uuid4())
    return {"id": f"{sequence:016x}{uuid.uuid4().hex}", "requestId": request_id, "correlationId": str(uuid.uuid4()),
            "riskEventType": event, "riskState": state, "riskLevel": level, "riskDetail": detail,
            "source": "IdentityProtection", "detectionTimingType": "offline", "activity": "user",
            "tokenIssuerType": "AzureAD", "ipAddress": ip_address or "203.0.113.10",
            "location": {"city": "Dublin", "state": "Dublin", "countryOrRegion": "IE",
                         "geoCoordinates": {"altitude": None, "latitude": 53.35, "longitude": -6.26}},
            "activityDateTime": detected, "detectedDateTime": detected, "lastUpdatedDateTime": precise_now(),
            "userId": user["id"], "userDisplayName": user.get("displayName"),
            "userPrincipalName": user.get("userPrincipalName"), "additionalInfo": "[]"}


# Identity Protection has its own limit (above), not the directory's resource units.
ROUTES = [
    Route("GET", "/v1.0/identityProtection/riskyUsers", list_risky_users, ru=0, entity="riskyUser"),
    Route("GET", "/v1.0/identityProtection/riskyUsers/<oid>", get_risky_user, ru=0, entity="riskyUser"),
    Route("GET", "/v1.0/identityProtection/riskDetections", list_detections, ru=0, entity="riskDetection"),
    Route("GET", "/v1.0/identityProtection/riskDetections/<oid>", get_detection, ru=0, entity="riskDetection"),
]
CONTROL_ROUTES = [Route("POST", "/_emulator/risk", raise_risk)]
