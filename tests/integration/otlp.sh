#!/bin/bash
# OTLP export against a real receiver (tests/otlp/receiver.js, which decodes
# every request with OpenTelemetry JS's protobuf code) and a real nginx:
#
#  1. OTLP/HTTP: 200 mixed requests (200/404/503) -> exactly 200 server
#     spans, unique ids, the right names, kinds, attributes and statuses;
#     the cumulative http.server.request.duration histogram counts 200;
#     the resource carries service.name and OTEL_RESOURCE_ATTRIBUTES.
#  2. OTLP/gRPC with OTEL_SERVICE_NAME, gzip and a custom header.
#  3. Receiver outage (HTTP 503, then gRPC UNAVAILABLE): everything sent
#     during the outage arrives exactly once afterwards, with retries and
#     without drops.
#  4. traceidratio sampler at 0.25 over 2000 requests: about a quarter of
#     the spans, each one under the ratio bound, metrics not thinned.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss node
require_bpf
require_receiver
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
URL=http://127.0.0.1:$PORT
N=200                       # requests per phase 1-3: 100 /ok, 60 /missing, 40 /busy
WANT_PATHS="/busy:503:40,/missing:404:60,/ok:200:100"
OUTAGE=10                   # seconds the receiver refuses requests in phase 3

nginx_start "$PORT"

# ---------------------------------------------------------------- analysis

# analyze FILE [SERVICE [HEADER=VALUE [RATIO]]]: what the receiver got,
# as KEY=VALUE lines (sets are sorted and comma-separated).  Spans are the
# server spans of the nginx resources; the histogram is the last data point
# of every series (cumulative: the last one holds everything).
# shellcheck disable=SC2016  # JavaScript, not shell
ANALYZE_JS='
"use strict";
const fs = require("fs");
const [file, svc = "nginx", hdr = "", ratio = "", port = ""] = process.argv.slice(1);
const out = {};
const set = (k, v) => { (out[k] = out[k] || new Set()).add(String(v)); };
const inc = (k, n = 1) => { out[k] = (out[k] || 0) + n; };
const attrs = (l) => {
  const o = {};
  for (const a of l || []) {
    const v = a.value || {};
    o[a.key] = "stringValue" in v ? v.stringValue : "intValue" in v ?
      Number(v.intValue) : JSON.stringify(v);
  }
  return o;
};
const hex = (b) => Buffer.from(b || "", "base64").toString("hex");
const why = [];
const bad = (k, msg) => { inc(k); if (why.length < 5) why.push(k + ": " + msg); };
for (const k of ["spans", "bad_ids", "bad_attrs", "bad_status", "error_spans",
  "bad_lines", "hdr_missing", "hist_count", "hist_bad_dp", "sampled_bad",
  "records_traces", "records_metrics"]) out[k] = 0;
const [hk, hv] = hdr.split("=");
const bound = ratio ? BigInt(Math.round(Number(ratio) * 2 ** 32)) << 32n : 0n;
const ids = new Set(), paths = {}, last = new Map();
let text = "";
try { text = fs.readFileSync(file, "utf8"); } catch (e) { /* none yet */ }
const lines = text.split("\n");
lines.forEach((line, i) => {
  if (!line) return;
  let r;
  try { r = JSON.parse(line); } catch (e) {
    if (i < lines.length - 1) inc("bad_lines");   /* else: being written */
    return;
  }
  inc("records_" + r.signal);
  set("transports", r.transport);
  if (hk && r.headers[hk] !== hv) bad("hdr_missing", JSON.stringify(r.headers));
  if (r.signal === "traces") {
    for (const rs of r.body.resourceSpans || []) {
      const res = attrs(rs.resource && rs.resource.attributes);
      set("span_services", res["service.name"]);
      set("span_env", res["deployment.environment"]);
      set("span_sdk", res["telemetry.sdk.name"]);
      set("span_exe_name", res["process.executable.name"]);
      set("span_exe_path", res["process.executable.path"]);
      set("span_pids", res["process.pid"]);
      set("span_host_set", res["host.name"] ? "yes" : "no");
      set("span_instance_set", res["service.instance.id"] ? "yes" : "no");
      for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) {
        inc("spans");
        set("kinds", s.kind);
        set("names", s.name);
        const tid = hex(s.traceId), sid = hex(s.spanId);
        if (!/^[0-9a-f]{32}$/.test(tid) || /^0+$/.test(tid) ||
            !/^[0-9a-f]{16}$/.test(sid) || /^0+$/.test(sid))
          bad("bad_ids", tid + "/" + sid);
        ids.add(sid);
        if (ratio && BigInt("0x" + (tid.slice(16) || "0")) >= bound)
          bad("sampled_bad", tid);
        const a = attrs(s.attributes);
        const st = a["http.response.status_code"];
        const k = a["url.path"] + ":" + st;
        paths[k] = (paths[k] || 0) + 1;
        const t0 = BigInt(s.startTimeUnixNano || 0), t1 = BigInt(s.endTimeUnixNano || 0);
        if (a["http.request.method"] !== "GET" || typeof st !== "number" ||
            a["url.scheme"] !== "http" || a["server.address"] !== "127.0.0.1" ||
            a["client.address"] !== "127.0.0.1" ||
            a["network.protocol.version"] !== "1.1" ||
            (port && a["server.port"] !== Number(port)) ||
            t0 < 1600000000000000000n || t1 < t0)
          bad("bad_attrs", JSON.stringify(s));
        const err = s.status && s.status.code === "STATUS_CODE_ERROR";
        if (err) inc("error_spans");
        if (err !== (st >= 500)) bad("bad_status", JSON.stringify(s));
      }
    }
  } else {
    for (const rm of r.body.resourceMetrics || []) {
      const res = attrs(rm.resource && rm.resource.attributes);
      for (const sm of rm.scopeMetrics || []) for (const m of sm.metrics || []) {
        if (m.name !== "http.server.request.duration") continue;
        set("metric_services", res["service.name"]);
        set("metric_env", res["deployment.environment"]);
        set("hist_units", m.unit);
        const h = m.histogram || {};
        set("hist_temporality", h.aggregationTemporality);
        for (const dp of h.dataPoints || []) {
          const key = JSON.stringify([res, dp.attributes]);
          const t = BigInt(dp.timeUnixNano || 0), prev = last.get(key);
          if (!prev || t >= prev.t) last.set(key, { t, dp });
        }
      }
    }
  }
});
const byStatus = {};
for (const { dp } of last.values()) {
  const c = Number(dp.count);
  inc("hist_count", c);
  const st = attrs(dp.attributes)["http.response.status_code"];
  byStatus[st] = (byStatus[st] || 0) + c;
  const b = (dp.bucketCounts || []).reduce((x, y) => x + Number(y), 0);
  if (b !== c || !(dp.sum > 0) || attrs(dp.attributes)["http.request.method"] !== "GET")
    bad("hist_bad_dp", JSON.stringify(dp));
}
out.unique_span_ids = ids.size;
out.by_path = Object.keys(paths).sort().map((k) => k + ":" + paths[k]).join(",");
out.hist_by_status = Object.keys(byStatus).sort().map((k) => k + ":" + byStatus[k]).join(",");
for (const [k, v] of Object.entries(out))
  console.log(k + "=" + (v instanceof Set ? [...v].sort().join(",") : v));
for (const w of why) console.error("analyze: " + w.slice(0, 600));
'
declare -A R=()
analyze() {
	local k v
	R=()
	while IFS='=' read -r k v; do
		R[$k]=$v
	done < <(node -e "$ANALYZE_JS" "$@" 2> "$T/analyze.err")
	[ -s "$T/analyze.err" ] && sed 's/^/    | /' "$T/analyze.err" | head -n 10
	return 0
}

# wait_received SECONDS SPANS HIST ARGS...: poll the receiver's file until
# it holds >= SPANS spans and the histogram counts >= HIST.
wait_received() {
	local secs=$1 want_spans=$2 want_hist=$3 deadline
	shift 3
	deadline=$(( $(date +%s%3N) + secs * 1000 ))
	while :; do
		analyze "$@"
		[ "${R[spans]:-0}" -ge "$want_spans" ] &&
		    [ "${R[hist_count]:-0}" -ge "$want_hist" ] && return 0
		[ "$(date +%s%3N)" -lt "$deadline" ] || break
		sleep 0.3
	done
	log "after ${secs} s the receiver has ${R[spans]:-0} spans, histogram count ${R[hist_count]:-0}"
	return 1
}

# the common checks of phases 1-3 on R (the final analysis)
check_common() {   # what SERVICE
	local w=$1 svc=$2
	assert_eq "$w: spans received" "$N" "${R[spans]}"
	assert_eq "$w: distinct span ids" "$N" "${R[unique_span_ids]}"
	assert_eq "$w: spans by url.path:status" "$WANT_PATHS" "${R[by_path]}"
	assert_eq "$w: span kinds" SPAN_KIND_SERVER "${R[kinds]}"
	# the heuristic's routes ([routes] unmatched = heuristic)
	assert_eq "$w: span names" "GET /busy,GET /missing,GET /ok" "${R[names]}"
	assert_eq "$w: spans with malformed trace/span ids" 0 "${R[bad_ids]}"
	assert_eq "$w: spans with wrong attributes or times" 0 "${R[bad_attrs]}"
	assert_eq "$w: spans with status ERROR" 40 "${R[error_spans]}"
	assert_eq "$w: spans whose ERROR status disagrees with 5xx" 0 "${R[bad_status]}"
	assert_eq "$w: service.name of the span resources" "$svc" "${R[span_services]}"
	assert_eq "$w: histogram count (last data point of each series)" "$N" "${R[hist_count]}"
	assert_eq "$w: histogram count by status" "200:100,404:60,503:40" "${R[hist_by_status]}"
	assert_eq "$w: malformed histogram data points" 0 "${R[hist_bad_dp]}"
	assert_eq "$w: histogram unit" s "${R[hist_units]}"
	assert_eq "$w: histogram temporality" AGGREGATION_TEMPORALITY_CUMULATIVE "${R[hist_temporality]}"
	assert_eq "$w: service.name of the histogram resources" "$svc" "${R[metric_services]}"
	assert_eq "$w: unparsable receiver lines" 0 "${R[bad_lines]}"
}

send_mix() {   # N requests: 100 /ok, 60 /missing, 40 /busy (keep-alive)
	assert_eq "client: 100 GET /ok" "200 100" "$(http_many 100 "$URL/ok")"
	assert_eq "client: 60 GET /missing" "404 60" "$(http_many 60 "$URL/missing")"
	assert_eq "client: 40 GET /busy" "503 40" "$(http_many 40 "$URL/busy")"
}

# settle_otlp: after everything arrived, long enough for duplicates to show
# (span batches: 200 ms, metrics: every second), then scrape.
settle_otlp() {
	local n=10
	sleep 1.5
	until scrape; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { fail "/metrics does not answer"; return 1; }
		sleep 0.2
	done
}

check_exporter_counters() {   # what SPANS
	assert_eq "$1: spyglass_otlp_sent_items_total{traces}" "$2" \
	    "$(metric_value spyglass_otlp_sent_items_total signal=traces)"
	assert_ge "$1: spyglass_otlp_sent_items_total{metrics}" 1 \
	    "$(metric_value spyglass_otlp_sent_items_total signal=metrics)"
	assert_eq "$1: spyglass_otlp_dropped_items_total" 0 \
	    "$(metric_value spyglass_otlp_dropped_items_total)"
	assert_eq "$1: spyglass_otlp_queued_items{traces}" 0 \
	    "$(metric_value spyglass_otlp_queued_items signal=traces)"
	assert_eq "$1: spyglass_child_restarts_total" 0 \
	    "$(metric_value spyglass_child_restarts_total)"
}

# wire_sizes FILE: "requests=N compressed=C same_size=S", comparing each
# request's content-length as received with the length of its decoded
# message encoded again (+5 for the gRPC frame header): smaller means
# compressed, equal means sent uncompressed and canonically encoded.
# shellcheck disable=SC2016  # JavaScript
WIRE_JS='
const fs = require("fs");
const root = require(process.argv[1] +
  "/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root");
const pb = root.opentelemetry.proto.collector;
const T = { traces: pb.trace.v1.ExportTraceServiceRequest,
  metrics: pb.metrics.v1.ExportMetricsServiceRequest };
let n = 0, smaller = 0, same = 0;
for (const l of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
  if (!l) continue;
  const r = JSON.parse(l), M = T[r.signal];
  const raw = M.encode(M.fromObject(r.body)).finish().length +
    (r.transport === "grpc" ? 5 : 0);
  const sent = Number(r.headers["content-length"]);
  n++;
  if (sent < raw) smaller++;
  if (sent === raw) same++;
}
console.log("requests=" + n + " compressed=" + smaller + " same_size=" + same);
'
wire_sizes() { node -e "$WIRE_JS" "$RECEIVER_DIR" "$1"; }

COMMON_ENV=(OTEL_METRIC_EXPORT_INTERVAL=1000)
COMMON_OPTS=(-o discovery.open_port="$PORT" -o otel_traces_export.batch_timeout=200ms)
WORKER=$(children_of "$NGINX_PID")

# ================================================================ 1. OTLP/HTTP
log "==== 1. OTLP/HTTP"
HP=$(free_port 18471)
GP=$(free_port 18472)
receiver_start recv-http "$HP" "$GP"
start_sensor -n sensor-http -w env "${COMMON_ENV[@]}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$HP" \
    OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test -- "${COMMON_OPTS[@]}"
wait_ready 1 || exit 1
send_mix
wait_received 15 "$N" "$N" "$RECV_OUT" nginx "" "" "$PORT" ||
    fail "http: not everything arrived"
settle_otlp
check_exporter_counters http "$N"
assert_eq "http: spyglass_otlp_retries_total" 0 "$(metric_value spyglass_otlp_retries_total)"
stop_sensor
analyze "$RECV_OUT" nginx "" "" "$PORT"
check_common http nginx
assert_eq "http: transports" http "${R[transports]}"
assert_eq "http: deployment.environment of the span resources" test "${R[span_env]}"
assert_eq "http: deployment.environment of the histogram resources" test "${R[metric_env]}"
assert_eq "http: telemetry.sdk.name" spyglass "${R[span_sdk]}"
assert_eq "http: process.executable.name" nginx "${R[span_exe_name]}"
assert_eq "http: process.executable.path" "$(readlink -f "$(command -v nginx)")" "${R[span_exe_path]}"
assert_eq "http: process.pid of the span resources (the nginx worker)" "$WORKER" "${R[span_pids]}"
assert_eq "http: host.name and service.instance.id set" yes,yes \
    "${R[span_host_set]},${R[span_instance_set]}"
content_types=$(node -e '
const s = new Set();
for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n"))
  if (l) s.add(JSON.parse(l).headers["content-type"]);
console.log([...s].sort().join(","));' "$RECV_OUT")
assert_eq "http: content-type of the requests" application/x-protobuf "$content_types"
w=$(wire_sizes "$RECV_OUT")
n=${w%% *}; n=${n#requests=}
# every body is exactly as long as the decoded message encoded again
assert_eq "http: request body sizes (uncompressed, canonical)" \
    "requests=$n compressed=0 same_size=$n" "$w"
kill_pid "$RECV_PID"

# ================================================================ 2. OTLP/gRPC
log "==== 2. OTLP/gRPC, gzip, OTEL_SERVICE_NAME, a header"
receiver_start recv-grpc "$HP" "$GP"
start_sensor -n sensor-grpc -w env "${COMMON_ENV[@]}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$GP" \
    OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
    OTEL_EXPORTER_OTLP_HEADERS=x-test=abc OTEL_SERVICE_NAME=sgtest-svc \
    -- "${COMMON_OPTS[@]}"
wait_ready 1 || exit 1
send_mix
wait_received 15 "$N" "$N" "$RECV_OUT" sgtest-svc x-test=abc "" "$PORT" ||
    fail "grpc: not everything arrived"
settle_otlp
check_exporter_counters grpc "$N"
assert_eq "grpc: spyglass_otlp_retries_total" 0 "$(metric_value spyglass_otlp_retries_total)"
stop_sensor
analyze "$RECV_OUT" sgtest-svc x-test=abc "" "$PORT"
check_common grpc sgtest-svc
assert_eq "grpc: transports" grpc "${R[transports]}"
assert_ge "grpc: trace requests" 1 "${R[records_traces]}"
assert_ge "grpc: metric requests" 1 "${R[records_metrics]}"
assert_eq "grpc: requests without x-test: abc" 0 "${R[hdr_missing]}"
# grpc-js hides grpc-encoding; the HTTP/2 content-length shows gzip
w=$(wire_sizes "$RECV_OUT")
n=${w%% *}; n=${n#requests=}
assert_eq "grpc: requests smaller on the wire than their message (gzip)" \
    "requests=$n compressed=$n same_size=0" "$w"
kill_pid "$RECV_PID"

# ================================================================ 3. outage
# outage NAME PROTO PORT TRANSPORT RECEIVER_ARGS...: the receiver refuses
# everything for $OUTAGE s from its start; the sensor starts, N requests are made and
# counted as retried while the receiver still refuses; once it accepts,
# every span arrives exactly once.
outage() {
	local w=$1 proto=$2 ep=$3 transport=$4 left v
	shift 4
	receiver_start "recv-$w" "$HP" "$GP" --fail-for "$OUTAGE" "$@"
	start_sensor -n "sensor-$w" -w env "${COMMON_ENV[@]}" \
	    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$ep" \
	    ${proto:+OTEL_EXPORTER_OTLP_PROTOCOL=$proto} -- "${COMMON_OPTS[@]}"
	wait_ready 1 || return 1
	send_mix
	v=$(WAIT_METRIC_TRIES=25 wait_metric 1 spyglass_otlp_retries_total signal=traces)
	scrape     # wait_metric scraped in a subshell
	left=$(( RECV_T0 + OUTAGE * 1000 - $(date +%s%3N) ))
	if [ "$left" -gt 500 ]; then
		assert_ge "$w: spyglass_otlp_retries_total{traces} during the outage" 1 "$v"
		assert_ge "$w: spyglass_otlp_queued_items{traces} during the outage" 1 \
		    "$(metric_value spyglass_otlp_queued_items signal=traces)"
		# shellcheck disable=SC2002  # the file may not exist yet
		assert_eq "$w: requests recorded by the receiver during the outage" 0 \
		    "$(cat "$RECV_OUT" 2>/dev/null | wc -l)"
	else
		fail "$w: the outage ended (${left} ms) before the test could look at it"
	fi
	# backoff is capped at 5 s (Retry-After: 1 for HTTP)
	wait_received $((OUTAGE + 15)) "$N" "$N" "$RECV_OUT" nginx "" "" "$PORT" ||
	    fail "$w: not everything arrived after the outage"
	log "$w: everything arrived $(( $(date +%s%3N) - RECV_T0 - OUTAGE * 1000 )) ms after the outage"
	settle_otlp
	check_exporter_counters "$w" "$N"
	assert_ge "$w: spyglass_otlp_retries_total{traces}" 1 \
	    "$(metric_value spyglass_otlp_retries_total signal=traces)"
	assert_ge "$w: spyglass_otlp_retries_total{metrics}" 1 \
	    "$(metric_value spyglass_otlp_retries_total signal=metrics)"
	stop_sensor
	analyze "$RECV_OUT" nginx "" "" "$PORT"
	check_common "$w" nginx
	assert_eq "$w: transports" "$transport" "${R[transports]}"
	kill_pid "$RECV_PID"
}

log "==== 3a. outage: OTLP/HTTP 503 for $OUTAGE s"
outage outage-http "" "$HP" http
log "==== 3b. outage: OTLP/gRPC UNAVAILABLE for $OUTAGE s"
# a port ending in 4317 selects gRPC by itself
if ! port_in_use 24317; then
	GP=24317
	outage outage-grpc "" "$GP" grpc --fail-code 14
else
	outage outage-grpc grpc "$GP" grpc --fail-code 14
fi

# ================================================================ 4. sampler
log "==== 4. traceidratio 0.25 over 2000 requests"
NS=2000
receiver_start recv-sampler "$HP" "$GP"
start_sensor -n sensor-sampler -w env "${COMMON_ENV[@]}" \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$HP" \
    OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.25 \
    -- "${COMMON_OPTS[@]}"
wait_ready 1 || exit 1
if command -v h2load >/dev/null 2>&1; then
	h2out=$(h2load --h1 -n "$NS" -c 4 "$URL/ok" 2>&1)
	assert_contains "h2load ($NS GET /ok over 4 connections)" "$h2out" \
	    "requests: $NS total, $NS started, $NS done, $NS succeeded"
else
	assert_eq "client: $NS GET /ok" "200 $NS" "$(curl -s --max-time 60 \
	    -w '%{stderr}%{http_code}\n' "$URL/ok?[1-$NS]" 2>&1 >/dev/null |
	    sort | uniq -c | awk '{ print $2, $1 }')"
fi
wait_received 15 0 "$NS" "$RECV_OUT" nginx "" 0.25 ||
    fail "sampler: histogram incomplete"
# spans: every one sampled in or counted as sampled out
deadline=$(( $(date +%s%3N) + 10000 ))
while :; do
	scrape
	sent=$(metric_value spyglass_otlp_sent_items_total signal=traces)
	unsampled=$(metric_value spyglass_spans_unsampled_total)
	[ $((${sent%.*} + ${unsampled%.*})) -ge "$NS" ] && break
	[ "$(date +%s%3N)" -lt "$deadline" ] || break
	sleep 0.2
done
settle_otlp
sent=$(metric_value spyglass_otlp_sent_items_total signal=traces)
unsampled=$(metric_value spyglass_spans_unsampled_total)
assert_eq "sampler: spyglass_spans_total" "$NS" "$(metric_value spyglass_spans_total)"
assert_eq "sampler: sent + unsampled spans" "$NS" $((${sent%.*} + ${unsampled%.*}))
assert_eq "sampler: spyglass_otlp_dropped_items_total" 0 \
    "$(metric_value spyglass_otlp_dropped_items_total)"
stop_sensor
analyze "$RECV_OUT" nginx "" 0.25 "$PORT"
# 0.25 * 2000 = 500, sigma = sqrt(2000 * 0.25 * 0.75) = 19.4; +-70 is 3.6 sigma
if [ "${R[spans]}" -ge 430 ] && [ "${R[spans]}" -le 570 ]; then
	ok "sampler: spans received = ${R[spans]} (430..570)"
else
	fail "sampler: spans received: expected 430..570, got ${R[spans]}"
fi
assert_eq "sampler: spans received = spyglass_otlp_sent_items_total{traces}" "${sent%.*}" "${R[spans]}"
assert_eq "sampler: distinct span ids" "${R[spans]}" "${R[unique_span_ids]}"
assert_eq "sampler: spans whose trace id is above the 0.25 bound" 0 "${R[sampled_bad]}"
assert_eq "sampler: spans with wrong attributes or times" 0 "${R[bad_attrs]}"
assert_eq "sampler: histogram count (not thinned)" "$NS" "${R[hist_count]}"
assert_eq "sampler: histogram count by status" "200:$NS" "${R[hist_by_status]}"
kill_pid "$RECV_PID"

test_done
