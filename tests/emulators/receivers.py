"""A local webhook endpoint for change-notification tests: records POSTs and answers Graph's handshake.

    with Receiver() as hook:
        graph_post("/subscriptions", {"notificationUrl": hook.url, ...})
        ...; graph.flush(); assert hook.notifications[0]["changeType"] == "updated"

`validation` chooses how the validation handshake is answered: "ok" (200, text/plain, the decoded
token), "wrong_token" (the token still URL-encoded), "wrong_type" (application/json), "status"
(`validation_status`), "slow" (waits `validation_delay` seconds, then answers correctly).
Notification POSTs are answered `status` (202), after the statuses queued with `fail(times, status)`.
"""
import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit


class _Handler(BaseHTTPRequestHandler):
    """Hands every POST to the Receiver that owns the server."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, content_type, payload = self.server.receiver.handle(self.path, dict(self.headers), body)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass  # keep test output clean


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread, answering every path."""

    def __init__(self):
        self.received = []  # [{"path", "headers", "body", "time"}] of notification POSTs
        self.validation_tokens = []  # decoded tokens of the handshakes, in order
        self.validation, self.validation_status, self.validation_delay = "ok", 500, 0.0
        self.status = 202
        self._failures = collections.deque()
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self):
        """The notification URL; use `base + "/lifecycle"` (or any path) for a second endpoint."""
        return self.base + "/notify"

    def fail(self, times, status=500):
        """Answer the next `times` notification POSTs with `status`."""
        with self._cond:
            self._failures.extend([status] * times)

    def notifications(self, path="/notify"):
        """Every notification item (the `value` entries) received on a path, in arrival order."""
        with self._cond:
            return [item for post in self.received if post["path"] == path for item in post["body"]["value"]]

    def posts(self, path="/notify"):
        with self._cond:
            return [post for post in self.received if post["path"] == path]

    def wait_for(self, count, path="/notify", timeout=10.0):
        """Block until `count` notification items arrived on path (for callers without /_emulator/flush)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([i for p in self.received if p["path"] == path for i in p["body"]["value"]]) < count:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    break

    def handle(self, raw_path, headers, body):
        """(status, content type, body) for one POST."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        if "validationToken" in query:
            return self._validate(query["validationToken"][0])
        with self._cond:
            status = self._failures.popleft() if self._failures else self.status
            self.received.append({"path": parts.path, "headers": headers, "body": json.loads(body or b"{}"),
                                  "time": time.time(), "answered": status})
            self._cond.notify_all()
        return status, None, b""

    def _validate(self, token):
        with self._cond:
            self.validation_tokens.append(token)
            mode = self.validation
        if mode == "slow":
            time.sleep(self.validation_delay)
        if mode == "status":
            return self.validation_status, "text/plain", b""
        if mode == "wrong_token":
            return 200, "text/plain", quote(token).encode()
        if mode == "wrong_type":
            return 200, "application/json", token.encode()
        return 200, "text/plain; charset=utf-8", token.encode()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
