"""POST /v1.0/$batch: up to 20 requests, dependsOn ordering, 424 for failed dependencies.

Learn `graph/json-batching`: the batch answers 200 when it parses; each inner request is routed,
throttled and faulted on its own and reports its own status, headers and body.
"""
import json

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from emulators.graph.aliases import canonical
from emulators.graph.errors import GraphError, error_body
from emulators.graph.routing import Ctx, Reply, Route

MAX_REQUESTS = 20
INNER_HEADERS = ("Content-Type", "Retry-After", "Location", "Cache-Control", "x-ms-resource-unit")


def _invalid(message):
    return GraphError(400, "BadRequest", message)


def parse(body):
    """The inner requests after the checks Graph applies to the batch as a whole."""
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _invalid("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(requests) > MAX_REQUESTS:
        raise _invalid(f"The number of requests in a batch cannot exceed {MAX_REQUESTS}.")
    seen = {}
    for item in requests:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item[k] for k in ("id", "method",
                                                                                                    "url")):
            raise _invalid("Each batch request must have 'id', 'method' and 'url'.")
        if item["id"].lower() in seen:
            raise _invalid(f"Batch request contains a duplicate id: '{item['id']}'.")
        seen[item["id"].lower()] = item
        if "body" in item and not any(k.lower() == "content-type" for k in (item.get("headers") or {})):
            raise _invalid(f"Request '{item['id']}' has a body but no Content-Type header.")
    for item in requests:
        for dep in item.get("dependsOn") or []:
            if not isinstance(dep, str) or dep.lower() not in seen or dep.lower() == item["id"].lower():
                raise _invalid(f"Request '{item['id']}' depends on an unknown request '{dep}'.")
    return requests, seen


def order(requests, by_id):
    """Requests ordered so that each follows what it depends on (400 on a cycle)."""
    done, out, visiting = set(), [], set()

    def visit(item):
        key = item["id"].lower()
        if key in done:
            return
        if key in visiting:
            raise _invalid("Batch request dependencies form a cycle.")
        visiting.add(key)
        for dep in item.get("dependsOn") or []:
            visit(by_id[dep.lower()])
        visiting.discard(key)
        done.add(key)
        out.append(item)
    for item in requests:
        visit(item)
    return out


def inner_ctx(ctx, item):
    """A Ctx for one inner request, built as if it had arrived on its own."""
    url = item["url"]
    for prefix in ("https://graph.microsoft.com", ctx.base):
        url = url.removeprefix(prefix)
    url = url.lstrip("/").removeprefix("v1.0/")
    headers = dict(item.get("headers") or {})
    body = item.get("body")
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or "").encode()
    builder = EnvironBuilder(path="/v1.0/" + url, base_url=ctx.base, method=item["method"].upper(),
                             headers=headers, data=data)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    inner = Ctx(ctx.app, Request(canonical(environ)), inner=True)
    inner.claims = ctx.claims
    return inner


def run_one(ctx, item):
    """One inner request through the app's Graph pipeline, as a batch response entry."""
    inner = inner_ctx(ctx, item)
    if inner.req.path.rstrip("/") == "/v1.0/$batch":
        reply = ctx.app.error_reply(inner, _invalid("A batch request cannot contain another batch."))
    else:
        reply = ctx.app.run_graph(inner)
    entry = {"id": item["id"], "status": reply.status,
             "headers": {k: v for k, v in reply.headers.items() if k in INNER_HEADERS}}
    if reply.body is not None:
        entry["headers"]["Content-Type"] = reply.content_type
        entry["body"] = reply.body
    return entry


def failed_dependency(ctx, item):
    """424 for a request whose dependency did not succeed."""
    return {"id": item["id"], "status": 424, "headers": {"Content-Type": "application/json"},
            "body": error_body("FailedDependency", "The request failed because it depended on a request that "
                               "failed.", ctx.request_id, ctx.client_request_id)}


def run_batch(ctx):
    """POST /$batch -> 200 with one response per request (in request order)."""
    requests, by_id = parse(ctx.json())
    results = {}
    for item in order(requests, by_id):
        deps = [results[d.lower()] for d in item.get("dependsOn") or []]
        if any(not 200 <= dep["status"] < 300 for dep in deps):
            results[item["id"].lower()] = failed_dependency(ctx, item)
        else:
            results[item["id"].lower()] = run_one(ctx, item)
    return Reply(200, {"responses": [results[item["id"].lower()] for item in requests]})


ROUTES = [Route("POST", "/v1.0/$batch", run_batch, ru=0)]
