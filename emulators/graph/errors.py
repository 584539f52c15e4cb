"""Graph's error body and the exception every handler raises to produce one."""
from datetime import datetime, timezone


class GraphError(Exception):
    """An error answer: HTTP status, Graph error code, message, optional details and headers."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, dict(headers or {})


def error_body(code, message, request_id, client_request_id, details=None):
    """The `{"error": {code, message, innerError}}` shape of every Graph error (facts §1.3)."""
    inner = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    body = {"code": code, "message": message, "innerError": inner}
    if details:
        body["details"] = details
    return {"error": body}


def bad_request(message, target=None, detail_code="InvalidValue"):
    """400 Request_BadRequest, with a details entry naming the property when target is given."""
    details = [{"code": detail_code, "message": message, "target": target}] if target else None
    return GraphError(400, "Request_BadRequest", message, details)


def not_found(key):
    """404 Request_ResourceNotFound with Entra's wording (facts §1.3, §3)."""
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property "
                      "objects are not present.")


def conflict(prop):
    """Uniqueness violation as Entra reports it (microsoft-graph-docs issue #1508)."""
    message = f"Another object with the same value for property {prop} already exists."
    return GraphError(400, "Request_BadRequest", message,
                      [{"code": "ObjectConflict", "message": message, "target": prop}])


def unsupported_query(message="Unsupported Query."):
    """400 Request_UnsupportedQuery for $filter/$orderby forms Graph does not serve."""
    return GraphError(400, "Request_UnsupportedQuery", message)
