#!/bin/bash
# HTTP/1.1 requests pipelined, ten and fifty in one write, to nginx
# (issue 9: only the requests in the capture were counted, and nothing said
# that the others were missed).  Every response nginx writes must end up
# either in the server metrics or in spyglass_responses_unpaired_total.
#
# With capture_size = 1024 every read of nginx is captured whole (it reads
# pipelined requests at most 1 KiB at a time): all requests are counted.
# With the default 256, a read of ten 37-byte requests shows six and the
# start line of a seventh; a write of fifty is read as 1024 bytes (seven
# seen) and then 826 starting inside a request (none seen).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18450)
PROM_PORT=$(free_port 19450)
nginx_start "$PORT"

CLIENT=$T/pipelined_client.py
cat > "$CLIENT" <<'PY'
import socket, sys
port, total, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
req = b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
buf = b""
def more():
    global buf
    d = s.recv(65536)
    if not d:
        sys.exit("connection closed by the server")
    buf += d
def response():
    """One response from buf (reading as needed): its status."""
    global buf
    while b"\r\n\r\n" not in buf:
        more()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, value = line.split(b":", 1)
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < length:
        more()
    buf = buf[length:]
    return int(lines[0].split()[1])
statuses = {}
for sent in range(0, total, per):
    s.sendall(req * per)        # one write of `per` requests
    for _ in range(per):
        st = response()
        statuses[st] = statuses.get(st, 0) + 1
s.close()
print(" ".join("%d:%d" % kv for kv in sorted(statuses.items())))
PY

M=http_server_request_duration_seconds_count
U=spyglass_responses_unpaired_total

# run_phase WHAT TOTAL PER WANT_COUNTED WANT_UNPAIRED: both cumulative
run_phase() {
	local what=$1 total=$2 per=$3 counted=$4 unpaired=$5 out
	out=$("$PYTHON" "$CLIENT" "$PORT" "$total" "$per" 2>&1)
	assert_eq "$what: client got" "200:$total" "$out"
	wait_metric "$counted" $M > /dev/null
	[ "$unpaired" -eq 0 ] || wait_metric "$unpaired" $U > /dev/null
	settle
	assert_count "$what: nginx server requests" "$counted" "$(metric_value $M)"
	assert_eq "$what: $U" "$unpaired" "$(metric_value $U)"
	assert_eq "$what: $M{GET,200}" "$counted" \
	    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name=nginx)"
}

check_losses() {
	local m
	for m in spyglass_requests_dropped_total spyglass_unparsed_bytes_total \
	    spyglass_requests_timed_out_total spyglass_bad_events_total \
	    spyglass_events_lost_total; do
		assert_eq "$1: $m" 0 "$(metric_value $m)"
	done
}

start_sensor -o discovery.open_port="$PORT" -o ebpf.capture_size=1024
wait_ready 1 || exit 1
run_phase "capture 1024, 100 ten a write" 100 10 100 0
run_phase "capture 1024, 500 fifty a write" 500 50 600 0
check_losses "capture 1024"
stop_sensor

start_sensor -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
run_phase "capture 256, 100 ten a write" 100 10 70 30
run_phase "capture 256, 500 fifty a write" 500 50 140 460
check_losses "capture 256"
stop_sensor

test_done
