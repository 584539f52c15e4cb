"""One place that turns errors into JSON bodies that name the field and the fix, never a secret."""
import logging

from flask import g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from service.errors import CompanionError
from service.identity import InvalidUser
from service.licensing import LicenceUnavailable

log = logging.getLogger("companion.errors")
BROWSER_BLUEPRINTS = ("o365",)  # people in a browser get a page, never JSON
CONSOLE_PREFIX = "/admin"  # the operator console's pages; a routing error there (e.g. 405) has no blueprint
PAGE_RETRY = "Office 365 sign-in could not be completed right now. Please open Office 365 again in a few minutes."
PAGE_RESTART = "This sign-in link cannot be used. Open Office 365 again to restart."


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


def _reply(status, code, message, field=None, reference=None):
    """JSON for API callers; on the browser leg, the failure page with the reference (operator text stays out)."""
    if request.blueprint in BROWSER_BLUEPRINTS:
        page = render_template("failed.html", message=PAGE_RETRY if status >= 500 else PAGE_RESTART,
                               reference=reference or g.get("request_id"), continue_url=None)
        return page, status, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}
    if request.blueprint is None and (request.path + "/").startswith(CONSOLE_PREFIX + "/"):
        page = render_template("console/message.html", title="That page cannot be used this way",
                               message="Go back to the console and use its links and buttons.")
        return page, status, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}
    return jsonify(_body(code, message, field, reference)), status


def register(app):
    """Install the handlers on app."""

    @app.errorhandler(ApiError)
    def _api_error(err):
        return _reply(err.status, err.code, err.message, err.field, err.reference)

    @app.errorhandler(InvalidUser)
    def _invalid_user(err):
        return _reply(400, "invalid_field", err.message, err.field)

    @app.errorhandler(LicenceUnavailable)
    def _licence(err):
        return _reply(409, "licence_unavailable", str(err))

    @app.errorhandler(CompanionError)
    def _companion(err):
        log.warning("upstream error", extra={"fields": err.log_fields()})
        return _reply(err.status, err.kind, err.message, err.target)

    @app.errorhandler(HTTPException)
    def _http(err):
        return _reply(err.code, err.name.lower().replace(" ", "_"), err.description)

    @app.errorhandler(Exception)
    def _unexpected(err):
        log.exception("unexpected error")
        return _reply(500, "internal_error", "Something went wrong; quote the reference to support.")
