#!/bin/bash
# What each kind of I/O hooks costs on this kernel, to order them
# (loader/hooks.h): nginx at saturation (wrk -t2 -c16), keep-alive.
#
#  1. throughput, alternating rounds: off (no sensor), then for every kind
#     the kernel offers (`spyglass check`): "on" (the sensor selects
#     nginx) and "idle" (it selects an unused port: what every process it
#     does not select pays, here nginx and wrk);
#  2. BPF run time per request of the sensor's programs
#     (kernel.bpf_stats_enabled for the whole run, every mode alike,
#     restored after), on and idle.  It does not include the cost of reaching a program (kprobe
#     trap, trampoline), which only the throughput shows.
#
#   sudo bench/hooks.sh [-r ROUNDS] [-d SECONDS] [KIND...]
#
# Runs here or inside a kernel of the matrix (tests/kernels/run.sh -t
# bench/hooks.sh KERNEL).  Prints one table; nothing is asserted.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=3
DUR=5
while getopts r:d:h opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	*) sed -n '2,18p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
require nginx wrk bpftool curl ss
bench_setup

# In a machine of the kernel matrix (tests/kernels), which is ours alone,
# let the kprobe hooks be measured where kernel.perf_event_paranoid is 3.
if [ "${SG_GUEST:-0}" = 1 ] && [ "$(sysctl -n kernel.perf_event_paranoid)" -gt 2 ]; then
	sysctl -qw kernel.perf_event_paranoid=2
fi
KINDS=$*
if [ -z "$KINDS" ]; then
	KINDS=$("$SPYGLASS" check -c /dev/null -o discovery.open_port=1 2>&1 |
	    sed -n 's/.*in the order they would be tried: //p' | tr -d ,)
fi
say "hooks: kernel $(uname -r), kinds: $KINDS, $ROUNDS rounds of ${DUR}s"

# On for the whole run, every mode alike: flipping it between runs patches
# the kernel's text each time, which hung a 6.1 guest under qemu's TCG.
bpf_stats_on
nginx_start "$NGINX_PORT"
URL=http://127.0.0.1:$NGINX_PORT/ok
wrk -t2 -c16 -d1s "$URL" > /dev/null     # warm-up

# one MODE: "off", or KIND-on / KIND-idle; appends "mode rps ns/req"
one() {
	local mode=$1 kind=${1%-*} out rps reqs ns0 ns1
	case $mode in
	off) ;;
	*-on) sensor_start "$NGINX_PORT" -o ebpf.syscall_hooks="$kind" ;;
	*-idle) WANT_PROCS=0 sensor_start "$UNUSED_PORT" -o ebpf.syscall_hooks="$kind" ;;
	esac
	ns0=0
	[ "$mode" = off ] || ns0=$(bpf_run_ns "$SENSOR_PID")
	out=$(wrk -t2 -c16 -d"${DUR}s" "$URL")
	reqs=$(printf '%s\n' "$out" | awk '/ requests in / { print $1 }')
	rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { print $2 }')
	ns1=0
	if [ "$mode" != off ]; then
		ns1=$(bpf_run_ns "$SENSOR_PID")
		sensor_stop
	fi
	echo "$mode $rps $(awk -v d=$((ns1 - ns0)) -v r="$reqs" 'BEGIN { printf "%.0f", (r > 0 ? d / r : 0) }')" >> "$T/results"
	say "hooks: $mode: $rps req/s"
}

MODES="off"
for k in $KINDS; do MODES="$MODES $k-on $k-idle"; done
for r in $(seq 1 "$ROUNDS"); do
	for m in $MODES; do
		one "$m"
		# off between every two others: the baseline drifts under load
		[ "$m" = off ] || one off
	done
done

off=$(awk '$1 == "off" { print $2 }' "$T/results" | median)
echo
echo "I/O hooks on $(uname -r): nginx, wrk -t2 -c16, ${DUR}s x $ROUNDS rounds, medians"
echo
printf '| hooks | req/s selected | ratio | BPF ns/request selected | req/s unselected | ratio | BPF ns/request unselected |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '| off | %s | 1.00 | | | | |\n' "$off"
for k in $KINDS; do
	on=$(awk -v m="$k-on" '$1 == m { print $2 }' "$T/results" | median)
	onns=$(awk -v m="$k-on" '$1 == m { print $3 }' "$T/results" | median)
	id=$(awk -v m="$k-idle" '$1 == m { print $2 }' "$T/results" | median)
	idns=$(awk -v m="$k-idle" '$1 == m { print $3 }' "$T/results" | median)
	printf '| %s | %s | %.2f | %s | %s | %.2f | %s |\n' "$k" "$on" \
	    "$(awk -v a="$on" -v b="$off" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$onns" \
	    "$id" "$(awk -v a="$id" -v b="$off" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$idns"
done
