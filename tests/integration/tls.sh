#!/bin/bash
# HTTPS through the OpenSSL uprobes, both sides of every exchange:
#  - nginx with `ssl` (HTTP/1.1) and with `ssl http2` (ALPN h2), shared
#    libssl, selected by port;
#  - a node https server (node's own, static OpenSSL), selected by port;
#  - clients selected by executable: curl and h2load (copies under test
#    names; shared libssl), Debian's python http.client (shared libssl,
#    imported at start), node's https and http2 clients (static OpenSSL).
# Server counts by status, client counts by service, spans with scheme
# https and the right peers; nothing counted as unparsed or unbound.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl h2load node openssl "$PYTHON"
require_bpf
tmpdir_setup
PEERS=$(dirname "$0")/peers
PYSVC=$(basename "$(readlink -f "$PYTHON")")

P1=$(free_port 18440)   # nginx ssl
P2=$(free_port $((P1 + 1)))   # nginx ssl http2
P3=$(free_port $((P2 + 1)))   # node https server
PROM_PORT=$(free_port 19440)

tls_cert
NGINX_LISTEN_OPTS=ssl NGINX_SERVER_EXTRA="$TLS_NGINX" nginx_start "$P1" "$T/nginx1"
NGINX_LISTEN_OPTS="ssl http2" NGINX_SERVER_EXTRA="$TLS_NGINX" nginx_start "$P2" "$T/nginx2"
node "$PEERS/https_server.js" "$P3" "$T/cert.pem" "$T/key.pem" > "$T/nodesrv.log" 2>&1 &
track $!
wait_port "$P3" 10 || die "node https server did not listen on $P3"

# Clients under names of this test only: nothing else on the host is
# selected.
TAG=sgtls$$
cp "$(command -v curl)" "$T/${TAG}_curl"
cp "$(command -v h2load)" "$T/${TAG}_h2load"
cp "$PEERS/https_client.js" "$T/${TAG}_https.js"
cp "$PEERS/h2_client.js" "$T/${TAG}_h2.js"
cat > "$T/${TAG}_client.py" <<'PY'
import http.client, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
seen = {}
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)     # keep-alive
for _ in range(30):
    c.request("GET", "/ok"); r = c.getresponse(); r.read(); seen[("GET", r.status)] = seen.get(("GET", r.status), 0) + 1
for _ in range(10):
    c.request("POST", "/post", body=b"x" * 300); r = c.getresponse(); r.read(); seen[("POST", r.status)] = seen.get(("POST", r.status), 0) + 1
c.close()
print(" ".join("%s/%s:%d" % (m, s, n) for (m, s), n in sorted(seen.items())))
PY

start_sensor -o discovery.open_port="$P1,$P2,$P3" \
    -o discovery.executable_name="$TAG" -o trace_printer=json
wait_ready 3 || exit 1

# ---- spyglass check: how each selected process's TLS is seen
check=$("$SPYGLASS" -c "$SENSOR_INI" -o discovery.open_port="$P1,$P2,$P3" check 2>&1)
assert_contains "check: nginx's TLS through the shared libssl" "$check" \
    "as nginx; TLS seen: OpenSSL in /usr/lib/x86_64-linux-gnu/libssl.so.3"
# Debian 12's SSL_read opens with an instruction the kernel single-steps;
# the inner functions it and SSL_read_ex call open with pushes
assert_contains "check: its probes at the inner functions" "$check" \
    "libssl.so.3 (at its inner read and write functions)"
assert_contains "check: node's TLS through its own OpenSSL" "$check" \
    "as node; TLS seen: OpenSSL in /usr/bin/node"
assert_contains "check: the TLS finding" "$check" "TLS: uprobes on OpenSSL"

# ---- traffic; each client checks what it did
U1=https://127.0.0.1:$P1 U2=https://127.0.0.1:$P2 U3=https://127.0.0.1:$P3
urls() { local u=$1 n=$2 i; for i in $(seq 1 "$n"); do printf -- '-o /dev/null %s ' "$u"; done; }
# shellcheck disable=SC2046  # one URL per word
got=$("$T/${TAG}_curl" -sk -w '%{http_code}\n' $(urls "$U1/ok" 20) | sort | uniq -c | xargs)
assert_eq "curl: 20 GET /ok over one TLS connection" "20 200" "$got"
# shellcheck disable=SC2046
got=$("$T/${TAG}_curl" -sk -w '%{http_code}\n' $(urls "$U1/missing" 5) | sort | uniq -c | xargs)
assert_eq "curl: 5 GET /missing" "5 404" "$got"
# shellcheck disable=SC2046
got=$("$T/${TAG}_curl" -sk --http2 -w '%{http_version}/%{http_code}\n' $(urls "$U2/ok" 10) | sort | uniq -c | xargs)
assert_eq "curl --http2: 10 GET /ok over ALPN h2" "10 2/200" "$got"
# shellcheck disable=SC2046
got=$("$T/${TAG}_curl" -sk -w '%{http_code}\n' $(urls "$U3/ok" 20) | sort | uniq -c | xargs)
assert_eq "curl: 20 GET /ok from the node https server" "20 200" "$got"
got=$("$PYTHON" "$T/${TAG}_client.py" "$P1")
assert_eq "python http.client over TLS" "GET/200:30 POST/200:10" "$got"
got=$(node "$T/${TAG}_https.js" "$P1" 10)
assert_eq "node https client" '{"200":10,"404":10}' "$got"
got=$(node "$T/${TAG}_h2.js" "$P2" 20)
assert_eq "node http2 client" '{"200":10,"404":10}' "$got"
out=$("$T/${TAG}_h2load" -n 200 -c 2 -m 10 "$U2/ok" 2>&1)
assert_contains "h2load over TLS (h2)" "$out" "requests: 200 total, 200 started, 200 done, 200 succeeded"
assert_contains "h2load negotiated h2" "$out" "Application protocol: h2"
out=$("$T/${TAG}_h2load" --h1 -n 200 -c 2 "$U1/ok" 2>&1)
assert_contains "h2load --h1 over TLS" "$out" "requests: 200 total, 200 started, 200 done, 200 succeeded"

# ---- server side
declare -A srv=(
	[nginx/GET/200]=480   # curl 20+10, python 30, node 10+10, h2load 200+200
	[nginx/GET/404]=25    # curl 5, node 10+10
	[nginx/POST/200]=10   # python
	[node/GET/200]=20     # curl
)
# ---- client side, by the client's service name
declare -A cli=(
	[${TAG}_curl/GET/200]=50
	[${TAG}_curl/GET/404]=5
	[$PYSVC/GET/200]=30
	[$PYSVC/POST/200]=10
	[node/GET/200]=20
	[node/GET/404]=20
	[${TAG}_h2load/GET/200]=400
)
total=0
for k in "${!srv[@]}"; do total=$((total + srv[$k])); done
MS=http_server_request_duration_seconds_count
MC=http_client_request_duration_seconds_count
v=$(wait_metric "$total" $MS)
log "server requests counted after wait: $v (want $total)"
v=$(wait_metric "$total" $MC)
log "client requests counted after wait: $v (want $total)"
settle
check_counts() {   # METRIC ARRAY-NAME: SERVICE/METHOD/STATUS -> count
	local m=$1 k svc meth st
	local -n want=$2
	for k in "${!want[@]}"; do
		IFS=/ read -r svc meth st <<< "$k"
		assert_eq "$m{service_name=$svc,method=$meth,status=$st}" "${want[$k]}" \
		    "$(metric_value "$m" service_name="$svc" http_request_method="$meth" http_response_status_code="$st")"
	done
	assert_count "$m in all" "$total" "$(metric_value "$m")"
}
check_counts $MS srv
check_counts $MC cli
assert_eq "$MC to the node server's port" 20 "$(metric_value $MC server_port="$P3")"
assert_eq "$MC to nginx h2 (curl 10, node 20, h2load 200)" 230 "$(metric_value $MC server_port="$P2")"
# node's server reads a connection's ClientHello itself, before any SSL
# call: that one record is counted as ciphertext (curl's is 517 bytes).
v=$(metric_value spyglass_tls_ciphertext_bytes_total)
if [ "$v" -ge 200 ] && [ "$v" -le 2048 ]; then
	ok "spyglass_tls_ciphertext_bytes_total = $v: one ClientHello"
else
	fail "spyglass_tls_ciphertext_bytes_total = $v: want one ClientHello (200-2048)"
fi
for m in spyglass_unparsed_bytes_total \
    spyglass_tls_unbound_calls_total spyglass_events_lost_total \
    spyglass_responses_unpaired_total spyglass_requests_timed_out_total; do
	assert_eq "$m" 0 "$(metric_value $m)"
done
assert_ge "spyglass_tls_files_hooked (libssl, node)" 2 "$(metric_value spyglass_tls_files_hooked)"

# ---- spans
n=$(wait_spans $((2 * total)))
stop_sensor
assert_eq "spans with scheme https" $((2 * total)) "$(count_spans "$SENSOR_OUT" scheme=https)"
assert_eq "server spans of the h2 nginx (HTTP/2)" 230 \
    "$(count_spans "$SENSOR_OUT" kind=server host_port="$P2" protocol_version=2)"
assert_eq "client spans of node to the node server's peer port" 0 \
    "$(count_spans "$SENSOR_OUT" kind=client service_name=node peer_port="$P3")"
assert_eq "client spans of curl to the node server" 20 \
    "$(count_spans "$SENSOR_OUT" kind=client service_name="${TAG}_curl" peer_port="$P3")"
assert_eq "peer_addr of client spans" 127.0.0.1 \
    "$(span_field_values "$SENSOR_OUT" peer_addr kind=client)"
assert_eq "python's POST request_size" 300 \
    "$(span_field_values "$SENSOR_OUT" request_size kind=client operation=POST)"
test_done
