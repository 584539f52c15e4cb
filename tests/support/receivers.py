"""Local receivers for alerts: a Slack-style incoming webhook and an SMTP server."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from service.sandbox import free_port


class _SlackHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.messages.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class SlackReceiver:
    """An incoming-webhook stand-in on 127.0.0.1 that keeps every JSON message."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackHandler)
        self.server.messages = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXX"

    @property
    def messages(self):
        return list(self.server.messages)

    def stop(self):
        self.server.shutdown()


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message."""

    def __init__(self):
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self):
        return list(self.inbox.messages)

    def stop(self):
        self.controller.stop()
