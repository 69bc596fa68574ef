# shellcheck shell=bash
# Helpers for the spyglass benchmarks (bench/run.sh, bench/profile.sh).
# Not a test library: nothing here asserts; it starts the application and
# the sensor, measures, and cleans up only the pids it started.

set -u

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Build tree: $BUILD, else ./ when it holds spyglass, else a "build"
# directory beside the source tree (/work/build for /work/main), else
# the source tree's own build/.
if [ -z "${BUILD:-}" ]; then
	if [ -x ./spyglass ]; then BUILD=$(pwd)
	elif [ -x "$BENCH_SRC/../../build/spyglass" ]; then BUILD=$(cd "$BENCH_SRC/../../build" && pwd)
	elif [ -x "$BENCH_SRC/../build/spyglass" ]; then BUILD=$(cd "$BENCH_SRC/../build" && pwd)
	else BUILD=/work/build
	fi
fi
SPYGLASS=${SPYGLASS:-$BUILD/spyglass}
PYTHON=${PYTHON:-/usr/bin/python3}
CLK_TCK=$(getconf CLK_TCK)

# Ports: applications 18490-18499, sensor /metrics 19490+.
NGINX_PORT=${NGINX_PORT:-18490}
PY_PORT=${PY_PORT:-18491}
H2_PORT=${H2_PORT:-18492}           # nginx speaking h2c (scenario h2)
HTTPS_PORT=${HTTPS_PORT:-18493}     # nginx with TLS (scenario https)
REDIS_PORT=${REDIS_PORT:-18494}     # redis-server (scenarios redis, redis_p16)
UNUSED_PORT=${UNUSED_PORT:-18499}   # what the "idle" sensor selects
PROM_PORT=${PROM_PORT:-19490}

T=                # private temp dir (results are copied out of it)
BG_PIDS=()        # application pids we started
SENSOR_PID=
SCRAPE=

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: ERROR: $*"; exit 1; }

require() {
	local c
	[ "$(id -u)" -eq 0 ] || die "run as root (the sensor loads BPF)"
	[ -x "$SPYGLASS" ] || die "$SPYGLASS not built (set BUILD=)"
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "needs $c"
	done
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

wait_port() {   # port [timeout_s]
	local n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1; n=$((n - 1))
	done
	return 1
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

proc_state() { awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null; }

kill_pid() {     # TERM, up to 2 s, then KILL; only pids we started
	local pid=$1 i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 40); do
		pid_alive "$pid" || break
		[ "$(proc_state "$pid")" = Z ] && break
		sleep 0.05
	done
	if pid_alive "$pid" && [ "$(proc_state "$pid")" != Z ]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
}

children_of() {
	local s line pid
	for s in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null < "$s" || continue
		pid=${line%% *}
		line=${line##*) }; line=${line#* }
		[ "${line%% *}" = "$1" ] && echo "$pid"
	done
	return 0
}

bench_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/spyglass-bench.XXXXXX") || die mktemp
	chmod 0755 "$T"
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

bench_cleanup() {
	local rc=$? pid
	trap - EXIT
	if declare -F bench_cleanup_hook >/dev/null; then bench_cleanup_hook; fi
	sensor_stop
	for pid in "${BG_PIDS[@]}"; do kill_pid "$pid"; done
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then say "bench: kept $T"; else rm -rf "$T"; fi
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- applications

# nginx_start PORT [LISTEN-OPTIONS]: 1 worker, access_log off, /ok returns
# "ok\n"; room for a few thousand connections; "http2" for h2c with prior
# knowledge, "ssl" for TLS (a self-signed certificate made here).  Sets
# NGINX_PID (master), NGINX_WORKER.
nginx_start() {
	local port=$1 opts=${2:-} d=$T/nginx-$1 n tls=
	port_in_use "$port" && die "port $port is in use"
	mkdir -p "$d/tmp"
	if [[ " $opts " == *" ssl "* ]]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		    -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null || die "openssl req"
		tls="ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem;"
	fi
	cat > "$d/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port backlog=4096 $opts;
        $tls
        location = /ok { return 200 "ok\n"; }
    }
}
EOF
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
	NGINX_PID=$!
	BG_PIDS+=("$NGINX_PID")
	wait_port "$port" 10 || { cat "$d/error.log"; die "nginx did not listen on $port"; }
	NGINX_WORKER=
	for n in $(seq 1 50); do
		NGINX_WORKER=$(children_of "$NGINX_PID" | head -n 1)
		[ -n "$NGINX_WORKER" ] && break
		sleep 0.1
	done
	[ -n "$NGINX_WORKER" ] || die "no nginx worker"
}

# pyserver_start PORT: python http.server serving $T/www (file "ok").
# Sets PY_PID.
pyserver_start() {
	local port=$1
	port_in_use "$port" && die "port $port is in use"
	mkdir -p "$T/www"
	printf 'ok\n' > "$T/www/ok"
	chmod -R a+rX "$T/www"
	"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$T/www" \
	    > /dev/null 2>&1 &
	PY_PID=$!
	BG_PIDS+=("$PY_PID")
	wait_port "$port" 10 || die "python http.server did not listen on $port"
}

redis_start() {
	local port=$1
	port_in_use "$port" && die "port $port is in use"
	mkdir -p "$T/redis"
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
	    --dir "$T/redis" > "$T/redis.log" 2>&1 &
	REDIS_PID=$!
	BG_PIDS+=("$REDIS_PID")
	wait_port "$port" 10 || die "redis-server did not listen on $port"
}

# ---------------------------------------------------------------- the sensor

# sensor_start SELECT_PORT [-o K=V]...: the sensor selecting the
# processes listening on SELECT_PORT; waits until /metrics answers with
# the self-metrics and, when WANT_PROCS > 0, that many processes are
# instrumented.  Sets SENSOR_PID.
sensor_start() {
	local sel=$1 n want=${WANT_PROCS:-1}
	shift
	port_in_use "$PROM_PORT" && die "metrics port $PROM_PORT is in use"
	SENSOR_N=$(( ${SENSOR_N:-0} + 1 ))
	"$SPYGLASS" -c /dev/null -o log_level=warn -o runtime_dir="$T/run$SENSOR_N" \
	    -o discovery.open_port="$sel" \
	    -o prometheus_export.address=127.0.0.1 \
	    -o prometheus_export.port="$PROM_PORT" "$@" \
	    > "$T/sensor$SENSOR_N.out" 2> "$T/sensor$SENSOR_N.err" &
	SENSOR_PID=$!
	for n in $(seq 1 150); do
		if ! pid_alive "$SENSOR_PID" || [ "$(proc_state "$SENSOR_PID")" = Z ]; then
			cat "$T/sensor$SENSOR_N.err" >&2
			SENSOR_PID=
			die "sensor exited during start-up"
		fi
		if scrape && printf '%s\n' "$SCRAPE" | grep -q '^spyglass_events_read_total' &&
		    awk -v a="$(metric_value spyglass_instrumented_processes)" -v b="$want" \
		        'BEGIN { exit !(a + 0 >= b + 0) }'; then
			sensor_pids
			return 0
		fi
		sleep 0.1
	done
	die "sensor not ready after 15 s"
}

# sensor_pids: SENSOR_PIDS = "loader collector exporter".
sensor_pids() {
	local c e col='' exp=''
	for c in $(children_of "$SENSOR_PID"); do
		e=$(basename "$(readlink "/proc/$c/exe" 2>/dev/null)")
		case $e in
		spyglass-collector) col=$c ;;
		spyglass-exporter) exp=$c ;;
		esac
	done
	SENSOR_PIDS="$SENSOR_PID ${col:-0} ${exp:-0}"
}

sensor_stop() {
	local kids pid
	[ -n "$SENSOR_PID" ] || return 0
	kids=$(children_of "$SENSOR_PID")
	kill_pid "$SENSOR_PID"
	for pid in $kids; do
		if pid_alive "$pid" && [ "$(proc_state "$pid")" != Z ]; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	SENSOR_PID=
	# the next sensor binds the same metrics port
	for pid in $(seq 1 30); do port_in_use "$PROM_PORT" || break; sleep 0.1; done
}

scrape() {
	SCRAPE=$(curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/metrics") || { SCRAPE=; return 1; }
}

# metric_value NAME [LABEL=VALUE]...: sum of the matching series.
metric_value() {
	local name=$1
	shift
	printf '%s\n' "$SCRAPE" | awk -v name="$name" -v filters="$(printf '%s\n' "$@")" '
	BEGIN {
		nf = split(filters, f, "\n")
		for (i = 1; i <= nf; i++) {
			if (f[i] == "") continue
			eq = index(f[i], "=")
			want[++nw] = substr(f[i], 1, eq - 1) "=\"" substr(f[i], eq + 1) "\""
		}
		sum = 0
	}
	/^#/ || NF < 2 { next }
	{
		line = $0; sp = index(line, "{")
		if (sp > 0) {
			mname = substr(line, 1, sp - 1); rest = substr(line, sp + 1)
			c = index(rest, "} "); if (c == 0) next
			labels = "," substr(rest, 1, c - 1) ","; val = substr(rest, c + 2)
		} else { mname = $1; labels = ",,"; val = $2 }
		if (mname != name) next
		split(val, vv, " ")
		for (i = 1; i <= nw; i++) if (index(labels, "," want[i] ",") == 0) next
		sum += vv[1]
	}
	END { printf "%.15g\n", sum }'
}

# sensor_wait_count MIN: poll /metrics until the server request count is
# >= MIN and has not moved for one collector snapshot period (max 15 s).
# Sets SCRAPE to the last scrape.  REQ_METRIC: the count of the scenario's
# protocol (db_server_operation_duration_seconds_count for Redis).
REQ_METRIC=http_server_request_duration_seconds_count
sensor_wait_count() {
	local min=$1 n last=-1 v
	for n in $(seq 1 12); do
		sleep 1.3
		scrape || continue
		v=$(metric_value $REQ_METRIC)
		if awk -v a="$v" -v b="$min" 'BEGIN { exit !(a + 0 >= b + 0) }' && [ "$v" = "$last" ]; then
			return 0
		fi
		last=$v
	done
	return 0
}

# foreign_sensors: spyglass instances attached now (ours included), by
# their syscall-entry BPF program
foreign_sensors() {
	bpftool prog show 2>/dev/null | grep -cE 'name (sk_recv|raw_sys_enter|tp_enter_read) '
}

# ---------------------------------------------------------------- BPF

# bpf_prog_stats PID: "name run_cnt run_time_ns" for every BPF program the
# process holds (prog ids from its fdinfo; the counts need
# kernel.bpf_stats_enabled = 1)
bpf_prog_stats() {
	local id
	for id in $(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -u); do
		bpftool prog show id "$id" 2>/dev/null | awk '
		    { for (i = 1; i < NF; i++) {
			if ($i == "name") n = $(i + 1)
			if ($i == "run_cnt") c = $(i + 1)
			if ($i == "run_time_ns") t = $(i + 1) } }
		    END { if (NR > 0) print (n == "" ? "?" : n), c + 0, t + 0 }'
	done
}

# bpf_stats_on: kernel.bpf_stats_enabled = 1 (the programs' run time is
# counted only then); bpf_stats_restore, and bench_cleanup on any exit,
# put back what it was before the first bpf_stats_on
bpf_stats_on() {
	[ -n "${STATS_OLD:-}" ] || STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
	bench_cleanup_hook() { bpf_stats_restore; }
	sysctl -qw kernel.bpf_stats_enabled=1
}

bpf_stats_restore() {
	[ -z "${STATS_OLD:-}" ] || sysctl -qw kernel.bpf_stats_enabled="$STATS_OLD"
}

# bpf_run_ns PID: run time of all of them so far, in ns
bpf_run_ns() {
	bpf_prog_stats "$1" | awk '{ s += $3 } END { printf "%.0f\n", s }'
}

# ---------------------------------------------------------------- /proc

# cpu_ns PID: CPU time of a process's threads alive now, in ns; 0 when
# gone.  The scheduler's own sums (/proc/PID/task/*/sched), where the
# kernel has them: utime and stime come in 10 ms ticks, a tenth of what
# the sensor spends in a 5-second round.  Else those ticks.
cpu_ns() {
	local f=(/proc/"$1"/task/*/sched)
	if [ -r "${f[0]}" ]; then
		awk '$1 == "se.sum_exec_runtime" { s += $3 }
		    END { printf "%.0f\n", s * 1e6 }' "${f[@]}" 2>/dev/null || echo 0
	else
		awk -v t="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e9 / t }' \
		    "/proc/$1/stat" 2>/dev/null || echo 0
	fi
}

hwm_kib() {     # VmHWM in KiB
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# VmRSS in KiB: the peak (VmHWM) is the start's, while libbpf parses the
# kernel's BTF; this is what the process holds now.  Both count the ring
# buffer twice: libbpf maps its pages twice, for records that wrap.
rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The sum of the pids' VmRSS in KiB, every half second until killed:
# what the three hold while the load runs (the channel's pages are given
# back a second after it).  Read with builtins only, so that sampling
# starts no process beside the load.
rss_sample_sum() {
	local p k v sum
	while :; do
		sum=0
		for p in "$@"; do
			while read -r k v _; do
				[ "$k" = VmRSS: ] && sum=$((sum + v))
			done < "/proc/$p/status" 2>/dev/null
		done
		echo "$sum"
		sleep 0.5
	done
}

# Pss in KiB: the resident pages, each shared one divided among the
# processes that map it.  Summed over the three processes it counts their
# memory once: a sum of VmRSS counts libc's pages three times, and the
# collector's channel (shared memory with the loader) twice.
pss_kib() {
	awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- statistics

median() {      # numbers on stdin -> median (NA when none)
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "NA"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# percentiles of h2load --log-file (3rd column: microseconds) -> "p50 p99 p999" in ms
h2load_pcts() {
	awk -F'\t' '$2 == 200 { print $3 }' "$1" | sort -n | awk '
	{ v[NR] = $1 }
	function p(q,  i) { i = int(q * NR + 0.999999); if (i < 1) i = 1; return v[i] / 1000 }
	END { if (NR == 0) print "NA NA NA"; else printf "%.3f %.3f %.3f\n", p(0.50), p(0.99), p(0.999) }'
}
