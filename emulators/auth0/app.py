"""The emulator as a WSGI application: routing plus the pipeline every request goes through.

Pipeline for tenant paths: latency → injected fault → (Management API: token bucket → bearer token →
scope) → handler → x-ratelimit-* headers → spec check (with --validate-spec). `/_emulator/…` skips it all.
"""
import re
import socket
import sys
import time
import traceback

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulators.auth0 import api_tenant as T
from emulators.auth0 import api_users as A
from emulators.auth0 import access_tokens, actions, api_access, control, jobs, oauth, oidc
from emulators.auth0.config import DEFAULT_SCOPES, TOKEN_LIFETIME_S, Auth0Config
from emulators.auth0.errors import Auth0Error, insufficient_scope, not_found_route, reason, too_many_requests
from emulators.auth0.limits import Faults, Stats, TokenBucket
from emulators.auth0.store import Store
from emulators.auth0.streams import EventStreams
from emulators.auth0.tokens import TokenAuthority
from emulators.auth0.web import Reply, error_reply, raw_body

API = "/api/v2"
# (method, path, handler, scopes accepted — any one suffices; from the extract's security blocks)
ROUTES = (
    ("GET", "/users", A.list_users, ("read:users", "read:user_idp_tokens")),
    ("POST", "/users", A.create_user, ("create:users",)),
    ("GET", "/users/<id>", A.get_user, ("read:users", "read:current_user", "read:user_idp_tokens")),
    ("PATCH", "/users/<id>", A.patch_user, ("update:users", "update:users_app_metadata")),
    ("DELETE", "/users/<id>", A.delete_user, ("delete:users",)),
    ("GET", "/users-by-email", A.users_by_email, ("read:users",)),
    ("GET", "/users/<id>/roles", A.user_roles, ("read:users", "read:roles", "read:role_members")),
    ("POST", "/users/<id>/roles", A.assign_roles, ("update:users", "create:role_members")),
    ("DELETE", "/users/<id>/roles", A.remove_roles, ("update:users", "delete:role_members")),
    ("DELETE", "/users/<user_id>/sessions", A.delete_sessions, ("delete:sessions",)),
    ("DELETE", "/users/<user_id>/refresh-tokens", A.delete_refresh_tokens, ("delete:refresh_tokens",)),
    ("POST", "/users/<id>/revoke-access", A.revoke_access, ("delete:sessions", "delete:refresh_tokens")),
    ("POST", "/users/<id>/identities", T.link_identity, ("update:users",)),
    ("DELETE", "/users/<id>/identities/<provider>/<user_id>", T.unlink_identity, ("update:users",)),
    ("GET", "/roles", T.list_roles, ("read:roles",)),
    ("GET", "/roles/<id>/users", T.role_users, ("read:users", "read:roles", "read:role_members")),
    ("POST", "/jobs/users-exports", jobs.create_export, ("read:users",)),
    ("GET", "/jobs/<id>", jobs.get_job, ("create:users", "read:users")),
    ("GET", "/logs", T.list_logs, ("read:logs", "read:logs_users")),
    ("POST", "/tickets/password-change", T.password_change_ticket, ("create:user_tickets",)),
    ("POST", "/tickets/email-verification", T.email_verification_ticket, ("create:user_tickets",)),
    ("GET", "/connections", T.list_connections, ("read:connections",)),
) + api_access.ROUTES + actions.ROUTES
PUBLIC = (
    ("POST", "/oauth/token", oidc.token),
    ("GET", "/.well-known/jwks.json", oauth.jwks),
    ("GET", "/.well-known/openid-configuration", oidc.openid_configuration),
    ("GET", "/user-exports/<id>/<filename>", jobs.download),
    *oidc.ROUTES,
)
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def _template(rule):
    """A werkzeug rule written as an OpenAPI path template (`<id>` → `{id}`), for the counters."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


class DropConnection(Exception):
    """Raised to close the client's connection without an answer."""


class Auth0Emulator:
    """One emulated tenant: data, knobs, counters and the WSGI entry point."""

    def __init__(self, config):
        self.config = config
        self.store, self.stats, self.faults = Store(), Stats(), Faults()
        self.actions = actions.ActionsState()
        self.tokens = TokenAuthority(config.issuer, config.audience)
        self.bucket = TokenBucket(config.rate_limit)
        self.knobs = self.default_knobs()
        self.streams = EventStreams(config.domain, lambda: self.knobs)
        self.clock = time.monotonic
        self.recorder = None
        if config.validate_spec:
            from emulators.auth0.validation import SpecRecorder
            self.recorder = SpecRecorder(config.spec_path)
        rules = [Rule(API + path, methods=[m], endpoint=(h, scopes, API + path)) for m, path, h, scopes in ROUTES]
        rules += [Rule(path, methods=[m], endpoint=(h, None, path)) for m, path, h in PUBLIC]
        rules += [Rule(path, methods=[m], endpoint=(h, None, path))
                  for m, path, h in control.ROUTES + api_access.CONTROL_ROUTES + actions.CONTROL_ROUTES]
        rules += [Rule(path, methods=[m], endpoint=(h, None, path)) for m, path, h in access_tokens.ROUTES]
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    def default_knobs(self):
        """Run-time knobs as the command line set them."""
        return {"latency_ms": float(self.config.latency_ms), "rate_limit": float(self.config.rate_limit),
                "search_lag_s": 0.0, "scopes": DEFAULT_SCOPES, "token_lifetime_s": TOKEN_LIFETIME_S,
                "export_link_ttl_s": 0.0, "job_pending_polls": 1,
                # Event Streams: false drops events (a gap); retry base 1 s as Auth0's (1, 2, 4 s)
                "deliver_events": True, "stream_retry_s": 1.0, "stream_timeout_s": 10.0}

    def __call__(self, environ, start_response):
        """WSGI entry point."""
        req = Request(environ)
        try:
            reply = self.dispatch(req)
        except DropConnection:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("connection dropped by an injected fault") from None
        payload = reply.payload()
        resp = Response(payload, status=reply.status, headers=reply.headers, content_type=reply.content_type)
        if not payload:
            del resp.headers["Content-Type"]  # 202/204 answers carry no body and no media type
        return resp(environ, start_response)

    def dispatch(self, req):
        """Route and run one request through the pipeline."""
        try:
            endpoint, params = self.url_map.bind_to_environ(req.environ).match()
        except HTTPException:
            endpoint, params = (None, None, None), {}
        handler, scopes, rule = endpoint
        if req.path.startswith("/_emulator/"):
            return self._run(handler, req, params) if handler else Reply(404, {"error": "no such control"})
        key = f"{req.method} {_template(rule or req.path)}"
        delay = self.knobs["latency_ms"]
        if delay:
            time.sleep(delay / 1000.0)
        fault = self.faults.take(req.method, req.path)
        if fault:
            self.stats.count(key, faulted=True)
            reply = self._fault(fault)
            if req.path.startswith(API + "/"):
                reply.headers = {**self.bucket.peek(), **reply.headers}
            return reply
        if not req.path.startswith(API + "/"):
            self.stats.count(key)
            return self._public(handler, req, params)
        return self._management(req, key, handler, scopes, params)

    def _public(self, handler, req, params):
        """Token endpoint, JWKS and export downloads: no bearer token, no rate limit."""
        if handler is None:
            return Reply(404, {"error": "not_found", "error_description": "Not Found"})
        try:
            req.environ["emulator.body"] = raw_body(req)
        except Auth0Error as err:
            return error_reply(err)
        return self._run(handler, req, params)

    def _management(self, req, key, handler, scopes, params):
        """Management API call: bucket, token, scope, body limit, handler, headers, checks."""
        allowed, limit_headers = self.bucket.take()
        self.stats.count(key, throttled=not allowed)
        body = b""
        try:
            if not allowed:
                raise too_many_requests({})
            if handler is None:
                raise not_found_route()
            claims = self.tokens.verify(req.headers.get("Authorization"))
            if not set(scopes) & set(claims.get("scope", "").split()):
                raise insufficient_scope(scopes)
            body = req.environ["emulator.body"] = raw_body(req)
            reply = self._run(handler, req, params, log=True)
        except Auth0Error as err:
            reply = error_reply(err)
        reply.headers.update(limit_headers)
        self._audit(req, reply, params)
        if self.recorder is not None:
            payload = reply.payload()
            self.recorder.record(req.method, req.path, req.query_string, dict(req.headers), body, reply.status,
                                 {"Content-Type": reply.content_type} if payload else {}, payload)
        return reply

    def _run(self, handler, req, params, log=False):
        """Call a handler, turning Auth0Error into its body and crashes into a 500."""
        try:
            return handler(self, req, **params)
        except Auth0Error as err:
            return error_reply(err)
        except Exception:  # noqa: BLE001 - an emulator bug answers 500 instead of killing the thread
            traceback.print_exc(file=sys.stderr)
            return error_reply(Auth0Error(500, "Internal Server Error"))

    def _fault(self, fault):
        """Answer as an injected fault says: an error status, a hang, or a dropped connection."""
        if fault["kind"] == "drop":
            raise DropConnection()
        if fault["kind"] == "timeout":
            self.faults.wake.wait(fault["seconds"])
            return error_reply(Auth0Error(504, "Gateway Timeout"))
        headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
        if fault["status"] == 429:
            return error_reply(too_many_requests(headers))
        return error_reply(Auth0Error(fault["status"], reason(fault["status"]), headers=headers))

    def _audit(self, req, reply, params):
        """Tenant log events: sapi/fapi for writes, api_limit for throttling (facts §3.5)."""
        if reply.status == 429:
            kind, text = "api_limit", "Rate limit exceeded"
        elif req.method in WRITES:
            kind, text = ("sapi", "Management API write") if reply.status < 400 else ("fapi", "Failed write")
        else:
            return
        fields = {"client_id": self.config.client_id, "ip": req.remote_addr or "127.0.0.1",
                  "user_agent": req.user_agent.string,
                  "details": {"request": {"method": req.method, "path": req.path}, "status": reply.status}}
        user_id = params.get("id") if "/users/" in req.path else params.get("user_id")
        if user_id:
            fields["user_id"] = user_id
        with self.store.lock:
            self.store.log(kind, text, **fields)

    def reset(self):
        """Default sandbox data and knobs; streams, faults and counters cleared (violations are kept)."""
        self.streams.reset()
        self.store.reset()
        self.actions = actions.ActionsState()
        self.faults.clear()
        self.stats.clear()
        self.knobs = self.default_knobs()
        self.bucket.configure(self.knobs["rate_limit"])


def create_app(config=None, **overrides):
    """Build the emulator WSGI app from an Auth0Config (or keyword overrides of the defaults)."""
    config = config or Auth0Config()
    for name, value in overrides.items():
        setattr(config, name, value)
    return Auth0Emulator(config)
