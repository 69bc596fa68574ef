#!/bin/bash
# Where does the sensor's cost go?  nginx at saturation (wrk -t2 -c16):
#
#  1. throughput side by side (bench/run.sh sat) in five modes: off (no
#     sensor), idle (sensor selecting an unused port: the cost of the BPF
#     programs' early return for unselected processes), on (selecting
#     nginx), and idle-raw / on-raw (the same with syscall_hooks = raw:
#     sys_enter/sys_exit instead of the default socket tracepoints);
#  2. BPF program run time (kernel.bpf_stats_enabled = 1 for the duration,
#     restored afterwards): calls and ns per program, per request;
#  3. perf record -a -g (software cpu-clock) during the "on" run: CPU by
#     process and the top kernel/user symbols.
#
#   sudo bench/profile.sh [-r ROUNDS] [-d SECONDS] [-o OUTDIR]
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=3
DUR=5
OUTDIR=
while getopts r:d:o:h opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
	*) sed -n '2,16p' "$0"; exit 2 ;;
	esac
done
require nginx wrk bpftool perf curl ss "$PYTHON"
say "profile: sensor $SPYGLASS"

# ---- 1. throughput in five modes
if [ "${SKIP_MODES:-0}" != 1 ]; then
say "profile: 1. throughput (bench/run.sh sat)"
MODES_sat="off idle idle-raw on on-raw" "$BENCH_SRC/run.sh" -r "$ROUNDS" -d "$DUR" \
    ${OUTDIR:+-o "$OUTDIR/modes"} sat
fi

# ---- 2. and 3.
bench_setup
nginx_start "$NGINX_PORT"
URL=http://127.0.0.1:$NGINX_PORT/ok
wrk -t2 -c16 -d1s "$URL" > /dev/null     # warm-up

# tids_of PID ROLE: "tid role" for every thread (perf reports threads)
tids_of() {
	local t
	for t in /proc/"$1"/task/*; do echo "${t##*/} $2"; done 2>/dev/null
}

for mode in idle on idle-raw on-raw; do
	sel=$NGINX_PORT want=1 xo=()
	case $mode in idle*) sel=$UNUSED_PORT want=0 ;; esac
	case $mode in
	*-tp)  xo=(-o ebpf.syscall_hooks=tracepoint) ;;
	*-raw) xo=(-o ebpf.syscall_hooks=raw) ;;
	esac
	WANT_PROCS=$want sensor_start "$sel" "${xo[@]}"
	bpf_stats_on
	bpf_prog_stats "$SENSOR_PID" > "$T/before"
	foreign=$(( $(foreign_sensors) - 1 ))
	PERF_PID=
	if [ "$mode" = on ]; then
		perf record -q -a -g -F 499 -o "$T/perf.data" -- sleep "$DUR" 2> "$T/perf.err" &
		PERF_PID=$!
	fi
	out=$(wrk -t2 -c16 -d"${DUR}s" "$URL")
	reqs=$(printf '%s\n' "$out" | awk '/ requests in / { print $1 }')
	bpf_prog_stats "$SENSOR_PID" > "$T/after"
	if [ "$mode" = on ]; then
		read -r l c e <<< "$SENSOR_PIDS"
		{ tids_of "$l" loader; tids_of "$c" collector; tids_of "$e" exporter
		  tids_of "$NGINX_WORKER" nginx-worker; } > "$T/tids"
	fi
	bpf_stats_restore
	[ -n "$PERF_PID" ] && wait "$PERF_PID"
	sensor_stop
	echo
	echo "BPF programs, mode $mode: $reqs requests in ${DUR}s ($(printf '%s\n' "$out" | awk '/^Requests/ { print $2 }') req/s); other spyglass instances attached: $foreign"
	printf '| program | calls | calls/request | ns/call | ns/request |\n|---|---|---|---|---|\n'
	awk -v reqs="$reqs" 'NR == FNR { c[$1] = $2; t[$1] = $3; next }
	    { dc = $2 - c[$1]; dt = $3 - t[$1]; if (dc == 0) next
	      tot += dt
	      printf "| %s | %d | %.2f | %.0f | %.0f |\n", $1, dc, dc / reqs, dt / dc, dt / reqs }
	    END { printf "| all | | | | %.0f |\n", tot / reqs }' "$T/before" "$T/after"
done | tee "$T/bpf_stats.md"

if [ -s "$T/perf.data" ]; then
	{
		echo
		echo "perf (cpu-clock, all CPUs incl. other sessions' processes, mode on): CPU share by process"
		echo "(sensor threads mapped to loader/collector/exporter; rest by command name)"
		perf report -i "$T/perf.data" --stdio --no-children --sort pid -g none 2>/dev/null |
		    grep -vE '^#|^$' | awk 'NR == FNR { role[$1] = $2; next }
		    { pct = $1; sub(/%/, "", pct); split($2, a, ":"); tid = a[1]
		      name = (tid in role) ? role[tid] : substr($2, length(tid) + 2)
		      if (name ~ /^swapper/) name = "idle (swapper)"
		      sum[name] += pct }
		    END { for (n in sum) if (sum[n] >= 0.3) printf "%7.2f%%  %s\n", sum[n], n }' "$T/tids" - |
		    sort -rn | head -n 14
		echo
		echo "top symbols (>= 0.8 %)"
		perf report -i "$T/perf.data" --stdio --no-children --sort comm,dso,sym -g none \
		    --percent-limit 0.8 2>/dev/null | grep -vE '^#|^$' | head -n 45
	} | tee "$T/perf.txt"
fi
if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR"
	cp "$T/bpf_stats.md" "$OUTDIR"/
	cp "$T/perf.txt" "$OUTDIR"/ 2>/dev/null || true
	[ -s "$T/perf.data" ] && perf report -i "$T/perf.data" --stdio --no-children \
	    --sort comm,dso,sym -g caller,0.5,callee --percent-limit 2 > "$OUTDIR/perf-callgraph.txt" 2>/dev/null
fi
