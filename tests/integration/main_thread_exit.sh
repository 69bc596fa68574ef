#!/bin/bash
# Clients whose main thread leaves (pthread_exit) before their other
# thread makes its requests: the process lives on, and so does its
# selection.
#  - "late" is started after the sensor and selected while its main
#    thread lives;
#  - "early" is started before the sensor and its main thread leaves at
#    once: the sensor meets a process whose leader is a zombie, whose
#    /proc/PID shows no executable, command line or sockets.
# Both are selected, stay so across discovery's scans, have their
# requests counted exactly, and are let go once, when their last thread
# ends.  The early one's memory (application_process) is its live
# thread's: a zombie leader's own stat shows none.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
N=40
nginx_start "$PORT"
EARLY=sgtest_mtea_$$
LATE=sgtest_mteb_$$
# built beside its source where there is no compiler (the kernel matrix)
PEER=$(dirname "$0")/peers/main_thread_exit
if [ -x "$PEER" ]; then
	cp "$PEER" "$T/$EARLY"
else
	require_cmd cc
	cc -O1 -pthread -o "$T/$EARLY" "$PEER.c" || die "cannot build the client"
fi
cp "$T/$EARLY" "$T/$LATE"

# each client waits for its go line: fd 3 (early) and 4 (late)
mkfifo "$T/go_early" "$T/go_late"
exec 3<>"$T/go_early" 4<>"$T/go_late"
"$T/$EARLY" "$PORT" "$N" thread < "$T/go_early" > "$T/early.log" 2>&1 &
early=$!
track "$early"
for _ in $(seq 1 50); do
	[ "$(awk '{ print $3 }' "/proc/$early/task/$early/stat" 2>/dev/null)" = Z ] && break
	sleep 0.1
done
[ "$(awk '{ print $3 }' "/proc/$early/task/$early/stat")" = Z ] ||
    die "the early client's main thread did not leave"

# anchored to the path's end: the test's own awk and grep name the
# clients in their command lines.  Scans every second, so that the
# waits below span some.
start_sensor -o discovery.executable_name="/sgtest_mte[ab]_$$\$" \
    -o discovery.poll_interval=1s \
    -o metrics.features="application,application_process"
wait_ready 1 || exit 1
assert_contains "the early client found by the first scan" \
    "$(cat "$SENSOR_ERR")" "instrumenting pid $early "

"$T/$LATE" "$PORT" "$N" main < "$T/go_late" > "$T/late.log" 2>&1 &
late=$!
track "$late"
wait_log "instrumenting pid $late " 20
assert_contains "the late client selected while its main thread lives" \
    "$(cat "$SENSOR_ERR")" "instrumenting pid $late "
echo go >&4
# two scans pass; the early client waits on, its leader gone
sleep 2.5
assert_not_contains "the early client not let go by a scan" \
    "$(cat "$SENSOR_ERR")" "pid $early no longer instrumented"
scrape
rss=$(metric_value process_memory_usage_bytes process_pid="$early")
assert_ge "the early client's resident memory, bytes" 100000 "$rss"
echo go >&3
wait "$early" || fail "early client: $(cat "$T/early.log")"
wait "$late" || fail "late client: $(cat "$T/late.log")"
assert_eq "the early client's own count" "ok $N" "$(cat "$T/early.log")"
assert_eq "the late client's own count" "ok $N" "$(cat "$T/late.log")"

M=http_client_request_duration_seconds_count
wait_metric $((2 * N)) $M > /dev/null
settle
assert_count "the early client's requests" $N \
    "$(metric_value $M service_name="$EARLY" http_response_status_code=200)"
assert_count "the late client's requests" $N \
    "$(metric_value $M service_name="$LATE" http_response_status_code=200)"

for pid in "$early" "$late"; do
	wait_log "pid $pid no longer instrumented" 5
	assert_eq "pid $pid let go once, when its last thread ended" 1 \
	    "$(grep -c "pid $pid no longer instrumented" "$SENSOR_ERR")"
done
stop_sensor
test_done
