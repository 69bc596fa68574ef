#!/bin/bash
# Series of exited processes expire.  1,000 short-lived clients, each a
# process of its own (a copy of curl under a name only this test uses,
# selected by executable_name), make one request each to nginx: each adds
# a target_instance, so a set of http_client_* series and a target_info.
# Their counts are exact; then, past the ttl ([prometheus_export] ttl and
# [otel_metrics_export] ttl, short here), the http_client_* and
# target_info series are back to what they were before the clients, and
# so is the exporter's resident memory.  With the OTLP test receiver
# (tests/otlp, npm ci), the clients' resources are sent over OTLP while
# they run and no longer past the ttl.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss xargs
require_bpf
tmpdir_setup

N=${SERIES_TTL_CLIENTS:-1000}
TTL=${SERIES_TTL_S:-3}            # seconds, both exports
PAR=8                             # clients at a time
RSS_MARGIN_KB=1024                # what "back to the baseline" allows

PORT=$(free_port 18490)
PROM_PORT=$(free_port 19490)
nginx_start "$PORT"

CLIENT=$T/sgttl_client_$$
cp "$(readlink -f "$(command -v curl)")" "$CLIENT" || die "cannot copy curl"
SVC=$(basename "$CLIENT")
M=http_client_request_duration_seconds_count

# The metrics requests the receiver got, as "REQUESTS MOST LAST BAD": the
# most resources of service $2 one request had, how many the last one
# had, and how many of their client data points did not count 1.
# shellcheck disable=SC2016  # JavaScript, not shell
OTLP_JS='
"use strict";
const [file, svc] = process.argv.slice(1);
let n = 0, most = 0, last = 0, bad = 0;
for (const l of require("fs").readFileSync(file, "utf8").split("\n")) {
  if (!l) continue;
  const r = JSON.parse(l);
  if (r.signal !== "metrics") continue;
  let c = 0;
  for (const rm of r.body.resourceMetrics || []) {
    const a = (rm.resource.attributes || []).find((x) => x.key === "service.name");
    if (!a || a.value.stringValue !== svc) continue;
    c++;
    for (const sm of rm.scopeMetrics || [])
      for (const m of sm.metrics || [])
        if (m.name === "http.client.request.duration")
          for (const dp of m.histogram.dataPoints)
            if (Number(dp.count) !== 1) bad++;
  }
  n++;
  most = Math.max(most, c);
  last = c;
}
console.log(n + " " + most + " " + last + " " + bad);
'
otlp_requests() { node -e "$OTLP_JS" "$RECV_OUT" "$SVC"; }

# http_client_* series (one _count line per series) and target_info
# series in the last scrape.
client_series() {
	printf '%s\n' "$SCRAPE" | grep -cE '^http_client_[a-z_]+_count\{'
}
rss_kb() {   # PID: resident memory, kB
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
# A few scrapes, so that the exporter has rendered and sent the text it
# serves before its memory is read.
scrapes() {
	local i
	for i in 1 2 3; do scrape || return 1; sleep 0.4; done
}

OTLP_OPTS=()
if command -v node >/dev/null 2>&1 &&
    [ -d "$RECEIVER_DIR/node_modules/@opentelemetry/otlp-transformer" ]; then
	HP=$(free_port 18491)
	GP=$(free_port 18492)
	receiver_start recv "$HP" "$GP"
	OTLP_OPTS=(-o otel_metrics_export.endpoint="http://127.0.0.1:$HP/v1/metrics"
	    -o otel_metrics_export.interval=1s)
else
	log "no OTLP test receiver (cd tests/otlp && npm ci): OTLP not checked"
fi
start_sensor -o discovery.executable_name="/$SVC\$" \
    -o prometheus_export.ttl="${TTL}s" -o otel_metrics_export.ttl="${TTL}s" \
    "${OTLP_OPTS[@]}"
wait_ready 0 || exit 1
wait_children || { fail "the sensor's children did not start"; exit 1; }
EXP=$(sensor_child spyglass-exporter)
COL=$(sensor_child spyglass-collector)

settle
scrapes || fail "/metrics does not answer"
base_series=$(client_series)
base_ti=$(metric_series target_info)
base_spans=$(metric_value spyglass_spans_total)
base_noresp=$(metric_value spyglass_requests_timed_out_total)
base_rss=$(rss_kb "$EXP")
base_col_rss=$(rss_kb "$COL")
log "before: $base_series http_client_* series, $base_ti target_info," \
    "exporter VmRSS $base_rss kB, collector VmRSS $base_col_rss kB"

# One request per process, PAR processes at a time.
t0=$(date +%s%3N)
yes "http://127.0.0.1:$PORT/ok" | head -n "$N" |
    xargs -P "$PAR" -n 1 "$CLIENT" -sf -o /dev/null -m 10 &
XARGS_PID=$!
track "$XARGS_PID"
max_series=0
max_ti=0
max_rss=0
max_col_rss=0
while pid_alive "$XARGS_PID" && [ "$(proc_state "$XARGS_PID")" != Z ]; do
	if scrape; then
		s=$(client_series)
		ti=$(metric_series target_info)
		[ "$s" -gt "$max_series" ] && max_series=$s
		[ "$ti" -gt "$max_ti" ] && max_ti=$ti
	fi
	r=$(rss_kb "$EXP")
	[ "$r" -gt "$max_rss" ] && max_rss=$r
	r=$(rss_kb "$COL")
	[ "$r" -gt "$max_col_rss" ] && max_col_rss=$r
	sleep 0.5
done
wait "$XARGS_PID"
assert_eq "clients' exit status (xargs)" 0 $?
t1=$(date +%s%3N)
log "$N clients in $((t1 - t0)) ms; most seen while they ran:" \
    "$max_series http_client_* series, $max_ti target_info," \
    "exporter VmRSS $max_rss kB, collector VmRSS $max_col_rss kB"

# What the last clients left: one series per process and family, one
# request each, all of the clients' service.
scrape || fail "/metrics does not answer"
log "right after: $(client_series) http_client_* series," \
    "$(metric_series target_info) target_info"
if [ "$max_series" -gt "$base_series" ] && [ "$max_ti" -gt "$base_ti" ]; then
	ok "the clients' series appeared while they ran"
else
	fail "no client series seen while the clients ran"
fi
assert_eq "requests in the series left (one per series)" \
    "$(metric_series $M)" "$(metric_value $M service_name="$SVC")"
assert_eq "http_client_* series left (three per process)" \
    "$(( $(metric_series $M) * 3 ))" "$(client_series)"
assert_eq "service_name of the client series" "$SVC" \
    "$(label_values $M service_name)"

# Every request counted once, in spyglass_spans_total, which never
# expires (or, when the sensor saw no response, as timed out).  A few
# requests in a thousand of such short-lived processes go unseen here,
# with or without a ttl: that loss predates this test, which only makes
# sure it stays rare and that nothing is counted twice.
n=50
while :; do
	scrape || fail "/metrics does not answer"
	counted=$(( $(metric_value spyglass_spans_total) - base_spans ))
	noresp=$(( $(metric_value spyglass_requests_timed_out_total) - base_noresp ))
	[ $((counted + noresp)) -ge "$N" ] && break
	n=$((n - 1))
	[ "$n" -gt 0 ] || break
	sleep 0.2
done
log "COUNT: client requests counted $N $counted"
log "requests without a response: $noresp, unseen: $((N - counted - noresp))"
assert_ge "client requests counted" $((N - N / 100)) "$counted"
if [ $((counted + noresp)) -le "$N" ]; then
	ok "no request counted twice"
else
	fail "$counted requests counted and $noresp without a response, of $N"
fi
assert_eq "spyglass_metric_series_dropped_total" 0 \
    "$(metric_value spyglass_metric_series_dropped_total)"

# Past the ttl: back to the baseline.
n=$(( (TTL + 10) * 5 ))
while [ "$n" -gt 0 ]; do
	scrape && [ "$(client_series)" -le "$base_series" ] &&
	    [ "$(metric_series target_info)" -le "$base_ti" ] && break
	sleep 0.2
	n=$((n - 1))
done
t2=$(date +%s%3N)
log "series back $((t2 - t1)) ms after the clients were seen done (ttl ${TTL}s)"
if [ ${#OTLP_OPTS[@]} -gt 0 ]; then
	# Two more exports, both past the ttl.
	read -r r0 _ < <(otlp_requests)
	n=50
	while read -r r most last bad < <(otlp_requests) &&
	    [ "$r" -lt $((r0 + 2)) ] && [ "$n" -gt 0 ]; do
		sleep 0.2
		n=$((n - 1))
	done
	log "OTLP: $r metrics requests; the clients' resources: at most $most" \
	    "in one, $last in the last"
	assert_ge "OTLP: the clients' resources sent while they ran" 1 "$most"
	assert_eq "OTLP: the clients' resources sent past the ttl" 0 "$last"
	assert_eq "OTLP: client data points not counting 1" 0 "$bad"
fi
scrapes || fail "/metrics does not answer"
assert_count "http_client_* series after the ttl" "$base_series" "$(client_series)"
assert_count "target_info series after the ttl" "$base_ti" "$(metric_series target_info)"
after_rss=$(rss_kb "$EXP")
after_col_rss=$(rss_kb "$COL")
log "after: exporter VmRSS $after_rss kB (before $base_rss, most" \
    "$max_rss), collector VmRSS $after_col_rss kB (before" \
    "$base_col_rss, most $max_col_rss)"
if [ "$after_rss" -le $((base_rss + RSS_MARGIN_KB)) ]; then
	ok "exporter VmRSS $after_rss kB within $RSS_MARGIN_KB kB of $base_rss kB"
else
	fail "exporter VmRSS $after_rss kB, more than $RSS_MARGIN_KB kB above $base_rss kB"
fi
assert_eq "exporter and collector not restarted" \
    "$EXP $COL" "$(sensor_child spyglass-exporter) $(sensor_child spyglass-collector)"
if grep -q "reached its limit" "$SENSOR_ERR"; then
	fail "a metric family reached its series limit: $(grep -m1 'reached its limit' "$SENSOR_ERR")"
else
	ok "no metric family reached its series limit"
fi

stop_sensor
test_done
