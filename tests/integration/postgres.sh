#!/bin/bash
# PostgreSQL 15 clients: psql running a known script (DDL, inserts,
# selects, one select of a missing table) and pgbench in the simple and
# the prepared query modes, each a copy of its executable selected by
# name (so each is a service of its own).  The server (not selected) is
# on a test port: the connections are told by their start-up packet.
# db_client_operation_duration_seconds_count per operation and table,
# the SQLSTATE of the failure, and the client spans must be exact.  Then
# the server selected by its port: db_server_* and server spans.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ss setpriv "$PYTHON"
PGBIN=
for d in /usr/lib/postgresql/*/bin; do PGBIN=$d; done   # the last one

if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/initdb" ] ||
    [ ! -x "$PGBIN/psql" ]; then
	skip "needs postgresql (initdb, postgres, psql)"
fi
[ -x "$PGBIN/pgbench" ] || skip "needs pgbench (postgresql-contrib)"
id postgres >/dev/null 2>&1 || skip "needs the postgres user"
require_bpf
tmpdir_setup

PORT=$(free_port 15440)
PROM_PORT=$(free_port 19440)
N_SIMPLE=20
N_PREPARED=30

# ---- the server, as user postgres, trusting local connections
PGD=$T/pg
mkdir -p "$PGD"
chown postgres "$PGD"
as_postgres "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres \
    > "$T/initdb.log" 2>&1 || die "initdb: $(tail -n 5 "$T/initdb.log")"
as_postgres_exec "$PGBIN/postgres" -D "$PGD/data" -c listen_addresses=127.0.0.1 \
    -p "$PORT" -k "$PGD" -c fsync=off > "$T/postgres.log" 2>&1 &
PG_PID=$!
track "$PG_PID"
wait_port "$PORT" 20 || die "postgres did not listen: $(tail -n 5 "$T/postgres.log")"
PSQL=("$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres)
# the not-selected clients prepare the database
for _ in $(seq 50); do "${PSQL[@]}" -c 'SELECT 1' postgres >/dev/null 2>&1 && break; sleep 0.1; done
"${PSQL[@]}" -c 'CREATE DATABASE sgtest' postgres > /dev/null ||
    die "CREATE DATABASE failed"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -s 1 -q sgtest \
    > "$T/pgbench-init.log" 2>&1 || die "pgbench -i: $(tail -n 5 "$T/pgbench-init.log")"

# ---- the selected clients: copies of the executables
cp "$PGBIN/psql" "$T/sgtest-psql-$$"
cp "$PGBIN/pgbench" "$T/sgtest-pgbench-s-$$"
cp "$PGBIN/pgbench" "$T/sgtest-pgbench-p-$$"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-p(sql|gbench-[sp])-$$
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

cat > "$T/script.sql" <<'SQL'
CREATE TABLE sgt_items (id int primary key, name text);
INSERT INTO sgt_items VALUES (1, 'one');
INSERT INTO sgt_items VALUES (2, 'it''s');
INSERT INTO sgt_items VALUES (3, E'three\n');
INSERT INTO sgt_items VALUES (4, $$four$$);
INSERT INTO sgt_items VALUES (5, 'five');
SELECT * FROM sgt_items WHERE id = 1;
SELECT count(*) FROM sgt_items;
SELECT name FROM "sgt_items" WHERE id > 2;
SELECT * FROM sgt_missing;
SQL
"$T/sgtest-psql-$$" -X -h 127.0.0.1 -p "$PORT" -U postgres -f "$T/script.sql" \
    sgtest > "$T/psql.out" 2> "$T/psql.err"
assert_eq "psql exit status" 0 $?
assert_contains "psql's error" "$(cat "$T/psql.err")" 'relation "sgt_missing" does not exist'
PGB=(-h 127.0.0.1 -p "$PORT" -U postgres -n -c 1)
"$T/sgtest-pgbench-s-$$" "${PGB[@]}" -t "$N_SIMPLE" sgtest > "$T/pgbench-s.log" 2>&1
assert_eq "pgbench (simple) exit status" 0 $?
"$T/sgtest-pgbench-p-$$" "${PGB[@]}" -t "$N_PREPARED" -M prepared sgtest \
    > "$T/pgbench-p.log" 2>&1
assert_eq "pgbench (prepared) exit status" 0 $?
assert_contains "pgbench (simple)" "$(cat "$T/pgbench-s.log")" \
    "number of transactions actually processed: $N_SIMPLE/$N_SIMPLE"
assert_contains "pgbench (prepared)" "$(cat "$T/pgbench-p.log")" \
    "number of transactions actually processed: $N_PREPARED/$N_PREPARED"

# psql: 10 statements; pgbench: per transaction 7, and 2 selects of its
# own at start (the scale: pgbench_branches; the partitions: pg_class)
TOTAL=$((10 + 7 * N_SIMPLE + 2 + 7 * N_PREPARED + 2))
M=db_client_operation_duration_seconds_count
v=$(WAIT_METRIC_TRIES=100 wait_metric "$TOTAL" $M db_system_name=postgresql)
log "operations counted after wait: $v"
settle
assert_count "$M{postgresql}" "$TOTAL" "$(metric_value $M db_system_name=postgresql)"
assert_eq "server_port label" "$PORT" "$(label_values $M server_port)"
assert_eq "server_address label" 127.0.0.1 "$(label_values $M server_address)"

svc=(db_system_name=postgresql service_name="sgtest-psql-$$")
op() {   # op EXPECTED OPERATION TABLE [LABEL=VALUE...] ("" no table)
	local want=$1 o=$2 t=$3 f=()
	shift 3
	[ -n "$t" ] && f=(db_collection_name="$t")
	assert_count "$M{${svc[1]#service_name=},$o,$t${*:+,$*}}" "$want" \
	    "$(metric_value $M "${svc[@]}" db_operation_name="$o" "${f[@]}" "$@")"
}
op 1 CREATE sgt_items
op 5 INSERT sgt_items
op 3 SELECT sgt_items
op 1 SELECT sgt_missing error_type=42P01
assert_eq "psql operations" 10 "$(metric_value $M "${svc[@]}")"
assert_eq "psql errors" 1 "$(metric_value $M "${svc[@]}" error_type=42P01)"

for mode in s p; do
	n=$N_SIMPLE
	[ $mode = p ] && n=$N_PREPARED
	svc=(db_system_name=postgresql service_name="sgtest-pgbench-$mode-$$")
	op "$n" BEGIN ""
	op "$n" UPDATE pgbench_accounts
	op "$n" SELECT pgbench_accounts
	op "$n" UPDATE pgbench_tellers
	op "$n" UPDATE pgbench_branches
	op "$n" INSERT pgbench_history
	op "$n" END ""
	op 1 SELECT pgbench_branches
	assert_eq "pgbench-$mode operations" $((7 * n + 2)) \
	    "$(metric_value $M "${svc[@]}")"
	assert_eq "pgbench-$mode errors" 0 \
	    "$(metric_value $M "${svc[@]}" error_type=42P01)"
done
assert_eq "db_server_operation_duration_seconds_count (server not selected)" 0 \
    "$(metric_value db_server_operation_duration_seconds_count)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

log "spans before SIGTERM: $(wait_spans "$TOTAL" kind=client)"
stop_sensor
S=(kind=client protocol=postgresql)
assert_count "client spans" "$TOTAL" "$(count_spans "$SENSOR_OUT" "${S[@]}")"
assert_eq "db_namespace of the spans" sgtest \
    "$(span_field_values "$SENSOR_OUT" db_namespace "${S[@]}")"
assert_eq "spans of the failed select" 1 \
    "$(count_spans "$SENSOR_OUT" "${S[@]}" operation=SELECT collection=sgt_missing error=42P01)"
assert_eq "psql's inserts, literals replaced" \
    "INSERT INTO sgt_items VALUES (?, ?);" \
    "$(span_field_values "$SENSOR_OUT" target "${S[@]}" operation=INSERT collection=sgt_items)"
assert_eq "pgbench's prepared select (its text from the Parse)" \
    "SELECT abalance FROM pgbench_accounts WHERE aid = \$1;" \
    "$(span_field_values "$SENSOR_OUT" target "${S[@]}" service_name="sgtest-pgbench-p-$$" operation=SELECT collection=pgbench_accounts)"
assert_eq "peer_port of the spans" "$PORT" \
    "$(span_field_values "$SENSOR_OUT" peer_port "${S[@]}")"
assert_eq "spans with an unknown operation" 0 \
    "$(count_spans "$SENSOR_OUT" "${S[@]}" operation_known=False)"

# ---- the server side: postgres selected by its port, psql not
start_sensor -o discovery.open_port="$PORT" -o trace_printer=json
wait_ready 1 || exit 1
cat > "$T/script2.sql" <<'SQL'
SELECT * FROM sgt_items WHERE id = 1;
SELECT count(*) FROM sgt_items;
UPDATE sgt_items SET name = 'x' WHERE id = 2;
SELECT * FROM sgt_missing;
SQL
"${PSQL[@]}" -f "$T/script2.sql" sgtest > /dev/null 2>&1
M=db_server_operation_duration_seconds_count
v=$(wait_metric 4 $M db_system_name=postgresql)
settle
assert_count "$M{postgresql}" 4 "$(metric_value $M db_system_name=postgresql)"
assert_count "$M{SELECT,sgt_items}" 2 \
    "$(metric_value $M db_operation_name=SELECT db_collection_name=sgt_items)"
assert_count "$M{UPDATE,sgt_items}" 1 \
    "$(metric_value $M db_operation_name=UPDATE db_collection_name=sgt_items)"
assert_count "$M{SELECT,sgt_missing,42P01}" 1 \
    "$(metric_value $M db_operation_name=SELECT db_collection_name=sgt_missing error_type=42P01)"
assert_eq "db_client_operation_duration_seconds_count (psql not selected)" 0 \
    "$(metric_value db_client_operation_duration_seconds_count)"
stop_sensor
assert_eq "server spans" 4 "$(count_spans "$SENSOR_OUT" kind=server protocol=postgresql)"
assert_eq "db_namespace of the server spans" sgtest \
    "$(span_field_values "$SENSOR_OUT" db_namespace kind=server protocol=postgresql)"

test_done
