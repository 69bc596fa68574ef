#!/bin/bash
# OTEL_EXPORTER_OTLP_PROTOCOL=http/json: spans and metrics go as OTLP JSON
# (Content-Type application/json, hex ids), which the receiver decodes
# into the same messages as protobuf: every span arrives, with its ids,
# and the histograms count every request.  A caller's traceparent and
# tracestate arrive as the span's parentSpanId and traceState.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl node
require_bpf
require_receiver
tmpdir_setup

PORT=$(free_port 18510)
HP=$(free_port $((PORT + 1)))
GP=$(free_port $((HP + 1)))
PROM_PORT=$(free_port 19510)
nginx_start "$PORT"
receiver_start recv "$HP" "$GP"

SENSOR_INI_EXTRA="[otel_traces_export]
batch_timeout = 200ms

[otel_metrics_export]
interval = 1s
"
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$HP" OTEL_EXPORTER_OTLP_PROTOCOL=http/json \
    start_sensor -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
assert_eq "client: 20 GET /ok" "200 20" "$(http_many 20 "http://127.0.0.1:$PORT/ok")"
assert_eq "client: 5 GET /missing" "404 5" "$(http_many 5 "http://127.0.0.1:$PORT/missing")"
TS="congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
TP="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
for _ in 1 2 3; do
	curl -s -o /dev/null -H "traceparent: $TP" -H "tracestate: $TS" \
	    "http://127.0.0.1:$PORT/ok"
done

summary() {
	node -e '
const fs = require("fs");
let spans = 0, ids = 0, hist = 0, json = 0, other = 0, ctype = 0, state = 0;
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.transport === "http/json") json++; else other++;
  if (/application\/json/.test(r.headers["content-type"] || "")) ctype++;
  if (r.signal === "traces")
    for (const rs of r.body.resourceSpans || [])
      for (const ss of rs.scopeSpans || [])
        for (const s of ss.spans || []) {
          spans++;
          if (Buffer.from(s.traceId, "base64").length === 16 &&
              Buffer.from(s.spanId, "base64").length === 8) ids++;
          if (s.traceState === process.argv[2] &&
              Buffer.from(s.parentSpanId || "", "base64").toString("hex") ===
              "00f067aa0ba902b7") state++;
        }
  if (r.signal === "metrics") {
    let n = 0;
    for (const rm of r.body.resourceMetrics || [])
      for (const sm of rm.scopeMetrics || [])
        for (const m of sm.metrics || [])
          if (m.name === "http.server.request.duration")
            for (const dp of m.histogram.dataPoints) n += Number(dp.count);
    hist = n;   /* cumulative: the last one */
  }
}
console.log(spans, ids, hist, json > 0 && other === 0 && ctype === json ? "json" : "not-json",
  state);' "$RECV_OUT" "$TS"
}
for _ in $(seq 1 60); do
	read -r spans _ hist _ <<< "$(summary)"
	[ "${spans:-0}" -ge 28 ] && [ "${hist:-0}" -ge 28 ] && break
	sleep 0.25
done
stop_sensor
assert_eq "spans, spans with 16/8-byte ids, histogram count, encoding, with the tracestate" \
    "28 28 28 json 3" "$(summary)"
test_done
