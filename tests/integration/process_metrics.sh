#!/bin/bash
# [metrics] features = application_process: a busy-looping python (a
# copy under a name only this test uses, selected by executable_name,
# holding 64 MiB it wrote) gets Beyla's process_* series.  It is stopped
# (SIGSTOP) so that /proc and the sensor can be compared at one moment:
# its CPU time (user + system) within 10 % of /proc/PID/stat's, resident
# memory within 10 % of VmRSS, virtual within 10 % of VmSize; its
# utilisation was above zero while it ran and is zero once stopped.  When
# /proc/PID/io is readable, both disk directions are there.  Its network
# bytes (one fetch of /metrics) are counted exactly.  After it
# exits, its series go with the ttl (short here), as target_info does.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl getconf "$PYTHON"
require_bpf
tmpdir_setup

TTL=3
PROM_PORT=$(free_port 19495)
BUSY=$T/sgbusy$$
cp "$(readlink -f "$PYTHON")" "$BUSY" || die "cannot copy $PYTHON"
SVC=$(basename "$BUSY")
COMM=${SVC:0:15}
TCK=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)

# Once told (the file go), it fetches /metrics over one TCP connection
# and notes the bytes it received and sent, then loops.
"$BUSY" -c '
import os, socket, sys, time
m = b"x" * (64 << 20)
while not os.path.exists(sys.argv[1] + "/go"):
    time.sleep(0.05)
req = b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
s.sendall(req)
n = 0
while True:
    c = s.recv(65536)
    if not c:
        break
    n += len(c)
s.close()
with open(sys.argv[1] + "/net.tmp", "w") as f:
    f.write("%d %d\n" % (n, len(req)))
os.rename(sys.argv[1] + "/net.tmp", sys.argv[1] + "/net")
while True:
    pass' "$T" "$PROM_PORT" > "$T/busy.log" 2>&1 &
BUSY_PID=$!
track "$BUSY_PID"

start_sensor -o discovery.executable_name="/$SVC\$" \
    -o metrics.features="application,application_process" \
    -o prometheus_export.ttl="${TTL}s"
wait_ready 1 || exit 1

# Its network bytes: the sensor's count of its socket I/O, exactly.
touch "$T/go"
for _ in $(seq 1 100); do [ -s "$T/net" ] && break; sleep 0.1; done
read -r RX TX < "$T/net" || die "the busy process did not fetch /metrics"
NET=process_network_io_bytes_total
v=$(wait_metric "$RX" $NET process_pid="$BUSY_PID" network_io_direction=receive)
log "$NET received after wait: $v"
scrape || fail "/metrics does not answer"
assert_eq "$NET{network_io_direction=receive}" "$RX" \
    "$(metric_value $NET process_pid="$BUSY_PID" network_io_direction=receive)"
assert_eq "$NET{network_io_direction=transmit}" "$TX" \
    "$(metric_value $NET process_pid="$BUSY_PID" network_io_direction=transmit)"

C=process_cpu_time_seconds_total
U=process_cpu_utilization_ratio
v=$(wait_metric 0.000001 $U process_pid="$BUSY_PID")
log "utilisation after wait: $v"
scrape || fail "/metrics does not answer"
assert_eq "labels of $C" 1 "$(printf '%s\n' "$SCRAPE" | grep -c \
    "^$C{service_name=\"$SVC\",service_namespace=\"\",target_instance=\"[^\"]*:$BUSY_PID\",process_pid=\"$BUSY_PID\",process_executable_name=\"$SVC\",process_executable_path=\"$BUSY\",process_command=\"$COMM\",cpu_mode=\"user\"} ")"
u=$(metric_value $U process_pid="$BUSY_PID")
if awk -v u="$u" 'BEGIN { exit !(u > 0 && u <= 1) }'; then
	ok "$U while busy: $u (of 1, on $NCPU CPUs)"
else
	fail "$U while busy: $u, want in (0, 1]"
fi

# Frozen, then two samples and a snapshot later: the sensor's figures
# and /proc's are of the same moment.
kill -STOP "$BUSY_PID"
sleep 2.5
settle
read -r -a F <<< "$(sed 's/^.*) //' "/proc/$BUSY_PID/stat")"
# F[0] is field 3: utime is field 14, stime 15
proc_cpu=$(awk -v u="${F[11]}" -v s="${F[12]}" -v t="$TCK" 'BEGIN { printf "%.6f", (u + s) / t }')
rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$BUSY_PID/status")
vsz=$(awk '/^VmSize:/ { print $2 * 1024 }' "/proc/$BUSY_PID/status")
within() {   # what want got: |got - want| <= 10 % of want, want > 0
	if awk -v w="$2" -v g="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(w > 0 && d <= w / 10) }'; then
		ok "$1: $3 (/proc: $2)"
	else
		fail "$1: $3, /proc says $2 (more than 10 % apart)"
	fi
}
within "$C (user + system)" "$proc_cpu" "$(metric_value $C process_pid="$BUSY_PID")"
assert_ge "$C{cpu_mode=user} (busy in user mode)" 0.5 \
    "$(metric_value $C process_pid="$BUSY_PID" cpu_mode=user)"
within process_memory_usage_bytes "$rss" \
    "$(metric_value process_memory_usage_bytes process_pid="$BUSY_PID")"
within process_memory_virtual_bytes "$vsz" \
    "$(metric_value process_memory_virtual_bytes process_pid="$BUSY_PID")"
assert_eq "$U once stopped" 0 "$(metric_value $U process_pid="$BUSY_PID")"
if cat "/proc/$BUSY_PID/io" > /dev/null 2>&1; then
	for dir in read write; do
		assert_eq "process_disk_io_bytes_total{disk_io_direction=$dir} series" 1 \
		    "$(printf '%s\n' "$SCRAPE" | grep -c "^process_disk_io_bytes_total{.*process_pid=\"$BUSY_PID\".*disk_io_direction=\"$dir\"}")"
	done
else
	log "/proc/$BUSY_PID/io unreadable here: no disk series expected"
fi

# It exits: its series leave with the ttl.
kill -CONT "$BUSY_PID"
kill_pid "$BUSY_PID"
n=0
for _ in $(seq 1 $(((TTL + 6) * 5))); do
	scrape || continue
	n=$(printf '%s\n' "$SCRAPE" | grep -c "^process_.*process_pid=\"$BUSY_PID\"")
	[ "$n" -eq 0 ] && break
	sleep 0.2
done
assert_eq "process_* series of pid $BUSY_PID after its exit and the ttl" 0 "$n"
assert_eq "its target_info after the ttl" 0 \
    "$(printf '%s\n' "$SCRAPE" | grep -c "^target_info{.*process_pid=\"$BUSY_PID\"")"

stop_sensor
test_done
