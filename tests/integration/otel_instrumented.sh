#!/bin/bash
# exclude_otel_instrumented_services, as Beyla decides it: a selected
# python client that sends OTLP itself (a POST to /v1/traces, then to
# /v1/metrics) is left out of traces, then of metrics, from the moment it
# is seen doing so; logged, counted, and hinted at by `spyglass check`
# from its environment.  With the key off, everything is counted.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18490)
PROM_PORT=$(free_port 19490)
NGINX_SERVER_EXTRA='location = /v1/traces { return 200 "{}"; }
        location = /v1/metrics { return 200 "{}"; }' nginx_start "$PORT"
CLIENT=$T/sgotel_client_$$.py
cat > "$CLIENT" <<'PY'
import http.client, sys
port = int(sys.argv[1])
sys.stdin.readline()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def req(method, path, n=1):
    for _ in range(n):
        c.request(method, path, body=b"x" if method == "POST" else None)
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
req("GET", "/ok", 5)
req("POST", "/v1/traces")      # it exports traces itself
req("GET", "/ok", 4)
req("POST", "/v1/metrics")     # ... and metrics
req("GET", "/ok", 3)
print("done")
PY
M=http_client_request_duration_seconds_count

run_client() {   # what
	mkfifo "$T/go.$1"
	exec 3<>"$T/go.$1"
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$PORT "$PYTHON" "$CLIENT" "$PORT" \
	    < "$T/go.$1" > "$T/client.$1" 2>&1 &
	CPID=$!
	track "$CPID"
	v=$(WAIT_METRIC_TRIES=100 wait_metric 1 spyglass_instrumented_processes)
	check=$("$SPYGLASS" -c "$SENSOR_INI" -o discovery.executable_name="sgotel_client_$$" "${@:2}" check 2>&1)
	echo go >&3
	wait "$CPID"
	exec 3>&-
	assert_eq "$1: the client's run" done "$(cat "$T/client.$1")"
}

start_sensor -o discovery.executable_name="sgotel_client_$$" -o trace_printer=json
wait_ready 0 || exit 1
run_client on
assert_contains "check: the environment's hint" "$check" "sets up an OTLP exporter"
v=$(wait_metric 10 $M)
# the requests after the tenth, skipped, came last
v=$(wait_metric 9 spyglass_otel_instrumented_skipped_total signal=traces)
settle
# 5 GET, the POST /v1/traces, 4 GET; not the POST /v1/metrics nor the last 3
assert_count "$M" 10 "$(metric_value $M)"
assert_eq "$M{POST}" 1 "$(metric_value $M http_request_method=POST)"
assert_eq "spyglass_otel_instrumented_skipped_total{signal=metrics}" 4 \
    "$(metric_value spyglass_otel_instrumented_skipped_total signal=metrics)"
assert_eq "spyglass_otel_instrumented_skipped_total{signal=traces}" 9 \
    "$(metric_value spyglass_otel_instrumented_skipped_total signal=traces)"
n=$(wait_spans 5 kind=client)
stop_sensor
assert_count "client spans (before it exported traces)" 5 "$(count_spans "$SENSOR_OUT" kind=client)"
assert_contains "the log" "$(cat "$SENSOR_ERR")" "sends OpenTelemetry traces itself"
assert_contains "the log" "$(cat "$SENSOR_ERR")" "sends OpenTelemetry metrics itself"

# the key off: everything
start_sensor -o discovery.executable_name="sgotel_client_$$" -o trace_printer=json \
    -o discovery.exclude_otel_instrumented_services=false
wait_ready 0 || exit 1
run_client off -o discovery.exclude_otel_instrumented_services=false
assert_not_contains "check without the key: no hint" "$check" "sets up an OTLP exporter"
v=$(wait_metric 14 $M)
settle
assert_count "$M (exclude_otel_instrumented_services = false)" 14 "$(metric_value $M)"
n=$(wait_spans 14 kind=client)
stop_sensor
assert_count "client spans" 14 "$(count_spans "$SENSOR_OUT" kind=client)"
test_done
