"""One place that turns errors into JSON bodies that name the field and the fix, never a secret."""
import logging

from flask import g, jsonify
from werkzeug.exceptions import HTTPException

from service.errors import CompanionError
from service.identity import InvalidUser
from service.licensing import LicenceUnavailable

log = logging.getLogger("companion.errors")


class ApiError(Exception):
    """An error our own API returns as is."""

    def __init__(self, status, code, message, field=None, reference=None):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.reference = status, code, message, field, reference


def _body(code, message, field=None, reference=None):
    error = {"code": code, "message": message, "reference": reference or g.get("request_id")}
    if field:
        error["field"] = field
    return {"error": error}


def register(app):
    """Install the handlers on app."""

    @app.errorhandler(ApiError)
    def _api_error(err):
        return jsonify(_body(err.code, err.message, err.field, err.reference)), err.status

    @app.errorhandler(InvalidUser)
    def _invalid_user(err):
        return jsonify(_body("invalid_field", err.message, err.field)), 400

    @app.errorhandler(LicenceUnavailable)
    def _licence(err):
        return jsonify(_body("licence_unavailable", str(err))), 409

    @app.errorhandler(CompanionError)
    def _companion(err):
        log.warning("upstream error", extra={"fields": err.log_fields()})
        return jsonify(_body(err.kind, err.message, err.target)), err.status

    @app.errorhandler(HTTPException)
    def _http(err):
        return jsonify(_body(err.name.lower().replace(" ", "_"), err.description)), err.code

    @app.errorhandler(Exception)
    def _unexpected(err):
        log.exception("unexpected error")
        return jsonify(_body("internal_error", "Something went wrong; quote the reference to support.")), 500
