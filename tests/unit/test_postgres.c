/*
 * PostgreSQL protocol pairing (collector/protocols/postgres.c), mostly on
 * real traffic between psql/pgbench and postgres 15 (pg_captures.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "postgres.h"
#include "pg_captures.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	256
#define NCAP(a)	(sizeof(a) / sizeof((a)[0]))

struct rec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
};

static struct postgres_conn conn;
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
	postgres_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

/* A capture replayed: C records are the client's writes (the server's
 * reads), S the server's; at most `cap` bytes of each are seen, with the
 * tail when some are not; chunk > 0 splits every record in reads of
 * that many bytes (all seen). */
static void
replay(const struct pg_rec *recs, size_t n, bool server, size_t cap,
    size_t chunk)
{
	uint64_t ts = 1000;

	for (size_t i = 0; i < n; i++) {
		const struct pg_rec *r = &recs[i];
		uint8_t dir = (r->dir == 'C') != server ? W : R;
		size_t seen = r->cap < cap ? r->cap : cap;

		ts += 1000;
		if (chunk > 0 && r->cap == r->len) {
			for (size_t off = 0; off < r->len; off += chunk) {
				size_t k = r->len - off < chunk ? r->len - off :
				    chunk;

				postgres_on_data(&conn, dir, ts++, k,
				    (const uint8_t *)r->data + off, k, NULL,
				    rec_emit, &rec);
			}
			continue;
		}
		postgres_on_data(&conn, dir, ts, r->len, (const uint8_t *)r->data,
		    seen, seen < r->len ? (const uint8_t *)r->tail : NULL,
		    rec_emit, &rec);
	}
}

static void
dump(const char *what)
{
	if (getenv("PG_DUMP") == NULL)
		return;
	for (int i = 0; i < rec.n; i++)
		fprintf(stderr, "%s %d: op=%s coll=%s err=%s flags=%x req=%llu "
		    "resp=%llu db=%s target=%s\n", what, i, rec.ex[i].op,
		    rec.ex[i].collection, rec.ex[i].error, rec.ex[i].flags,
		    (unsigned long long)rec.ex[i].req_size,
		    (unsigned long long)rec.ex[i].resp_size,
		    rec.ex[i].db_namespace, rec.ex[i].target);
	fprintf(stderr, "%s: unparsed %llu unpaired %llu dropped %llu "
	    "unknown %llu\n", what, (unsigned long long)conn.unparsed,
	    (unsigned long long)conn.unpaired, (unsigned long long)conn.dropped,
	    (unsigned long long)conn.unknown);
}

static int
count(const char *op, const char *coll, const char *error)
{
	int n = 0;

	for (int i = 0; i < rec.n; i++)
		if ((op == NULL || strcmp(rec.ex[i].op, op) == 0) &&
		    (coll == NULL || strcmp(rec.ex[i].collection, coll) == 0) &&
		    (error == NULL || strcmp(rec.ex[i].error, error) == 0))
			n++;
	return n;
}

static void
check_common(uint8_t role, const char *db)
{
	for (int i = 0; i < rec.n; i++) {
		assert_int_equal(rec.ex[i].app, SG_APP_POSTGRESQL);
		assert_int_equal(rec.ex[i].role, role);
		assert_string_equal(rec.ex[i].db_namespace, db);
		assert_true(rec.ex[i].end_ns >= rec.ex[i].start_ns);
	}
}

static void
check_psql(uint8_t role)
{
	struct sg_proto_counters k;

	dump("psql");
	assert_int_equal(rec.n, 13);
	check_common(role, "postgres");
	assert_int_equal(count("CREATE", "items", ""), 1);
	assert_int_equal(count("INSERT", "items", ""), 5);
	assert_int_equal(count("SELECT", "items", ""), 3);
	assert_int_equal(count("SELECT", "missing_table", "42P01"), 1);
	assert_int_equal(count("BEGIN", "", ""), 1);
	assert_int_equal(count("SELECT", "", ""), 1);
	assert_int_equal(count("COMMIT", "", ""), 1);
	assert_string_equal(rec.ex[3].target, "INSERT INTO items VALUES (3, 'it''s');");
	assert_int_equal(postgres_pending(&conn), 0);
	postgres_ops.counters(&conn, &k);
	assert_int_equal(k.unparsed, 0);
	assert_int_equal(k.unpaired, 0);
	assert_int_equal(k.dropped, 0);
	assert_int_equal(k.unknown, 0);
}

static void
test_psql_client(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_psql, NCAP(pg_cap_psql), false, 1024, 0);
	check_psql(SG_ROLE_CLIENT);
	for (int i = 0; i < rec.n; i++)
		assert_int_equal(rec.ex[i].flags, 0);
	/* the Query's bytes, the response's */
	assert_int_equal(rec.ex[0].req_size, 57);
	assert_int_equal(rec.ex[0].resp_size, 24);
}

static void
test_psql_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	replay(pg_cap_psql, NCAP(pg_cap_psql), true, 1024, 0);
	check_psql(SG_ROLE_SERVER);
}

static void
test_psql_unknown_role(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	replay(pg_cap_psql, NCAP(pg_cap_psql), true, 1024, 0);
	assert_int_equal(postgres_ops.role(&conn), SG_ROLE_SERVER);
	check_psql(SG_ROLE_SERVER);
}

/* Every message split across reads, down to one byte a read. */
static void
test_psql_split(void **state)
{
	(void)state;
	for (size_t chunk = 1; chunk <= 7; chunk += 3) {
		start(SG_ROLE_CLIENT);
		replay(pg_cap_psql, NCAP(pg_cap_psql), false, 1024, chunk);
		check_psql(SG_ROLE_CLIENT);
	}
}

/* Small captures: the same operations, the error's SQLSTATE while it is
 * seen; what ReadyForQuery in the tail ended is of unknown status. */
static void
test_psql_small_capture(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_psql, NCAP(pg_cap_psql), false, 40, 0);
	dump("cap40");
	assert_int_equal(rec.n, 13);
	check_common(SG_ROLE_CLIENT, "postgres");
	assert_int_equal(count("SELECT", "missing_table", "42P01"), 1);
	assert_int_equal(count("INSERT", "items", ""), 5);
	for (int i = 0; i < rec.n; i++)
		assert_false(rec.ex[i].flags & SG_EX_TIMED_OUT);

	/* 12 bytes: the start-up packet's parameters are cut off */
	start(SG_ROLE_CLIENT);
	replay(pg_cap_psql, NCAP(pg_cap_psql), false, 12, 0);
	dump("cap12");
	assert_int_equal(rec.n, 13);
	/* failed, its SQLSTATE past the capture */
	assert_int_equal(count(NULL, NULL, "_OTHER"), 1);
	assert_int_equal(count("", NULL, NULL), 0);	/* "INSERT " fits */
}

static void
check_pgbench(const char *db)
{
	assert_int_equal(rec.n, 21);
	check_common(SG_ROLE_CLIENT, db);
	assert_int_equal(count("BEGIN", "", ""), 3);
	assert_int_equal(count("UPDATE", "pgbench_accounts", ""), 3);
	assert_int_equal(count("SELECT", "pgbench_accounts", ""), 3);
	assert_int_equal(count("UPDATE", "pgbench_tellers", ""), 3);
	assert_int_equal(count("UPDATE", "pgbench_branches", ""), 3);
	assert_int_equal(count("INSERT", "pgbench_history", ""), 3);
	assert_int_equal(count("END", "", ""), 3);
	for (int i = 0; i < rec.n; i++)
		assert_int_equal(rec.ex[i].flags, 0);
	assert_int_equal(postgres_pending(&conn), 0);
	assert_int_equal(conn.unparsed + conn.unpaired + conn.dropped +
	    conn.unknown, 0);
}

static void
test_pgbench_simple(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_simple, NCAP(pg_cap_simple), false, 1024, 0);
	check_pgbench("postgres");
}

static void
test_pgbench_extended(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_extended, NCAP(pg_cap_extended), false, 1024, 0);
	check_pgbench("postgres");
	assert_string_equal(rec.ex[2].target,
	    "SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
	/* Parse, Bind, Describe, Execute */
	assert_int_equal(rec.ex[2].req_size, 103);
}

static void
test_pgbench_prepared(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_prepared, NCAP(pg_cap_prepared), false, 1024, 0);
	check_pgbench("postgres");
	/* the second transaction names statements parsed in the first */
	assert_string_equal(rec.ex[7 + 2].target,
	    "SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
	/* the server side too, small captures and split reads */
	start(SG_ROLE_SERVER);
	replay(pg_cap_prepared, NCAP(pg_cap_prepared), true, 1024, 3);
	assert_int_equal(rec.n, 21);
	assert_int_equal(count("UPDATE", "pgbench_branches", ""), 3);
}

/* pgbench -M prepared, \startpipeline: four Executes before one Sync;
 * the third's statement failed at its Parse (answered by an exchange of
 * its own), so its Execute fails and the fourth is skipped. */
static void
test_pipeline(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_pipeline, NCAP(pg_cap_pipeline), false, 1024, 0);
	assert_int_equal(rec.n, 5);
	check_common(SG_ROLE_CLIENT, "postgres");
	assert_string_equal(rec.ex[0].op, "SELECT");
	assert_string_equal(rec.ex[0].collection, "nosuch");
	assert_string_equal(rec.ex[0].error, "42P01");
	assert_string_equal(rec.ex[1].collection, "pgbench_accounts");
	assert_string_equal(rec.ex[1].error, "");
	assert_string_equal(rec.ex[2].collection, "pgbench_tellers");
	assert_string_equal(rec.ex[2].error, "");
	assert_string_equal(rec.ex[3].collection, "nosuch");
	assert_string_equal(rec.ex[3].error, "26000");
	assert_string_equal(rec.ex[4].target, "SELECT 1;");
	assert_string_equal(rec.ex[4].error, "PIPELINE_ABORTED");
	assert_int_equal(postgres_pending(&conn), 0);
	assert_int_equal(conn.unpaired, 0);
}

static void
test_copy_out(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_copyout, NCAP(pg_cap_copyout), false, 1024, 0);
	assert_int_equal(rec.n, 2);
	assert_int_equal(count("COPY", "items", ""), 1);
	assert_int_equal(count("COPY", "", ""), 1);
}

/* pgbench -i: DDL, inserts, and a COPY of 100,000 rows in 8 KiB writes
 * seen 64 bytes each: one operation, the data skipped without count. */
static void
test_copy_in(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(pg_cap_init, NCAP(pg_cap_init), false, 1024, 0);
	dump("init");
	assert_int_equal(count("COPY", NULL, ""), 1);
	assert_int_equal(count("INSERT", NULL, ""), 11);
	assert_int_equal(count("CREATE", NULL, ""), 4);
	assert_int_equal(count("DROP", NULL, ""), 1);
	assert_int_equal(count("ALTER", NULL, ""), 3);
	assert_int_equal(count("VACUUM", NULL, ""), 4);
	check_common(SG_ROLE_CLIENT, "postgres");
	assert_int_equal(conn.unpaired, 0);
	/* the NOTICEs of the DROP, past the capture, up to its
	 * ReadyForQuery in the tail; not the start-up response's
	 * ParameterStatus run, which no operation awaited */
	assert_int_equal(conn.unparsed, 370);
	assert_int_equal(postgres_pending(&conn), 0);
	/* the COPY's data is the COPY's */
	assert_true(rec.ex[18].req_size > 1000000);
	assert_int_equal(rec.ex[19].req_size, 12);
}

static void
feed(uint8_t dir, uint64_t ts, const void *p, size_t n)
{
	postgres_on_data(&conn, dir, ts, n, p, n, NULL, rec_emit, &rec);
}

static const char startup_db[] =
    "\x00\x00\x00\x26\x00\x03\x00\x00user\0alice\0database\0shop\0"
    "x\0y\0\0";
static const char startup_user[] =
    "\x00\x00\x00\x14\x00\x03\x00\x00user\0alice\0\0";

static void
test_startup_namespace(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, startup_db, sizeof(startup_db) - 1);
	assert_string_equal(conn.db, "shop");
	assert_true(postgres_ops.keep_state);
	start(SG_ROLE_CLIENT);
	feed(W, 1, startup_user, sizeof(startup_user) - 1);
	assert_string_equal(conn.db, "alice");
}

/* SSLRequest answered 'S': what follows is TLS, not ours (its plaintext
 * comes through the TLS hooks as a stream of its own). */
static void
test_ssl_accepted(void **state)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
	feed(R, 2, "S", 1);
	feed(W, 3, tls, sizeof(tls) - 1);
	feed(R, 4, tls, sizeof(tls) - 1);
	assert_int_equal(rec.n, 0);
	assert_int_equal(conn.unparsed, 0);
}

#define Q_SELECT1 "Q\x00\x00\x00\x0dSELECT 1\x00"
#define RESP_OK "C\x00\x00\x00\x0dSELECT 1\x00Z\x00\x00\x00\x05I"

static void
test_expire_and_close(void **state)
{
	struct sg_timeouts to;

	(void)state;
	memset(&to, 0, sizeof(to));
	to.ns[SG_APP_POSTGRESQL] = 1000;
	start(SG_ROLE_CLIENT);
	feed(W, 10, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	assert_int_equal(postgres_pending(&conn), 1);
	assert_false(postgres_idle(&conn));
	assert_int_equal(postgres_ops.expire(&conn, 500, &to, rec_emit, &rec), 0);
	assert_int_equal(postgres_ops.expire(&conn, 2000, &to, rec_emit, &rec), 1);
	assert_int_equal(rec.n, 1);
	assert_true(rec.ex[0].flags & SG_EX_TIMED_OUT);
	assert_string_equal(rec.ex[0].op, "SELECT");
	/* its late answer is unpaired */
	feed(R, 3000, RESP_OK, sizeof(RESP_OK) - 1);
	assert_int_equal(conn.unpaired, 1);
	/* at close, what waits ends timed out */
	feed(W, 4000, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	postgres_on_close(&conn, 5000, rec_emit, &rec);
	assert_int_equal(rec.n, 2);
	assert_true(rec.ex[1].flags & SG_EX_TIMED_OUT);
	assert_true(postgres_idle(&conn));
	assert_int_equal(conn.unpaired, 1);
}

/* A response too long for the capture: ReadyForQuery in its tail ends
 * the Query, whose status was not seen. */
static void
test_tail_ready(void **state)
{
	uint8_t buf[64];
	uint8_t tail[SG_TAIL_LEN] = { 0, 0, 'Z', 0, 0, 0, 5, 'I' };

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "T\x00\x00\x00\x20", 5);	/* RowDescription, cut */
	start(SG_ROLE_CLIENT);
	feed(W, 1, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	postgres_on_data(&conn, R, 2, 100000, buf, 40, tail, rec_emit, &rec);
	assert_int_equal(rec.n, 1);
	assert_true(rec.ex[0].flags & SG_EX_STATUS_UNKNOWN);
	assert_int_equal(postgres_pending(&conn), 0);
	/* in step again */
	feed(W, 3, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	feed(R, 4, RESP_OK, sizeof(RESP_OK) - 1);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.ex[1].flags, 0);
}

/* Long DataRows skipped by count across reads and past the capture. */
static void
test_skip_by_count(void **state)
{
	uint8_t big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "D\x00\x00\x27\x14", 5);	/* 10004 bytes */
	start(SG_ROLE_CLIENT);
	feed(W, 1, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	postgres_on_data(&conn, R, 2, 4000, big, 256, NULL, rec_emit, &rec);
	postgres_on_data(&conn, R, 3, 6005, big, 256, NULL, rec_emit, &rec);
	assert_int_equal(rec.n, 0);
	feed(R, 4, RESP_OK, sizeof(RESP_OK) - 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].flags, 0);
	assert_int_equal(rec.ex[0].resp_size, 10005 + 14 + 6);
	assert_int_equal(conn.unparsed, 0);
}

/* Parse/Bind/Execute of a named statement, N statements: the least
 * recently used are forgotten, an Execute of one is op-unknown. */
static void
msg(uint8_t *out, size_t *n, char type, const char *a, size_t alen)
{
	out[(*n)++] = (uint8_t)type;
	out[(*n)++] = 0;
	out[(*n)++] = 0;
	out[(*n)++] = (uint8_t)((alen + 4) >> 8);
	out[(*n)++] = (uint8_t)(alen + 4);
	memcpy(out + *n, a, alen);
	*n += alen;
}

static void
prepare(int i, uint64_t ts)
{
	uint8_t buf[256];
	char body[128];
	size_t n = 0;
	int k;

	k = snprintf(body, sizeof(body), "s%d%cSELECT %d FROM t%d%c%c%c", i, 0,
	    i, i, 0, 0, 0);
	msg(buf, &n, 'P', body, (size_t)k);
	msg(buf, &n, 'S', "", 0);
	feed(W, ts, buf, n);
	feed(R, ts + 1, "1\x00\x00\x00\x04Z\x00\x00\x00\x05I", 11);
}

static void
execute(int i, uint64_t ts)
{
	uint8_t buf[256];
	char body[64];
	size_t n = 0;
	int k;

	k = snprintf(body, sizeof(body), "%cs%d%c%c%c%c%c%c%c", 0, i, 0, 0, 0,
	    0, 0, 0, 0);
	msg(buf, &n, 'B', body, (size_t)k);
	msg(buf, &n, 'E', "\0\0\0\0\0", 5);
	msg(buf, &n, 'S', "", 0);
	feed(W, ts, buf, n);
	feed(R, ts + 1, "2\x00\x00\x00\x04" "C\x00\x00\x00\x0dSELECT 1\x00"
	    "Z\x00\x00\x00\x05I", 5 + 14 + 6);
}

static void
test_statement_table(void **state)
{
	char want[32];

	(void)state;
	start(SG_ROLE_CLIENT);
	for (int i = 0; i < PG_NAMED_STMTS + 6; i++)
		prepare(i, 100 + 10 * (uint64_t)i);
	assert_int_equal(rec.n, 0);
	execute(PG_NAMED_STMTS + 5, 1000);
	execute(0, 1010);
	execute(6, 1020);
	assert_int_equal(rec.n, 3);
	snprintf(want, sizeof(want), "t%d", PG_NAMED_STMTS + 5);
	assert_string_equal(rec.ex[0].collection, want);
	assert_true(rec.ex[1].flags & SG_EX_OP_UNKNOWN);
	assert_true(rec.ex[1].flags & SG_EX_TARGET_UNKNOWN);
	assert_string_equal(rec.ex[2].collection, "t6");
	assert_int_equal(conn.unknown, 1);
	assert_int_equal(conn.unpaired, 0);
}

/* A pipeline longer than the FIFO: the Executes (and the Sync) past it
 * are dropped and counted; their answers are not unpaired. */
static void
test_pending_overflow(void **state)
{
	static const char exec_msg[] = "E\x00\x00\x00\x09\0\0\0\0\0";
	static const char done[] = "C\x00\x00\x00\x0dSELECT 1\x00";

	(void)state;
	start(SG_ROLE_CLIENT);
	for (int i = 0; i < PG_MAX_PENDING + 6; i++)
		feed(W, 10 + (uint64_t)i, exec_msg, sizeof(exec_msg) - 1);
	feed(W, 100, "S\x00\x00\x00\x04", 5);
	assert_int_equal(conn.dropped, 7);
	assert_int_equal(postgres_pending(&conn), PG_MAX_PENDING);
	for (int i = 0; i < PG_MAX_PENDING + 6; i++)
		feed(R, 200 + (uint64_t)i, done, sizeof(done) - 1);
	feed(R, 300, "Z\x00\x00\x00\x05I", 6);
	assert_int_equal(rec.n, PG_MAX_PENDING);
	assert_int_equal(conn.unpaired, 0);
	assert_int_equal(postgres_pending(&conn), 0);
	/* and in step after it */
	feed(W, 400, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	feed(R, 401, RESP_OK, sizeof(RESP_OK) - 1);
	assert_int_equal(rec.n, PG_MAX_PENDING + 1);
	assert_int_equal(conn.unpaired, 0);
}

static void
test_garbage(void **state)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, junk, sizeof(junk) - 1);
	feed(R, 2, junk, sizeof(junk) - 1);
	assert_int_equal(rec.n, 0);
	assert_int_equal(conn.unparsed, 2 * (sizeof(junk) - 1));
	/* back in step at the next plausible write */
	feed(W, 3, Q_SELECT1, sizeof(Q_SELECT1) - 1);
	feed(R, 4, RESP_OK, sizeof(RESP_OK) - 1);
	assert_int_equal(rec.n, 1);
}

static void
test_sniff(void **state)
{
	static const char q[] = Q_SELECT1;
	static const char p[] = "P\x00\x00\x00\x13s1\0SELECT 1\0\0\0";
	static const char qbad[] = "Q\x00\x00\x00\x0ahello\0";

	(void)state;
	proto_set_sql_heuristic(false);
	assert_int_equal(postgres_sniff((const uint8_t *)startup_db,
	    sizeof(startup_db) - 1, W, 80), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)
	    "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8, W, 0), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)
	    "\x00\x00\x00\x08\x04\xd2\x16\x30", 8, W, 0), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)
	    "\x00\x00\x00\x10\x04\xd2\x16\x2e\0\0\0\1\0\0\0\2", 16, W, 0),
	    SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)"\x00\x00", 2, W, 0),
	    SG_SNIFF_MAYBE);
	assert_int_equal(postgres_sniff((const uint8_t *)q, sizeof(q) - 1, W,
	    5432), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)q, sizeof(q) - 1, W,
	    5433), SG_SNIFF_NO);
	assert_int_equal(postgres_sniff((const uint8_t *)p, sizeof(p) - 1, R,
	    5432), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)qbad,
	    sizeof(qbad) - 1, W, 5432), SG_SNIFF_NO);
	assert_int_equal(postgres_sniff((const uint8_t *)"S\x00\x00\x00\x04",
	    5, W, 5432), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)"S\x00\x00\x00\x05",
	    5, W, 5432), SG_SNIFF_NO);
	assert_int_equal(postgres_sniff((const uint8_t *)"Q\x00", 2, W, 5432),
	    SG_SNIFF_MAYBE);
	assert_int_equal(postgres_sniff((const uint8_t *)"GET / HTTP/1.1", 14,
	    W, 5432), SG_SNIFF_NO);
	proto_set_sql_heuristic(true);
	assert_int_equal(postgres_sniff((const uint8_t *)q, sizeof(q) - 1, W,
	    5433), SG_SNIFF_YES);
	assert_int_equal(postgres_sniff((const uint8_t *)qbad,
	    sizeof(qbad) - 1, W, 5433), SG_SNIFF_NO);
	proto_set_sql_heuristic(false);
	/* the registry knows it */
	assert_ptr_equal(proto_ops(SG_PROTO_POSTGRES), &postgres_ops);
	assert_int_equal(proto_for_apps(1u << SG_APP_POSTGRESQL),
	    1u << SG_PROTO_POSTGRES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psql_client),
		cmocka_unit_test(test_psql_server),
		cmocka_unit_test(test_psql_unknown_role),
		cmocka_unit_test(test_psql_split),
		cmocka_unit_test(test_psql_small_capture),
		cmocka_unit_test(test_pgbench_simple),
		cmocka_unit_test(test_pgbench_extended),
		cmocka_unit_test(test_pgbench_prepared),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_copy_out),
		cmocka_unit_test(test_copy_in),
		cmocka_unit_test(test_startup_namespace),
		cmocka_unit_test(test_ssl_accepted),
		cmocka_unit_test(test_expire_and_close),
		cmocka_unit_test(test_tail_ready),
		cmocka_unit_test(test_skip_by_count),
		cmocka_unit_test(test_statement_table),
		cmocka_unit_test(test_pending_overflow),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
