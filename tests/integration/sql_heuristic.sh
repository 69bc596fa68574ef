#!/bin/bash
# [ebpf] heuristic_sql_detect: a psql session opened before the sensor
# started, to a PostgreSQL server on a port that is not 5432, shows the
# sensor neither its start-up packet nor a known port.  Without the
# heuristic its queries are unparsed bytes (counted, not guessed); with
# it they are recognised by their framing and statement keyword and
# counted exactly, on the same long-lived connection.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd setpriv
PGBIN=
for d in /usr/lib/postgresql/*/bin; do PGBIN=$d; done
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/psql" ]; then
	skip "needs postgresql (initdb, postgres, psql)"
fi
id postgres >/dev/null 2>&1 || skip "needs the postgres user"
require_bpf
tmpdir_setup

PORT=$(free_port 15460)
PROM_PORT=$(free_port 19460)
PGD=$T/pg
mkdir -p "$PGD"
chown postgres "$PGD"
as_postgres "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres \
    > "$T/initdb.log" 2>&1 || die "initdb: $(tail -n 5 "$T/initdb.log")"
as_postgres_exec "$PGBIN/postgres" -D "$PGD/data" -c listen_addresses=127.0.0.1 \
    -p "$PORT" -k "$PGD" -c fsync=off > "$T/postgres.log" 2>&1 &
track $!
wait_port "$PORT" 20 || die "postgres did not listen: $(tail -n 5 "$T/postgres.log")"
for _ in $(seq 50); do
	"$PGBIN/psql" -X -h 127.0.0.1 -p "$PORT" -U postgres -c 'SELECT 1' \
	    postgres >/dev/null 2>&1 && break
	sleep 0.1
done

# The session: psql reading statements from a FIFO, connected now.
cp "$PGBIN/psql" "$T/sgtest-hpsql-$$"
mkfifo "$T/in"
"$T/sgtest-hpsql-$$" -X -q -h 127.0.0.1 -p "$PORT" -U postgres postgres \
    < "$T/in" > "$T/psql.out" 2>&1 &
PSQL_PID=$!
track "$PSQL_PID"
exec 3> "$T/in"
echo "CREATE TABLE sgh (id int);" >&3
for _ in $(seq 50); do   # the session is up once its table is
	"$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres \
	    -c "SELECT 1 FROM pg_class WHERE relname = 'sgh'" postgres 2>/dev/null |
	    grep -q 1 && break
	sleep 0.1
done

# statements N, each one operation: N - 1 inserts and a select
send_statements() {
	local i
	for i in $(seq $(($1 - 1))); do
		echo "INSERT INTO sgh VALUES ($i);" >&3
	done
	echo "SELECT count(*) FROM sgh;" >&3
}

SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-hpsql-$$
"
M=db_client_operation_duration_seconds_count

# ---- 1. without the heuristic: unparsed, not guessed
start_sensor -o ebpf.heuristic_sql_detect=false
wait_ready 1 || exit 1
send_statements 5
v=$(wait_metric 1 spyglass_unparsed_bytes_total)
settle
assert_eq "$M without the heuristic" 0 "$(metric_value $M)"
assert_ge "spyglass_unparsed_bytes_total without the heuristic" 1 \
    "$(metric_value spyglass_unparsed_bytes_total)"
stop_sensor

# ---- 2. with it: the same session's statements, counted exactly
start_sensor -o ebpf.heuristic_sql_detect=true
wait_ready 1 || exit 1
send_statements 7
v=$(wait_metric 7 $M db_system_name=postgresql)
settle
assert_count "$M{postgresql}" 7 "$(metric_value $M db_system_name=postgresql)"
assert_count "$M{INSERT,sgh}" 6 \
    "$(metric_value $M db_operation_name=INSERT db_collection_name=sgh)"
assert_count "$M{SELECT,sgh}" 1 \
    "$(metric_value $M db_operation_name=SELECT db_collection_name=sgh)"
assert_eq "server_port label" "$PORT" "$(label_values $M server_port)"
stop_sensor
exec 3>&-
test_done
