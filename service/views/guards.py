"""Bearer-token guards for the operator endpoints (admin API, metrics), each with its own setting."""
import hmac

from flask import request

from service.views.errors import ApiError


def require_bearer(expected, variable, endpoint):
    """404 while the setting is unset (the endpoint is off); 401 unless `Authorization: Bearer <value>`."""
    if not expected:
        raise ApiError(404, "disabled", f"Set {variable} to enable {endpoint}.")
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer "):] if header.startswith("Bearer ") else ""  # exactly the scheme, nothing else
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
        raise ApiError(401, "unauthenticated", f"Send 'Authorization: Bearer <{variable}>'.")
