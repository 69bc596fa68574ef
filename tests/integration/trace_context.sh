#!/bin/bash
# Incoming W3C trace context: curl sends requests with a traceparent to
# nginx (selected by port), over HTTP/1.1 keep-alive and over h2c:
#  - each sampled one (-01) gives a server span with the caller's trace id
#    and the caller's span id as parent_span_id, exactly;
#  - the not-sampled ones (-00) give no span with parentbased_always_on
#    (counted in spyglass_spans_unsampled_total), but are counted in the
#    metrics like any request;
#  - malformed ones (upper-case hex, zero ids, version ff, wrong lengths,
#    two headers) give spans of fresh traces without a parent, counted in
#    spyglass_trace_context_invalid_total;
#  - one after 400 bytes of other headers is past the capture (256):
#    not known, a fresh trace, not counted as invalid;
#  - h2c the same, and one traceparent on many streams of one connection
#    (nghttp: sent once, then as a reference to the HPACK table);
#  - a tracestate sent with a traceparent is the server span's
#    trace_state, over HTTP/1.1 and h2c; one not valid is dropped, and one
#    that runs past the capture keeps its first whole members, each
#    counted in spyglass_trace_state_dropped_total;
#  - then with parentbased_traceidratio and a ratio of 0: spans with a
#    sampled parent are kept, those without a parent are not.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl nghttp ss "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18540)
H2PORT=$(free_port 18541)
PROM_PORT=$(free_port 19540)
URL=http://127.0.0.1:$PORT
H2URL=http://127.0.0.1:$H2PORT
M=http_server_request_duration_seconds_count
NGINX_SERVER_EXTRA='location /t/ { return 200 "t\n"; }' nginx_start "$PORT"
NGINX_LISTEN_OPTS=http2 NGINX_SERVER_EXTRA='location /t/ { return 200 "t\n"; }' \
    nginx_start "$H2PORT" "$T/nginx2"

# Ids of request i of a set: distinct, lower-case hex, never zero.
trace_of() { printf '%s%012x%016x' "$1" "$2" $((0x5eed0000 + $2)); }
span_of()  { printf '%08x%08x' $((0x51000000 + $2)) "$3"; }

# curl_set OUT URL [CURL_ARGS...] -- HEADER...: one curl, one connection,
# one request to URL per header given (an empty one: no traceparent, "2:X":
# X twice); status codes as "CODE COUNT" lines.
curl_set() {
	local url=$1 args=() h first=1
	shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	local cmd=()
	for h in "$@"; do
		[ "$first" = 1 ] || cmd+=(--next)
		first=0
		cmd+=(-s "${args[@]}" -o /dev/null -w '%{stderr}%{http_code}\n')
		case $h in
		'') ;;
		2:*) cmd+=(-H "traceparent: ${h#2:}" -H "traceparent: ${h#2:}") ;;
		*) cmd+=(-H "traceparent: $h") ;;
		esac
		cmd+=("$url")
	done
	curl --max-time 120 "${cmd[@]}" 2>&1 >/dev/null | sort | uniq -c | awk '{ print $2, $1 }'
}

# expected "trace parent" lines of a set, sorted
pairs_of() {   # PREFIX N
	local i
	for ((i = 1; i <= $2; i++)); do
		printf '%s %s\n' "$(trace_of "$1" "$i")" "$(span_of "$1" 1 "$i")"
	done | sort
}

# "trace parent" lines of the spans whose target is $1, sorted
span_pairs() {
	"$PYTHON" - "$SENSOR_OUT" "$1" <<'EOF'
import json, sys
out = []
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("{"):
        o = json.loads(line)
        if o.get("kind") == "server" and o.get("target") == sys.argv[2]:
            out.append("%s %s" % (o["trace_id"], o["parent_span_id"]))
print("\n".join(sorted(out)))
EOF
}

start_sensor -o discovery.open_port="$PORT,$H2PORT" -o trace_printer=json
wait_ready 2 || exit 1

N=30
sampled=() unsampled=()
for ((i = 1; i <= N; i++)); do
	sampled+=("00-$(trace_of aaaa "$i")-$(span_of aaaa 1 "$i")-01")
done
for ((i = 1; i <= 10; i++)); do
	unsampled+=("00-$(trace_of bbbb "$i")-$(span_of bbbb 1 "$i")-00")
done
G=$(trace_of cccc 1) S=$(span_of cccc 1 1)
GU=$(printf '%s' "$G" | tr a-f A-F)
bad=(
	"00-$GU-$S-01"                             # upper-case hex
	"00-00000000000000000000000000000000-$S-01"
	"00-$G-0000000000000000-01"
	"ff-$G-$S-01"                              # version ff
	"00-$G-$S-01-extra"                        # version 00, too long
	"00-$G-$S-1"                               # too short
	"00-${G}0-$S-01"
	"00_$G-$S-01"
	"00-$G-$S-0z"
	"2:00-$G-$S-01"                            # two of them
)
assert_eq "HTTP/1.1: $N sampled" "200 $N" "$(curl_set "$URL/t/sampled" -- "${sampled[@]}")"
assert_eq "HTTP/1.1: 10 not sampled" "200 10" "$(curl_set "$URL/t/unsampled" -- "${unsampled[@]}")"
assert_eq "HTTP/1.1: 10 malformed" "200 10" "$(curl_set "$URL/t/bad" -- "${bad[@]}")"
assert_eq "HTTP/1.1: 5 without" "200 5" "$(curl_set "$URL/t/none" -- "" "" "" "" "")"
# a later version: its first fields are read
assert_eq "HTTP/1.1: a later version" "200 1" \
    "$(curl_set "$URL/t/future" -- "cc-$(trace_of dddd 1)-$(span_of dddd 1 1)-01-more")"
# past the capture: 400 bytes of cookie first
COOKIE="Cookie: c=$(head -c 400 /dev/zero | tr '\0' k)"
assert_eq "HTTP/1.1: 3 past the capture" "200 3" \
    "$(curl_set "$URL/t/late" -H "$COOKIE" -- "00-$G-$S-01" "00-$G-$S-01" "00-$G-$S-01")"
# h2c: a connection per request with curl (7.88 cannot reuse one across
# --next with prior knowledge); then nghttp, one connection, the same
# traceparent on every stream: HPACK sends it once, then by reference.
h2=()
for ((i = 1; i <= 20; i++)); do
	h2+=("00-$(trace_of eeee "$i")-$(span_of eeee 1 "$i")-01")
done
assert_eq "h2c: 20 sampled" "200 20" \
    "$(for h in "${h2[@]}"; do curl_set "$H2URL/t/htwo" --http2-prior-knowledge -- "$h"; done |
    awk '{ n[$1] += $2 } END { for (c in n) print c, n[c] }')"
assert_eq "h2c: 5 malformed" "200 5" \
    "$(for h in "${bad[@]:0:5}"; do curl_set "$H2URL/t/htwobad" --http2-prior-knowledge -- "$h"; done |
    awk '{ n[$1] += $2 } END { for (c in n) print c, n[c] }')"
nghttp_set() {   # PATH TRACEPARENT N
	local i urls=()
	for ((i = 0; i < $3; i++)); do urls+=("$H2URL$1?$i"); done
	nghttp -n -s -H "traceparent: $2" "${urls[@]}" | grep -c ' 200 '
}
H2SAME="00-$(trace_of ffff 1)-$(span_of ffff 1 1)-01"
assert_eq "h2c: 10 streams, one traceparent" 10 "$(nghttp_set /t/htwosame "$H2SAME" 10)"
assert_eq "h2c: 5 streams, not sampled" 5 "$(nghttp_set /t/htwoun "${unsampled[0]}" 5)"

# tracestate (curl sends it before the traceparent)
TS="congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
LONG=""
for ((i = 0; i < 20; i++)); do
	LONG+="${LONG:+,}$(printf 'k%02d=%s' "$i" vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv)"
done
tp_set() {   # TAG N: N sampled traceparents
	local i
	for ((i = 1; i <= $2; i++)); do
		printf '00-%s-%s-01\n' "$(trace_of "$1" "$i")" "$(span_of "$1" 1 "$i")"
	done
}
mapfile -t tps < <(tp_set 7777 5)
assert_eq "HTTP/1.1: 5 with a tracestate" "200 5" \
    "$(curl_set "$URL/t/state" -H "tracestate: $TS" -- "${tps[@]}")"
mapfile -t tps < <(tp_set 7778 2)
assert_eq "HTTP/1.1: 2 with one not valid" "200 2" \
    "$(curl_set "$URL/t/statebad" -H "tracestate: Congo=x" -- "${tps[@]}")"
# after the traceparent, past the 256 bytes captured
assert_eq "HTTP/1.1: 1 with one of ${#LONG} bytes" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "traceparent: $(tp_set 7779 1)" \
    -H "tracestate: $LONG" "$URL/t/statelong")"
mapfile -t tps < <(tp_set 7780 3)
assert_eq "h2c: 3 with a tracestate" "200 3" \
    "$(for h in "${tps[@]}"; do curl_set "$H2URL/t/htwostate" --http2-prior-knowledge -H "tracestate: $TS" -- "$h"; done |
    awk '{ n[$1] += $2 } END { for (c in n) print c, n[c] }')"
assert_eq "h2c: 5 streams, one tracestate" 5 \
    "$(nghttp -n -s -H "traceparent: $(tp_set 7781 1)" -H "tracestate: $TS" \
    "$H2URL/t/htwostatesame?"{1..5} | grep -c ' 200 ')"

TOTAL=$((N + 10 + 10 + 5 + 1 + 3 + 20 + 5 + 10 + 5 + 5 + 2 + 1 + 3 + 5))
v=$(wait_metric "$TOTAL" "$M")
log "counted after wait: $v"
settle
assert_eq "$M (every request counted, sampled or not)" "$TOTAL" "$(metric_value $M)"
assert_eq "$M{/t/unsampled}" 10 "$(metric_value $M http_route='/t/unsampled')"
assert_eq "$M{/t/htwoun}" 5 "$(metric_value $M http_route='/t/htwoun')"
assert_eq "spyglass_trace_context_invalid_total" 15 \
    "$(metric_value spyglass_trace_context_invalid_total)"
assert_eq "spyglass_spans_unsampled_total" 15 "$(metric_value spyglass_spans_unsampled_total)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq 'spyglass_trace_state_dropped_total{reason="invalid"}' 2 \
    "$(metric_value spyglass_trace_state_dropped_total reason=invalid)"
assert_eq 'spyglass_trace_state_dropped_total{reason="cut"}' 1 \
    "$(metric_value spyglass_trace_state_dropped_total reason=cut)"
log "spans before SIGTERM: $(wait_spans $((TOTAL - 15)) kind=server)"
stop_sensor

assert_eq "sampled: trace and parent of each, exactly" "$(pairs_of aaaa "$N")" \
    "$(span_pairs /t/sampled)"
assert_eq "sampled: distinct span ids" "$N" \
    "$(span_field_values "$SENSOR_OUT" span_id kind=server target=/t/sampled | wc -l)"
assert_eq "not sampled: no span" 0 "$(count_spans "$SENSOR_OUT" target=/t/unsampled)"
assert_eq "malformed: spans without a parent" 10 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/bad parent_span_id=)"
assert_eq "malformed: fresh trace ids" 10 \
    "$(span_field_values "$SENSOR_OUT" trace_id kind=server target=/t/bad | grep -vc "^$G$")"
assert_eq "without: spans without a parent" 5 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/none parent_span_id=)"
assert_eq "later version" "$(trace_of dddd 1) $(span_of dddd 1 1)" "$(span_pairs /t/future)"
assert_eq "past the capture: fresh traces" 3 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/late parent_span_id=)"
assert_eq "h2c: trace and parent of each, exactly" "$(pairs_of eeee 20)" \
    "$(span_pairs /t/htwo)"
assert_eq "h2c: malformed, without a parent" 5 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/htwobad parent_span_id=)"
assert_eq "h2c: one traceparent on 10 streams" "$(trace_of ffff 1) $(span_of ffff 1 1)" \
    "$(span_pairs /t/htwosame | uniq)"
assert_eq "h2c: 10 spans of it" 10 "$(count_spans "$SENSOR_OUT" kind=server target=/t/htwosame)"
assert_eq "h2c: not sampled, no span" 0 "$(count_spans "$SENSOR_OUT" target=/t/htwoun)"
assert_eq "tracestate: on each of the 5 spans" 5 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/state "trace_state=$TS")"
assert_eq "tracestate: their parents" "$(pairs_of 7777 5)" "$(span_pairs /t/state)"
assert_eq "tracestate not valid: none" 2 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/statebad trace_state=)"
V=$(span_field_values "$SENSOR_OUT" trace_state kind=server target=/t/statelong)
log "past the capture: trace_state $V"
assert_eq "tracestate past the capture: its first whole members" yes \
    "$([ -n "$V" ] && [ "${LONG#"$V",}" != "$LONG" ] && echo yes)"
assert_eq "tracestate past the capture: the trace it goes with" \
    "$(trace_of 7779 1) $(span_of 7779 1 1)" "$(span_pairs /t/statelong)"
assert_eq "h2c: tracestate on each of 3 spans" 3 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/htwostate "trace_state=$TS")"
assert_eq "h2c: one tracestate on 5 streams" 5 \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/htwostatesame "trace_state=$TS")"
assert_eq "no tracestate sent: none" "$N" \
    "$(count_spans "$SENSOR_OUT" kind=server target=/t/sampled trace_state=)"

# parentbased_traceidratio, ratio 0: the parent's verdict, else none.
SENSOR_INI_EXTRA=$'[otel_traces_export]\nsampler = parentbased_traceidratio\nsampler_arg = 0' \
    start_sensor -o discovery.open_port="$PORT" -o trace_printer=json
wait_ready 2 || exit 1
assert_eq "ratio 0: 10 sampled" "200 10" "$(curl_set "$URL/t/sampled" -- "${sampled[@]:0:10}")"
assert_eq "ratio 0: 5 not sampled" "200 5" "$(curl_set "$URL/t/unsampled" -- "${unsampled[@]:0:5}")"
assert_eq "ratio 0: 5 without" "200 5" "$(curl_set "$URL/t/none" -- "" "" "" "" "")"
v=$(wait_metric 20 "$M")
settle
assert_eq "ratio 0: spyglass_spans_unsampled_total" 10 "$(metric_value spyglass_spans_unsampled_total)"
log "spans before SIGTERM: $(wait_spans 10 kind=server)"
stop_sensor
assert_eq "ratio 0: the sampled parents' spans" "$(pairs_of aaaa 10)" "$(span_pairs /t/sampled)"
assert_eq "ratio 0: no other span" 10 "$(count_spans "$SENSOR_OUT" kind=server)"

test_done
