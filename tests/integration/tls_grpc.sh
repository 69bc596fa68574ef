#!/bin/bash
# gRPC over TLS (ALPN h2) through the OpenSSL uprobes, both ways and both
# sides: a node grpc-js server (node's own, static OpenSSL) called by
# Debian's python grpcio (whose C core uses the shared libssl), and a
# python server called by node.  Calls counted exactly by method and gRPC
# status on the four sides; spans with scheme https.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd node openssl "$PYTHON"
require_bpf
"$PYTHON" -c 'import grpc' 2>/dev/null || skip "needs python3-grpcio"
PEERS=$(dirname "$0")/peers
[ -d "$PEERS/../../otlp/node_modules/@grpc/grpc-js" ] ||
    skip "needs @grpc/grpc-js (npm ci in tests/otlp)"
tmpdir_setup
PYSVC=$(basename "$(readlink -f "$PYTHON")")
SAY=/spyglass.test.Echo/Say
COUNT=/spyglass.test.Echo/Count
RSRV=rpc_server_duration_seconds_count
RCLI=rpc_client_duration_seconds_count

PYPORT=$(free_port 18460)
NODEPORT=$(free_port $((PYPORT + 1)))
PROM_PORT=$(free_port 19460)
tls_cert
export SG_GRPC_TLS_CERT=$T/cert.pem SG_GRPC_TLS_KEY=$T/key.pem
"$PYTHON" "$PEERS/grpc_peer.py" server "$PYPORT" > "$T/pyserver.log" 2>&1 &
track $!
node "$PEERS/grpc_peer.js" server "$NODEPORT" > "$T/nodeserver.log" 2>&1 &
track $!
wait_port "$PYPORT" 10 || die "python gRPC server did not listen: $(cat "$T/pyserver.log")"
wait_port "$NODEPORT" 10 || die "node gRPC server did not listen: $(cat "$T/nodeserver.log")"

TAG=sgtlsgrpc$$
cp "$PEERS/grpc_peer.py" "$T/${TAG}.py"
cp "$PEERS/grpc_peer.js" "$T/${TAG}.js"
start_sensor -o discovery.open_port="$PYPORT,$NODEPORT" \
    -o discovery.executable_name="$TAG" -o trace_printer=json
wait_ready 2 || exit 1

CALLS="Say:hi:20 Say:missing:5 Say:down:3 Count:3:4"
want=$(printf 'Count OK 4\nSay NOT_FOUND 5\nSay OK 20\nSay UNAVAILABLE 3')
# shellcheck disable=SC2086
SG_GRPC_JS=$(cd "$PEERS/../../otlp" && pwd)/node_modules/@grpc/grpc-js \
    node "$T/${TAG}.js" client "$PYPORT" $CALLS > "$T/node_client.out" 2> "$T/node_client.err"
assert_eq "node client's calls over TLS" "$want" "$(cat "$T/node_client.out")"
# (its stderr: node's warning that an IP address is no TLS server name)
# shellcheck disable=SC2086
"$PYTHON" "$T/${TAG}.py" client "$NODEPORT" $CALLS > "$T/py_client.out" 2>&1
assert_eq "python client's calls over TLS" "$want" "$(cat "$T/py_client.out")"

check_side() {   # METRIC SERVICE: the 32 calls
	grpc_check_side "$1" "$2"
	assert_count "$1{$2} in all" 32 "$(metric_value "$1" service_name="$2")"
}
check_side $RSRV "$PYSVC"
check_side $RCLI node
check_side $RSRV node
check_side $RCLI "$PYSVC"
settle
for m in spyglass_unparsed_bytes_total spyglass_tls_unbound_calls_total \
    spyglass_fields_unknown_total spyglass_responses_unpaired_total; do
	assert_eq "$m" 0 "$(metric_value $m)"
done
n=$(wait_spans 128)
stop_sensor
assert_eq "spans with scheme https" 128 "$(count_spans "$SENSOR_OUT" scheme=https)"
assert_eq "python server spans, peer is node's client" 32 \
    "$(count_spans "$SENSOR_OUT" kind=server service_name="$PYSVC" host_port="$PYPORT")"
assert_eq "node client spans to the python server's port" 32 \
    "$(count_spans "$SENSOR_OUT" kind=client service_name=node peer_port="$PYPORT")"
test_done
