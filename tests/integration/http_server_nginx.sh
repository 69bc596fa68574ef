#!/bin/bash
# nginx as an HTTP/1.1 server: a few thousand mixed requests (keep-alive and
# not, GET/POST/PUT/DELETE, 200/404/503, two 1 MiB static responses with
# sendfile on and off).  The Prometheus counts by method and status, the
# JSON span lines and the loss counters must be exact.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl h2load ss "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18410)
PROM_PORT=$(free_port 19410)
URL=http://127.0.0.1:$PORT

nginx_start "$PORT"
head -c 1048576 /dev/urandom > "$T/nginx/www/big.bin"
chmod 0644 "$T/nginx/www/big.bin"
head -c 1000 /dev/zero | tr '\0' a > "$T/body1000"

start_sensor -o discovery.open_port="$PORT" -o trace_printer=json
wait_ready 1 || exit 1

# ---- traffic; the client side checks that it did what we count
assert_eq "client: 1000 keep-alive GET /ok" "200 1000" "$(http_many 1000 "$URL/ok")"
assert_eq "client: 200 GET /ok with Connection: close" "200 200" \
    "$(http_many 200 "$URL/ok" -H 'Connection: close')"
assert_eq "client: 300 GET /missing" "404 300" "$(http_many 300 "$URL/missing")"
assert_eq "client: 200 GET /busy" "503 200" "$(http_many 200 "$URL/busy")"
assert_eq "client: 300 POST /post (1000-byte bodies)" "200 300" \
    "$(http_many 300 "$URL/post" -H 'Expect:' --data-binary @"$T/body1000")"
assert_eq "client: 50 PUT /post" "200 50" \
    "$(http_many 50 "$URL/post" -X PUT -H 'Expect:' --data-binary @"$T/body1000")"
assert_eq "client: 20 DELETE /post" "200 20" "$(http_many 20 "$URL/post" -X DELETE)"
h2out=$(h2load --h1 -n 2000 -c 4 "$URL/ok" 2>&1)
assert_contains "h2load (2000 GET /ok over 4 connections)" "$h2out" \
    "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded"
for loc in sf nosf; do
	got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$URL/$loc/big.bin")
	assert_eq "client: GET /$loc/big.bin" "200 1048576" "$got"
done

# ---- expected server-side counts
declare -A want=(
	[GET/200]=3202      # 1000 + 200 + 2000 + 2 big files
	[GET/404]=300
	[GET/503]=200
	[POST/200]=300
	[PUT/200]=50
	[DELETE/200]=20
)
total=0
for k in "${!want[@]}"; do total=$((total + want[$k])); done

M=http_server_request_duration_seconds_count
v=$(wait_metric "$total" $M service_name=nginx)
log "all nginx server requests counted after wait: $v (want $total)"
settle
for k in GET/200 GET/404 GET/503 POST/200 PUT/200 DELETE/200; do
	m=${k%/*} s=${k#*/}
	assert_eq "$M{method=$m,status=$s,service_name=nginx}" "${want[$k]}" \
	    "$(metric_value $M http_request_method="$m" http_response_status_code="$s" service_name=nginx)"
done
assert_count "nginx server requests" "$total" "$(metric_value $M)"
assert_eq "http_server_request_duration_seconds_bucket{le=+Inf} total" "$total" \
    "$(metric_value http_server_request_duration_seconds_bucket le=+Inf)"
assert_eq "http_server_request_body_size_bytes_sum{POST}" 300000 \
    "$(metric_value http_server_request_body_size_bytes_sum http_request_method=POST)"
assert_eq "http_server_request_body_size_bytes_sum{PUT}" 50000 \
    "$(metric_value http_server_request_body_size_bytes_sum http_request_method=PUT)"
assert_eq "http_server_response_body_size_bytes_count total" "$total" \
    "$(metric_value http_server_response_body_size_bytes_count)"
assert_ge "spyglass_events_read_total" 1 "$(metric_value spyglass_events_read_total)"
assert_eq "spyglass_events_lost_total series (ringbuf, loader_ipc, collector_ipc, collector_exit, collector_start, channel)" 6 \
    "$(metric_series spyglass_events_lost_total)"
assert_eq "spyglass_events_lost_total (all stages)" 0 "$(metric_value spyglass_events_lost_total)"
assert_eq "spyglass_spans_total" "$total" "$(metric_value spyglass_spans_total)"
for m in spyglass_bad_events_total spyglass_unparsed_bytes_total \
    spyglass_process_messages_lost_total spyglass_metric_series_dropped_total \
    spyglass_connections_evicted_total spyglass_responses_unpaired_total \
    spyglass_requests_dropped_total; do
	assert_eq "$m" 0 "$(metric_value $m)"
done
assert_eq "spyglass_requests_timed_out_total" 0 "$(metric_value spyglass_requests_timed_out_total)"
assert_ge "target_info{service_name=nginx}" 1 "$(metric_value target_info service_name=nginx)"

# ---- spans on stdout: printed as they come (line by line), checked in
# detail after the sensor stopped (everything flushed)
n=$(wait_spans "$total" kind=server service_name=nginx)
assert_eq "server spans printed before SIGTERM" "$total" "$n"
stop_sensor
for k in GET/200 GET/404 GET/503 POST/200 PUT/200 DELETE/200; do
	m=${k%/*} s=${k#*/}
	assert_eq "server spans method=$m status=$s" "${want[$k]}" \
	    "$(count_spans "$SENSOR_OUT" kind=server service_name=nginx operation="$m" status="$s")"
done
assert_count "nginx server spans" "$total" "$(count_spans "$SENSOR_OUT" kind=server)"
assert_eq "client spans" 0 "$(count_spans "$SENSOR_OUT" kind=client)"
assert_eq "spans for /missing" 300 "$(count_spans "$SENSOR_OUT" kind=server target=/missing)"
for loc in sf nosf; do
	assert_eq "spans for /$loc/big.bin" 1 "$(count_spans "$SENSOR_OUT" kind=server target=/$loc/big.bin)"
	assert_eq "response_body_size of /$loc/big.bin" 1048576 \
	    "$(span_field_values "$SENSOR_OUT" response_size target=/$loc/big.bin)"
done
assert_eq "request_body_size of POST spans" 1000 \
    "$(span_field_values "$SENSOR_OUT" request_size kind=server operation=POST)"
assert_eq "host_port of server spans" "$PORT" "$(span_field_values "$SENSOR_OUT" host_port kind=server)"
assert_eq "peer_addr of server spans" 127.0.0.1 "$(span_field_values "$SENSOR_OUT" peer_addr kind=server)"
assert_eq "service_namespace of server spans" "" "$(span_field_values "$SENSOR_OUT" service_namespace kind=server)"

# every span well formed: ids, times, protocol
bad=$("$PYTHON" - "$SENSOR_OUT" <<'EOF'
import json, re, sys
bad = []
for line in open(sys.argv[1], errors="replace"):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    why = []
    if not re.fullmatch(r"[0-9a-f]{32}", str(o.get("trace_id"))) or set(str(o.get("trace_id"))) == {"0"}:
        why.append("trace_id")
    if not re.fullmatch(r"[0-9a-f]{16}", str(o.get("span_id"))) or set(str(o.get("span_id"))) == {"0"}:
        why.append("span_id")
    try:
        s, e, d = int(o["start_unix_ns"]), int(o["end_unix_ns"]), int(o["duration_ns"])
        if not (s > 1.6e18 and e >= s and e - s == d):
            why.append("times")
    except (KeyError, ValueError, TypeError):
        why.append("times")
    if str(o.get("protocol_version")) not in ("1.1", "HTTP/1.1"):
        why.append("protocol_version")
    if o.get("scheme") != "http":
        why.append("scheme")
    if why:
        bad.append("%s: %s" % (",".join(why), line.strip()))
print(len(bad))
for b in bad[:5]:
    print(b, file=sys.stderr)
EOF
)
assert_eq "malformed spans" 0 "$bad"
test_done
