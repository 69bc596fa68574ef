#!/bin/bash
# The Grafana dashboards in contrib/grafana query only metrics the sensor
# serves.  A sensor watches an HTTP server and an HTTP client (python), and,
# when redis is installed, a redis server and a redis-cli; every metric
# name a panel or a variable queries must then be in the scrape: with
# samples, or (families of kinds without traffic here: gRPC, SQL,
# messaging) declared by a # TYPE line.  The families the traffic produces
# must have samples, so that the suffixes (_bucket, _sum, _count) are
# checked against real series; a dashboard with a name the sensor does not
# serve must fail the check.  Every query must also parse (promtool).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl "$PYTHON"
require_bpf
tmpdir_setup

DM=$top_srcdir/tests/integration/dashboard_metrics.py
DASHBOARDS=("$top_srcdir"/contrib/grafana/*.json)
[ -e "${DASHBOARDS[0]}" ] || die "no dashboards in $top_srcdir/contrib/grafana"
assert_ge "dashboards" 3 "${#DASHBOARDS[@]}"

# ---- the dashboards themselves: JSON Grafana imports, queries that parse
"$PYTHON" "$DM" lint "${DASHBOARDS[@]}" > "$T/lint.out" 2>&1
assert_eq "dashboards: lint status ($(tr '\n' ' ' < "$T/lint.out"))" 0 $?
if command -v promtool > /dev/null; then
	"$PYTHON" "$DM" rules "${DASHBOARDS[@]}" > "$T/queries.yml" &&
	    promtool check rules "$T/queries.yml" > "$T/promtool.out" 2>&1
	assert_eq "every panel query parses (promtool check rules)" 0 $?
	assert_contains "promtool" "$(cat "$T/promtool.out")" "SUCCESS"
else
	log "promtool not installed: queries not parsed"
fi
"$PYTHON" "$DM" names "${DASHBOARDS[@]}" > "$T/names.txt" ||
    die "cannot read the dashboards' metric names"
for d in "${DASHBOARDS[@]}"; do
	assert_ge "metric names queried by $(basename "$d")" 3 \
	    "$(grep -c "	$d\$" "$T/names.txt")"
done

# ---- traffic: an HTTP server, a client of it, redis when installed
PORT=$(free_port 18470)
CPORT=$(free_port 18471)
PROM_PORT=$(free_port 19470)
mkdir -p "$T/www"
printf 'dashboards\n' > "$T/www/index.html"
python_server_start "$PORT" "$T/www"

# a client selected by the port it listens on; it calls the server
cat > "$T/client.py" <<'PY'
import http.client, socket, sys, time
port, lport = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", lport))
s.listen(1)
while True:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for path in ("/", "/missing"):
        c.request("GET", path)
        c.getresponse().read()
    c.close()
    time.sleep(0.2)
PY
"$PYTHON" "$T/client.py" "$PORT" "$CPORT" > "$T/client.log" 2>&1 &
track $!
wait_port "$CPORT" 10 || die "the client did not listen on $CPORT"

SELECT="open_port = $PORT,$CPORT"
REDIS=0
if command -v redis-server > /dev/null && command -v redis-cli > /dev/null; then
	REDIS=1
	RPORT=$(free_port 16470)
	mkdir -p "$T/redis"
	redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
	    --dir "$T/redis" > "$T/redis.log" 2>&1 &
	track $!
	wait_port "$RPORT" 10 || die "redis-server did not listen on $RPORT"
	CLI=$T/sgtest-dash-redis-cli
	cp "$(command -v redis-cli)" "$CLI"
	SELECT="open_port = $PORT,$CPORT,$RPORT
executable_name = sgtest-dash-redis-cli"
else
	log "redis not installed: no database traffic"
fi
SENSOR_INI_EXTRA="[discovery]
$SELECT
"
start_sensor -o trace_printer=disabled
wait_ready 2 || exit 1

for _ in $(seq 1 10); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/"
done
if [ "$REDIS" = 1 ]; then
	sleep 1   # the copied redis-cli is found at its start (exec)
	for i in $(seq 1 10); do
		"$CLI" -h 127.0.0.1 -p "$RPORT" SET "k$i" v > /dev/null
		"$CLI" -h 127.0.0.1 -p "$RPORT" GET "k$i" > /dev/null
	done
fi
wait_metric 10 http_server_request_duration_seconds_count > /dev/null
wait_metric 1 http_client_request_duration_seconds_count > /dev/null
[ "$REDIS" = 1 ] && wait_metric 1 db_server_operation_duration_seconds_count > /dev/null
settle
printf '%s\n' "$SCRAPE" > "$T/scrape.txt"

# ---- every queried name is served
"$PYTHON" "$DM" check "$T/scrape.txt" "${DASHBOARDS[@]}" > "$T/check.txt"
rc=$?
while read -r how name board; do
	log "$how: $name ($(basename "$board"))"
done < "$T/check.txt"
assert_eq "every metric the dashboards query is served (check status)" 0 "$rc"
assert_eq "queried names missing from the scrape" 0 "$(grep -c '^missing ' "$T/check.txt")"
assert_eq "names checked = names queried" "$(wc -l < "$T/names.txt")" "$(wc -l < "$T/check.txt")"

# the traffic's families are checked against samples, not declarations
want_sample() {
	grep -q "^sample $1 " "$T/check.txt" ||
	    fail "$1: no samples in the scrape ($(grep " $1 " "$T/check.txt" | head -n 1 | cut -d' ' -f1))"
	grep -q "^sample $1 " "$T/check.txt" && ok "$1 has samples"
}
for n in http_server_request_duration_seconds_bucket \
    http_server_request_duration_seconds_sum \
    http_server_request_duration_seconds_count \
    http_client_request_duration_seconds_count \
    spyglass_events_read_total spyglass_child_restarts_total \
    spyglass_events_lost_total spyglass_otlp_dropped_items_total target_info; do
	want_sample "$n"
done
if [ "$REDIS" = 1 ]; then
	want_sample db_server_operation_duration_seconds_count
	want_sample db_client_operation_duration_seconds_count
fi

# ---- a name the sensor does not serve is caught
sed 's/http_server_request_duration_seconds_count/http_server_requests_total/g' \
    "$top_srcdir/contrib/grafana/spyglass-red.json" > "$T/bad.json"
"$PYTHON" "$DM" check "$T/scrape.txt" "$T/bad.json" > "$T/bad.txt"
assert_eq "a dashboard querying http_server_requests_total: check status" 1 $?
assert_contains "... names it" "$(cat "$T/bad.txt")" "missing http_server_requests_total"

stop_sensor
test_done
