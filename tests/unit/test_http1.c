/*
 * HTTP/1.x pairing (collector/http1.c) and the connection table
 * (collector/conns.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conns.h"
#include "http1.h"
#include "tracectx.h"
#include "difftest.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX	128
#define TIMEOUT	30000000000ULL	/* 30 s */

struct rec {
	int                n;
	struct sg_exchange ex[REC_MAX];
	/* the tracestates, which an exchange only points to */
	char               ts[REC_MAX][TRACESTATE_MAX + 1];
};

static struct http1_conn conn;
static struct rec rec;

static void
rec_emit(void *ctx, const struct sg_exchange *ex)
{
	struct rec *r = ctx;

	assert_true(r->n < REC_MAX);
	assert_true(ex->tracestate_len <= TRACESTATE_MAX);
	assert_true((ex->tracestate == NULL) == (ex->tracestate_len == 0));
	r->ex[r->n] = *ex;
	if (ex->tracestate != NULL) {
		memcpy(r->ts[r->n], ex->tracestate, ex->tracestate_len);
		r->ts[r->n][ex->tracestate_len] = '\0';
		r->ex[r->n].tracestate = r->ts[r->n];
	}
	r->n++;
}

static void
start(uint8_t role)
{
	http1_conn_init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

/* A read or write seen whole. */
static void
feed(uint8_t dir, uint64_t ts, const char *s)
{
	size_t n = strlen(s);

	http1_on_data(&conn, dir, ts, n, (const uint8_t *)s, n, NULL,
	    rec_emit, &rec);
}

/* A read or write of len bytes of which `captured` are seen. */
static void
feed_part(uint8_t dir, uint64_t ts, const void *data, size_t captured,
    uint64_t len, const void *tail)
{
	http1_on_data(&conn, dir, ts, len, data, captured, tail, rec_emit,
	    &rec);
}

static void
expect_ex(int i, uint8_t role, const char *method, const char *path,
    uint16_t status, uint64_t start_ns, uint64_t end_ns, uint64_t req_body,
    uint64_t resp_body)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->role, role);
	assert_string_equal(ex->op, method);
	assert_string_equal(ex->target, path);
	assert_int_equal(ex->status, status);
	assert_int_equal((ex->flags & SG_EX_TIMED_OUT) != 0, status == 0);
	assert_int_equal(ex->start_ns, start_ns);
	assert_int_equal(ex->end_ns, end_ns);
	assert_int_equal(ex->req_size, req_body);
	assert_int_equal(ex->resp_size, resp_body);
}

static void
fill(uint8_t *buf, size_t n, uint8_t ch)
{
	memset(buf, ch, n);
}

static void
test_server_get_200(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1000, "GET /index.html?q=1&r=2 HTTP/1.1\r\nHost: example\r\n"
	    "User-Agent: curl/8\r\n\r\n");
	assert_int_equal(rec.n, 0);
	assert_false(http1_idle(&conn));
	feed(W, 2500, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Type: text/plain\r\n\r\nhello");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/index.html", 200, 1000, 2500,
	    0, 5);
	assert_string_equal(rec.ex[0].version, "1.1");
	assert_int_equal(conn.garbage, 0);
	assert_true(http1_idle(&conn));
}

static void
test_client_get_200(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 100, "GET /api/v1/items HTTP/1.1\r\nHost: svc\r\n\r\n");
	feed(R, 400, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
	assert_int_equal(rec.n, 0);
	feed(R, 700, "0123456789");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "GET", "/api/v1/items", 200, 100, 700,
	    0, 10);
	assert_true(http1_idle(&conn));
}

static void
test_keepalive_three(void **state)
{
	static const char *paths[] = { "/a", "/bb", "/ccc" };
	char req[128];
	int i;

	(void)state;
	start(SG_ROLE_SERVER);
	for (i = 0; i < 3; i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
		    paths[i]);
		feed(R, 1000 * (i + 1), req);
		feed(W, 1000 * (i + 1) + 300,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		assert_int_equal(rec.n, i + 1);
		expect_ex(i, SG_ROLE_SERVER, "GET", paths[i], 200,
		    1000 * (i + 1), 1000 * (i + 1) + 300, 0, 2);
	}
}

static void
test_pipelined_three(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100,
	    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	    "GET /2?x=y HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(conn.npending, 3);
	feed(W, 200,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n");
	assert_int_equal(rec.n, 3);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/1", 200, 100, 200, 0, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/2", 404, 100, 200, 0, 0);
	expect_ex(2, SG_ROLE_SERVER, "POST", "/3", 201, 100, 200, 3, 13);
	assert_true(http1_idle(&conn));
	assert_int_equal(conn.garbage, 0);
}

static void
test_split_request(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "GE");
	feed(R, 20, "T /split/path?x=1 HTTP/1");
	feed(R, 30, ".1\r\nHost: h\r\n\r");
	assert_int_equal(conn.npending, 0);
	feed(R, 35, "\n");
	assert_int_equal(conn.npending, 1);
	feed(W, 40, "HTTP/1.");
	feed(W, 45, "1 200 OK\r\nContent-Le");
	feed(W, 50, "ngth: 3\r\n\r\nab");
	assert_int_equal(rec.n, 0);
	feed(W, 60, "c");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/split/path", 200, 10, 60, 0, 3);
	assert_int_equal(conn.garbage, 0);
}

static void
test_post_body_over_reads(void **state)
{
	uint8_t body[3000];

	(void)state;
	fill(body, sizeof(body), 'x');
	start(SG_ROLE_SERVER);
	feed(R, 100, "POST /upload HTTP/1.1\r\nContent-Length: 10000\r\n"
	    "Content-Type: application/octet-stream\r\n\r\n");
	feed_part(R, 110, body, 100, 100, NULL);
	feed_part(R, 120, body, 256, 3000, NULL);
	feed_part(R, 130, body, 256, 3000, NULL);
	feed_part(R, 140, body, 256, 3000, NULL);
	assert_int_equal(conn.req.body_left, 900);
	feed_part(R, 150, body, 256, 900, NULL);
	feed(W, 300, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "POST", "/upload", 201, 100, 300,
	    10000, 0);
	/* still in step: the next request parses */
	feed(R, 400, "GET /next HTTP/1.1\r\n\r\n");
	feed(W, 500, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/next", 200, 400, 500, 0, 0);
	assert_int_equal(conn.garbage, 0);
}

/* The CRLF and the Content-Length field split over reads. */
static void
test_post_split_headers(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "POST /f HTTP/1.1\r\nCont");
	feed(R, 20, "ent-Length: 4\r\n\r");
	feed(R, 30, "\nbo");
	feed(R, 40, "dy");
	feed(W, 50, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "POST", "/f", 200, 10, 50, 4, 0);
}

static void
test_chunked_request_body(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 10, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	feed(W, 20, "5\r\nhello\r\n");
	feed(W, 30, "0\r\n\r\n");
	feed(R, 40, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "POST", "/c", 200, 10, 40, 15, 0);
}

static size_t
chunk(uint8_t *buf, size_t size, uint8_t ch, const char *trailer)
{
	int n = snprintf((char *)buf, 16, "%zx\r\n", size);

	memset(buf + n, ch, size);
	memcpy(buf + n + size, trailer, strlen(trailer));
	return n + size + strlen(trailer);
}

static void
test_chunked_tail(void **state)
{
	static uint8_t w2[8192], w3[8192], w4[8192];
	size_t n2, n3, n4;

	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n");
	feed(W, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	/* size lines visible: followed exactly */
	n2 = chunk(w2, 4096, 'a', "\r\n");
	feed_part(W, 300, w2, 256, n2, w2 + n2 - SG_TAIL_LEN);
	assert_int_equal(n2, 4104);
	/* the second size line is past the capture: only tails tell */
	n3 = chunk(w3, 2048, 'b', "\r\n");
	n3 += chunk(w3 + n3, 2048, 'b', "\r\n");
	feed_part(W, 400, w3, 256, n3, w3 + n3 - SG_TAIL_LEN);
	assert_int_equal(rec.n, 0);
	n4 = chunk(w4, 1024, 'c', "\r\n0\r\n\r\n");
	feed_part(W, 500, w4, 256, n4, w4 + n4 - SG_TAIL_LEN);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/stream", 200, 100, 500, 0,
	    n2 + n3 + n4);
	assert_int_equal(n2 + n3 + n4, 4104 + 4110 + 1036);
	assert_true(http1_idle(&conn));

	/* the terminator split over writes once blind */
	feed(R, 600, "GET /s2 HTTP/1.1\r\n\r\n");
	feed(W, 700, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	feed_part(W, 710, w3, 256, n3, w3 + n3 - SG_TAIL_LEN);
	feed(W, 720, "0\r\n");
	assert_int_equal(rec.n, 1);
	feed(W, 730, "\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/s2", 200, 600, 730, 0, n3 + 5);
	assert_int_equal(conn.garbage, 0);
}

static void
test_response_larger_than_capture(void **state)
{
	static uint8_t buf[16384];
	const char *hdr = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
	    "Content-Type: application/octet-stream\r\n\r\n";
	uint64_t total, sent = 0, ts = 200, n;

	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n");
	fill(buf, sizeof(buf), 'z');
	memcpy(buf, hdr, strlen(hdr));
	total = strlen(hdr) + 100000;
	while (sent < total) {
		n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
		assert_int_equal(rec.n, 0);
		feed_part(W, ts, buf, 256, n, NULL);
		sent += n;
		ts += 10;
	}
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/big.bin", 200, 100, ts - 10, 0,
	    100000);
	assert_true(http1_idle(&conn));
	assert_int_equal(conn.garbage, 0);
}

static void
test_statuses_404_503(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "GET /missing HTTP/1.1\r\n\r\n");
	feed(W, 20, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
	    "not found");
	feed(R, 30, "DELETE /svc HTTP/1.1\r\n\r\n");
	feed(W, 45, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nRetry-After: 1\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/missing", 404, 10, 20, 0, 9);
	expect_ex(1, SG_ROLE_SERVER, "DELETE", "/svc", 503, 30, 45, 0, 0);
}

static void
test_head_no_body(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 10, "HEAD /doc HTTP/1.1\r\n\r\n");
	feed(R, 20, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "HEAD", "/doc", 200, 10, 20, 0, 0);
	feed(W, 30, "GET /doc HTTP/1.1\r\n\r\n");
	feed(R, 40, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "GET", "/doc", 200, 30, 40, 0, 3);
}

static void
test_204_304(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "PUT /k HTTP/1.1\r\nContent-Length: 2\r\n\r\nv1");
	feed(W, 20, "HTTP/1.1 204 No Content\r\n\r\n");
	feed(R, 30, "GET /k HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n");
	feed(W, 40, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_SERVER, "PUT", "/k", 204, 10, 20, 2, 0);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/k", 304, 30, 40, 0, 0);
	assert_true(http1_idle(&conn));
}

static void
test_100_continue(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\n");
	feed(W, 150, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(rec.n, 0);
	assert_int_equal(conn.npending, 1);
	feed(R, 200, "hello");
	feed(W, 300, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "POST", "/up", 200, 100, 300, 5, 2);
}

static void
test_http10_close_delimited(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100, "GET /old HTTP/1.0\r\n\r\n");
	feed(W, 200, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome");
	feed(W, 300, "more");
	assert_int_equal(rec.n, 0);
	http1_on_close(&conn, 400, rec_emit, &rec);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/old", 200, 100, 400, 0, 8);
	assert_string_equal(rec.ex[0].version, "1.0");
	assert_true(http1_idle(&conn));
}

static void
test_close_leaves_pending_timed_out(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 100, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	http1_on_close(&conn, 900, rec_emit, &rec);
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_CLIENT, "GET", "/a", 0, 100, 900, 0, 0);
	expect_ex(1, SG_ROLE_CLIENT, "GET", "/b", 0, 100, 900, 0, 0);
}

static void
test_timeout(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1000, "GET /slow HTTP/1.1\r\n\r\n");
	feed(R, 5000, "GET /slower HTTP/1.1\r\n\r\n");
	assert_int_equal(http1_expire(&conn, 1000 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 0);
	assert_int_equal(rec.n, 0);
	assert_int_equal(http1_expire(&conn, 1001 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 1);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/slow", 0, 1000, 1001 + TIMEOUT,
	    0, 0);
	assert_int_equal(conn.npending, 1);
	assert_int_equal(http1_expire(&conn, 6000 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 1);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/slower", 0, 5000, 6000 + TIMEOUT,
	    0, 0);
	assert_true(http1_idle(&conn));
}

/* A response that started but stalled ends with its status where its
 * last byte was seen, not as a timeout. */
static void
test_stalled_response(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1000, "GET /dl HTTP/1.1\r\n\r\n");
	feed(W, 2000, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123");
	assert_int_equal(http1_expire(&conn, 1001 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 0);
	assert_int_equal(rec.n, 0);
	assert_int_equal(http1_expire(&conn, 2001 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 0);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/dl", 200, 1000, 2000, 0, 4);
	assert_true(http1_idle(&conn));
}

static uint32_t
prng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_garbage(void **state)
{
	static const uint8_t binary[] = { 0x00, 0x01, 0x02, 0xff, 0xfe, 0x7f,
	    0x10, 0x00, 'G', 'E', 'T' };
	/* a TLS 1.2 record header and ClientHello start */
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
	    0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x1b, 0x9c, 0x00, 0x20 };
	uint8_t rnd[1000];
	uint32_t seed = 12345;
	size_t i;
	int round;

	(void)state;
	start(SG_ROLE_SERVER);
	feed_part(R, 10, binary, sizeof(binary), sizeof(binary), NULL);
	assert_int_equal(conn.garbage, sizeof(binary));
	feed_part(R, 20, hello, sizeof(hello), 517, NULL);
	assert_int_equal(conn.garbage, sizeof(binary) + 517);
	feed_part(W, 30, hello, sizeof(hello), sizeof(hello), NULL);
	assert_int_equal(conn.garbage, sizeof(binary) + 517 + sizeof(hello));
	assert_int_equal(rec.n, 0);
	assert_int_equal(conn.npending, 0);
	/* text that is not a request line */
	feed(R, 40, "get / HTTP/1.1\r\n\r\n");
	feed(R, 41, "GET /x HTTP/2.0\r\n\r\n");
	feed(R, 42, "ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n");
	feed(R, 43, "GET  / HTTP/1.1\r\n\r\n");
	assert_int_equal(conn.npending, 0);
	/* the next real request is parsed again */
	feed(R, 50, "ABCDEFGHIJKLMNO /custom HTTP/1.1\r\n\r\n");
	feed(W, 60, "HTTP/1.1 600 Odd\r\n\r\n");
	assert_int_equal(rec.n, 0);
	feed(W, 70, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "ABCDEFGHIJKLMNO", "/custom", 200, 50,
	    70, 0, 0);

	/* random bytes in random pieces, every role: no crash, no exchange */
	for (round = 0; round < 200; round++) {
		start((uint8_t)(round % 3));
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)prng(&seed);
		for (i = 0; i < sizeof(rnd); ) {
			size_t n = 1 + prng(&seed) % 300;
			uint64_t len = n + prng(&seed) % 3 * 1000;

			if (n > sizeof(rnd) - i)
				n = sizeof(rnd) - i;
			feed_part(prng(&seed) & 1 ? R : W, i, rnd + i, n, len,
			    prng(&seed) & 1 ? rnd : NULL);
			i += n;
		}
		http1_expire(&conn, 1, 1, rec_emit, &rec);
		http1_on_close(&conn, 2000, rec_emit, &rec);
		assert_int_equal(rec.n, 0);
		assert_true(conn.garbage > 0);
	}
}

/* Header bytes are checked eight at a time: a control byte or DEL at any
 * position of a word, and next to bytes that make the word arithmetic
 * borrow, is still found; tabs and obs-text are still allowed. */
static void
test_header_chars(void **state)
{
	static const char *const bad[] = {
		"X-A: \x01" "bcdefghijklmnop",   /* in the first word */
		"X-Abcdefghij: k\x7flmnop",       /* DEL in the second */
		"X-Abcdefgh\x1f: v",               /* 0x1f before the colon */
		"X-Abcdefghijklmno: \x80\x19" "x",  /* after obs-text */
		"X-Abcdefghijklmnopqrstuvw: \x7f", /* in the short tail */
	};
	char line[160];

	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "GET /t HTTP/1.1\r\nX-Tab:\tvalue\twith\ttabs\t\r\n"
	    "X-Obs: caf\xc3\xa9 \xff\xfe\x80\x81\x82\x83\x84\x85\r\n"
	    "Content-Length: 0\r\n\r\n");
	feed(W, 20, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(rec.n, 1);
	assert_int_equal(conn.garbage, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;

		start(SG_ROLE_SERVER);
		n = (size_t)snprintf(line, sizeof(line), "GET /t HTTP/1.1\r\n"
		    "%s\r\n\r\n", bad[i]);
		feed_part(R, 10, line, n, n, NULL);
		feed(W, 20, "HTTP/1.1 204 No Content\r\n\r\n");
		assert_int_equal(rec.n, 0);
		assert_true(conn.garbage > 0);
	}
}

/* A header block's bad line makes garbage of the bytes from its start
 * on, the good lines before it not (they are read in one go). */
static void
test_header_garbage_from_bad_line(void **state)
{
	static const char bad[] = "No colon on this line\r\n\r\n";

	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "GET /t HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\n"
	    "No colon on this line\r\n\r\n");
	feed(W, 20, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(rec.n, 0);
	assert_int_equal(conn.garbage, sizeof(bad) - 1);
}

static void
test_unknown_role_server(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	/* the end of a response to a request from before the sensor */
	feed(W, 10, "tail of an old body");
	assert_int_equal(conn.role, SG_ROLE_UNKNOWN);
	assert_int_equal(conn.garbage, 19);
	feed(R, 20, "GET /late HTTP/1.1\r\n\r\n");
	assert_int_equal(conn.role, SG_ROLE_SERVER);
	feed(W, 30, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/late", 200, 20, 30, 0, 0);
}

static void
test_unknown_role_client(void **state)
{
	(void)state;
	start(SG_ROLE_UNKNOWN);
	feed(R, 10, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(conn.role, SG_ROLE_UNKNOWN);
	feed(W, 20, "OPTIONS * HTTP/1.1\r\n\r\n");
	assert_int_equal(conn.role, SG_ROLE_CLIENT);
	feed(R, 30, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "OPTIONS", "*", 200, 20, 30, 0, 0);
}

static void
test_absolute_form(void **state)
{
	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 10, "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n\r\n"
	    "GET HTTP://example.com HTTP/1.1\r\n\r\n"
	    "CONNECT example.com:443 HTTP/1.1\r\n\r\n");
	feed(R, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01");
	assert_int_equal(rec.n, 3);
	expect_ex(0, SG_ROLE_CLIENT, "GET", "/a/b", 200, 10, 20, 0, 0);
	expect_ex(1, SG_ROLE_CLIENT, "GET", "/", 200, 10, 20, 0, 0);
	expect_ex(2, SG_ROLE_CLIENT, "CONNECT", "example.com:443", 200, 10, 20,
	    0, 0);
	/* a tunnel now: TLS bytes are not garbage */
	feed(W, 30, "\x16\x03\x01\x02\x00");
	assert_int_equal(conn.garbage, 0);
}

static void
test_long_target(void **state)
{
	char req[700], want[SG_PATH_MAX];

	(void)state;
	start(SG_ROLE_SERVER);
	memset(want, 'p', sizeof(want));
	want[0] = '/';
	want[SG_PATH_MAX - 1] = '\0';
	snprintf(req, sizeof(req), "GET /%0400d?q HTTP/1.1\r\n\r\n", 0);
	memset(req + 5, 'p', 399);
	feed(R, 10, req);
	feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	assert_int_equal(strlen(rec.ex[0].target), SG_PATH_MAX - 1);
	assert_string_equal(rec.ex[0].target, want);
}

/* Request headers past the capture, then a response whose headers are
 * past it too: paired, the response ended by the next request. */
static void
test_headers_past_capture(void **state)
{
	static uint8_t buf[4096];
	const char *req = "GET /cookies HTTP/1.1\r\nHost: h\r\nCookie: ";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n"
	    "Set-Cookie: ";

	(void)state;
	start(SG_ROLE_SERVER);
	fill(buf, sizeof(buf), 'k');
	memcpy(buf, req, strlen(req));
	feed_part(R, 100, buf, 128, 2000, NULL);
	assert_int_equal(conn.npending, 1);
	memcpy(buf, resp, strlen(resp));
	feed_part(W, 200, buf, 128, 3500, NULL);
	feed_part(W, 300, buf + 1000, 128, 500, NULL);
	assert_int_equal(rec.n, 0);
	feed(R, 400, "GET /next HTTP/1.1\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/cookies", 200, 100, 300, 0,
	    3000);
	feed(W, 500, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/next", 200, 400, 500, 0, 0);
	assert_int_equal(conn.garbage, 0);
}

static void
test_upgrade(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n");
	feed(W, 20, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n\r\n\x81\x05hello");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/ws", 101, 10, 20, 0, 0);
	feed(R, 30, "\x81\x85garbage?");
	feed(W, 40, "\x81\x02hi");
	assert_int_equal(rec.n, 1);
	assert_int_equal(conn.garbage, 0);
	assert_false(http1_idle(&conn));
}

/*
 * W3C traceparent.
 */
#define TP_TRACE	"4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_PARENT	"00f067aa0ba902b7"

static const uint8_t tp_trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3,
    0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t tp_parent[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9,
    0x02, 0xb7 };

/* Exchange i has the test's context, sampled or not. */
static void
expect_tctx(int i, bool sampled)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->flags & (SG_EX_TRACE_CTX | SG_EX_TRACE_INVALID),
	    SG_EX_TRACE_CTX);
	assert_int_equal((ex->flags & SG_EX_TRACE_SAMPLED) != 0, sampled);
	assert_memory_equal(ex->trace_id, tp_trace, 16);
	assert_memory_equal(ex->parent_span_id, tp_parent, 8);
}

/* Exchange i has no context: none sent (invalid false) or one ignored. */
static void
expect_no_tctx(int i, bool invalid)
{
	static const uint8_t zero[16];
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->flags & (SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED),
	    0);
	assert_int_equal((ex->flags & SG_EX_TRACE_INVALID) != 0, invalid);
	assert_memory_equal(ex->trace_id, zero, 16);
	assert_memory_equal(ex->parent_span_id, zero, 8);
}

/* One request with the given header lines, and its response. */
static void
tp_exchange(const char *fields)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "GET /t HTTP/1.1\r\nHost: h\r\n%s\r\n",
	    fields);
	feed(R, 10, buf);
	feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void
test_traceparent_valid(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	tp_exchange("traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n");
	expect_tctx(0, true);
	/* not sampled; other flags ignored; any case of the name; OWS */
	tp_exchange("TraceParent:\t00-" TP_TRACE "-" TP_PARENT "-00  \r\n");
	expect_tctx(1, false);
	tp_exchange("TRACEPARENT:00-" TP_TRACE "-" TP_PARENT "-03\r\n");
	expect_tctx(2, true);
	/* a later version: its first fields, more after a '-' */
	tp_exchange("traceparent: cc-" TP_TRACE "-" TP_PARENT
	    "-01-what-the-future-will-be-like\r\n");
	expect_tctx(3, true);
	tp_exchange("traceparent: 01-" TP_TRACE "-" TP_PARENT "-00\r\n");
	expect_tctx(4, false);
	/* a tracestate before it changes nothing of the context */
	tp_exchange("tracestate: congo=t61rcWkgMzE\r\n"
	    "traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n");
	expect_tctx(5, true);
	/* none */
	tp_exchange("");
	expect_no_tctx(6, false);
	/* in a response it is no context of the request */
	feed(R, 30, "GET /r HTTP/1.1\r\n\r\n");
	feed(W, 40, "HTTP/1.1 200 OK\r\ntraceparent: 00-" TP_TRACE "-"
	    TP_PARENT "-01\r\nContent-Length: 0\r\n\r\n");
	expect_no_tctx(7, false);
	assert_int_equal(rec.n, 8);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(conn.garbage, 0);
}

static void
test_traceparent_invalid(void **state)
{
	static const char *bad[] = {
		/* upper-case hex is not HEXDIGLC */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" TP_PARENT "-01",
		"00-" TP_TRACE "-00F067AA0BA902B7-01",
		"00-" TP_TRACE "-" TP_PARENT "-0A",
		"0A-" TP_TRACE "-" TP_PARENT "-01",
		/* version ff */
		"ff-" TP_TRACE "-" TP_PARENT "-01",
		/* all-zero ids */
		"00-00000000000000000000000000000000-" TP_PARENT "-01",
		"00-" TP_TRACE "-0000000000000000-01",
		/* version 00 is exactly 55 bytes */
		"00-" TP_TRACE "-" TP_PARENT "-01-extra",
		"00-" TP_TRACE "-" TP_PARENT "-010",
		"00-" TP_TRACE "-" TP_PARENT "-1",
		"00-" TP_TRACE "1-" TP_PARENT "-01",
		"00-" TP_TRACE "-" TP_PARENT "0-01",
		/* a later version still needs '-' after its first fields */
		"cc-" TP_TRACE "-" TP_PARENT "-01.what-the-future",
		/* separators, characters */
		"00_" TP_TRACE "-" TP_PARENT "-01",
		"00-" TP_TRACE "_" TP_PARENT "-01",
		"00-" TP_TRACE "-" TP_PARENT "_01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-" TP_PARENT "-01",
		"00-" TP_TRACE "-00f067aa0ba902bz-01",
		"00-" TP_TRACE "-" TP_PARENT "-0g",
		"00-" TP_TRACE "-" TP_PARENT "- 1",
		"00 -" TP_TRACE "-" TP_PARENT "-01",
		"",
		"-",
		"00",
	};
	char buf[256];
	int i, n = (int)(sizeof(bad) / sizeof(bad[0]));

	(void)state;
	start(SG_ROLE_SERVER);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "traceparent: %s\r\n", bad[i]);
		tp_exchange(buf);
		assert_int_equal(rec.n, i + 1);
		expect_no_tctx(i, true);
	}
	/* two, even both valid: as one combined value, not valid */
	tp_exchange("traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n"
	    "traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n");
	expect_no_tctx(i++, true);
	tp_exchange("traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n"
	    "traceparent: x\r\n");
	expect_no_tctx(i++, true);
	/* the next request starts afresh */
	tp_exchange("traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n");
	expect_tctx(i, true);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(conn.garbage, 0);
}

/* The header line split across reads at every byte: joined, then read. */
static void
test_traceparent_split(void **state)
{
	const char *req = "GET /s HTTP/1.1\r\nHost: h\r\ntraceparent: 00-"
	    TP_TRACE "-" TP_PARENT "-01\r\nAccept: */*\r\n\r\n";
	size_t n = strlen(req);

	(void)state;
	start(SG_ROLE_SERVER);
	for (size_t cut = 1; cut < n; cut++) {
		http1_on_data(&conn, R, 10, cut, (const uint8_t *)req, cut,
		    NULL, rec_emit, &rec);
		http1_on_data(&conn, R, 11, n - cut,
		    (const uint8_t *)req + cut, n - cut, NULL, rec_emit, &rec);
		feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		assert_int_equal(rec.n, (int)cut);
		expect_tctx((int)cut - 1, true);
	}
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(conn.garbage, 0);
}

/* Past the capture it is not known: no context, and nothing counted (it
 * may not be there at all). */
static void
test_traceparent_past_capture(void **state)
{
	static uint8_t buf[1024];
	const char *req = "GET /big HTTP/1.1\r\nHost: h\r\nCookie: ";
	const char *tp = "\r\ntraceparent: 00-" TP_TRACE "-" TP_PARENT
	    "-01\r\n\r\n";

	(void)state;
	start(SG_ROLE_SERVER);
	fill(buf, sizeof(buf), 'k');
	memcpy(buf, req, strlen(req));
	memcpy(buf + 400, tp, strlen(tp));
	feed_part(R, 10, buf, 256, 400 + strlen(tp), NULL);
	feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/big", 200, 10, 20, 0, 0);
	expect_no_tctx(0, false);
	/* cut by the capture inside its value: not read either */
	start(SG_ROLE_SERVER);
	memcpy(buf, "GET /cut HTTP/1.1\r\ntraceparent: 00-" TP_TRACE "-"
	    TP_PARENT "-01\r\n\r\n", 19 + 13 + 55 + 4);
	feed_part(R, 10, buf, 19 + 13 + 40, 19 + 13 + 55 + 4, NULL);
	feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_no_tctx(0, false);
}

/*
 * W3C tracestate: kept with a valid traceparent, carried by the exchange.
 */
#define TS_A	"congo=t61rcWkgMzE"
#define TS_B	"rojo=00f067aa0ba902b7"
#define TP_LINE	"traceparent: 00-" TP_TRACE "-" TP_PARENT "-01\r\n"

/* Exchange i's tracestate is want (NULL: none), with the flags given. */
static void
expect_tstate(int i, const char *want, uint8_t flags)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->tracestate_flags, flags);
	if (want == NULL) {
		assert_null(ex->tracestate);
		assert_int_equal(ex->tracestate_len, 0);
		return;
	}
	assert_non_null(ex->tracestate);
	assert_int_equal(ex->tracestate_len, strlen(want));
	assert_string_equal(ex->tracestate, want);
}

static void
test_tracestate(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	tp_exchange(TP_LINE "tracestate: " TS_A "\r\n");
	expect_tctx(0, true);
	expect_tstate(0, TS_A, 0);
	/* before the traceparent; whitespace around members, empty ones */
	tp_exchange("tracestate:  " TS_A " ,\t, " TS_B "  \r\n" TP_LINE);
	expect_tctx(1, true);
	expect_tstate(1, TS_A "," TS_B, 0);
	/* one list over two fields, the traceparent between them */
	tp_exchange("tracestate: " TS_A "\r\n" TP_LINE "TraceState: " TS_B
	    "\r\n");
	expect_tctx(2, true);
	expect_tstate(2, TS_A "," TS_B, 0);
	/* multi-tenant keys; values with spaces, quotes, backslashes */
	tp_exchange(TP_LINE "tracestate: 3a@vendor=x y!~,k-b_c*d/e=\"q\\\\\""
	    "\r\n");
	expect_tstate(3, "3a@vendor=x y!~,k-b_c*d/e=\"q\\\\\"", 0);
	/* without a valid traceparent it means nothing: not kept, and not
	 * counted (the traceparent is) */
	tp_exchange("tracestate: " TS_A "\r\n");
	expect_no_tctx(4, false);
	expect_tstate(4, NULL, 0);
	tp_exchange("traceparent: 00-bad\r\ntracestate: " TS_A "\r\n");
	expect_no_tctx(5, true);
	expect_tstate(5, NULL, 0);
	tp_exchange("tracestate: " TS_A "\r\n" TP_LINE TP_LINE);
	expect_no_tctx(6, true);
	expect_tstate(6, NULL, 0);
	tp_exchange(TP_LINE "tracestate: " TS_A "\r\n" TP_LINE);
	expect_no_tctx(7, true);
	expect_tstate(7, NULL, 0);
	/* a traceparent alone; an empty tracestate */
	tp_exchange(TP_LINE);
	expect_tstate(8, NULL, 0);
	tp_exchange(TP_LINE "tracestate: \r\n");
	expect_tstate(9, NULL, 0);
	/* in a response it is nobody's */
	feed(R, 30, "GET /r HTTP/1.1\r\n" TP_LINE "\r\n");
	feed(W, 40, "HTTP/1.1 200 OK\r\ntracestate: " TS_A
	    "\r\nContent-Length: 0\r\n\r\n");
	expect_tstate(10, NULL, 0);
	assert_int_equal(rec.n, 11);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(conn.garbage, 0);
}

/* A key or value of n characters c after `lead`. */
static const char *
ts_repeat(const char *lead, char c, size_t n, const char *trail)
{
	static char buf[700];
	size_t l = strlen(lead);

	assert_true(l + n + strlen(trail) < sizeof(buf));
	memcpy(buf, lead, l);
	memset(buf + l, c, n);
	snprintf(buf + l + n, sizeof(buf) - l - n, "%s", trail);
	return buf;
}

static void
test_tracestate_invalid(void **state)
{
	static const char *bad[] = {
		"Congo=x",		/* upper case in a key */
		"1abc=x",		/* a simple key starts with a letter */
		"congo",		/* no '=' */
		"=x",			/* no key */
		"congo=",		/* no value */
		"congo=a=b",		/* '=' in a value */
		"con go=x",		/* a space in a key */
		"@vendor=x",		/* no tenant */
		"t@=x",			/* no system */
		"t@1vendor=x",		/* a system starts with a letter */
		"t@abcdefghijklmno=x",	/* a system of 15 */
		"_t@v=x",		/* a tenant starts with a letter or digit */
		"t@v@w=x",		/* two '@' */
		"congo=caf\xc3\xa9",	/* not ASCII */
		TS_A ";" TS_B,		/* ';' is no separator */
	};
	char buf[900];
	int i, n = (int)(sizeof(bad) / sizeof(bad[0]));

	(void)state;
	start(SG_ROLE_SERVER);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n",
		    bad[i]);
		tp_exchange(buf);
		assert_int_equal(rec.n, i + 1);
		expect_tctx(i, true);
		expect_tstate(i, NULL, SG_EX_TSTATE_INVALID);
	}
	/* a valid field, then one that is not: none of it is kept */
	tp_exchange(TP_LINE "tracestate: " TS_A "\r\ntracestate: X=1\r\n");
	expect_tstate(i++, NULL, SG_EX_TSTATE_INVALID);
	/* keys of 256 and values of 256 are the longest */
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n",
	    ts_repeat("k", 'a', 255, "=v"));
	tp_exchange(buf);
	expect_tstate(i++, ts_repeat("k", 'a', 255, "=v"), 0);
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n",
	    ts_repeat("k", 'a', 256, "=v"));
	tp_exchange(buf);
	expect_tstate(i++, NULL, SG_EX_TSTATE_INVALID);
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n",
	    ts_repeat("k=", 'v', 256, ""));
	tp_exchange(buf);
	expect_tstate(i++, ts_repeat("k=", 'v', 256, ""), 0);
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n",
	    ts_repeat("k=", 'v', 257, ""));
	tp_exchange(buf);
	expect_tstate(i++, NULL, SG_EX_TSTATE_INVALID);
	/* 32 members, and 33 */
	tp_exchange(TP_LINE "tracestate: "
	    "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,"
	    "q=1,r=1,s=1,t=1,u=1,v=1,w=1,x=1,y=1,z=1,aa=1,ab=1,ac=1,ad=1\r\n"
	    "tracestate: ae=1,af=1\r\n");
	expect_tstate(i++,
	    "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,"
	    "q=1,r=1,s=1,t=1,u=1,v=1,w=1,x=1,y=1,z=1,aa=1,ab=1,ac=1,ad=1,ae=1,"
	    "af=1", 0);
	tp_exchange(TP_LINE "tracestate: "
	    "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,"
	    "q=1,r=1,s=1,t=1,u=1,v=1,w=1,x=1,y=1,z=1,aa=1,ab=1,ac=1,ad=1\r\n"
	    "tracestate: ae=1,af=1,ag=1\r\n");
	expect_tstate(i++, NULL, SG_EX_TSTATE_INVALID);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(conn.garbage, 0);
}

/* Members past 512 bytes are left out, from the right; the request is
 * marked cut.  Members are 34 bytes: 14 fit (489), the 15th does not. */
static void
test_tracestate_long(void **state)
{
	char list[800], want[600], buf[1024];
	size_t ln = 0, wn = 0;

	(void)state;
	start(SG_ROLE_SERVER);
	for (int m = 0; m < 20; m++) {
		char member[40];

		snprintf(member, sizeof(member), "%sk%02d=%s", m ? "," : "", m,
		    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
		memcpy(list + ln, member, strlen(member) + 1);
		ln += strlen(member);
		if (m < 14) {
			memcpy(want + wn, member, strlen(member) + 1);
			wn += strlen(member);
		}
	}
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s\r\n", list);
	tp_exchange(buf);
	expect_tctx(0, true);
	expect_tstate(0, want, SG_EX_TSTATE_CUT);
	assert_int_equal(strlen(want), 489);
	/* exactly 512 bytes: all kept */
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s,%s\r\n", want,
	    ts_repeat("z=", 'w', 512 - 489 - 3, ""));
	tp_exchange(buf);
	assert_int_equal(rec.ex[1].tracestate_len, 512);
	assert_int_equal(rec.ex[1].tracestate_flags, 0);
	/* one more: the last member goes, a later short one too (the
	 * right-most go first) */
	snprintf(buf, sizeof(buf), TP_LINE "tracestate: %s,%s,y=1\r\n", want,
	    ts_repeat("z=", 'w', 512 - 489 - 2, ""));
	tp_exchange(buf);
	expect_tstate(2, want, SG_EX_TSTATE_CUT);
	assert_int_equal(conn.names_used, 0);
}

/* A line split across reads is joined from its first 192 bytes: the
 * members whole in them are kept, the request marked cut.  So are those
 * of a line that runs past the capture. */
static void
test_tracestate_split_long(void **state)
{
	char req[1024], list[400];
	size_t n, cut;

	(void)state;
	start(SG_ROLE_SERVER);
	snprintf(list, sizeof(list), "%s,%s,%s,%s", TS_A, TS_B,
	    ts_repeat("long=", 'x', 200, ""), TS_A);
	n = (size_t)snprintf(req, sizeof(req),
	    "GET /a HTTP/1.1\r\n" TP_LINE "tracestate: %s\r\n\r\n", list);
	cut = strlen("GET /a HTTP/1.1\r\n" TP_LINE "tracestate: ") + 5;
	http1_on_data(&conn, R, 10, cut, (const uint8_t *)req, cut, NULL,
	    rec_emit, &rec);
	http1_on_data(&conn, R, 11, n - cut, (const uint8_t *)req + cut,
	    n - cut, NULL, rec_emit, &rec);
	feed(W, 20, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_tctx(0, true);
	expect_tstate(0, TS_A "," TS_B, SG_EX_TSTATE_CUT);
	/* the same line, past the capture */
	feed_part(R, 30, req, cut + 60, n, NULL);
	feed(W, 40, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_tctx(1, true);
	expect_tstate(1, TS_A "," TS_B, SG_EX_TSTATE_CUT);
	assert_int_equal(conn.names_used, 0);
}

/* Pipelined requests keep their tracestates apart in the ring of names,
 * across its end many times over; each line also split across reads
 * (short enough to be joined: test_tracestate_split_long). */
static void
test_tracestate_pipelined(void **state)
{
	char req[1024], want[3][300];
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	start(SG_ROLE_SERVER);
	for (int round = 0; round < 60; round++) {
		int base = rec.n;
		size_t n, cut;

		for (int k = 0; k < 3; k++)
			snprintf(want[k], sizeof(want[k]), "%s",
			    ts_repeat("r=", (char)('a' + k),
			    (size_t)(1 + (round * 37 + k * 91) % 170), ""));
		n = (size_t)snprintf(req, sizeof(req),
		    "GET /a HTTP/1.1\r\n" TP_LINE "tracestate: %s\r\n\r\n"
		    "GET /b HTTP/1.1\r\ntracestate: %s\r\n" TP_LINE "\r\n"
		    "GET /c HTTP/1.1\r\ntracestate: %s\r\n\r\n",
		    want[0], want[1], want[2]);
		assert_true(n < sizeof(req));
		cut = 1 + (size_t)round * 13 % (n - 1);
		http1_on_data(&conn, R, 10, cut, (const uint8_t *)req, cut,
		    NULL, rec_emit, &rec);
		http1_on_data(&conn, R, 11, n - cut, (const uint8_t *)req + cut,
		    n - cut, NULL, rec_emit, &rec);
		feed(W, 20, resp);
		feed(W, 21, resp);
		feed(W, 22, resp);
		assert_int_equal(rec.n, base + 3);
		expect_tstate(base, want[0], 0);
		expect_tstate(base + 1, want[1], 0);
		expect_tstate(base + 2, NULL, 0);
		assert_int_equal(conn.names_used, 0);
		if (rec.n > REC_MAX - 3)
			rec.n = 0;
	}
	assert_int_equal(conn.garbage, 0);
}

/* Pipelined requests each keep their own context, in the ring of names;
 * the ring is whole again when they are answered. */
static void
test_traceparent_pipelined(void **state)
{
	const char *req =
	    "GET /a HTTP/1.1\r\ntraceparent: 00-" TP_TRACE "-" TP_PARENT
	    "-01\r\n\r\n"
	    "GET /b HTTP/1.1\r\n\r\n"
	    "GET /c HTTP/1.1\r\ntraceparent: 00-" TP_TRACE "-" TP_PARENT
	    "-00\r\n\r\n"
	    "GET /d HTTP/1.1\r\ntraceparent: 00-bad\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	start(SG_ROLE_SERVER);
	for (int round = 0; round < 40; round++) {
		int base = rec.n;

		feed(R, 10, req);
		assert_int_equal(conn.npending, 4);
		/* 4 methods, 4 paths, two contexts */
		assert_int_equal(conn.names_used, 12 + 8 + 50);
		for (int i = 0; i < 4; i++)
			feed(W, 20, resp);
		assert_int_equal(rec.n, base + 4);
		expect_ex(base, SG_ROLE_SERVER, "GET", "/a", 200, 10, 20, 0, 0);
		expect_tctx(base, true);
		expect_ex(base + 1, SG_ROLE_SERVER, "GET", "/b", 200, 10, 20, 0,
		    0);
		expect_no_tctx(base + 1, false);
		expect_ex(base + 2, SG_ROLE_SERVER, "GET", "/c", 200, 10, 20, 0,
		    0);
		expect_tctx(base + 2, false);
		expect_ex(base + 3, SG_ROLE_SERVER, "GET", "/d", 200, 10, 20, 0,
		    0);
		expect_no_tctx(base + 3, true);
		assert_int_equal(conn.names_used, 0);
		if (rec.n > REC_MAX - 8)
			rec.n = 0;
	}
	/* the newest ends unanswered (close): its context goes with it */
	feed(R, 30, req);
	http1_on_close(&conn, 40, rec_emit, &rec);
	expect_tctx(rec.n - 4, true);
	expect_tctx(rec.n - 2, false);
	assert_int_equal(conn.garbage, 0);
}

/* Start and header lines longer than what is kept between reads, or
 * running past the capture. */
static void
test_long_lines(void **state)
{
	char buf[512], want[SG_PATH_MAX];
	static uint8_t big[3000];

	(void)state;
	start(SG_ROLE_SERVER);
	/* a request line that overflows the kept bytes: cut, rest skipped */
	snprintf(buf, sizeof(buf), "GET /%0250d", 0);
	memset(buf + 5, 'a', 250);
	feed(R, 10, buf);
	feed(R, 20, "aaaa HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(W, 30, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	memset(want, 'a', sizeof(want));
	want[0] = '/';
	want[sizeof(conn.req.hdr) - 4] = '\0';
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", want, 200, 10, 30, 0, 0);

	/* complete in the second read, but longer than what was kept */
	snprintf(buf, sizeof(buf), "GET /%0100d", 0);
	memset(buf + 5, 'a', 100);
	feed(R, 40, buf);
	memset(buf, 'a', 100);
	strcpy(buf + 100, " HTTP/1.1\r\n\r\n");
	feed(R, 50, buf);
	feed(W, 60, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", want, 200, 40, 60, 0, 0);

	/* past the capture: what was seen of the target is kept */
	memset(big, 'c', sizeof(big));
	memcpy(big, "GET /", 5);
	feed_part(R, 70, big, 64, sizeof(big), NULL);
	feed(W, 80, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	memset(want, 'c', sizeof(want));
	want[0] = '/';
	want[60] = '\0';	/* 64 captured - "GET " */
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_SERVER, "GET", want, 200, 70, 80, 0, 0);

	/* a header line cut while kept, then one complete but long */
	snprintf(buf, sizeof(buf), "GET /h HTTP/1.1\r\nCookie: %0200d", 0);
	feed(R, 90, buf);
	memset(buf, 'x', 100);
	strcpy(buf + 100, "\r\nContent-Length: 2\r\nX-A: ");
	feed(R, 100, buf);
	memset(buf, 'y', 250);
	strcpy(buf + 250, "\r\n\r\nok");
	feed(R, 110, buf);
	feed(W, 120, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 4);
	expect_ex(3, SG_ROLE_SERVER, "GET", "/h", 200, 90, 120, 2, 0);
	assert_int_equal(conn.garbage, 0);
}

static void
test_chunked_hex_and_trailers(void **state)
{
	static char w[2048];
	const char *hdr = "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, Chunked\r\n\r\n";
	size_t body, n;

	(void)state;
	start(SG_ROLE_CLIENT);
	feed(W, 10, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	n = strlen(hdr);
	memcpy(w, hdr, n);
	n += chunk((uint8_t *)w + n, 0x1a, 'q', "\r\n");
	n += chunk((uint8_t *)w + n, 0xff, 'r', "\r\n");
	strcpy(w + n, "0\r\nX-Checksum: 1\r\n\r\n");
	n += strlen(w + n);
	body = n - strlen(hdr);
	strcpy(w + n, "HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n!");
	feed(R, 20, w);
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_CLIENT, "GET", "/1", 200, 10, 20, 0, body);
	expect_ex(1, SG_ROLE_CLIENT, "GET", "/2", 500, 10, 20, 0, 1);

	/* sizes in upper case with an extension; CRLF split over reads */
	feed(W, 30, "GET /3 HTTP/1.1\r\n\r\n");
	feed(R, 40, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "A;ext=1\r\n0123456789\r");
	feed(R, 50, "\n0\r\n");
	assert_int_equal(rec.n, 2);
	feed(R, 60, "\r\n");
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_CLIENT, "GET", "/3", 200, 30, 60, 0,
	    strlen("A;ext=1\r\n0123456789\r\n0\r\n\r\n"));

	/* a size that is not hex: only the tail can end it */
	feed(W, 70, "GET /4 HTTP/1.1\r\n\r\n");
	feed(R, 80, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\nwhatever\r\n");
	feed(R, 90, "0\r\n\r\n");
	assert_int_equal(rec.n, 4);
	expect_ex(3, SG_ROLE_CLIENT, "GET", "/4", 200, 70, 90, 0, 19);
	assert_true(http1_idle(&conn));
	assert_int_equal(conn.garbage, 0);
}

#define RESP_EMPTY	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/* More requests than the ring holds: the ones past it are dropped and
 * counted, and their responses, in their turn, pair with nothing. */
static void
test_pending_overflow(void **state)
{
	char reqs[4096], path[8];
	size_t n = 0;
	int i;

	(void)state;
	start(SG_ROLE_SERVER);
	for (i = 0; i <= HTTP1_MAX_PENDING; i++)
		n += (size_t)snprintf(reqs + n, sizeof(reqs) - n,
		    "GET /%d HTTP/1.1\r\n\r\n", i);
	assert_true(n < sizeof(reqs) - 1);
	feed(R, 10, reqs);
	assert_int_equal(conn.npending, HTTP1_MAX_PENDING);
	assert_int_equal(conn.dropped, 1);
	assert_int_equal(rec.n, 0);
	/* one answer makes room: /new is kept, after the dropped one */
	feed(W, 20, RESP_EMPTY);
	feed(R, 30, "GET /new HTTP/1.1\r\n\r\n");
	assert_int_equal(conn.npending, HTTP1_MAX_PENDING);
	for (i = 1; i < HTTP1_MAX_PENDING; i++)
		feed(W, 30 + i, RESP_EMPTY);
	assert_int_equal(rec.n, HTTP1_MAX_PENDING);
	for (i = 0; i < HTTP1_MAX_PENDING; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		expect_ex(i, SG_ROLE_SERVER, "GET", path, 200, 10,
		    i == 0 ? 20 : 30 + i, 0, 0);
	}
	feed(W, 200, RESP_EMPTY);	/* the dropped request's */
	assert_int_equal(rec.n, HTTP1_MAX_PENDING);
	feed(W, 210, RESP_EMPTY);
	assert_int_equal(rec.n, HTTP1_MAX_PENDING + 1);
	expect_ex(HTTP1_MAX_PENDING, SG_ROLE_SERVER, "GET", "/new", 200, 30,
	    210, 0, 0);
	assert_int_equal(conn.unpaired, 0);
	assert_true(http1_idle(&conn));
	feed(W, 220, RESP_EMPTY);	/* answers no request seen */
	assert_int_equal(conn.unpaired, 1);
	assert_int_equal(conn.dropped, 1);
	assert_int_equal(conn.garbage, 0);
}

/* "/" then n - 1 letters starting at `first`. */
static void
mk_path(char *dst, size_t n, int first)
{
	size_t i;

	dst[0] = '/';
	for (i = 1; i < n; i++)
		dst[i] = (char)('a' + (first + (int)i) % 26);
	dst[n] = '\0';
}

/* Long paths fill the names before the ring; kept ones come out whole,
 * also where they wrap around the end of the names. */
static void
test_pending_names(void **state)
{
	const int fit = HTTP1_NAMES_LEN / (3 + SG_PATH_MAX - 1);
	char req[SG_PATH_MAX + 32], path[REC_MAX][SG_PATH_MAX];
	int i;

	(void)state;
	start(SG_ROLE_SERVER);
	for (i = 0; i <= fit; i++) {
		mk_path(path[i], SG_PATH_MAX - 1, i);
		snprintf(req, sizeof(req), "GET %.*s?q HTTP/1.1\r\n\r\n",
		    SG_PATH_MAX - 1, path[i]);
		feed(R, 10 + i, req);
	}
	assert_int_equal(conn.npending, fit);
	assert_int_equal(conn.dropped, 1);
	for (i = 0; i <= fit; i++)
		feed(W, 100 + i, RESP_EMPTY);
	assert_int_equal(rec.n, fit);
	for (i = 0; i < fit; i++)
		expect_ex(i, SG_ROLE_SERVER, "GET", path[i], 200, 10 + i,
		    100 + i, 0, 0);
	assert_int_equal(conn.unpaired, 0);
	assert_true(http1_idle(&conn));

	/* four in flight, lengths from 100 to 255: the names wrap often */
	memset(&rec, 0, sizeof(rec));
	for (i = 0; i < REC_MAX; i++) {
		mk_path(path[i], 100 + (size_t)(i * 37) % 156, i);
		snprintf(req, sizeof(req), "PATCH %.*s HTTP/1.1\r\n\r\n",
		    SG_PATH_MAX - 1, path[i]);
		feed(R, 1000 + i, req);
		if (i >= 3)
			feed(W, 2000 + i, RESP_EMPTY);
	}
	for (i = 0; i < 3; i++)
		feed(W, 3000 + i, RESP_EMPTY);
	assert_int_equal(rec.n, REC_MAX);
	for (i = 0; i < REC_MAX; i++)
		assert_string_equal(rec.ex[i].target, path[i]);
	assert_string_equal(rec.ex[REC_MAX - 1].op, "PATCH");
	assert_int_equal(conn.dropped, 1);
	assert_true(http1_idle(&conn));
}

/* Requests pipelined past the capture of one write, the responses
 * written whole one by one (as nginx does) or in one write (as a client
 * reads them): the requests seen pair in order, the other responses are
 * counted as unpaired, and nothing is unparsed. */
static void
test_pipelined_past_capture(void **state)
{
	char reqs[1024], resps[1024];
	size_t n = 0, k = 0;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		n += (size_t)snprintf(reqs + n, sizeof(reqs) - n,
		    "GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		k += (size_t)snprintf(resps + k, sizeof(resps) - k,
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	}
	/* 29 bytes a request: 50 show one, and a second up to its header
	 * block */
	start(SG_ROLE_SERVER);
	feed_part(R, 10, reqs, 50, n, reqs + n - SG_TAIL_LEN);
	assert_int_equal(conn.npending, 2);
	for (i = 0; i < 10; i++)
		feed(W, 20 + i, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(rec.n, 2);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/p0", 200, 10, 20, 0, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/p1", 200, 10, 21, 0, 2);
	assert_int_equal(conn.unpaired, 8);
	assert_int_equal(conn.garbage, 0);

	/* the next write starts with a request line: seen again */
	feed(R, 100, "GET /again HTTP/1.1\r\n\r\n");
	feed(W, 110, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_SERVER, "GET", "/again", 200, 100, 110, 0, 2);
	assert_true(http1_idle(&conn));

	start(SG_ROLE_CLIENT);
	feed_part(W, 10, reqs, 50, n, reqs + n - SG_TAIL_LEN);
	feed(R, 20, resps);
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "GET", "/p1", 200, 10, 20, 0, 2);
	assert_int_equal(conn.unpaired, 8);
	assert_int_equal(conn.garbage, 0);
	assert_int_equal(conn.npending, 0);

	/* cut inside the method of the third: not a request seen, nor
	 * garbage; neither is the next write, which starts inside one */
	start(SG_ROLE_SERVER);
	feed_part(R, 10, reqs, 2 * 29 + 2, n, reqs + n - SG_TAIL_LEN);
	assert_int_equal(conn.npending, 2);
	feed(R, 20, "ost: h\r\n\r\n");
	for (i = 0; i < 3; i++)
		feed(W, 30 + i, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	feed(R, 40, "GET /later HTTP/1.1\r\n\r\n");
	feed(W, 50, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(rec.n, 3);
	expect_ex(2, SG_ROLE_SERVER, "GET", "/later", 200, 40, 50, 0, 2);
	assert_int_equal(conn.unpaired, 1);
	assert_int_equal(conn.garbage, 0);
}

/* A response to no request is followed within its buffer only: its
 * request might have been a HEAD.  Past it, the next status line that
 * starts a buffer takes over. */
static void
test_unpaired_response_framing(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(W, 10, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	assert_int_equal(conn.unpaired, 1);
	feed(R, 20, "GET /b HTTP/1.1\r\n\r\n");
	feed(W, 30, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/b", 204, 20, 30, 0, 0);
	/* 100 Continue of an unseen request counts once, with its final */
	feed(W, 40, "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nok\r\n0\r\n\r\n");
	assert_int_equal(conn.unpaired, 3);
	assert_int_equal(rec.n, 1);
	assert_int_equal(conn.garbage, 0);
	assert_true(http1_idle(&conn));
}

/* Responses whose request already timed out pair with nothing. */
static void
test_orphan_responses(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 1000, "GET /a HTTP/1.1\r\n\r\n");
	assert_int_equal(http1_expire(&conn, 1001 + TIMEOUT, TIMEOUT,
	    rec_emit, &rec), 1);
	feed(W, 2000 + TIMEOUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
	feed(W, 2001 + TIMEOUT, "lo");
	assert_int_equal(rec.n, 1);
	feed(R, 3000 + TIMEOUT, "GET /b HTTP/1.1\r\n\r\n");
	feed(W, 3001 + TIMEOUT, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/b", 201, 3000 + TIMEOUT,
	    3001 + TIMEOUT, 0, 0);

	/* a chunked orphan ends with its terminator */
	feed(W, 4000 + TIMEOUT, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	assert_true(http1_idle(&conn));
	assert_int_equal(rec.n, 2);
	assert_int_equal(conn.garbage, 0);
}

/* Response header blocks running past the capture. */
static void
test_response_headers_past_capture(void **state)
{
	static uint8_t big[5000];
	const char *h;

	(void)state;
	start(SG_ROLE_CLIENT);
	memset(big, 'h', sizeof(big));
	/* HEAD: no body, so complete at once */
	feed(W, 10, "HEAD /h HTTP/1.1\r\n\r\n");
	h = "HTTP/1.1 200 OK\r\nContent-Length: 99999\r\nX-Pad: ";
	memcpy(big, h, strlen(h));
	feed_part(R, 20, big, 60, 2000, NULL);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_CLIENT, "HEAD", "/h", 200, 10, 20, 0, 0);

	/* 100 Continue: the final response follows in another read */
	feed(W, 30, "POST /p HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n");
	h = "HTTP/1.1 100 Continue\r\nX-Pad: ";
	memset(big, 'h', sizeof(big));
	memcpy(big, h, strlen(h));
	feed_part(R, 40, big, 40, 600, NULL);
	assert_int_equal(rec.n, 1);
	feed(W, 50, "ok");
	feed(R, 60, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_CLIENT, "POST", "/p", 200, 30, 60, 2, 0);

	/* pipelined: the first response's end shows when the next starts */
	feed(W, 70, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	h = "HTTP/1.1 200 OK\r\nX-Pad: ";
	memset(big, 'h', sizeof(big));
	memcpy(big, h, strlen(h));
	feed_part(R, 80, big, 50, 4000, NULL);
	feed_part(R, 90, big + 100, 50, 3000, NULL);
	assert_int_equal(rec.n, 2);
	feed(R, 100, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 4);
	expect_ex(2, SG_ROLE_CLIENT, "GET", "/1", 200, 70, 90, 0,
	    4000 - 50 + 3000);
	expect_ex(3, SG_ROLE_CLIENT, "GET", "/2", 404, 70, 100, 0, 0);

	/* a request whose headers are past the capture: its length is kept */
	start(SG_ROLE_SERVER);
	h = "POST /big HTTP/1.1\r\nContent-Length: 4000\r\nX-Pad: ";
	memset(big, 'h', sizeof(big));
	memcpy(big, h, strlen(h));
	feed_part(R, 10, big, 64, 3000, NULL);
	feed_part(R, 20, big + 200, 64, 1100, NULL);
	feed(W, 30, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "POST", "/big", 200, 10, 30, 4000, 0);
	assert_int_equal(conn.garbage, 0);
}

static void
test_close_mid_body(void **state)
{
	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 100, "GET /c HTTP/1.1\r\n\r\n");
	feed(W, 200, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	http1_on_close(&conn, 500, rec_emit, &rec);
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/c", 200, 100, 200, 0, 3);
}

static void
test_header_garbage(void **state)
{
	const char *nocolon = "GET /n HTTP/1.1\r\nnot a header\r\n\r\n";
	const char *ctl = "GET /c HTTP/1.1\r\nX-A: \x01\r\n\r\n";

	(void)state;
	start(SG_ROLE_SERVER);
	feed(R, 10, nocolon);
	assert_int_equal(conn.garbage, strlen(nocolon) - 17);
	feed(R, 20, ctl);
	assert_int_equal(conn.garbage, strlen(nocolon) - 17 + strlen(ctl) - 17);
	feed(R, 30, "GET /bin HTTP/1.1\r\nX-B: ab\x02");
	assert_int_equal(conn.npending, 0);
	/* folded lines are fine */
	feed(R, 50, "GET /f HTTP/1.1\r\nX-A: 1\r\n  continued\r\n\r\n");
	feed(W, 60, "HTTP/1.1 200 OK\r\nContent-Length:  2 \r\n\r\nok");
	assert_int_equal(rec.n, 1);
	expect_ex(0, SG_ROLE_SERVER, "GET", "/f", 200, 50, 60, 0, 2);
	/* a broken response header block: the request waits for another */
	feed(R, 70, "GET /g HTTP/1.1\r\n\r\n");
	feed(W, 80, "HTTP/1.1 200 OK\r\nbroken\r\n\r\n");
	assert_int_equal(rec.n, 1);
	assert_int_equal(conn.npending, 1);
	feed(W, 90, "HTTP/1.1 500 Internal Server Error\r\n"
	    "Content-Length: 0\r\n\r\n");
	assert_int_equal(rec.n, 2);
	expect_ex(1, SG_ROLE_SERVER, "GET", "/g", 500, 70, 90, 0, 0);
}

/*
 * Connection table.
 */
struct crec {
	int			n;
	struct sg_exchange	ex[REC_MAX];
	uint32_t		pid[REC_MAX];
	uint64_t		sock[REC_MAX];
	uint8_t			role[REC_MAX];
	uint16_t		lport[REC_MAX];
	uint8_t			tls[REC_MAX];
	uint64_t		id_sock[REC_MAX];
};

static struct crec crec;

static void
crec_emit(void *ctx, const struct sg_conn *c, const struct sg_exchange *ex)
{
	struct crec *r = ctx;

	assert_true(r->n < REC_MAX);
	r->ex[r->n] = *ex;
	r->pid[r->n] = c->pid;
	r->sock[r->n] = c->sock;
	r->role[r->n] = c->role;
	r->lport[r->n] = c->id.lport;
	r->tls[r->n] = c->tls;
	r->id_sock[r->n] = c->id.sock;
	r->n++;
}

static struct sg_data_event dev;

/* A data event as the BPF programs write it: the first `capture` bytes
 * of the buffer, and its last SG_TAIL_LEN when not all were captured. */
static size_t
mk_bytes(uint32_t pid, uint64_t sock, uint64_t ts, uint8_t dir,
    uint8_t role, const char *s, size_t n, size_t capture)
{
	memset(&dev, 0, sizeof(dev));
	dev.hdr.type = SG_EV_DATA;
	dev.hdr.pid = pid;
	dev.hdr.tid = pid;
	dev.hdr.ts_ns = ts;
	dev.conn.sock = sock;
	dev.len = (int64_t)n;
	dev.captured = (uint16_t)(n < capture ? n : capture);
	dev.dir = dir;
	dev.role = role;
	memcpy(dev.data, s, dev.captured);
	if (n > dev.captured && n >= SG_TAIL_LEN) {
		memcpy(dev.tail, s + n - SG_TAIL_LEN, SG_TAIL_LEN);
		dev.flags |= SG_DATA_TAIL;
	}
	return SG_DATA_EVENT_HDR_SIZE + dev.captured;
}

static size_t
mk_data_cap(uint32_t pid, uint64_t sock, uint64_t ts, uint8_t dir,
    uint8_t role, const char *s, size_t capture)
{
	return mk_bytes(pid, sock, ts, dir, role, s, strlen(s), capture);
}

static size_t
mk_data(uint32_t pid, uint64_t sock, uint64_t ts, uint8_t dir, uint8_t role,
    const char *s)
{
	return mk_data_cap(pid, sock, ts, dir, role, s, SG_CAPTURE_MAX);
}

static int
send_data_cap(struct sg_conns *t, uint32_t pid, uint64_t sock, uint64_t ts,
    uint8_t dir, uint8_t role, const char *s, size_t capture)
{
	size_t size = mk_data_cap(pid, sock, ts, dir, role, s, capture);

	return conns_handle_event(t, &dev, size);
}

static int
send_data(struct sg_conns *t, uint32_t pid, uint64_t sock, uint64_t ts,
    uint8_t dir, uint8_t role, const char *s)
{
	return send_data_cap(t, pid, sock, ts, dir, role, s, SG_CAPTURE_MAX);
}

/* A connection event; addr4: both ends' IPv4 address, or NULL (zero). */
static int
send_conn_at(struct sg_conns *t, uint32_t pid, uint64_t sock, uint64_t ts,
    uint8_t role, uint16_t lport, uint16_t rport, const char *addr4)
{
	struct sg_conn_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_CONN;
	e.hdr.pid = pid;
	e.hdr.ts_ns = ts;
	e.conn.sock = sock;
	e.conn.family = 2;
	e.conn.lport = lport;
	e.conn.rport = rport;
	if (addr4 != NULL) {
		memcpy(e.conn.laddr, addr4, 4);
		memcpy(e.conn.raddr, addr4, 4);
	}
	e.role = role;
	return conns_handle_event(t, &e, sizeof(e));
}

static int
send_conn(struct sg_conns *t, uint32_t pid, uint64_t sock, uint64_t ts,
    uint8_t role, uint16_t lport)
{
	return send_conn_at(t, pid, sock, ts, role, lport, 40000, NULL);
}

static int
send_close(struct sg_conns *t, uint32_t pid, uint64_t sock, uint64_t ts)
{
	struct sg_close_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_CLOSE;
	e.hdr.pid = pid;
	e.hdr.ts_ns = ts;
	e.conn.sock = sock;
	return conns_handle_event(t, &e, sizeof(e));
}

static int
send_proc(struct sg_conns *t, uint32_t type, uint32_t pid, uint64_t ts)
{
	struct sg_proc_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = type;
	e.hdr.pid = pid;
	e.hdr.ts_ns = ts;
	return conns_handle_event(t, &e, sizeof(e));
}

static struct sg_conns_stats
stats_of(struct sg_conns *t)
{
	struct sg_conns_stats st;

	conns_stats(t, &st);
	return st;
}

static struct sg_conns *
new_table(size_t capacity)
{
	struct sg_conns *t;

	memset(&crec, 0, sizeof(crec));
	t = conns_new(capacity, TIMEOUT, crec_emit, &crec);
	assert_non_null(t);
	return t;
}

static void
test_conns_flow(void **state)
{
	struct sg_conns *t = new_table(64);
	struct sg_conns_stats st;

	(void)state;
	assert_int_equal(send_conn(t, 42, 0xffff888001234000ULL, 100,
	    SG_ROLE_SERVER, 8080), 0);
	assert_int_equal(send_data(t, 42, 0xffff888001234000ULL, 200, R,
	    SG_ROLE_SERVER, "GET /x HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 42, 0xffff888001234000ULL, 300, W,
	    SG_ROLE_SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	assert_int_equal(crec.pid[0], 42);
	assert_int_equal(crec.sock[0], 0xffff888001234000ULL);
	assert_int_equal(crec.role[0], SG_ROLE_SERVER);
	assert_int_equal(crec.lport[0], 8080);
	assert_int_equal(crec.ex[0].start_ns, 200);
	assert_int_equal(crec.ex[0].end_ns, 300);
	st = stats_of(t);
	assert_int_equal(st.active, 1);
	assert_int_equal(st.events, 3);

	/* HTTP/1.0 ended by the close event */
	assert_int_equal(send_data(t, 42, 0xffff888001234000ULL, 400, R,
	    SG_ROLE_SERVER, "GET /y HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 42, 0xffff888001234000ULL, 500, W,
	    SG_ROLE_SERVER, "HTTP/1.0 200 OK\r\n\r\nbody"), 0);
	assert_int_equal(send_close(t, 42, 0xffff888001234000ULL, 600), 0);
	assert_int_equal(crec.n, 2);
	assert_int_equal(crec.ex[1].end_ns, 600);
	assert_int_equal(crec.ex[1].resp_size, 4);
	st = stats_of(t);
	assert_int_equal(st.active, 0);
	/* closing an unknown socket is fine */
	assert_int_equal(send_close(t, 42, 0x1234, 700), 0);

	/* a connection from before the sensor: role learned from the data */
	assert_int_equal(send_data(t, 43, 0x5000, 800, W, SG_ROLE_UNKNOWN,
	    "GET /out HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 43, 0x5000, 900, R, SG_ROLE_UNKNOWN,
	    "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 3);
	assert_int_equal(crec.role[2], SG_ROLE_CLIENT);
	assert_int_equal(crec.ex[2].status, 502);
	assert_int_equal(crec.ex[2].role, SG_ROLE_CLIENT);
	/* the learned role outlives the parser state of the idle connection */
	assert_int_equal(send_data(t, 43, 0x5000, 1000, W, SG_ROLE_UNKNOWN,
	    "GET /again HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 43, 0x5000, 1100, R, SG_ROLE_UNKNOWN,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 4);
	assert_int_equal(crec.role[3], SG_ROLE_CLIENT);
	conns_free(t);
}

/* n bytes with NULs (HTTP/2 frames) in one event */
static int
send_bytes(struct sg_conns *t, uint64_t sock, uint64_t ts, uint8_t dir,
    uint8_t role, const char *s, size_t n)
{
	size_t size = mk_bytes(44, sock, ts, dir, role, s, n, SG_CAPTURE_MAX);

	return conns_handle_event(t, &dev, size);
}

#define UPGRADE_REQ	"GET /up?x=1 HTTP/1.1\r\nHost: a\r\n" \
	"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" \
	"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
#define SWITCHING	"HTTP/1.1 101 Switching Protocols\r\n" \
	"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
/* SETTINGS, then stream 1's response: :status 200 (static 8), ended */
#define H2_RESP1	"\0\0\0\x04\0\0\0\0\0" \
	"\0\0\x01\x01\x05\0\0\0\x01\x88"
/* the preface, SETTINGS, GET http / on stream 3 */
#define H2_REQ3		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" \
	"\0\0\0\x04\0\0\0\0\0" \
	"\0\0\x03\x01\x05\0\0\0\x03\x82\x86\x84"
#define H2_RESP3	"\0\0\x01\x01\x05\0\0\0\x03\x88"

static void
expect_upgraded(struct sg_conns *t, uint8_t role)
{
	struct sg_conns_stats st = stats_of(t);

	assert_int_equal(crec.n, 2);
	assert_int_equal(crec.ex[0].role, role);
	assert_string_equal(crec.ex[0].version, "2");
	assert_string_equal(crec.ex[0].op, "GET");
	assert_string_equal(crec.ex[0].target, "/up");
	assert_int_equal(crec.ex[0].status, 200);
	assert_int_equal(crec.ex[0].flags, 0);
	assert_int_equal(crec.ex[0].start_ns, 100);
	assert_int_equal(crec.ex[0].end_ns, 200);
	assert_string_equal(crec.ex[1].version, "2");
	assert_string_equal(crec.ex[1].target, "/");
	assert_int_equal(crec.ex[1].status, 200);
	assert_int_equal(crec.ex[1].start_ns, 300);
	assert_int_equal(crec.ex[1].end_ns, 400);
	assert_int_equal(st.unparsed, 0);
	assert_int_equal(st.unpaired, 0);
	assert_int_equal(st.unknown, 0);
}

/* HTTP/1.1 upgraded to h2c: the request that asked is answered on stream
 * 1 in HTTP/2, the connection goes on in HTTP/2; no 101 exchange. */
static void
test_conns_h2c_upgrade(void **state)
{
	static const char resp[] = SWITCHING H2_RESP1;
	static const char req3[] = H2_REQ3;
	static const char resp3[] = H2_RESP3;
	static const char h2[] = H2_RESP1;
	struct sg_conns *t = new_table(64);

	(void)state;
	/* the server: 101 and the first HTTP/2 frames in one write */
	assert_int_equal(send_data(t, 44, 0x7000, 100, R, SG_ROLE_SERVER,
	    UPGRADE_REQ), 0);
	assert_int_equal(send_bytes(t, 0x7000, 200, W, SG_ROLE_SERVER, resp,
	    sizeof(resp) - 1), 0);
	assert_int_equal(send_bytes(t, 0x7000, 300, R, SG_ROLE_SERVER, req3,
	    sizeof(req3) - 1), 0);
	assert_int_equal(send_bytes(t, 0x7000, 400, W, SG_ROLE_SERVER, resp3,
	    sizeof(resp3) - 1), 0);
	expect_upgraded(t, SG_ROLE_SERVER);
	conns_free(t);

	/* the client: 101 alone in a read, the frames in the next */
	t = new_table(64);
	assert_int_equal(send_data(t, 44, 0x8000, 100, W, SG_ROLE_CLIENT,
	    UPGRADE_REQ), 0);
	assert_int_equal(send_data(t, 44, 0x8000, 150, R, SG_ROLE_CLIENT,
	    SWITCHING), 0);
	assert_int_equal(crec.n, 0);
	assert_int_equal(send_bytes(t, 0x8000, 200, R, SG_ROLE_CLIENT, h2,
	    sizeof(h2) - 1), 0);
	assert_int_equal(send_bytes(t, 0x8000, 300, W, SG_ROLE_CLIENT, req3,
	    sizeof(req3) - 1), 0);
	assert_int_equal(send_bytes(t, 0x8000, 400, R, SG_ROLE_CLIENT, resp3,
	    sizeof(resp3) - 1), 0);
	expect_upgraded(t, SG_ROLE_CLIENT);

	/* a 101 to another protocol (WebSocket) is an HTTP/1.1 exchange */
	assert_int_equal(send_data(t, 44, 0x9000, 500, R, SG_ROLE_SERVER,
	    "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 44, 0x9000, 600, W, SG_ROLE_SERVER,
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
	    0);
	assert_int_equal(crec.n, 3);
	assert_string_equal(crec.ex[2].version, "1.1");
	assert_int_equal(crec.ex[2].status, 101);
	conns_free(t);
}

/* A write reported after its connection's close (the peer's reset ended
 * it) must not leave the address to the next connection that reuses it. */
static void
test_conns_io_after_close(void **state)
{
	static const char goaway[] = "\0\0\x08\x07\0\0\0\0\0\0\0\0\x01\0\0\0\0";
	struct sg_conns *t = new_table(64);
	size_t size;

	(void)state;
	assert_int_equal(send_close(t, 44, 0xa000, 100), 0);
	size = mk_bytes(44, 0xa000, 110, W, SG_ROLE_UNKNOWN, goaway,
	    sizeof(goaway) - 1, SG_CAPTURE_MAX);
	dev.flags |= SG_DATA_CLOSED;
	assert_int_equal(conns_handle_event(t, &dev, size), 0);
	assert_int_equal(stats_of(t).active, 0);
	/* the next connection at that address, HTTP/1.1 */
	assert_int_equal(send_data(t, 44, 0xa000, 200, R, SG_ROLE_SERVER,
	    "GET /next HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 44, 0xa000, 300, W, SG_ROLE_SERVER,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	assert_string_equal(crec.ex[0].target, "/next");
	assert_int_equal(stats_of(t).unparsed, 0);
	conns_free(t);
}

/* Plaintext a TLS library read or wrote on pid 50's socket 0xb000 (port
 * 443), as the uprobes report it. */
static int
send_tls_plaintext(struct sg_conns *t, uint64_t ts, uint8_t dir,
    const char *s)
{
	size_t size = mk_data(50, 0xb000, ts, dir, SG_ROLE_SERVER, s);

	dev.flags |= SG_DATA_TLS;
	dev.conn.family = 2;
	dev.conn.lport = 443;
	return conns_handle_event(t, &dev, size);
}

/*
 * A TLS connection: its handshake's records on the socket are counted as
 * TLS, not as unparsed bytes; its plaintext (SG_DATA_TLS) is parsed as a
 * stream of its own, with the socket's addresses; the socket's close
 * ends both; a key with the plaintext's bit is refused from the kernel.
 */
static void
test_conns_tls(void **state)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char appdata[] = "\x17\x03\x03\x01\x14 application data";
	struct sg_conns *t = new_table(64);
	struct sg_conns_stats st;
	size_t size;

	(void)state;
	memset(&crec, 0, sizeof(crec));
	assert_int_equal(send_conn(t, 50, 0xb000, 10, SG_ROLE_SERVER, 443), 0);
	size = mk_bytes(50, 0xb000, 20, R, SG_ROLE_SERVER, hello,
	    sizeof(hello) - 1, SG_CAPTURE_MAX);
	dev.len = 517;
	assert_int_equal(conns_handle_event(t, &dev, size), 0);
	/* the library's plaintext of that connection */
	assert_int_equal(send_tls_plaintext(t, 30, R,
	    "GET /secret HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(send_tls_plaintext(t, 40, W,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	assert_string_equal(crec.ex[0].target, "/secret");
	assert_int_equal(crec.tls[0], SG_CONN_TLS_PLAINTEXT);
	assert_int_equal(crec.sock[0], 0xb000 | SG_CONN_KEY_TLS);
	assert_int_equal(crec.id_sock[0], 0xb000);
	assert_int_equal(crec.lport[0], 443);
	/* more records on the socket (a library not hooked) stay TLS */
	assert_int_equal(send_data(t, 50, 0xb000, 45, W, SG_ROLE_SERVER,
	    appdata), 0);
	st = stats_of(t);
	assert_int_equal(st.tls_records, 517 + sizeof(appdata) - 1);
	assert_int_equal(st.unparsed, 0);
	assert_int_equal(st.active, 2);
	/* the socket's close ends its plaintext too */
	assert_int_equal(send_close(t, 50, 0xb000, 50), 0);
	assert_int_equal(stats_of(t).active, 0);
	/* the kernel never reports an odd socket address */
	size = mk_data(50, 0xb001, 60, R, SG_ROLE_SERVER, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(conns_handle_event(t, &dev, size), -1);
	assert_int_equal(stats_of(t).bad_events, 1);
	conns_free(t);
}

static unsigned ccount;
static uint16_t clast_status;

static void
count_emit(void *ctx, const struct sg_conn *c, const struct sg_exchange *ex)
{
	(void)ctx;
	(void)c;
	ccount++;
	clast_status = ex->status;
}

/* Parser states follow the exchanges in flight, not the connections. */
static void
test_conns_states_follow_exchanges(void **state)
{
	struct sg_conns *t = conns_new(4096, TIMEOUT, count_emit, NULL);
	uint64_t sock;

	(void)state;
	assert_non_null(t);
	ccount = 0;
	for (sock = 1; sock <= 1000; sock++) {
		assert_int_equal(send_data(t, 7, sock << 12, sock * 10, R,
		    SG_ROLE_SERVER, "GET /a HTTP/1.1\r\n\r\n"), 0);
		assert_int_equal(send_data(t, 7, sock << 12, sock * 10 + 5, W,
		    SG_ROLE_SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0"
		    "\r\n\r\n"), 0);
	}
	assert_int_equal(ccount, 1000);
	assert_int_equal(stats_of(t).active, 1000);
	assert_int_equal(stats_of(t).states, 1);

	/* three requests in flight at once need three */
	for (sock = 1; sock <= 3; sock++)
		assert_int_equal(send_data(t, 7, sock << 12, 20000 + sock, R,
		    SG_ROLE_SERVER, "GET /b HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(stats_of(t).states, 3);
	for (sock = 1; sock <= 3; sock++)
		assert_int_equal(send_data(t, 7, sock << 12, 30000 + sock, W,
		    SG_ROLE_SERVER, "HTTP/1.1 404 Not Found\r\n"
		    "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(ccount, 1003);
	assert_int_equal(clast_status, 404);
	/* and are reused afterwards */
	for (sock = 4; sock <= 6; sock++)
		assert_int_equal(send_data(t, 7, sock << 12, 40000 + sock, R,
		    SG_ROLE_SERVER, "GET /c HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(stats_of(t).states, 3);
	/* a request pending at close still ends (timed out, not emitted) */
	assert_int_equal(send_close(t, 7, 4 << 12, 50000), 0);
	assert_int_equal(stats_of(t).timed_out, 1);
	conns_free(t);
}

/* ---- the table grows: connections in flight and the address index
 * move with it */

#define LOOPBACK "\x7f\0\0\x01"

static struct sg_conns *grow_t;
static unsigned grow_emitted, grow_peers;

static void
grow_emit(void *ctx, const struct sg_conn *c, const struct sg_exchange *ex)
{
	const struct sg_conn *p = conns_peer(grow_t, c);

	(void)ctx;
	grow_emitted += ex->status == 200;
	/* the client's end, pid 8, with the mirrored ports */
	if (p != NULL && p->pid == 8 && p->id.lport == c->id.rport)
		grow_peers++;
}

/* 3,000 server connections with a request in flight each, and their
 * 3,000 clients: the table starts at 1,024 slots and grows past them,
 * every exchange completes after it and finds its client again. */
static void
test_conns_grow(void **state)
{
	const unsigned n = 3000;
	struct sg_conns_stats st;

	(void)state;
	grow_t = conns_new(16384, TIMEOUT, grow_emit, NULL);
	assert_non_null(grow_t);
	grow_emitted = grow_peers = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t srv = (uint64_t)(i + 1) << 12, cli = srv | 0x800;

		assert_int_equal(send_conn_at(grow_t, 8, cli, 1,
		    SG_ROLE_CLIENT, (uint16_t)(20000 + i), 80, LOOPBACK), 0);
		assert_int_equal(send_conn_at(grow_t, 7, srv, 1,
		    SG_ROLE_SERVER, 80, (uint16_t)(20000 + i), LOOPBACK), 0);
		assert_int_equal(send_data(grow_t, 7, srv, 10 + i, R,
		    SG_ROLE_SERVER, "GET /g HTTP/1.1\r\n\r\n"), 0);
	}
	st = stats_of(grow_t);
	assert_int_equal(st.active, 2 * n);
	assert_int_equal(st.states, n);
	assert_int_equal(st.evicted, 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(send_data(grow_t, 7, (uint64_t)(i + 1) << 12,
		    100000 + i, W, SG_ROLE_SERVER, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(grow_emitted, n);
	assert_int_equal(grow_peers, n);
	st = stats_of(grow_t);
	assert_int_equal(st.unindexed, 0);
	assert_int_equal(st.evicted, 0);
	conns_free(grow_t);
}

/* At its capacity the table no longer grows: a full window gives up its
 * oldest connection, as before there was growing. */
static void
test_conns_capacity_bound(void **state)
{
	struct sg_conns *t = new_table(64);
	struct sg_conns_stats st;

	(void)state;
	for (uint64_t sock = 1; sock <= 200; sock++)
		assert_int_equal(send_data(t, 7, sock << 12, sock, R,
		    SG_ROLE_SERVER, "GET /a HTTP/1.1\r\n\r\n"), 0);
	st = stats_of(t);
	assert_true(st.active <= 64);
	assert_int_equal(st.active + st.evicted, 200);
	conns_free(t);
}

static void
test_conns_timeout_not_emitted(void **state)
{
	struct sg_conns *t = new_table(16);
	struct sg_conns_stats st;

	(void)state;
	assert_int_equal(send_data(t, 1, 0x100, 1000, R, SG_ROLE_SERVER,
	    "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 1, 0x200, 1000, R, SG_ROLE_SERVER,
	    "GET /c HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 1, 0x200, 2000, W, SG_ROLE_SERVER,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	conns_tick(t, 1000 + TIMEOUT);
	st = stats_of(t);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(st.active, 2);
	conns_tick(t, 2001 + TIMEOUT);
	st = stats_of(t);
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.active, 0);	/* both idle and quiet: dropped */
	assert_int_equal(crec.n, 1);
	/* close with a pending request: counted, not emitted */
	assert_int_equal(send_data(t, 1, 0x300, 5000, W, SG_ROLE_CLIENT,
	    "GET /d HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_close(t, 1, 0x300, 6000), 0);
	st = stats_of(t);
	assert_int_equal(st.timed_out, 3);
	assert_int_equal(crec.n, 1);
	conns_free(t);
}

/* A process that went away (the loader says so): its connections end
 * where they were last active, a close-delimited response with them.
 * Process events never reach the collector: they are refused. */
static void
test_conns_exit_forgets_pid(void **state)
{
	struct sg_conns *t = new_table(16);
	struct sg_conns_stats st;

	(void)state;
	assert_int_equal(send_conn(t, 7, 0x10, 1, SG_ROLE_SERVER, 80), 0);
	assert_int_equal(send_conn(t, 7, 0x20, 2, SG_ROLE_SERVER, 80), 0);
	assert_int_equal(send_conn(t, 8, 0x10, 3, SG_ROLE_CLIENT, 5555), 0);
	assert_int_equal(stats_of(t).active, 3);
	assert_int_equal(send_proc(t, SG_EV_EXEC, 9, 4), -1);
	assert_int_equal(send_proc(t, SG_EV_EXIT, 7, 5), -1);
	assert_int_equal(stats_of(t).bad_events, 2);
	assert_int_equal(stats_of(t).active, 3);
	assert_int_equal(send_data(t, 7, 0x20, 6, R, SG_ROLE_SERVER,
	    "GET /cgi HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 7, 0x20, 7, W, SG_ROLE_SERVER,
	    "HTTP/1.0 200 OK\r\n\r\nout"), 0);
	conns_forget_pid(t, 7);
	st = stats_of(t);
	assert_int_equal(st.active, 1);
	assert_int_equal(crec.n, 1);	/* the close-delimited response */
	assert_int_equal(crec.ex[0].end_ns, 7);
	conns_forget_pid(t, 8);
	assert_int_equal(stats_of(t).active, 0);
	conns_free(t);
}

static void
expect_bad(struct sg_conns *t, const void *ev, size_t size, uint64_t *bad)
{
	assert_int_equal(conns_handle_event(t, ev, size), -1);
	(*bad)++;
	assert_int_equal(stats_of(t).bad_events, *bad);
}

static void
test_conns_malformed(void **state)
{
	struct sg_conns *t = new_table(16);
	struct sg_conns_stats st;
	struct sg_conn_event ce;
	uint8_t small[sizeof(struct sg_event_hdr)];
	uint64_t bad = 0;
	size_t size;

	(void)state;
	memset(&dev, 0, sizeof(dev));
	expect_bad(t, &dev, 0, &bad);
	expect_bad(t, NULL, 100, &bad);
	expect_bad(t, &dev, sizeof(struct sg_event_hdr) - 1, &bad);
	memset(small, 0, sizeof(small));
	small[0] = SG_EV_DATA;
	expect_bad(t, small, sizeof(small), &bad);
	small[0] = 99;
	expect_bad(t, small, sizeof(small), &bad);
	small[0] = 0;
	expect_bad(t, small, sizeof(small), &bad);

	/* data events */
	size = mk_data(1, 0x10, 5, R, SG_ROLE_SERVER, "GET / HTTP/1.1\r\n\r\n");
	expect_bad(t, &dev, SG_DATA_EVENT_HDR_SIZE - 1, &bad);
	expect_bad(t, &dev, size - 1, &bad);
	mk_data(1, 0x10, 5, R, SG_ROLE_SERVER, "x");
	dev.captured = SG_CAPTURE_MAX + 1;
	expect_bad(t, &dev, sizeof(dev), &bad);
	size = mk_data(1, 0x10, 5, 2, SG_ROLE_SERVER, "x");
	expect_bad(t, &dev, size, &bad);
	size = mk_data(1, 0x10, 5, R, SG_ROLE_SERVER, "x");
	dev.len = 0;
	expect_bad(t, &dev, size, &bad);
	dev.len = -4;
	expect_bad(t, &dev, size, &bad);
	size = mk_data(1, 0x10, 5, R, 3, "x");
	expect_bad(t, &dev, size, &bad);
	size = mk_data(1, 0, 5, R, SG_ROLE_SERVER, "x");
	expect_bad(t, &dev, size, &bad);

	/* fixed-size events must be exactly their size */
	memset(&ce, 0, sizeof(ce));
	ce.hdr.type = SG_EV_CONN;
	ce.conn.sock = 0x10;
	ce.role = SG_ROLE_SERVER;
	expect_bad(t, &ce, sizeof(ce) - 1, &bad);
	expect_bad(t, &ce, sizeof(ce) + 1, &bad);
	ce.role = 7;
	expect_bad(t, &ce, sizeof(ce), &bad);
	ce.hdr.type = SG_EV_CLOSE;
	expect_bad(t, &ce, sizeof(struct sg_close_event) + 1, &bad);
	ce.hdr.type = SG_EV_EXIT;
	expect_bad(t, &ce, sizeof(struct sg_proc_event) - 1, &bad);

	st = stats_of(t);
	assert_int_equal(st.bad_events, 19);
	assert_int_equal(st.events, 0);
	assert_int_equal(st.active, 0);

	/* larger than needed is fine for data; captured bytes decide */
	size = mk_data(1, 0x10, 5, R, SG_ROLE_SERVER, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(conns_handle_event(t, &dev, sizeof(dev)), 0);
	st = stats_of(t);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.active, 1);
	assert_int_equal(st.bad_events, 19);
	assert_int_equal(conns_handle_event(NULL, &dev, size), -1);
	conns_free(t);
}

static void
test_conns_eviction(void **state)
{
	struct sg_conns *t = new_table(3);	/* rounded up to 4 */
	struct sg_conns_stats st;
	uint64_t s;

	(void)state;
	/* four connections fill the table; 0x10 stays idle (socket
	 * addresses are aligned: 0x10 to 0x40) */
	for (s = 1; s <= 4; s++)
		assert_int_equal(send_conn(t, 1, s << 4, s, SG_ROLE_SERVER, 80), 0);
	for (s = 2; s <= 4; s++)
		assert_int_equal(send_data(t, 1, s << 4, 10 + s, R, SG_ROLE_SERVER,
		    "GET /p HTTP/1.1\r\n\r\n"), 0);
	st = stats_of(t);
	assert_int_equal(st.active, 4);
	assert_int_equal(st.evicted, 0);

	/* a fifth: the idle one gives way, which loses nothing */
	assert_int_equal(send_conn(t, 1, 5 << 4, 20, SG_ROLE_SERVER, 80), 0);
	st = stats_of(t);
	assert_int_equal(st.active, 4);
	assert_int_equal(st.evicted, 0);

	/* a sixth: all busy except 5, which is idle */
	assert_int_equal(send_data(t, 1, 5 << 4, 21, R, SG_ROLE_SERVER,
	    "GET /p HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_conn(t, 1, 6 << 4, 30, SG_ROLE_SERVER, 80), 0);
	st = stats_of(t);
	assert_int_equal(st.active, 4);
	assert_int_equal(st.evicted, 1);	/* 0x2: least recently used */

	/* 0x2 lost its request: its response pairs with nothing; idle 0x6
	 * gives way to it */
	assert_int_equal(send_data(t, 1, 2 << 4, 40, W, SG_ROLE_SERVER,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 0);
	st = stats_of(t);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.active, 4);
	/* 0x4 kept its request */
	assert_int_equal(send_data(t, 1, 4 << 4, 41, W, SG_ROLE_SERVER,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	assert_int_equal(crec.sock[0], 4 << 4);
	assert_int_equal(crec.ex[0].start_ns, 14);
	assert_int_equal(crec.ex[0].end_ns, 41);
	conns_free(t);
	assert_null(conns_new(0, TIMEOUT, NULL, NULL));
}

/* A connect on an address seen as a server socket: the old connection's
 * close was missed. */
static void
test_conns_reuse(void **state)
{
	struct sg_conns *t = new_table(16);

	(void)state;
	assert_int_equal(send_conn(t, 5, 0x98, 10, SG_ROLE_SERVER, 80), 0);
	assert_int_equal(send_data(t, 5, 0x98, 20, R, SG_ROLE_SERVER,
	    "GET /old HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_conn(t, 5, 0x98, 30, SG_ROLE_CLIENT, 41000), 0);
	assert_int_equal(stats_of(t).timed_out, 1);
	assert_int_equal(send_data(t, 5, 0x98, 40, W, SG_ROLE_CLIENT,
	    "GET /new HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, 5, 0x98, 50, R, SG_ROLE_CLIENT,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(crec.n, 1);
	assert_int_equal(crec.role[0], SG_ROLE_CLIENT);
	assert_int_equal(crec.lport[0], 41000);
	assert_string_equal(crec.ex[0].target, "/new");
	assert_int_equal(stats_of(t).active, 1);
	conns_free(t);
}

/* ---- conns_peer: both ends of a connection on this host. */

static const struct sg_conn *peer_last;

static void
peer_emit(void *ctx, const struct sg_conn *c, const struct sg_exchange *ex)
{
	(void)ctx;
	(void)ex;
	peer_last = c;
}

/* A connection event with its addresses: IPv4, or IPv4-mapped IPv6 as
 * a dual-stack socket reports them. */
static void
send_conn_addrs(struct sg_conns *t, uint32_t pid, uint64_t sock,
    uint8_t role, bool v6, uint16_t lport, uint16_t rport)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [10] = 0xff, [11] = 0xff, [12] = 127,
	    [15] = 1 };
	struct sg_conn_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_CONN;
	e.hdr.pid = pid;
	e.hdr.ts_ns = 100;
	e.conn.sock = sock;
	e.conn.family = v6 ? 10 : 2;
	e.conn.lport = lport;
	e.conn.rport = rport;
	memcpy(e.conn.laddr, v6 ? lo6 : lo4, v6 ? 16 : 4);
	memcpy(e.conn.raddr, v6 ? lo6 : lo4, v6 ? 16 : 4);
	e.role = role;
	assert_int_equal(conns_handle_event(t, &e, sizeof(e)), 0);
}

/* The connection of (pid, sock), found through an exchange on it. */
static const struct sg_conn *
conn_of(struct sg_conns *t, uint32_t pid, uint64_t sock, uint8_t role)
{
	uint8_t first = role == SG_ROLE_SERVER ? R : W;

	peer_last = NULL;
	assert_int_equal(send_data(t, pid, sock, 200, first, role,
	    "GET /p HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(send_data(t, pid, sock, 300, first == R ? W : R, role,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_non_null(peer_last);
	return peer_last;
}

static void
test_conns_peer(void **state)
{
	struct sg_conns *t = conns_new(64, TIMEOUT, peer_emit, NULL);
	const struct sg_conn *cli, *srv, *other, *self;

	(void)state;
	assert_non_null(t);
	/* nginx's upstream connection, and the backend's end of it on a
	 * dual-stack socket */
	send_conn_addrs(t, 10, 0xa000, SG_ROLE_CLIENT, false, 40001, 8080);
	send_conn_addrs(t, 20, 0xb000, SG_ROLE_SERVER, true, 8080, 40001);
	/* another client of the same server, and a socket connected to
	 * itself */
	send_conn_addrs(t, 10, 0xc000, SG_ROLE_CLIENT, false, 40002, 8080);
	send_conn_addrs(t, 30, 0xd000, SG_ROLE_CLIENT, false, 5000, 5000);
	cli = conn_of(t, 10, 0xa000, SG_ROLE_CLIENT);
	srv = conn_of(t, 20, 0xb000, SG_ROLE_SERVER);
	other = conn_of(t, 10, 0xc000, SG_ROLE_CLIENT);
	self = conn_of(t, 30, 0xd000, SG_ROLE_CLIENT);
	assert_ptr_equal(conns_peer(t, cli), srv);
	assert_ptr_equal(conns_peer(t, srv), cli);
	assert_null(conns_peer(t, other));
	assert_null(conns_peer(t, self));
	/* the backend's end closes: no peer any more */
	assert_int_equal(send_close(t, 20, 0xb000, 400), 0);
	assert_null(conns_peer(t, cli));
	/* a socket reused for another connection is found by its new
	 * addresses only */
	send_conn_addrs(t, 20, 0xb000, SG_ROLE_SERVER, false, 8080, 40002);
	srv = conn_of(t, 20, 0xb000, SG_ROLE_SERVER);
	assert_ptr_equal(conns_peer(t, other), srv);
	assert_null(conns_peer(t, cli));
	assert_int_equal(stats_of(t).unindexed, 0);
	assert_null(conns_peer(NULL, cli));
	assert_null(conns_peer(t, NULL));
	conns_free(t);
}

/*
 * Requests pipelined in one write (issue 9: with ten or more, only the
 * ones in the capture were counted, the rest lost without a trace).
 */
#define PIPE_PID	77
#define PIPE_SOCK	0xffff888004321000ULL
#define PIPE_REQ	"GET /p%02d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
#define PIPE_REQ_LEN	43
#define PIPE_RESP	"HTTP/1.1 200 OK\r\nServer: nginx\r\n" \
			"Content-Length: 3\r\n\r\nok\n"

/* `per` requests in one read of the server, captured up to `capture`
 * bytes, then their responses in one write each, as nginx sends them.
 * Returns the next timestamp. */
static uint64_t
pipe_batch(struct sg_conns *t, uint64_t ts, int per, size_t capture)
{
	char buf[64 * PIPE_REQ_LEN + 1];
	size_t n = 0;
	int i;

	assert_true(per <= 64);
	for (i = 0; i < per; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, PIPE_REQ, i);
	assert_int_equal(n, (size_t)per * PIPE_REQ_LEN);
	assert_int_equal(send_data_cap(t, PIPE_PID, PIPE_SOCK, ts, R,
	    SG_ROLE_SERVER, buf, capture), 0);
	for (i = 0; i < per; i++)
		assert_int_equal(send_data_cap(t, PIPE_PID, PIPE_SOCK,
		    ts + 1 + (uint64_t)i, W, SG_ROLE_SERVER, PIPE_RESP,
		    capture), 0);
	return ts + 1000;
}

/* crec.ex[from..from+n) are /p00.. of the batch read at ts, answered at
 * ts + 1, ts + 2... */
static void
expect_pipe_batch(int from, int n, uint64_t ts)
{
	char path[8];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/p%02d", i);
		assert_string_equal(crec.ex[from + i].op, "GET");
		assert_string_equal(crec.ex[from + i].target, path);
		assert_int_equal(crec.ex[from + i].status, 200);
		assert_int_equal(crec.ex[from + i].start_ns, ts);
		assert_int_equal(crec.ex[from + i].end_ns, ts + 1 + (uint64_t)i);
		assert_int_equal(crec.ex[from + i].resp_size, 3);
	}
}

static void
expect_pipe_stats(struct sg_conns *t, uint64_t unpaired)
{
	struct sg_conns_stats st = stats_of(t);

	assert_int_equal(st.unpaired, unpaired);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.unparsed, 0);
	assert_int_equal(st.timed_out, 0);
	assert_int_equal(st.bad_events, 0);
}

static void
test_conns_pipelined_write(void **state)
{
	struct sg_conns *t;
	uint64_t ts = 1000;
	int b;

	(void)state;
	/* 100 requests, ten a write, a capture that holds ten: all 100 */
	t = new_table(64);
	for (b = 0; b < 10; b++)
		ts = pipe_batch(t, ts, 10, SG_CAPTURE_MAX);
	assert_int_equal(crec.n, 100);
	for (b = 0; b < 10; b++)
		expect_pipe_batch(10 * b, 10, 1000 + 1000 * (uint64_t)b);
	expect_pipe_stats(t, 0);
	conns_free(t);

	/* 500, fifty a write, the default capture: 256 bytes show five
	 * requests and the start line of a sixth; the other 44 responses of
	 * each write are counted as unpaired */
	t = new_table(64);
	for (b = 0; b < 10; b++)
		ts = pipe_batch(t, ts, 50, SG_CAPTURE_DEFAULT);
	assert_int_equal(crec.n, 60);
	for (b = 0; b < 10; b++)
		expect_pipe_batch(6 * b, 6, ts - 1000 * (10 - (uint64_t)b));
	expect_pipe_stats(t, 440);
	conns_free(t);

	/* fifty with the largest capture: 23 whole and a 24th */
	t = new_table(64);
	ts = pipe_batch(t, ts, 50, SG_CAPTURE_MAX);
	assert_int_equal(crec.n, 24);
	expect_pipe_batch(0, 24, ts - 1000);
	expect_pipe_stats(t, 26);
	conns_free(t);
}

/*
 * The header block's one-pass way (h1_header_lines_fast) against the
 * general one: the same random streams, split into reads at random, cut
 * by random captures and one in ten damaged, fed to a connection parsed
 * each way; every exchange, counter and byte of state must agree after
 * every call.
 */
/* A string at buf + at, when it fits. */
static size_t
diff_puts(char *buf, size_t at, size_t size, const char *s)
{
	return diff_put(buf, at, size, s, strlen(s));
}

/* A field line: mostly plain, sometimes a framing or trace field, a long
 * one, or one the fast way must leave alone. */
static size_t
diff_field(char *buf, size_t at, size_t size, bool req, size_t body)
{
	static const char *const plain[] = { "Host: 127.0.0.1:8080",
	    "Server: nginx/1.22.1", "Date: Sun, 22 Nov 2026 08:00:00 GMT",
	    "Content-Type: text/plain", "Connection: keep-alive",
	    "Accept: */*", "X-Tracestat: 1", "Upgrade-Insecure: 1",
	    "content-lengthy: 9", "Transfer-Encodings: chunked" };
	static const char *const odd[] = { "Folded:\r\n  more", "Tab:\tx",
	    "No colon here", ": empty name", " Leading: space", "Bad\x01: c",
	    "Hi: \xc3\xa9t\xc3\xa9", "CR: a\rb", "Del: \x7f",
	    "Upgrade: h2c", "UPGRADE: websocket",
	    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-"
	    "b7ad6b7169203331-01",
	    "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
	    "TraceState: a=b",
	    "X-Long: 0123456789012345678901234567890123456789012345678901234",
	    "X-Longer: 01234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789" };
	char line[160];
	uint32_t k = diff_rand(16);
	const char *eol = diff_rand(8) == 0 ? "\n" : "\r\n";

	if (k == 0)
		snprintf(line, sizeof(line), "%s", odd[diff_rand(
		    sizeof(odd) / sizeof(odd[0]))]);
	else if (k == 1)
		snprintf(line, sizeof(line), "%sontent-%sength:%s%zu",
		    diff_rand(2) ? "C" : "c", diff_rand(2) ? "L" : "l",
		    diff_rand(2) ? " " : "\t ", body);
	else if (k == 2 && !req)
		snprintf(line, sizeof(line), "Content-Length: x%zu", body);
	else
		snprintf(line, sizeof(line), "%s", plain[diff_rand(
		    sizeof(plain) / sizeof(plain[0]))]);
	at = diff_puts(buf, at, size, line);
	return diff_puts(buf, at, size, eol);
}

static size_t
diff_message(char *buf, size_t at, size_t size, bool req)
{
	static const char *const starts_req[] = { "GET /ok HTTP/1.1",
	    "POST /api/v1/items?id=3 HTTP/1.1", "HEAD / HTTP/1.0",
	    "PUT /x HTTP/1.1" };
	static const char *const starts_resp[] = { "HTTP/1.1 200 OK",
	    "HTTP/1.1 404 Not Found", "HTTP/1.0 500 Oops",
	    "HTTP/1.1 100 Continue", "HTTP/1.1 204 No Content" };
	size_t body = diff_rand(4) == 0 ? diff_rand(40) : 3;
	bool chunked = diff_rand(6) == 0;
	int nfields = (int)diff_rand(9);

	at = diff_puts(buf, at, size, req ?
	    starts_req[diff_rand(sizeof(starts_req) / sizeof(starts_req[0]))] :
	    starts_resp[diff_rand(sizeof(starts_resp) /
	    sizeof(starts_resp[0]))]);
	at = diff_puts(buf, at, size, "\r\n");
	for (int i = 0; i < nfields; i++)
		at = diff_field(buf, at, size, req, body);
	if (chunked)
		at = diff_puts(buf, at, size, "Transfer-Encoding: chunked\r\n");
	else
		at = diff_puts(buf, at, size, diff_rand(2) ?
		    "Content-Length: 3\r\n" : "content-length:3\r\n");
	at = diff_puts(buf, at, size, diff_rand(10) == 0 ? "\n" : "\r\n");
	if (chunked)
		return diff_puts(buf, at, size, "3\r\nok\n\r\n0\r\n\r\n");
	return diff_puts(buf, at, size, "ok\n");
}

struct diff_side {
	struct http1_conn c;
	struct rec        r;
};

static void
diff_feed(struct diff_side *d, bool fast, uint8_t dir, uint64_t ts,
    const char *p, size_t len, size_t cap)
{
	const uint8_t *tail = len >= SG_TAIL_LEN ?
	    (const uint8_t *)p + len - SG_TAIL_LEN : NULL;

	http1_fast_off = !fast;
	http1_on_data(&d->c, dir, ts, len, (const uint8_t *)p, cap, tail,
	    rec_emit, &d->r);
	http1_fast_off = false;
}

static void
diff_compare(struct diff_side *a, struct diff_side *b)
{
	diff_results_equal(a->r.ex, a->r.n, b->r.ex, b->r.n, &http1_ops, &a->c,
	    &b->c);
	/* the whole state: both were zeroed and written the same */
	assert_memory_equal(&a->c, &b->c, sizeof(a->c));
	a->r.n = b->r.n = 0;
}

static struct diff_side fast, gen;

static void
diff_step(uint8_t dir, const char *p, size_t len, size_t cap)
{
	static uint64_t ts;

	ts++;
	diff_feed(&fast, true, dir, ts, p, len, cap);
	diff_feed(&gen, false, dir, ts, p, len, cap);
	diff_compare(&fast, &gen);
}

static void
test_fast_matches_general(void **state)
{
	static char buf[4096];
	size_t lines = 0;

	(void)state;
	for (int round = 0; round < 4000; round++) {
		uint8_t role = round % 2 ? SG_ROLE_CLIENT : SG_ROLE_SERVER;
		uint8_t dir;
		size_t n = 0;
		int msgs = 1 + (int)diff_rand(6);
		bool req = round % 4 < 2;

		if (round % 100 == 0) {
			http1_conn_init(&fast.c, role);
			http1_conn_init(&gen.c, role);
		}
		role = fast.c.role;
		for (int m = 0; m < msgs; m++)
			n = diff_message(buf, n, sizeof(buf), req);
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		/* requests are written by a client, read by a server */
		dir = (req == (role == SG_ROLE_CLIENT)) ? W : R;
		diff_stream(buf, n, dir, diff_step);
	}
	assert_true(lines > 40000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_get_200),
		cmocka_unit_test(test_client_get_200),
		cmocka_unit_test(test_keepalive_three),
		cmocka_unit_test(test_pipelined_three),
		cmocka_unit_test(test_split_request),
		cmocka_unit_test(test_post_body_over_reads),
		cmocka_unit_test(test_post_split_headers),
		cmocka_unit_test(test_chunked_request_body),
		cmocka_unit_test(test_chunked_tail),
		cmocka_unit_test(test_response_larger_than_capture),
		cmocka_unit_test(test_statuses_404_503),
		cmocka_unit_test(test_head_no_body),
		cmocka_unit_test(test_204_304),
		cmocka_unit_test(test_100_continue),
		cmocka_unit_test(test_http10_close_delimited),
		cmocka_unit_test(test_close_leaves_pending_timed_out),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_stalled_response),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_unknown_role_server),
		cmocka_unit_test(test_unknown_role_client),
		cmocka_unit_test(test_long_target),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_headers_past_capture),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_traceparent_valid),
		cmocka_unit_test(test_traceparent_invalid),
		cmocka_unit_test(test_traceparent_split),
		cmocka_unit_test(test_traceparent_past_capture),
		cmocka_unit_test(test_traceparent_pipelined),
		cmocka_unit_test(test_tracestate),
		cmocka_unit_test(test_tracestate_invalid),
		cmocka_unit_test(test_tracestate_long),
		cmocka_unit_test(test_tracestate_pipelined),
		cmocka_unit_test(test_tracestate_split_long),
		cmocka_unit_test(test_chunked_hex_and_trailers),
		cmocka_unit_test(test_pending_overflow),
		cmocka_unit_test(test_pending_names),
		cmocka_unit_test(test_pipelined_past_capture),
		cmocka_unit_test(test_unpaired_response_framing),
		cmocka_unit_test(test_orphan_responses),
		cmocka_unit_test(test_response_headers_past_capture),
		cmocka_unit_test(test_close_mid_body),
		cmocka_unit_test(test_header_garbage),
		cmocka_unit_test(test_header_chars),
		cmocka_unit_test(test_header_garbage_from_bad_line),
		cmocka_unit_test(test_conns_flow),
		cmocka_unit_test(test_conns_h2c_upgrade),
		cmocka_unit_test(test_conns_io_after_close),
		cmocka_unit_test(test_conns_tls),
		cmocka_unit_test(test_conns_states_follow_exchanges),
		cmocka_unit_test(test_conns_grow),
		cmocka_unit_test(test_conns_capacity_bound),
		cmocka_unit_test(test_conns_timeout_not_emitted),
		cmocka_unit_test(test_conns_exit_forgets_pid),
		cmocka_unit_test(test_conns_malformed),
		cmocka_unit_test(test_conns_eviction),
		cmocka_unit_test(test_conns_reuse),
		cmocka_unit_test(test_conns_peer),
		cmocka_unit_test(test_conns_pipelined_write),
		cmocka_unit_test(test_fast_matches_general),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
