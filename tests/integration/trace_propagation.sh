#!/bin/bash
# Outgoing trace context ([ebpf] context_propagation), on the path of
# trace_path.sh: curl -> nginx (selected by port) -> proxy_pass -> a python
# backend (selected by port; it logs the traceparent each request brings)
# -> one Redis SET per request over a raw socket -> redis-server.
#
# headers: nginx's requests to the backend carry a traceparent the sensor
# wrote (sk_msg) naming nginx's client span: N requests, N traces of the 4
# spans each linked, and N traceparents received by the backend with that
# trace and that client span as parent.  With curl's traceparent, which
# nginx passes on: the same trace, the parent id replaced by nginx's
# client span.
# ip: redis-server is followed too, and the context rides in a TCP option
# (sockops): N traces of 5 spans, each server the child of its caller's
# client span through the option (spyglass_trace_links_total
# {via="tcp_option"}: 2 per request), and nothing in the HTTP headers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl redis-server ss "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18760)
BPORT=$(free_port 18800)   # apart: free_port runs in a subshell
RPORT=$(free_port 16491)
PROM_PORT=$(free_port 19760)
URL=http://127.0.0.1:$PORT
HDRS=$T/traceparents

mkdir -p "$T/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
    --dir "$T/redis" > "$T/redis.log" 2>&1 &
track $!
wait_port "$RPORT" 10 || die "redis-server did not listen on $RPORT"
"$PYTHON" "$top_srcdir/tests/integration/peers/graph_backend.py" "$BPORT" \
    "$RPORT" "$HDRS" > "$T/backend.log" 2>&1 &
track $!
wait_port "$BPORT" 10 || die "the backend did not listen on $BPORT"
NGINX_SERVER_EXTRA="location /p/ { proxy_pass http://127.0.0.1:$BPORT; }" \
    nginx_start "$PORT"

check_paths() {   # [trace_paths.py options]
	"$PYTHON" "$top_srcdir/tests/integration/peers/trace_paths.py" \
	    "$SENSOR_OUT" "$PORT" "$BPORT" "$RPORT" "$@"
}
field() {   # NAME TEXT: the number after NAME
	printf '%s\n' "$2" | awk -v n="$1" '$1 == n { print $2 }'
}
requests() {   # PREFIX N: N requests, half keep-alive; prints "200 N"
	local urls=() i
	for ((i = 1; i <= $2 / 2; i++)); do urls+=(-o /dev/null "$URL/p/$1k$i"); done
	{
		curl -s --max-time 60 -w '%{http_code}\n' "${urls[@]}"
		for ((i = $2 / 2 + 1; i <= $2; i++)); do
			curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' "$URL/p/$1n$i"
		done
	} | sort | uniq -c | awk '{ print $2, $1 }'
}

# ---- spyglass check
out=$("$SPYGLASS" check -c /dev/null -o discovery.open_port="$PORT" \
    -o ebpf.context_propagation=all 2>&1)
if ! printf '%s\n' "$out" | grep -q "^ok *context propagation: "; then
	log "$out"
	printf '%s\n' "$out" | grep -q "context propagation: needs the socket or fentry" &&
		skip "this kernel offers neither the socket nor the fentry hooks"
	fail "check: no ok line for context propagation"
fi
assert_contains "check: what propagation uses" "$out" \
    "traceparent in HTTP/1 requests (sk_msg), TCP header option (sockops); sockops on"
assert_contains "check: the capability it needs" "$out" "cap_net_admin"
out=$("$SPYGLASS" check -c /dev/null -o discovery.open_port="$PORT" \
    -o ebpf.context_propagation=headers -o ebpf.propagation_cgroup="$T" 2>&1)
assert_contains "check: a propagation_cgroup that is no cgroup" "$out" \
    "error   context propagation: $T is not a cgroup v2 directory"

# ---- headers
start_sensor -o discovery.open_port="$PORT,$BPORT" -o trace_printer=json \
    -o ebpf.context_propagation=headers
wait_ready 2 || exit 1
if grep -q "context propagation needs the socket or fentry hooks" "$SENSOR_ERR"; then
	stop_sensor
	# a kind that failed to load says why first
	if grep -q "hooks failed: trying" "$SENSOR_ERR"; then
		grep -v "^libbpf: \(sec\|prog\|map\|elf\|CO-RE\)" "$SENSOR_ERR" |
		    grep -B40 "hooks failed: trying" | tail -60
		fail "the propagation programs did not load with hooks that can carry them"
		test_done
	fi
	skip "this kernel offers neither the socket nor the fentry hooks"
fi
grep -q "context propagation: traceparent in HTTP/1 requests" "$SENSOR_ERR" ||
	fail "the sensor did not say it propagates in headers"
N=10
assert_eq "headers: $N answered" "200 $N" "$(requests h "$N")"
v=$(wait_spans $((4 * N)))
log "spans after wait: $v"
settle
assert_eq "headers: spans" $((4 * N)) "$(count_spans "$SENSOR_OUT")"
res=$(check_paths --headers "$HDRS")
log "$res"
assert_eq "headers: traces" "$N" "$(field traces "$res")"
assert_eq "headers: traces of 4 spans, linked" "$N" "$(field ok "$res")"
assert_eq "headers: the backend received each trace's nginx client span as parent" \
    "$N" "$(field wire "$res")"
assert_eq "traceparents received" "$N" "$(grep -c ' 00-' "$HDRS")"
assert_eq "spyglass_trace_propagated_total{via=header}" "$N" \
    "$(wait_metric "$N" spyglass_trace_propagated_total via=header)"
assert_eq "spyglass_trace_propagation_mismatch_total" 0 \
    "$(metric_value spyglass_trace_propagation_mismatch_total)"

# curl's traceparent: nginx passes it on, its parent id replaced
M=4
assert_eq "with traceparent: $M answered" "200 $M" \
    "$(curl_traceparents "$URL/p/tp" "$M" "$T/want")"
v=$(wait_spans $((4 * (N + M))))
log "spans after wait: $v"
settle
res=$(check_paths --want "$T/want" --headers "$HDRS")
log "$res"
assert_eq "with traceparent: whole, linked, curl's span the root's parent" "$M" \
    "$(field ok "$res")"
assert_eq "with traceparent: the backend received nginx's client span as parent" \
    "$M" "$(field wire "$res")"
assert_eq "curl's parent ids passed on" 0 "$(grep -c ' 00-feed.*-00000000c0de' "$HDRS")"
stop_sensor

# ---- ip: the TCP option, redis-server followed too
: > "$HDRS"
start_sensor -o discovery.open_port="$PORT,$BPORT,$RPORT" \
    -o trace_printer=json -o ebpf.context_propagation=ip
wait_ready 3 || exit 1
grep -q "context propagation: TCP header option" "$SENSOR_ERR" ||
	fail "the sensor did not say it propagates in a TCP option"
assert_eq "ip: $N answered" "200 $N" "$(requests o "$N")"
v=$(wait_spans $((5 * N)))
log "spans after wait: $v"
settle
assert_eq "ip: spans" $((5 * N)) "$(count_spans "$SENSOR_OUT")"
res=$(check_paths --redis-server)
log "$res"
assert_eq "ip: traces" "$N" "$(field traces "$res")"
assert_eq "ip: traces of 5 spans, linked" "$N" "$(field ok "$res")"
assert_eq "ip: servers linked through the option" $((2 * N)) \
    "$(wait_metric $((2 * N)) spyglass_trace_links_total via=tcp_option)"
assert_eq "ip: client requests that carried it" $((2 * N)) \
    "$(wait_metric $((2 * N)) spyglass_trace_propagated_total via=tcp_option)"
assert_eq "ip: no traceparent written" 0 "$(grep -c ' 00-' "$HDRS")"
stop_sensor

test_done
