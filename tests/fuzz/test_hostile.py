"""Hostile inputs for every operation of /openapi.json (hypothesis): no 5xx, every answer described.

Schema-driven cases are drawn by schemathesis, then one input (a body leaf, a query or path parameter) is
replaced by something a hostile caller sends: NUL, control characters, lone surrogates, full-width URL
punctuation, values of the wrong JSON type, numbers out of every range; or the whole body is nested
tens of thousands of levels deep; or the bearer token's claims are malformed. For the provisioning call
text nobody can store or forward must be refused (4xx), never accepted.
"""
import json
import time
import unicodedata
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from jose import jwt

from service import sandbox, tokens
from service.views.openapi import SPEC_PATH
from tests.fuzz.conftest import ADMIN_KEY, EVENTS_TOKEN
from tests.fuzz.test_operations import CHECKS, _credentials, _genuine

with open(SPEC_PATH, encoding="utf-8") as _fh:
    OPERATIONS = [(method.upper(), path) for path, item in yaml.safe_load(_fh)["paths"].items() for method in item]
JSON_OPERATIONS = [(m, p) for m, p in OPERATIONS if m == "POST" and "approve" not in p]
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

_pieces = st.sampled_from(["\x00", "\ud800", "\udfff", "\x07", "\x1b[31m", "\u202e", "／", "＃", "℀", "[", "]",
                           "%00", "\\", "@", ":99999", "https://", "//", "\r\n", "'", '"', "é", "\uffff"])
HOSTILE_TEXT = st.lists(st.one_of(_pieces, st.text(max_size=8)), min_size=1, max_size=6).map("".join)
HOSTILE_URL = st.builds(lambda a, b, c: f"https://{a}contoso.sharepoint.com{b}/{c}", HOSTILE_TEXT, HOSTILE_TEXT,
                        HOSTILE_TEXT)
WRONG_TYPE = st.one_of(st.just(None), st.booleans(), st.just(1e30), st.just(10**30), st.just(-1),
                       st.floats(allow_nan=False), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
HOSTILE_VALUE = st.one_of(HOSTILE_TEXT, HOSTILE_URL, WRONG_TYPE)


SKEW_S = 60  # README: an Action token's iat may be at most a minute ahead


def _unusable(value):
    """Text no database or Graph field should take: control characters or lone surrogates (test's own oracle)."""
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def _leaves(value, path=()):
    """Every (path, value) below value, containers included."""
    yield path, value
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _leaves(child, (*path, key))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _inputs(case):
    """The case's inputs as plain data we may change (the case itself stays as schemathesis made it)."""
    body = None if type(case.body).__name__ == "NotSet" else case.body
    return {"body": body, "query": dict(case.query or {}), "path": dict(case.path_parameters or {})}


def _hostile(case, inputs, data):
    """Replace one input by a hostile value; return that value."""
    body = inputs["body"]
    spots = [("body", p) for p, _ in _leaves(body)] if isinstance(body, (dict, list)) else []
    spots += [("query", (k,)) for k in inputs["query"]] + [("path", (k,)) for k in inputs["path"]]
    spots += [("query", ("target",))] if case.operation.path == "/v1/o365/links" else []
    if not spots:
        return None
    where, path = data.draw(st.sampled_from(spots))
    new = data.draw(HOSTILE_VALUE)
    if where == "body":
        inputs["body"] = _replace(body, path, new)
    else:
        inputs[where][path[0]] = new
    return new


def _send(fuzzed, case, inputs, raw_body=None, auth=None):
    """Send the inputs through the WSGI app as bytes (surrogates escaped as JSON does), check the answer."""
    path = case.operation.path
    for name, value in inputs["path"].items():
        path = path.replace("{" + name + "}", quote(str(value).encode("utf-8", "surrogatepass"), safe=""))
    query = {k: str(v).encode("utf-8", "surrogatepass") for k, v in inputs["query"].items() if v is not None}
    body = raw_body if raw_body is not None else (None if inputs["body"] is None else json.dumps(inputs["body"]))
    headers = {"Authorization": auth} if auth else {}
    resp = fuzzed.app.test_client().open(path, method=case.method, query_string=query, data=body, headers=headers,
                                         content_type="application/json" if body is not None else None)
    case.validate_response(resp, checks=CHECKS)
    return resp


def _case(api_schema, method, path, data):
    return data.draw(api_schema[path][method].as_strategy())


@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@FUZZ
@given(data=st.data())
def test_one_hostile_input_never_gives_a_server_error(api_schema, fuzzed, method, path, data):
    case = _case(api_schema, method, path, data)
    if path == "/v1/events/graph":
        _genuine(case, fuzzed)
    inputs = _inputs(case)
    new = _hostile(case, inputs, data)
    resp = _send(fuzzed, case, inputs, auth=_credentials(case, fuzzed, inputs["body"], inputs["path"]))
    if path == "/v1/o365/provision" and isinstance(new, str) and _unusable(new):
        assert resp.status_code >= 400, f"{new!r} was accepted: {resp.get_data(as_text=True)[:200]}"


@pytest.mark.parametrize("method,path", JSON_OPERATIONS, ids=[f"{m} {p}" for m, p in JSON_OPERATIONS])
@FUZZ
@given(data=st.data(), depth=st.integers(1, 60000), opener=st.sampled_from(["[", '{"a":']))
def test_deeply_nested_bodies_never_give_a_server_error(api_schema, fuzzed, method, path, data, depth, opener):
    case = _case(api_schema, method, path, data)
    raw = opener * depth + "1" + ("]" if opener == "[" else "}") * depth
    resp = _send(fuzzed, case, _inputs(case), raw_body=raw, auth=_credentials(case, fuzzed))
    assert resp.status_code < 500


CLAIM = st.one_of(st.integers(-2**63, 2**63), st.text(max_size=12), st.integers(0, 2**40).map(str),
                  st.floats(allow_nan=False), st.booleans(), st.none(), st.lists(st.text(max_size=4), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


@FUZZ
@given(data=st.data(), claims=st.fixed_dictionaries({}, optional={n: CLAIM for n in ("iat", "exp", "aud", "sub",
                                                                                      "nbf", "iss")}))
def test_malformed_action_token_claims_are_refused_with_401(api_schema, fuzzed, data, claims):
    case = _case(api_schema, "POST", "/v1/o365/provision", data)
    now = int(time.time())
    base = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": "auth0|fuzz", "iat": now,
            "exp": now + 60}
    token = jwt.encode({**base, **claims}, sandbox.COMPANION_SECRET, algorithm="HS256")
    resp = _send(fuzzed, case, _inputs(case), auth=f"Bearer {token}")
    full = {**base, **claims}
    well_formed = all(type(full.get(n)) is int for n in ("iat", "exp")) and full.get("aud") == base["aud"]
    if not well_formed or full["iat"] > now + SKEW_S or "aud" not in full:
        assert resp.status_code == 401, (claims, resp.status_code)


def test_the_credentials_used_above_are_the_real_ones(fuzzed):
    """Guards the harness: with these credentials the fuzzed calls get past authentication."""
    client = fuzzed.app.test_client()
    assert client.get("/v1/admin/events", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200
    assert client.post("/v1/events/auth0", json=[], headers={"Authorization": f"Bearer {EVENTS_TOKEN}"}).status_code \
        == 202


NOTE_FIELDS = ("subscriptionId", "clientState", "changeType", "resource", "resourceData", "resourceData.id",
               "lifecycleEvent")


@settings(FUZZ, max_examples=60)
@given(data=st.data(), size=st.integers(1, 6))
def test_a_bad_notification_item_never_costs_the_good_ones(fuzzed, data, size):
    import uuid

    from service.models import SyncEvent
    good, items = [], []
    for _ in range(size):
        oid = str(uuid.uuid4())
        item = {"subscriptionId": "s-1", "changeType": "updated", "clientState": fuzzed.client_state,
                "resource": f"Users/{oid}", "resourceData": {"id": oid}}
        if data.draw(st.booleans()):
            field = data.draw(st.sampled_from(NOTE_FIELDS))
            value = data.draw(st.one_of(HOSTILE_VALUE, st.dictionaries(st.text(max_size=3), HOSTILE_VALUE, max_size=2)))
            item = {**item, "resourceData": {"id": value}} if field == "resourceData.id" else {**item, field: value}
        else:
            good.append(oid)
        items.append(item)
    resp = fuzzed.app.test_client().post("/v1/events/graph", data=json.dumps({"value": items}),
                                         content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)[:300]
    with fuzzed.app.extensions["companion"].store.session() as session:
        kept = set(session.scalars(SyncEvent.__table__.select().with_only_columns(SyncEvent.object_id)
                                   .where(SyncEvent.object_id.in_(good))))
    assert kept == set(good)


PROFILE = st.fixed_dictionaries({}, optional={k: st.one_of(HOSTILE_TEXT, WRONG_TYPE) for k in (
    "email", "name", "nickname", "given_name", "family_name", "username", "connection", "usage_location")})


@FUZZ
@given(user=PROFILE, sub=st.one_of(st.just("google-oauth2|browser"), HOSTILE_TEXT), state=HOSTILE_TEXT)
def test_the_browser_leg_answers_a_page_whatever_the_signed_profile_holds(fuzzed, user, sub, state):
    now = int(time.time())
    token = jwt.encode({"iss": sandbox.AUTH0_DOMAIN, "sub": sub, "iat": now, "exp": now + 60, "user": user},
                       sandbox.COMPANION_SECRET, algorithm="HS256")
    resp = fuzzed.app.test_client().get("/o365/start", query_string={
        "state": state.encode("utf-8", "surrogatepass"), "session_token": token})
    assert resp.status_code in (200, 302, 400, 422), resp.status_code
    assert resp.status_code == 302 or resp.mimetype == "text/html"  # a person never sees JSON
    if resp.status_code in (200, 302):
        assert not any(_unusable(v) for v in (sub, *[v for v in user.values() if isinstance(v, str)]))
