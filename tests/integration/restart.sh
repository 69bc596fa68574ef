#!/bin/bash
# Reload and supervision.  SIGHUP with a changed configuration file (a
# second port to watch) takes effect without a restart; SIGHUP with a bad
# file, or one that selects nothing, keeps the running configuration.
# Then kill -9 the collector, the
# exporter, and the collector again under load (counts never go down, and
# requests not counted are reported lost); the loader restarts
# each (first backoff 0.1 s), counts it in
# spyglass_child_restarts_total{child=...}, and new traffic is counted
# again.  Finally SIGTERM stops everything within 2 s with status 0 and
# leaves no spyglass process of ours behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss
require_bpf
tmpdir_setup

PORT=$(free_port 18460)
PROM_PORT=$(free_port 19460)
URL=http://127.0.0.1:$PORT
M=http_server_request_duration_seconds_count
R=spyglass_child_restarts_total
nginx_start "$PORT"
PORT2=$(free_port 18461)
nginx_start "$PORT2" "$T/nginx2"

SENSOR_INI_EXTRA="[discovery]
open_port = $PORT"
# Buckets other than the defaults: a restarted collector that counted the
# batches queued for its predecessor before its configuration came would
# have had them dropped when it came (the metrics start again when the
# histograms change).
start_sensor -o log_level=info \
    -o prometheus_export.duration_histogram=0.0005,0.001,0.005,0.01,0.05,0.1,0.5,1,5
wait_ready 1 || exit 1
wait_children || fail "collector and exporter not both running"

http_many 50 "$URL/ok" >/dev/null
assert_eq "before any restart: $M{GET,200}" 50 \
    "$(wait_metric 50 $M http_request_method=GET http_response_status_code=200)"
scrape   # wait_metric's was in a subshell
assert_eq "before any restart: $R{collector}" 0 "$(metric_value $R child=collector)"
assert_eq "before any restart: $R{exporter}" 0 "$(metric_value $R child=exporter)"
assert_eq "before any restart: $R series" 2 "$(metric_series $R)"

# ---- SIGHUP: watch the second port too
L0=$SENSOR_PID
C0=$(sensor_child spyglass-collector)
E0=$(sensor_child spyglass-exporter)
sed -i "s/^open_port = .*/open_port = $PORT,$PORT2/" "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
n=$(WAIT_METRIC_TRIES=100 wait_metric 4 spyglass_instrumented_processes)
assert_eq "after SIGHUP adding port $PORT2: spyglass_instrumented_processes (2 nginx x 2)" 4 "$n"
pid_alive "$L0" || fail "loader gone after SIGHUP"
log "after SIGHUP: collector $C0 -> $(sensor_child spyglass-collector), exporter $E0 -> $(sensor_child spyglass-exporter)"
http_many 15 "http://127.0.0.1:$PORT2/post" -X PUT -d x=1 >/dev/null
assert_eq "after SIGHUP: $M{PUT,200} from the second nginx" 15 \
    "$(wait_metric 15 $M http_request_method=PUT http_response_status_code=200 service_name=nginx)"
scrape
assert_eq "after SIGHUP: $R total" 0 "$(metric_value $R)"
# a bad file: the running configuration stays
cp "$SENSOR_INI" "$T/good.ini"
printf '[prometheus_export]\nport = 70000\n' >> "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
sleep 0.5
if ! pid_alive "$L0" || [ "$(proc_state "$L0")" = Z ]; then
	fail "loader exited on SIGHUP with a bad configuration"
fi
http_many 5 "http://127.0.0.1:$PORT2/post" -X PUT -d x=1 >/dev/null
assert_eq "after SIGHUP with a bad file: $M{PUT,200}" 20 \
    "$(wait_metric 20 $M http_request_method=PUT http_response_status_code=200 service_name=nginx)"
if grep -q "$SENSOR_INI:[0-9]*:.*port" "$SENSOR_ERR"; then
	ok "reload error logged with FILE:LINE"
else
	fail "no FILE:LINE error logged for the bad reload"
fi
cp "$T/good.ini" "$SENSOR_INI"
# a file that selects nothing: refused as at start, the selection stays
sed -i '/^open_port = /d' "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
wait_log "reload refused: nothing selected" 5
assert_contains "SIGHUP with nothing selected: refused" "$(cat "$SENSOR_ERR")" \
    "reload refused: nothing selected"
pid_alive "$L0" || fail "loader exited on SIGHUP with nothing selected"
http_many 5 "http://127.0.0.1:$PORT2/post" -X PUT -d x=1 >/dev/null
assert_eq "after SIGHUP with nothing selected: $M{PUT,200}" 25 \
    "$(wait_metric 25 $M http_request_method=PUT http_response_status_code=200 service_name=nginx)"
# a file without the second port: its nginx is let go, then taken again
cp "$T/good.ini" "$SENSOR_INI"
sed -i "s/^open_port = .*/open_port = $PORT/" "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
for _ in $(seq 1 50); do
	scrape && [ "$(metric_value spyglass_instrumented_processes)" = 2 ] && break
	sleep 0.2
done
assert_eq "after SIGHUP without port $PORT2: spyglass_instrumented_processes" 2 \
    "$(metric_value spyglass_instrumented_processes)"
assert_eq "after SIGHUP without port $PORT2: processes let go" 2 \
    "$(grep -c 'no longer instrumented' "$SENSOR_ERR")"
http_many 5 "http://127.0.0.1:$PORT2/post" -X PUT -d x=1 >/dev/null
settle
assert_eq "after SIGHUP without port $PORT2: $M{PUT,200} unchanged" 25 \
    "$(metric_value $M http_request_method=PUT http_response_status_code=200 service_name=nginx)"
cp "$T/good.ini" "$SENSOR_INI"
kill -HUP "$SENSOR_PID"
assert_eq "after SIGHUP with port $PORT2 again: spyglass_instrumented_processes" 4 \
    "$(WAIT_METRIC_TRIES=100 wait_metric 4 spyglass_instrumented_processes)"

ms_now() { date +%s%3N; }

# ---- the collector
C1=$(sensor_child spyglass-collector) || { fail "no collector"; exit 1; }
t0=$(ms_now)
kill -KILL "$C1"
if C2=$(wait_new_child spyglass-collector "$C1"); then
	ok "collector restarted as pid $C2 after $(( $(ms_now) - t0 )) ms"
else
	fail "collector not restarted within 5 s"
fi
assert_eq "$R{collector} after killing the collector" 1 "$(wait_metric 1 $R child=collector)"
pid_alive "$C1" && fail "old collector $C1 still exists"
# new traffic with a status not seen before, so the count is exact whether
# or not the collector's earlier counts survived its restart
http_many 30 "$URL/busy" >/dev/null
assert_eq "after collector restart: $M{GET,503}" 30 \
    "$(wait_metric 30 $M http_request_method=GET http_response_status_code=503 service_name=nginx)"
# cumulative series continue across the restart (the exporter adds what
# the dead collector had counted): no counter goes down
scrape
assert_eq "after collector restart: $M{GET,200} (counted before the restart)" 50 \
    "$(metric_value $M http_request_method=GET http_response_status_code=200)"
assert_eq "after collector restart: $M{PUT,200} (counted before the restart)" 25 \
    "$(metric_value $M http_request_method=PUT http_response_status_code=200)"

# ---- the exporter
E1=$(sensor_child spyglass-exporter) || { fail "no exporter"; exit 1; }
t0=$(ms_now)
kill -KILL "$E1"
if E2=$(wait_new_child spyglass-exporter "$E1"); then
	ok "exporter restarted as pid $E2 after $(( $(ms_now) - t0 )) ms"
else
	fail "exporter not restarted within 5 s"
fi
assert_eq "$R{exporter} after killing the exporter" 1 "$(wait_metric 1 $R child=exporter)"
# a fresh scrape: $SCRAPE set inside $(wait_metric) does not reach this shell
assert_eq "$R{collector} after killing the exporter" 1 "$(wait_metric 1 $R child=collector)"
http_many 20 "$URL/missing" >/dev/null
assert_eq "after exporter restart: $M{GET,404}" 20 \
    "$(wait_metric 20 $M http_request_method=GET http_response_status_code=404 service_name=nginx)"
settle
assert_eq "after exporter restart: $M{GET,503} (kept by the collector)" 30 \
    "$(metric_value $M http_request_method=GET http_response_status_code=503)"
assert_eq "spyglass_events_lost_total{stage=ringbuf}" 0 "$(metric_value spyglass_events_lost_total stage=ringbuf)"
log "spyglass_events_lost_total by stage: $(printf '%s\n' "$SCRAPE" | grep '^spyglass_events_lost_total' | tr '\n' ' ')"

# ---- kill -9 the collector under load: a scrape after the restart never
# shows less than one before it, and what was not counted is reported lost
N=4000
http_many $N "$URL/ok" -I >"$T/load.out" &
load=$!
sleep 0.4
scrape
mid=$(metric_value $M http_request_method=HEAD)
lost0=$(metric_value spyglass_events_lost_total)
C3=$(sensor_child spyglass-collector) || { fail "no collector"; exit 1; }
kill -KILL "$C3"
wait "$load"
wait_new_child spyglass-collector "$C3" >/dev/null ||
    fail "collector not restarted within 5 s (under load)"
assert_eq "$R{collector} after the kill under load" 2 "$(wait_metric 2 $R child=collector)"
sleep 2
settle
n=$(metric_value $M http_request_method=HEAD)
lost=$(( $(metric_value spyglass_events_lost_total) - lost0 ))
log "kill under load: $mid counted at the kill, $n of $N after the restart, $lost events lost; $(grep -o 'stage="[a-z_]*"} [0-9]*' <<<"$SCRAPE" | tr '\n' ' ')"
assert_eq "served during the load" "200 $N" "$(cat "$T/load.out")"
if [ "$n" -ge "$mid" ] && [ "$n" -le $N ]; then
	ok "$M{HEAD} went from $mid to $n (of $N): never down"
else
	fail "$M{HEAD} went from $mid to $n (of $N)"
fi
# each request not counted lost both its events (the request read, the
# response written), but the one in flight at the kill, whose read the
# dead collector may have counted in a snapshot already
if [ "$lost" -ge $((2 * (N - n) - 2)) ]; then
	ok "requests not counted ($((N - n))) are reported: $lost events lost"
else
	fail "$((N - n)) requests not counted, but only $lost events reported lost (want $((2 * (N - n))))"
fi
assert_eq "after the kill under load: $M{GET,404} (carried)" 20 \
    "$(metric_value $M http_request_method=GET http_response_status_code=404)"

# ---- SIGTERM: everything gone within 2 s, exit 0
stop_sensor

left=
for p in /proc/[0-9]*; do
	exe=$(readlink "$p/exe" 2>/dev/null) || continue
	case ${exe##*/} in spyglass*) ;; *) continue ;; esac
	tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF "$T" && left="$left ${p#/proc/}"
done
assert_eq "spyglass processes of this test left after SIGTERM" "" "$left"
for p in $C2 $E2; do
	pid_alive "$p" && fail "child $p still alive"
done
port_in_use "$PROM_PORT" && ss -Hltn "sport = :$PROM_PORT" | grep -q . && fail "metrics port $PROM_PORT still listening"
test_done
