"""A backend for tests/integration/service_graph.sh: an HTTP server, a
thread per request, that sends one Redis SET per request to redis-server
over a raw socket (RESP; no redis module), then answers 200, or 500 for
a path ending in /fail.  Every answer has a Content-Length, so that its
end is known before the connection closes.  With a third argument, each
request's path and traceparent header ("-" when none) are appended to
that file, a line each.

    graph_backend.py PORT REDIS_PORT [HEADER_LOG]
"""
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, REDIS_PORT = int(sys.argv[1]), int(sys.argv[2])
HEADER_LOG = sys.argv[3] if len(sys.argv) > 3 else None
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
    def log_traceparent(self):
        """One line, written whole: threads append at once."""
        line = "%s %s\n" % (self.path, self.headers.get("traceparent", "-"))
        fd = os.open(HEADER_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def do_GET(self):
        if HEADER_LOG:
            self.log_traceparent()
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
