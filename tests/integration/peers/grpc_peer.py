#!/usr/bin/python3
"""A gRPC server or client for the integration tests, on Debian's grpcio.

Messages are raw bytes (generic handlers, no generated code): the wire is
gRPC all the same (HTTP/2, application/grpc, length-prefixed messages,
grpc-status trailers).  Service spyglass.test.Echo:
  Say      unary: answers the request; "missing" -> NOT_FOUND,
           "down" -> UNAVAILABLE
  Count    server streaming: N (the request, a decimal) messages

  grpc_peer.py server PORT
  grpc_peer.py client PORT CALLS...   CALL = Say:WORD:N or Count:K:N
      (N calls over one channel); prints "METHOD STATUS COUNT" lines.
      A CALL "wait" prints "waiting" and reads a line from standard
      input before going on (a channel opened before the sensor starts).

With SG_GRPC_TLS_CERT (and, for the server, SG_GRPC_TLS_KEY) set in the
environment: over TLS with that certificate (the client trusts it).
"""
import os
import sys
import time
from concurrent import futures

import grpc

SERVICE = "spyglass.test.Echo"


def say(request, context):
    if request == b"missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such word")
    if request == b"down":
        context.abort(grpc.StatusCode.UNAVAILABLE, "try later")
    return b"said:" + request


def count(request, context):
    for i in range(int(request)):
        yield b"%d" % i


def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, handlers),))
    cert = os.environ.get("SG_GRPC_TLS_CERT")
    if cert:
        creds = grpc.ssl_server_credentials([(
            open(os.environ["SG_GRPC_TLS_KEY"], "rb").read(),
            open(cert, "rb").read())])
        server.add_secure_port("127.0.0.1:%d" % port, creds)
    else:
        server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def call(channel, method, arg):
    path = "/%s/%s" % (SERVICE, method)
    try:
        if method == "Count":
            n = sum(1 for _ in channel.unary_stream(path)(arg.encode()))
            if n != int(arg):
                return "SHORT"
        else:
            channel.unary_unary(path)(arg.encode())
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


def open_channel(port):
    cert = os.environ.get("SG_GRPC_TLS_CERT")
    if cert:
        creds = grpc.ssl_channel_credentials(open(cert, "rb").read())
        return grpc.secure_channel("127.0.0.1:%d" % port, creds)
    return grpc.insecure_channel("127.0.0.1:%d" % port)


def client(port, calls):
    results = {}
    with open_channel(port) as channel:
        for spec in calls:
            if spec == "wait":
                print("waiting", flush=True)
                sys.stdin.readline()
                continue
            method, arg, n = spec.split(":")
            for _ in range(int(n)):
                key = (method, call(channel, method, arg))
                results[key] = results.get(key, 0) + 1
    for (method, status), n in sorted(results.items()):
        print(method, status, n)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "client":
        client(int(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
