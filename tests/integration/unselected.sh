#!/bin/bash
# With executable_name set, every process is traced from its exec until
# the loader has matched it.  The loader is stopped (SIGSTOP) while
# clients run, so that every event of theirs waits in the ring buffer
# behind their exec: a copy of curl the expression selects, and plain
# curl it does not.  Once the loader goes on, the selected copy's
# requests are counted exactly, curl's are not counted at all, and the
# events passed over are counted in spyglass_events_unselected_total.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
NSEL=3
NOTSEL=4
nginx_start "$PORT"
SEL=sgtest_sel_$$
cp "$(command -v curl)" "$T/$SEL"

start_sensor -o discovery.executable_name="/$SEL\$"
wait_ready 0 || exit 1
scrape
before=$(metric_value spyglass_events_unselected_total)

kill -STOP "$SENSOR_PID"
for _ in $(seq 1 "$NSEL"); do
	"$T/$SEL" -sf -o /dev/null "http://127.0.0.1:$PORT/ok" ||
	    fail "$SEL: the request failed"
done
for _ in $(seq 1 "$NOTSEL"); do
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/ok" ||
	    fail "curl: the request failed"
done
kill -CONT "$SENSOR_PID"

M=http_client_request_duration_seconds_count
wait_metric "$NSEL" $M service_name="$SEL" > /dev/null
settle
assert_count "requests of the selected copy" "$NSEL" \
    "$(metric_value $M service_name="$SEL" http_response_status_code=200)"
assert_eq "requests of curl, not selected" 0 \
    "$(metric_value $M service_name=curl)"
# each curl wrote a request and read a response at least
assert_ge "events passed over" $((before + 2 * NOTSEL)) \
    "$(metric_value spyglass_events_unselected_total)"
stop_sensor
test_done
