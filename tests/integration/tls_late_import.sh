#!/bin/bash
# A Python process selected by its listening port, running before the
# sensor, that imports ssl (and so maps libssl) only after the sensor
# started: the periodic look at selected processes' mappings finds the
# library, and its HTTPS requests (urllib, http.client) to an nginx that is
# not selected are counted exactly as client requests.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx openssl "$PYTHON"
require_bpf
tmpdir_setup
PYSVC=$(basename "$(readlink -f "$PYTHON")")

PORT=$(free_port 18450)
LPORT=$(free_port 18451)
PROM_PORT=$(free_port 19450)
tls_cert
NGINX_LISTEN_OPTS=ssl NGINX_SERVER_EXTRA="$TLS_NGINX" nginx_start "$PORT"

mkfifo "$T/go"
exec 3<>"$T/go"
"$PYTHON" "$(dirname "$0")/peers/tls_late_client.py" "$LPORT" "$PORT" 15 \
    < "$T/go" > "$T/py.log" 2>&1 &
PY_PID=$!
track "$PY_PID"
wait_port "$LPORT" 10 || die "python did not listen on $LPORT"
assert_eq "libssl mapped by python before the sensor" 0 \
    "$(grep -c libssl "/proc/$PY_PID/maps")"

# No executable_name: nothing hooks the system's libssl up front.
start_sensor -o discovery.open_port="$LPORT" -o discovery.poll_interval=500ms \
    -o trace_printer=json
wait_ready 1 || exit 1
assert_eq "TLS files hooked before the import" 0 "$(metric_value spyglass_tls_files_hooked)"

echo import >&3
for _ in $(seq 1 50); do grep -q imported "$T/py.log" && break; sleep 0.1; done
assert_ge "libssl mapped by python after the import" 1 \
    "$(grep -c libssl "/proc/$PY_PID/maps")"
# within the discovery interval (500 ms), with margin
v=$(wait_metric 1 spyglass_tls_files_hooked)
assert_eq "TLS files hooked after the import" 1 "$v"
assert_contains "the loader logged it" "$(cat "$SENSOR_ERR")" \
    "uprobes on OpenSSL in /usr/lib/x86_64-linux-gnu/libssl.so.3"

echo go >&3
for _ in $(seq 1 100); do grep -q : "$T/py.log" && break; sleep 0.1; done
assert_eq "python's own counts" "200:15 503:15" "$(grep : "$T/py.log")"

M=http_client_request_duration_seconds_count
v=$(wait_metric 30 $M)
settle
assert_eq "$M{GET,200}" 15 "$(metric_value $M service_name="$PYSVC" http_response_status_code=200 server_port="$PORT")"
assert_eq "$M{GET,503}" 15 "$(metric_value $M service_name="$PYSVC" http_response_status_code=503 server_port="$PORT")"
assert_count "client requests" 30 "$(metric_value $M)"
assert_eq "server requests (nginx not selected)" 0 "$(metric_value http_server_request_duration_seconds_count)"
for m in spyglass_unparsed_bytes_total spyglass_tls_ciphertext_bytes_total \
    spyglass_tls_unbound_calls_total; do
	assert_eq "$m" 0 "$(metric_value $m)"
done
n=$(wait_spans 30 kind=client)
stop_sensor
assert_eq "client spans with scheme https" 30 "$(count_spans "$SENSOR_OUT" kind=client scheme=https)"
test_done
