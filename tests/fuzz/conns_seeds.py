#!/usr/bin/python3
"""Writes the seeds of tests/fuzz/fuzz_conns.c: HTTP/1.1 and HTTP/2
conversations (tests/data/http2/*.rec) as the connection table gets them,
as the server's reads and writes and as the client's, the role known or
not, interleaved on two sockets, plus HTTP/1.1 upgraded to h2c.

    conns_seeds.py OUTDIR RECDIR
"""
import os
import struct
import sys

READ, WRITE = 0, 1
UNKNOWN, SERVER, CLIENT = 0, 1, 2


def rec(op, ctl, payload=b""):
    return bytes([op, ctl]) + struct.pack("<H", len(payload)) + payload


DATA_CLOSED = 0x04


def data(sock, direction, role, payload, pid=0, past=0, flags=0, tls=False):
    """A read or write of payload: sock 1-4, pid 0-1, past*1000 bytes
    past the capture, flags SG_DATA_*; tls: a TLS library's plaintext."""
    op = (2 if tls else 0) | (sock - 1) << 3 | pid << 5 | direction << 6
    return rec(op, role | flags << 2 | past << 5, payload)


def connect(sock, role, pid=0):
    return rec(3 | (sock - 1) << 3 | pid << 5, role)


def close(sock, pid=0):
    return rec(4 | (sock - 1) << 3 | pid << 5, 0)


def trace(sock, kind, pid=0, tid=0, span=True, via=1, tls=False):
    """A kernel trace context (SG_EV_TRACE) for sock's next data event:
    kind 1 server, 2 client; span: a caller's or client span id."""
    op = 5 | (sock - 1) << 3 | pid << 5 | tid << 7
    return rec(op, 0x80 | kind | 1 << 2 | via << 3 | (0x20 if tls else 0)
               | (0x40 if span else 0))


def tick(late):
    return rec(6, late)


def chunks(path):
    raw = open(path, "rb").read()
    at = 0
    while at + 5 <= len(raw):
        n = struct.unpack(">I", raw[at + 1:at + 5])[0]
        yield raw[at:at + 1], raw[at + 5:at + 5 + n]
        at += 5 + n


def conversation(path, sock, role, as_server):
    out = []
    for tag, payload in chunks(path):
        from_client = tag == b"C"
        direction = READ if from_client == as_server else WRITE
        out.append(data(sock, direction, role, payload[:65535]))
    return out


H1_GET = b"GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
H1_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
UPGRADE = (b"GET /up HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, "
           b"HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
H2_SETTINGS = b"\0\0\0\x04\0\0\0\0\0"
H2_RESP1 = H2_SETTINGS + b"\0\0\x01\x01\x05\0\0\0\x01\x88"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + H2_SETTINGS
H2_REQ3 = H2_PREFACE + b"\0\0\x03\x01\x05\0\0\0\x03\x82\x86\x84"
H2_RESP3 = b"\0\0\x01\x01\x05\0\0\0\x03\x88"
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)
TLS_APPDATA = b"\x17\x03\x03\x00\x20" + bytes(32)
REDIS_SET = b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"
REDIS_GET = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
REDIS_OK_BAR = b"+OK\r\n$3\r\nbar\r\n"
MC_REQ = b"set k 0 0 5\r\nhello\r\nget k j\r\nbogus\r\n"
MC_RESP = b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\nERROR\r\n"


def seeds(recdir):
    yield "http1-server", [connect(1, SERVER), data(1, READ, SERVER, H1_GET),
                           data(1, WRITE, SERVER, H1_OK), close(1)]
    yield "http1-client-unknown", [data(2, WRITE, UNKNOWN, H1_GET),
                                   data(2, READ, UNKNOWN, H1_OK, past=3),
                                   tick(40)]
    yield "h2c-upgrade-server", [
        connect(1, SERVER), data(1, READ, SERVER, UPGRADE),
        data(1, WRITE, SERVER, SWITCH + H2_RESP1),
        data(1, READ, SERVER, H2_REQ3), data(1, WRITE, SERVER, H2_RESP3),
        close(1)]
    # a write reported after the close, then a new connection at the
    # same address
    yield "late-write-after-close", [
        connect(1, SERVER), data(1, READ, SERVER, H1_GET), close(1),
        data(1, WRITE, UNKNOWN, H1_OK, flags=DATA_CLOSED),
        data(1, READ, SERVER, H1_GET), data(1, WRITE, SERVER, H1_OK)]
    # TLS: the handshake's records on the socket, the plaintext through
    # the library, the socket's close
    yield "tls-server", [
        connect(1, SERVER), data(1, READ, SERVER, TLS_HELLO),
        data(1, READ, SERVER, H1_GET, tls=True),
        data(1, WRITE, SERVER, H1_OK, tls=True),
        data(1, WRITE, SERVER, TLS_APPDATA), close(1)]
    yield "tls-h2-client", [
        data(2, WRITE, CLIENT, H2_REQ3, tls=True),
        data(2, READ, CLIENT, H2_RESP1, tls=True),
        data(2, READ, CLIENT, H2_RESP3, tls=True), close(2)]
    yield "h2c-upgrade-client", [
        data(3, WRITE, CLIENT, UPGRADE), data(3, READ, CLIENT, SWITCH),
        data(3, READ, CLIENT, H2_RESP1), data(3, WRITE, CLIENT, H2_REQ3),
        data(3, READ, CLIENT, H2_RESP3), close(3)]
    yield "redis-client", [connect(1, CLIENT),
                           data(1, WRITE, CLIENT, REDIS_SET + REDIS_GET),
                           data(1, READ, CLIENT, REDIS_OK_BAR), close(1)]
    yield "redis-server-unknown", [data(2, READ, UNKNOWN, REDIS_GET),
                                   data(2, WRITE, UNKNOWN, b"$3\r\nbar\r\n"),
                                   data(2, READ, UNKNOWN, REDIS_SET),
                                   data(2, WRITE, UNKNOWN, b"+OK\r\n"),
                                   tick(40)]
    # context propagation: a proxy's request with the kernel's trace, its
    # call with the kernel's ids, the callee's with a TCP option's
    yield "propagation-proxy", [
        connect(1, SERVER), connect(2, CLIENT),
        trace(1, 1, span=False), data(1, READ, SERVER, H1_GET),
        trace(2, 2, via=3), data(2, WRITE, CLIENT, H1_GET),
        trace(3, 1, pid=1, via=2), data(3, READ, SERVER, H1_GET, pid=1),
        data(3, WRITE, SERVER, H1_OK, pid=1),
        data(2, READ, CLIENT, H1_OK), data(1, WRITE, SERVER, H1_OK),
        trace(4, 2), trace(4, 2), tick(10)]
    yield "memcached-client", [connect(3, CLIENT),
                               data(3, WRITE, CLIENT, MC_REQ),
                               data(3, READ, CLIENT, MC_RESP), close(3)]
    for name in sorted(os.listdir(recdir)):
        if not name.endswith(".rec"):
            continue
        path = os.path.join(recdir, name)
        base = name[:-4]
        yield base + "-server", conversation(path, 1, SERVER, True)
        yield base + "-client-unknown", conversation(path, 2, UNKNOWN, False)
    # two connections at once: HTTP/2 and HTTP/1.1, records interleaved
    h2 = conversation(os.path.join(recdir, "curl-get.rec"), 1, SERVER, True)
    h1 = [data(2, READ, SERVER, H1_GET), data(2, WRITE, SERVER, H1_OK)]
    mixed = []
    for i in range(max(len(h2), len(h1))):
        mixed += h2[i:i + 1] + h1[i:i + 1]
    yield "mixed-h2-h1", mixed


def main():
    outdir, recdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    for name, records in seeds(recdir):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(b"".join(records))


if __name__ == "__main__":
    main()
