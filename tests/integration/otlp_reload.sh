#!/bin/bash
# libcurl only for OTLP.  Without an OTLP endpoint the exporter is started
# without -O: no libcurl mapped, peak RSS under 6 MiB.  A reload (SIGHUP)
# that adds an endpoint restarts the exporter with -O (not counted as a
# crash restart), /metrics keeps answering, and the spans of new requests
# reach tests/otlp/receiver.js.  A reload that removes the endpoint again
# restarts nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss
require_bpf
require_receiver
tmpdir_setup

PORT=$(free_port 18610)
PROM_PORT=$(free_port 18630)
HP=$(free_port 18650)
GP=$(free_port 18670)
URL=http://127.0.0.1:$PORT
R=spyglass_child_restarts_total
HWM_MAX_KB=6144
nginx_start "$PORT"

# exporter_maps_curl PID: how many of its mappings are libcurl's
exporter_maps_curl() { grep -c libcurl "/proc/$1/maps"; }
exporter_cmdline() { tr '\0' ' ' < "/proc/$1/cmdline"; }

# otlp_spans FILE: spans in the receiver's file
otlp_spans() {
	node -e '
const fs = require("fs");
let n = 0;
if (fs.existsSync(process.argv[1]))
  for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
    if (!l) continue;
    const r = JSON.parse(l);
    if (r.signal !== "traces") continue;
    for (const rs of r.body.resourceSpans || [])
      for (const ss of rs.scopeSpans || []) n += (ss.spans || []).length;
  }
console.log(n);' "$1"
}

# ---- 1. no OTLP: no libcurl
SENSOR_INI_EXTRA="[discovery]
open_port = $PORT"
start_sensor -o log_level=info
wait_ready 1 || exit 1
wait_children || fail "collector and exporter not both running"
E0=$(sensor_child spyglass-exporter) || { fail "no exporter"; exit 1; }
assert_not_contains "exporter command line without OTLP" \
    "$(exporter_cmdline "$E0")" " -O"
assert_eq "libcurl mappings of the exporter without OTLP" 0 \
    "$(exporter_maps_curl "$E0")"
http_many 10 "$URL/ok" >/dev/null
assert_eq "http_server_request_duration_seconds_count without OTLP" 10 \
    "$(wait_metric 10 http_server_request_duration_seconds_count)"
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$E0/status")
if [ "${hwm:-999999}" -lt "$HWM_MAX_KB" ]; then
	ok "exporter VmHWM without OTLP = $hwm kB (< $HWM_MAX_KB)"
else
	fail "exporter VmHWM without OTLP: expected < $HWM_MAX_KB kB, got $hwm"
fi

# ---- 2. a reload adds an OTLP endpoint
receiver_start recv "$HP" "$GP"
cp "$SENSOR_INI" "$T/no-otlp.ini"
cat >> "$SENSOR_INI" <<EOF

[otel_traces_export]
endpoint = http://127.0.0.1:$HP/v1/traces
batch_timeout = 200ms
EOF
kill -HUP "$SENSOR_PID"
if E1=$(wait_new_child spyglass-exporter "$E0"); then
	ok "exporter restarted as pid $E1 after the reload"
else
	fail "exporter not restarted after the reload added OTLP"
	exit 1
fi
assert_contains "exporter command line with OTLP" "$(exporter_cmdline "$E1")" " -O"
assert_contains "loader log" "$(cat "$SENSOR_ERR")" \
    "OTLP export configured: restarting the exporter to load libcurl"
wait_ready 1 || exit 1
# serving /metrics: past the loading of libcurl
assert_ge "libcurl mappings of the exporter with OTLP" 1 \
    "$(exporter_maps_curl "$E1")"
http_many 20 "$URL/ok" >/dev/null
n=0
for _ in $(seq 1 50); do
	n=$(otlp_spans "$RECV_OUT")
	[ "$n" -ge 20 ] && break
	sleep 0.2
done
assert_eq "spans received over OTLP after the reload" 20 "$n"
# counted once the receiver answered, after it wrote them
v=$(wait_metric 20 spyglass_otlp_sent_items_total signal=traces)
v=$(wait_metric 30 http_server_request_duration_seconds_count)
settle
assert_eq "spyglass_otlp_sent_items_total{traces}" 20 \
    "$(metric_value spyglass_otlp_sent_items_total signal=traces)"
assert_eq "$R{exporter} (a planned restart is no crash)" 0 \
    "$(metric_value $R child=exporter)"
assert_eq "http_server_request_duration_seconds_count" 30 \
    "$(metric_value http_server_request_duration_seconds_count)"

# ---- 3. a reload removes it: no restart
cp "$T/no-otlp.ini" "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
sleep 1
assert_eq "exporter after the reload removing OTLP" "$E1" \
    "$(sensor_child spyglass-exporter)"
scrape || fail "/metrics does not answer after the reload removing OTLP"
assert_eq "$R{exporter} after removing OTLP" 0 "$(metric_value $R child=exporter)"

stop_sensor
test_done
