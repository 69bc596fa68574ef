#!/usr/bin/python3
"""gRPC client for the recordings: on one connection, Say("hello"),
Stream(5), Say("missing"); prints each call's method and status code as
the library reports them.

    grpc_client.py PORT
"""
import sys

import grpc


def main():
    ch = grpc.insecure_channel("127.0.0.1:%s" % sys.argv[1])
    say = ch.unary_unary("/spyglass.test.Echo/Say")
    stream = ch.unary_stream("/spyglass.test.Echo/Stream")
    say(b"\x0a\x05hello")
    print("/spyglass.test.Echo/Say", grpc.StatusCode.OK.value[0])
    got = sum(1 for _ in stream(b"\x08\x05"))
    print("/spyglass.test.Echo/Stream", grpc.StatusCode.OK.value[0],
          "messages", got)
    try:
        say(b"\x0a\x07missing")
    except grpc.RpcError as e:
        print("/spyglass.test.Echo/Say", e.code().value[0])
    ch.close()


if __name__ == "__main__":
    main()
