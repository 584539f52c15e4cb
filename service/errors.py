"""Errors named for what the caller should do next, each with its own HTTP status and a safe message.

The vendor's `code`, `request_id` and message are kept for logs and the audit trail; `message` is what our
own API may show. Neither ever holds a secret or a token: clients build them from vendor error bodies and
fixed text only.
"""


class CompanionError(Exception):
    """Base of every error the service raises on purpose."""

    status = 500
    kind = "internal_error"

    def __init__(self, message, *, vendor=None, code=None, vendor_message=None, request_id=None,
                 http_status=None, target=None):
        super().__init__(message)
        self.message = message
        self.vendor = vendor                  # "graph", "entra", "auth0" or None
        self.code = code                      # vendor error code, e.g. Request_BadRequest, AADSTS7000215
        self.vendor_message = vendor_message  # vendor's own text, for logs and audit
        self.request_id = request_id          # vendor request id, for support cases
        self.http_status = http_status        # the vendor's HTTP status
        self.target = target                  # the property the vendor blamed, if any

    def to_body(self):
        """The JSON body our API returns for this error."""
        body = {"error": self.kind, "message": self.message}
        if self.target:
            body["target"] = self.target
        return body

    def log_fields(self):
        """Everything worth logging or auditing about the vendor's answer."""
        return {"kind": self.kind, "vendor": self.vendor, "code": self.code, "http_status": self.http_status,
                "vendor_request_id": self.request_id, "target": self.target,
                "vendor_message": self.vendor_message}


class Transient(CompanionError):
    """The vendor is unavailable or timed out: retry later."""

    status = 503
    kind = "transient"


class Throttled(Transient):
    """The vendor throttled us and our retry budget ran out: retry after `retry_after` seconds."""

    status = 503
    kind = "throttled"

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def to_body(self):
        body = super().to_body()
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


class NotFound(CompanionError):
    """The object does not exist (or has not replicated yet): create it, or wait and look again."""

    status = 404
    kind = "not_found"


class Conflict(CompanionError):
    """An object with the same unique value already exists: look it up and link to it."""

    status = 409
    kind = "conflict"


class BadRequest(CompanionError):
    """The vendor rejected the data we sent: fix the data, retrying will not help."""

    status = 422
    kind = "bad_request"


class AuthFailed(CompanionError):
    """Credentials, consent, permissions or TLS trust are wrong: fix the configuration."""

    status = 502
    kind = "auth_failed"


class DryRunBlocked(CompanionError):
    """A write was refused because the service runs in dry-run mode; nothing was sent."""

    status = 409
    kind = "dry_run"

    def __init__(self, message, *, method=None, path=None, **kwargs):
        super().__init__(message, **kwargs)
        self.method, self.path = method, path
