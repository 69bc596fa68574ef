#!/bin/bash
# Only the three processes use the channels.  A stranger running as the
# service user (the uid of the children, who owns the runtime directory)
# connects to every socket there, as the peer each one expects: it sends
# a configuration (a new Prometheus port) and a stop, and tries to
# receive spans.  Every pipe is closed before a message flows: nothing
# arrives, nothing is taken, the sensor keeps counting exactly, and the
# refusals are counted in spyglass_ipc_peers_rejected_total.  The
# loader's channel to the collector has no socket file at all (shared
# memory the collector inherits), and the stranger cannot open it through
# /proc: the children stay not dumpable.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss setpriv "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18490)
PROM_PORT=$(free_port 19490)
EVIL_PORT=$(free_port 19590)
URL=http://127.0.0.1:$PORT
M=http_server_request_duration_seconds_count

nginx_start "$PORT"
start_sensor -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
wait_children || fail "collector and exporter not both running"
RUN=$T/sensor1.run
SVC_UID=$(stat -c %u "$RUN")
SVC_GID=$(stat -c %g "$RUN")
log "service uid $SVC_UID; sockets: $(cd "$RUN" && ls)"

# stranger.py SOCKET ROLE ACTION: SP over the nng ipc transport by hand.
# ROLE is the protocol it claims (push or pull); ACTION: "send:TYPE" sends
# one spyglass message of that type, "recv" waits for one.  Prints how
# many payload bytes it received and whether the pipe was closed on it.
cat > "$T/stranger.py" <<'PY'
import socket, struct, sys, time
path, role, action, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
proto = {"push": 0x50, "pull": 0x51}[role]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(path)
except OSError as e:
    print("connect-failed %s" % e.errno); sys.exit(0)
s.sendall(b"\0SP\0" + struct.pack(">H", proto) + b"\0\0")
def spy(mtype, payload):
    hdr = struct.pack("<IHHII", 0x53474c53, 2, mtype, len(payload), 1)
    body = hdr + payload
    return b"\x01" + struct.pack(">Q", len(body)) + body
if action.startswith("send:"):
    t = int(action[5:])
    if t == 1:    # a configuration moving /metrics to the stranger's port
        kv = [("prometheus_export", "port", str(port))]
        p = struct.pack("<H", len(kv))
        for a in kv:
            for x in a:
                p += struct.pack("<H", len(x)) + x.encode()
    elif t == 8:  # stop
        p = struct.pack("<I", 0)
    else:         # a batch with one junk event
        p = struct.pack("<I", 32) + b"\x01" * 32
    try:
        for _ in range(20):
            s.sendall(spy(t, p)); time.sleep(0.05)
    except OSError:
        pass
got, closed, t0 = b"", False, time.time()
while time.time() - t0 < 2.5:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    except OSError:
        closed = True; break
    if not b:
        closed = True; break
    got += b
# the listener's 8-byte SP header may arrive before it refuses us
print("payload=%d closed=%s" % (max(0, len(got) - 8), closed))
PY
chmod 0755 "$T/stranger.py"

stranger() {   # SOCKET ROLE ACTION
	setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups \
	    "$PYTHON" "$T/stranger.py" "$1" "$2" "$3" "$EVIL_PORT" 2>&1
}

assert_eq "client before: 100 GET /ok" "200 100" "$(http_many 100 "$URL/ok")"
n=0
for sock in "$RUN"/*.sock; do
	name=$(basename "$sock")
	case $name in
	exporter-*)  set -- "push send:1" "push send:8" ;;
	spans-*)     set -- "pull recv" ;;
	*)           continue ;;
	esac
	for how in "$@"; do
		# shellcheck disable=SC2086  # role and action
		out=$(stranger "$sock" $how)
		assert_eq "stranger on $name ($how)" "payload=0 closed=True" "$out"
		n=$((n + 1))
	done
done
assert_eq "stranger attempts" 3 "$n"
assert_eq "socket files for the collector's input" "" \
    "$(cd "$RUN" && ls collector-*.sock 2>/dev/null)"

assert_eq "client after: 100 GET /ok" "200 100" "$(http_many 100 "$URL/ok")"
v=$(wait_metric 200 $M)
log "counted after the strangers: $v"
settle
assert_count "nginx requests counted with strangers about" 200 \
    "$(metric_value $M http_request_method=GET http_response_status_code=200)"
assert_eq "spyglass_bad_events_total" 0 "$(metric_value spyglass_bad_events_total)"
assert_ge "spyglass_ipc_peers_rejected_total" 3 "$(metric_value spyglass_ipc_peers_rejected_total)"
assert_ge "spyglass_ipc_peers_rejected_total{process=collector}" 1 \
    "$(metric_value spyglass_ipc_peers_rejected_total process=collector)"
assert_ge "spyglass_ipc_peers_rejected_total{process=exporter}" 2 \
    "$(metric_value spyglass_ipc_peers_rejected_total process=exporter)"
if curl -sf --max-time 1 "http://127.0.0.1:$EVIL_PORT/metrics" >/dev/null; then
	fail "the stranger's configuration moved /metrics to port $EVIL_PORT"
else
	ok "/metrics not on the stranger's port $EVIL_PORT"
fi
assert_eq "refusals by the collector logged once (one line for the spans channel)" 1 \
    "$(grep -c "spyglass-collector.*refusing a peer .* that is not the exporter" "$SENSOR_ERR")"
# not dumpable: the same uid can neither read their memory nor ptrace them
for child in spyglass-collector spyglass-exporter; do
	pid=$(sensor_child $child) || { fail "$child gone"; continue; }
	if setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups \
	    cat "/proc/$pid/environ" >/dev/null 2>&1; then
		fail "$child: its /proc/$pid/environ is readable by uid $SVC_UID"
	else
		ok "$child: /proc/$pid/environ not readable by uid $SVC_UID"
	fi
	if setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups \
	    "$PYTHON" -c "open('/proc/$pid/mem', 'rb')" 2>/dev/null; then
		fail "$child: /proc/$pid/mem opens for uid $SVC_UID"
	else
		ok "$child: /proc/$pid/mem does not open for uid $SVC_UID"
	fi
	[ "$child" = spyglass-collector ] || continue
	# its channel from the loader: descriptor 3 (chan.h), a memfd
	assert_contains "the collector's descriptor 3" \
	    "$(readlink "/proc/$pid/fd/3")" "memfd:spyglass-channel"
	if setpriv --reuid="$SVC_UID" --regid="$SVC_GID" --clear-groups \
	    "$PYTHON" -c "open('/proc/$pid/fd/3', 'rb')" 2>/dev/null; then
		fail "$child: its channel /proc/$pid/fd/3 opens for uid $SVC_UID"
	else
		ok "$child: its channel /proc/$pid/fd/3 does not open for uid $SVC_UID"
	fi
done
test_done
