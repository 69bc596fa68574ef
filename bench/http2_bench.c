/*
 * HTTP/2 parser cost per exchange (collector/protocols/http2.c), as a
 * gRPC server sees its calls.
 *
 *   make bench/http2_bench
 *   bench/http2_bench [EXCHANGES]
 *   valgrind --tool=callgrind bench/http2_bench 100000
 *
 * Cases, each run EXCHANGES times:
 *   grpc-unary  a unary call on a connection already open: one read
 *               (request HEADERS as a Go client sends a later call,
 *               mostly references to its table, and a DATA frame with
 *               the message, END_STREAM) and one write (response
 *               HEADERS, DATA, trailers: grpc-status by reference);
 *   grpc-conn   the same call as the first of a new connection: init,
 *               both prefaces and settings, literals added to both
 *               tables (the first call's blocks);
 *   http-get    a GET as h2load sends it, answered with HEADERS and a
 *               DATA frame of 3 bytes, on a connection already open.
 * Prints ns per exchange; under callgrind, each case is a function
 * (bench_grpc_unary, ...) whose inclusive cost over its exchanges is
 * the instructions per exchange (grpc-unary's and http-get's include
 * opening their connection once).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "grpc_blocks.h"
#include "http2.h"

#define BUF_MAX	512

struct buf {
	size_t  n;
	uint8_t b[BUF_MAX];
	size_t  ids[4];		/* where the stream ids of its frames are */
	size_t  nids;
};

struct bench {
	uint64_t exchanges;
	uint64_t bytes;		/* keeps the callback's work */
	uint64_t bad;
};

static struct http2_conn conn;

/* A gRPC request, first and later call of a connection (grpc_blocks.h). */
static const uint8_t grpc_first[] = GRPC_GO_FIRST;
static const uint8_t grpc_later[] = GRPC_GO_LATER;

/* The server's: :status 200, content-type application/grpc added to its
 * table, then referred to; trailers grpc-status 0 the same. */
static const uint8_t resp_first[] =
    "\x88\x5f\x10" "application/grpc";
static const uint8_t resp_later[] = "\x88\xbf";
static const uint8_t trailers_first[] = "\x40\x0b" "grpc-status" "\x01" "0";
static const uint8_t trailers_later[] = "\xbe";

/* h2load's later GET: :method GET, :path /ok, :scheme http, :authority
 * and user-agent by reference; nginx's answer as nginx 1.22 sends it
 * (recorded): :status 200 by reference, then server, date, content-type
 * and content-length, each a literal added to the table, their values
 * Huffman-coded. */
static const uint8_t get_first[] =
    "\x82\x44\x03/ok\x86\x41\x0f" "127.0.0.1:18522"
    "\x7a\x0e" "h2load nghttp2";
static const uint8_t get_later[] = "\x82\xc0\x86\xbf\xbe";
static const uint8_t get_resp[] =
    "\x88\x76\x89\xaa\x63\x55\xe5\x80\xae\x21\x2e\x1f"
    "\x61\x96\xc3\x61\xbe\x94\x13\xaa\x69\x3f\x75\x04\x01\x38"
    "\xa0\x1b\xb8\x07\xae\x09\xc5\x31\x68\xdf"
    "\x5f\x87\x49\x7c\xa5\x8a\xe8\x19\xaa"
    "\x5c\x01\x33";

static void
put_frame(struct buf *b, uint8_t type, uint8_t flags, const void *p,
    size_t n)
{
	if (b->n + 9 + n > sizeof(b->b) || b->nids == 4) {
		fprintf(stderr, "http2_bench: buffer\n");
		exit(1);
	}
	b->b[b->n++] = (uint8_t)(n >> 16);
	b->b[b->n++] = (uint8_t)(n >> 8);
	b->b[b->n++] = (uint8_t)n;
	b->b[b->n++] = type;
	b->b[b->n++] = flags;
	b->ids[b->nids++] = b->n;
	memset(b->b + b->n, 0, 4);
	b->n += 4;
	if (n > 0)
		memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
put_settings(struct buf *b, uint8_t flags)
{
	put_frame(b, 0x4, flags, NULL, 0);
	b->nids--;	/* on stream 0 */
}

/* A gRPC message of n bytes: its 5-byte prefix, then the bytes. */
static void
put_message(struct buf *b, uint8_t flags, size_t n)
{
	uint8_t m[64];

	memset(m, 0x0a, sizeof(m));
	m[0] = 0;
	m[1] = m[2] = m[3] = 0;
	m[4] = (uint8_t)n;
	put_frame(b, 0x0, flags, m, n + 5);
}

static void
set_stream(struct buf *b, uint32_t id)
{
	size_t i;

	for (i = 0; i < b->nids; i++) {
		b->b[b->ids[i]] = (uint8_t)(id >> 24);
		b->b[b->ids[i] + 1] = (uint8_t)(id >> 16);
		b->b[b->ids[i] + 2] = (uint8_t)(id >> 8);
		b->b[b->ids[i] + 3] = (uint8_t)id;
	}
}

static void
bench_emit(void *ctx, const struct sg_exchange *ex)
{
	struct bench *b = ctx;

	b->exchanges++;
	b->bytes += ex->req_size + ex->resp_size;
	if ((ex->flags != 0) || (ex->app == SG_APP_GRPC && ex->status != 0))
		b->bad++;
}

static void
feed(uint8_t dir, uint64_t ts, const struct buf *p, struct bench *b)
{
	http2_ops.on_data(&conn, dir, ts, p->n, p->b, p->n, NULL, bench_emit,
	    b);
}

struct conversation {
	struct buf client_preface;	/* read */
	struct buf server_preface;	/* written */
	struct buf client_ack;		/* read */
	struct buf req_first, req_later;
	struct buf resp_first, resp_later;
	struct buf get_first, get_later, get_resp;
};

static struct conversation cv;

static void
build(void)
{
	memcpy(cv.client_preface.b, HTTP2_PREFACE, HTTP2_PREFACE_LEN);
	cv.client_preface.n = HTTP2_PREFACE_LEN;
	put_settings(&cv.client_preface, 0);
	put_settings(&cv.server_preface, 0);
	put_settings(&cv.server_preface, 0x1);
	put_settings(&cv.client_ack, 0x1);

	put_frame(&cv.req_first, 0x1, 0x4, grpc_first,
	    sizeof(grpc_first) - 1);
	put_message(&cv.req_first, 0x1, 10);
	put_frame(&cv.req_later, 0x1, 0x4, grpc_later,
	    sizeof(grpc_later) - 1);
	put_message(&cv.req_later, 0x1, 10);
	put_frame(&cv.resp_first, 0x1, 0x4, resp_first,
	    sizeof(resp_first) - 1);
	put_message(&cv.resp_first, 0, 12);
	put_frame(&cv.resp_first, 0x1, 0x5, trailers_first,
	    sizeof(trailers_first) - 1);
	put_frame(&cv.resp_later, 0x1, 0x4, resp_later,
	    sizeof(resp_later) - 1);
	put_message(&cv.resp_later, 0, 12);
	put_frame(&cv.resp_later, 0x1, 0x5, trailers_later,
	    sizeof(trailers_later) - 1);

	put_frame(&cv.get_first, 0x1, 0x5, get_first, sizeof(get_first) - 1);
	put_frame(&cv.get_later, 0x1, 0x5, get_later, sizeof(get_later) - 1);
	put_frame(&cv.get_resp, 0x1, 0x4, get_resp, sizeof(get_resp) - 1);
	put_frame(&cv.get_resp, 0x0, 0x1, "ok\n", 3);
}

/* A server's new connection and its first call. */
static void
open_conn(const struct buf *req, struct buf *resp, uint64_t *ts,
    struct bench *b)
{
	http2_ops.init(&conn, SG_ROLE_SERVER);
	feed(SG_DIR_READ, ++*ts, &cv.client_preface, b);
	feed(SG_DIR_WRITE, ++*ts, &cv.server_preface, b);
	feed(SG_DIR_READ, ++*ts, &cv.client_ack, b);
	set_stream((struct buf *)req, 1);
	set_stream(resp, 1);
	feed(SG_DIR_READ, ++*ts, req, b);
	feed(SG_DIR_WRITE, ++*ts, resp, b);
}

static void
report(const char *name, unsigned long n, uint64_t t0, uint64_t t1)
{
	printf("%-11s %lu exchanges: %.1f ns per exchange\n", name, n,
	    (double)(t1 - t0) / (double)n);
}

/* One function per case, so that callgrind shows each one's cost. */
static __attribute__((noinline)) void
bench_grpc_unary(unsigned long n, struct bench *b)
{
	uint64_t ts = 0;
	unsigned long i;
	uint32_t id = 3;

	open_conn(&cv.req_first, &cv.resp_first, &ts, b);
	for (i = 0; i < n; i++, id += 2) {
		if (id > 0x7ffffff0) {
			open_conn(&cv.req_first, &cv.resp_first, &ts, b);
			id = 3;
		}
		set_stream(&cv.req_later, id);
		set_stream(&cv.resp_later, id);
		feed(SG_DIR_READ, ++ts, &cv.req_later, b);
		feed(SG_DIR_WRITE, ++ts, &cv.resp_later, b);
	}
}

static __attribute__((noinline)) void
bench_grpc_conn(unsigned long n, struct bench *b)
{
	uint64_t ts = 0;
	unsigned long i;

	for (i = 0; i < n; i++)
		open_conn(&cv.req_first, &cv.resp_first, &ts, b);
}

static __attribute__((noinline)) void
bench_http_get(unsigned long n, struct bench *b)
{
	uint64_t ts = 0;
	unsigned long i;
	uint32_t id = 3;

	open_conn(&cv.get_first, &cv.get_resp, &ts, b);
	for (i = 0; i < n; i++, id += 2) {
		if (id > 0x7ffffff0) {
			open_conn(&cv.get_first, &cv.get_resp, &ts, b);
			id = 3;
		}
		set_stream(&cv.get_later, id);
		set_stream(&cv.get_resp, id);
		feed(SG_DIR_READ, ++ts, &cv.get_later, b);
		feed(SG_DIR_WRITE, ++ts, &cv.get_resp, b);
	}
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	struct bench b = { 0, 0, 0 };
	struct sg_proto_counters k;
	uint64_t t0, t1;

	if (n == 0) {
		fprintf(stderr, "usage: http2_bench [EXCHANGES]\n");
		return 2;
	}
	build();
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_grpc_unary(n, &b);
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	report("grpc-unary", n, t0, t1);
	http2_ops.counters(&conn, &k);
	if (b.exchanges != n + 1 || b.bad != 0 || k.unknown != 0 ||
	    k.unparsed != 0) {
		fprintf(stderr, "http2_bench: grpc-unary: %llu exchanges, "
		    "%llu not as sent\n", (unsigned long long)b.exchanges,
		    (unsigned long long)b.bad);
		return 1;
	}
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_grpc_conn(n, &b);
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	report("grpc-conn", n, t0, t1);
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_http_get(n, &b);
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	report("http-get", n, t0, t1);
	if (b.exchanges != 3 * n + 2 || b.bad != 0) {
		fprintf(stderr, "http2_bench: %llu exchanges of %lu, %llu not "
		    "as sent\n", (unsigned long long)b.exchanges, 3 * n + 2,
		    (unsigned long long)b.bad);
		return 1;
	}
	return 0;
}
