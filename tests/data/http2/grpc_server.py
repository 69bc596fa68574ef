#!/usr/bin/python3
"""gRPC server for the recordings: spyglass.test.Echo over h2c.
Say: unary, answers NOT_FOUND for the message "missing".
Stream: server-streaming, as many messages as the request's field 1
varint says.  Messages are protobuf bytes, passed through unparsed.

    grpc_server.py PORT
"""
import sys
from concurrent import futures

import grpc

SERVICE = "spyglass.test.Echo"


def say(request, context):
    if request == b"\x0a\x07missing":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    return b"\x0a" + bytes([len(request)]) + request


def stream(request, context):
    n = request[1] if len(request) == 2 and request[0] == 0x08 else 1
    for i in range(n):
        yield b"\x0a\x09message " + bytes([0x30 + i % 10])


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
    })
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("127.0.0.1:%s" % sys.argv[1])
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
