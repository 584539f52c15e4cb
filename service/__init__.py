"""Entra Companion for Auth0: the companion service (Flask application factory)."""
from flask import Flask

from service import logs
from service.companion import Companion
from service.settings import from_env
from service.views import admin, api, auth0_events, console, errors, events, health, o365, openapi
from service.views import metrics as metrics_view


MAX_BODY_BYTES = 1 << 20  # no caller of ours sends more than a user profile or a notification batch
STATIC_MAX_AGE_S = 3600   # a waiting page reloads every second or so: its script must come from the cache


def create_app(settings=None):
    """Build the Flask app from Settings (read from the environment when not given)."""
    settings = settings or from_env()
    logs.configure(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = STATIC_MAX_AGE_S
    app.extensions["companion"] = Companion.build(settings)
    app.before_request(logs.begin_request)
    app.after_request(logs.end_request)
    errors.register(app)
    for blueprint in (health.bp, o365.bp, api.bp, events.bp, auth0_events.bp, admin.bp, console.bp, openapi.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(metrics_view.bp)
    return app
