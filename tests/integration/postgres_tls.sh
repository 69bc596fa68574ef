#!/bin/bash
# PostgreSQL over TLS: psql with sslmode=require against a server with
# ssl=on.  The sensor reads the statements where libpq hands them to
# OpenSSL (the TLS uprobes); the plaintext stream starts with the
# start-up message, so it is told on any port.  Exact counts per
# operation, the database from the start-up, and no ciphertext taken for
# PostgreSQL or counted as unparsed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd setpriv openssl
PGBIN=
for d in /usr/lib/postgresql/*/bin; do PGBIN=$d; done
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/psql" ]; then
	skip "needs postgresql (initdb, postgres, psql)"
fi
id postgres >/dev/null 2>&1 || skip "needs the postgres user"
require_bpf
tmpdir_setup

PORT=$(free_port 15470)
PROM_PORT=$(free_port 19470)
PGD=$T/pg
mkdir -p "$PGD"
tls_cert
cp "$T/cert.pem" "$T/key.pem" "$PGD/"
chown -R postgres "$PGD"
chmod 0600 "$PGD/key.pem"
as_postgres "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres \
    > "$T/initdb.log" 2>&1 || die "initdb: $(tail -n 5 "$T/initdb.log")"
as_postgres_exec "$PGBIN/postgres" -D "$PGD/data" -c listen_addresses=127.0.0.1 \
    -p "$PORT" -k "$PGD" -c fsync=off -c ssl=on \
    -c ssl_cert_file="$PGD/cert.pem" -c ssl_key_file="$PGD/key.pem" \
    > "$T/postgres.log" 2>&1 &
track $!
wait_port "$PORT" 20 || die "postgres did not listen: $(tail -n 5 "$T/postgres.log")"
CONN="host=127.0.0.1 port=$PORT user=postgres sslmode=require"
for _ in $(seq 50); do
	"$PGBIN/psql" -X "$CONN dbname=postgres" -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.1
done
"$PGBIN/psql" -X -q "$CONN dbname=postgres" -c 'CREATE DATABASE sgtls' ||
    die "CREATE DATABASE failed"

cp "$PGBIN/psql" "$T/sgtest-tpsql-$$"
SENSOR_INI_EXTRA="[discovery]
executable_name = sgtest-tpsql-$$
"
start_sensor -o trace_printer=json
wait_ready 0 || exit 1

cat > "$T/script.sql" <<'SQL'
SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();
CREATE TABLE sgt_secure (id int, note text);
INSERT INTO sgt_secure VALUES (1, 'classified');
INSERT INTO sgt_secure VALUES (2, 'secret');
SELECT note FROM sgt_secure WHERE id = 2;
SELECT * FROM sgt_nowhere;
SQL
"$T/sgtest-tpsql-$$" -X -At "$CONN dbname=sgtls" -f "$T/script.sql" \
    > "$T/psql.out" 2> "$T/psql.err"
assert_eq "psql's connection is encrypted" t "$(head -n 1 "$T/psql.out")"
assert_contains "psql's error" "$(cat "$T/psql.err")" 'relation "sgt_nowhere" does not exist'

M=db_client_operation_duration_seconds_count
svc=(db_system_name=postgresql service_name="sgtest-tpsql-$$")
v=$(wait_metric 6 $M "${svc[@]}")
settle
assert_count "$M{postgresql}" 6 "$(metric_value $M "${svc[@]}")"
assert_count "$M{SELECT,pg_stat_ssl}" 1 \
    "$(metric_value $M "${svc[@]}" db_operation_name=SELECT db_collection_name=pg_stat_ssl)"
assert_count "$M{INSERT,sgt_secure}" 2 \
    "$(metric_value $M "${svc[@]}" db_operation_name=INSERT db_collection_name=sgt_secure)"
assert_count "$M{SELECT,sgt_nowhere,42P01}" 1 \
    "$(metric_value $M "${svc[@]}" db_operation_name=SELECT db_collection_name=sgt_nowhere error_type=42P01)"
assert_eq "server_port label" "$PORT" "$(label_values $M server_port)"
assert_eq "spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
assert_eq "spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"

wait_spans 6 kind=client >/dev/null
stop_sensor
S=(kind=client protocol=postgresql)
assert_count "client spans" 6 "$(count_spans "$SENSOR_OUT" "${S[@]}")"
assert_eq "db_namespace of the spans" sgtls \
    "$(span_field_values "$SENSOR_OUT" db_namespace "${S[@]}")"
assert_eq "the insert's text, its literals replaced" \
    "INSERT INTO sgt_secure VALUES (?, ?);" \
    "$(span_field_values "$SENSOR_OUT" target "${S[@]}" operation=INSERT)"
assert_eq "peer_port of the spans" "$PORT" \
    "$(span_field_values "$SENSOR_OUT" peer_port "${S[@]}")"
test_done
