"""Every operation of /openapi.json, fuzzed by schemathesis against the real app: no 5xx, no answer outside it."""
from hypothesis import HealthCheck, settings
from schemathesis import checks

import schemathesis
from tests.fuzz.conftest import ADMIN_KEY, EVENTS_TOKEN

schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


def _credentials(case, fuzzed, body=None, path_parameters=None):
    """The token a legitimate caller of this operation would send (the fuzzed input stays the rest)."""
    path = case.operation.path
    body = case.body if body is None else body
    path_parameters = case.path_parameters if path_parameters is None else path_parameters
    if path.startswith("/v1/admin/"):
        return f"Bearer {ADMIN_KEY}"
    if path == "/v1/events/auth0":
        return f"Bearer {EVENTS_TOKEN}"
    if path == "/v1/o365/provision" and isinstance(body, dict) and isinstance(body.get("user_id"), str):
        return "Bearer " + fuzzed.action_token(body["user_id"] or "x")
    if path == "/v1/o365/provision/{user_id}":
        return "Bearer " + fuzzed.action_token(str(path_parameters.get("user_id")) or "x")
    return None


def _genuine(case, fuzzed):
    """Half the Graph notification items carry the real clientState, so parsing is reached too."""
    items = case.body.get("value") if isinstance(case.body, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and i % 2 == 0:
            item["clientState"] = fuzzed.client_state


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_and_every_answer_is_described(case, fuzzed):
    if case.operation.path == "/v1/events/graph":
        _genuine(case, fuzzed)
    token = _credentials(case, fuzzed)
    headers = {"Authorization": token} if token else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
