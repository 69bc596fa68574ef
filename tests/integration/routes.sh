#!/bin/bash
# [routes] with nginx: exact counts per http_route for configured patterns
# (both forms), the heuristic's route for the rest, an ignored pattern
# absent from the metrics but present in the traces (ignore_mode =
# metrics) and the reverse (traces), and the heuristic's cardinality:
# 10,000 distinct paths with ids, UUIDs and hex tokens give a handful of
# routes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl h2load "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
URL=http://127.0.0.1:$PORT
NGINX_SERVER_EXTRA='location /users/ { return 200 "u\n"; }
        location /items/ { return 200 "i\n"; }
        location = /health { return 200 "h\n"; }' nginx_start "$PORT"
M=http_server_request_duration_seconds_count

traffic() {
	local i out
	for i in $(seq 1 30); do printf '%s/users/%d\n' "$URL" $((1000 + i)); done > "$T/users.txt"
	for i in $(seq 1 20); do printf '%s/users/%d/orders/%d\n' "$URL" $((7 * i)) $((i + 90000)); done > "$T/orders.txt"
	for i in $(seq 1 15); do printf '%s/items/%s\n' "$URL" "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done > "$T/items.txt"
	for f in users orders items; do
		out=$(h2load --h1 -c 1 -i "$T/$f.txt" -n "$(wc -l < "$T/$f.txt")" 2>&1)
		assert_contains "h2load $f" "$out" "succeeded, 0 failed"
	done
	assert_eq "client: 10 GET /health" "200 10" "$(http_many 10 "$URL/health")"
}

# ---- patterns, ignore_mode = metrics
SENSOR_INI_EXTRA="[routes]
patterns = /users/{id}, /users/:id/orders/{order}
ignored_patterns = /health
ignore_mode = metrics
"
start_sensor -o discovery.open_port="$PORT" -o trace_printer=json
wait_ready 1 || exit 1
traffic
v=$(wait_metric 65 $M)
# the /health calls came last
v=$(wait_metric 10 spyglass_routes_ignored_total signal=metrics)
settle
assert_eq "$M{http_route=/users/{id}}" 30 "$(metric_value $M http_route=/users/{id})"
assert_eq "$M{http_route=/users/:id/orders/{order}}" 20 \
    "$(metric_value $M http_route=/users/:id/orders/{order})"
assert_eq "$M{http_route=/items/*} (the heuristic)" 15 "$(metric_value $M http_route=/items/\*)"
assert_eq "$M{http_route=/health} (ignored for metrics)" 0 "$(metric_value $M http_route=/health)"
assert_count "$M in all" 65 "$(metric_value $M)"
assert_eq "routes of $M" "/items/* /users/:id/orders/{order} /users/{id}" \
    "$(label_values $M http_route)"
assert_eq "spyglass_routes_ignored_total{signal=metrics}" 10 \
    "$(metric_value spyglass_routes_ignored_total signal=metrics)"
n=$(wait_spans 75 kind=server)
stop_sensor
assert_eq "spans of /health (traces kept)" 10 "$(count_spans "$SENSOR_OUT" route=/health)"
assert_eq "spans of /users/{id}" 30 "$(count_spans "$SENSOR_OUT" route=/users/{id})"
assert_eq "spans' routes are never paths" "" \
    "$(span_field_values "$SENSOR_OUT" route target=/users/1001 | grep -v '^/users/{id}$')"

# ---- ignore_mode = traces: in the metrics, not in the traces
SENSOR_INI_EXTRA="[routes]
ignored_patterns = /health
ignore_mode = traces
"
start_sensor -o discovery.open_port="$PORT" -o trace_printer=json
wait_ready 1 || exit 1
traffic
v=$(wait_metric 75 $M)
settle
assert_eq "$M{http_route=/health} (ignored for traces only)" 10 "$(metric_value $M http_route=/health)"
assert_eq "$M{http_route=/users/*} (the heuristic, no patterns)" 30 "$(metric_value $M http_route=/users/\*)"
assert_eq "spyglass_routes_ignored_total{signal=traces}" 10 \
    "$(metric_value spyglass_routes_ignored_total signal=traces)"
n=$(wait_spans 65 kind=server)
stop_sensor
assert_eq "spans of /health" 0 "$(count_spans "$SENSOR_OUT" route=/health)"
assert_count "server spans" 65 "$(count_spans "$SENSOR_OUT" kind=server)"

# ---- the heuristic's cardinality: 10,000 distinct paths
"$PYTHON" - "$URL" > "$T/many.txt" <<'EOF'
import random, sys, uuid
url, r = sys.argv[1], random.Random(11)
for i in range(10000):
    k = i % 5
    if k == 0:
        print("%s/users/%d" % (url, 100000 + i))
    elif k == 1:
        print("%s/users/%d/orders/%s" % (url, i, uuid.UUID(int=r.getrandbits(128))))
    elif k == 2:
        print("%s/items/%016x" % (url, r.getrandbits(64)))
    elif k == 3:
        print("%s/items/%s/reviews" % (url, uuid.UUID(int=r.getrandbits(128))))
    else:
        print("%s/users/%d/items/%x" % (url, i, r.getrandbits(40)))
EOF
assert_eq "distinct paths" 10000 "$(sort -u "$T/many.txt" | wc -l)"
SENSOR_INI_EXTRA=
start_sensor -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
out=$(h2load --h1 -c 4 -i "$T/many.txt" -n 10000 2>&1)
assert_contains "h2load: 10,000 distinct paths" "$out" "10000 succeeded, 0 failed"
v=$(wait_metric 10000 $M)
settle
assert_count "$M in all" 10000 "$(metric_value $M)"
assert_eq "routes of $M (heuristic)" \
    "/items/* /items/*/reviews /users/* /users/*/items/* /users/*/orders/*" \
    "$(label_values $M http_route)"
assert_eq "$M{http_route=/users/*}" 2000 "$(metric_value $M http_route=/users/\*)"
stop_sensor
test_done
