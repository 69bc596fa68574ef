/*
 * The MySQL/MariaDB protocol parser (collector/protocols/mysql.c), on
 * real bytes between the mariadb client, libmariadb's binary protocol and
 * mariadbd (mysql_captures.h), and on packets built from the protocol's
 * documentation where no client here produces them (CLIENT_DEPRECATE_EOF,
 * several results, MariaDB's direct execution and progress reports).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mysql.h"
#include "mysql_captures.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	64
#define STEP	1000

struct rec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
};

static struct mysql_conn conn;
static struct rec rec;

static void
rec_emit(void *ctx, const struct sg_exchange *ex)
{
	struct rec *r = ctx;

	assert_true(r->n < REC_MAX);
	r->ex[r->n++] = *ex;
}

static void
start(uint8_t role)
{
	memset(&conn, 0xa5, sizeof(conn));	/* init must not rely on zeros */
	mysql_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

static void
feed(uint8_t dir, uint64_t ts, const void *p, size_t captured, uint64_t len)
{
	mysql_on_data(&conn, dir, ts, len, p, captured, rec_emit, &rec);
}

/* Records [from, to) of a capture as seen by role (the client writes
 * 'C'), each read/write at ts (i + 1) * STEP, `cap` bytes of it visible
 * (0: all that is kept). */
static void
replay(const struct cap_rec *r, size_t from, size_t to, uint8_t role,
    size_t cap)
{
	for (size_t i = from; i < to; i++) {
		uint8_t dir = (r[i].who == 'C') == (role != SG_ROLE_SERVER) ?
		    W : R;
		size_t n = cap != 0 && cap < r[i].n ? cap : r[i].n;

		feed(dir, (i + 1) * STEP, r[i].bytes, n, r[i].len);
	}
}

/* The same, one byte per read/write: packets split everywhere. */
static void
replay_bytes(const struct cap_rec *r, size_t from, size_t to, uint8_t role)
{
	for (size_t i = from; i < to; i++) {
		uint8_t dir = (r[i].who == 'C') == (role != SG_ROLE_SERVER) ?
		    W : R;

		assert_int_equal(r[i].n, r[i].len);
		for (size_t b = 0; b < r[i].len; b++)
			feed(dir, (i + 1) * STEP, r[i].bytes + b, 1, 1);
	}
}

#define NREC(a)	(sizeof(a) / sizeof((a)[0]))

static void
expect_ex(int i, uint8_t role, const char *op, const char *target,
    const char *collection, const char *db, const char *error,
    uint64_t start_ns, uint64_t end_ns)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_MYSQL);
	assert_int_equal(ex->role, role);
	assert_string_equal(ex->op, op);
	assert_string_equal(ex->target, target);
	/* sql_describe() may not name tables yet (sql.c is being completed) */
	if (ex->collection[0] != '\0')
		assert_string_equal(ex->collection, collection);
	assert_string_equal(ex->db_namespace, db);
	assert_string_equal(ex->error, error);
	assert_int_equal(ex->status, 0);
	assert_int_equal(ex->start_ns, start_ns);
	assert_int_equal(ex->end_ns, end_ns);
}

static void
expect_counters(uint64_t unparsed, uint64_t unpaired, uint64_t dropped,
    uint64_t unknown)
{
	struct sg_proto_counters k;

	mysql_ops.counters(&conn, &k);
	assert_int_equal(k.unparsed, unparsed);
	assert_int_equal(k.unpaired, unpaired);
	assert_int_equal(k.dropped, dropped);
	assert_int_equal(k.unknown, unknown);
}

/* cap_text: the records' order (ts = (index + 1) * STEP):
 * 0 greeting, 1 handshake response, 2 OK, 3/4 CREATE DATABASE, 5/6
 * SELECT DATABASE(), 7/8 COM_INIT_DB shop, 9/10 CREATE TABLE, 11/12
 * INSERT, 13/14 SELECT, 15/16 SELECT missing (1146), 17 COM_QUIT. */
static void
expect_text_session(uint8_t role, bool from_start)
{
	int i = 0;

	assert_int_equal(rec.n, 6);
	expect_ex(i++, role, "CREATE", "CREATE DATABASE IF NOT EXISTS shop",
	    "", "", "", 4 * STEP, 5 * STEP);
	expect_ex(i++, role, "SELECT", "SELECT DATABASE()", "", "", "",
	    6 * STEP, 7 * STEP);
	expect_ex(i++, role, "CREATE",
	    "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))",
	    "items", "shop", "", 10 * STEP, 11 * STEP);
	expect_ex(i++, role, "INSERT",
	    "INSERT INTO items VALUES (1,'pen'),(2,'ink')", "items", "shop",
	    "", 12 * STEP, 13 * STEP);
	expect_ex(i++, role, "SELECT", "SELECT id, name FROM items", "items",
	    "shop", "", 14 * STEP, 15 * STEP);
	expect_ex(i++, role, "SELECT", "SELECT * FROM missing_table",
	    "missing_table", "shop", "1146", 16 * STEP, 17 * STEP);
	for (i = 0; i < rec.n; i++)
		assert_int_equal(rec.ex[i].flags, 0);
	assert_int_equal(mysql_pending(&conn), 0);
	assert_true(mysql_idle(&conn));
	(void)from_start;
}

static void
test_text_client(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(cap_text, 0, NREC(cap_text), SG_ROLE_CLIENT, 0);
	expect_text_session(SG_ROLE_CLIENT, true);
	assert_int_equal(rec.ex[0].req_size, 35);
	assert_int_equal(rec.ex[4].resp_size, 138);
	expect_counters(0, 0, 0, 0);
	assert_true(conn.client_caps & 0x200);
	assert_true(conn.server_caps & 0x200);
}

static void
test_text_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	replay(cap_text, 0, NREC(cap_text), SG_ROLE_SERVER, 0);
	expect_text_session(SG_ROLE_SERVER, true);
	expect_counters(0, 0, 0, 0);
}

/* A connection that predates the sensor: the first thing seen is the
 * client writing CREATE DATABASE. */
static void
test_text_unknown_role(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	replay(cap_text, 3, NREC(cap_text), SG_ROLE_CLIENT, 0);
	assert_int_equal(mysql_ops.role(&conn), SG_ROLE_CLIENT);
	expect_text_session(SG_ROLE_CLIENT, false);

	/* the server's side of it, its first read a response: unparsed */
	start(SG_ROLE_UNKNOWN);
	replay(cap_text, 2, NREC(cap_text), SG_ROLE_SERVER, 0);
	assert_int_equal(mysql_ops.role(&conn), SG_ROLE_SERVER);
	expect_text_session(SG_ROLE_SERVER, false);
	expect_counters(11, 0, 0, 0);
}

/* Every packet split across reads, headers too. */
static void
test_text_byte_by_byte(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay_bytes(cap_text, 0, NREC(cap_text), SG_ROLE_CLIENT);
	expect_text_session(SG_ROLE_CLIENT, true);
	expect_counters(0, 0, 0, 0);
	start(SG_ROLE_SERVER);
	replay_bytes(cap_text, 0, NREC(cap_text), SG_ROLE_SERVER);
	expect_text_session(SG_ROLE_SERVER, true);
}

/* 16 bytes of each read/write: statements cut, result sets followed by
 * count until they run past the capture, then ended by the next
 * command; the handshake's database is not known any more. */
static void
test_text_truncated(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(cap_text, 0, NREC(cap_text), SG_ROLE_CLIENT, 16);
	assert_int_equal(rec.n, 6);
	expect_ex(0, SG_ROLE_CLIENT, "CREATE", "CREATE DATA", "", "", "",
	    4 * STEP, 5 * STEP);
	expect_ex(1, SG_ROLE_CLIENT, "SELECT", "SELECT DATA", "", "", "",
	    6 * STEP, 7 * STEP);
	/* COM_INIT_DB (9 bytes) fits */
	expect_ex(2, SG_ROLE_CLIENT, "CREATE", "CREATE TABL", "", "shop", "",
	    10 * STEP, 11 * STEP);
	expect_ex(4, SG_ROLE_CLIENT, "SELECT", "SELECT id, ", "", "shop", "",
	    14 * STEP, 15 * STEP);
	expect_ex(5, SG_ROLE_CLIENT, "SELECT", "SELECT * FR", "", "shop",
	    "1146", 16 * STEP, 17 * STEP);
	expect_counters(0, 0, 0, 0);

	/* 8 bytes: COM_INIT_DB's name is cut, not guessed */
	start(SG_ROLE_CLIENT);
	replay(cap_text, 0, NREC(cap_text), SG_ROLE_CLIENT, 8);
	assert_int_equal(rec.n, 6);
	expect_ex(2, SG_ROLE_CLIENT, "", "CRE", "", "", "", 10 * STEP,
	    11 * STEP);
	expect_ex(5, SG_ROLE_CLIENT, "", "SEL", "", "", "1146", 16 * STEP,
	    17 * STEP);
	assert_int_equal(rec.ex[5].flags, SG_EX_OP_UNKNOWN);
	assert_int_equal(mysql_pending(&conn), 0);
}

/* cap_ps: 0 greeting, 1 handshake response (database shop), 2 OK, 3/4
 * CREATE TABLE, 5/6 INSERT IGNORE, 7/8 PREPARE SELECT (id 1), 9/10 and
 * 11/12 EXECUTE 1, 13 CLOSE 1 + PREPARE UPDATE (id 2), 14 its OK, 15/16
 * and 17/18 EXECUTE 2, 19 CLOSE 2, 20/21 PREPARE failing 1146, 22 QUIT. */
static void
expect_ps_session(uint8_t role)
{
	static const char sel[] = "SELECT id, name FROM items WHERE id > 0";
	static const char upd[] = "UPDATE items SET name = 'x' WHERE id = 3";

	assert_int_equal(rec.n, 7);
	expect_ex(0, role, "CREATE", "CREATE TABLE IF NOT EXISTS items (id INT "
	    "PRIMARY KEY, name VARCHAR(20))", "items", "shop", "", 4 * STEP,
	    5 * STEP);
	expect_ex(1, role, "INSERT",
	    "INSERT IGNORE INTO items VALUES (1,'pen'),(2,'ink')", "items",
	    "shop", "", 6 * STEP, 7 * STEP);
	expect_ex(2, role, "SELECT", sel, "items", "shop", "", 10 * STEP,
	    11 * STEP);
	expect_ex(3, role, "SELECT", sel, "items", "shop", "", 12 * STEP,
	    13 * STEP);
	expect_ex(4, role, "UPDATE", upd, "items", "shop", "", 16 * STEP,
	    17 * STEP);
	expect_ex(5, role, "UPDATE", upd, "items", "shop", "", 18 * STEP,
	    19 * STEP);
	/* a PREPARE is reported only when it fails */
	expect_ex(6, role, "SELECT", "SELECT * FROM nothere", "nothere",
	    "shop", "1146", 21 * STEP, 22 * STEP);
	assert_int_equal(mysql_pending(&conn), 0);
}

static void
test_prepared_client(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(cap_ps, 0, NREC(cap_ps), SG_ROLE_CLIENT, 0);
	expect_ps_session(SG_ROLE_CLIENT);
	expect_counters(0, 0, 0, 0);
	/* both statements were closed */
	for (unsigned i = 0; i < MYSQL_MAX_STMTS; i++)
		assert_false(conn.stmts[i].used);
}

static void
test_prepared_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	replay(cap_ps, 0, NREC(cap_ps), SG_ROLE_SERVER, 0);
	expect_ps_session(SG_ROLE_SERVER);
	start(SG_ROLE_SERVER);
	replay_bytes(cap_ps, 0, NREC(cap_ps), SG_ROLE_SERVER);
	expect_ps_session(SG_ROLE_SERVER);
}

/* Joined after the PREPARE: its executions are reported, the statement
 * unknown (and counted). */
static void
test_prepared_unknown_statement(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	replay(cap_ps, 9, 13, SG_ROLE_CLIENT, 0);
	assert_int_equal(rec.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rec.ex[i].flags,
		    SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN);
		assert_string_equal(rec.ex[i].op, "");
		assert_string_equal(rec.ex[i].error, "");
		assert_string_equal(rec.ex[i].db_namespace, "");
	}
	expect_counters(0, 0, 0, 2);
}

/* 80 kB of rows in two reads of which 256 bytes are seen: the result set
 * ends when the client sends its next command, at the last read. */
static void
test_big_result_past_capture(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(cap_big, 0, NREC(cap_big), SG_ROLE_CLIENT, 256);
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_CLIENT, "SELECT",
	    "SELECT seq, 'some padding text' FROM seq_1_to_3000", "seq_1_to_3000",
	    "shop", "", 4 * STEP, 6 * STEP);
	assert_int_equal(rec.ex[0].resp_size, 65536 + 14488);
	expect_ex(1, SG_ROLE_CLIENT, "SELECT", "SELECT 1", "", "shop", "",
	    7 * STEP, 8 * STEP);
	expect_counters(0, 0, 0, 0);

	/* nothing after it: the connection's close ends it */
	start(SG_ROLE_CLIENT);
	replay(cap_big, 0, 6, SG_ROLE_CLIENT, 256);
	assert_int_equal(rec.n, 0);
	assert_int_equal(mysql_pending(&conn), 1);
	mysql_on_close(&conn, 100 * STEP, rec_emit, &rec);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].end_ns, 6 * STEP);
	assert_int_equal(rec.ex[0].flags, 0);

	/* or its going quiet for longer than the timeout */
	start(SG_ROLE_CLIENT);
	replay(cap_big, 0, 6, SG_ROLE_CLIENT, 256);
	assert_int_equal(mysql_expire(&conn, 7 * STEP, 5 * STEP, rec_emit,
	    &rec), 0);
	assert_int_equal(rec.n, 0);
	assert_int_equal(mysql_expire(&conn, 12 * STEP, 5 * STEP, rec_emit,
	    &rec), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].end_ns, 6 * STEP);
	assert_int_equal(rec.ex[0].flags, 0);
}

/*
 * Packets built from the protocol's documentation.
 */
struct pkts {
	uint8_t	b[2048];
	size_t	n;
};

static void
pk(struct pkts *s, uint8_t seq, const void *payload, size_t len)
{
	assert_true(s->n + 4 + len <= sizeof(s->b));
	s->b[s->n++] = (uint8_t)len;
	s->b[s->n++] = (uint8_t)(len >> 8);
	s->b[s->n++] = (uint8_t)(len >> 16);
	s->b[s->n++] = seq;
	memcpy(s->b + s->n, payload, len);
	s->n += len;
}

static void
pk_query(struct pkts *s, const char *q)
{
	uint8_t b[256];
	size_t n = strlen(q);

	b[0] = 0x03;
	memcpy(b + 1, q, n);
	pk(s, 0, b, n + 1);
}

static void
send_all(uint8_t dir, uint64_t ts, struct pkts *s)
{
	feed(dir, ts, s->b, s->n, s->n);
	s->n = 0;
}

/* A column definition: catalog "def", schema, table, org_table, name,
 * org_name, then the fixed fields. */
static const uint8_t coldef[] = "\x03" "def" "\x01" "d" "\x01" "t" "\x01" "t"
    "\x01" "a" "\x01" "a" "\x0c" "\x3f\x00" "\x0b\x00\x00\x00" "\x03"
    "\x00\x00" "\x00" "\x00\x00";

/* CLIENT_DEPRECATE_EOF: no EOF after the definitions, an OK (0xfe) ends
 * the rows; with capabilities known and not. */
static void
deprecate_eof_session(bool caps_known)
{
	static const uint8_t one[] = { 0x01 }, row[] = { 0x01, '7' };
	static const uint8_t ok_fe[] = { 0xfe, 0, 0, 0x02, 0, 0, 0 };
	static const uint8_t ok[] = { 0x00, 0x01, 0x00, 0x02, 0, 0, 0 };
	struct pkts s = { .n = 0 };

	start(SG_ROLE_CLIENT);
	if (caps_known)
		conn.client_caps = 0x01000200;	/* DEPRECATE_EOF, 4.1 */
	pk_query(&s, "SELECT a FROM t");
	send_all(W, 1000, &s);
	pk(&s, 1, one, sizeof(one));
	pk(&s, 2, coldef, sizeof(coldef) - 1);
	pk(&s, 3, row, sizeof(row));
	pk(&s, 4, row, sizeof(row));
	pk(&s, 5, ok_fe, sizeof(ok_fe));
	send_all(R, 2000, &s);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "SELECT", "SELECT a FROM t", "t", "", "",
	    1000, 2000);
	/* no rows: the OK straight after the definitions */
	pk_query(&s, "SELECT a FROM t WHERE 0");
	send_all(W, 3000, &s);
	pk(&s, 1, one, sizeof(one));
	pk(&s, 2, coldef, sizeof(coldef) - 1);
	pk(&s, 3, ok_fe, sizeof(ok_fe));
	send_all(R, 4000, &s);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.ex[1].end_ns, 4000);
	pk_query(&s, "DELETE FROM t");
	send_all(W, 5000, &s);
	pk(&s, 1, ok, sizeof(ok));
	send_all(R, 6000, &s);
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "DELETE", "DELETE FROM t", "t", "", "",
	    5000, 6000);
	assert_true(mysql_idle(&conn));
}

static void
test_deprecate_eof(void **state)
{
	(void)state;
	deprecate_eof_session(true);
	deprecate_eof_session(false);
}

/* A CALL's results: a result set with SERVER_MORE_RESULTS_EXISTS, then
 * the final OK; a MariaDB progress report (ERR 0xffff) is no answer. */
static void
test_more_results_and_progress(void **state)
{
	static const uint8_t one[] = { 0x01 }, row[] = { 0x01, '7' };
	static const uint8_t eof[] = { 0xfe, 0, 0, 0x02, 0 };
	static const uint8_t eof_more[] = { 0xfe, 0, 0, 0x0a, 0 };
	static const uint8_t ok[] = { 0x00, 0, 0, 0x02, 0, 0, 0 };
	static const uint8_t progress[] = { 0xff, 0xff, 0xff, 1, 1, 0, 0, 0,
	    0, 0 };
	static const uint8_t err[] = { 0xff, 0x28, 0x04, '#', '4', '2', '0',
	    '0', '0', 'x' };
	struct pkts s = { .n = 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	pk_query(&s, "CALL p()");
	send_all(W, 1000, &s);
	pk(&s, 1, progress, sizeof(progress));
	pk(&s, 2, one, sizeof(one));
	pk(&s, 3, coldef, sizeof(coldef) - 1);
	pk(&s, 4, eof, sizeof(eof));
	pk(&s, 5, row, sizeof(row));
	pk(&s, 6, eof_more, sizeof(eof_more));
	send_all(R, 2000, &s);
	assert_int_equal(rec.n, 0);
	pk(&s, 7, ok, sizeof(ok));
	send_all(R, 3000, &s);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "CALL", "CALL p()", "", "", "", 1000,
	    3000);
	/* an error in the middle of the rows ends it */
	pk_query(&s, "SELECT a FROM t");
	send_all(W, 4000, &s);
	pk(&s, 1, one, sizeof(one));
	pk(&s, 2, coldef, sizeof(coldef) - 1);
	pk(&s, 3, eof, sizeof(eof));
	pk(&s, 4, row, sizeof(row));
	pk(&s, 5, err, sizeof(err));
	send_all(R, 5000, &s);
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "SELECT", "SELECT a FROM t", "t", "",
	    "1064", 4000, 5000);
}

/* MariaDB's direct execution: PREPARE and EXECUTE (id -1) in one write,
 * then both answers in one read; then COM_PING, answered, not reported. */
static void
test_direct_execution(void **state)
{
	static const uint8_t prep[] = "\x16" "SELECT a FROM t WHERE a = ?";
	static const uint8_t exec[] = { 0x17, 0xff, 0xff, 0xff, 0xff, 0, 1, 0,
	    0, 0, 0x01, 0x03, 0x00, 7, 0, 0, 0 };
	static const uint8_t prep_ok[] = { 0x00, 9, 0, 0, 0, 1, 0, 1, 0, 0, 0,
	    0 };
	static const uint8_t eof[] = { 0xfe, 0, 0, 0x02, 0 };
	static const uint8_t cc[] = { 0x01 }, brow[] = { 0x00, 0x00, 7, 0, 0,
	    0 };
	static const uint8_t ping[] = { 0x0e }, ok[] = { 0, 0, 0, 2, 0, 0, 0 };
	struct pkts s = { .n = 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	pk(&s, 0, prep, sizeof(prep) - 1);
	pk(&s, 0, exec, sizeof(exec));
	send_all(W, 1000, &s);
	assert_int_equal(mysql_pending(&conn), 2);
	pk(&s, 1, prep_ok, sizeof(prep_ok));
	pk(&s, 2, coldef, sizeof(coldef) - 1);
	pk(&s, 3, eof, sizeof(eof));
	pk(&s, 4, coldef, sizeof(coldef) - 1);
	pk(&s, 5, eof, sizeof(eof));
	send_all(R, 2000, &s);
	pk(&s, 1, cc, sizeof(cc));
	pk(&s, 2, coldef, sizeof(coldef) - 1);
	pk(&s, 3, eof, sizeof(eof));
	pk(&s, 4, brow, sizeof(brow));
	pk(&s, 5, eof, sizeof(eof));
	send_all(R, 3000, &s);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "SELECT", "SELECT a FROM t WHERE a = ?",
	    "t", "", "", 1000, 3000);
	pk(&s, 0, ping, sizeof(ping));
	send_all(W, 4000, &s);
	pk(&s, 1, ok, sizeof(ok));
	send_all(R, 5000, &s);
	assert_int_equal(rec.n, 1);
	assert_true(mysql_idle(&conn));
	/* the statement is remembered under its id */
	assert_int_equal(conn.stmts[0].id, 9);
	expect_counters(0, 0, 0, 0);
}

/* Statements beyond the table forget the oldest (counted as dropped);
 * commands past MYSQL_MAX_PENDING are dropped. */
static void
test_bounds(void **state)
{
	static const uint8_t prep[] = "\x16" "SELECT 1";
	uint8_t ok[12] = { 0 }, exec[10] = { 0x17 };
	struct pkts s = { .n = 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	for (unsigned i = 0; i < MYSQL_MAX_STMTS + 3; i++) {
		pk(&s, 0, prep, sizeof(prep) - 1);
		send_all(W, 1000 + i * 10, &s);
		ok[1] = (uint8_t)(i + 1);
		pk(&s, 1, ok, sizeof(ok));
		send_all(R, 1005 + i * 10, &s);
	}
	expect_counters(0, 0, 3, 0);
	exec[1] = 1;	/* forgotten */
	exec[6] = 1;
	pk(&s, 0, exec, sizeof(exec));
	exec[1] = MYSQL_MAX_STMTS + 3;
	pk(&s, 0, exec, sizeof(exec));
	for (unsigned i = 0; i < MYSQL_MAX_PENDING; i++)
		pk_query(&s, "SELECT 2");
	send_all(W, 5000, &s);
	assert_int_equal(mysql_pending(&conn), MYSQL_MAX_PENDING);
	expect_counters(0, 0, 5, 1);
	mysql_on_close(&conn, 6000, rec_emit, &rec);
	assert_int_equal(rec.n, MYSQL_MAX_PENDING);
	assert_int_equal(rec.ex[0].flags,
	    SG_EX_TIMED_OUT | SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN);
	assert_int_equal(rec.ex[1].flags, SG_EX_TIMED_OUT);
	assert_string_equal(rec.ex[1].target, "SELECT 1");
	assert_true(mysql_idle(&conn));
}

/* A response nobody asked for is counted once; a timed-out command. */
static void
test_unpaired_and_timeout(void **state)
{
	static const uint8_t ok[] = { 0, 0, 0, 2, 0, 0, 0 };
	struct pkts s = { .n = 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	pk_query(&s, "SELECT 1");
	send_all(W, 1000, &s);
	assert_int_equal(mysql_expire(&conn, 1500, 1000, rec_emit, &rec), 0);
	assert_int_equal(mysql_expire(&conn, 2500, 1000, rec_emit, &rec), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[0].end_ns, 2500);
	pk(&s, 1, ok, sizeof(ok));
	send_all(R, 3000, &s);
	pk(&s, 1, ok, sizeof(ok));
	send_all(R, 3100, &s);
	expect_counters(0, 1, 0, 0);
	/* the next command is answered again */
	pk_query(&s, "SELECT 2");
	send_all(W, 4000, &s);
	pk(&s, 1, ok, sizeof(ok));
	send_all(R, 5000, &s);
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "SELECT", "SELECT 2", "", "", "", 4000,
	    5000);
}

static void
test_sniff(void **state)
{
	static const uint8_t q[] = "\x0f\x00\x00\x00\x03SELECT * FROM t";
	static const uint8_t ping[] = { 1, 0, 0, 0, 0x0e };
	static const uint8_t exec[] = { 10, 0, 0, 0, 0x17, 1, 0, 0, 0, 0, 1, 0,
	    0, 0 };
	const struct cap_rec *g = &cap_text[0];

	(void)state;
	proto_set_sql_heuristic(false);
	assert_int_equal(mysql_sniff((const uint8_t *)g->bytes, g->n, R, 0),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff((const uint8_t *)g->bytes, g->n, W, 9),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff((const uint8_t *)g->bytes, 5, R, 0),
	    SG_SNIFF_MAYBE);
	assert_int_equal(mysql_sniff(q, sizeof(q) - 1, W, 3306),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff(q, sizeof(q) - 1, R, 3306),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff(q, sizeof(q) - 1, W, 3307), SG_SNIFF_NO);
	assert_int_equal(mysql_sniff(q, 3, W, 3306), SG_SNIFF_MAYBE);
	assert_int_equal(mysql_sniff(q, 7, W, 3306), SG_SNIFF_MAYBE);
	assert_int_equal(mysql_sniff(exec, sizeof(exec), W, 3306),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff(ping, sizeof(ping), W, 3306),
	    SG_SNIFF_NO);
	assert_int_equal(mysql_sniff((const uint8_t *)"GET / HTTP/1.1\r\n", 16,
	    W, 3306), SG_SNIFF_NO);
	assert_int_equal(mysql_sniff((const uint8_t *)cap_text[4].bytes,
	    cap_text[4].n, R, 3306), SG_SNIFF_NO);	/* an OK */
	proto_set_sql_heuristic(true);
	assert_int_equal(mysql_sniff(q, sizeof(q) - 1, W, 3307),
	    SG_SNIFF_YES);
	assert_int_equal(mysql_sniff((const uint8_t *)cap_text[3].bytes,
	    cap_text[3].n, W, 0), SG_SNIFF_YES);
	proto_set_sql_heuristic(false);
	assert_int_equal(proto_detect(1u << SG_PROTO_MYSQL,
	    (const uint8_t *)g->bytes, g->n, R, 0, &(bool){ false }),
	    SG_PROTO_MYSQL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_client),
		cmocka_unit_test(test_text_server),
		cmocka_unit_test(test_text_unknown_role),
		cmocka_unit_test(test_text_byte_by_byte),
		cmocka_unit_test(test_text_truncated),
		cmocka_unit_test(test_prepared_client),
		cmocka_unit_test(test_prepared_server),
		cmocka_unit_test(test_prepared_unknown_statement),
		cmocka_unit_test(test_big_result_past_capture),
		cmocka_unit_test(test_deprecate_eof),
		cmocka_unit_test(test_more_results_and_progress),
		cmocka_unit_test(test_direct_execution),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_unpaired_and_timeout),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
