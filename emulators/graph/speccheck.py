"""--validate-spec: every /v1.0 exchange checked against the vendor extract, off the request path.

Checks run on a worker thread so they do not slow the answers; `violations()` waits for the queue
to drain first, so a caller sees every check of the requests it has been answered for.
"""
import json
import queue
import re
import threading

# /users/delta, /users/microsoft.graph.delta() ... are the extract's /users/delta() (Learn `user-delta`).
DELTA_ALIAS = re.compile(r"^(/v1\.0/(?:users|groups))/(?:microsoft\.graph\.)?delta(?:\(\))?$")
# An OData type cast (/directory/deletedItems/microsoft.graph.user) lists a collection: it is not an {id}.
TYPE_CAST = re.compile(r"/microsoft\.graph\.[A-Za-z]+$")


class SpecCheck:
    """Queues exchanges, checks them with emulators._spec.SpecValidator, and keeps the violations."""

    def __init__(self, spec_path):
        from emulators._spec import SpecValidator  # only needed (and only imported) in this mode
        self.validator = SpecValidator(spec_path, "/v1.0")
        self._queue, self._found, self._lock = queue.Queue(), [], threading.Lock()
        threading.Thread(target=self._work, name="spec-check", daemon=True).start()

    def submit(self, exchange):
        """Queue one exchange: a dict of method, path, query, headers, body, status, response parts, entity."""
        self._queue.put(exchange)

    def violations(self):
        """Every violation so far (after the queued checks have run)."""
        self._queue.join()
        with self._lock:
            return list(self._found)

    def _work(self):
        while True:
            exchange = self._queue.get()
            try:
                found = self._check(exchange)
            except Exception as exc:  # a checker crash is itself worth reporting, not hiding
                found = [f"{exchange['method']} {exchange['path']}: checker failed: {exc!r}"]
            finally:
                self._queue.task_done()
            if found:
                with self._lock:
                    self._found.extend(found)

    def _check(self, ex):
        """Spec violations for paths the extract has; unknown user/group properties for the others."""
        v = self.validator
        ex = dict(ex, path=DELTA_ALIAS.sub(r"\1/delta()", ex["path"]),
                  response_body=_without_annotations(ex["response_body"]))
        if v.matches(ex["method"], ex["path"]) and not TYPE_CAST.search(ex["path"]):
            if ex["status"] == 204:
                # RFC 9110 §15.3.5: a 204 carries no content, so the extract's `2XX: content: user` of
                # PATCH /users/{id} cannot apply to Graph's 204 answer; only the request is checked.
                return v.check_request(ex["method"], ex["path"], ex["query"], ex["headers"], ex["body"])
            return v.check(ex["method"], ex["path"], ex["query"], ex["headers"], ex["body"], ex["status"],
                           ex["response_headers"], ex["response_body"])
        if not ex.get("entity") or ex["status"] >= 300 or not ex["response_body"]:
            return []
        body = json.loads(ex["response_body"])
        items = body.get("value") if isinstance(body.get("value"), list) else [body]
        label = f"{ex['method']} {ex['path']} -> {ex['status']}"
        return [f"{label}: response field {where} is not in microsoft.graph.{ex['entity']}"
                for item in items for where in v.unknown_properties(f"microsoft.graph.{ex['entity']}", item)]


def _without_annotations(body):
    """The body minus OData annotations that are not `@odata.` ones (`@removed`, `members@delta`).

    Delta answers mark removed objects with `@removed` and group membership changes with
    `members@delta` (Learn `delta-query-overview`); they are annotations, not properties.
    """
    if not body or (b"@removed" not in body and b"@delta" not in body):
        return body
    return json.dumps(_strip(json.loads(body))).encode()


def _strip(node):
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if "@" not in k or "@odata." in k}
    return node
