#!/bin/bash
# [metrics] features = application_span, application_service_graph, with
# real peers: curl -> nginx (proxy_pass) -> a python backend -> redis-server,
# the three servers selected by their ports, curl not.  Each request
# crosses three edges, the last two with both ends followed (two spans
# each); the service graph counts each request once per edge:
#   127.0.0.1 -> nginx         by nginx's server span (curl not followed:
#                              named by its address, a virtual node)
#   nginx -> sgtest-backend    by nginx's client span
#   sgtest-backend -> sgtest-redis  by the backend's client span (a
#                              database)
# The server spans of the last two give their durations only
# (request_server_seconds).  Requests to /app/fail get a 500 from the
# backend, passed on by nginx: failed on the first two edges (the
# client's view of a 500 and the server's), not on the Redis one.  The
# span metrics count every span by service, kind, name and status.  Then
# a service calling itself, and the features off.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl redis-server "$PYTHON"
require_bpf
tmpdir_setup

NPORT=$(free_port 18560)
BPORT=$(free_port 18561)
RPORT=$(free_port 16395)
PROM_PORT=$(free_port 19560)
NOK=30
NFAIL=7
N=$((NOK + NFAIL))

mkdir -p "$T/redis"
redis-server --bind 127.0.0.1 \
    --port "$RPORT" --save '' --appendonly no --dir "$T/redis" \
    > "$T/redis.log" 2>&1 &
track $!
wait_port "$RPORT" 10 || die "redis-server did not listen on $RPORT"
OTEL_SERVICE_NAME=sgtest-backend "$PYTHON" \
    "$top_srcdir/tests/integration/peers/graph_backend.py" "$BPORT" "$RPORT" \
    > "$T/backend.log" 2>&1 &
track $!
wait_port "$BPORT" 10 || die "the backend did not listen on $BPORT"
NGINX_SERVER_EXTRA="location /app/ { proxy_pass http://127.0.0.1:$BPORT; }" \
    nginx_start "$NPORT"

SENSOR_INI_EXTRA="[discovery]
open_port = $NPORT,$BPORT,$RPORT

[metrics]
features = application, application_span, application_service_graph

[routes]
patterns = /app/ok, /app/fail

# redis-server overwrites its environment with its title: named here
[service.redis]
name = sgtest-redis
open_ports = $RPORT
"
start_sensor
wait_ready 3 || exit 1

codes=$( { http_many $NOK "http://127.0.0.1:$NPORT/app/ok";
    http_many $NFAIL "http://127.0.0.1:$NPORT/app/fail"; } | sort | tr '\n' ' ')
assert_eq "status codes curl saw" "200 $NOK 500 $NFAIL " "$codes"

G=traces_service_graph_request_total
v=$(wait_metric $((3 * N)) $G)
log "requests counted in the graph after wait: $v"
settle
edge_nginx=(client=127.0.0.1 server=nginx)
edge_backend=(client=nginx server=sgtest-backend)
edge_redis=(client=sgtest-backend server=sgtest-redis)
assert_eq "$G{curl -> nginx}" $N "$(metric_value $G "${edge_nginx[@]}" \
    client_service_namespace= server_service_namespace= \
    connection_type=virtual_node source=spyglass)"
assert_eq "$G{nginx -> backend}" $N "$(metric_value $G "${edge_backend[@]}")"
assert_eq "$G{backend -> redis}" $N "$(metric_value $G "${edge_redis[@]}" \
    connection_type=database)"
assert_eq "$G: every edge once" $((3 * N)) "$(metric_value $G)"
assert_eq "$G series" 3 "$(metric_series $G)"
assert_eq "$G{nginx -> backend}: no connection_type (both followed)" "" \
    "$(printf '%s\n' "$SCRAPE" | grep "^$G{" | grep 'server="sgtest-backend"' |
    sed -n 's/.*connection_type="\([^"]*\)".*/\1/p')"

F=traces_service_graph_request_failed_total
assert_eq "$F{curl -> nginx}" $NFAIL "$(metric_value $F "${edge_nginx[@]}")"
assert_eq "$F{nginx -> backend}" $NFAIL "$(metric_value $F "${edge_backend[@]}")"
assert_eq "$F{backend -> redis}" 0 "$(metric_value $F "${edge_redis[@]}")"
assert_eq "$F, all" $((2 * NFAIL)) "$(metric_value $F)"

S=traces_service_graph_request_server_seconds_count
C=traces_service_graph_request_client_seconds_count
assert_eq "$S{curl -> nginx}" $N "$(metric_value $S "${edge_nginx[@]}")"
assert_eq "$S{nginx -> backend}" $N "$(metric_value $S "${edge_backend[@]}")"
assert_eq "$S{backend -> redis}" $N "$(metric_value $S "${edge_redis[@]}")"
assert_eq "$C{nginx -> backend}" $N "$(metric_value $C "${edge_backend[@]}")"
assert_eq "$C{backend -> redis}" $N "$(metric_value $C "${edge_redis[@]}")"
assert_eq "$C, all (curl has no span)" $((2 * N)) "$(metric_value $C)"

# Span metrics: every span, by service, kind, name and status.
K=traces_spanmetrics_calls_total
calls() {   # SERVICE KIND NAME STATUS
	metric_value $K service_name="$1" span_kind="SPAN_KIND_$2" \
	    span_name="$3" status_code="STATUS_CODE_$4" source=spyglass
}
assert_eq "$K{nginx, server, GET /app/ok}" $NOK "$(calls nginx SERVER 'GET /app/ok' UNSET)"
assert_eq "$K{nginx, server, GET /app/fail}" $NFAIL "$(calls nginx SERVER 'GET /app/fail' ERROR)"
assert_eq "$K{nginx, client, GET /app/ok}" $NOK "$(calls nginx CLIENT 'GET /app/ok' UNSET)"
assert_eq "$K{nginx, client, GET /app/fail}" $NFAIL "$(calls nginx CLIENT 'GET /app/fail' ERROR)"
assert_eq "$K{backend, server, GET /app/ok}" $NOK "$(calls sgtest-backend SERVER 'GET /app/ok' UNSET)"
assert_eq "$K{backend, server, GET /app/fail}" $NFAIL "$(calls sgtest-backend SERVER 'GET /app/fail' ERROR)"
assert_eq "$K{backend, client, SET}" $N "$(calls sgtest-backend CLIENT SET UNSET)"
assert_eq "$K{redis, server, SET}" $N "$(calls sgtest-redis SERVER SET UNSET)"
assert_eq "$K, all" $((5 * N)) "$(metric_value $K)"
L=traces_spanmetrics_latency_count
assert_eq "$L, all" $((5 * N)) "$(metric_value $L)"
assert_eq "$L{backend, client, SET}" $N \
    "$(metric_value $L service_name=sgtest-backend span_kind=SPAN_KIND_CLIENT span_name=SET)"
Z=traces_spanmetrics_size_total
assert_eq "$Z{nginx, server} (GETs: no body)" 0 \
    "$(metric_value $Z service_name=nginx span_kind=SPAN_KIND_SERVER)"
assert_eq "$Z{redis, server, SET} (the commands: 32 bytes each)" $((32 * N)) \
    "$(metric_value $Z service_name=sgtest-redis span_name=SET)"
assert_eq "$K jobs" "nginx sgtest-backend sgtest-redis" "$(label_values $K job)"
for inst in $(label_values $K instance); do
	[[ $inst =~ :[0-9]+$ ]] || fail "$K instance \"$inst\" is not host:pid"
done
assert_eq "$K instances (nginx's worker, the backend, redis)" 3 \
    "$(label_values $K instance | wc -w)"
# The RED metrics agree.
assert_eq "http_server_request_duration_seconds_count, all" $((2 * N)) \
    "$(metric_value http_server_request_duration_seconds_count)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"
stop_sensor

# A service calling itself: a second nginx (the same program, so the
# same service) proxies /loop to the first one's /ok.  The edge
# nginx -> nginx is left out unless allow_service_graph_self_references;
# the request from curl counts either way.
LPORT=$(free_port 18563)
NGINX_SERVER_EXTRA="location = /loop { proxy_pass http://127.0.0.1:$NPORT/ok; }" \
    nginx_start "$LPORT" "$T/nginx-loop"
M=12
SENSOR_INI_EXTRA=
for allow in false true; do
	start_sensor -o discovery.open_port="$NPORT,$LPORT" \
	    -o metrics.features=application,application_service_graph \
	    -o metrics.allow_service_graph_self_references=$allow
	wait_ready 4 || exit 1
	assert_eq "/loop status codes" "200 $M" \
	    "$(http_many $M "http://127.0.0.1:$LPORT/loop" | tr '\n' ' ' | sed 's/ $//')"
	wait_metric $M $G "${edge_nginx[@]}" > /dev/null
	settle
	self=0
	[ $allow = true ] && self=$M
	for f in $G $S $C; do
		assert_eq "$f{nginx -> nginx}, self references allowed: $allow" \
		    $self "$(metric_value "$f" client=nginx server=nginx)"
	done
	assert_eq "$G{curl -> nginx} (self references allowed: $allow)" $M \
	    "$(metric_value $G "${edge_nginx[@]}")"
	assert_eq "$G, all (self references allowed: $allow)" $((M + self)) \
	    "$(metric_value $G)"
	stop_sensor
done

# Off by default: none of these families.
SENSOR_INI_EXTRA=
start_sensor -o discovery.open_port="$NPORT"
wait_ready 1 || exit 1
http_many 3 "http://127.0.0.1:$NPORT/app/ok" > /dev/null
wait_metric 3 http_server_request_duration_seconds_count > /dev/null
settle
assert_eq "families without the features" 0 \
    "$(printf '%s\n' "$SCRAPE" | grep -c '^traces_')"
assert_eq "RED metrics meanwhile" 3 \
    "$(metric_value http_server_request_duration_seconds_count)"
stop_sensor

test_done
