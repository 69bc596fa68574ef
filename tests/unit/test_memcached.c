/*
 * memcached text protocol pairing (collector/protocols/memcached.c), from
 * bytes captured between memccp / memccat / memcrm / memcslap or a plain
 * socket client and memcached 1.6.18 (memcached_wire.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcached.h"
#include "memcached_wire.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	128

struct rec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
};

static struct memcached_conn conn;
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
	memcached_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

static void
feed(uint8_t dir, uint64_t ts, const char *s)
{
	size_t n = strlen(s);

	memcached_on_data(&conn, dir, ts, n, (const uint8_t *)s, n, NULL,
	    rec_emit, &rec);
}

static void
feed_cut(uint8_t dir, uint64_t ts, const char *s, size_t captured,
    uint64_t len, const char *tail)
{
	memcached_on_data(&conn, dir, ts, len, (const uint8_t *)s, captured,
	    (const uint8_t *)tail, rec_emit, &rec);
}

static void
expect_ex(int i, const char *op, const char *target, const char *error,
    uint8_t flags, uint64_t start_ns, uint64_t end_ns)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_MEMCACHED);
	assert_string_equal(ex->op, op);
	assert_string_equal(ex->target, target);
	assert_string_equal(ex->error, error);
	assert_int_equal(ex->flags, flags);
	assert_int_equal(ex->status, 0);
	if (start_ns != 0)
		assert_int_equal(ex->start_ns, start_ns);
	if (end_ns != 0)
		assert_int_equal(ex->end_ns, end_ns);
}

static void
expect_counters(uint64_t unparsed, uint64_t unpaired, uint64_t dropped)
{
	struct sg_proto_counters k;

	memcached_ops.counters(&conn, &k);
	assert_int_equal(k.unparsed, unparsed);
	assert_int_equal(k.unpaired, unpaired);
	assert_int_equal(k.dropped, dropped);
}

/* The libmemcached tools: one command per connection, then quit. */
static void
test_tools(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, CP_SET_REQ);
	feed(R, 2, STORED_RESP);
	feed(W, 3, CAT_GET_REQ);
	feed(R, 4, CAT_GET_RESP);
	feed(W, 5, MISS_REQ);
	feed(R, 6, END_RESP);
	feed(W, 7, RM_REQ);
	feed(R, 8, DELETED_RESP);
	feed(W, 9, RM_MISS_REQ);
	feed(R, 10, NOT_FOUND_RESP);
	feed(W, 11, EXIST_REQ);
	feed(R, 12, NOT_STORED_RESP);
	feed(W, 13, TOUCH_REQ);
	feed(R, 14, TOUCHED_RESP);
	feed(W, 15, VERSION_REQ);
	feed(R, 16, VERSION_RESP);
	feed(W, 17, STATS_REQ);
	feed(R, 18, STATS_RESP);
	feed(W, 19, FLUSH_REQ);
	feed(R, 20, OK_RESP);
	feed(W, 21, QUIT_REQ);		/* no operation */
	assert_int_equal(rec.n, 10);
	expect_ex(0, "set", "set f1.txt ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[0].req_size, strlen(CP_SET_REQ));
	assert_int_equal(rec.ex[0].role, SG_ROLE_CLIENT);
	expect_ex(1, "get", "get f1.txt", "", 0, 3, 4);
	assert_int_equal(rec.ex[1].resp_size, strlen(CAT_GET_RESP));
	expect_ex(2, "get", "get nokey", "", 0, 5, 6);
	expect_ex(3, "delete", "delete f1.txt", "", 0, 7, 8);
	expect_ex(4, "delete", "delete nokey", "", 0, 9, 10);
	expect_ex(5, "add", "add f2.txt ?", "", 0, 11, 12);
	expect_ex(6, "touch", "touch f2.txt ?", "", 0, 13, 14);
	expect_ex(7, "version", "version", "", 0, 15, 16);
	expect_ex(8, "stats", "stats", "", 0, 17, 18);
	assert_int_equal(rec.ex[8].resp_size, strlen(STATS_RESP));
	expect_ex(9, "flush_all", "flush_all", "", 0, 19, 20);
	assert_true(memcached_idle(&conn));
	expect_counters(0, 0, 0);
}

/* Pipelined: two sets, a multi-get, a gets in one write. */
static void
test_multi_get(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, MULTI_REQ);
	assert_int_equal(memcached_pending(&conn), 4);
	feed(R, 2, MULTI_RESP);
	assert_int_equal(rec.n, 4);
	expect_ex(0, "set", "set k1 ?", "", 0, 1, 2);
	expect_ex(1, "set", "set k2 ?", "", 0, 1, 2);
	expect_ex(2, "get", "get k1 k2 k3", "", 0, 1, 2);
	expect_ex(3, "gets", "gets k1", "", 0, 1, 2);
	expect_counters(0, 0, 0);
}

static void
test_storage_and_arith(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, STORE_REQ);
	feed(R, 2, STORE_RESP);
	assert_int_equal(rec.n, 5);
	expect_ex(0, "add", "add k1 ?", "", 0, 1, 2);
	expect_ex(1, "replace", "replace k9 ?", "", 0, 1, 2);
	expect_ex(2, "append", "append k1 ?", "", 0, 1, 2);
	expect_ex(3, "prepend", "prepend k1 ?", "", 0, 1, 2);
	expect_ex(4, "cas", "cas k1 ?", "", 0, 1, 2);
	feed(W, 3, ARITH_REQ);
	feed(R, 4, ARITH_RESP1);
	assert_int_equal(rec.n, 5 + 8);
	feed(R, 5, ARITH_RESP2);
	assert_int_equal(rec.n, 5 + 9);
	expect_ex(5, "incr", "incr n ?", "", 0, 3, 4);
	expect_ex(6, "set", "set n ?", "", 0, 3, 4);
	expect_ex(7, "incr", "incr n ?", "", 0, 3, 4);
	expect_ex(8, "decr", "decr n ?", "", 0, 3, 4);
	expect_ex(9, "delete", "delete n", "", 0, 3, 4);
	expect_ex(10, "delete", "delete n", "", 0, 3, 4);
	expect_ex(11, "touch", "touch k1 ?", "", 0, 3, 4);
	expect_ex(12, "gat", "gat ? k1 k2", "", 0, 3, 4);
	expect_ex(13, "gats", "gats ? k1", "", 0, 3, 5);
	expect_counters(0, 0, 0);
}

static void
test_errors(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, ERR_REQ);
	feed(R, 2, ERR_RESP);
	assert_int_equal(rec.n, 5);
	expect_ex(0, "bogus", "bogus", "ERROR", 0, 1, 2);
	/* a length the server cannot read: no data block follows */
	expect_ex(1, "set", "set k1 ?", "CLIENT_ERROR", 0, 1, 2);
	expect_ex(2, "incr", "incr k1 ?", "CLIENT_ERROR", 0, 1, 2);
	expect_ex(3, "version", "version", "", 0, 1, 2);
	expect_ex(4, "verbosity", "verbosity ?", "", 0, 1, 2);
	start(SG_ROLE_CLIENT);
	feed(W, 1, LONGKEY_REQ);
	feed(R, 2, LONGKEY_RESP);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.ex[0].error, "CLIENT_ERROR");
	assert_string_equal(rec.ex[0].op, "get");
	/* the key does not fit the target: dropped, said so */
	assert_string_equal(rec.ex[0].target, "get ...");
	start(SG_ROLE_CLIENT);
	feed(W, 1, "get a\r\n");
	feed(R, 2, "SERVER_ERROR out of memory\r\n");
	expect_ex(0, "get", "get a", "SERVER_ERROR", 0, 1, 2);
}

/* noreply commands end at once. */
static void
test_noreply(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, NOREPLY_REQ);
	assert_int_equal(rec.n, 2);
	assert_int_equal(memcached_pending(&conn), 1);
	expect_ex(0, "set", "set nr ?", "", 0, 1, 1);
	expect_ex(1, "delete", "delete nr", "", 0, 1, 1);
	feed(R, 2, NOREPLY_RESP);
	expect_ex(2, "get", "get nr", "", 0, 1, 2);
	/* meta, quiet: no reply expected, none known */
	feed(W, 3, "mg foo v q\r\nmn\r\n");
	expect_ex(3, "mg", "mg foo ?", "", SG_EX_STATUS_UNKNOWN, 3, 3);
	feed(R, 4, "MN\r\n");
	expect_ex(4, "mn", "mn", "", 0, 3, 4);
	expect_counters(0, 0, 0);
}

static void
test_meta(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, "ms foo 2 T0\r\nhi\r\nmg foo v\r\nmg bar v\r\nmd foo\r\n");
	feed(R, 2, "HD\r\nVA 2\r\nhi\r\nEN\r\nHD\r\n");
	assert_int_equal(rec.n, 4);
	expect_ex(0, "ms", "ms foo ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[0].req_size, 17);
	expect_ex(1, "mg", "mg foo ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[1].resp_size, 10);
	expect_ex(2, "mg", "mg bar ?", "", 0, 1, 2);
	expect_ex(3, "md", "md foo", "", 0, 1, 2);
}

/* A 3000-byte value through a 256-byte capture, and split reads. */
static void
test_big_value(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed_cut(W, 1, BIG_REQ, 256, BIG_REQ_LEN, BIG_REQ_TAIL);
	/* the set; the get and flush_all after its block are unseen */
	assert_int_equal(memcached_pending(&conn), 1);
	feed_cut(R, 2, BIG_RESP, 256, BIG_RESP_LEN, BIG_RESP_TAIL);
	/* the get's reply answers nothing seen, and its END is unseen */
	assert_int_equal(rec.n, 1);
	expect_ex(0, "set", "set big ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[0].req_size, 3020);
	assert_int_equal(rec.ex[0].resp_size, 8);
	expect_counters(BIG_REQ_LEN - 3020 + BIG_RESP_LEN - 3028, 0, 0);
	/* the next write starts anew */
	feed(W, 3, CAT_GET_REQ);
	feed(R, 4, CAT_GET_RESP);
	expect_ex(1, "get", "get f1.txt", "", 0, 3, 4);
	/* the same value read in three parts */
	start(SG_ROLE_CLIENT);
	feed(W, 1, "get big\r\n");
	feed_cut(R, 2, BIG_RESP + 8, 100, 1000, NULL);
	feed_cut(R, 3, BIG_RESP + 108, 0, 2018, NULL);
	assert_int_equal(rec.n, 0);
	feed(R, 4, "\r\nEND\r\n");
	expect_ex(0, "get", "get big", "", 0, 1, 4);
	assert_int_equal(rec.ex[0].resp_size, 3025);
	expect_counters(0, 0, 0);
}

/* memcslap: sets of 100 to 5000 bytes, one per write. */
static void
test_memcslap(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed_cut(W, 1, SLAP_REQ, 256, SLAP_REQ_LEN, SLAP_REQ_TAIL);
	feed(R, 2, SLAP_RESP);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.ex[0].op, "set");
	assert_int_equal(strncmp(rec.ex[0].target, "set IvYF1YJg6", 13), 0);
	assert_int_equal(rec.ex[0].req_size, SLAP_REQ_LEN);
	expect_counters(0, 0, 0);
}

static void
test_byte_by_byte(void **state)
{
	const char *msgs[] = { MULTI_REQ, MULTI_RESP, STATS_REQ, STATS_RESP };
	size_t m, i;

	(void)state;
	start(SG_ROLE_CLIENT);
	for (m = 0; m < 4; m++)
		for (i = 0; msgs[m][i] != '\0'; i++)
			feed_cut(m % 2 == 0 ? W : R, 10 * m + 1, msgs[m] + i, 1,
			    1, NULL);
	assert_int_equal(rec.n, 5);
	expect_ex(2, "get", "get k1 k2 k3", "", 0, 1, 11);
	expect_ex(4, "stats", "stats", "", 0, 21, 31);
	expect_counters(0, 0, 0);
}

static void
test_server_and_unknown_role(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1, MULTI_REQ);
	feed(W, 2, MULTI_RESP);
	assert_int_equal(rec.n, 4);
	expect_ex(2, "get", "get k1 k2 k3", "", 0, 1, 2);
	assert_int_equal(rec.ex[2].role, SG_ROLE_SERVER);
	start(SG_ROLE_UNKNOWN);
	feed(R, 1, STORED_RESP);	/* a reply read: a client */
	assert_int_equal(memcached_ops.role(&conn), SG_ROLE_CLIENT);
	expect_counters(0, 1, 0);
	start(SG_ROLE_UNKNOWN);
	feed(R, 1, MULTI_REQ);		/* a command read: a server */
	assert_int_equal(memcached_ops.role(&conn), SG_ROLE_SERVER);
}

static void
test_close_expire_overflow(void **state)
{
	int i;

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1000, "get a\r\n");
	feed(W, 2000, "get b\r\n");
	assert_int_equal(memcached_expire(&conn, 2500, 1000, rec_emit, &rec),
	    1);
	expect_ex(0, "get", "get a", "", SG_EX_TIMED_OUT, 1000, 2500);
	memcached_on_close(&conn, 3000, rec_emit, &rec);
	expect_ex(1, "get", "get b", "", SG_EX_TIMED_OUT, 2000, 3000);
	assert_true(memcached_idle(&conn));
	start(SG_ROLE_CLIENT);
	for (i = 0; i < MEMCACHED_MAX_PENDING + 1; i++)
		feed(W, 1, "delete x\r\n");
	expect_counters(0, 0, 1);
	for (i = 0; i < MEMCACHED_MAX_PENDING + 1; i++)
		feed(R, 2, "NOT_FOUND\r\n");
	assert_int_equal(rec.n, MEMCACHED_MAX_PENDING);
	expect_counters(0, 1, 1);
}

static void
test_garbage(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, "get a\r\n");
	feed(R, 2, "VALUE a 0 3\r\nabcXY");	/* bad block end */
	expect_ex(0, "get", "get a", "", SG_EX_STATUS_UNKNOWN, 1, 2);
	feed(W, 3, "get a\r\n");
	feed(R, 4, "END\r\n");		/* not after a line end: still lost */
	assert_int_equal(rec.n, 1);
	feed(R, 5, "END\r\n");		/* now */
	assert_int_equal(rec.n, 2);
	expect_ex(1, "get", "get a", "", 0, 3, 5);
	expect_counters(5 + 5, 0, 0);
}

static void
test_sniff(void **state)
{
	(void)state;
	assert_int_equal(memcached_sniff((const uint8_t *)MULTI_REQ,
	    strlen(MULTI_REQ), W, 11211), SG_SNIFF_YES);
	assert_int_equal(memcached_sniff((const uint8_t *)MULTI_REQ,
	    strlen(MULTI_REQ), W, 4000), SG_SNIFF_YES);
	assert_int_equal(memcached_sniff((const uint8_t *)CAT_GET_REQ,
	    strlen(CAT_GET_REQ), W, 4000), SG_SNIFF_YES);
	assert_int_equal(memcached_sniff((const uint8_t *)VERSION_REQ,
	    strlen(VERSION_REQ), W, 11211), SG_SNIFF_YES);
	assert_int_equal(memcached_sniff((const uint8_t *)VERSION_REQ,
	    strlen(VERSION_REQ), W, 4000), SG_SNIFF_NO);
	assert_int_equal(memcached_sniff((const uint8_t *)"get", 3, W, 4000),
	    SG_SNIFF_MAYBE);
	assert_int_equal(memcached_sniff((const uint8_t *)"GET / HTTP/1.1\r\n",
	    16, W, 11211), SG_SNIFF_NO);
	assert_int_equal(memcached_sniff((const uint8_t *)STORED_RESP,
	    strlen(STORED_RESP), R, 11211), SG_SNIFF_YES);
	assert_int_equal(memcached_sniff((const uint8_t *)STORED_RESP,
	    strlen(STORED_RESP), R, 4000), SG_SNIFF_NO);
	assert_int_equal(memcached_sniff((const uint8_t *)"\x80\x00", 2, W,
	    11211), SG_SNIFF_NO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_multi_get),
		cmocka_unit_test(test_storage_and_arith),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_noreply),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_big_value),
		cmocka_unit_test(test_memcslap),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_server_and_unknown_role),
		cmocka_unit_test(test_close_expire_overflow),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
