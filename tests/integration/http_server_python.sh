#!/bin/bash
# Python's http.server (HTTP/1.0 style: one connection per request): GETs
# of an existing file (200) and of a missing one (404), HEADs; exact counts,
# service_name = the executable's base name, or OTEL_SERVICE_NAME from the
# server's environment (a second server); span attributes.  A third
# server peeks at each request (recv MSG_PEEK) before reading it: the peek
# is not a read, so each request is counted once and nothing times out;
# its responses have no length and end when it closes the connection.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl ss "$PYTHON"
require_bpf
tmpdir_setup
# service_name defaults to the executable's base name: /usr/bin/python3 is
# a symlink, the executable is python3.N
PYSVC=$(basename "$(readlink -f "$PYTHON")")

PORT=$(free_port 18420)
PROM_PORT=$(free_port 19420)
URL=http://127.0.0.1:$PORT

mkdir -p "$T/www"
printf 'hello from spyglass\n' > "$T/www/hello.txt"     # 20 bytes
python_server_start "$PORT" "$T/www"
PORT2=$(free_port 18421)
OTEL_SERVICE_NAME=sgtest-named "$PYTHON" -m http.server "$PORT2" --bind 127.0.0.1 \
    --directory "$T/www" > "$T/pyserver2.log" 2>&1 &
track $!
wait_port "$PORT2" 10 || die "second python http.server did not listen on $PORT2"
PORT3=$(free_port 18422)
cat > "$T/peek_server.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(4096, socket.MSG_PEEK)          # look first, read after
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            break
        data += d
    c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npeek\n")
    c.close()
PY
OTEL_SERVICE_NAME=sgtest-peek "$PYTHON" "$T/peek_server.py" "$PORT3" > "$T/pyserver3.log" 2>&1 &
track $!
wait_port "$PORT3" 10 || die "peeking server did not listen on $PORT3"

# selection and printer through the seeds' environment names this time
start_sensor -w env BEYLA_OPEN_PORT="$PORT,$PORT2,$PORT3" BEYLA_TRACE_PRINTER=json \
    BEYLA_PROMETHEUS_PORT="$PROM_PORT" --
wait_ready 3 || exit 1

assert_eq "client: 150 GET /hello.txt" "200 150" "$(http_many 150 "$URL/hello.txt")"
assert_eq "client: 40 GET /nope.txt" "404 40" "$(http_many 40 "$URL/nope.txt")"
assert_eq "client: 10 HEAD /hello.txt" "200 10" "$(http_many 10 "$URL/hello.txt" -I)"
assert_eq "client: 12 GET /hello.txt (second server)" "200 12" \
    "$(http_many 12 "http://127.0.0.1:$PORT2/hello.txt")"
assert_eq "client: 15 GET /peek (peeking server)" "200 15" \
    "$(http_many 15 "http://127.0.0.1:$PORT3/peek")"

M=http_server_request_duration_seconds_count
v=$(wait_metric 227 $M)
log "counted after wait: $v"
settle
assert_eq "$M{GET,200,$PYSVC}" 150 \
    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name="$PYSVC")"
assert_eq "$M{GET,404,$PYSVC}" 40 \
    "$(metric_value $M http_request_method=GET http_response_status_code=404 service_name="$PYSVC")"
assert_eq "$M{HEAD,200,$PYSVC}" 10 \
    "$(metric_value $M http_request_method=HEAD http_response_status_code=200 service_name="$PYSVC")"
assert_eq "$M{GET,200,sgtest-named} (OTEL_SERVICE_NAME)" 12 \
    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name=sgtest-named)"
assert_eq "$M{GET,200,sgtest-peek} (MSG_PEEK counted once)" 15 \
    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name=sgtest-peek)"
assert_eq "$M total" 227 "$(metric_value $M)"
assert_eq "spyglass_requests_timed_out_total" 0 "$(metric_value spyglass_requests_timed_out_total)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "http_server_response_body_size_bytes_sum{GET,200}" $((150 * 20)) \
    "$(metric_value http_server_response_body_size_bytes_sum http_request_method=GET http_response_status_code=200 service_name="$PYSVC")"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"
assert_ge "target_info{service_name=$PYSVC}" 1 "$(metric_value target_info service_name="$PYSVC")"

log "spans before SIGTERM: $(wait_spans 227 kind=server)"
stop_sensor
assert_eq "server spans GET 200 /hello.txt" 150 \
    "$(count_spans "$SENSOR_OUT" kind=server service_name="$PYSVC" operation=GET status=200 target=/hello.txt)"
assert_eq "server spans GET 404 /nope.txt" 40 \
    "$(count_spans "$SENSOR_OUT" kind=server service_name="$PYSVC" operation=GET status=404 target=/nope.txt)"
assert_eq "server spans HEAD 200" 10 \
    "$(count_spans "$SENSOR_OUT" kind=server service_name="$PYSVC" operation=HEAD status=200)"
assert_eq "server spans of sgtest-named" 12 "$(count_spans "$SENSOR_OUT" kind=server service_name=sgtest-named)"
assert_eq "server spans of sgtest-peek" 15 "$(count_spans "$SENSOR_OUT" kind=server service_name=sgtest-peek)"
assert_eq "response_body_size of sgtest-peek spans (ended by the close)" 5 \
    "$(span_field_values "$SENSOR_OUT" response_size kind=server service_name=sgtest-peek)"
assert_eq "server spans in total" 227 "$(count_spans "$SENSOR_OUT" kind=server)"
assert_eq "pid of spans" "$PYSERVER_PID" "$(span_field_values "$SENSOR_OUT" pid kind=server service_name="$PYSVC")"
assert_eq "response_body_size of GET 200 spans" 20 \
    "$(span_field_values "$SENSOR_OUT" response_size kind=server operation=GET status=200 service_name="$PYSVC")"
assert_eq "peer_addr" 127.0.0.1 "$(span_field_values "$SENSOR_OUT" peer_addr kind=server)"
assert_eq "host_port" "$PORT" "$(span_field_values "$SENSOR_OUT" host_port kind=server service_name="$PYSVC")"

test_done
