#!/usr/bin/python3
"""A recording TCP proxy: listens on 127.0.0.1:LISTEN, connects each
client to 127.0.0.1:UPSTREAM and relays both directions, writing each
connection's conversation to OUTDIR/PREFIX-N.rec: what each recv()
returned, in order, as records of

    one byte  'C' (client to server) or 'S' (server to client)
    4 bytes   length, big-endian
    length    bytes

so the read boundaries the proxy saw are kept.  Stops after COUNT
connections have ended (0: never), or on SIGTERM.

    recproxy.py LISTEN UPSTREAM OUTDIR PREFIX [COUNT]
"""
import os
import selectors
import signal
import socket
import struct
import sys
import threading


def relay(client, upstream_port, path):
    server = socket.create_connection(("127.0.0.1", upstream_port))
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = {client: server, server: client}
    tag = {client: b"C", server: b"S"}
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)
    with open(path, "wb") as out:
        open_ends = 2
        while open_ends > 0:
            for key, _ in sel.select():
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    open_ends -= 1
                    try:
                        peer[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                out.write(tag[s] + struct.pack(">I", len(data)) + data)
                out.flush()
                peer[s].sendall(data)
    client.close()
    server.close()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    outdir, prefix = sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(16)
    threads = []
    n = 0
    while count == 0 or n < count:
        client, _ = ls.accept()
        n += 1
        path = os.path.join(outdir, "%s-%d.rec" % (prefix, n))
        t = threading.Thread(target=relay, args=(client, upstream_port, path))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
