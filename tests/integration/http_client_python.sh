#!/bin/bash
# A Python HTTP client (http.client, keep-alive and one connection per
# request) started after the sensor and selected by executable_name on its
# script name: client metrics and client spans must be exact; the server
# (nginx, not selected) must not be instrumented.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss "$PYTHON"
require_bpf
tmpdir_setup
# service_name defaults to the executable's base name: /usr/bin/python3 is
# a symlink, the executable is python3.N
PYSVC=$(basename "$(readlink -f "$PYTHON")")

PORT=$(free_port 18430)
PROM_PORT=$(free_port 19430)
nginx_start "$PORT"

CLIENT=$T/sgtest_client_$$.py
cat > "$CLIENT" <<'PY'
import http.client, sys
port = int(sys.argv[1])
sys.stdin.readline()            # wait until the test says go
seen = {}
def count(method, status):
    seen[(method, status)] = seen.get((method, status), 0) + 1
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)     # keep-alive
for _ in range(100):
    c.request("GET", "/ok"); r = c.getresponse(); r.read(); count("GET", r.status)
for _ in range(20):
    c.request("GET", "/missing"); r = c.getresponse(); r.read(); count("GET", r.status)
for _ in range(30):
    c.request("POST", "/post", body=b"x" * 500); r = c.getresponse(); r.read(); count("POST", r.status)
c.close()
for _ in range(10):             # a new connection each
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/busy"); r = c.getresponse(); r.read(); count("GET", r.status)
    c.close()
for (m, s), n in sorted(seen.items()):
    print(m, s, n)
PY

start_sensor -o discovery.executable_name="sgtest_client_$$[.]py" -o trace_printer=json
wait_ready 0 || exit 1

mkfifo "$T/go"
exec 3<>"$T/go"
"$PYTHON" "$CLIENT" "$PORT" < "$T/go" > "$T/client.log" 2>&1 &
CLIENT_PID=$!
track "$CLIENT_PID"
# the client is caught at exec (or by the next discovery scan)
if v=$(WAIT_METRIC_TRIES=100 wait_metric 1 spyglass_instrumented_processes) && [ "$v" -ge 1 ]; then
	ok "client discovered"
else
	fail "client (pid $CLIENT_PID) not discovered within 20 s"
fi
echo go >&3
wait "$CLIENT_PID"
assert_eq "client exit status" 0 $?
assert_eq "client's own counts" "$(printf 'GET 200 100\nGET 404 20\nGET 503 10\nPOST 200 30')" \
    "$(cat "$T/client.log")"

M=http_client_request_duration_seconds_count
v=$(wait_metric 160 $M)
log "client requests counted after wait: $v"
settle
assert_eq "server_address label" 127.0.0.1 "$(label_values $M server_address)"
assert_eq "server_port label" "$PORT" "$(label_values $M server_port)"
assert_eq "service_name label" "$PYSVC" "$(label_values $M service_name)"
sel=(service_name="$PYSVC" server_address=127.0.0.1 server_port="$PORT")
assert_eq "$M{GET,200}" 100 "$(metric_value $M http_request_method=GET http_response_status_code=200 "${sel[@]}")"
assert_eq "$M{GET,404}" 20 "$(metric_value $M http_request_method=GET http_response_status_code=404 "${sel[@]}")"
assert_eq "$M{GET,503}" 10 "$(metric_value $M http_request_method=GET http_response_status_code=503 "${sel[@]}")"
assert_eq "$M{POST,200}" 30 "$(metric_value $M http_request_method=POST http_response_status_code=200 "${sel[@]}")"
assert_count "python client requests" 160 "$(metric_value $M)"
assert_eq "http_client_request_body_size_bytes_sum{POST}" 15000 \
    "$(metric_value http_client_request_body_size_bytes_sum http_request_method=POST)"
assert_eq "http_server_request_duration_seconds_count (nginx not selected)" 0 \
    "$(metric_value http_server_request_duration_seconds_count)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

log "spans before SIGTERM: $(wait_spans 160 kind=client)"
stop_sensor
assert_eq "client spans GET 200 /ok" 100 "$(count_spans "$SENSOR_OUT" kind=client operation=GET status=200 target=/ok)"
assert_eq "client spans GET 404 /missing" 20 "$(count_spans "$SENSOR_OUT" kind=client operation=GET status=404 target=/missing)"
assert_eq "client spans GET 503 /busy" 10 "$(count_spans "$SENSOR_OUT" kind=client operation=GET status=503 target=/busy)"
assert_eq "client spans POST 200 /post" 30 "$(count_spans "$SENSOR_OUT" kind=client operation=POST status=200 target=/post)"
assert_count "python client spans" 160 "$(count_spans "$SENSOR_OUT" kind=client)"
assert_eq "server spans" 0 "$(count_spans "$SENSOR_OUT" kind=server)"
assert_eq "pid of client spans" "$CLIENT_PID" "$(span_field_values "$SENSOR_OUT" pid kind=client)"
assert_eq "service_name of client spans" "$PYSVC" "$(span_field_values "$SENSOR_OUT" service_name kind=client)"
assert_eq "peer_addr of client spans (the server)" 127.0.0.1 "$(span_field_values "$SENSOR_OUT" peer_addr kind=client)"
assert_eq "peer_port of client spans (the server)" "$PORT" "$(span_field_values "$SENSOR_OUT" peer_port kind=client)"
assert_eq "host_addr of client spans" 127.0.0.1 "$(span_field_values "$SENSOR_OUT" host_addr kind=client)"
assert_eq "request_body_size of POST spans" 500 \
    "$(span_field_values "$SENSOR_OUT" request_size kind=client operation=POST)"

test_done
