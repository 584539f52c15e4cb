"""Check a running companion's answers against its own /openapi.json."""
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse


def described(stack, outside):
    """A requests hook recording in `outside` every answer of the companion that /openapi.json does not describe."""
    openapi = OpenAPI.from_dict(stack.http.get(f"{stack.url}/openapi.json", timeout=30).json())

    def check(resp, *_args, **_kwargs):
        if resp.url.startswith(stack.url):
            try:
                openapi.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))
            except Exception as err:  # noqa: BLE001 - every kind of mismatch is recorded for the assertion
                outside.append(f"{resp.request.method} {resp.url} {resp.status_code}: {err}")
    return check
