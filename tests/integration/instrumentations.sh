#!/bin/bash
# [metrics] instrumentations: with only grpc asked for, nginx's HTTP/1
# traffic is neither counted nor traced (its bytes are counted as not
# parsed); a SIGHUP asking for http counts the next requests exactly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
URL=http://127.0.0.1:$PORT
M=http_server_request_duration_seconds_count
nginx_start "$PORT"

SENSOR_INI_EXTRA="[discovery]
open_port = $PORT
[metrics]
instrumentations = grpc"
start_sensor -o trace_printer=json
wait_ready 1 || exit 1

assert_eq "served with grpc only" "200 40" "$(http_many 40 "$URL/ok")"
settle
sleep 1
scrape
assert_eq "$M with grpc only" 0 "$(metric_value $M)"
assert_ge "spyglass_unparsed_bytes_total with grpc only" 40 \
    "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spans with grpc only" 0 "$(count_spans "$SENSOR_OUT" kind=server)"

sed -i 's/^instrumentations = .*/instrumentations = http/' "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
sleep 1
assert_eq "served after SIGHUP" "200 25" "$(http_many 25 "$URL/ok")"
assert_eq "$M after SIGHUP asking for http" 25 \
    "$(wait_metric 25 $M http_request_method=GET http_response_status_code=200)"
settle
assert_eq "$M after SIGHUP, settled" 25 "$(metric_value $M)"
assert_eq "spans after SIGHUP" 25 "$(count_spans "$SENSOR_OUT" kind=server operation=GET status=200)"
stop_sensor
test_done
