#!/bin/bash
# A client whose main thread leaves (pthread_exit) before its other
# thread makes its requests: the process lives on, and so does its
# selection.  Its requests are counted exactly; when its last thread ends
# the loader lets it go.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx cc
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
N=40
nginx_start "$PORT"
EXE=$T/sgtest_mte_$$
cc -O1 -pthread -o "$EXE" "$(dirname "$0")/peers/main_thread_exit.c" ||
    die "cannot build the client"

start_sensor -o discovery.executable_name="sgtest_mte_$$"
wait_ready 0 || exit 1

"$EXE" "$PORT" "$N" > "$T/client.log" 2>&1 &
pid=$!
track "$pid"
wait "$pid" || fail "client: $(cat "$T/client.log")"
assert_eq "the client's own count" "ok $N" "$(cat "$T/client.log")"

M=http_client_request_duration_seconds_count
v=$(wait_metric $N $M service_name="sgtest_mte_$$")
settle
assert_count "requests after the main thread left" $N \
    "$(metric_value $M service_name="sgtest_mte_$$" http_response_status_code=200)"
for _ in $(seq 1 50); do
	grep -q "pid $pid no longer instrumented" "$SENSOR_ERR" && break
	sleep 0.1
done
assert_contains "let go when its last thread ended" "$(cat "$SENSOR_ERR")" \
    "pid $pid no longer instrumented"
assert_eq "let go once" 1 "$(grep -c "pid $pid no longer instrumented" "$SENSOR_ERR")"
stop_sensor
test_done
