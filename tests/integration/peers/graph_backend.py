"""A backend for tests/integration/service_graph.sh: an HTTP server, a
thread per request, that sends one Redis SET per request to redis-server
over a raw socket (RESP; no redis module), then answers 200, or 500 for
a path ending in /fail.  Every answer has a Content-Length, so that its
end is known before the connection closes.

    graph_backend.py PORT REDIS_PORT
"""
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, REDIS_PORT = int(sys.argv[1]), int(sys.argv[2])
SET = b"*3\r\n$3\r\nSET\r\n$6\r\nsgtest\r\n$1\r\n1\r\n"


def redis_set():
    """The reply's first line, on a connection of its own."""
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=5) as s:
        s.sendall(SET)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            reply += chunk
    return reply


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = redis_set().startswith(b"+OK")
        status = 500 if self.path.endswith("/fail") else 200
        if not ok:
            status = 502
        body = b"ok\n" if status == 200 else b"failed\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
