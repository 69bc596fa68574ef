#!/bin/bash
# spyglass benchmark: each scenario runs the uninstrumented and the
# instrumented application alternately in one run and prints one table of
# medians.  See bench/README.md.
#
#   sudo bench/run.sh [-b] [-r ROUNDS] [-d SECONDS] [-o OUTDIR] [SCENARIO...]
#
# Scenarios: sat rate python conns burst h2 https https_own redis redis_p16
# (default: all).  -b: kernel.bpf_stats_enabled on for the run, and the
# sensor's BPF run time per request in the table.
#   bench/run.sh -S OUTDIR/records.tsv   prints the table of a past run again
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=3
DUR=5                 # seconds per timed run
RATE=${RATE:-10000}   # total req/s of the "rate" scenario
OUTDIR=
SUMMARY_ONLY=
BPF_STATS=
while getopts br:d:o:S:h opt; do
	case $opt in
	b) BPF_STATS=1 ;;
	S) SUMMARY_ONLY=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	d) DUR=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
	*) sed -n '2,12p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(sat rate python conns burst h2 https https_own redis redis_p16)
# Modes: off = no sensor; on = sensor selecting the application's port;
# idle = sensor running but selecting nothing (an unused port);
# on-raw, idle-raw, on-tp, idle-tp: the same with [ebpf] syscall_hooks =
# raw or tracepoint (raw sys_enter/sys_exit or per-syscall tracepoints
# instead of the default socket tracepoints); on-base, idle-base: the
# sensor BASE_SPYGLASS (another build's spyglass), to compare two builds
# in the same minutes: BASE_SPYGLASS=/tmp/old/build/spyglass
# MODES_sat="off on on-base" bench/run.sh sat.
MODES_sat=${MODES_sat:-"off on idle"}
MODES_rate=${MODES_rate:-"off on"}
MODES_python=${MODES_python:-"off on"}
MODES_conns=${MODES_conns:-"off on"}
MODES_burst=${MODES_burst:-"off on"}
MODES_h2=${MODES_h2:-"off on"}
MODES_https=${MODES_https:-"off on"}
MODES_https_own=${MODES_https_own:-"off on"}
MODES_redis=${MODES_redis:-"off on"}
MODES_redis_p16=${MODES_redis_p16:-"off on"}
# redis-benchmark is told a number of commands, not a duration: this many
# per second of DUR and per test (SET, GET), about what the uninstrumented
# server does on two CPUs
REDIS_RATE=${REDIS_RATE:-40000}
REDIS_P16_RATE=${REDIS_P16_RATE:-200000}

if [ -n "$SUMMARY_ONLY" ]; then   # -S RECORDS: print the table again
	REC=$SUMMARY_ONLY
	[ ${#SCENARIOS[@]} -eq "$(cut -f1 "$REC" | sort -u | wc -l)" ] ||
	    mapfile -t SCENARIOS < <(cut -f1 "$REC" | awk '!seen[$0]++')
	eval "$(cut -f1,2 "$REC" | awk -F'\t' '!seen[$0]++ { m[$1] = m[$1] " " $2 }
	    END { for (s in m) printf "MODES_%s=\"%s\"\n", s, substr(m[s], 2) }')"
fi

# ---------------------------------------------------------------- load generators
# Each prints: RPS P50_MS P99_MS P999_MS REQUESTS ERRORS CONNS  (NA when unknown)

to_ms() {   # wrk's "123.45us" / "1.23ms" / "1.00s" -> ms
	awk -v x="$1" 'BEGIN {
		if (x ~ /us$/) { sub(/us$/, "", x); printf "%.3f", x / 1000 }
		else if (x ~ /ms$/) { sub(/ms$/, "", x); printf "%.3f", x }
		else if (x ~ /s$/) { sub(/s$/, "", x); printf "%.3f", x * 1000 }
		else print "NA" }'
}

run_wrk() {   # CONNS URL SECONDS
	local c=$1 url=$2 d=$3 out rps reqs p50 p99 err
	out=$(${WRK_ENV:-} wrk -t2 -c"$c" -d"${d}s" --latency "$url" 2>&1)
	printf '%s\n' "$out" >> "$T/load.log"
	reqs=$(printf '%s\n' "$out" | awk '/ requests in / { print $1 }')
	rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print $2 }')
	p50=$(to_ms "$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')")
	p99=$(to_ms "$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')")
	err=$(printf '%s\n' "$out" | awk '
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx/ { e += $NF } END { print e + 0 }')
	echo "${rps:-NA} $p50 $p99 NA ${reqs:-0} $err $c"
}

run_h2load() {   # CONNS N URL [extra args]
	local c=$1 n=$2 url=$3 out rps done_ err pcts
	shift 3
	rm -f "$T/h2.log"
	out=$(h2load -n "$n" -c "$c" --log-file="$T/h2.log" "$@" "$url" 2>&1)
	printf '%s\n' "$out" | grep -vE '^progress:' >> "$T/load.log"
	rps=$(printf '%s\n' "$out" | awk '/^finished in/ { print $4 }')
	done_=$(printf '%s\n' "$out" | awk '/^requests:/ { print $6 }')
	err=$(printf '%s\n' "$out" | awk '/^requests:/ { print $10 + $12 + $14 }
		/^status codes:/ { gsub(/,/, ""); print $5 + $7 + $9 }' | awk '{ s += $1 } END { print s + 0 }')
	pcts=$(h2load_pcts "$T/h2.log")
	echo "${rps:-NA} $pcts ${done_:-0} $err $c"
}

# redis-benchmark -t set,get: req/s over both tests (their total over the
# sum of their durations), p50 their mean, p99 the larger.  Each run also
# opens a connection for two CONFIG GETs, counted by the sensor.
run_redis_benchmark() {   # CONNS N [extra args]
	local c=$1 n=$2 out
	shift 2
	out=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$c" -n "$n" \
	    -t set,get --csv "$@" 2>&1)
	printf '%s\n' "$out" >> "$T/load.log"
	printf '%s\n' "$out" | awk -F'"' -v n="$n" -v c="$c" '
		$2 == "SET" || $2 == "GET" {
			k++; t += n / $4; p50 += $10; if ($14 > p99) p99 = $14 }
		END {
			if (k != 2) { print "NA NA NA NA 0 1 " c; exit }
			printf "%.2f %.3f %.3f NA %d 0 %d\n", 2 * n / t, p50 / 2, p99, 2 * n, c }'
}

load_redis()     { run_redis_benchmark 16 $((REDIS_RATE * $1)); }
load_redis_p16() { run_redis_benchmark 16 $((REDIS_P16_RATE * $1)) -P 16; }
load_sat()    { run_wrk 16 "http://127.0.0.1:$NGINX_PORT/ok" "$1"; }
load_conns()  { run_wrk 1000 "http://127.0.0.1:$NGINX_PORT/ok" "$1"; }
load_python() { run_wrk 8 "http://127.0.0.1:$PY_PORT/ok" "$1"; }
load_rate()   { run_h2load 8 $((RATE * $1)) "http://127.0.0.1:$NGINX_PORT/ok" --h1 --rps=$((RATE / 8)); }
load_burst()  { run_h2load 16 50000 "http://127.0.0.1:$NGINX_PORT/ok" --h1; }
# h2c with prior knowledge, 10 streams at once on each of 16 connections
load_h2()     { run_h2load 16 $((30000 * $1)) "http://127.0.0.1:$H2_PORT/ok" -m 10; }
# TLS, keep-alive: wrk maps the same libssl, so its calls trap into the
# uprobes too (and return at once: it is not selected)
load_https()  { run_wrk 16 "https://127.0.0.1:$HTTPS_PORT/ok" "$1"; }
# the same with wrk on its own copy of libssl (another file: not hooked),
# as a client on another host would be: the server's cost alone
load_https_own() { WRK_ENV="env LD_LIBRARY_PATH=$T/ownssl" run_wrk 16 "https://127.0.0.1:$HTTPS_PORT/ok" "$1"; }

# ---------------------------------------------------------------- one timed run

# measure SCEN MODE ROUND: appends one record to $REC.
measure() {
	local scen=$1 mode=$2 round=$3 sel pids p res c0=() c1=() a0 a1 i
	local foreign sreq=NA lrb=NA lli=NA lci=NA ev=NA h=() rs=() ps=() cpu=() t0 t1
	local b0=NA b1=NA sampler='' rload=NA
	SENSOR_PIDS="0 0 0"
	local want=1 xo=() spy=$SPYGLASS
	case $mode in
	on*)   sel=$APP_PORT ;;
	idle*) sel=$UNUSED_PORT; want=0 ;;
	esac
	case $mode in
	*-base) [ -x "${BASE_SPYGLASS:-}" ] ||
	            die "mode $mode: BASE_SPYGLASS is not an executable"
	        spy=$BASE_SPYGLASS ;;
	esac
	case $mode in
	*-tp)  xo=(-o ebpf.syscall_hooks=tracepoint) ;;
	*-raw) xo=(-o ebpf.syscall_hooks=raw) ;;
	esac
	# SENSOR_OPTS="-o key=value ...": extra sensor options for experiments
	# shellcheck disable=SC2206
	xo+=(${SENSOR_OPTS:-})
	if [ "$mode" != off ]; then
		SPYGLASS=$spy WANT_PROCS=$want sensor_start "$sel" "${xo[@]}"
	fi
	read -ra pids <<< "$SENSOR_PIDS"
	for p in "${pids[@]}"; do c0+=("$(cpu_ns "$p")"); done
	a0=$(cpu_ns "$APP_PID")
	# other sensors (other sessions' spyglass) attached right now: their
	# BPF programs run on our syscalls too and blur the comparison
	foreign=$(foreign_sensors)
	[ "$mode" = off ] || foreign=$((foreign - 1))
	[ -n "$BPF_STATS" ] && [ "$mode" != off ] && b0=$(bpf_run_ns "$SENSOR_PID")
	if [ "$mode" != off ]; then
		rss_sample_sum "${pids[@]}" > "$T/rss_load" &
		sampler=$!
	fi
	t0=$(date +%s%N)
	res=$("load_$scen" "$DUR")
	t1=$(date +%s%N)
	if [ -n "$sampler" ]; then
		kill "$sampler" 2>/dev/null
		wait "$sampler" 2>/dev/null
		rload=$(sort -n "$T/rss_load" | tail -n 1)
		[ -n "$rload" ] || rload=NA
	fi
	[ -n "$BPF_STATS" ] && [ "$mode" != off ] && b1=$(bpf_run_ns "$SENSOR_PID")
	for p in "${pids[@]}"; do c1+=("$(cpu_ns "$p")"); done
	a1=$(cpu_ns "$APP_PID")
	if [ "$mode" != off ]; then
		# shellcheck disable=SC2086
		set -- $res
		sensor_wait_count "$([ "$want" = 1 ] && echo "$5" || echo 0)"
		sreq=$(metric_value $REQ_METRIC)
		lrb=$(metric_value spyglass_events_lost_total stage=ringbuf)
		lli=$(metric_value spyglass_events_lost_total stage=loader_ipc)
		lci=$(metric_value spyglass_events_lost_total stage=collector_ipc)
		ev=$(metric_value spyglass_events_read_total)
		printf '%s\n' "$SCRAPE" | grep -E '^spyglass_' > "$T/scrape.$scen.$mode.$round"
	fi
	for i in 0 1 2; do
		cpu+=("$(awk -v a="${c0[$i]}" -v b="${c1[$i]}" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')")
		h+=("$(hwm_kib "${pids[$i]}")")
		rs+=("$(rss_kib "${pids[$i]}")")
		ps+=("$(pss_kib "${pids[$i]}")")
	done
	sensor_stop
	# scen mode round rps p50 p99 p999 reqs errors conns sensor_reqs
	# lost_rb lost_lipc lost_cipc events cpu_l cpu_c cpu_e app_cpu
	# hwm_l hwm_c hwm_e wall_s foreign_sensors rss_l rss_c rss_e
	# pss_l pss_c pss_e bpf_ns_per_request rss_sum_under_load
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    "$scen" "$mode" "$round" "$(echo "$res" | tr ' ' '\t')" \
	    "$sreq" "$lrb" "$lli" "$lci" "$ev" "${cpu[0]}" "${cpu[1]}" "${cpu[2]}" \
	    "$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" \
	    "${h[0]}" "${h[1]}" "${h[2]}" \
	    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')" \
	    "$foreign" "${rs[0]}" "${rs[1]}" "${rs[2]}" \
	    "${ps[0]}" "${ps[1]}" "${ps[2]}" \
	    "$(awk -v a="$b0" -v b="$b1" -v n="$(echo "$res" | cut -d' ' -f5)" \
	        'BEGIN { if (a == "NA" || b == "NA" || n + 0 == 0) print "NA"; else printf "%.0f", (b - a) / n }')" \
	    "$rload" >> "$REC"
	say "  $scen $mode round $round (foreign sensors: $foreign): $(tail -n 1 "$REC" | cut -f4-9 | tr '\t' ' ') sensor_reqs=$sreq lost=$lrb/$lli/$lci cpu=${cpu[*]}"
}

# ---------------------------------------------------------------- scenarios

run_scenario() {
	local scen=$1 modes r m list
	eval "modes=\$MODES_$scen"
	REQ_METRIC=http_server_request_duration_seconds_count
	case $scen in
	python) pyserver_start "$PY_PORT"; APP_PID=$PY_PID; APP_PORT=$PY_PORT ;;
	redis|redis_p16) redis_start "$REDIS_PORT"; APP_PID=$REDIS_PID
	        APP_PORT=$REDIS_PORT
	        REQ_METRIC=db_server_operation_duration_seconds_count ;;
	h2|https|https_own) local plain=${NGINX_PID:-} plain_worker=${NGINX_WORKER:-}
	        if [ "$scen" = h2 ]; then APP_PORT=$H2_PORT; nginx_start "$H2_PORT" http2
	        else APP_PORT=$HTTPS_PORT; nginx_start "$HTTPS_PORT" ssl; fi
	        if [ "$scen" = https_own ]; then
	                mkdir -p "$T/ownssl"
	                cp "$(ldd "$(command -v wrk)" | awk '/libssl/ { print $3 }')" \
	                    "$(ldd "$(command -v wrk)" | awk '/libcrypto/ { print $3 }')" "$T/ownssl/"
	        fi
	        APP_PID=$NGINX_WORKER; OTHER_NGINX=$NGINX_PID
	        NGINX_PID=$plain; NGINX_WORKER=$plain_worker ;;
	*)      [ -n "${NGINX_PID:-}" ] || nginx_start "$NGINX_PORT"
	        APP_PID=$NGINX_WORKER; APP_PORT=$NGINX_PORT ;;
	esac
	say "bench: $scen (modes: $modes; $ROUNDS rounds)"
	"load_$scen" 1 > /dev/null   # warm-up, not recorded
	for r in $(seq 1 "$ROUNDS"); do
		# shellcheck disable=SC2086
		if [ $((r % 2)) -eq 1 ]; then list=$modes; else list=$(printf '%s\n' $modes | tac); fi
		for m in $list; do measure "$scen" "$m" "$r"; done
	done
	if [ "$scen" = python ]; then kill_pid "$PY_PID"; fi
	case $scen in redis|redis_p16) kill_pid "$REDIS_PID" ;; esac
	case $scen in h2|https|https_own) kill_pid "$OTHER_NGINX" ;; esac
}

summary() {
	local scen mode modes
	printf '| scenario | mode | req/s | ratio | p50 ms | p99 ms | p99 ratio | client reqs (sum) | sensor reqs (sum) | count check | lost ringbuf/loader_ipc/collector_ipc | sensor CPU s per 100k req (loader+collector+exporter) | app CPU s per 100k req | peak RSS MiB loader/collector/exporter = sum | RSS at the end MiB l/c/e = sum | RSS under load MiB, max sum | PSS at the end MiB, sum | BPF ns per request |\n'
	printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
	for scen in "${SCENARIOS[@]}"; do
		eval "modes=\$MODES_$scen"
		for mode in $modes; do
			f() { awk -F'\t' -v s="$scen" -v m="$mode" -v c="$1" '$1 == s && $2 == m { print $c }' "$REC"; }
			local rps p50 p99 orps op99 reqs sreq check lost scpu acpu rss rend rload pend bpf
			rps=$(f 4 | median); p50=$(f 5 | median); p99=$(f 6 | median)
			orps=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "off" { print $4 }' "$REC" | median)
			op99=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "off" { print $6 }' "$REC" | median)
			reqs=$(f 8 | awk '{ s += $1 } END { print s + 0 }')
			if [ "$mode" = off ]; then
				sreq=-; check=-; lost=-; scpu=-; rss=-; rend=-; rload=-; pend=-
			else
				sreq=$(f 11 | awk '{ s += $1 } END { print s + 0 }')
				# on: sensor count in [client, client + conns] each round
				# (wrk does not count requests in flight at its end);
				# idle: nothing counted
				check=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m {
					n++; d = $11 - $8
					if (m ~ /^idle/) ok += ($11 == 0)
					else ok += (d >= 0 && d <= $10 + $9)
					if (d > maxd) maxd = d; err += $9 }
					END { printf "%d/%d ok%s%s", ok, n, (maxd > 0 && m ~ /^on/) ? " (+" maxd " in flight max)" : "",
					    (err > 0) ? "; client errors " err : "" }' "$REC")
				lost=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m {
					a += $12; b += $13; c += $14 } END { printf "%d/%d/%d", a, b, c }' "$REC")
				scpu=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m && $8 > 0 {
					print ($16 + $17 + $18) / $8 * 100000 }' "$REC" | median)
				scpu=$(awk -v x="$scpu" 'BEGIN { printf "%.3f", x }')
				scpu="$scpu ($(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m && $8 > 0 {
					l += $16; c += $17; e += $18; n += $8 }
					END { printf "%.3f+%.3f+%.3f", l / n * 1e5, c / n * 1e5, e / n * 1e5 }' "$REC"))"
				rss=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m {
					if ($20 > l) l = $20; if ($21 > c) c = $21; if ($22 > e) e = $22
					if ($20 + $21 + $22 > t) t = $20 + $21 + $22 }
					END { printf "%.1f/%.1f/%.1f = %.1f", l / 1024, c / 1024, e / 1024, t / 1024 }' "$REC")
				rend=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m {
					if ($25 > l) l = $25; if ($26 > c) c = $26; if ($27 > e) e = $27
					if ($25 + $26 + $27 > t) t = $25 + $26 + $27 }
					END { printf "%.1f/%.1f/%.1f = %.1f", l / 1024, c / 1024, e / 1024, t / 1024 }' "$REC")
				rload=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m && $32 != "" && $32 != "NA" {
					if ($32 > t) t = $32; n++ }
					END { if (n) printf "%.1f", t / 1024; else print "-" }' "$REC")
				pend=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m {
					if ($28 + $29 + $30 > t) t = $28 + $29 + $30 }
					END { printf "%.1f", t / 1024 }' "$REC")
			fi
			bpf=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m && $31 != "" && $31 != "NA" { print $31 }' "$REC" | median)
			[ "$bpf" != NA ] || bpf=-
			acpu=$(awk -F'\t' -v s="$scen" -v m="$mode" '$1 == s && $2 == m && $8 > 0 {
				print $19 / $8 * 100000 }' "$REC" | median)
			printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s |\n' \
			    "$scen" "$mode" "$rps" \
			    "$(awk -v a="$rps" -v b="$orps" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "-" }')" \
			    "$p50" "$p99" \
			    "$(awk -v a="$p99" -v b="$op99" 'BEGIN { if (b + 0 > 0 && a != "NA") printf "%.3f", a / b; else print "-" }')" \
			    "$reqs" "$sreq" "$check" "$lost" "$scpu" "$acpu" "$rss" "$rend" "$rload" "$pend" "$bpf"
		done
	done
}

[ -z "$SUMMARY_ONLY" ] || { summary; exit 0; }
require nginx wrk h2load curl ss "$PYTHON"
ulimit -n 20000 2>/dev/null || die "cannot raise ulimit -n"
bench_setup
REC=$T/records.tsv
: > "$REC"
if [ -n "$BPF_STATS" ]; then
	require bpftool
	bpf_stats_on
fi

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "bench: started $START; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${SCENARIOS[@]}"; do
	case $s in sat|rate|python|conns|burst|h2|https|https_own|redis|redis_p16) ;; *) die "unknown scenario $s" ;; esac
	case $s in redis*) require redis-server redis-benchmark ;; esac
	run_scenario "$s"
done
END=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
{
	echo "spyglass bench: $START .. $END; $(nproc) CPUs; kernel $(uname -r)"
	echo "rounds=$ROUNDS duration=${DUR}s rate=$RATE req/s; medians over rounds (modes alternated ABBA)"
	echo "sensor: $SPYGLASS (built $(date -u -r "$SPYGLASS" '+%Y-%m-%d %H:%M UTC'))"
	echo "load average at start: $LOAD0; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "runs with another spyglass attached (not ours): $(awk -F'\t' '$24 > 0' "$REC" | wc -l) of $(wc -l < "$REC")"
	echo
	summary
} | tee "$T/table.md"
if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR"
	cp "$REC" "$T/table.md" "$T/load.log" "$OUTDIR"/
	cp "$T"/scrape.* "$OUTDIR"/ 2>/dev/null || true
	say "bench: raw records, load-generator output and scrapes in $OUTDIR"
fi
