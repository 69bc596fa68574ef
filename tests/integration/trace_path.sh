#!/bin/bash
# One trace per request along its whole path on this host, without any
# header written by the sensor:
#   curl -> nginx (selected by port) -> proxy_pass -> a python backend
#   (selected by its port; http.server, a thread per connection) which,
#   for each request, sends one Redis command over a raw socket to
#   redis-server (not selected) and answers.
# Each of N requests (keep-alive and new connections) gives exactly one
# trace of 4 spans: nginx's server span (a root), nginx's client span
# (its child: in-process), the backend's server span (the child of
# nginx's client span: same host), the backend's Redis client span (its
# child: in-process).  With a traceparent from curl, all four carry
# curl's trace id and nginx's server span has curl's span id as parent.
# Then with parentbased_traceidratio and ratio 0.5: every trace is kept
# or left out whole.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl redis-server ss "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18560)
BPORT=$(free_port 18600)   # apart: free_port runs in a subshell,
#                            it cannot know the port it gave just before
RPORT=$(free_port 16391)
PROM_PORT=$(free_port 19560)
URL=http://127.0.0.1:$PORT

mkdir -p "$T/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
    --dir "$T/redis" > "$T/redis.log" 2>&1 &
track $!
wait_port "$RPORT" 10 || die "redis-server did not listen on $RPORT"

# thread per request, one Redis SET per request over a raw socket
"$PYTHON" "$top_srcdir/tests/integration/peers/graph_backend.py" "$BPORT" \
    "$RPORT" > "$T/backend.log" 2>&1 &
track $!
wait_port "$BPORT" 10 || die "the backend did not listen on $BPORT"

NGINX_SERVER_EXTRA="location /p/ { proxy_pass http://127.0.0.1:$BPORT; }" \
    nginx_start "$PORT"

# The spans of the path by trace (peers/trace_paths.py): "traces N",
# "ok N" (whole and linked), "bad ..." lines; with a file of "trace_id
# parent_id" lines, only those traces, nginx's server span the child of
# that parent.
check_paths() {   # [EXPECTED_FILE]
	"$PYTHON" "$top_srcdir/tests/integration/peers/trace_paths.py" \
	    "$SENSOR_OUT" "$PORT" "$BPORT" "$RPORT" ${1:+--want "$1"}
}

start_sensor -o discovery.open_port="$PORT,$BPORT" -o trace_printer=json
wait_ready 2 || exit 1

# 10 requests on one keep-alive connection, 10 on connections of their own
N1=10 N2=10 N=$((N1 + N2))
urls=()
for ((i = 1; i <= N1; i++)); do urls+=(-o /dev/null "$URL/p/keep$i"); done
assert_eq "keep-alive: $N1 answered" "200 $N1" \
    "$(curl -s --max-time 60 -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c | awk '{ print $2, $1 }')"
codes=$(for ((i = 1; i <= N2; i++)); do
	curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' "$URL/p/new$i"
done | sort | uniq -c | awk '{ print $2, $1 }')
assert_eq "new connections: $N2 answered" "200 $N2" "$codes"

v=$(wait_spans $((4 * N)))
log "spans after wait: $v"
settle
assert_eq "spans" $((4 * N)) "$(count_spans "$SENSOR_OUT")"
res=$(check_paths)
log "$res"
assert_eq "traces" "$N" "$(printf '%s\n' "$res" | awk '$1 == "traces" { print $2 }')"
assert_eq "traces of 4 spans, each the child of the one before" "$N" \
    "$(printf '%s\n' "$res" | awk '$1 == "ok" { print $2 }')"
# per request two calls linked to their thread's request (nginx's to the
# backend, the backend's to Redis), one server to its caller on this host
# (spans go out before the snapshot that counts their links)
assert_eq "spyglass_trace_links_total{via=thread}" $((2 * N)) \
    "$(wait_metric $((2 * N)) spyglass_trace_links_total via=thread)"
assert_eq "spyglass_trace_links_total{via=peer}" "$N" \
    "$(wait_metric "$N" spyglass_trace_links_total via=peer)"

# With curl's traceparent: its trace, nginx's server span its child.
M=10
assert_eq "with traceparent: $M answered" "200 $M" \
    "$(curl_traceparents "$URL/p/tp" "$M" "$T/want")"
v=$(wait_spans $((4 * (N + M))))
log "spans after wait: $v"
settle
# only the new spans: those of the wanted traces
res=$(check_paths "$T/want")
log "$res"
assert_eq "traces of 4 spans continuing curl's, linked" "$M" \
    "$(for t in $(cut -d' ' -f1 "$T/want"); do grep -c "\"trace_id\":\"$t\"" "$SENSOR_OUT"; done | grep -cx 4)"
assert_eq "of them, whole and linked" "$M" \
    "$(printf '%s\n' "$res" | awk '$1 == "ok" { print $2 }')"
stop_sensor

# Sampling keeps or drops a trace whole: parentbased_traceidratio 0.5.
start_sensor -o discovery.open_port="$PORT,$BPORT" -o trace_printer=json \
    -o otel_traces_export.sampler=parentbased_traceidratio \
    -o otel_traces_export.sampler_arg=0.5
wait_ready 2 || exit 1
S=40
codes=$(for ((i = 1; i <= S; i++)); do
	curl -s --max-time 10 -o /dev/null -w '%{http_code}\n' "$URL/p/s$i"
done | sort | uniq -c | awk '{ print $2, $1 }')
assert_eq "sampled run: $S answered" "200 $S" "$codes"
v=$(wait_metric $((2 * S)) http_server_request_duration_seconds_count)
log "server requests counted: $v"
settle
sleep 1
res=$(check_paths)
log "$res"
kept=$(printf '%s\n' "$res" | awk '$1 == "traces" { print $2 }')
assert_eq "every trace kept is whole" "$kept" \
    "$(printf '%s\n' "$res" | awk '$1 == "ok" { print $2 }')"
assert_eq "spans kept: 4 per trace kept" $((4 * kept)) "$(count_spans "$SENSOR_OUT")"
# 40 traces at 0.5: some kept, some not (both: ~1e-12 to fail by chance)
assert_ge "traces kept" 1 "$kept"
assert_ge "traces left out" 1 $((S - kept))
assert_eq "left out, counted" $((4 * (S - kept))) \
    "$(metric_value spyglass_spans_unsampled_total)"
stop_sensor

test_done
