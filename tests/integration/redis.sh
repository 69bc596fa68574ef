#!/bin/bash
# Redis: redis-benchmark and redis-cli (copies under the test's own names,
# selected by them) against a real redis-server on a test port.
#
# Exact counts: each redis-benchmark run opens one connection for its two
# pipelined CONFIG GETs, then one per test (-c 1) sending exactly -n
# commands (-n a multiple of -P, so that no batch overshoots); with -P 16
# sixteen commands go in one write and their replies come in one read
# (a RESP array widens the capture to 1 KiB: the 720 bytes of 16 SETs are
# all seen).  redis-cli sends its one command per run: INCR on a list is
# answered WRONGTYPE, an unknown command ERR; with -3 it says HELLO 3
# first and gets RESP3 replies (maps).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd redis-server redis-cli redis-benchmark
require_bpf
tmpdir_setup

PORT=$(free_port 16390)
PROM_PORT=$(free_port 19460)
mkdir -p "$T/redis"
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no \
    --dir "$T/redis" > "$T/redis.log" 2>&1 &
track $!
wait_port "$PORT" 10 || die "redis-server did not listen on $PORT"

BENCH=$T/sgtest-redis-benchmark
CLI=$T/sgtest-redis-cli
cp "$(command -v redis-benchmark)" "$BENCH"
cp "$(command -v redis-cli)" "$CLI"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-redis-(benchmark|cli)
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

NP=320		# pipelined, 20 batches of 16
N=200
"$BENCH" -h 127.0.0.1 -p "$PORT" -n $NP -c 1 -P 16 -t set,get -q \
    > "$T/bench-p.log" 2>&1 || fail "redis-benchmark -P 16: $(cat "$T/bench-p.log")"
"$BENCH" -h 127.0.0.1 -p "$PORT" -n $N -c 1 -t set,get -q \
    > "$T/bench.log" 2>&1 || fail "redis-benchmark: $(cat "$T/bench.log")"
R=("$CLI" -h 127.0.0.1 -p "$PORT")
assert_eq "SET" OK "$("${R[@]}" SET str s)"
assert_eq "RPUSH" 1 "$("${R[@]}" RPUSH lst a)"
assert_contains "INCR on a list" "$("${R[@]}" INCR lst 2>&1)" WRONGTYPE
assert_contains "unknown command" "$("${R[@]}" NOSUCHCMD a b 2>&1)" "unknown command"
# RESP3: HELLO 3 (a map), then the command (a map too)
assert_eq "HSET" 1 "$("${R[@]}" HSET h f v)"
assert_eq "HGETALL over RESP3" "f v" "$("${R[@]}" -3 HGETALL h | tr '\n' ' ' | sed 's/ $//')"

M=db_client_operation_duration_seconds_count
TOTAL=$((2 * NP + 2 * N + 4 + 7))
v=$(wait_metric $TOTAL $M)
log "operations counted after wait: $v"
settle
sel=(db_system_name=redis service_name=sgtest-redis-benchmark)
assert_eq "$M{SET} (benchmark)" $((NP + N)) \
    "$(metric_value $M "${sel[@]}" db_operation_name=SET)"
assert_eq "$M{GET} (benchmark)" $((NP + N)) \
    "$(metric_value $M "${sel[@]}" db_operation_name=GET)"
assert_eq "$M{CONFIG} (benchmark)" 4 \
    "$(metric_value $M "${sel[@]}" db_operation_name=CONFIG)"
sel=(db_system_name=redis service_name=sgtest-redis-cli)
assert_eq "$M{SET} (cli)" 1 "$(metric_value $M "${sel[@]}" db_operation_name=SET)"
assert_eq "$M{RPUSH} (cli)" 1 "$(metric_value $M "${sel[@]}" db_operation_name=RPUSH)"
assert_eq "$M{INCR, WRONGTYPE}" 1 \
    "$(metric_value $M "${sel[@]}" db_operation_name=INCR error_type=WRONGTYPE)"
assert_eq "$M{NOSUCHCMD, ERR}" 1 \
    "$(metric_value $M "${sel[@]}" db_operation_name=NOSUCHCMD error_type=ERR)"
assert_eq "$M{HELLO} (cli -3)" 1 "$(metric_value $M "${sel[@]}" db_operation_name=HELLO)"
assert_eq "$M{HGETALL} (cli -3)" 1 "$(metric_value $M "${sel[@]}" db_operation_name=HGETALL)"
assert_eq "operations, all" $TOTAL "$(metric_value $M)"
assert_eq "error_type labels" "ERR WRONGTYPE" "$(label_values $M error_type)"
assert_eq "server_port label" "$PORT" "$(label_values $M server_port)"
assert_eq "db_server_operation_duration_seconds_count (server not selected)" 0 \
    "$(metric_value db_server_operation_duration_seconds_count)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans $TOTAL > /dev/null
stop_sensor
assert_eq "SET spans" $((NP + N)) \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=redis operation=SET "target=SET key:__rand_int__ ?" error=)"
assert_eq "GET spans" $((NP + N)) \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=redis operation=GET "target=GET key:__rand_int__" error=)"
assert_eq "INCR span, WRONGTYPE" 1 \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=redis operation=INCR "target=INCR lst" error=WRONGTYPE)"
assert_eq "NOSUCHCMD span, ERR" 1 \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=redis operation=NOSUCHCMD "target=NOSUCHCMD a ?" error=ERR)"
assert_eq "redis spans, all" $TOTAL "$(count_spans "$SENSOR_OUT" protocol=redis)"
assert_eq "server spans (the server is not selected)" 0 "$(count_spans "$SENSOR_OUT" kind=server)"

# The server's side: redis-server selected by its port, the same
# pipelined benchmark (16 commands in one read, their replies in one write).
PROM_PORT=$(free_port $((PROM_PORT + 1)))
SENSOR_INI_EXTRA=
start_sensor -o trace_printer=json -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
redis-benchmark -h 127.0.0.1 -p "$PORT" -n $NP -c 1 -P 16 -t get -q \
    > "$T/bench-s.log" 2>&1 || fail "redis-benchmark (server): $(cat "$T/bench-s.log")"
S=db_server_operation_duration_seconds_count
v=$(wait_metric $((NP + 2)) $S)
log "server operations counted after wait: $v"
settle
sel=(db_system_name=redis server_port="$PORT")
assert_eq "$S{GET}" $NP "$(metric_value $S "${sel[@]}" db_operation_name=GET)"
assert_eq "$S{CONFIG}" 2 "$(metric_value $S "${sel[@]}" db_operation_name=CONFIG)"
assert_eq "server operations, all" $((NP + 2)) "$(metric_value $S)"
assert_eq "spyglass_unparsed_bytes_total (server)" 0 "$(metric_value spyglass_unparsed_bytes_total)"
wait_spans $((NP + 2)) > /dev/null
stop_sensor
assert_eq "server GET spans" $NP \
    "$(count_spans "$SENSOR_OUT" kind=server protocol=redis operation=GET "target=GET key:__rand_int__" error=)"

test_done
