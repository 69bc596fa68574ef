"""The spans of the path tests/integration/trace_path.sh and
trace_propagation.sh drive (curl -> nginx -> the python backend ->
Redis), grouped by trace.  Prints "traces N", then "ok N" for the traces
of exactly the spans of one request linked as they should be, then
"wire N" with --headers: of those, the traces whose backend received a
traceparent naming nginx's client span as parent (its trace, that span's
id), then one "bad" line per trace that is not whole (for the log).

    trace_paths.py SPANS PORT BPORT RPORT [--want FILE] [--redis-server]
        [--headers FILE]

--want: a file of "trace_id parent_id" lines: only those traces, nginx's
server span the child of that parent.  --redis-server: redis-server is
followed too, its span the child of the backend's Redis client span.
--headers: the backend's log of "path traceparent" lines.
"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("spans")
ap.add_argument("port", type=int)
ap.add_argument("bport", type=int)
ap.add_argument("rport", type=int)
ap.add_argument("--want")
ap.add_argument("--redis-server", action="store_true")
ap.add_argument("--headers")
a = ap.parse_args()

want = {}
if a.want:
    for line in open(a.want):
        t, p = line.split()
        want[t] = p
received = set()
if a.headers:
    for line in open(a.headers):
        parts = line.split()
        if len(parts) == 2 and parts[1].count("-") == 3:
            _, tr, sp, _ = parts[1].split("-")
            received.add((tr, sp))

traces = {}
for line in open(a.spans, errors="replace"):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    traces.setdefault(o["trace_id"], []).append(o)


def role(o):
    if o["kind"] == "server" and o["host_port"] == a.port:
        return "nginx"
    if o["kind"] == "client" and o["peer_port"] == a.bport:
        return "nginx_client"
    if o["kind"] == "server" and o["host_port"] == a.bport:
        return "backend"
    if o["kind"] == "client" and o["peer_port"] == a.rport:
        return "redis"
    if o["kind"] == "server" and o["host_port"] == a.rport:
        return "redis_server"
    return "other"


shape_want = [("backend", 1), ("nginx", 1), ("nginx_client", 1), ("redis", 1)]
if a.redis_server:
    shape_want = sorted(shape_want + [("redis_server", 1)])
good, wire, bad = 0, 0, []
for tid, spans in traces.items():
    if want and tid not in want:
        continue
    by = {}
    for s in spans:
        by.setdefault(role(s), []).append(s)
    ok = sorted((r, len(v)) for r, v in by.items()) == shape_want
    if ok:
        n, nc, b, r = by["nginx"][0], by["nginx_client"][0], \
            by["backend"][0], by["redis"][0]
        # a root's parent_span_id is ""
        ok = n["parent_span_id"] == want.get(tid, "") and \
            nc["parent_span_id"] == n["span_id"] and \
            b["parent_span_id"] == nc["span_id"] and \
            r["parent_span_id"] == b["span_id"] and \
            r["protocol"] == "redis" and n["status"] == 200 and \
            n["pid"] == nc["pid"] and b["pid"] == r["pid"] and \
            n["pid"] != b["pid"]
        if ok and a.redis_server:
            rs = by["redis_server"][0]
            ok = rs["parent_span_id"] == r["span_id"]
    if ok:
        good += 1
        if (tid, by["nginx_client"][0]["span_id"]) in received:
            wire += 1
    else:
        bad.append("%s: %s" % (tid, " ".join(
            "%s(%s<-%s)" % (role(s), s["span_id"], s["parent_span_id"])
            for s in spans)))
print("traces", len(traces))
print("ok", good)
if a.headers:
    print("wire", wire)
for b in bad[:10]:
    print("bad", b)
