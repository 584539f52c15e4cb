"""A tiny scripted HTTP server in a thread: answers from queued responses and records every request."""
import json
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Recorded:
    """One request as the server saw it."""

    def __init__(self, request):
        self.method, self.path = request.method, request.path
        self.raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
        self.args = request.args.to_dict()
        self.headers = dict(request.headers)
        data = request.get_data()
        self.json = json.loads(data) if data and request.is_json else None


class ScriptedServer:
    """Routes (method, path) to a queue of answers; the last answer repeats once the queue runs dry."""

    def __init__(self):
        self.requests, self.routes = [], {}
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def add(self, method, path, *answers):
        """Queue answers: (status, body[, headers]) tuples, or callables taking the Recorded request."""
        self.routes.setdefault((method, path), []).extend(answers)

    def calls(self, method=None, path=None):
        """Recorded requests, optionally filtered."""
        return [r for r in self.requests if (method is None or r.method == method)
                and (path is None or r.path == path)]

    def stop(self):
        """Shut the server down and free its port."""
        self._server.shutdown()
        self._server.server_close()

    @Request.application
    def _app(self, request):
        rec = Recorded(request)
        self.requests.append(rec)
        queue = self.routes.get((request.method, request.path))
        if not queue:
            return Response(json.dumps({"error": "unscripted"}), status=599, mimetype="application/json")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            answer = answer(rec)
        return _response(*answer)


def _response(status, body=None, headers=None, delay=0.0):
    if delay:
        time.sleep(delay)
    if isinstance(body, (bytes, str)):
        return Response(body, status=status, headers=headers or {})
    payload = "" if body is None else json.dumps(body)
    return Response(payload, status=status, headers=headers or {},
                    mimetype="application/json" if body is not None else None)
