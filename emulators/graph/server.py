"""The threaded HTTPS server around the WSGI app."""
import socket
import ssl

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


class QuietHandler(WSGIRequestHandler):
    """No access log line per request (benchmarks push many thousands); errors still go to stderr."""

    def log_request(self, code="-", size="-"):
        pass


class GraphServer(ThreadedWSGIServer):
    """One thread per connection, a deep accept queue, and TLS handshakes done in those threads."""

    request_queue_size = 1024

    def __init__(self, host, port, app, cert_path, key_path):
        super().__init__(host, port, app, handler=QuietHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        # Handshake lazily on first read, i.e. in the connection's own thread, so that one slow or
        # silent client cannot stall accept() for everybody else.
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.ssl_context = context

    def get_request(self):
        """Accept with TCP_NODELAY set."""
        # The TLS 1.3 ticket and response writes are small; Nagle plus delayed ACKs would otherwise
        # add milliseconds to every new connection (measured: ~15 ms -> ~4 ms per request).
        conn, address = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address


def serve(app, host, port, cert_path, key_path):
    """Serve until interrupted."""
    server = GraphServer(host, port, app, cert_path, key_path)
    server.serve_forever()
