#!/bin/bash
# MySQL protocol, client side: the mariadb client (a copy under the
# test's own name, selected by it) runs a known script against a real
# MariaDB server (mariadbd on a private datadir, 127.0.0.1, a test port;
# not selected): one CREATE TABLE, N INSERT, M SELECT, one SELECT of a
# missing table (error 1146, the client goes on with --force), one
# UPDATE, one DELETE.  The client connects with -D, so the database comes
# from the handshake response; in batch mode it sends exactly the
# script's statements (COM_QUERY each) and COM_QUIT, which is not an
# operation.  Counts must be exact per db_operation_name and error_type.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd mariadbd mariadb mariadb-install-db ss
require_bpf
id mysql > /dev/null 2>&1 || skip "needs the mysql user (mariadb-server)"
tmpdir_setup

PORT=$(free_port 18460)
DB=$T/db
mkdir -p "$DB/data" "$DB/run"
chown -R mysql:mysql "$DB"
mariadb-install-db --no-defaults --user=mysql --datadir="$DB/data" \
    --auth-root-authentication-method=normal --skip-test-db \
    > "$T/install.log" 2>&1 || die "mariadb-install-db: $(tail -5 "$T/install.log")"
mariadbd --no-defaults --user=mysql --datadir="$DB/data" \
    --bind-address=127.0.0.1 --port="$PORT" --socket="$DB/run/s.sock" \
    --skip-name-resolve --log-error="$DB/run/mariadbd.log" &
track $!
wait_port "$PORT" 30 || die "mariadbd did not listen on $PORT: $(tail -5 "$DB/run/mariadbd.log")"
mariadb -h127.0.0.1 -P"$PORT" -uroot -e "CREATE DATABASE itest" ||
    die "CREATE DATABASE failed"

N=6	# INSERT
M=4	# SELECT that succeed
SCRIPT=$T/script.sql
{
	echo "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20));"
	for i in $(seq "$N"); do
		echo "INSERT INTO items VALUES ($i, 'item $i');"
	done
	for i in $(seq "$M"); do
		echo "SELECT name FROM items WHERE id = $i;"
	done
	echo "SELECT * FROM missing_table;"
	echo "UPDATE items SET name = 'changed' WHERE id = 2;"
	echo "DELETE FROM items WHERE id = 1;"
} > "$SCRIPT"

CLIENT=$T/sgtest-mariadb
cp "$(command -v mariadb)" "$CLIENT"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-mariadb
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

"$CLIENT" -h127.0.0.1 -P"$PORT" -uroot -D itest -N --force < "$SCRIPT" \
    > "$T/client.out" 2> "$T/client.err"
assert_eq "client's rows" "$(printf 'item 1\nitem 2\nitem 3\nitem 4')" \
    "$(cat "$T/client.out")"
assert_contains "client's error" "$(cat "$T/client.err")" "ERROR 1146"

D=db_client_operation_duration_seconds_count
TOTAL=$((1 + N + M + 1 + 1 + 1))
v=$(wait_metric "$TOTAL" $D)
log "operations counted after wait: $v"
settle
sel=(db_system_name=mysql service_name=sgtest-mariadb server_address=127.0.0.1 server_port="$PORT")
assert_eq "$D{CREATE}" 1 "$(metric_value $D "${sel[@]}" db_operation_name=CREATE)"
assert_eq "$D{INSERT}" "$N" "$(metric_value $D "${sel[@]}" db_operation_name=INSERT)"
assert_eq "$D{SELECT}" $((M + 1)) "$(metric_value $D "${sel[@]}" db_operation_name=SELECT)"
assert_eq "$D{SELECT, 1146}" 1 \
    "$(metric_value $D "${sel[@]}" db_operation_name=SELECT error_type=1146)"
assert_eq "$D{UPDATE}" 1 "$(metric_value $D "${sel[@]}" db_operation_name=UPDATE)"
assert_eq "$D{DELETE}" 1 "$(metric_value $D "${sel[@]}" db_operation_name=DELETE)"
assert_count "mysql client operations" "$TOTAL" "$(metric_value $D)"
assert_eq "db_operation_name labels" "CREATE DELETE INSERT SELECT UPDATE" \
    "$(label_values $D db_operation_name)"
assert_eq "error_type labels" 1146 "$(label_values $D error_type)"
# the table, once sql_describe() names it (collector/protocols/sql.c)
if [ -n "$(label_values $D db_collection_name)" ]; then
	assert_eq "$D{INSERT, items}" "$N" \
	    "$(metric_value $D db_operation_name=INSERT db_collection_name=items)"
	assert_eq "$D{SELECT, missing_table}" 1 \
	    "$(metric_value $D db_operation_name=SELECT db_collection_name=missing_table)"
fi
assert_eq "db_server_operation_duration_seconds_count (mariadbd not selected)" 0 \
    "$(metric_value db_server_operation_duration_seconds_count)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans "$TOTAL" > /dev/null
stop_sensor
assert_eq "INSERT spans" "$N" \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=mysql operation=INSERT error= db_namespace=itest)"
assert_eq "SELECT spans without error" "$M" \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=mysql operation=SELECT error= db_namespace=itest)"
assert_eq "SELECT span, 1146" 1 \
    "$(count_spans "$SENSOR_OUT" kind=client protocol=mysql operation=SELECT error=1146 target="SELECT * FROM missing_table")"
assert_eq "mysql spans, all" "$TOTAL" "$(count_spans "$SENSOR_OUT" protocol=mysql)"
assert_eq "peer_port of the spans" "$PORT" "$(span_field_values "$SENSOR_OUT" peer_port protocol=mysql)"
assert_eq "server spans (mariadbd is not selected)" 0 "$(count_spans "$SENSOR_OUT" kind=server)"

test_done
