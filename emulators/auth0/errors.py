"""Auth0's Management API error body and the exception every handler raises to produce one."""
from http import HTTPStatus


class Auth0Error(Exception):
    """An error answer: `{"statusCode", "error", "message", "errorCode"}` plus optional headers."""

    def __init__(self, status, message, error_code=None, headers=None):
        super().__init__(message)
        self.status, self.message, self.error_code = status, message, error_code
        self.headers = dict(headers or {})

    def body(self):
        """The JSON body Auth0 sends (its hapi/boom shape with Auth0's errorCode)."""
        out = {"statusCode": self.status, "error": reason(self.status), "message": self.message}
        if self.error_code:
            out["errorCode"] = self.error_code
        return out


def reason(status):
    """The HTTP reason phrase boom puts in `error` (e.g. "Bad Request")."""
    if status == 413:
        return "Request Entity Too Large"  # boom's wording, older than RFC 9110's "Content Too Large"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def bad_body(message):
    """400 for a payload that breaks the endpoint's schema."""
    return Auth0Error(400, f"Payload validation error: {message}", "invalid_body")


def bad_query(message):
    """400 for a query string that breaks the endpoint's schema."""
    return Auth0Error(400, f"Query validation error: {message}", "invalid_query_string")


def wrong_type(name, expected, value, where="Payload"):
    """400 naming the property whose value has the wrong JSON type."""
    text = f"'Expected type {expected} but found type {json_type(value)}' on property {name}."
    return bad_body(text) if where == "Payload" else bad_query(text)


def json_type(value):
    """The JSON type name of a decoded value, as Auth0's validator words it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "unknown")


def user_not_found():
    """404 for an unknown user id."""
    return Auth0Error(404, "The user does not exist.", "inexistent_user")


def role_not_found():
    """404 for an unknown role id."""
    return Auth0Error(404, "The role does not exist.", "inexistent_role")


def unauthorized(message):
    """401 for a missing, malformed, expired or foreign bearer token."""
    return Auth0Error(401, message)


def insufficient_scope(scopes):
    """403 when the token lacks every scope the endpoint accepts."""
    return Auth0Error(403, f"Insufficient scope, expected any of: {','.join(scopes)}", "insufficient_scope")


def too_many_requests(headers):
    """429 from the token bucket, with the x-ratelimit-* headers (facts §3.6)."""
    return Auth0Error(429, "Global limit has been reached", "too_many_requests", headers)


def payload_too_large(limit):
    """413 for bodies over the 1 MB limit (facts §3)."""
    return Auth0Error(413, f"Payload content length greater than maximum allowed: {limit}")


def not_found_route():
    """404 for a path the Management API does not serve."""
    return Auth0Error(404, "Not Found")
