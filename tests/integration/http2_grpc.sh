#!/bin/bash
# HTTP/2 and gRPC, server and client, exact counts:
#  - nginx serving h2c (listen ... http2), driven by curl
#    --http2-prior-knowledge and by h2load with ten streams per connection;
#    the server side selected by port, h2load (a copy of it under a name of
#    the test's own) selected by executable name for the client side;
#  - gRPC between Debian's python grpcio and node's @grpc/grpc-js, each as
#    server (by port) and as client (a copy of the script, by name): unary
#    and server-streaming calls, statuses OK, NOT_FOUND and UNAVAILABLE,
#    exact counts per method and status on both sides;
#  - a gRPC channel opened before the sensor starts: the calls made after
#    are counted exactly, with the method and status where the sensor could
#    read them and as unknown (counted) where it could not, never wrong.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl h2load ss node "$PYTHON"
require_bpf
"$PYTHON" -c 'import grpc' 2>/dev/null || skip "needs python3-grpcio"
[ -d "$RECEIVER_DIR/node_modules/@grpc/grpc-js" ] ||
    skip "needs tests/otlp/node_modules (cd tests/otlp && npm ci)"
tmpdir_setup

PEERS=$top_srcdir/tests/integration/peers
export SG_GRPC_JS=$RECEIVER_DIR/node_modules/@grpc/grpc-js
PORT=$(free_port 18480)
PYPORT=$(free_port 18481)
NODEPORT=$(free_port 18482)
PROM_PORT=$(free_port 19480)
URL=http://127.0.0.1:$PORT
PYSVC=$(basename "$(readlink -f "$PYTHON")")
SRV=http_server_request_duration_seconds_count
CLI=http_client_request_duration_seconds_count
RSRV=rpc_server_duration_seconds_count
RCLI=rpc_client_duration_seconds_count
SAY=/spyglass.test.Echo/Say
COUNT=/spyglass.test.Echo/Count

NGINX_LISTEN_OPTS=http2 nginx_start "$PORT"
"$PYTHON" "$PEERS/grpc_peer.py" server "$PYPORT" > "$T/pyserver.log" 2>&1 &
track $!
node "$PEERS/grpc_peer.js" server "$NODEPORT" > "$T/nodeserver.log" 2>&1 &
track $!
wait_port "$PYPORT" 10 || die "python gRPC server did not listen"
wait_port "$NODEPORT" 10 || die "node gRPC server did not listen"

# A channel opened before the sensor: ten calls, then it waits.
cp "$PEERS/grpc_peer.py" "$T/sgtest_grpc_pre_$$.py"
mkfifo "$T/go"
exec 3<>"$T/go"
"$PYTHON" "$T/sgtest_grpc_pre_$$.py" client "$NODEPORT" Say:early:10 wait \
    Say:late:30 Say:missing:4 < "$T/go" > "$T/pre.out" 2>&1 &
PRE=$!
track "$PRE"
for _ in $(seq 100); do grep -q waiting "$T/pre.out" && break; sleep 0.1; done
grep -q waiting "$T/pre.out" || die "the early gRPC client did not start: $(cat "$T/pre.out")"

cp "$(command -v h2load)" "$T/sgtest-h2load"
cp "$PEERS/grpc_peer.py" "$T/sgtest_grpc_$$.py"
cp "$PEERS/grpc_peer.js" "$T/sgtest_grpc_$$.js"
SENSOR_INI_EXTRA="[discovery]
open_port = $PORT,$PYPORT,$NODEPORT
executable_name = (sgtest-h2load|sgtest_grpc_(pre_)?$$[.](py|js))
"
start_sensor -o trace_printer=json
# nginx (master, worker), the two servers, the early client
wait_ready 5 || exit 1

# ---- the channel opened before the sensor
echo go >&3
wait "$PRE" || fail "early client failed: $(cat "$T/pre.out")"
assert_eq "early client's calls after the sensor started" \
    "$(printf 'Say NOT_FOUND 4\nSay OK 40')" "$(grep -v waiting "$T/pre.out")"
n=$(wait_metric 34 $RCLI service_name="$PYSVC")
assert_count "gRPC calls on a channel opened before the sensor (client side)" 34 "$n"
assert_count "the same calls, node server side" 34 \
    "$(wait_metric 34 $RSRV service_name=node)"
scrape
# The calls whose method the sensor decoded on this channel (those on
# entries of the HPACK table made before it started are not): the later
# checks of these series count them in.
declare -A EARLY_OK EARLY_NF
for side in "$RCLI service_name=$PYSVC" "$RSRV service_name=node"; do
	# shellcheck disable=SC2086  # two words: the metric and a label
	set -- $side
	ok_n=$(metric_value "$@" rpc_grpc_status_code=0)
	nf_n=$(metric_value "$@" rpc_grpc_status_code=5)
	say_n=$(metric_value "$@" rpc_method=$SAY)
	EARLY_OK[$1]=$(metric_value "$@" rpc_method=$SAY rpc_grpc_status_code=0)
	EARLY_NF[$1]=$(metric_value "$@" rpc_method=$SAY rpc_grpc_status_code=5)
	if [ "$ok_n" -le 30 ] && [ "$nf_n" -le 4 ] && [ "$say_n" -le 34 ]; then
		ok "$1: status OK $ok_n, NOT_FOUND $nf_n, method Say $say_n (of 30, 4, 34): none wrong"
	else
		fail "$1: status OK $ok_n, NOT_FOUND $nf_n, method Say $say_n: more than the calls made"
	fi
	others=$(printf '%s\n' "$SCRAPE" | grep "^$1{" | grep "$2" |
	    grep -v 'rpc_grpc_status_code="0"\|rpc_grpc_status_code="5"' |
	    grep -c 'rpc_grpc_status_code=')
	assert_eq "$1: series with another status" 0 "$others"
done
scrape
unknown=$(metric_value spyglass_fields_unknown_total)
log "early channel: fields reported unknown: $unknown"

# ---- h2c: nginx, curl with prior knowledge
# one connection per request: curl 7.88 does not reuse a prior-knowledge one
h2_many() {   # N URL
	for _ in $(seq "$1"); do
		curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}\n' "$2"
	done | sort | uniq -c | awk '{ print $2, $1 }'
}
assert_eq "curl h2c /ok" "200 20" "$(h2_many 20 "$URL/ok")"
assert_eq "curl h2c /missing" "404 5" "$(h2_many 5 "$URL/missing")"
assert_count "nginx h2c GET 200 (curl)" 20 \
    "$(wait_metric 20 $SRV service_name=nginx http_request_method=GET http_response_status_code=200)"
assert_count "nginx h2c GET 404 (curl)" 5 \
    "$(wait_metric 5 $SRV service_name=nginx http_request_method=GET http_response_status_code=404)"
assert_eq "h2 spans of nginx, GET 200, protocol version 2" 20 \
    "$(count_spans "$SENSOR_OUT" kind=server service_name=nginx operation=GET status=200 protocol_version=2 target=/ok)"

# ---- h2c: h2load, ten streams per connection, selected for the client side
bash -c 'read -r _; exec "$@"' sgtest "$T/sgtest-h2load" -n 2000 -c 4 -m 10 \
    "$URL/ok" < "$T/go" > "$T/h2load.out" 2>&1 &
H2LOAD=$!
track "$H2LOAD"
sleep 1   # the waiting shell is selected by its command line
echo go >&3
wait "$H2LOAD" || fail "h2load failed"
grep -q "2000 succeeded" "$T/h2load.out" || fail "h2load: $(grep requests: "$T/h2load.out")"
assert_count "nginx h2c GET 200 (curl and h2load)" 2020 \
    "$(wait_metric 2020 $SRV service_name=nginx http_request_method=GET http_response_status_code=200)"
assert_count "h2load client side GET 200" 2000 \
    "$(wait_metric 2000 $CLI service_name=sgtest-h2load http_request_method=GET http_response_status_code=200)"

# ---- gRPC, node client -> python server, python client -> node server
CALLS="Say:hi:20 Say:missing:5 Say:down:3 Count:3:4"
# shellcheck disable=SC2086
node "$T/sgtest_grpc_$$.js" client "$PYPORT" $CALLS > "$T/node_client.out" 2>&1 ||
    fail "node client: $(cat "$T/node_client.out")"
# shellcheck disable=SC2086
"$PYTHON" "$T/sgtest_grpc_$$.py" client "$NODEPORT" $CALLS > "$T/py_client.out" 2>&1 ||
    fail "python client: $(cat "$T/py_client.out")"
want=$(printf 'Count OK 4\nSay NOT_FOUND 5\nSay OK 20\nSay UNAVAILABLE 3')
assert_eq "node client's calls" "$want" "$(cat "$T/node_client.out")"
assert_eq "python client's calls" "$want" "$(cat "$T/py_client.out")"
grpc_check_side $RSRV "$PYSVC"
grpc_check_side $RCLI node
# the node server and the python client also carry the early channel's 34
n=$(wait_metric 66 $RSRV service_name=node)
assert_count "$RSRV{node} in all (34 early + 32)" 66 "$n"
scrape
grpc_check_side $RSRV node "${EARLY_OK[$RSRV]}" "${EARLY_NF[$RSRV]}"
grpc_check_side $RCLI "$PYSVC" "${EARLY_OK[$RCLI]}" "${EARLY_NF[$RCLI]}"
assert_count "$RCLI{$PYSVC} in all (34 early + 32)" 66 "$(metric_value $RCLI service_name="$PYSVC")"
assert_eq "gRPC spans: python server, Say, NOT_FOUND" 5 \
    "$(count_spans "$SENSOR_OUT" kind=server protocol=grpc target=$SAY status=5 service_name="$PYSVC")"
assert_eq "no gRPC call counted as HTTP (python, node)" "0 0" \
    "$(metric_value $SRV service_name="$PYSVC") $(metric_value $SRV service_name=node)"
settle
assert_eq "spyglass_requests_dropped_total" 0 "$(metric_value spyglass_requests_dropped_total)"
log "unparsed bytes $(metric_value spyglass_unparsed_bytes_total), unpaired $(metric_value spyglass_responses_unpaired_total), unknown fields $(metric_value spyglass_fields_unknown_total)"
stop_sensor
test_done
