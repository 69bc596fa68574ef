#!/bin/bash
# Processes selected by their listening port make a few requests and exit
# at once, while a discovery scan runs: a process holding many fds (not
# selected) makes each scan long, since open_port has the scan read every
# process's fds.  The scan finds each client gone before the loader has
# read the client's last events from the ring buffer; those exchanges must
# still be counted, exactly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx "$PYTHON"
require_bpf
tmpdir_setup
PYSVC=$(basename "$(readlink -f "$PYTHON")")

PORT=$(free_port 18460)
LPORT=$(free_port 18461)
PROM_PORT=$(free_port 19460)
ROUNDS=${ROUNDS:-20}
N=5
nginx_start "$PORT"

# The ballast: three processes of nearly as many open fds as they may
# have (20,000 here), read by every scan before the clients' (whose pids
# come later).
"$PYTHON" -c '
import os, resource, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(min(hard, 65536) - 64)]
parent, child = os.getpid(), False
for _ in range(2):
    if os.fork() == 0:
        child = True
        break
os.write(1, b"ready %d\n" % len(fds))   # one write: three writers
deadline = time.time() + 600
# the children go with the parent, which the test stops
while time.time() < deadline and not (child and os.getppid() != parent):
    time.sleep(0.2)' > "$T/ballast.log" 2>&1 &
track $!
for _ in $(seq 1 100); do [ "$(grep -c ready "$T/ballast.log")" = 3 ] && break; sleep 0.1; done
[ "$(grep -c ready "$T/ballast.log")" = 3 ] || die "ballast: $(cat "$T/ballast.log")"
log "ballast: $(head -n 1 "$T/ballast.log") fds, in three processes"

start_sensor -o discovery.open_port="$LPORT" -o discovery.poll_interval=100ms
wait_ready 0 || exit 1

mkfifo "$T/go"
exec 3<>"$T/go"
made=0
for r in $(seq 1 "$ROUNDS"); do
	"$PYTHON" "$(dirname "$0")/peers/last_words.py" "$LPORT" "$PORT" "$N" \
	    < "$T/go" > "$T/client.$r.log" 2>&1 &
	pid=$!
	track "$pid"
	wait_log "instrumenting pid $pid " ||
	    die "client $r (pid $pid) not selected within 10 s"
	echo go >&3
	wait "$pid" || fail "client $r: $(cat "$T/client.$r.log")"
	made=$((made + $(sed -n 's/^ok //p' "$T/client.$r.log")))
done
assert_eq "requests the clients made" $((ROUNDS * N)) "$made"
for _ in $(seq 1 50); do
	[ "$(grep -c 'no longer instrumented' "$SENSOR_ERR")" = "$ROUNDS" ] && break
	sleep 0.1
done
assert_eq "the sensor's log: clients no longer instrumented" "$ROUNDS" \
    "$(grep -c 'no longer instrumented' "$SENSOR_ERR")"

M=http_client_request_duration_seconds_count
v=$(wait_metric $((ROUNDS * N)) $M service_name="$PYSVC")
settle
assert_count "client requests of clients that exited at once" $((ROUNDS * N)) \
    "$(metric_value $M service_name="$PYSVC" http_response_status_code=200)"
assert_eq "server requests (nginx not selected)" 0 \
    "$(metric_value http_server_request_duration_seconds_count)"
for m in spyglass_unparsed_bytes_total spyglass_responses_unpaired_total \
    spyglass_requests_cut_off_total; do
	assert_eq "$m" 0 "$(metric_value $m)"
done
stop_sensor
test_done
