"""The WSGI application: routing and the request pipeline (faults, latency, auth, throttling, checks)."""
import json
import socket
import sys
import time
import traceback

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulators.graph import (auth, batch, bulk_bodies, casts, control, delta, directory, grants, groups, invitations,
                             licences, risk, subscriptions, users)
from emulators.graph.aliases import canonical
from emulators.graph.errors import GraphError, error_body
from emulators.graph.faults import Faults
from emulators.graph.notify import Delivery
from emulators.graph.routing import MAX_BODY, Ctx, Reply
from emulators.graph.schema import Schema
from emulators.graph.seed import seed_store
from emulators.graph.speccheck import SpecCheck
from emulators.graph.stats import Stats
from emulators.graph.throttle import Budget, cost
from emulators.graph.tokens import TokenIssuer, TrustedCertificate

GRAPH_ROUTES = (users.ROUTES + licences.ROUTES + groups.ROUTES + directory.ROUTES + batch.ROUTES + delta.ROUTES
                + subscriptions.ROUTES + risk.ROUTES + invitations.ROUTES + casts.ROUTES)
CONTROL_ROUTES = (control.ROUTES + delta.CONTROL_ROUTES + directory.CONTROL_ROUTES + groups.CONTROL_ROUTES
                  + subscriptions.CONTROL_ROUTES + risk.CONTROL_ROUTES + invitations.CONTROL_ROUTES
                  + grants.CONTROL_ROUTES + bulk_bodies.CONTROL_ROUTES)


class Router:
    """A werkzeug Map over Route records; match() gives (route, params) or raises GraphError."""

    def __init__(self, routes):
        self.routes = routes
        rules = [Rule(r.rule, methods=[r.method], endpoint=i) for i, r in enumerate(routes)]
        self.adapter = Map(rules, strict_slashes=False, merge_slashes=False).bind("emulator.invalid")

    def match(self, method, path):
        try:
            index, params = self.adapter.match(path, method=method)
        except MethodNotAllowed:
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request target.") from None
        except NotFound:
            segment = path.rstrip("/").rsplit("/", 1)[-1]
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.") from None
        return self.routes[index], params


class GraphApp:
    """Microsoft Graph v1.0 + Entra token endpoint emulator; state lives here, handlers in modules."""

    def __init__(self, config):
        self.config = config
        self.schema = Schema(config.spec_path)
        self.issuer = TokenIssuer(config.tenant_id, config.client_id)
        self.trusted_certificate = TrustedCertificate(config.client_cert_pem) if config.client_cert_pem else None
        self.graph, self.entra, self.control = Router(GRAPH_ROUTES), Router(auth.ROUTES), Router(CONTROL_ROUTES)
        self.faults, self.stats = Faults(), Stats()
        self.delivery = Delivery(self.stats, lambda: self.knobs.delivery_settings())
        self.spec = SpecCheck(config.spec_path) if config.validate_spec else None
        self.reset()

    def reset(self):
        """Default sandbox data, knobs back to start-up values, faults, counters and deliveries cleared."""
        self.delivery.clear()
        store = seed_store(self.config)
        store.changes.listeners.append(lambda entry: subscriptions.on_change(self, store, entry))
        self.store = store
        self.knobs = control.Knobs(self.config)
        self.issuer.roles = list(grants.ROLES)
        self.budgets = {}
        self.faults.clear()
        self.stats.clear()

    def budget(self, appid):
        """The RU budget of one app in this tenant."""
        found = self.budgets.get(appid)
        if found is None:
            found = self.budgets.setdefault(appid, Budget(self.knobs.ru_per_10s))
        return found

    # --- pipeline ---
    def __call__(self, environ, start_response):
        ctx = Ctx(self, Request(canonical(environ)))
        if ctx.req.path.startswith("/_emulator/"):
            reply = self.serve(ctx, self.control)
        elif ctx.req.path == "/v1.0" or ctx.req.path.startswith("/v1.0/"):
            reply = self.run_graph(ctx)
        else:
            reply = self.run(ctx, self.entra, lambda: self.serve(ctx, self.entra))
        return self.render(ctx, reply)(environ, start_response)

    def run_graph(self, ctx):
        """A Graph request (top-level or inside $batch) through faults, auth, throttling and checks."""
        reply = self.run(ctx, self.graph, lambda: self.serve_graph(ctx))
        reply.headers.setdefault("x-ms-resource-unit", "0")  # also on injected-fault answers
        if self.spec is not None:
            self.submit(ctx, reply)
        return reply

    def run(self, ctx, router, serve):
        """Count, apply a matching fault before or after serving, and add the configured latency."""
        method, path = ctx.req.method, ctx.req.path
        try:
            ctx.route, ctx.params = router.match(method, path)
        except GraphError as exc:
            ctx.route, ctx.params, ctx.route_error = None, {}, exc
        self.stats.request(f"{method} {ctx.route.template if ctx.route else '(unrouted)'}")
        fault = self.faults.take(method, path, ctx.inner)
        if fault is not None and fault.when == "before" and (early := self.apply_fault(ctx, fault)):
            return early
        if not ctx.inner and self.knobs.latency_ms:
            time.sleep(self.knobs.latency_ms / 1000.0)
        reply = serve()
        if fault is not None and fault.when == "after":
            reply = self.apply_fault(ctx, fault) or reply
        return reply

    def apply_fault(self, ctx, fault):
        """An error reply for a status fault; sleeps for a timeout; drops the connection for a drop."""
        if fault.kind == "status":
            return self.error_reply(ctx, fault.error())
        if fault.kind == "timeout" and self.faults.sleep(fault.seconds):
            return None
        sock = ctx.req.environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # werkzeug treats ConnectionError as a client that went away and answers nothing.
        raise ConnectionAbortedError("connection dropped by an injected fault")

    def serve_graph(self, ctx):
        """Authenticate, charge resource units, and run the handler."""
        units = 0
        try:
            if not ctx.inner:
                ctx.claims = auth.authenticate(ctx)
            if ctx.route is None:
                raise ctx.route_error
            if ctx.route.ru:
                units = cost(ctx.req.method, ctx.route.ru, ctx.args)
                self.charge(ctx, units)
            reply = ctx.route.handler(ctx, **ctx.params)
        except GraphError as exc:
            reply = self.error_reply(ctx, exc)
        except Exception:  # noqa: BLE001 - a handler bug answers 500 like Graph would, and is logged
            traceback.print_exc(file=sys.stderr)
            reply = self.error_reply(ctx, GraphError(500, "InternalServerError", "Emulator error."))
        reply.headers["x-ms-resource-unit"] = str(units)
        return reply

    def charge(self, ctx, units):
        """Spend units from the app's budget or raise 429 with Retry-After (facts §4.2)."""
        appid = ctx.claims.get("appid", "")
        budget = self.budget(appid)
        retry = budget.charge(units)
        if retry is None:
            self.stats.spent(units)
            return
        self.stats.throttle()
        scope = f"Tenant_Application/ReadWrite/{appid}/{self.config.tenant_id}"
        raise GraphError(429, "TooManyRequests", "Too many requests. Please retry after the number of seconds "
                         "given in the Retry-After header.",
                         headers={"Retry-After": str(retry), "x-ms-throttle-scope": scope,
                                  "x-ms-throttle-information": "ResourceUnitLimitExceeded"})

    def serve(self, ctx, router):
        """Run a control or Entra handler (no auth, no throttling)."""
        try:
            route, params = router.match(ctx.req.method, ctx.req.path)
            return route.handler(ctx, **params)
        except GraphError as exc:
            return self.error_reply(ctx, exc)
        except Exception:  # noqa: BLE001 - as in serve_graph: log it, answer 500
            traceback.print_exc(file=sys.stderr)
            return self.error_reply(ctx, GraphError(500, "InternalServerError", "Emulator error."))

    # --- output ---
    def error_reply(self, ctx, exc):
        """Graph's error body for a GraphError."""
        body = error_body(exc.code, exc.message, ctx.request_id, ctx.client_request_id, exc.details)
        return Reply(exc.status, body, dict(exc.headers))

    def submit(self, ctx, reply):
        """Queue the exchange for the spec check."""
        req = ctx.req
        big = (req.content_length or 0) > MAX_BODY
        self.spec.submit({
            "method": req.method, "path": req.path, "query": req.query_string, "headers": dict(req.headers),
            "body": b"" if big else req.get_data(cache=True), "status": reply.status,
            "response_headers": {"Content-Type": reply.content_type} if reply.body is not None else {},
            "response_body": encode(reply), "entity": ctx.route.entity if ctx.route else None})

    def render(self, ctx, reply):
        """The werkzeug Response, with Graph's request-id headers."""
        headers = dict(reply.headers, **{"request-id": ctx.request_id, "client-request-id": ctx.client_request_id})
        response = Response(encode(reply), status=reply.status, headers=headers)
        if reply.body is None:
            response.headers.pop("Content-Type", None)
        else:
            response.headers["Content-Type"] = reply.content_type
        return response


def encode(reply):
    """The reply's body bytes (JSON, compact as Graph sends it), computed once."""
    if reply.body is None:
        return b""
    if reply.raw is None:
        reply.raw = json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False).encode()
    return reply.raw
