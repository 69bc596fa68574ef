# shellcheck shell=bash
# Helpers for spyglass integration tests.  Source it from a test:
#
#   . "$(dirname "$0")/lib.sh"
#   require_root; require_bpf; require_cmd nginx curl
#   tmpdir_setup
#   ...
#   test_done
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
# A test only ever touches processes it started (by pid) and only sends
# traffic to 127.0.0.1 on ports it chose.

set -u

TEST_NAME=$(basename "$0" .sh)

# top_builddir/top_srcdir come from TESTS_ENVIRONMENT under `make check`;
# by hand, guess: the source tree is two levels up, the build tree is the
# current directory when it holds ./spyglass, else the source tree.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
if [ -z "${top_builddir:-}" ]; then
	if [ -x ./spyglass ]; then top_builddir=$(pwd); else top_builddir=$top_srcdir; fi
fi
SPYGLASS=${SPYGLASS:-$top_builddir/spyglass}
SPYGLASS_COLLECTOR=${SPYGLASS_COLLECTOR:-$top_builddir/spyglass-collector}
SPYGLASS_EXPORTER=${SPYGLASS_EXPORTER:-$top_builddir/spyglass-exporter}
# Debian's python (PEERS.md: `python3` on PATH is a pyenv shim).
PYTHON=${PYTHON:-/usr/bin/python3}

FAILED=0          # number of failed assertions
T=                # private temp dir
BG_PIDS=()        # every background process this test started
SENSOR_PID=
SENSOR_OUT=       # sensor stdout (JSON spans)
SENSOR_ERR=       # sensor stderr (logs)
SENSOR_INI=       # its configuration file
PROM_PORT=
SCRAPE=           # text of the last scrape
KEEP_TMP=${KEEP_TMP:-0}

log()  { printf '%s: %s\n' "$TEST_NAME" "$*"; }
skip() { log "SKIP: $*"; exit 77; }
die()  { log "ERROR: $*"; exit 99; }

fail() {
	log "FAIL: $*"
	FAILED=$((FAILED + 1))
}

ok() { log "ok: $*"; }

# ---------------------------------------------------------------- requirements

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

require_bpf() {
	[ -r /sys/kernel/btf/vmlinux ] || skip "needs kernel BTF"
	[ -x "$SPYGLASS" ] || die "$SPYGLASS not built"
	[ -x "$SPYGLASS_COLLECTOR" ] || die "$SPYGLASS_COLLECTOR not built"
	[ -x "$SPYGLASS_EXPORTER" ] || die "$SPYGLASS_EXPORTER not built"
}

# ---------------------------------------------------------------- temp dir, cleanup

tmpdir_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/spyglass-$TEST_NAME.XXXXXX") || die "mktemp"
	# The sensor's children and nginx workers run unprivileged and need to
	# traverse into it (runtime dir, served files).
	chmod 0755 "$T"
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

pid_alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# Kill one pid we started: TERM, up to 2 s, then KILL.
kill_pid() {
	local pid=$1 i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 40); do
		pid_alive "$pid" || break
		# reap if it is our child (zombies still answer kill -0)
		if [ "$(proc_state "$pid")" = Z ]; then wait "$pid" 2>/dev/null; break; fi
		sleep 0.05
	done
	if pid_alive "$pid" && [ "$(proc_state "$pid")" != Z ]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
}

proc_state() {
	awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null
}

# Record a background pid for cleanup.
track() { BG_PIDS+=("$1"); }

cleanup() {
	local rc=$? pid
	trap - EXIT
	# The sensor first (its children by pid: they are the loader's, not
	# ours, but we recorded them), then the peers.
	if [ -n "$SENSOR_PID" ]; then
		local kids
		kids=$(children_of "$SENSOR_PID")
		kill_pid "$SENSOR_PID"
		for pid in $kids; do
			pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		done
	fi
	for pid in "${BG_PIDS[@]}"; do
		kill_pid "$pid"
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		dump_logs
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$KEEP_TMP" = 1 ]; then
			log "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# Show what the sensor and peers said (goes into the automake .log).
dump_logs() {
	local f
	[ -n "$T" ] && [ -d "$T" ] || return 0
	for f in "$T"/sensor*.err "$T"/*/error.log "$T"/*.log; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f (without libbpf's)"
		grep -v '^libbpf: ' "$f" | tail -n 60
	done
	for f in "$T"/sensor*.out; do
		[ -s "$f" ] || continue
		echo "---- $(wc -l < "$f") lines in $f; first 5:"
		head -n 5 "$f"
	done
	if [ -n "$SCRAPE" ]; then
		echo "---- last scrape (spyglass_*, http_*_count):"
		printf '%s\n' "$SCRAPE" | grep -E '^(spyglass_|http_[a-z_]*_count|target_info)' | head -n 80
	fi
}

test_done() {
	if [ "$FAILED" -ne 0 ]; then
		log "$FAILED assertion(s) failed"
		exit 1
	fi
	log "PASS"
	exit 0
}

# ---------------------------------------------------------------- assertions

assert_eq() {   # what expected actual
	if [ "$2" = "$3" ]; then
		ok "$1 = $3"
	else
		fail "$1: expected $2, got $3"
	fi
}

# assert_count WHAT EXPECTED SEEN: assert_eq, and a "COUNT:" line that
# the kernel matrix (tests/kernels) puts in its report
assert_count() {
	assert_eq "$1" "$2" "$3"
	log "COUNT: $1 $2 $3"
}

assert_ge() {   # what min actual
	if awk -v a="$3" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; then
		ok "$1 = $3 (>= $2)"
	else
		fail "$1: expected >= $2, got $3"
	fi
}

assert_contains() {   # what file-or-text needle
	if printf '%s' "$2" | grep -qF -- "$3"; then
		ok "$1 contains '$3'"
	else
		fail "$1 does not contain '$3'; it was:"
		printf '%s\n' "$2" | head -n 20 | sed 's/^/    | /'
	fi
}

assert_not_contains() {   # what text needle
	if printf '%s' "$2" | grep -qF -- "$3"; then
		fail "$1 contains '$3'; it was:"
		printf '%s\n' "$2" | head -n 20 | sed 's/^/    | /'
	else
		ok "$1 does not contain '$3'"
	fi
}

# ---------------------------------------------------------------- ports

port_in_use() {
	ss -Htan "sport = :$1" 2>/dev/null | grep -q .
}

# free_port BASE: the first port >= BASE that nothing uses and that we
# did not hand out yet in this test.
_GIVEN_PORTS=" "
free_port() {
	local p=$1
	while port_in_use "$p" || [[ $_GIVEN_PORTS == *" $p "* ]]; do
		p=$((p + 1))
	done
	_GIVEN_PORTS="$_GIVEN_PORTS$p "
	echo "$p"
}

wait_port() {   # port [timeout_s]: wait until something listens on it
	local port=$1 n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# ---------------------------------------------------------------- peers

# nginx_start PORT [DIR]: 1 worker on 127.0.0.1:PORT in DIR (default
# $T/nginx); sets NGINX_PID.
# Locations: /ok 200, /missing 404, /busy 503, /post 200 (any method),
# static files under /sf/ (sendfile on) and /nosf/ (sendfile off) from
# DIR/www.
nginx_start() {   # PORT [DIR]; NGINX_LISTEN_OPTS=http2: h2c; NGINX_SERVER_EXTRA
	local port=$1 d=${2:-$T/nginx}
	mkdir -p "$d/www" "$d/tmp"
	chmod 0755 "$d" "$d/www"
	cat > "$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port ${NGINX_LISTEN_OPTS:-};
        server_name localhost;
        ${NGINX_SERVER_EXTRA:-}
        location = /ok      { return 200 "ok\n"; }
        location = /missing { return 404; }
        location = /busy    { return 503; }
        location = /post    { return 200 "posted\n"; }
        location /sf/       { sendfile on;  alias $d/www/; }
        location /nosf/     { sendfile off; alias $d/www/; }
    }
}
EOF
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
	NGINX_PID=$!
	track "$NGINX_PID"
	wait_port "$port" 10 || { cat "$d/error.log" 2>/dev/null; die "nginx did not listen on $port"; }
}

# tls_cert: a self-signed certificate for localhost in $T/cert.pem and
# $T/key.pem, and the nginx lines that serve it in TLS_NGINX.
tls_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || die "openssl req"
	chmod 0644 "$T/key.pem" "$T/cert.pem"
	TLS_NGINX="ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;"
}

# grpc_check_side METRIC SERVICE [OK0 NF0]: the calls of grpc_peer's CALLS
# "Say:hi:20 Say:missing:5 Say:down:3 Count:3:4", by method and status
# (SAY and COUNT: the methods' paths), over OK0 Say OK and NF0 Say
# NOT_FOUND counted on the series before.  The client makes them in that
# order and a snapshot may hold only the first ones: wait for the last.
grpc_check_side() {
	local m=$1 svc=$2 ok0=${3:-0} nf0=${4:-0}
	assert_count "$m{$svc} Count OK (server streaming)" 4 \
	    "$(wait_metric 4 "$m" service_name="$svc" rpc_method="$COUNT" rpc_grpc_status_code=0)"
	scrape
	assert_count "$m{$svc} Say OK (and $ok0 counted before)" $((20 + ok0)) \
	    "$(metric_value "$m" service_name="$svc" rpc_method="$SAY" rpc_grpc_status_code=0)"
	assert_count "$m{$svc} Say NOT_FOUND (and $nf0 counted before)" $((5 + nf0)) \
	    "$(metric_value "$m" service_name="$svc" rpc_method="$SAY" rpc_grpc_status_code=5)"
	assert_count "$m{$svc} Say UNAVAILABLE" 3 \
	    "$(metric_value "$m" service_name="$svc" rpc_method="$SAY" rpc_grpc_status_code=14)"
}

# python_server_start PORT DIR: sets PYSERVER_PID.
# CMD as user postgres (the database tests' server and tools).
as_postgres() {
	setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups \
	    --reset-env "$@"
}

# The same in place of the calling shell: started with &, $! is then the
# server's own pid, which cleanup stops (a function's subshell would be
# killed and the server left running).
as_postgres_exec() {
	exec setpriv --reuid=postgres --regid="$(id -g postgres)" \
	    --init-groups --reset-env "$@"
}

python_server_start() {
	local port=$1 dir=$2
	"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$dir" \
	    > "$T/pyserver.log" 2>&1 &
	PYSERVER_PID=$!
	track "$PYSERVER_PID"
	wait_port "$port" 10 || die "python http.server did not listen on $port"
}

# ---------------------------------------------------------------- the sensor

# start_sensor [-n NAME] [-w WRAPPER...--] [-o KEY=VALUE]...
# Writes $T/NAME.ini (runtime dir, metrics port, then $SENSOR_INI_EXTRA),
# starts the loader in
# the background with stdout to $T/NAME.out and stderr to $T/NAME.err.
# Sets SENSOR_PID, SENSOR_INI, SENSOR_OUT, SENSOR_ERR, PROM_PORT
# (allocated once).
SENSOR_N=0
start_sensor() {
	local name wrapper=() args=()
	SENSOR_N=$((SENSOR_N + 1))
	name=sensor$SENSOR_N
	while [ $# -gt 0 ]; do
		case $1 in
		-n) name=$2; shift 2 ;;
		-w) shift
		    while [ $# -gt 0 ] && [ "$1" != -- ]; do wrapper+=("$1"); shift; done
		    shift ;;
		*) args+=("$1"); shift ;;
		esac
	done
	[ -n "$PROM_PORT" ] || PROM_PORT=$(free_port "${PROM_PORT_BASE:-19400}")
	cat > "$T/$name.ini" <<EOF
log_level = ${SENSOR_LOG_LEVEL:-info}
runtime_dir = $T/$name.run

[prometheus_export]
address = 127.0.0.1
port = $PROM_PORT
${SENSOR_INI_EXTRA:-}
EOF
	# shellcheck disable=SC2034  # for the tests
	SENSOR_INI=$T/$name.ini
	SENSOR_OUT=$T/$name.out
	SENSOR_ERR=$T/$name.err
	log "starting: ${wrapper[*]} $SPYGLASS -c $T/$name.ini ${args[*]}"
	"${wrapper[@]}" "$SPYGLASS" -c "$T/$name.ini" "${args[@]}" \
	    > "$SENSOR_OUT" 2> "$SENSOR_ERR" &
	SENSOR_PID=$!
	SCRAPE=
}

scrape() {   # sets SCRAPE; returns non-zero when /metrics does not answer
	SCRAPE=$(curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/metrics") || { SCRAPE=; return 1; }
}

# wait_ready [MIN_PROCS]: /metrics answers and
# spyglass_instrumented_processes >= MIN_PROCS (default 1); 20 s timeout.
wait_ready() {
	local min=${1:-1} n=100 v
	while [ "$n" -gt 0 ]; do
		if ! pid_alive "$SENSOR_PID" || [ "$(proc_state "$SENSOR_PID")" = Z ]; then
			wait "$SENSOR_PID"
			fail "sensor exited during start-up with status $?"
			SENSOR_PID=
			return 1
		fi
		if scrape; then
			v=$(metric_value spyglass_instrumented_processes)
			if awk -v a="$v" -v b="$min" 'BEGIN { exit !(a + 0 >= b + 0) }'; then
				log "sensor ready (instrumented processes: $v)"
				return 0
			fi
		fi
		sleep 0.2
		n=$((n - 1))
	done
	fail "sensor not ready after 20 s (metrics answered: $([ -n "$SCRAPE" ] && echo yes || echo no), spyglass_instrumented_processes=$(metric_value spyglass_instrumented_processes))"
	return 1
}

# metric_value NAME [LABEL=VALUE]... : sum of the series of NAME in the
# last scrape whose labels include every given label=value ("" matches an
# empty value).  Prints 0 when no series matches.
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
		line = $0
		sp = index(line, "{")
		if (sp > 0) {
			mname = substr(line, 1, sp - 1)
			rest = substr(line, sp + 1)
			close_ = index(rest, "} ")
			if (close_ == 0) next
			labels = "," substr(rest, 1, close_ - 1) ","
			val = substr(rest, close_ + 2)
		} else {
			mname = $1; labels = ",,"; val = $2
		}
		if (mname != name) next
		split(val, vv, " ")
		for (i = 1; i <= nw; i++)
			if (index(labels, "," want[i] ",") == 0) next
		sum += vv[1]
	}
	END { printf "%.15g\n", sum }'
}

# metric_series NAME: how many series of NAME the last scrape has.
metric_series() {
	printf '%s\n' "$SCRAPE" | grep -cE "^$1(\\{| )"
}

# wait_metric EXPECTED NAME [LABEL=VALUE]... : poll /metrics every 0.2 s
# until the value is >= EXPECTED or 10 s pass.  Prints the last value.
wait_metric() {
	local want=$1 n=${WAIT_METRIC_TRIES:-50} v=0
	shift
	while [ "$n" -gt 0 ]; do
		if scrape; then
			v=$(metric_value "$@")
			awk -v a="$v" -v b="$want" 'BEGIN { exit !(a + 0 >= b + 0) }' && break
		fi
		sleep 0.2
		n=$((n - 1))
	done
	echo "$v"
}

# wait_log TEXT [SECONDS]: wait until the sensor's log holds TEXT (a
# fixed string), 10 s unless told; fails when it does not come.
wait_log() {
	local n=$(( ${2:-10} * 10 ))
	while [ "$n" -gt 0 ]; do
		grep -qF -- "$1" "$SENSOR_ERR" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# settle: the collector sends snapshots about every second; wait long
# enough for one more so that over-counting would show, then scrape.
settle() {
	sleep 1.3
	scrape || fail "/metrics does not answer"
}

# count_spans FILE KEY=VALUE... : JSON span lines in FILE whose fields all
# equal the given values (compared as strings).
count_spans() {
	local file=$1
	shift
	"$PYTHON" - "$file" "$@" <<'EOF'
import json, sys
path, conds = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
n = bad = 0
with open(path, errors="replace") as f:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if all(str(o.get(k)) == v for k, v in conds):
            n += 1
if bad:
    print("count_spans: %d unparsable JSON lines" % bad, file=sys.stderr)
print(n)
EOF
}

# span_field_values FILE FIELD KEY=VALUE... : distinct values of FIELD
# (sorted, one a line) among the matching spans.
span_field_values() {
	local file=$1 field=$2
	shift 2
	"$PYTHON" - "$file" "$field" "$@" <<'EOF'
import json, sys
path, field, conds = sys.argv[1], sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
vals = set()
with open(path, errors="replace") as f:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if all(str(o.get(k)) == v for k, v in conds):
            vals.add(str(o.get(field)))
for v in sorted(vals):
    print(v)
EOF
}

# wait_spans EXPECTED KEY=VALUE... : poll the sensor's stdout until that
# many spans match or 10 s pass.  Prints the count.
wait_spans() {
	local want=$1 n=50 v=0
	shift
	while [ "$n" -gt 0 ]; do
		v=$(count_spans "$SENSOR_OUT" "$@")
		[ "$v" -ge "$want" ] && break
		sleep 0.2
		n=$((n - 1))
	done
	echo "$v"
}

# children_of PID: pids whose parent is PID.
children_of() {
	local s line pid
	for s in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null < "$s" || continue
		pid=${line%% *}
		line=${line##*) }       # after "(comm) ": state ppid ...
		line=${line#* }         # ppid ...
		[ "${line%% *}" = "$1" ] && echo "$pid"
	done
	return 0
}

# sensor_child NAME: pid of the loader's child whose executable is NAME
# (spyglass-collector or spyglass-exporter).
sensor_child() {
	local pid exe
	for pid in $(children_of "$SENSOR_PID"); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[ "$(basename "$exe")" = "$1" ] && { echo "$pid"; return 0; }
	done
	return 1
}

# wait_children: until both children exist (10 s).
wait_children() {
	local n=50
	while [ "$n" -gt 0 ]; do
		sensor_child spyglass-collector >/dev/null &&
		    sensor_child spyglass-exporter >/dev/null && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# wait_new_child NAME OLDPID: pid of a new child of that name (5 s)
wait_new_child() {
	local n=50 pid
	while [ "$n" -gt 0 ]; do
		pid=$(sensor_child "$1") && [ "$pid" != "$2" ] && { echo "$pid"; return 0; }
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# stop_sensor: SIGTERM; the loader and its children must be gone within
# shutdown_timeout (5 s) and a second (STOP_LIMIT_MS), and the loader
# must exit 0.  Sets STOP_MS (how long it took).
STOP_MS=
stop_sensor() {
	local kids pid rc t0 deadline now limit=${STOP_LIMIT_MS:-6000}
	[ -n "$SENSOR_PID" ] || return 0
	kids=$(children_of "$SENSOR_PID")
	t0=$(date +%s%3N)
	deadline=$((t0 + limit + 8000))
	kill -TERM "$SENSOR_PID"
	while :; do
		now=$(date +%s%3N)
		# bash reaps its children by itself: gone or a zombie = exited
		if ! pid_alive "$SENSOR_PID" || [ "$(proc_state "$SENSOR_PID")" = Z ]; then
			break
		fi
		if [ "$now" -ge "$deadline" ]; then
			kill -KILL "$SENSOR_PID" 2>/dev/null
			break
		fi
		sleep 0.02
	done
	STOP_MS=$((now - t0))
	wait "$SENSOR_PID"
	rc=$?
	if [ "$STOP_MS" -le "$limit" ]; then
		ok "sensor stopped ${STOP_MS} ms after SIGTERM"
	else
		fail "sensor (pid $SENSOR_PID) took ${STOP_MS} ms (> $limit) to exit after SIGTERM"
	fi
	assert_eq "sensor exit status after SIGTERM" 0 "$rc"
	for pid in $kids; do
		if pid_alive "$pid" && [ "$(proc_state "$pid")" != Z ]; then
			fail "sensor child $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still running after the loader exited"
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	SENSOR_PID=
}

# ---------------------------------------------------------------- OTLP receiver

RECEIVER_DIR=$top_srcdir/tests/otlp

require_receiver() {
	require_cmd node
	if [ ! -d "$RECEIVER_DIR/node_modules/@grpc/grpc-js" ] ||
	    [ ! -d "$RECEIVER_DIR/node_modules/@opentelemetry/otlp-transformer" ]; then
		skip "needs tests/otlp/node_modules (cd tests/otlp && npm ci)"
	fi
}

# receiver_start NAME HTTP_PORT GRPC_PORT [RECEIVER_ARGS...]: starts
# tests/otlp/receiver.js; sets RECV_PID, RECV_OUT ($T/NAME.jsonl) and
# RECV_T0 (ms, when it was started).
receiver_start() {
	local name=$1 hp=$2 gp=$3 n=100
	shift 3
	RECV_OUT=$T/$name.jsonl
	# shellcheck disable=SC2034  # for the tests
	RECV_T0=$(date +%s%3N)
	node "$RECEIVER_DIR/receiver.js" --http-port "$hp" --grpc-port "$gp" \
	    --out "$RECV_OUT" "$@" > "$T/$name.log" 2>&1 &
	RECV_PID=$!
	track "$RECV_PID"
	while ! grep -qx ready "$T/$name.log" 2>/dev/null; do
		if ! pid_alive "$RECV_PID" || [ "$(proc_state "$RECV_PID")" = Z ]; then
			die "receiver exited: $(cat "$T/$name.log")"
		fi
		n=$((n - 1))
		[ "$n" -gt 0 ] || die "receiver not ready after 10 s"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- traffic

# http_many N URL [CURL_ARGS...]: N requests to URL with one curl (one
# keep-alive connection unless the arguments say otherwise).  Prints the
# status codes seen as "CODE COUNT" lines, sorted.
http_many() {
	local n=$1 url=$2 i urls=()
	shift 2
	for ((i = 0; i < n; i++)); do urls+=("$url"); done
	curl -s --max-time 120 "$@" -w '%{stderr}%{http_code}\n' "${urls[@]}" \
	    2>&1 >/dev/null | sort | uniq -c | awk '{ print $2, $1 }'
}

# label_values NAME LABEL: distinct values of LABEL among the series of
# NAME in the last scrape (sorted, space-separated).
label_values() {
	printf '%s\n' "$SCRAPE" | grep -E "^$1\\{" |
	    sed -n "s/.*[{,]$2=\"\\([^\"]*\\)\".*/\\1/p" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# sensor_progs: names of the BPF programs the loader holds (prog_id in
# /proc/PID/fdinfo of its links and programs), sorted, one line.
sensor_progs() {
	local id
	cat "/proc/$SENSOR_PID"/fdinfo/* 2>/dev/null |
	    awk '$1 == "prog_id:" { print $2 }' | sort -u |
	    while read -r id; do
		bpftool prog show id "$id" 2>/dev/null |
		    awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1) }'
	    done | sort -u | tr '\n' ' '
}

# sensor_links TYPE: how many BPF links of that link_type (perf,
# raw_tracepoint, ...) the loader holds, from /proc/PID/fdinfo.
sensor_links() {
	cat "/proc/$SENSOR_PID"/fdinfo/* 2>/dev/null |
	    awk -v t="$1" '$1 == "link_type:" && $2 == t { n++ } END { print n + 0 }'
}

# curl_traceparents URL_PREFIX M WANT_FILE: M requests on one keep-alive
# connection, the i-th to URL_PREFIXi with a traceparent of its own (trace
# feed..., parent span c0de...); writes "trace_id parent_id" lines to
# WANT_FILE and prints "200 M" when all were answered 200.
curl_traceparents() {
	local prefix=$1 m=$2 want=$3 urls=() i tr sp
	: > "$want"
	for ((i = 1; i <= m; i++)); do
		tr=$(printf 'feed%012x%016x' "$i" $((0x7ace0000 + i)))
		sp=$(printf '%016x' $((0xc0de0000 + i)))
		echo "$tr $sp" >> "$want"
		[ "$i" = 1 ] || urls+=(--next)
		urls+=(-s -o /dev/null -w '%{http_code}\n' -H "traceparent: 00-$tr-$sp-01" "$prefix$i")
	done
	curl --max-time 60 "${urls[@]}" | sort | uniq -c | awk '{ print $2, $1 }'
}
