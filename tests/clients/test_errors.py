"""Error translation for Graph, Entra and Auth0 answers, and the OData string literal."""
import pytest

from service.clients import auth0 as a0
from service.clients import graph as g
from service.clients.entra import token_error
from service.errors import (AuthFailed, BadRequest, CompanionError, Conflict, NotFound, Throttled,
                            Transient)


@pytest.mark.parametrize("value, literal", [
    ("O'Brien", "'O''Brien'"),
    ("plain", "'plain'"),
    ("", "''"),
    ("O''Brien", "'O''''Brien'"),
    ("'", "''''"),
])
def test_odata_str_doubles_single_quotes(value, literal):
    assert g.odata_str(value) == literal


def _graph_body(code, message, details=None, request_id="req-1"):
    err = {"code": code, "message": message, "innerError": {"request-id": request_id, "date": "x"}}
    if details is not None:
        err["details"] = details
    return {"error": err}


def test_graph_duplicate_upn_is_conflict_with_target_from_details():
    body = _graph_body("Request_BadRequest",
                       "Another object with the same value for property userPrincipalName already exists.",
                       [{"code": "ObjectConflict", "target": "userPrincipalName"}])
    err = g.translate_error(400, body)
    assert isinstance(err, Conflict) and err.status == 409
    assert err.target == "userPrincipalName" and err.code == "Request_BadRequest"
    assert err.request_id == "req-1" and err.to_body()["target"] == "userPrincipalName"


def test_graph_conflict_target_from_message_when_no_details():
    body = _graph_body("Request_BadRequest",
                       "Another object with the same value for property onPremisesImmutableId already exists.")
    err = g.translate_error(400, body)
    assert isinstance(err, Conflict) and err.target == "onPremisesImmutableId"


def test_graph_other_400_is_bad_request_with_vendor_fields():
    text = "License assignment cannot be done for user with invalid usage location."
    err = g.translate_error(400, _graph_body("Request_BadRequest", text,
                                             [{"code": "InvalidValue", "target": "usageLocation"}]))
    assert type(err) is BadRequest and err.status == 422
    assert err.vendor_message == text and text in err.message
    assert err.target == "usageLocation" and err.http_status == 400


@pytest.mark.parametrize("status, cls", [(401, AuthFailed), (403, AuthFailed), (404, NotFound),
                                         (503, Transient), (504, Transient), (500, Transient),
                                         (409, BadRequest)])
def test_graph_status_classes(status, cls):
    err = g.translate_error(status, _graph_body("SomeCode", "text"))
    assert type(err) is cls and isinstance(err, CompanionError)


def test_graph_429_carries_retry_after_and_tolerates_a_non_json_body():
    err = g.translate_error(429, None, {"Retry-After": "7"})
    assert isinstance(err, Throttled) and isinstance(err, Transient)
    assert err.retry_after == 7.0 and err.to_body()["retry_after"] == 7.0


def test_graph_request_id_falls_back_to_response_header():
    err = g.translate_error(404, {"error": {"code": "Request_ResourceNotFound", "message": "gone"}},
                            {"request-id": "hdr-id"})
    assert err.request_id == "hdr-id" and err.code == "Request_ResourceNotFound"


def test_batch_item_error():
    assert g.item_error({"id": "1", "status": 200, "body": {}}) is None
    err = g.item_error({"id": "1", "status": 404, "body": _graph_body("Request_ResourceNotFound", "x")})
    assert isinstance(err, NotFound)


@pytest.mark.parametrize("status, cls", [(409, Conflict), (404, NotFound), (400, BadRequest),
                                         (401, AuthFailed), (403, AuthFailed), (503, Transient)])
def test_auth0_status_classes(status, cls):
    body = {"statusCode": status, "error": "Some Error", "message": "text", "errorCode": "some_code"}
    err = a0.translate_error(status, body)
    assert type(err) is cls and err.code == "some_code" and err.vendor_message == "text"


def test_auth0_429_wait_prefers_retry_after_then_ratelimit_reset():
    assert a0.wait_hint({"Retry-After": "3", "x-ratelimit-reset": "2000"}, now=1000) == 3.0
    assert a0.wait_hint({"x-ratelimit-reset": "1004"}, now=1000) == 4.0
    assert a0.wait_hint({"x-ratelimit-reset": "990"}, now=1000) == 0.0
    assert a0.wait_hint({}, now=1000) is None
    err = a0.translate_error(429, {"statusCode": 429, "error": "Too Many Requests", "message": "slow"},
                             {"Retry-After": "2"})
    assert isinstance(err, Throttled) and err.retry_after == 2.0


def test_auth0_token_endpoint_error_body():
    err = a0.translate_error(401, {"error": "access_denied", "error_description": "Unauthorized"})
    assert isinstance(err, AuthFailed) and err.code == "access_denied"


def test_entra_token_error_names_the_aadsts_code_but_never_the_secret():
    secret = "Sup3r~Secret.Value"
    result = {"error": "invalid_client", "error_codes": [7000215], "correlation_id": "corr",
              "error_description": f"AADSTS7000215: Invalid client secret provided ({secret}).\r\nTrace ID: x"}
    err = token_error(result, secret)
    assert isinstance(err, AuthFailed) and err.code == "AADSTS7000215"
    assert "AADSTS7000215" in err.message and "invalid_client" in err.message
    for text in (err.message, err.vendor_message, str(err), repr(err.log_fields())):
        assert secret not in text
    assert err.request_id == "corr"


def test_entra_temporarily_unavailable_is_transient():
    err = token_error({"error": "temporarily_unavailable", "error_description": "AADSTS50196: loop"})
    assert type(err) is Transient and err.code == "AADSTS50196"
