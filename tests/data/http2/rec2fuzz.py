#!/usr/bin/python3
"""Turns recordings (NAME.rec, see recproxy.py) into seeds for
tests/fuzz/fuzz_http2.c: the conversation as the server sees it (client
bytes read), as the client does, with the role unknown, and joined
mid-way, each with other captures and read sizes for the fuzzer's runs
C and B.

    rec2fuzz.py OUTDIR NAME.rec...
"""
import os
import struct
import sys

# setup octet: role (bits 0-1), C's capture (2-4), B's read size (5-7)
# and how many chunks the sensor missed at the start (joined mid-way)
VARIANTS = (
    ("server", 1, 1, 0, 0),     # server, C: 256, B: 1-byte reads
    ("client", 2, 3, 4, 0),     # client, C: 64, B: 9-byte reads
    ("unknown", 0, 2, 6, 0),    # role unknown, C: 128, B: 64-byte reads
    ("joined", 0, 1, 3, 4),     # joined after 4 chunks
)


def chunks(path):
    data = open(path, "rb").read()
    at = 0
    while at + 5 <= len(data):
        tag = data[at:at + 1]
        n = struct.unpack(">I", data[at + 1:at + 5])[0]
        yield tag, data[at + 5:at + 5 + n]
        at += 5 + n


def main():
    outdir = sys.argv[1]
    for path in sys.argv[2:]:
        name = os.path.splitext(os.path.basename(path))[0]
        for suffix, role, cap, piece, skip in VARIANTS:
            out = bytearray([role | cap << 2 | piece << 5])
            for i, (tag, data) in enumerate(chunks(path)):
                if i < skip:
                    continue
                # the client's bytes are reads for a server (and for a
                # process whose role is unknown, taken as the server)
                write = (tag == b"S") == (role != 2)
                while data:
                    part, data = data[:65535], data[65535:]
                    out += bytes([1 if write else 0])
                    out += struct.pack(">H", len(part)) + part
            out += bytes([0x81, 0, 0])  # close
            with open(os.path.join(outdir, "%s-%s" % (name, suffix)),
                      "wb") as f:
                f.write(out)


if __name__ == "__main__":
    main()
