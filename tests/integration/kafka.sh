#!/bin/bash
# Kafka: kcat (a copy under the test's own name, selected by it) produces
# to and consumes from librdkafka's mock broker (peers/kafka_mock.c, one
# broker on a random loopback port; no real broker is packaged here).
#
# Exact counts: each kcat -P run sends its one message in one Produce
# request (publish); the mock broker answers a Fetch with one record batch
# at most, so consuming the N messages of N runs takes N Fetches that
# carry records (process).  Fetches whose long poll found nothing, and the
# one in flight when kcat -C -c N -e exits, are not exchanges.  The mock
# fails the first Produce with TOPIC_AUTHORIZATION_FAILED (29), which kcat
# does not retry: one publish with error_type 29.  An acks=0 Produce is an
# exchange that ends with its request.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd kcat cc
require_bpf
[ -r /usr/include/librdkafka/rdkafka_mock.h ] || skip "needs librdkafka-dev"
tmpdir_setup

cc -o "$T/kafka_mock" "$top_srcdir/tests/integration/peers/kafka_mock.c" \
    -lrdkafka 2> "$T/cc.log" || die "kafka_mock: $(cat "$T/cc.log")"
"$T/kafka_mock" -e 29 orders denied > "$T/mock.out" 2> "$T/mock.err" &
track $!
for _ in $(seq 50); do
	[ -s "$T/mock.out" ] && break
	sleep 0.1
done
BROKER=$(head -1 "$T/mock.out")
case $BROKER in
127.0.0.1:[0-9]*) ;;
*) die "kafka_mock: no address: $(cat "$T/mock.out" "$T/mock.err")" ;;
esac
BPORT=${BROKER##*:}
log "mock broker at $BROKER"

KCAT=$T/sgtest-kcat
cp "$(command -v kcat)" "$KCAT"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-kcat
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

N=5
# the error first: the mock fails the first Produce it gets
echo refused | "$KCAT" -P -b "$BROKER" -t denied > "$T/kcat-denied.log" 2>&1 &&
    fail "kcat -P to denied succeeded"
for i in $(seq $N); do
	echo "message $i" | "$KCAT" -P -b "$BROKER" -t orders > "$T/kcat-p.log" 2>&1 ||
	    fail "kcat -P $i: $(cat "$T/kcat-p.log")"
done
echo "no ack" | "$KCAT" -P -b "$BROKER" -t orders -X acks=0 > "$T/kcat-p.log" 2>&1 ||
    fail "kcat -P acks=0: $(cat "$T/kcat-p.log")"
timeout 30 "$KCAT" -C -b "$BROKER" -t orders -c $((N + 1)) -e > "$T/consumed" 2> "$T/kcat-c.log" ||
    fail "kcat -C: $(cat "$T/kcat-c.log")"
assert_eq "messages consumed" $((N + 1)) "$(wc -l < "$T/consumed")"

PUB=messaging_publish_duration_seconds_count
PROC=messaging_process_duration_seconds_count
v=$(wait_metric $((N + 1)) $PROC)
log "process counted after wait: $v"
settle
sel=(messaging_system=kafka service_name=sgtest-kcat)
assert_eq "$PUB{orders}" $((N + 1)) \
    "$(metric_value $PUB "${sel[@]}" messaging_destination_name=orders)"
assert_eq "$PUB{denied, 29}" 1 \
    "$(metric_value $PUB "${sel[@]}" messaging_destination_name=denied error_type=29)"
assert_eq "$PROC{orders}" $((N + 1)) \
    "$(metric_value $PROC "${sel[@]}" messaging_destination_name=orders)"
assert_eq "publish, all" $((N + 2)) "$(metric_value $PUB)"
assert_eq "process, all" $((N + 1)) "$(metric_value $PROC)"
assert_eq "error_type labels (publish)" 29 "$(label_values $PUB error_type)"
assert_eq "error_type labels (process)" "" "$(label_values $PROC error_type)"
assert_eq "server_port label" "$BPORT" "$(label_values $PUB server_port)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans $((2 * N + 3)) > /dev/null
stop_sensor
assert_eq "publish spans to orders" $((N + 1)) \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=kafka operation=publish target=orders error=)"
assert_eq "publish spans to denied, 29" 1 \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=kafka operation=publish target=denied error=29)"
assert_eq "process spans from orders" $((N + 1)) \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=kafka operation=process target=orders error=)"
assert_eq "kafka spans, all" $((2 * N + 3)) "$(count_spans "$SENSOR_OUT" protocol=kafka)"
assert_eq "server spans (the broker is not selected)" 0 "$(count_spans "$SENSOR_OUT" kind=server)"

test_done
