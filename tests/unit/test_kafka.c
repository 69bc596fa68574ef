/*
 * Kafka Produce and Fetch exchanges (collector/protocols/kafka.c): real
 * bytes of kcat and librdkafka's mock broker (kafka_captures.h), and
 * messages built here for what they did not send (flexible versions,
 * errors, framing past the capture).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	128
#define STEP	1000
#define TIMEOUT	30000000000ULL	/* 30 s */

struct seg {
	uint8_t		 dir;
	const char	*hex;
};

#include "kafka_captures.h"

#define NSEG(a)	(sizeof(a) / sizeof((a)[0]))

struct rec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
};

static struct kafka_conn conn;
static struct rec rec;
static uint64_t now;

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
	kafka_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
	now = 0;
}

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned v;

	for (; hex[0] != '\0' && hex[1] != '\0' && n < max; hex += 2) {
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static size_t
seg_bytes(const struct seg *s, uint8_t *out, size_t max)
{
	return unhex(s->hex, out, max);
}

static uint8_t
flip(uint8_t dir, bool server)
{
	return server ? (uint8_t)(dir == R ? W : R) : dir;
}

/* A read or write of len bytes of which `captured` are seen. */
static void
feed_part(uint8_t dir, const void *data, size_t captured, uint64_t len)
{
	now += STEP;
	kafka_on_data(&conn, dir, now, len, data, captured, rec_emit, &rec);
}

static void
feed(uint8_t dir, const void *data, size_t n)
{
	feed_part(dir, data, n, n);
}

/* Replay a capture, one read or write per segment; server: as the broker
 * saw it. */
static void
replay(const struct seg *segs, size_t n, bool server)
{
	uint8_t b[1024];
	size_t len;

	for (size_t i = 0; i < n; i++) {
		len = seg_bytes(&segs[i], b, sizeof(b));
		feed(flip(segs[i].dir, server), b, len);
	}
}

static void
expect_ex(int i, uint8_t role, const char *op, const char *target,
    const char *error, uint8_t flags)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_KAFKA);
	assert_int_equal(ex->role, role);
	assert_string_equal(ex->op, op);
	assert_string_equal(ex->target, target);
	assert_string_equal(ex->error, error);
	assert_int_equal(ex->flags, flags);
	assert_int_equal(ex->status, 0);
	assert_true(ex->end_ns >= ex->start_ns);
}

static void
expect_counters(uint64_t unparsed, uint64_t unpaired, uint64_t dropped,
    uint64_t unknown)
{
	struct sg_proto_counters c;

	kafka_ops.counters(&conn, &c);
	assert_int_equal(c.unparsed, unparsed);
	assert_int_equal(c.unpaired, unpaired);
	assert_int_equal(c.dropped, dropped);
	assert_int_equal(c.unknown, unknown);
}

static void
close_conn(void)
{
	now += STEP;
	kafka_on_close(&conn, now, rec_emit, &rec);
}

/*
 * Building messages.
 */
struct msg {
	uint8_t	b[4096];
	size_t	n;
};

static void
put(struct msg *m, uint64_t v, int bytes)
{
	assert_true(m->n + (size_t)bytes <= sizeof(m->b));
	for (int i = bytes - 1; i >= 0; i--)
		m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void
put_uvar(struct msg *m, uint32_t v)
{
	while (v >= 0x80) {
		m->b[m->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	m->b[m->n++] = (uint8_t)v;
}

static void
put_str(struct msg *m, const char *s)
{
	put(m, strlen(s), 2);
	memcpy(m->b + m->n, s, strlen(s));
	m->n += strlen(s);
}

static void
put_cstr(struct msg *m, const char *s)
{
	put_uvar(m, (uint32_t)strlen(s) + 1);
	memcpy(m->b + m->n, s, strlen(s));
	m->n += strlen(s);
}

static void
begin(struct msg *m)
{
	m->n = 0;
	put(m, 0, 4);
}

static void
finish(struct msg *m)
{
	uint32_t size = (uint32_t)m->n - 4;

	m->b[0] = (uint8_t)(size >> 24);
	m->b[1] = (uint8_t)(size >> 16);
	m->b[2] = (uint8_t)(size >> 8);
	m->b[3] = (uint8_t)size;
}

/* The size says `more` bytes follow what was built (records the test
 * feeds as past the capture). */
static void
finish_more(struct msg *m, uint32_t more)
{
	uint32_t size = (uint32_t)m->n - 4 + more;

	m->b[0] = (uint8_t)(size >> 24);
	m->b[1] = (uint8_t)(size >> 16);
	m->b[2] = (uint8_t)(size >> 8);
	m->b[3] = (uint8_t)size;
}

static void
req_header(struct msg *m, int api, int version, uint32_t corr, bool flex)
{
	begin(m);
	put(m, (uint64_t)api, 2);
	put(m, (uint64_t)version, 2);
	put(m, corr, 4);
	put_str(m, "test");
	if (flex)
		put_uvar(m, 0);
}

static void
resp_header(struct msg *m, uint32_t corr, bool flex)
{
	begin(m);
	put(m, corr, 4);
	if (flex)
		put_uvar(m, 0);
}

/* Produce v7 (what librdkafka 2.0 and kafkajs send). */
static void
produce_v7(struct msg *m, uint32_t corr, const char *topic, int acks,
    size_t payload)
{
	req_header(m, 0, 7, corr, false);
	put(m, 0xffff, 2);		/* transactional_id null */
	put(m, (uint64_t)(int64_t)acks & 0xffff, 2);
	put(m, 30000, 4);
	put(m, 1, 4);
	put_str(m, topic);
	put(m, 1, 4);
	put(m, 0, 4);
	put(m, payload, 4);
	for (size_t i = 0; i < payload; i++)
		put(m, 0x61, 1);
	finish(m);
}

static void
produce_v7_resp(struct msg *m, uint32_t corr, const char *topic, int err)
{
	resp_header(m, corr, false);
	put(m, 1, 4);
	put_str(m, topic);
	put(m, 1, 4);
	put(m, 0, 4);
	put(m, (uint64_t)err, 2);
	put(m, 0, 8);
	put(m, (uint64_t)-1, 8);
	put(m, 0, 8);
	put(m, 0, 4);			/* throttle */
	finish(m);
}

/* Fetch v11: ntopics topics (0: an incremental session's). */
static void
fetch_v11(struct msg *m, uint32_t corr, const char *topic, int ntopics)
{
	req_header(m, 1, 11, corr, false);
	put(m, 0xffffffff, 4);
	put(m, 500, 4);
	put(m, 1, 4);
	put(m, 52428800, 4);
	put(m, 0, 1);
	put(m, 0, 4);
	put(m, 0xffffffff, 4);
	put(m, (uint64_t)ntopics, 4);
	for (int t = 0; t < ntopics; t++) {
		put_str(m, topic);
		put(m, 1, 4);
		put(m, 0, 4);
		put(m, 0xffffffff, 4);
		put(m, 0, 8);
		put(m, 0xffffffffffffffffULL, 8);
		put(m, 1048576, 4);
	}
	put(m, 0, 4);
	put_str(m, "");
	finish(m);
}

/* Fetch v11 response, one topic, one partition; records: bytes of
 * record batches said to follow (only the length is written: the test
 * feeds the message as longer than it is). */
static void
fetch_v11_resp(struct msg *m, uint32_t corr, const char *topic, int top_err,
    int err, uint32_t records)
{
	resp_header(m, corr, false);
	put(m, 0, 4);
	put(m, (uint64_t)top_err, 2);
	put(m, 0, 4);
	put(m, 1, 4);
	put_str(m, topic);
	put(m, 1, 4);
	put(m, 0, 4);
	put(m, (uint64_t)err, 2);
	put(m, 3, 8);
	put(m, 3, 8);
	put(m, 0, 8);
	put(m, 0, 4);			/* aborted transactions */
	put(m, 0xffffffff, 4);
	put(m, records, 4);
	finish(m);
}

/*
 * Real bytes.
 */
static void
test_produce_session(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(produce_session, NSEG(produce_session), false);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "t1", "", 0);
	/* the Produce request is the 9th segment, its response the 10th */
	assert_int_equal(rec.ex[0].start_ns, 9 * STEP);
	assert_int_equal(rec.ex[0].end_ns, 10 * STEP);
	assert_int_equal(rec.ex[0].req_size, 121);
	assert_int_equal(rec.ex[0].resp_size, 54);
	expect_counters(0, 0, 0, 0);
	assert_true(kafka_idle(&conn));
	close_conn();
	assert_int_equal(rec.n, 1);
}

static void
test_produce_session_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	replay(produce_session, NSEG(produce_session), true);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "publish", "t1", "", 0);
	expect_counters(0, 0, 0, 0);
}

static void
test_consume_session(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(consume_session, NSEG(consume_session), false);
	/* three Fetches delivered a message each; the fourth was in flight
	 * when kcat, done, closed */
	assert_int_equal(rec.n, 3);
	for (int i = 0; i < 3; i++)
		expect_ex(i, SG_ROLE_CLIENT, "process", "t1", "", 0);
	assert_int_equal(kafka_pending(&conn), 1);
	close_conn();
	assert_int_equal(rec.n, 3);
	expect_counters(0, 0, 0, 0);
	assert_true(kafka_idle(&conn));
}

static void
test_consume_session_server(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	replay(consume_session, NSEG(consume_session), true);
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_SERVER, "process", "t1", "", 0);
}

static void
test_produce_error(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(produce_error_session, NSEG(produce_error_session), false);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "t1", "29", 0);
	expect_counters(0, 0, 0, 0);
}

/* acks=0: the exchange ends with the request.  The mock broker answers
 * all the same (a real one does not): unpaired. */
static void
test_produce_acks0(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(acks0_session, NSEG(acks0_session) - 1, false);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "t1", "", 0);
	assert_int_equal(rec.ex[0].start_ns, rec.ex[0].end_ns);
	assert_int_equal(kafka_pending(&conn), 0);
	replay(acks0_session + NSEG(acks0_session) - 1, 1, false);
	assert_int_equal(rec.n, 1);
	expect_counters(0, 1, 0, 0);
}

/* Long polls that found nothing are not exchanges. */
static void
test_empty_fetches(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	replay(empty_fetch_session, NSEG(empty_fetch_session), false);
	assert_int_equal(rec.n, 0);
	close_conn();
	assert_int_equal(rec.n, 0);
	expect_counters(0, 0, 0, 0);
}

/* Every byte a read of its own, and everything in one read a direction. */
static void
test_consume_split_and_joined(void **state)
{
	uint8_t b[1024], all[2][8192];
	size_t len, n[2] = { 0, 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	for (size_t i = 0; i < NSEG(consume_session); i++) {
		len = seg_bytes(&consume_session[i], b, sizeof(b));
		for (size_t k = 0; k < len; k++)
			feed(consume_session[i].dir, b + k, 1);
	}
	assert_int_equal(rec.n, 3);
	expect_ex(1, SG_ROLE_CLIENT, "process", "t1", "", 0);
	expect_counters(0, 0, 0, 0);

	start(SG_ROLE_CLIENT);
	for (size_t i = 0; i < NSEG(consume_session); i++) {
		uint8_t d = consume_session[i].dir;

		n[d] += seg_bytes(&consume_session[i], all[d] + n[d],
		    sizeof(all[d]) - n[d]);
	}
	feed(W, all[W], n[W]);
	feed(R, all[R], n[R]);
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "process", "t1", "", 0);
	expect_counters(0, 0, 0, 0);
}

/* librdkafka reads the size and the correlation id, then the rest. */
static void
test_read_header_then_body(void **state)
{
	uint8_t b[1024];
	size_t len;

	(void)state;
	start(SG_ROLE_CLIENT);
	for (size_t i = 0; i < NSEG(produce_session); i++) {
		len = seg_bytes(&produce_session[i], b, sizeof(b));
		if (produce_session[i].dir == R) {
			feed(R, b, 8);
			feed(R, b + 8, len - 8);
		} else
			feed(W, b, len);
	}
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "t1", "", 0);
	expect_counters(0, 0, 0, 0);
}

/*
 * Built messages.
 */

/* A Produce with a payload larger than the capture, then one more: the
 * payload is skipped by count. */
static void
test_produce_past_capture(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	produce_v7(&m, 5, "orders", -1, 3000);
	feed_part(W, m.b, 256, m.n);
	produce_v7(&m, 6, "orders", -1, 10);
	feed(W, m.b, m.n);
	/* a topic past the capture */
	produce_v7(&m, 7, "orders", -1, 3000);
	feed_part(W, m.b, 35, m.n);
	assert_int_equal(kafka_pending(&conn), 3);
	produce_v7_resp(&m, 5, "orders", 0);
	feed(R, m.b, m.n);
	produce_v7_resp(&m, 6, "orders", 3);
	feed(R, m.b, m.n);
	produce_v7_resp(&m, 7, "orders", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 3);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "orders", "", 0);
	assert_int_equal(rec.ex[0].req_size, 3000 + 50);
	expect_ex(1, SG_ROLE_CLIENT, "publish", "orders", "3", 0);
	expect_ex(2, SG_ROLE_CLIENT, "publish", "", "", SG_EX_TARGET_UNKNOWN);
	expect_counters(0, 0, 0, 0);
}

/* A Fetch response with 200 kB of records over reads of 64 kB, 256
 * bytes of each captured, then the next one in step. */
static void
test_fetch_records_over_reads(void **state)
{
	struct msg m;
	uint64_t total, sent;
	size_t hdr;

	(void)state;
	start(SG_ROLE_CLIENT);
	fetch_v11(&m, 1, "big", 1);
	feed(W, m.b, m.n);
	fetch_v11_resp(&m, 1, "big", 0, 0, 200000);
	hdr = m.n;
	total = hdr + 200000;
	finish_more(&m, 200000);
	feed_part(R, m.b, hdr, 65536);
	for (sent = 65536; sent + 65536 < total; sent += 65536)
		feed_part(R, NULL, 0, 65536);
	assert_int_equal(rec.n, 0);
	feed_part(R, NULL, 0, total - sent);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "process", "big", "", 0);
	assert_int_equal(rec.ex[0].resp_size, total);
	fetch_v11(&m, 2, "big", 1);
	feed(W, m.b, m.n);
	fetch_v11_resp(&m, 2, "big", 0, 1, 0);	/* OFFSET_OUT_OF_RANGE */
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "process", "big", "1", 0);
	fetch_v11(&m, 3, "big", 1);
	feed(W, m.b, m.n);
	fetch_v11_resp(&m, 3, "big", 7, 0, 0);	/* the response's error */
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "process", "big", "7", 0);
	expect_counters(0, 0, 0, 0);
	assert_true(kafka_idle(&conn));
}

/* An incremental fetch session names no topic: the response does. */
static void
test_fetch_incremental(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	fetch_v11(&m, 9, NULL, 0);
	feed(W, m.b, m.n);
	fetch_v11_resp(&m, 9, "events", 0, 0, 10);
	finish_more(&m, 10);
	feed_part(R, m.b, m.n, m.n + 10);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "process", "events", "", 0);
}

/* Fetch response past the capture before its records show: unknown. */
static void
test_fetch_response_past_capture(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	fetch_v11(&m, 1, "t", 1);
	feed(W, m.b, m.n);
	fetch_v11_resp(&m, 1, "t", 0, 0, 0);
	feed_part(R, m.b, 30, m.n);
	assert_int_equal(rec.n, 0);
	expect_counters(0, 0, 0, 1);
	assert_true(kafka_idle(&conn));
}

/* Produce v9 and Fetch v12 (flexible: compact strings, tagged fields),
 * Fetch v13 (topic ids). */
static void
test_flexible_versions(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	req_header(&m, 0, 9, 1, true);
	put_uvar(&m, 0);		/* transactional_id null */
	put(&m, 1, 2);
	put(&m, 1000, 4);
	put_uvar(&m, 2);		/* one topic */
	put_cstr(&m, "flex.topic");
	put_uvar(&m, 1);
	finish(&m);
	feed(W, m.b, m.n);
	resp_header(&m, 1, true);
	put_uvar(&m, 2);
	put_cstr(&m, "flex.topic");
	put_uvar(&m, 3);		/* two partitions */
	put(&m, 0, 4);
	put(&m, 0, 2);
	put(&m, 0, 8);
	put(&m, 0, 8);
	put(&m, 0, 8);
	put_uvar(&m, 1);		/* record_errors: none */
	put_uvar(&m, 0);		/* error_message null */
	put_uvar(&m, 1);		/* a tagged field */
	put_uvar(&m, 5);
	put_uvar(&m, 2);
	put(&m, 0xabcd, 2);
	put(&m, 1, 4);
	put(&m, 6, 2);			/* NOT_LEADER_OR_FOLLOWER */
	finish(&m);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "flex.topic", "6", 0);

	req_header(&m, 1, 12, 2, true);
	put(&m, 0xffffffff, 4);
	put(&m, 500, 4);
	put(&m, 1, 4);
	put(&m, 1000, 4);
	put(&m, 0, 1);
	put(&m, 0, 8);
	put_uvar(&m, 2);
	put_cstr(&m, "flex.topic");
	finish(&m);
	feed(W, m.b, m.n);
	resp_header(&m, 2, true);
	put(&m, 0, 4);
	put(&m, 0, 2);
	put(&m, 0, 4);
	put_uvar(&m, 2);
	put_cstr(&m, "flex.topic");
	put_uvar(&m, 2);
	put(&m, 0, 4);
	put(&m, 0, 2);
	put(&m, 0, 8);
	put(&m, 0, 8);
	put(&m, 0, 8);
	put_uvar(&m, 0);
	put(&m, 0xffffffff, 4);
	put_uvar(&m, 61);
	for (int i = 0; i < 60; i++)
		put(&m, 0, 1);
	put_uvar(&m, 0);
	put_uvar(&m, 0);
	put_uvar(&m, 0);
	finish(&m);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "process", "flex.topic", "", 0);

	/* v13: topics named by id */
	req_header(&m, 1, 13, 3, true);
	put(&m, 0xffffffff, 4);
	put(&m, 500, 4);
	put(&m, 1, 4);
	put(&m, 1000, 4);
	put(&m, 0, 1);
	put(&m, 0, 8);
	put_uvar(&m, 2);
	put(&m, 0x1234, 8);
	put(&m, 0x5678, 8);
	finish(&m);
	feed(W, m.b, m.n);
	resp_header(&m, 3, true);
	put(&m, 0, 4);
	put(&m, 0, 2);
	put(&m, 0, 4);
	put_uvar(&m, 2);
	put(&m, 0x1234, 8);
	put(&m, 0x5678, 8);
	put_uvar(&m, 2);
	put(&m, 0, 4);
	put(&m, 3, 2);
	finish(&m);
	feed_part(R, m.b, m.n, m.n);
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "process", "", "3",
	    SG_EX_TARGET_UNKNOWN);
	expect_counters(0, 0, 0, 0);
}

/* The broker answers in order: a response to a later request means the
 * earlier ones were answered in bytes not followed. */
static void
test_pairing(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	produce_v7(&m, 10, "a", 1, 5);
	feed(W, m.b, m.n);
	produce_v7(&m, 11, "b", 1, 5);
	feed(W, m.b, m.n);
	produce_v7_resp(&m, 11, "b", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "a", "", SG_EX_STATUS_UNKNOWN);
	expect_ex(1, SG_ROLE_CLIENT, "publish", "b", "", 0);
	/* a response to nothing pending */
	produce_v7_resp(&m, 12, "b", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 2);
	expect_counters(0, 1, 0, 0);
}

static void
test_pending_overflow(void **state)
{
	struct msg m;
	uint32_t i;

	(void)state;
	start(SG_ROLE_CLIENT);
	for (i = 0; i < KAFKA_MAX_PENDING + 2; i++) {
		req_header(&m, 12, 3, i, false);	/* Heartbeat */
		put_str(&m, "group");
		finish(&m);
		feed(W, m.b, m.n);
	}
	assert_int_equal(kafka_pending(&conn), KAFKA_MAX_PENDING);
	expect_counters(0, 0, 2, 0);
	for (i = 0; i < KAFKA_MAX_PENDING + 2; i++) {
		resp_header(&m, i, false);
		put(&m, 0, 4);
		put(&m, 0, 2);
		finish(&m);
		feed(R, m.b, m.n);
	}
	/* the answers to the dropped ones are not unpaired */
	expect_counters(0, 0, 2, 0);
	assert_int_equal(rec.n, 0);
	assert_true(kafka_idle(&conn));
}

static void
test_timeouts(void **state)
{
	struct msg m;

	(void)state;
	start(SG_ROLE_CLIENT);
	produce_v7(&m, 1, "p", 1, 5);
	feed(W, m.b, m.n);
	fetch_v11(&m, 2, "f", 1);
	feed(W, m.b, m.n);
	assert_int_equal(kafka_expire(&conn, now + TIMEOUT - STEP, TIMEOUT, rec_emit,
	    &rec), 0);
	assert_int_equal(kafka_expire(&conn, now + 2 * TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 2);
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "p", "", SG_EX_TIMED_OUT);
	expect_ex(1, SG_ROLE_CLIENT, "process", "f", "", SG_EX_TIMED_OUT);
	/* at close: the Produce timed out, the Fetch is not an exchange */
	produce_v7(&m, 3, "p", 1, 5);
	feed(W, m.b, m.n);
	fetch_v11(&m, 4, "f", 1);
	feed(W, m.b, m.n);
	close_conn();
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "publish", "p", "", SG_EX_TIMED_OUT);
	assert_true(kafka_idle(&conn));
}

/* Bytes that are not Kafka: skipped and counted until a buffer starts
 * with a request again. */
static void
test_out_of_step(void **state)
{
	struct msg m;
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n";

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, junk, sizeof(junk) - 1);
	expect_counters(sizeof(junk) - 1, 0, 0, 0);
	feed(W, junk, sizeof(junk) - 1);
	expect_counters(2 * (sizeof(junk) - 1), 0, 0, 0);
	produce_v7(&m, 1, "back", 1, 5);
	feed(W, m.b, m.n);
	produce_v7_resp(&m, 1, "back", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "publish", "back", "", 0);
	/* a response stream out of step waits for a pending correlation id */
	produce_v7(&m, 2, "back", 1, 5);
	feed(W, m.b, m.n);
	feed(R, junk, sizeof(junk) - 1);
	produce_v7_resp(&m, 99, "back", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 1);
	produce_v7_resp(&m, 2, "back", 0);
	feed(R, m.b, m.n);
	assert_int_equal(rec.n, 2);
	expect_counters(3 * (sizeof(junk) - 1) + m.n, 0, 0, 0);
	/* a size past the capture */
	produce_v7(&m, 3, "back", 1, 5);
	feed_part(W, m.b, 2, m.n);
	assert_int_equal(kafka_pending(&conn), 0);
}

/* A connection that predates the sensor: the side that writes requests
 * is the client. */
/* A connection that predates the sensor: a request is believed once the
 * other direction answers it. */
static void
test_unknown_role(void **state)
{
	struct msg m;
	uint64_t skipped = 0;

	(void)state;
	start(SG_ROLE_UNKNOWN);
	/* this response reads as a Produce v1 request header */
	produce_v7_resp(&m, 1, "x", 0);
	feed(W, m.b, m.n);
	skipped += m.n;
	assert_int_equal(kafka_ops.role(&conn), SG_ROLE_UNKNOWN);
	produce_v7(&m, 2, "x", 1, 5);
	feed(R, m.b, m.n);
	skipped += m.n;
	assert_int_equal(kafka_ops.role(&conn), SG_ROLE_UNKNOWN);
	produce_v7_resp(&m, 2, "x", 0);
	feed(W, m.b, m.n);
	skipped += m.n;
	assert_int_equal(kafka_ops.role(&conn), SG_ROLE_SERVER);
	produce_v7(&m, 3, "x", 1, 5);
	feed(R, m.b, m.n);
	produce_v7_resp(&m, 3, "x", 0);
	feed(W, m.b, m.n);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "publish", "x", "", 0);
	expect_counters(skipped, 0, 0, 0);
}

static void
test_sniff(void **state)
{
	uint8_t b[1024];
	size_t len;
	struct msg m;

	(void)state;
	/* kcat's first request: ApiVersions, on any port */
	len = seg_bytes(&produce_session[0], b, sizeof(b));
	assert_int_equal(kafka_sniff(b, len, W, 40309), SG_SNIFF_YES);
	assert_int_equal(kafka_sniff(b, len, R, 0), SG_SNIFF_YES);
	/* Metadata: on 9092 only */
	len = seg_bytes(&produce_session[4], b, sizeof(b));
	assert_int_equal(kafka_sniff(b, len, W, 9092), SG_SNIFF_YES);
	assert_int_equal(kafka_sniff(b, len, W, 1234), SG_SNIFF_MAYBE);
	/* a server reading the size alone */
	assert_int_equal(kafka_sniff(b, 4, R, 9092), SG_SNIFF_YES);
	assert_int_equal(kafka_sniff(b, 4, R, 1234), SG_SNIFF_MAYBE);
	/* a response (the ApiVersions one: its error code reads as a
	 * correlation id with the high bit clear, the rest as a client id
	 * too long) */
	len = seg_bytes(&produce_session[3], b, sizeof(b));
	assert_int_equal(kafka_sniff(b, len, R, 1234), SG_SNIFF_NO);
	assert_int_equal(kafka_sniff((const uint8_t *)"GET / HTTP/1.1\r\n",
	    16, W, 9092), SG_SNIFF_NO);
	assert_int_equal(kafka_sniff((const uint8_t *)"*1\r\n$4\r\nPING\r\n",
	    14, W, 9092), SG_SNIFF_NO);
	/* a client id that is not text */
	req_header(&m, 18, 3, 1, false);
	m.b[14] = 0x01;
	finish(&m);
	assert_int_equal(kafka_sniff(m.b, m.n, W, 9092), SG_SNIFF_NO);
	assert_int_equal(kafka_sniff(NULL, 0, W, 9092), SG_SNIFF_MAYBE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_session),
		cmocka_unit_test(test_produce_session_server),
		cmocka_unit_test(test_consume_session),
		cmocka_unit_test(test_consume_session_server),
		cmocka_unit_test(test_produce_error),
		cmocka_unit_test(test_produce_acks0),
		cmocka_unit_test(test_empty_fetches),
		cmocka_unit_test(test_consume_split_and_joined),
		cmocka_unit_test(test_read_header_then_body),
		cmocka_unit_test(test_produce_past_capture),
		cmocka_unit_test(test_fetch_records_over_reads),
		cmocka_unit_test(test_fetch_incremental),
		cmocka_unit_test(test_fetch_response_past_capture),
		cmocka_unit_test(test_flexible_versions),
		cmocka_unit_test(test_pairing),
		cmocka_unit_test(test_pending_overflow),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_out_of_step),
		cmocka_unit_test(test_unknown_role),
		cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
