#!/bin/bash
# [attributes.select.*] and [filter.application.*] with nginx: the label
# set of the server duration changes on /metrics and on OTLP alike
# (url_path and client_address on, server_* and target_instance off), the
# body size families keep the defaults; health checks are filtered out
# before they are counted or traced, and counted as filtered;
# [attributes.instance_id] override_hostname names the instances.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl node
require_bpf
require_receiver
tmpdir_setup

PORT=$(free_port 18500)
HP=$(free_port $((PORT + 1)))
GP=$(free_port $((HP + 1)))
PROM_PORT=$(free_port 19500)
NGINX_SERVER_EXTRA='location = /health { return 200 "h\n"; }' nginx_start "$PORT"
receiver_start recv "$HP" "$GP"
M=http_server_request_duration_seconds_count

SENSOR_INI_EXTRA="[attributes.select.http_server_request_duration]
include = *
exclude = server.*, target_instance

[filter.application.url_path]
not_match = /health*

[attributes.instance_id]
override_hostname = sgtest-host

[otel_metrics_export]
interval = 1s
"
start_sensor -o discovery.open_port="$PORT" -o trace_printer=json \
    -o otlp_endpoint="http://127.0.0.1:$HP"
wait_ready 1 || exit 1
assert_eq "client: 12 GET /ok" "200 12" "$(http_many 12 "http://127.0.0.1:$PORT/ok")"
assert_eq "client: 4 GET /missing" "404 4" "$(http_many 4 "http://127.0.0.1:$PORT/missing")"
assert_eq "client: 5 GET /health" "200 5" "$(http_many 5 "http://127.0.0.1:$PORT/health")"
v=$(wait_metric 16 $M)
# the /health calls came last: their count is the one to wait for
v=$(wait_metric 5 spyglass_requests_filtered_total)
settle
assert_count "$M (health checks filtered)" 16 "$(metric_value $M)"
assert_eq "$M{url_path=/ok}" 12 "$(metric_value $M url_path=/ok client_address=127.0.0.1)"
assert_eq "$M{url_path=/missing}" 4 "$(metric_value $M url_path=/missing)"
assert_eq "$M labels" \
    "client_address http_request_method http_response_status_code http_route service_name service_namespace url_path url_scheme" \
    "$(printf '%s\n' "$SCRAPE" | grep "^$M{" | head -n 1 | sed 's/^[^{]*{//; s/}.*//' |
        tr ',' '\n' | cut -d= -f1 | sort | xargs)"
assert_eq "server_address on the duration" 0 "$(printf '%s\n' "$SCRAPE" | grep "^$M{" | grep -c server_address)"
assert_ge "server_address on the body sizes (defaults)" 1 \
    "$(printf '%s\n' "$SCRAPE" | grep "^http_server_response_body_size_bytes_count{" | grep -c 'server_address="127.0.0.1"')"
assert_eq "spyglass_requests_filtered_total" 5 "$(metric_value spyglass_requests_filtered_total)"
assert_eq "target_info{target_instance} host part" 2 \
    "$(printf '%s\n' "$SCRAPE" | grep '^target_info{' | grep -c 'target_instance="sgtest-host:')"
n=$(wait_spans 16 kind=server)
stop_sensor
assert_count "server spans (health checks filtered)" 16 "$(count_spans "$SENSOR_OUT" kind=server)"
assert_eq "spans of /health" 0 "$(count_spans "$SENSOR_OUT" target=/health)"

# the same label set over OTLP
got=$(node -e '
const fs = require("fs");
const seen = new Set();
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.signal !== "metrics") continue;
  for (const rm of r.body.resourceMetrics || [])
    for (const sm of rm.scopeMetrics || [])
      for (const m of sm.metrics || []) {
        if (m.name !== "http.server.request.duration") continue;
        for (const dp of (m.histogram || {}).dataPoints || [])
          seen.add((dp.attributes || []).map(a => a.key).sort().join(" "));
      }
}
console.log([...seen].join("|"));' "$RECV_OUT")
assert_eq "OTLP http.server.request.duration attributes" \
    "client.address http.request.method http.response.status_code http.route url.path url.scheme" "$got"
test_done
