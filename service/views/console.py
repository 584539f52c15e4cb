"""The operator console at /admin: sign-in with Auth0, the session, CSRF, security headers and error pages.

The pages themselves are in console_pages (a blueprint nested in this one, so this gate covers them).
"""
import datetime as dt
import hashlib
import hmac
import logging
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from service.console import actions, signin
from service.views import console_pages

bp = Blueprint("console", __name__, url_prefix="/admin", static_folder="../static", static_url_path="/static")
bp.register_blueprint(console_pages.bp)
csrf = CSRFProtect()
log = logging.getLogger("companion.console")
OPEN = {"console.login", "console.callback", "console.logout", "console.signed_out", "console.static"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _companion():
    return current_app.extensions["companion"]


@bp.record_once
def _setup(state):
    """Session cookie, CSRF and the Auth0 client, configured once on the app this blueprint joins."""
    app, s = state.app, state.app.extensions["companion"].settings
    # Secure is off only for plain http on loopback (the sandbox and tests); settings refuse http elsewhere.
    secure = not (s.companion_public_url.startswith("http://") and urlparse(s.companion_public_url).hostname in LOOPBACK)
    app.config.update(
        SECRET_KEY=hmac.new(s.companion_secret.encode(), b"console-session", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="__Host-companion-console" if secure else "companion-console",
        SESSION_COOKIE_SECURE=secure, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Lax, not Strict: Auth0's redirect back to the callback must carry it
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=s.console_session_hours),
        WTF_CSRF_CHECK_DEFAULT=False)  # only the console's forms; the JSON APIs authenticate by bearer token
    csrf.init_app(app)
    if s.console_client_id:
        signin.init_app(app, s)


@bp.before_request
def _gate():
    """Console off → say how to turn it on; POST → CSRF token; everything but sign-in → an operator."""
    s = _companion().settings
    if not s.console_client_id:
        return _page("The console is not enabled", "Set CONSOLE_CLIENT_ID and CONSOLE_CLIENT_SECRET (an Auth0 "
                     "Regular Web Application) and restart the service; README, \"Operator console\".", 404)
    if request.method == "POST":
        csrf.protect()
    g.operator = session.get("operator")
    if request.endpoint in OPEN or g.operator:
        return None
    if request.method == "GET":
        return redirect(url_for("console.login"))
    return _page("Sign in first", "Your console session has ended. Sign in again and repeat the action.", 401)


@bp.after_request
def _headers(response):
    """A strict Content-Security-Policy (no script at all, styles from our own file) and no caching."""
    auth0 = urlparse(_companion().settings.auth0_api_base_url)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self' {auth0.scheme}://{auth0.netloc}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("when")
def _when(value):
    """A timestamp as operators read it: UTC, to the minute (SQLite hands back naive UTC values)."""
    if not isinstance(value, dt.datetime):
        return value if value is not None else "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _page(title, message, status, **extra):
    return render_template("console/message.html", title=title, message=message, **extra), status


@bp.errorhandler(CSRFError)
def _csrf_refused(err):
    return _page("The form could not be accepted", "It had expired or did not come from this console "
                 f"({err.description}). Go back, reload the page and try again.", 400)


@bp.errorhandler(actions.NotPossible)
def _not_possible(err):
    return _page("That could not be done", str(err), 409)


@bp.errorhandler(HTTPException)
def _http(err):
    return _page(err.name, "There is no such page in the console." if err.code == 404 else err.description, err.code)


@bp.errorhandler(Exception)
def _unexpected(err):
    log.exception("console error")
    return _page("Something went wrong", "The console could not finish this request. Quote this reference to "
                 f"whoever runs the service: {g.get('request_id')}.", 500)


@bp.get("/<path:_rest>")
def _unknown(_rest):
    """Unknown console paths get the console's own 404 page (not the API's JSON)."""
    return _page("Not found", "There is no such page in the console.", 404)


# -- sign-in and sign-out ----------------------------------------------------------------------------------

def _public(path):
    return _companion().settings.companion_public_url + path


@bp.get("/login")
def login():
    """Send the browser to Auth0's /authorize (authorization code with PKCE)."""
    if g.operator:
        return redirect(url_for("console.pages.overview_page"))
    try:
        return signin.start(current_app, _public("/admin/callback"))
    except signin.SignInFailed as why:
        return _page("Sign-in is unavailable", str(why), 503)


@bp.get("/callback")
def callback():
    """Auth0 came back: check the ID token, then whether this person is an operator."""
    c = _companion()
    try:
        claims = signin.finish(current_app)
        person = signin.operator(claims, c.settings, c.auth0)
    except signin.SignInFailed as why:
        return _page("You are not signed in", str(why), 401, sign_in=True)
    session.clear()  # a fresh session at every sign-in (no fixation)
    if person is None:
        who = {"sub": claims["sub"], "email": (claims.get("email") or "").lower()}
        actions.record(c.store, "console.sign_in.refused", "refused", who, who["sub"])
        return _page("You are not an operator", f"You signed in as {who['email'] or who['sub']}, who does not "
                     f"hold the {c.settings.console_operator_role!r} role in Auth0. Ask an administrator for it, "
                     "or sign out and use another account.", 403, sign_out=True)
    session.permanent = True
    session["operator"] = person
    actions.record(c.store, "console.signed_in", "ok", person, person["sub"], via=person["via"])
    return redirect(url_for("console.pages.overview_page"))


@bp.post("/logout")
def logout():
    """End the console session, then Auth0's (/v2/logout) so the next sign-in asks again."""
    c = _companion()
    if g.operator:
        actions.record(c.store, "console.signed_out", "ok", g.operator, g.operator["sub"])
    session.clear()
    return redirect(signin.logout_url(c.settings, _public("/admin/signed-out")), 303)


@bp.get("/signed-out")
def signed_out():
    """Where Auth0 sends the browser after sign-out."""
    return _page("You are signed out", "Your console session has ended.", 200, sign_in=True)
