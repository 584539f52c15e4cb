"""What every route module shares: the Route record, the per-request context and the reply."""
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable

from emulators.graph.errors import GraphError

MAX_BODY = 4 * 1024 * 1024  # Graph rejects request bodies over 4 MB with 413 (Learn `graph/json-batching`)
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


@dataclass
class Route:
    """One operation: HTTP method, werkzeug rule, handler, base resource-unit cost, response entity."""

    method: str
    rule: str
    handler: Callable
    ru: int = 1
    entity: str | None = None

    @property
    def template(self):
        """The rule as a stats key, e.g. `/v1.0/users/{id}/assignLicense`."""
        return re.sub(r"<([^>]+)>", lambda m: "{tenant}" if m.group(1) == "tenant" else "{id}", self.rule)


@dataclass
class Reply:
    """A handler's answer before it becomes a werkzeug Response."""

    status: int
    body: object = None
    headers: dict = field(default_factory=dict)
    content_type: str = JSON_TYPE
    raw: bytes | None = None


class Ctx:
    """One request as the handlers see it: app, werkzeug request, ids, base URL, parsed body."""

    def __init__(self, app, request, inner=False):
        self.app, self.req, self.inner = app, request, inner
        self.store = app.store
        self.args = request.args
        self.request_id = str(uuid.uuid4())
        self.client_request_id = request.headers.get("client-request-id") or self.request_id
        self.base = request.host_url.rstrip("/")
        self.route, self.params, self.route_error = None, {}, None
        self.claims = {}

    def raw_body(self):
        """The request body bytes (413 over 4 MB, checked before reading it all)."""
        length = self.req.content_length
        if length is not None and length > MAX_BODY:
            raise too_large()
        data = self.req.get_data(cache=True)
        if len(data) > MAX_BODY:
            raise too_large()
        return data

    def json(self, required=True):
        """The JSON body as a dict (400 BadRequest when malformed or not an object)."""
        data = self.raw_body()
        if not data.strip():
            if required:
                raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
            return {}
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                             "header is set and payload is of valid JSON format.") from None
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload: an object was expected.")
        return body


def too_large():
    """413 for a body over Graph's 4 MB limit."""
    return GraphError(413, "RequestEntityTooLarge", "The request payload is larger than the 4 MB limit.")
