"""Sign-in with the tenant (OpenID Connect): /authorize, the Universal Login form, the code exchange with PKCE,
/userinfo, discovery and /v2/logout, as Auth0's Authentication API documents them.

Sources: auth0.com/docs/api/authentication (Authorize Application; Get Token, Authorization Code Flow with
PKCE; User Profile; Logout). Codes are single use; S256 is the only challenge method accepted here.
"""
import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from jose.exceptions import JWTError

from emulators.auth0 import oauth
from emulators.auth0.store import now_iso
from emulators.auth0.users import public
from emulators.auth0.errors import Auth0Error
from emulators.auth0.web import Reply

DATABASE = "Username-Password-Authentication"
CODE_TTL_S = 600           # authorization codes and login transactions
ID_TOKEN_LIFETIME_S = 36000  # Auth0's default ID token lifetime (10 h)
ACCESS_TOKEN_LIFETIME_S = 86400
SSO_COOKIE = "auth0"
PROFILE_CLAIMS = ("name", "nickname", "picture", "given_name", "family_name", "updated_at")
EMAIL_CLAIMS = ("email", "email_verified")
HTML = "text/html; charset=utf-8"


# -- pages -----------------------------------------------------------------------------------------------

def _esc(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def _page(status, title, body, headers=None):
    """A plain, accessible HTML page (the tenant's Universal Login look is not emulated)."""
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f'<body><main><h1>{_esc(title)}</h1>{body}</main></body></html>')
    return Reply(status, raw=html.encode(), content_type=HTML, headers={"Cache-Control": "no-store", **(headers or {})})


def _error_page(status, message):
    return _page(status, "Something went wrong", f'<p role="alert">{_esc(message)}</p>')


def _redirect(url, headers=None):
    return Reply(302, raw=b"", headers={"Location": url, "Cache-Control": "no-store", **(headers or {})})


def _login_form(txn_id, email="", problem=None):
    alert = f'<p role="alert" id="error">{_esc(problem)}</p>' if problem else ""
    body = (f'{alert}<form method="post" action="/u/login?state={_esc(txn_id)}">'
            f'<input type="hidden" name="state" value="{_esc(txn_id)}">'
            '<p><label for="username">Email address</label><br>'
            f'<input id="username" name="username" type="email" autocomplete="username" required value="{_esc(email)}">'
            '</p><p><label for="password">Password</label><br>'
            '<input id="password" name="password" type="password" autocomplete="current-password" required></p>'
            '<p><button type="submit" id="continue">Continue</button></p></form>')
    return _page(400 if problem else 200, "Log in", body)


# -- /authorize and the login form ---------------------------------------------------------------------

def _with_query(url, **params):
    return url + ("&" if "?" in url else "?") + urlencode({k: v for k, v in params.items() if v is not None})


def authorize(emu, req):
    """GET /authorize: check the application and callback, then log in (or reuse the SSO session)."""
    args = req.args
    app = emu.store.applications.get(args.get("client_id", ""))
    if app is None:
        return _error_page(400, f"invalid_request: Unknown client: {args.get('client_id', '')}")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in app["callbacks"]:
        return _error_page(400, f"Callback URL mismatch. {redirect_uri} is not in the list of allowed "
                                "callback URLs. Add it to the application's Allowed Callback URLs.")
    state = args.get("state")
    if args.get("response_type") != "code":
        return _redirect(_with_query(redirect_uri, error="unsupported_response_type", state=state,
                                     error_description=f"Unsupported response type: {args.get('response_type')}"))
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if challenge and method != "S256":
        return _redirect(_with_query(redirect_uri, error="invalid_request", state=state,
                                     error_description="code_challenge_method must be S256"))
    txn = {"client_id": app["client_id"], "redirect_uri": redirect_uri, "state": state, "nonce": args.get("nonce"),
           "scope": args.get("scope", "openid"), "challenge": challenge, "until": time.time() + CODE_TTL_S}
    with emu.store.lock:
        session = emu.store.logins["sessions"].get(req.cookies.get(SSO_COOKIE, ""))
        if session and session["user_id"] in emu.store.users and args.get("prompt") != "login":
            return _finish(emu, txn, emu.store.users[session["user_id"]], session["sid"])
        txn_id = secrets.token_urlsafe(24)
        emu.store.logins["transactions"][txn_id] = txn
    return _redirect(f"/u/login?state={txn_id}")


def _transaction(emu, txn_id):
    txn = emu.store.logins["transactions"].get(txn_id or "")
    return txn if txn and txn["until"] > time.time() else None


def login_page(emu, req):
    """GET /u/login?state=…: the email and password form."""
    with emu.store.lock:
        if _transaction(emu, req.args.get("state")) is None:
            return _error_page(400, "This login link has expired; go back to the application and sign in again.")
    return _login_form(req.args["state"])


def login_submit(emu, req):
    """POST /u/login: check the database user's password, start the SSO session, answer the application."""
    form = dict(parse_qsl(req.environ.get("emulator.body", b"").decode("utf-8", "replace")))
    txn_id, email = form.get("state") or req.args.get("state"), (form.get("username") or "").strip().lower()
    with emu.store.lock:
        txn = _transaction(emu, txn_id)
        if txn is None:
            return _error_page(400, "This login link has expired; go back to the application and sign in again.")
        uid = emu.store.by_email.get((DATABASE, email))
        if uid is None or not emu.store.password_ok(uid, form.get("password", "")):
            emu.store.log("fp" if uid else "fu", "Wrong email or password.", user_name=email)
            return _login_form(txn_id, email, "Wrong email or password.")
        del emu.store.logins["transactions"][txn_id]
        user = emu.store.users[uid]
        if user.get("blocked"):
            emu.store.log("f", "user is blocked", **emu.store.user_log_fields(user))
            return _redirect(_with_query(txn["redirect_uri"], error="unauthorized",
                                         error_description="user is blocked", state=txn["state"]))
        cookie_value, sid = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        emu.store.logins["sessions"][cookie_value] = {"user_id": uid, "sid": sid}
        user["last_login"], user["logins_count"] = now_iso(), int(user.get("logins_count", 0)) + 1
        emu.store.log("s", "Success Login", **emu.store.user_log_fields(user))
        reply = _finish(emu, txn, user, sid)
    reply.headers["Set-Cookie"] = f"{SSO_COOKIE}={cookie_value}; Path=/; HttpOnly; SameSite=Lax"
    return reply


def _finish(emu, txn, user, sid):
    """Issue a single-use code bound to the client, the callback and the PKCE challenge."""
    code = secrets.token_urlsafe(24)
    emu.store.logins["codes"][code] = dict(txn, user_id=user["user_id"], sid=sid, until=time.time() + CODE_TTL_S)
    return _redirect(_with_query(txn["redirect_uri"], code=code, state=txn["state"]))


# -- /oauth/token (authorization_code) -------------------------------------------------------------------

def _s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def token(emu, req):
    """POST /oauth/token: the authorization_code grant here, every other grant in oauth.token."""
    params = oauth._params(req)
    if not params or params.get("grant_type") != "authorization_code":
        return oauth.token(emu, req)
    app = emu.store.applications.get(str(params.get("client_id", "")))
    secret = str(params.get("client_secret", ""))
    if app is None or not hmac.compare_digest(secret.encode(), app["client_secret"].encode()):
        return oauth.oauth_error(401, "access_denied", "Unauthorized")
    with emu.store.lock:
        grant = emu.store.logins["codes"].pop(str(params.get("code", "")), None)
        user = emu.store.users.get(grant["user_id"]) if grant else None
    if grant is None or grant["until"] < time.time() or grant["client_id"] != app["client_id"] or user is None:
        return oauth.oauth_error(403, "invalid_grant", "Invalid authorization code")
    if params.get("redirect_uri") != grant["redirect_uri"]:
        return oauth.oauth_error(403, "invalid_grant", "Invalid redirect_uri: it must equal the one sent to /authorize")
    if grant["challenge"] and _s256(str(params.get("code_verifier", ""))) != grant["challenge"]:
        return oauth.oauth_error(403, "invalid_grant", "Failed to verify code verifier")
    return Reply(200, _tokens(emu, grant, user))


def _tokens(emu, grant, user):
    now, cfg = int(time.time()), emu.config
    scope = grant["scope"]
    access = emu.tokens.sign({"iss": cfg.issuer, "sub": user["user_id"], "aud": [_userinfo_audience(cfg)],
                              "iat": now, "exp": now + ACCESS_TOKEN_LIFETIME_S, "scope": scope,
                              "azp": grant["client_id"]})
    out = {"access_token": access, "scope": scope, "expires_in": ACCESS_TOKEN_LIFETIME_S, "token_type": "Bearer"}
    if "openid" in scope.split():
        claims = {**profile_claims(user, scope), "iss": cfg.issuer, "aud": grant["client_id"],
                  "sub": user["user_id"], "iat": now, "exp": now + ID_TOKEN_LIFETIME_S, "sid": grant["sid"]}
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        out["id_token"] = emu.tokens.sign(claims)
    return out


def _userinfo_audience(cfg):
    return f"https://{cfg.domain}/userinfo"


def profile_claims(user, scope):
    """The standard claims the scopes ask for, from the stored user."""
    shown, wanted = public(user), scope.split()
    names = (PROFILE_CLAIMS if "profile" in wanted else ()) + (EMAIL_CLAIMS if "email" in wanted else ())
    return {"sub": user["user_id"], **{k: shown[k] for k in names if k in shown}}


# -- /userinfo, discovery, logout, control ---------------------------------------------------------------

def userinfo(emu, req):
    """GET /userinfo with the access token from the code exchange."""
    scheme, _, bearer = req.headers.get("Authorization", "").partition(" ")
    try:
        claims = emu.tokens.decode(bearer.strip(), _userinfo_audience(emu.config)) if scheme.lower() == "bearer" else None
    except JWTError:
        claims = None
    user = emu.store.users.get(claims["sub"]) if claims else None
    if user is None:
        return Reply(401, raw=b"Unauthorized", content_type="text/plain; charset=utf-8")
    return Reply(200, profile_claims(user, claims.get("scope", "openid")))


def openid_configuration(emu, req):
    """GET /.well-known/openid-configuration: where the endpoints are (this emulator's address)."""
    here = req.host_url  # the tenant domain does not resolve in the sandbox; this emulator does
    return Reply(200, {
        "issuer": emu.config.issuer, "authorization_endpoint": f"{here}authorize",
        "token_endpoint": f"{here}oauth/token", "userinfo_endpoint": f"{here}userinfo",
        "jwks_uri": f"{here}.well-known/jwks.json", "scopes_supported": ["openid", "profile", "email"],
        "response_types_supported": ["code"], "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"], "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["aud", "iss", "iat", "exp", "sub", "sid", "nonce", *PROFILE_CLAIMS, *EMAIL_CLAIMS]})


def logout(emu, req):
    """GET /v2/logout: end the SSO session; go to returnTo when the application allows it."""
    clear = {"Set-Cookie": f"{SSO_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"}
    with emu.store.lock:
        emu.store.logins["sessions"].pop(req.cookies.get(SSO_COOKIE, ""), None)
        app = emu.store.applications.get(req.args.get("client_id", ""))
    return_to = req.args.get("returnTo")
    allowed = app["allowed_logout_urls"] if app else []
    if app and not return_to and allowed:
        return_to = allowed[0]
    if return_to and return_to not in allowed:
        page = _error_page(400, f'invalid_request: The "returnTo" querystring parameter "{return_to}" is not '
                                'defined as a valid URL in "Allowed Logout URLs".')
        page.headers.update(clear)
        return page
    return _redirect(return_to, clear) if return_to else _page(200, "Logged out", "<p>OK</p>", clear)


def put_application(emu, req):
    """POST /_emulator/applications: add or replace an application (client id, secret, callback and logout URLs)."""
    body = req.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("client_id"), str):
        raise Auth0Error(400, 'application body must be {"client_id", "client_secret"?, "callbacks", '
                              '"allowed_logout_urls"}')
    with emu.store.lock:
        app = dict(emu.store.applications.get(body["client_id"]) or {"client_secret": secrets.token_urlsafe(32)})
        app.update({k: body[k] for k in ("client_id", "client_secret", "name", "callbacks", "allowed_logout_urls")
                    if k in body})
        app.setdefault("callbacks", [])
        app.setdefault("allowed_logout_urls", [])
        emu.store.applications[app["client_id"]] = app
    return Reply(200, app)


ROUTES = (
    ("GET", "/authorize", authorize),
    ("GET", "/u/login", login_page),
    ("POST", "/u/login", login_submit),
    ("GET", "/userinfo", userinfo),
    ("GET", "/v2/logout", logout),
    ("POST", "/_emulator/applications", put_application),
)
