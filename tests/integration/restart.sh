#!/bin/bash
# Supervision: kill -9 the collector, then the exporter; the loader restarts
# each (first backoff 0.1 s), counts it in
# spyglass_child_restarts_total{child=...}, and new traffic is counted
# again.  Finally SIGTERM stops everything within 2 s with status 0 and
# leaves no spyglass process of ours behind.
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

start_sensor -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
wait_children || fail "collector and exporter not both running"

http_many 50 "$URL/ok" >/dev/null
assert_eq "before any restart: $M{GET,200}" 50 \
    "$(wait_metric 50 $M http_request_method=GET http_response_status_code=200)"
assert_eq "before any restart: $R{collector}" 0 "$(metric_value $R child=collector)"
assert_eq "before any restart: $R{exporter}" 0 "$(metric_value $R child=exporter)"
assert_eq "before any restart: $R series" 2 "$(metric_series $R)"

# wait_new_child NAME OLDPID: pid of a new child of that name (5 s)
wait_new_child() {
	local n=50 pid
	while [ "$n" -gt 0 ]; do
		pid=$(sensor_child "$1") && [ "$pid" != "$2" ] && { echo "$pid"; return 0; }
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

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
log "after collector restart: $M{GET,200} (from before the restart) is $(metric_value $M http_request_method=GET http_response_status_code=200)"

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
assert_eq "$R{collector} after killing the exporter" 1 "$(metric_value $R child=collector)"
http_many 20 "$URL/missing" >/dev/null
assert_eq "after exporter restart: $M{GET,404}" 20 \
    "$(wait_metric 20 $M http_request_method=GET http_response_status_code=404 service_name=nginx)"
settle
assert_eq "after exporter restart: $M{GET,503} (kept by the collector)" 30 \
    "$(metric_value $M http_request_method=GET http_response_status_code=503)"
assert_eq "spyglass_events_lost_total{stage=ringbuf}" 0 "$(metric_value spyglass_events_lost_total stage=ringbuf)"
log "spyglass_events_lost_total by stage: $(printf '%s\n' "$SCRAPE" | grep '^spyglass_events_lost_total' | tr '\n' ' ')"

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
