#!/bin/bash
# memcached (text protocol): a Python socket client and the libmemcached
# tools memccp / memccat (copies under the test's own names, selected by
# them) against a real memcached on a test port.
#
# Exact counts: the client sends its commands one at a time, except one
# write of four sets and a multi-get; "noreply" sets end with no reply;
# "incr" on a string is answered CLIENT_ERROR, an unknown command ERROR.
# memccp sends one set, memccat one get (and both "quit", no operation).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd memcached memccp memccat "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 11290)
PROM_PORT=$(free_port 19470)
memcached -l 127.0.0.1 -p "$PORT" -U 0 -u memcache -m 64 > "$T/memcached.log" 2>&1 &
track $!
wait_port "$PORT" 10 || die "memcached did not listen on $PORT"

CLIENT=$T/sgtest-mc_client.py
cat > "$CLIENT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
buf = b""
def line():
    global buf
    while b"\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        buf += d
    l, buf = buf.split(b"\r\n", 1)
    return l
def until_end():
    n = 0
    while True:
        l = line()
        if l == b"END":
            return n
        if l.startswith(b"VALUE "):
            size = int(l.split()[3])
            while len(buf) < size + 2:
                buf_more()
            take(size + 2)
            n += 1
def buf_more():
    global buf
    buf += s.recv(65536)
def take(n):
    global buf
    buf = buf[n:]
out = []
for i in range(10):
    s.sendall(b"set k%d 0 0 5\r\nvalue\r\n" % i); out.append(line())
for i in range(10):
    s.sendall(b"get k%d\r\n" % i); out.append(b"hits %d" % until_end())
for _ in range(5):
    s.sendall(b"get k1 k2 k3\r\n"); out.append(b"hits %d" % until_end())
s.sendall(b"".join(b"set p%d 0 0 3\r\nabc\r\n" % i for i in range(4)) +
    b"get p0 p1 p2 p3\r\n")
out += [line() for _ in range(4)]
out.append(b"hits %d" % until_end())
s.sendall(b"set nr1 0 0 2 noreply\r\nhi\r\nset nr2 0 0 2 noreply\r\nhi\r\n")
s.sendall(b"get nr1 nr2\r\n"); out.append(b"hits %d" % until_end())
for i in range(3):
    s.sendall(b"delete k%d\r\n" % i); out.append(line())
s.sendall(b"incr k5 1\r\n"); out.append(line())
s.sendall(b"bogus\r\n"); out.append(line())
s.close()
print(b" ".join(out).decode())
PY

echo hello > "$T/f1.txt"
MCP=$T/sgtest-memccp
MCAT=$T/sgtest-memccat
cp "$(command -v memccp)" "$MCP"
cp "$(command -v memccat)" "$MCAT"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-(memccp|memccat|mc_client[.]py)
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

WANT="$(printf 'STORED %.0s' $(seq 10))$(printf 'hits 1 %.0s' $(seq 10))$(printf 'hits 3 %.0s' $(seq 5))"
WANT="${WANT}STORED STORED STORED STORED hits 4 hits 2 DELETED DELETED DELETED"
WANT="$WANT CLIENT_ERROR cannot increment or decrement non-numeric value ERROR"
assert_eq "client's replies" "$WANT" "$("$PYTHON" "$CLIENT" "$PORT" 2>&1)"
(cd "$T" && "$MCP" --servers=127.0.0.1:"$PORT" f1.txt) || fail "memccp"
assert_eq "memccat" hello "$("$MCAT" --servers=127.0.0.1:"$PORT" f1.txt)"

M=db_client_operation_duration_seconds_count
SETS=$((10 + 4 + 2 + 1))
GETS=$((10 + 5 + 1 + 1 + 1))
TOTAL=$((SETS + GETS + 3 + 1 + 1))
v=$(wait_metric $TOTAL $M)
log "operations counted after wait: $v"
settle
sel=(db_system_name=memcached server_port="$PORT")
assert_eq "$M{set}" $SETS "$(metric_value $M "${sel[@]}" db_operation_name=set)"
assert_eq "$M{get}" $GETS "$(metric_value $M "${sel[@]}" db_operation_name=get)"
assert_eq "$M{delete}" 3 "$(metric_value $M "${sel[@]}" db_operation_name=delete)"
assert_eq "$M{incr, CLIENT_ERROR}" 1 \
    "$(metric_value $M "${sel[@]}" db_operation_name=incr error_type=CLIENT_ERROR)"
assert_eq "$M{bogus, ERROR}" 1 \
    "$(metric_value $M "${sel[@]}" db_operation_name=bogus error_type=ERROR)"
assert_eq "operations, all" $TOTAL "$(metric_value $M)"
assert_eq "error_type labels" "CLIENT_ERROR ERROR" "$(label_values $M error_type)"
assert_eq "memccp's set" 1 "$(metric_value $M db_operation_name=set service_name=sgtest-memccp)"
assert_eq "memccat's get" 1 "$(metric_value $M db_operation_name=get service_name=sgtest-memccat)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_responses_unpaired_total" 0 "$(metric_value spyglass_responses_unpaired_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans $TOTAL > /dev/null
stop_sensor
sp=(kind=client protocol=memcached)
assert_eq "multi-get spans" 5 \
    "$(count_spans "$SENSOR_OUT" "${sp[@]}" operation=get "target=get k1 k2 k3" error=)"
assert_eq "pipelined multi-get span" 1 \
    "$(count_spans "$SENSOR_OUT" "${sp[@]}" operation=get "target=get p0 p1 p2 p3" error=)"
assert_eq "set k1 span" 1 \
    "$(count_spans "$SENSOR_OUT" "${sp[@]}" operation=set "target=set k1 ?" error=)"
assert_eq "incr span, CLIENT_ERROR" 1 \
    "$(count_spans "$SENSOR_OUT" "${sp[@]}" operation=incr "target=incr k5 ?" error=CLIENT_ERROR)"
assert_eq "bogus span, ERROR" 1 \
    "$(count_spans "$SENSOR_OUT" "${sp[@]}" operation=bogus target=bogus error=ERROR)"
assert_eq "memcached spans, all" $TOTAL "$(count_spans "$SENSOR_OUT" protocol=memcached)"

test_done
