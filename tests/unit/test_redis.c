/*
 * Redis pairing (collector/protocols/redis.c), from bytes captured
 * between redis-cli / redis-benchmark and redis-server 7.0 (redis_wire.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis.h"
#include "redis_wire.h"
#include "difftest.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	128

struct rec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
};

static struct redis_conn conn;
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
	redis_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

/* A read or write seen whole (captures are NUL-free strings). */
static void
feed(uint8_t dir, uint64_t ts, const char *s)
{
	size_t n = strlen(s);

	redis_on_data(&conn, dir, ts, n, (const uint8_t *)s, n, NULL,
	    rec_emit, &rec);
}

/* One of len bytes of which `captured` are seen, and its last 8. */
static void
feed_cut(uint8_t dir, uint64_t ts, const char *s, size_t captured,
    uint64_t len, const char *tail)
{
	redis_on_data(&conn, dir, ts, len, (const uint8_t *)s, captured,
	    (const uint8_t *)tail, rec_emit, &rec);
}

static void
expect_ex(int i, const char *op, const char *target, const char *error,
    uint8_t flags, uint64_t start_ns, uint64_t end_ns)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_REDIS);
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

	redis_ops.counters(&conn, &k);
	assert_int_equal(k.unparsed, unparsed);
	assert_int_equal(k.unpaired, unpaired);
	assert_int_equal(k.dropped, dropped);
}

static void
test_set_get(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 100, SET_REQ);
	assert_int_equal(redis_pending(&conn), 1);
	feed(R, 200, SET_RESP);
	feed(W, 300, GET_REQ);
	feed(R, 400, GET_RESP);
	feed(W, 500, GETNULL_REQ);
	feed(R, 600, GETNULL_RESP);
	assert_int_equal(rec.n, 3);
	expect_ex(0, "SET", "SET foo ?", "", 0, 100, 200);
	assert_int_equal(rec.ex[0].role, SG_ROLE_CLIENT);
	assert_int_equal(rec.ex[0].req_size, strlen(SET_REQ));
	assert_int_equal(rec.ex[0].resp_size, strlen(SET_RESP));
	expect_ex(1, "GET", "GET foo", "", 0, 300, 400);
	assert_int_equal(rec.ex[1].resp_size, 9);
	expect_ex(2, "GET", "GET missing", "", 0, 500, 600);
	assert_true(redis_idle(&conn));
	expect_counters(0, 0, 0);
}

static void
test_errors(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, INCR_REQ);
	feed(R, 2, INCR_ERR);
	feed(W, 3, UNKNOWN_REQ);
	feed(R, 4, UNKNOWN_ERR);
	feed(W, 5, LPUSH_REQ);
	feed(R, 6, WRONGTYPE_ERR);
	feed(W, 7, EVALSHA_REQ);
	feed(R, 8, NOSCRIPT_ERR);
	assert_int_equal(rec.n, 4);
	expect_ex(0, "INCR", "INCR foo", "ERR", 0, 1, 2);
	expect_ex(1, "NOSUCHCMD", "NOSUCHCMD a ?", "ERR", 0, 3, 4);
	expect_ex(2, "LPUSH", "LPUSH str ?", "WRONGTYPE", 0, 5, 6);
	expect_ex(3, "EVALSHA",
	    "EVALSHA 0123456789012345678901234567890123456789 ?", "NOSCRIPT",
	    0, 7, 8);
	expect_counters(0, 0, 0);
}

/* RESP3 replies of every type the server sends, and an attribute. */
static void
test_resp3(void **state)
{
	static const char *replies[] = {
		HELLO_RESP, HGETALL_RESP3, SMEMBERS_RESP3, NULL3_RESP,
		ATTRIB_RESP, BIGNUM_RESP, BOOL_RESP, VERBATIM_RESP,
		DOUBLE_RESP, MAP_RESP, SET3_RESP, LRANGE_RESP,
	};
	size_t i;

	(void)state;
	start(SG_ROLE_CLIENT);
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		feed(W, 10 * i + 1, i == 4 ? ATTRIB_REQ : HELLO_REQ);
		feed(R, 10 * i + 2, replies[i]);
		assert_int_equal(rec.n, (int)i + 1);
		assert_int_equal(rec.ex[i].end_ns, 10 * i + 2);
		assert_string_equal(rec.ex[i].error, "");
		assert_int_equal(rec.ex[i].resp_size, strlen(replies[i]));
	}
	expect_ex(0, "HELLO", "HELLO 3", "", 0, 1, 2);
	expect_ex(4, "DEBUG", "DEBUG PROTOCOL ?", "", 0, 41, 42);
	assert_true(redis_idle(&conn));
	expect_counters(0, 0, 0);
}

/* RESP3 as the specification writes it: a blob error, a push between a
 * command and its reply (client tracking), empty and null aggregates. */
static void
test_resp3_spec(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, GET_REQ);
	feed(R, 2, "!21\r\nSYNTAX invalid syntax\r\n");
	expect_ex(0, "GET", "GET foo", "SYNTAX", 0, 1, 2);
	feed(W, 3, GET_REQ);
	feed(R, 4, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n");
	assert_int_equal(rec.n, 1);
	feed(R, 5, "$3\r\nbar\r\n");
	expect_ex(1, "GET", "GET foo", "", 0, 3, 5);
	feed(W, 6, LRANGE_REQ);
	feed(W, 6, LRANGE_REQ);
	feed(W, 6, HGETALL_REQ);
	feed(W, 6, GET_REQ);
	feed(R, 7, "*0\r\n*-1\r\n%0\r\n|1\r\n+a\r\n+b\r\n_\r\n");
	assert_int_equal(rec.n, 6);
	expect_ex(5, "GET", "GET foo", "", 0, 6, 7);
	expect_counters(0, 0, 0);
}

/* The attribute alone is not a reply: the reply follows in a later read. */
static void
test_attribute_split(void **state)
{
	const char *attr_end = strstr(ATTRIB_RESP, "$39");

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, ATTRIB_REQ);
	feed_cut(R, 2, ATTRIB_RESP, (size_t)(attr_end - ATTRIB_RESP),
	    (size_t)(attr_end - ATTRIB_RESP), NULL);
	assert_int_equal(rec.n, 0);
	feed(R, 3, attr_end);
	assert_int_equal(rec.n, 1);
	expect_ex(0, "DEBUG", "DEBUG PROTOCOL ?", "", 0, 1, 3);
}

/* Every byte in its own read or write. */
static void
test_byte_by_byte(void **state)
{
	const char *msgs[] = { SET_REQ, SET_RESP, INCR_REQ, INCR_ERR,
	    HGETALL_REQ, HGETALL_RESP3, INLINE_REQ, INLINE_RESP };
	size_t m, i;

	(void)state;
	start(SG_ROLE_CLIENT);
	for (m = 0; m < 8; m++)
		for (i = 0; msgs[m][i] != '\0'; i++)
			feed_cut(m % 2 == 0 ? W : R, 10 * m + 1, msgs[m] + i, 1,
			    1, NULL);
	assert_int_equal(rec.n, 6);
	expect_ex(0, "SET", "SET foo ?", "", 0, 1, 11);
	expect_ex(1, "INCR", "INCR foo", "ERR", 0, 21, 31);
	expect_ex(2, "HGETALL", "HGETALL h", "", 0, 41, 51);
	expect_ex(3, "PING", "PING", "", 0, 61, 71);
	expect_ex(4, "SET", "SET inl ?", "", 0, 61, 71);
	expect_ex(5, "GET", "GET inl", "", 0, 61, 71);
	expect_counters(0, 0, 0);
}

static void
test_multi_exec(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, MULTI_REQ);
	feed(R, 2, MULTI_RESP);
	feed(W, 3, QSET_REQ);
	feed(R, 4, QUEUED_RESP);
	feed(W, 5, QINCR_REQ);
	feed(R, 6, QUEUED_RESP);
	feed(W, 7, QGET_REQ);
	feed(R, 8, QUEUED_RESP);
	feed(W, 9, EXEC_REQ);
	feed(R, 10, EXEC_RESP);
	assert_int_equal(rec.n, 5);
	expect_ex(0, "MULTI", "MULTI", "", 0, 1, 2);
	expect_ex(1, "SET", "SET a ?", "", 0, 3, 4);
	expect_ex(2, "INCR", "INCR a", "", 0, 5, 6);
	expect_ex(3, "GET", "GET a", "", 0, 7, 8);
	expect_ex(4, "EXEC", "EXEC", "", 0, 9, 10);
}

static void
test_inline(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, INLINE_REQ);
	assert_int_equal(redis_pending(&conn), 3);
	feed(R, 2, INLINE_RESP);
	assert_int_equal(rec.n, 3);
	expect_ex(0, "PING", "PING", "", 0, 1, 2);
	expect_ex(1, "SET", "SET inl ?", "", 0, 1, 2);
	expect_ex(2, "GET", "GET inl", "", 0, 1, 2);
}

/* redis-benchmark -P 16: 16 commands in one write, 16 replies in one read. */
static void
test_pipeline(void **state)
{
	int i;

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, CONFIG2_REQ);
	feed(R, 2, CONFIG2_RESP);
	feed(W, 3, PSET_REQ);
	assert_int_equal(redis_pending(&conn), 16);
	feed(R, 4, PSET_RESP);
	feed(W, 5, PGET_REQ);
	feed(R, 6, PGET_RESP);
	assert_int_equal(rec.n, 34);
	expect_ex(0, "CONFIG", "CONFIG GET ?", "", 0, 1, 2);
	expect_ex(1, "CONFIG", "CONFIG GET ?", "", 0, 1, 2);
	for (i = 0; i < 16; i++) {
		expect_ex(2 + i, "SET", "SET key:__rand_int__ ?", "", 0, 3, 4);
		expect_ex(18 + i, "GET", "GET key:__rand_int__", "", 0, 5, 6);
	}
	expect_counters(0, 0, 0);
}

/* The same pipeline seen through a 256-byte capture: the commands past it
 * are not known, their replies are unpaired. */
static void
test_pipeline_cut(void **state)
{
	size_t n = strlen(PSET_REQ);

	(void)state;
	start(SG_ROLE_CLIENT);
	feed_cut(W, 1, PSET_REQ, 256, n, PSET_REQ + n - 8);
	/* 5 whole (45 bytes each), the sixth cut in its value */
	assert_int_equal(redis_pending(&conn), 6);
	feed(R, 2, PSET_RESP);
	assert_int_equal(rec.n, 6);
	expect_ex(4, "SET", "SET key:__rand_int__ ?", "", 0, 1, 2);
	/* the sixth's key was cut by the capture */
	expect_ex(5, "SET", "SET ? ?", "", SG_EX_TARGET_UNKNOWN, 1, 2);
	/* unparsed: from the end of the sixth key's bulk string, at 261 */
	expect_counters(n - 261, 10, 0);
	/* the next write starts anew */
	feed(W, 3, GET_REQ);
	feed(R, 4, GET_RESP);
	expect_ex(6, "GET", "GET foo", "", 0, 3, 4);
}

/* A 3000-byte value, skipped by count across a 256-byte capture. */
static void
test_big_values(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed_cut(W, 1, BIGSET_REQ, 256, BIGSET_REQ_LEN, BIGSET_REQ_TAIL);
	feed(R, 2, SET_RESP);
	feed(W, 3, BIGGET_REQ);
	feed_cut(R, 4, BIGGET_RESP, 256, BIGGET_RESP_LEN, BIGGET_RESP_TAIL);
	assert_int_equal(rec.n, 2);
	expect_ex(0, "SET", "SET big ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[0].req_size, BIGSET_REQ_LEN);
	expect_ex(1, "GET", "GET big", "", 0, 3, 4);
	assert_int_equal(rec.ex[1].resp_size, BIGGET_RESP_LEN);
	expect_counters(0, 0, 0);
	/* the same value split over reads */
	feed(W, 5, BIGGET_REQ);
	feed_cut(R, 6, BIGGET_RESP, 256, 1000, NULL);
	feed_cut(R, 7, BIGGET_RESP + 256, 0, BIGGET_RESP_LEN - 1000 - 8,
	    NULL);
	assert_int_equal(rec.n, 2);
	feed(R, 8, BIGGET_RESP_TAIL);
	expect_ex(2, "GET", "GET big", "", 0, 5, 8);
	expect_counters(0, 0, 0);
}

/* COMMAND DOCS: an array whose framing goes past the capture.  Its reply
 * began (so it is answered); the stream is lost until a read that starts
 * a reply after one that ended with CRLF. */
static void
test_lost_reply(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, DOCS_REQ);
	feed_cut(R, 2, DOCS_RESP1, 1024, DOCS_RESP1_LEN, DOCS_RESP1_TAIL);
	assert_int_equal(rec.n, 1);
	expect_ex(0, "COMMAND", "COMMAND DOCS", "", 0, 1, 2);
	feed_cut(R, 3, DOCS_RESP2, 1024, DOCS_RESP2_LEN, DOCS_RESP2_TAIL);
	feed_cut(R, 4, DOCS_RESP3, 1024, DOCS_RESP3_LEN, DOCS_RESP3_TAIL);
	feed(W, 5, MULTI_REQ);
	feed(R, 6, MULTI_RESP);
	assert_int_equal(rec.n, 2);
	expect_ex(1, "MULTI", "MULTI", "", 0, 5, 6);
	/* unparsed: the first read's bytes from the first line past the
	 * capture (a bulk string runs 9 bytes past it), the next two reads */
	expect_counters(DOCS_RESP1_LEN - 1024 - 9 + DOCS_RESP2_LEN +
	    DOCS_RESP3_LEN, 0, 0);
}

/* RESP3 SUBSCRIBE: its confirmation push answers it, messages do not. */
static void
test_subscribe_resp3(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, HELLO_REQ);
	feed(R, 2, HELLO_RESP);
	feed(W, 3, SUB3_REQ);
	feed(R, 4, SUB3_RESP);
	feed(R, 5, MSG3_PUSH);
	feed(R, 6, MSG3_PUSH);
	assert_int_equal(rec.n, 2);
	expect_ex(1, "SUBSCRIBE", "SUBSCRIBE ch1", "", 0, 3, 4);
	assert_false(redis_idle(&conn));
	expect_counters(0, 0, 0);
}

static void
test_subscribe_resp2(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, SUB2_REQ);
	feed(R, 2, SUB2_RESP);
	feed(R, 3, MSG2_PUSH);
	feed(R, 4, MSG2_PUSH);
	assert_int_equal(rec.n, 1);
	expect_ex(0, "SUBSCRIBE", "SUBSCRIBE ch2", "", 0, 1, 2);
	/* state kept while subscribed */
	assert_false(redis_idle(&conn));
	/* UNSUBSCRIBE confirmed with 0 channels left: back to replies */
	feed(W, 5, "*1\r\n$11\r\nUNSUBSCRIBE\r\n");
	feed(R, 6, "*3\r\n$11\r\nunsubscribe\r\n$3\r\nch2\r\n:0\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, "UNSUBSCRIBE", "UNSUBSCRIBE", "", 0, 5, 6);
	assert_true(redis_idle(&conn));
	expect_counters(0, 0, 0);
}

/* The server's side: the same bytes, directions swapped. */
static void
test_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1, PSET_REQ);
	feed(W, 2, PSET_RESP);
	feed(R, 3, UNKNOWN_REQ);
	feed(W, 4, UNKNOWN_ERR);
	assert_int_equal(rec.n, 17);
	expect_ex(0, "SET", "SET key:__rand_int__ ?", "", 0, 1, 2);
	assert_int_equal(rec.ex[0].role, SG_ROLE_SERVER);
	expect_ex(16, "NOSUCHCMD", "NOSUCHCMD a ?", "ERR", 0, 3, 4);
}

/* A connection that predates the sensor learns its role from a reply. */
static void
test_unknown_role(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	feed(W, 1, GET_REQ);		/* an array: could be either */
	feed(R, 2, GET_RESP);		/* a reply read: a client */
	assert_int_equal(redis_ops.role(&conn), SG_ROLE_CLIENT);
	expect_counters(0, 1, 0);
	feed(W, 3, SET_REQ);
	feed(R, 4, SET_RESP);
	assert_int_equal(rec.n, 1);
	expect_ex(0, "SET", "SET foo ?", "", 0, 3, 4);
	start(SG_ROLE_UNKNOWN);
	feed(R, 1, INLINE_REQ);		/* an inline command read: a server */
	assert_int_equal(redis_ops.role(&conn), SG_ROLE_SERVER);
	feed(W, 2, INLINE_RESP);
	assert_int_equal(rec.n, 3);
}

static void
test_close_expire_overflow(void **state)
{
	int i;

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1000, SET_REQ);
	feed(W, 2000, GET_REQ);
	assert_int_equal(redis_expire(&conn, 2500, 1000, rec_emit, &rec), 1);
	expect_ex(0, "SET", "SET foo ?", "", SG_EX_TIMED_OUT, 1000, 2500);
	redis_on_close(&conn, 3000, rec_emit, &rec);
	expect_ex(1, "GET", "GET foo", "", SG_EX_TIMED_OUT, 2000, 3000);
	assert_true(redis_idle(&conn));
	/* a full FIFO: the 65th command is dropped; its reply then answers
	 * nothing */
	start(SG_ROLE_CLIENT);
	for (i = 0; i < REDIS_MAX_PENDING + 1; i++)
		feed(W, 1, GET_REQ);
	expect_counters(0, 0, 1);
	for (i = 0; i < REDIS_MAX_PENDING + 1; i++)
		feed(R, 2, GET_RESP);
	assert_int_equal(rec.n, REDIS_MAX_PENDING);
	expect_counters(0, 1, 1);
}

static void
test_garbage(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, "*2\r\n$3\r\nGET\r\nXX\r\n");	/* not a bulk string */
	expect_counters(4, 0, 0);
	feed(W, 2, GET_REQ);			/* starts anew */
	feed(R, 3, "$3\r\nbarXX\r\n");	/* bad CRLF after the payload */
	expect_ex(0, "GET", "GET foo", "", SG_EX_STATUS_UNKNOWN, 2, 3);
	feed(W, 4, SET_REQ);
	feed(R, 5, SET_RESP);
	expect_ex(1, "SET", "SET foo ?", "", 0, 4, 5);
	/* nesting deeper than the bound */
	feed(W, 6, GET_REQ);
	feed(R, 7, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n"
	    "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
	expect_ex(2, "GET", "GET foo", "", SG_EX_STATUS_UNKNOWN, 6, 7);
}

static void
test_sniff(void **state)
{
	(void)state;
	assert_int_equal(redis_sniff((const uint8_t *)SET_REQ,
	    strlen(SET_REQ), W, 0), SG_SNIFF_YES);
	assert_int_equal(redis_sniff((const uint8_t *)"*3\r", 3, W, 0),
	    SG_SNIFF_MAYBE);
	assert_int_equal(redis_sniff((const uint8_t *)INLINE_REQ,
	    strlen(INLINE_REQ), W, 6379), SG_SNIFF_YES);
	assert_int_equal(redis_sniff((const uint8_t *)INLINE_REQ,
	    strlen(INLINE_REQ), W, 8080), SG_SNIFF_NO);
	assert_int_equal(redis_sniff((const uint8_t *)SET_RESP,
	    strlen(SET_RESP), R, 6379), SG_SNIFF_YES);
	assert_int_equal(redis_sniff((const uint8_t *)GET_RESP,
	    strlen(GET_RESP), R, 6379), SG_SNIFF_YES);
	assert_int_equal(redis_sniff((const uint8_t *)GET_RESP,
	    strlen(GET_RESP), R, 80), SG_SNIFF_NO);
	assert_int_equal(redis_sniff((const uint8_t *)"GET / HTTP/1.1\r\n",
	    16, W, 80), SG_SNIFF_NO);
	assert_int_equal(redis_sniff((const uint8_t *)"*\r\n", 3, W, 0),
	    SG_SNIFF_NO);
}

/* Key bytes outside printable ASCII show as '.', in a key's first word
 * or later ones, whole in the capture (the one-pass parse) or not. */
static void
test_key_printable(void **state)
{
	static const char req[] =
	    "*2\r\n$3\r\nGET\r\n$19\r\nab\x01" "cdefgh\x7f" "jklmno\xc3" "pq\r\n";
	size_t n = strlen(req);

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 1, req);
	feed(R, 2, "$-1\r\n");
	feed_cut(W, 3, req, n - 1, n, req + n - 8);
	feed(R, 4, "$-1\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(0, "GET", "GET ab.cdefgh.jklmno.pq", "", 0, 1, 2);
	expect_ex(1, "GET", "GET ab.cdefgh.jklmno.pq", "", 0, 3, 4);
	expect_counters(0, 0, 0);
}

/*
 * The one-pass parse of common messages against the general one: the
 * same bytes, split into reads and writes and cut by captures at random,
 * some of them damaged, must give the same exchanges and counters.
 */
struct diff_side {
	struct redis_conn	c;
	struct rec		r;
};


static size_t
diff_bulk(char *buf, size_t at, size_t size, size_t len)
{
	char hdr[32], data[128];

	snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	for (size_t i = 0; i < len && i < sizeof(data); i++)
		data[i] = (char)(diff_rand(8) == 0 ? diff_rand(256) :
		    'a' + diff_rand(26));
	at = diff_put(buf, at, size, hdr, strlen(hdr));
	at = diff_put(buf, at, size, data, len < sizeof(data) ? len : 0);
	return diff_put(buf, at, size, "\r\n", 2);
}

/* A command: mostly arrays of bulk strings, sometimes something else. */
static size_t
diff_request(char *buf, size_t at, size_t size)
{
	static const char *const odd[] = { "*0\r\n", "PING\r\n",
	    "*2\r\n$3\r\nGET\r\n$-1\r\n", "*1\r\n:1\r\n",
	    "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", "*1\r\n$4\r\nPING\n" };
	static const char *const names[] = { "GET", "set", "MSET",
	    "UNSUBSCRIBE", "CONFIG", "X" };
	uint32_t k = diff_rand(20), n = 1 + diff_rand(6);
	char hdr[32];
	const char *name;

	if (k == 0) {
		name = odd[diff_rand(sizeof(odd) / sizeof(odd[0]))];
		return diff_put(buf, at, size, name, strlen(name));
	}
	snprintf(hdr, sizeof(hdr), "*%u\r\n", n);
	at = diff_put(buf, at, size, hdr, strlen(hdr));
	name = names[diff_rand(sizeof(names) / sizeof(names[0]))];
	if (k == 1) {
		at = diff_bulk(buf, at, size, 20);	/* a long name */
	} else {
		snprintf(hdr, sizeof(hdr), "$%zu\r\n%s\r\n", strlen(name),
		    name);
		at = diff_put(buf, at, size, hdr, strlen(hdr));
	}
	for (uint32_t i = 1; i < n; i++)
		at = diff_bulk(buf, at, size, diff_rand(4) == 0 ?
		    diff_rand(100) : diff_rand(24));
	return at;
}

static size_t
diff_reply(char *buf, size_t at, size_t size)
{
	static const char *const odd[] = { "$-1\r\n", "-ERR wrong\r\n",
	    "*2\r\n$3\r\nabc\r\n:1\r\n", "%1\r\n+a\r\n+b\r\n", "_\r\n",
	    "+OK\n", ":12\r\n", "$x\r\n",
	    ("*3\r\n$9\r\nsubscribe\r\n" "$2\r\nch\r\n:1\r\n") };
	uint32_t k = diff_rand(6);

	if (k == 0) {
		const char *o = odd[diff_rand(sizeof(odd) / sizeof(odd[0]))];

		return diff_put(buf, at, size, o, strlen(o));
	}
	if (k == 1)
		return diff_put(buf, at, size, ":42\r\n", 5);
	if (k == 2)
		return diff_bulk(buf, at, size, diff_rand(90));
	return diff_put(buf, at, size, "+OK\r\n", 5);
}

static void
diff_feed(struct diff_side *d, bool fast, uint8_t dir, uint64_t ts,
    const char *p, size_t len, size_t cap)
{
	const uint8_t *tail = len >= 8 ? (const uint8_t *)p + len - 8 : NULL;

	redis_fast_off = !fast;
	redis_on_data(&d->c, dir, ts, len, (const uint8_t *)p, cap, tail,
	    rec_emit, &d->r);
	redis_fast_off = false;
}

static void
diff_compare(struct diff_side *a, struct diff_side *b)
{
	diff_results_equal(a->r.ex, a->r.n, b->r.ex, b->r.n, &redis_ops, &a->c,
	    &b->c);
	assert_int_equal(redis_pending(&a->c), redis_pending(&b->c));
	assert_int_equal(redis_idle(&a->c), redis_idle(&b->c));
	a->r.n = b->r.n = 0;
}

/* The pair diff_step feeds: side_a parsed the one-pass way, side_b the
 * general way, or the one-pass way too when side_b_fast. */
static struct diff_side side_a, side_b;
static bool side_b_fast;

static void
diff_step(uint8_t dir, const char *p, size_t len, size_t cap)
{
	static uint64_t ts;

	ts++;
	diff_feed(&side_a, true, dir, ts, p, len, cap);
	diff_feed(&side_b, side_b_fast, dir, ts, p, len, cap);
	diff_compare(&side_a, &side_b);
}

/* Random requests and replies to both sides; every hundredth round they
 * start again (init, a role each). */
static void
diff_rounds(int rounds, void (*init)(uint8_t role))
{
	static char buf[4096];

	for (int round = 0; round < rounds; round++) {
		uint8_t role = round % 2 ? SG_ROLE_CLIENT : SG_ROLE_SERVER;
		uint8_t dir;
		size_t n = 0;
		int msgs = 1 + (int)diff_rand(12);
		bool req = round % 4 < 2;

		if (round % 100 == 0)
			init(role);
		role = side_a.c.role;
		for (int m = 0; m < msgs; m++)
			n = req ? diff_request(buf, n, sizeof(buf)) :
			    diff_reply(buf, n, sizeof(buf));
		/* requests are written by a client, read by a server */
		dir = (req == (role == SG_ROLE_CLIENT)) ? SG_DIR_WRITE :
		    SG_DIR_READ;
		diff_stream(buf, n, dir, diff_step);
	}
}

static void
init_both(uint8_t role)
{
	redis_conn_init(&side_a.c, role);
	redis_conn_init(&side_b.c, role);
}

static void
test_fast_matches_general(void **state)
{
	(void)state;
	side_b_fast = false;
	diff_rounds(3000, init_both);
}

/* side_a's state as the free list hands it back: what the last
 * connection left in it, and bytes no parse wrote; side_b's as calloc
 * gives it. */
static void
init_reused_fresh(uint8_t role)
{
	uint8_t *junk = (uint8_t *)&side_a.c;

	for (size_t i = 0; i < sizeof(side_a.c); i += 1 + diff_rand(64))
		junk[i] = (uint8_t)diff_rand(256);
	redis_conn_init(&side_a.c, role);
	memset(&side_b.c, 0, sizeof(side_b.c));
	redis_conn_init(&side_b.c, role);
}

/* init clears only what a message's start reads (redis_conn_init): a
 * state reused from the free list parses as a new one. */
static void
test_reused_state_parses_as_new(void **state)
{
	(void)state;
	side_b_fast = true;
	diff_rounds(3000, init_reused_fresh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_resp3),
		cmocka_unit_test(test_resp3_spec),
		cmocka_unit_test(test_attribute_split),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_multi_exec),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_pipeline_cut),
		cmocka_unit_test(test_big_values),
		cmocka_unit_test(test_lost_reply),
		cmocka_unit_test(test_subscribe_resp3),
		cmocka_unit_test(test_subscribe_resp2),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_unknown_role),
		cmocka_unit_test(test_close_expire_overflow),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_key_printable),
		cmocka_unit_test(test_fast_matches_general),
		cmocka_unit_test(test_reused_state_parses_as_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
