#!/bin/bash
# HTTP/1.1 upgraded to HTTP/2 (Upgrade: h2c, 101) between real peers:
# Apache httpd with mod_http2 (Protocols h2c http/1.1) and curl --http2,
# which asks for the upgrade on its first request and sends the next ones
# of the same run as HTTP/2 streams.  Exact counts on both sides: the
# server selected by port, curl (a copy under the test's own name) by
# executable name; the request that asked is answered in HTTP/2 and is
# counted once, with HTTP/2's version, and no 101 is counted.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl ss
require_bpf
APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
[ -x "$APACHE" ] || skip "needs apache2"
MODS=/usr/lib/apache2/modules
[ -f "$MODS/mod_http2.so" ] || skip "needs apache2's mod_http2"
tmpdir_setup

PORT=$(free_port 18486)
PROM_PORT=$(free_port 19486)
URL=http://127.0.0.1:$PORT
SRV=http_server_request_duration_seconds_count
CLI=http_client_request_duration_seconds_count

# ---- Apache: event MPM (several processes, threads), h2c allowed
A=$T/apache
mkdir -p "$A/www" "$A/run"
echo ok > "$A/www/ok"
chmod 0755 "$T" "$A" "$A/www"
cat > "$A/httpd.conf" <<CONF
ServerRoot $A
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile $A/run/httpd.pid
ErrorLog $A/error.log
LogLevel warn
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule http2_module $MODS/mod_http2.so
User $(id -un nobody 2>/dev/null || echo nobody)
Group $(id -gn nobody 2>/dev/null || echo nogroup)
Protocols h2c http/1.1
DocumentRoot $A/www
<Directory $A/www>
  Require all granted
</Directory>
CONF
"$APACHE" -f "$A/httpd.conf" -DFOREGROUND > "$A/out.log" 2>&1 &
track $!
wait_port "$PORT" 10 || die "apache did not listen: $(cat "$A/out.log" "$A/error.log" 2>/dev/null)"

cp "$(command -v curl)" "$T/sgtest-curl"
SENSOR_INI_EXTRA="[discovery]
open_port = $PORT
executable_name = sgtest-curl
"
start_sensor -o trace_printer=json
wait_ready 1 || exit 1   # apache

# The curls, run by a shell selected by its command line before any of
# them starts (each curl, forked by it, inherits the selection): 12
# connections upgraded on their only request, 6 of them answered 404.
# (More requests on an upgraded connection: curl 7.88 fails the second
# with "Error in the HTTP2 framing layer" against Apache 2.4; the unit
# tests cover them: test_h2c_upgrade, test_conns_h2c_upgrade.)
cat > "$T/sgtest-curl-run.sh" <<'SH'
curl=$1 url=$2
read -r _
get() { "$curl" -s --http2 -o /dev/null -w '%{http_version} %{http_code}\n' "$@"; }
for _ in $(seq 12); do get "$url/ok"; done
for _ in $(seq 6); do get "$url/missing"; done
SH
mkfifo "$T/go"
exec 3<>"$T/go"
settle
base=$(metric_value spyglass_instrumented_processes)
bash "$T/sgtest-curl-run.sh" "$T/sgtest-curl" "$URL" < "$T/go" > "$T/curl.out" 2>&1 &
RUN=$!
track "$RUN"
wait_metric $((base + 1)) spyglass_instrumented_processes > /dev/null
echo go >&3
wait "$RUN" || fail "curl run: $(cat "$T/curl.out")"
assert_eq "curl's view: all HTTP/2" "$(printf '2 200 12\n2 404 6')" \
    "$(sort "$T/curl.out" | uniq -c | awk '{ print $2, $3, $1 }')"

assert_count "apache GET 200" 12 \
    "$(wait_metric 12 $SRV service_name=apache2 http_request_method=GET http_response_status_code=200)"
assert_count "apache GET 404" 6 \
    "$(wait_metric 6 $SRV service_name=apache2 http_request_method=GET http_response_status_code=404)"
assert_count "curl GET 200" 12 \
    "$(wait_metric 12 $CLI service_name=sgtest-curl http_request_method=GET http_response_status_code=200)"
assert_count "curl GET 404" 6 \
    "$(wait_metric 6 $CLI service_name=sgtest-curl http_request_method=GET http_response_status_code=404)"
settle
assert_eq "no 101 counted" "0 0" \
    "$(metric_value $SRV http_response_status_code=101) $(metric_value $CLI http_response_status_code=101)"
assert_eq "nothing else counted (server)" 18 "$(metric_value $SRV)"
assert_eq "nothing else counted (client)" 18 "$(metric_value $CLI)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_responses_unpaired_total" 0 \
    "$(metric_value spyglass_responses_unpaired_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans 36 > /dev/null
stop_sensor
assert_eq "server spans, HTTP/2, GET /ok 200" 12 \
    "$(count_spans "$SENSOR_OUT" kind=server protocol_version=2 operation=GET target=/ok status=200)"
assert_eq "client spans, HTTP/2, GET /missing 404" 6 \
    "$(count_spans "$SENSOR_OUT" kind=client protocol_version=2 operation=GET target=/missing status=404)"
assert_eq "spans of another HTTP version" 0 \
    "$(count_spans "$SENSOR_OUT" protocol_version=1.1)"

test_done
