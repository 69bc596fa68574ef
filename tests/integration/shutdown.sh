#!/bin/bash
# A stop loses nothing: with OTLP metrics every 60 s and spans batched for
# 30 s, N requests and then SIGTERM within 2 s must still reach the
# receiver as exactly N spans and a last histogram count of N (the loader
# drains the ring buffer, the collector sends what it holds, the exporter
# flushes its batch and sends one last metric export, within
# shutdown_timeout).  And the runtime directory: a second sensor on it
# is refused, naming the first; after the stop no socket file is left.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss node
require_bpf
require_receiver
tmpdir_setup

PORT=$(free_port 18480)
PROM_PORT=$(free_port 19480)
HP=$(free_port 14318)
GP=$(free_port 14317)
URL=http://127.0.0.1:$PORT
N=300

nginx_start "$PORT"
receiver_start recv "$HP" "$GP"

# spans and the last count of http.server.request.duration received
COUNT_JS='
"use strict";
const fs = require("fs");
let spans = 0, metrics = 0;
const last = new Map();
let text = "";
try { text = fs.readFileSync(process.argv[1], "utf8"); } catch (e) { /* none yet */ }
for (const line of text.split("\n")) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.signal === "traces") {
    for (const rs of r.body.resourceSpans || [])
      for (const ss of rs.scopeSpans || []) spans += (ss.spans || []).length;
    continue;
  }
  metrics++;
  for (const rm of r.body.resourceMetrics || [])
    for (const sm of rm.scopeMetrics || [])
      for (const m of sm.metrics || []) {
        if (m.name !== "http.server.request.duration") continue;
        for (const dp of m.histogram.dataPoints || []) {
          const k = JSON.stringify(dp.attributes), t = BigInt(dp.timeUnixNano);
          const p = last.get(k);
          if (!p || t >= p.t) last.set(k, { t, c: Number(dp.count) });
        }
      }
}
let hist = 0;
for (const { c } of last.values()) hist += c;
console.log(spans + " " + hist + " " + metrics);
'

# ---- a sensor with long batching and a long metric interval
OTEL_METRIC_EXPORT_INTERVAL=60000 start_sensor -o discovery.open_port="$PORT" \
    -o otlp_endpoint="http://127.0.0.1:$HP" -o otlp_protocol=http/protobuf \
    -o otel_traces_export.batch_timeout=30s \
    -o otel_traces_export.batch_size=65536
wait_ready 1 || exit 1
RUN=$T/sensor1.run

# ---- the same runtime directory again: refused, the first one named
out=$("$SPYGLASS" -c "$SENSOR_INI" -o discovery.open_port="$PORT" \
    -o prometheus_export.port=0 2>&1)
rc=$?
assert_eq "a second sensor on the same runtime_dir: exit status" 1 "$rc"
assert_contains "a second sensor on the same runtime_dir" "$out" \
    "runtime_dir $RUN is in use by another spyglass (pid $SENSOR_PID)"
pid_alive "$SENSOR_PID" || fail "the first sensor died when the second started"

# ---- N requests, then SIGTERM at once
assert_eq "client: $N GET /ok" "200 $N" "$(http_many "$N" "$URL/ok")"
v=$(wait_metric "$N" http_server_request_duration_seconds_count)
log "counted before the stop: $v"
read -r spans hist metrics < <(node -e "$COUNT_JS" "$RECV_OUT")
log "before the stop the receiver has $spans spans and $metrics metric exports"
STOP_LIMIT_MS=6000 stop_sensor
read -r spans hist metrics < <(node -e "$COUNT_JS" "$RECV_OUT")
assert_count "spans at the receiver after the stop" "$N" "$spans"
assert_count "last histogram count at the receiver after the stop" "$N" "$hist"
assert_ge "metric exports at the receiver" 1 "$metrics"
assert_not_contains "the sensor's log" "$(cat "$SENSOR_ERR")" "not delivered"
assert_eq "socket files left in the runtime directory" "" \
    "$(find "$RUN" -name '*.sock' 2>/dev/null | tr '\n' ' ')"
assert_eq "lock file left in the runtime directory" "" \
    "$(find "$RUN" -name 'spyglass.lock' 2>/dev/null)"
test_done
