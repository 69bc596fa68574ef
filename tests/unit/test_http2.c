/*
 * HTTP/2 and gRPC (collector/protocols/http2.c): conversations built here
 * with a small frame and HPACK encoder, replayed whole, split across
 * reads at every byte and cut by the capture; connections joined mid-way;
 * sniff verdicts; and recordings of real peers (tests/data/http2/).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpack_huffman.h"
#include "http2.h"
#include "tracectx.h"

#define R	SG_DIR_READ
#define W	SG_DIR_WRITE
#define REC_MAX		512
#define WIRE_MAX	65536
#define SCRIPT_STEPS	256
#define SCRIPT_MEM	(256 * 1024)
#define TIMEOUT		30000000000ULL	/* 30 s */

/* Frame types and flags, as the RFC numbers them. */
#define T_DATA		0x0
#define T_HEADERS	0x1
#define T_PRIORITY	0x2
#define T_RST		0x3
#define T_SETTINGS	0x4
#define T_PUSH		0x5
#define T_PING		0x6
#define T_GOAWAY	0x7
#define T_WINDOW	0x8
#define T_CONT		0x9
#define F_END_STREAM	0x01
#define F_ACK		0x01
#define F_END_HEADERS	0x04
#define F_PADDED	0x08
#define F_PRIORITY	0x20
#define EH		F_END_HEADERS
#define ES		F_END_STREAM

/* HPACK static indexes used here (RFC 7541 Appendix A). */
#define S_AUTHORITY	1
#define S_METHOD_GET	2
#define S_METHOD_POST	3
#define S_PATH_ROOT	4
#define S_SCHEME_HTTP	6
#define S_STATUS_200	8
#define S_STATUS_404	13
#define S_CONTENT_TYPE	31
#define S_USER_AGENT	58

/* Literal kinds. */
#define L_INDEXED	0x40	/* with incremental indexing */
#define L_PLAIN		0x00	/* without indexing */
#define L_NEVER		0x10	/* never indexed */

struct rec {
	int                n;
	struct sg_exchange ex[REC_MAX];
	/* the tracestates, which an exchange only points to */
	char               ts[REC_MAX][TRACESTATE_MAX + 1];
};

/* A header block being encoded. */
struct hb {
	size_t  n;
	uint8_t b[8192];
};

/* Frames being encoded. */
struct wire {
	size_t  n;
	uint8_t b[WIRE_MAX];
};

/* A conversation: reads and writes in order. */
struct step {
	uint8_t  dir;
	uint64_t ts;
	size_t   at;	/* in mem */
	size_t   n;
};

struct script {
	int         n;
	size_t      used;
	struct step step[SCRIPT_STEPS];
	uint8_t     mem[SCRIPT_MEM];
};

static struct http2_conn conn;
static struct rec rec;
static struct script sc;

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
	http2_ops.init(&conn, role);
	memset(&rec, 0, sizeof(rec));
}

static struct sg_proto_counters
counters(void)
{
	struct sg_proto_counters c;

	http2_ops.counters(&conn, &c);
	return c;
}

/* ---- HPACK encoding */

static void
hb_int(struct hb *h, unsigned prefix, uint8_t first, uint32_t v)
{
	uint32_t max = (1u << prefix) - 1;

	assert_true(h->n + 6 < sizeof(h->b));
	if (v < max) {
		h->b[h->n++] = (uint8_t)(first | v);
		return;
	}
	h->b[h->n++] = (uint8_t)(first | max);
	for (v -= max; v >= 128; v >>= 7)
		h->b[h->n++] = (uint8_t)(0x80 | (v & 0x7f));
	h->b[h->n++] = (uint8_t)v;
}

static size_t
huff_encode(const char *s, size_t n, uint8_t *out)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const struct hpack_huff_code *c =
		    &hpack_huff_codes[(uint8_t)s[i]];

		acc = acc << c->len | c->code;
		bits += c->len;
		while (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits > 0)
		out[o++] = (uint8_t)(acc << (8 - bits) | (0xff >> bits));
	return o;
}

static void
hb_str(struct hb *h, const char *s, bool huffman)
{
	uint8_t tmp[4096];
	size_t n = strlen(s), k;

	if (!huffman) {
		hb_int(h, 7, 0, (uint32_t)n);
		assert_true(h->n + n <= sizeof(h->b));
		memcpy(h->b + h->n, s, n);
		h->n += n;
		return;
	}
	assert_true(n <= sizeof(tmp) / 2);
	k = huff_encode(s, n, tmp);
	hb_int(h, 7, 0x80, (uint32_t)k);
	assert_true(h->n + k <= sizeof(h->b));
	memcpy(h->b + h->n, tmp, k);
	h->n += k;
}

static void
hb_indexed(struct hb *h, uint32_t index)
{
	hb_int(h, 7, 0x80, index);
}

/* A literal: name by index (name_index > 0) or literal. */
static void
hb_lit(struct hb *h, uint8_t kind, uint32_t name_index, const char *name,
    const char *value, bool huffman)
{
	hb_int(h, kind == L_INDEXED ? 6 : 4, kind, name_index);
	if (name_index == 0)
		hb_str(h, name, huffman);
	hb_str(h, value, huffman);
}

static void
hb_size_update(struct hb *h, uint32_t size)
{
	hb_int(h, 5, 0x20, size);
}

/* A request as curl sends one (no dynamic table use), optionally
 * with a content-type. */
static void
hb_request(struct hb *h, const char *method, const char *path,
    const char *ctype)
{
	if (strcmp(method, "GET") == 0)
		hb_indexed(h, S_METHOD_GET);
	else if (strcmp(method, "POST") == 0)
		hb_indexed(h, S_METHOD_POST);
	else
		hb_lit(h, L_PLAIN, S_METHOD_GET, NULL, method, false);
	hb_indexed(h, S_SCHEME_HTTP);
	if (strcmp(path, "/") == 0)
		hb_indexed(h, S_PATH_ROOT);
	else
		hb_lit(h, L_PLAIN, S_PATH_ROOT, NULL, path, false);
	hb_lit(h, L_PLAIN, S_AUTHORITY, NULL, "localhost:8080", false);
	if (ctype != NULL)
		hb_lit(h, L_PLAIN, S_CONTENT_TYPE, NULL, ctype, false);
}

static void
hb_status(struct hb *h, unsigned status)
{
	char v[8];

	if (status == 200) {
		hb_indexed(h, S_STATUS_200);
		return;
	}
	snprintf(v, sizeof(v), "%u", status);
	hb_lit(h, L_PLAIN, S_STATUS_200, NULL, v, false);
}

/* ---- frames */

static void
w_frame(struct wire *w, uint8_t type, uint8_t flags, uint32_t stream,
    const void *p, size_t n)
{
	assert_true(w->n + 9 + n <= sizeof(w->b));
	w->b[w->n++] = (uint8_t)(n >> 16);
	w->b[w->n++] = (uint8_t)(n >> 8);
	w->b[w->n++] = (uint8_t)n;
	w->b[w->n++] = type;
	w->b[w->n++] = flags;
	w->b[w->n++] = (uint8_t)(stream >> 24);
	w->b[w->n++] = (uint8_t)(stream >> 16);
	w->b[w->n++] = (uint8_t)(stream >> 8);
	w->b[w->n++] = (uint8_t)stream;
	if (n > 0)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
w_bytes(struct wire *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
w_magic(struct wire *w)
{
	w_bytes(w, HTTP2_PREFACE, HTTP2_PREFACE_LEN);
}

static void
w_settings(struct wire *w, int n, ...)
{
	uint8_t p[60];
	va_list ap;
	int i;

	assert_true(n <= 10);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		unsigned id = va_arg(ap, unsigned);
		uint32_t v = va_arg(ap, uint32_t);

		p[6 * i] = (uint8_t)(id >> 8);
		p[6 * i + 1] = (uint8_t)id;
		p[6 * i + 2] = (uint8_t)(v >> 24);
		p[6 * i + 3] = (uint8_t)(v >> 16);
		p[6 * i + 4] = (uint8_t)(v >> 8);
		p[6 * i + 5] = (uint8_t)v;
	}
	va_end(ap);
	w_frame(w, T_SETTINGS, 0, 0, p, 6 * (size_t)n);
}

static void
w_settings_ack(struct wire *w)
{
	w_frame(w, T_SETTINGS, F_ACK, 0, NULL, 0);
}

static void
w_headers(struct wire *w, uint32_t stream, uint8_t flags, const struct hb *h)
{
	w_frame(w, T_HEADERS, flags, stream, h->b, h->n);
}

static void
w_data(struct wire *w, uint32_t stream, uint8_t flags, size_t n)
{
	static uint8_t zeros[16384];

	assert_true(n <= sizeof(zeros));
	w_frame(w, T_DATA, flags, stream, zeros, n);
}

/* A gRPC message: the 5-byte prefix and n bytes. */
static void
w_grpc_message(struct wire *w, uint32_t stream, uint8_t flags, size_t n)
{
	uint8_t m[1024];

	assert_true(n + 5 <= sizeof(m));
	memset(m, 0x0a, n + 5);
	m[0] = 0;
	m[1] = (uint8_t)(n >> 24);
	m[2] = (uint8_t)(n >> 16);
	m[3] = (uint8_t)(n >> 8);
	m[4] = (uint8_t)n;
	w_frame(w, T_DATA, flags, stream, m, n + 5);
}

static void
w_u32_frame(struct wire *w, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	w_frame(w, type, 0, stream, p, 4);
}

static void
w_rst(struct wire *w, uint32_t stream, uint32_t code)
{
	w_u32_frame(w, T_RST, stream, code);
}

static void
w_window_update(struct wire *w, uint32_t stream, uint32_t inc)
{
	w_u32_frame(w, T_WINDOW, stream, inc);
}

static void
w_goaway(struct wire *w, uint32_t last, uint32_t code)
{
	uint8_t p[8] = { (uint8_t)(last >> 24), (uint8_t)(last >> 16),
	    (uint8_t)(last >> 8), (uint8_t)last, (uint8_t)(code >> 24),
	    (uint8_t)(code >> 16), (uint8_t)(code >> 8), (uint8_t)code };

	w_frame(w, T_GOAWAY, 0, 0, p, sizeof(p));
}

static void
w_ping(struct wire *w, uint8_t flags)
{
	uint8_t p[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	w_frame(w, T_PING, flags, 0, p, sizeof(p));
}

/* ---- feeding */

static void
feed_cap(uint8_t dir, uint64_t ts, const uint8_t *p, size_t n, size_t cap)
{
	http2_ops.on_data(&conn, dir, ts, n, p, cap < n ? cap : n, NULL,
	    rec_emit, &rec);
}

/* The wire as one read or write, seen whole; then emptied. */
static void
feed(uint8_t dir, uint64_t ts, struct wire *w)
{
	feed_cap(dir, ts, w->b, w->n, w->n);
	w->n = 0;
}

static void
sc_reset(void)
{
	sc.n = 0;
	sc.used = 0;
}

/* The wire becomes the script's next read or write; then emptied. */
static void
sc_add(uint8_t dir, uint64_t ts, struct wire *w)
{
	struct step *s;

	assert_true(sc.n < SCRIPT_STEPS && sc.used + w->n <= SCRIPT_MEM);
	s = &sc.step[sc.n++];
	s->dir = dir;
	s->ts = ts;
	s->at = sc.used;
	s->n = w->n;
	memcpy(sc.mem + sc.used, w->b, w->n);
	sc.used += w->n;
	w->n = 0;
}

/*
 * Runs the script on a new state: each step in reads of `piece` bytes (0:
 * whole) at the step's time, of which `cap` are captured (0: all).
 */
static void
sc_run(uint8_t role, size_t piece, size_t cap)
{
	int i;
	size_t at, n;

	start(role);
	for (i = 0; i < sc.n; i++) {
		const struct step *s = &sc.step[i];

		for (at = 0; at < s->n; at += n) {
			n = piece == 0 || s->n - at < piece ? s->n - at : piece;
			feed_cap(s->dir, s->ts, sc.mem + s->at + at, n,
			    cap == 0 ? n : cap);
		}
	}
}

/* Runs it with step `split` cut in two at byte k. */
static void
sc_run_split(uint8_t role, int split, size_t k)
{
	int i;

	start(role);
	for (i = 0; i < sc.n; i++) {
		const struct step *s = &sc.step[i];
		const uint8_t *p = sc.mem + s->at;

		if (i == split && k > 0 && k < s->n) {
			feed_cap(s->dir, s->ts, p, k, k);
			feed_cap(s->dir, s->ts, p + k, s->n - k, s->n - k);
		} else {
			feed_cap(s->dir, s->ts, p, s->n, s->n);
		}
	}
}

/*
 * With HTTP2_SEED_DIR set, the script is also written there as an input
 * of tests/fuzz/fuzz_http2.c (its seeds in tests/fuzz/corpus/http2/
 * come from here and from the recordings).
 */
static void
sc_dump(uint8_t role)
{
	static int seq;
	const char *dir = getenv("HTTP2_SEED_DIR");
	char path[512];
	uint8_t rec_hdr[3];
	FILE *f;
	int i;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/unit-%02d", dir, ++seq);
	assert_non_null(f = fopen(path, "wb"));
	/* role, C's capture 64, B's reads of 3 bytes */
	fputc(role | 3 << 2 | 2 << 5, f);
	for (i = 0; i < sc.n; i++) {
		assert_true(sc.step[i].n <= 0xffff);
		rec_hdr[0] = sc.step[i].dir;
		rec_hdr[1] = (uint8_t)(sc.step[i].n >> 8);
		rec_hdr[2] = (uint8_t)sc.step[i].n;
		fwrite(rec_hdr, 1, 3, f);
		fwrite(sc.mem + sc.step[i].at, 1, sc.step[i].n, f);
	}
	fclose(f);
}

static bool
ex_equal(const struct sg_exchange *a, const struct sg_exchange *b)
{
	return a->app == b->app && a->role == b->role &&
	    a->flags == b->flags && a->start_ns == b->start_ns &&
	    a->end_ns == b->end_ns && strcmp(a->op, b->op) == 0 &&
	    strcmp(a->target, b->target) == 0 &&
	    strcmp(a->version, b->version) == 0 && a->status == b->status &&
	    a->req_size == b->req_size && a->resp_size == b->resp_size &&
	    memcmp(a->trace_id, b->trace_id, sizeof(a->trace_id)) == 0 &&
	    memcmp(a->parent_span_id, b->parent_span_id,
	    sizeof(a->parent_span_id)) == 0 &&
	    a->tracestate_flags == b->tracestate_flags &&
	    a->tracestate_len == b->tracestate_len &&
	    (a->tracestate_len == 0 || memcmp(a->tracestate, b->tracestate,
	    a->tracestate_len) == 0);
}

static void
expect_same(const struct rec *want)
{
	int i;

	assert_int_equal(rec.n, want->n);
	for (i = 0; i < rec.n; i++)
		assert_true(ex_equal(&rec.ex[i], &want->ex[i]));
}

/*
 * The script gives the same exchanges and counters however its reads
 * are split: whole, every step cut at every byte, in reads of 1, 2, 3,
 * 7 and 64 bytes.  Leaves the result of a whole run in rec.
 */
static void
sc_check_splits(uint8_t role)
{
	static struct rec want;
	struct sg_proto_counters wc, c;
	static const size_t pieces[] = { 1, 2, 3, 7, 64 };
	size_t k, p;
	int i;

	sc_dump(role);
	sc_run(role, 0, 0);
	want = rec;
	wc = counters();
	assert_int_equal(wc.unparsed, 0);
	for (i = 0; i < sc.n; i++) {
		for (k = 1; k < sc.step[i].n; k++) {
			sc_run_split(role, i, k);
			expect_same(&want);
			c = counters();
			assert_memory_equal(&c, &wc, sizeof(c));
		}
	}
	for (p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		sc_run(role, pieces[p], 0);
		expect_same(&want);
		c = counters();
		assert_memory_equal(&c, &wc, sizeof(c));
	}
	rec = want;
}

static void
expect_http(int i, uint8_t role, const char *op, const char *target,
    uint32_t status, uint64_t start_ns, uint64_t end_ns, uint64_t req,
    uint64_t resp)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_HTTP);
	assert_int_equal(ex->role, role);
	assert_int_equal(ex->flags, 0);
	assert_string_equal(ex->op, op);
	assert_string_equal(ex->target, target);
	assert_string_equal(ex->version, "2");
	assert_int_equal(ex->status, status);
	assert_int_equal(ex->start_ns, start_ns);
	assert_int_equal(ex->end_ns, end_ns);
	assert_int_equal(ex->req_size, req);
	assert_int_equal(ex->resp_size, resp);
}

static void
expect_grpc(int i, uint8_t role, const char *target, uint32_t status,
    uint8_t flags)
{
	const struct sg_exchange *ex;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->app, SG_APP_GRPC);
	assert_int_equal(ex->role, role);
	assert_int_equal(ex->flags, flags);
	assert_string_equal(ex->op, "");
	assert_string_equal(ex->target, target);
	assert_string_equal(ex->version, "2");
	assert_int_equal(ex->status, status);
}

/* The two sides' connection prefaces and acknowledgements. */
static void
sc_prefaces(void)
{
	struct wire w = { 0 };

	w_magic(&w);
	w_settings(&w, 2, 0x3u, 100u, 0x4u, 65535u);
	sc_add(R, 100, &w);
	w_settings(&w, 1, 0x3u, 128u);
	w_settings_ack(&w);
	sc_add(W, 110, &w);
	w_settings_ack(&w);
	sc_add(R, 120, &w);
}

/* ---- tests */

static void
test_state_size(void **state)
{
	(void)state;
	assert_int_equal(http2_ops.state_size, sizeof(struct http2_conn));
	assert_true(sizeof(struct http2_conn) <= 16 * 1024);
	assert_int_equal(http2_ops.id, SG_PROTO_HTTP2);
	assert_true(http2_ops.keep_state);
	assert_string_equal(http2_ops.name, "http2");
	print_message("struct http2_conn: %zu bytes\n",
	    sizeof(struct http2_conn));
}

/* curl --http2-prior-knowledge GET, nginx answering: the server's view. */
static void
test_server_get(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/index.html?q=1&r=2", NULL);
	hb_lit(&h, L_PLAIN, S_USER_AGENT, NULL, "curl/7.88.1", false);
	hb_lit(&h, L_PLAIN, 0, "accept", "*/*", false);
	w_headers(&w, 1, EH | ES, &h);
	sc_add(R, 1000, &w);
	h.n = 0;
	hb_status(&h, 200);
	hb_lit(&h, L_PLAIN, 0, "server", "nginx/1.22.1", false);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, 0, 5);
	w_data(&w, 1, ES, 0);
	sc_add(W, 2500, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "GET", "/index.html", 200, 1000, 2500,
	    0, 5);
	assert_true(http2_ops.idle(&conn));
	assert_int_equal(http2_ops.pending(&conn), 0);
	assert_int_equal(http2_ops.role(&conn), SG_ROLE_SERVER);
	assert_int_equal(counters().unpaired, 0);
	assert_int_equal(counters().unknown, 0);
}

/* The same from the client's side: requests are written. */
static void
test_client_post(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	w_magic(&w);
	w_settings(&w, 0);
	hb_request(&h, "POST", "/api/items", "application/json");
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, 0, 10);
	w_data(&w, 1, ES, 7);
	feed(W, 100, &w);
	assert_int_equal(http2_ops.pending(&conn), 1);
	assert_false(http2_ops.idle(&conn));
	w_settings(&w, 0);
	w_settings_ack(&w);
	h.n = 0;
	hb_status(&h, 201);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, ES, 3);
	feed(R, 400, &w);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_CLIENT, "POST", "/api/items", 201, 100, 400,
	    17, 3);
}

/* The role is learnt from the preface. */
static void
test_role_from_preface(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_UNKNOWN);
	w_magic(&w);
	w_settings(&w, 0);
	feed(W, 10, &w);
	assert_int_equal(http2_ops.role(&conn), SG_ROLE_CLIENT);
	hb_request(&h, "GET", "/", NULL);
	w_headers(&w, 1, EH | ES, &h);
	feed(W, 20, &w);
	h.n = 0;
	hb_status(&h, 404);
	w_settings(&w, 0);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 30, &w);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_CLIENT, "GET", "/", 404, 20, 30, 0, 0);
	/* the decoders were known from the start */
	assert_int_equal(counters().unknown, 0);
}

/*
 * Several streams, requests with bodies in pieces, responses in another
 * order, interleaved frames, frames of other types between them.
 */
static void
test_interleaved_streams(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/a", NULL);
	w_headers(&w, 1, EH | ES, &h);
	h.n = 0;
	hb_request(&h, "PUT", "/b?x", "text/plain");
	w_headers(&w, 3, EH, &h);
	w_data(&w, 3, 0, 100);
	sc_add(R, 1000, &w);
	h.n = 0;
	hb_request(&h, "DELETE", "/c", NULL);
	w_headers(&w, 5, EH | ES, &h);
	w_data(&w, 3, 0, 50);
	w_window_update(&w, 0, 1000);
	w_ping(&w, 0);
	w_data(&w, 3, ES, 25);
	sc_add(R, 1100, &w);
	/* 5 answered first, then 1 and 3 interleaved */
	h.n = 0;
	hb_status(&h, 204);
	w_headers(&w, 5, EH | ES, &h);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 3, EH, &h);
	h.n = 0;
	hb_status(&h, 404);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 3, 0, 7);
	sc_add(W, 1200, &w);
	w_data(&w, 1, 0, 9);
	w_ping(&w, F_ACK);
	w_data(&w, 3, ES, 8);
	sc_add(W, 1300, &w);
	w_data(&w, 1, ES, 1);
	sc_add(W, 1400, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 3);
	expect_http(0, SG_ROLE_SERVER, "DELETE", "/c", 204, 1100, 1200, 0, 0);
	expect_http(1, SG_ROLE_SERVER, "PUT", "/b", 200, 1000, 1300, 175, 15);
	expect_http(2, SG_ROLE_SERVER, "GET", "/a", 404, 1000, 1400, 0, 10);
	assert_true(http2_ops.idle(&conn));
}

/* A header block in HEADERS and CONTINUATION frames, some in the same
 * read, some not; with padding and priority fields. */
static void
test_continuation_padding(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint8_t p[600];
	size_t a, b;

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/long/path/for/the/test", NULL);
	hb_lit(&h, L_PLAIN, 0, "x-filler",
	    "0123456789012345678901234567890123456789", false);
	hb_lit(&h, L_NEVER, 0, "authorization", "secret", false);
	a = h.n / 3;
	b = 2 * h.n / 3;
	/* HEADERS: pad length 4, priority fields, a third of the block */
	p[0] = 4;
	memset(p + 1, 0, 5);
	memcpy(p + 6, h.b, a);
	memset(p + 6 + a, 0, 4);
	w_frame(&w, T_HEADERS, F_PADDED | F_PRIORITY | ES, 1, p, 6 + a + 4);
	w_frame(&w, T_CONT, 0, 1, h.b + a, b - a);
	sc_add(R, 1000, &w);
	w_frame(&w, T_CONT, EH, 1, h.b + b, h.n - b);
	sc_add(R, 1010, &w);
	/* response: HEADERS padded; DATA padded (padding not counted) */
	h.n = 0;
	hb_status(&h, 200);
	p[0] = 7;
	memcpy(p + 1, h.b, h.n);
	memset(p + 1 + h.n, 0, 7);
	w_frame(&w, T_HEADERS, F_PADDED | EH, 1, p, 1 + h.n + 7);
	p[0] = 20;
	memset(p + 1, 'd', 100);
	memset(p + 101, 0, 20);
	w_frame(&w, T_DATA, F_PADDED | ES, 1, p, 121);
	sc_add(W, 1100, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "GET", "/long/path/for/the/test", 200,
	    1000, 1100, 0, 100);
	assert_int_equal(conn.blocks_missed, 0);
}

/* A block in more CONTINUATION frames than one read keeps in place:
 * the first pieces move to the block buffer. */
static void
test_many_continuations(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	size_t at, piece;
	int i;

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/in/many/pieces", NULL);
	for (i = 0; i < 6; i++)
		hb_lit(&h, L_PLAIN, 0, "x-field", "a value of some length",
		    false);
	piece = h.n / 12 + 1;
	for (at = 0, i = 0; at < h.n; at += piece, i++)
		w_frame(&w, i == 0 ? T_HEADERS : T_CONT,
		    (at + piece >= h.n ? EH : 0) | (i == 0 ? ES : 0), 1,
		    h.b + at, at + piece > h.n ? h.n - at : piece);
	assert_true(i >= 12);
	sc_add(R, 1000, &w);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 1, EH | ES, &h);
	sc_add(W, 1100, &w);
	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "GET", "/in/many/pieces", 200, 1000,
	    1100, 0, 0);
	assert_int_equal(conn.blocks_missed, 0);
}

/* Huffman-coded literals added to the dynamic table, and later
 * requests that refer to them; a dynamic table size update. */
static void
test_dynamic_table(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	/* first request: everything added to the table (62.. newest) */
	hb_indexed(&h, S_METHOD_GET);
	hb_indexed(&h, S_SCHEME_HTTP);
	hb_lit(&h, L_INDEXED, S_PATH_ROOT, NULL, "/users/42", true);
	hb_lit(&h, L_INDEXED, S_AUTHORITY, NULL, "example.com", true);
	hb_lit(&h, L_INDEXED, 0, "x-trace", "abcdef", true);
	w_headers(&w, 1, EH | ES, &h);
	sc_add(R, 1000, &w);
	/* second: the path by reference (now index 64), a new method */
	h.n = 0;
	hb_size_update(&h, 4096);
	hb_lit(&h, L_INDEXED, S_METHOD_GET, NULL, "PATCH", true);
	hb_indexed(&h, S_SCHEME_HTTP);
	hb_indexed(&h, 65);	/* :path /users/42, one entry later */
	hb_indexed(&h, 64);	/* :authority */
	w_headers(&w, 3, EH | ES, &h);
	sc_add(R, 2000, &w);
	/* third: method by reference (62: PATCH) */
	h.n = 0;
	hb_indexed(&h, 62);
	hb_indexed(&h, 65);
	w_headers(&w, 5, EH | ES, &h);
	sc_add(R, 3000, &w);
	h.n = 0;
	hb_lit(&h, L_INDEXED, S_STATUS_200, NULL, "201", true);
	w_headers(&w, 1, EH | ES, &h);
	h.n = 0;
	hb_indexed(&h, 62);	/* :status 201 */
	w_headers(&w, 3, EH | ES, &h);
	h.n = 0;
	hb_indexed(&h, S_STATUS_404);
	w_headers(&w, 5, EH | ES, &h);
	sc_add(W, 4000, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 3);
	expect_http(0, SG_ROLE_SERVER, "GET", "/users/42", 201, 1000, 4000,
	    0, 0);
	expect_http(1, SG_ROLE_SERVER, "PATCH", "/users/42", 201, 2000, 4000,
	    0, 0);
	expect_http(2, SG_ROLE_SERVER, "PATCH", "/users/42", 404, 3000, 4000,
	    0, 0);
}

/* gRPC, unary and server-streaming, and a trailers-only error. */
static void
grpc_request(struct wire *w, uint32_t stream, const char *path)
{
	struct hb h = { 0 };

	hb_indexed(&h, S_METHOD_POST);
	hb_indexed(&h, S_SCHEME_HTTP);
	hb_lit(&h, L_PLAIN, S_PATH_ROOT, NULL, path, false);
	hb_lit(&h, L_PLAIN, S_AUTHORITY, NULL, "localhost:50051", false);
	hb_lit(&h, L_PLAIN, S_CONTENT_TYPE, NULL, "application/grpc", false);
	hb_lit(&h, L_PLAIN, 0, "te", "trailers", false);
	hb_lit(&h, L_PLAIN, 0, "grpc-timeout", "999937u", false);
	w_headers(w, stream, EH, &h);
}

static void
grpc_response_headers(struct wire *w, uint32_t stream)
{
	struct hb h = { 0 };

	hb_indexed(&h, S_STATUS_200);
	hb_lit(&h, L_PLAIN, S_CONTENT_TYPE, NULL, "application/grpc", false);
	w_headers(w, stream, EH, &h);
}

static void
grpc_trailers(struct wire *w, uint32_t stream, const char *status)
{
	struct hb h = { 0 };

	hb_lit(&h, L_PLAIN, 0, "grpc-status", status, false);
	hb_lit(&h, L_PLAIN, 0, "grpc-message", "", false);
	w_headers(w, stream, EH | ES, &h);
}

static void
test_grpc(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	int i;

	(void)state;
	sc_reset();
	sc_prefaces();
	/* unary */
	grpc_request(&w, 1, "/helloworld.Greeter/SayHello");
	w_grpc_message(&w, 1, ES, 7);
	sc_add(R, 1000, &w);
	grpc_response_headers(&w, 1);
	w_grpc_message(&w, 1, 0, 13);
	grpc_trailers(&w, 1, "0");
	sc_add(W, 1500, &w);
	/* server-streaming: four messages in three writes, then trailers */
	grpc_request(&w, 3, "/routeguide.RouteGuide/ListFeatures");
	w_grpc_message(&w, 3, ES, 20);
	sc_add(R, 2000, &w);
	grpc_response_headers(&w, 3);
	w_grpc_message(&w, 3, 0, 30);
	sc_add(W, 2100, &w);
	w_grpc_message(&w, 3, 0, 31);
	w_grpc_message(&w, 3, 0, 32);
	sc_add(W, 2200, &w);
	w_grpc_message(&w, 3, 0, 33);
	sc_add(W, 2300, &w);
	grpc_trailers(&w, 3, "0");
	sc_add(W, 2400, &w);
	/* trailers-only: NOT_FOUND */
	grpc_request(&w, 5, "/helloworld.Greeter/Missing");
	w_grpc_message(&w, 5, ES, 0);
	sc_add(R, 3000, &w);
	hb_indexed(&h, S_STATUS_200);
	hb_lit(&h, L_PLAIN, S_CONTENT_TYPE, NULL, "application/grpc", false);
	hb_lit(&h, L_PLAIN, 0, "grpc-status", "5", false);
	hb_lit(&h, L_PLAIN, 0, "grpc-message", "no such feature", false);
	w_headers(&w, 5, EH | ES, &h);
	/* and the RST_STREAM(NO_ERROR) servers send after it */
	w_rst(&w, 5, 0);
	sc_add(W, 3100, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 3);
	expect_grpc(0, SG_ROLE_SERVER, "/helloworld.Greeter/SayHello", 0, 0);
	assert_int_equal(rec.ex[0].req_size, 12);
	assert_int_equal(rec.ex[0].resp_size, 18);
	assert_int_equal(rec.ex[0].start_ns, 1000);
	assert_int_equal(rec.ex[0].end_ns, 1500);
	expect_grpc(1, SG_ROLE_SERVER, "/routeguide.RouteGuide/ListFeatures",
	    0, 0);
	assert_int_equal(rec.ex[1].req_size, 25);
	assert_int_equal(rec.ex[1].resp_size, 4 * 5 + 30 + 31 + 32 + 33);
	assert_int_equal(rec.ex[1].end_ns, 2400);
	expect_grpc(2, SG_ROLE_SERVER, "/helloworld.Greeter/Missing", 5, 0);
	assert_int_equal(rec.ex[2].resp_size, 0);
	for (i = 0; i < rec.n; i++)
		assert_int_equal(rec.ex[i].flags, 0);
	assert_int_equal(counters().unpaired, 0);
}

/* A gRPC response with an HTTP error and no grpc-status: the code the
 * client reports; a reset stream: CANCELLED, timed out. */
static void
test_grpc_http_error_and_cancel(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_CLIENT);
	w_magic(&w);
	w_settings(&w, 0);
	grpc_request(&w, 1, "/a.B/C");
	w_grpc_message(&w, 1, ES, 1);
	grpc_request(&w, 3, "/a.B/D");
	w_grpc_message(&w, 3, ES, 1);
	feed(W, 10, &w);
	hb_status(&h, 503);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 20, &w);
	w_rst(&w, 3, 0x8);	/* CANCEL */
	feed(W, 30, &w);
	assert_int_equal(rec.n, 2);
	expect_grpc(0, SG_ROLE_CLIENT, "/a.B/C", 14, 0);
	expect_grpc(1, SG_ROLE_CLIENT, "/a.B/D", 1, 0);	/* CANCELLED */
	assert_int_equal(rec.ex[1].end_ns, 30);
}

/* RST_STREAM of an HTTP request; GOAWAY refusing the later streams. */
static void
test_rst_and_goaway(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint32_t id;

	(void)state;
	sc_reset();
	sc_prefaces();
	for (id = 1; id <= 9; id += 2) {
		h.n = 0;
		hb_request(&h, "GET", "/x", NULL);
		w_headers(&w, id, EH | ES, &h);
	}
	sc_add(R, 1000, &w);
	w_rst(&w, 1, 0x8);
	sc_add(R, 1100, &w);
	w_goaway(&w, 5, 0);
	sc_add(W, 1200, &w);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 3, EH | ES, &h);
	w_headers(&w, 5, EH | ES, &h);
	sc_add(W, 1300, &w);
	/* a request the client sent before it saw the GOAWAY */
	h.n = 0;
	hb_request(&h, "GET", "/late", NULL);
	w_headers(&w, 11, EH | ES, &h);
	sc_add(R, 1400, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 6);
	assert_int_equal(rec.ex[0].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[0].status, 0);
	assert_int_equal(rec.ex[0].end_ns, 1100);
	/* 7 and 9, refused */
	assert_int_equal(rec.ex[1].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[2].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[1].end_ns, 1200);
	expect_http(3, SG_ROLE_SERVER, "GET", "/x", 200, 1000, 1300, 0, 0);
	expect_http(4, SG_ROLE_SERVER, "GET", "/x", 200, 1000, 1300, 0, 0);
	assert_int_equal(rec.ex[5].flags, SG_EX_TIMED_OUT);
	assert_string_equal(rec.ex[5].target, "/late");
	assert_true(http2_ops.idle(&conn));
}

/* SETTINGS_HEADER_TABLE_SIZE of the receiving side, on the right
 * decoder, a lower one once acknowledged; SETTINGS_MAX_FRAME_SIZE. */
static void
test_settings(void **state)
{
	struct hpack_table_info ti;
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_SERVER);
	/* the client takes 256: it bounds the server's encoder, whose
	 * blocks the server writes */
	w_magic(&w);
	w_settings(&w, 2, 0x1u, 256u, 0x5u, 65536u);
	feed(R, 10, &w);
	hpack_table_info(&conn.side[W].dec, &ti);
	assert_int_equal(ti.settings_max, 4096);
	assert_int_equal(conn.side[W].max_frame, 65536);
	assert_int_equal(conn.side[R].max_frame, 16384);
	/* the server sends its own, then acknowledges */
	w_settings(&w, 1, 0x1u, 8192u);
	w_settings_ack(&w);
	feed(W, 20, &w);
	hpack_table_info(&conn.side[W].dec, &ti);
	assert_int_equal(ti.settings_max, 256);
	/* a higher one applies at once, as a bound */
	hpack_table_info(&conn.side[R].dec, &ti);
	assert_int_equal(ti.settings_max, 8192);
	w_settings_ack(&w);
	feed(R, 30, &w);

	/* the server's encoder uses the room it has */
	hb_request(&h, "GET", "/s", NULL);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 40, &w);
	h.n = 0;
	hb_size_update(&h, 256);
	hb_lit(&h, L_INDEXED, S_STATUS_200, NULL, "202", false);
	w_headers(&w, 1, EH | ES, &h);
	w_frame(&w, T_DATA, 0, 0, NULL, 0);	/* never: stream 0 */
	feed(W, 50, &w);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "GET", "/s", 202, 40, 50, 0, 0);
	/* the bad frame lost the framing: the rest of the write */
	assert_int_equal(counters().unparsed, 9);
}

/* A size update above the limit is an error: the table is lost, the
 * fields after it unknown. */
static void
test_size_update_over_limit(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 1, 0x1u, 0u);
	feed(R, 10, &w);
	w_settings(&w, 0);
	w_settings_ack(&w);
	feed(W, 20, &w);
	hb_request(&h, "GET", "/s", NULL);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 30, &w);
	h.n = 0;
	hb_size_update(&h, 100);
	hb_indexed(&h, S_STATUS_200);
	w_headers(&w, 1, EH | ES, &h);
	feed(W, 40, &w);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].flags, SG_EX_STATUS_UNKNOWN);
	assert_int_equal(counters().unknown, 1);
}

/*
 * Frames longer than the capture: their payload is skipped by counting,
 * so the counts are exact; a header block cut by the capture is not
 * decoded, its request still counted, its fields unknown.
 */
static void
test_capture_short(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	size_t caps[] = { 256, 128, 64 };
	size_t i;

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "POST", "/upload", "application/octet-stream");
	w_headers(&w, 1, EH, &h);
	sc_add(R, 1000, &w);
	w_data(&w, 1, 0, 16384);
	sc_add(R, 1100, &w);
	w_data(&w, 1, 0, 10000);
	sc_add(R, 1200, &w);
	w_data(&w, 1, ES, 3000);
	sc_add(R, 1300, &w);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 1, EH, &h);
	sc_add(W, 1400, &w);
	w_data(&w, 1, 0, 5000);
	sc_add(W, 1500, &w);
	w_data(&w, 1, ES, 1000);
	sc_add(W, 1600, &w);

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		sc_run(SG_ROLE_SERVER, 0, caps[i]);
		assert_int_equal(rec.n, 1);
		expect_http(0, SG_ROLE_SERVER, "POST", "/upload", 200, 1000,
		    1600, 29384, 6000);
		assert_int_equal(counters().unparsed, 0);
	}
	/* the big frames in reads of 1000 bytes, 256 of each captured */
	sc_run(SG_ROLE_SERVER, 1000, 256);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "POST", "/upload", 200, 1000, 1600,
	    29384, 6000);
}

static void
test_block_past_capture(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	char cookie[301];

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	feed(R, 10, &w);
	w_settings(&w, 0);
	feed(W, 20, &w);
	/* a request with a big cookie, indexed: cut at 256 bytes */
	memset(cookie, 'c', 300);
	cookie[300] = '\0';
	hb_request(&h, "GET", "/first", NULL);
	hb_lit(&h, L_INDEXED, 0, "cookie", cookie, false);
	hb_lit(&h, L_INDEXED, S_PATH_ROOT, NULL, "/kept", false);
	w_headers(&w, 1, EH | ES, &h);
	feed_cap(R, 30, w.b, w.n, 256);
	w.n = 0;
	assert_int_equal(conn.blocks_missed, 1);
	/* the next one refers to the /kept entry that was not seen */
	h.n = 0;
	hb_indexed(&h, S_METHOD_GET);
	hb_indexed(&h, 62);
	w_headers(&w, 3, EH | ES, &h);
	/* and one with a new literal, indexed, then referred to */
	h.n = 0;
	hb_lit(&h, L_INDEXED, S_METHOD_GET, NULL, "OPTIONS", false);
	hb_lit(&h, L_INDEXED, S_PATH_ROOT, NULL, "/seen", false);
	w_headers(&w, 5, EH | ES, &h);
	h.n = 0;
	hb_indexed(&h, 63);
	hb_indexed(&h, 62);
	w_headers(&w, 7, EH | ES, &h);
	feed(R, 40, &w);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 1, EH | ES, &h);
	w_headers(&w, 3, EH | ES, &h);
	w_headers(&w, 5, EH | ES, &h);
	w_headers(&w, 7, EH | ES, &h);
	feed(W, 50, &w);
	assert_int_equal(rec.n, 4);
	/* nothing of it is known: not even whether it was gRPC, so not
	 * what its status means */
	assert_int_equal(rec.ex[0].flags, SG_EX_OP_UNKNOWN |
	    SG_EX_TARGET_UNKNOWN | SG_EX_STATUS_UNKNOWN);
	assert_string_equal(rec.ex[0].op, "");
	assert_string_equal(rec.ex[0].target, "");
	assert_int_equal(rec.ex[0].status, 0);
	assert_int_equal(rec.ex[0].start_ns, 30);
	/* a GET is not gRPC: its status is known */
	assert_int_equal(rec.ex[1].flags, SG_EX_TARGET_UNKNOWN);
	assert_string_equal(rec.ex[1].op, "GET");
	assert_int_equal(rec.ex[1].status, 200);
	expect_http(2, SG_ROLE_SERVER, "OPTIONS", "/seen", 200, 40, 50, 0, 0);
	expect_http(3, SG_ROLE_SERVER, "OPTIONS", "/seen", 200, 40, 50, 0, 0);
	assert_int_equal(counters().unknown, 4);
	assert_int_equal(counters().unparsed, 0);
}

/* A block split across reads is kept; one larger than the buffer is
 * not decoded. */
static void
test_block_across_reads(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	char big[1500];
	size_t at, n;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	feed(R, 10, &w);
	hb_request(&h, "GET", "/small", NULL);
	hb_lit(&h, L_PLAIN, 0, "x-pad", "some text to make it longer",
	    false);
	w_headers(&w, 1, EH | ES, &h);
	for (at = 0; at < w.n; at += n) {
		n = w.n - at < 5 ? w.n - at : 5;
		feed_cap(R, 20, w.b + at, n, n);
	}
	w.n = 0;
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	h.n = 0;
	hb_request(&h, "GET", "/big", NULL);
	hb_lit(&h, L_PLAIN, 0, "x-big", big, false);
	w_headers(&w, 3, EH | ES, &h);
	for (at = 0; at < w.n; at += n) {
		n = w.n - at < 500 ? w.n - at : 500;
		feed_cap(R, 30, w.b + at, n, n);
	}
	w.n = 0;
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 1, EH | ES, &h);
	w_headers(&w, 3, EH | ES, &h);
	feed(W, 40, &w);
	assert_int_equal(rec.n, 2);
	expect_http(0, SG_ROLE_SERVER, "GET", "/small", 200, 20, 40, 0, 0);
	assert_int_equal(rec.ex[1].flags, SG_EX_OP_UNKNOWN |
	    SG_EX_TARGET_UNKNOWN | SG_EX_STATUS_UNKNOWN);
	assert_int_equal(conn.blocks_missed, 1);
}

/*
 * The sensor joins a gRPC connection mid-way: no preface, tables with
 * entries from before (the server's holds grpc-status: 0 at index 62,
 * content-type application/grpc at 63).  Fields that refer to them are
 * unknown, never guessed; entries added after the join resolve.
 */
static void
test_joined_grpc(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_UNKNOWN);
	/* a response to a request before the join: stream 1 */
	w_grpc_message(&w, 1, 0, 10);
	w_data(&w, 1, ES, 0);
	feed(W, 5, &w);
	assert_int_equal(counters().unparsed, 0);
	assert_int_equal(http2_ops.role(&conn), SG_ROLE_UNKNOWN);
	grpc_request(&w, 3, "/svc.S/Unary");
	w_grpc_message(&w, 3, ES, 4);
	feed(R, 10, &w);
	assert_int_equal(http2_ops.role(&conn), SG_ROLE_SERVER);
	/* response: content-type and grpc-status by reference */
	hb_indexed(&h, S_STATUS_200);
	hb_indexed(&h, 63);
	w_headers(&w, 3, EH, &h);
	w_grpc_message(&w, 3, 0, 6);
	h.n = 0;
	hb_indexed(&h, 62);
	w_headers(&w, 3, EH | ES, &h);
	feed(W, 20, &w);
	assert_int_equal(rec.n, 1);
	expect_grpc(0, SG_ROLE_SERVER, "/svc.S/Unary", 0,
	    SG_EX_STATUS_UNKNOWN);
	assert_int_equal(rec.ex[0].req_size, 9);
	assert_int_equal(rec.ex[0].resp_size, 11);
	assert_int_equal(counters().unknown, 1);
	/* the response to stream 1 answered a request not seen: not known
	 * as such until the role was, and not counted */
	assert_int_equal(counters().unpaired, 0);

	/* next: the server sends the literal again, indexed (now 62) */
	grpc_request(&w, 5, "/svc.S/Unary");
	w_grpc_message(&w, 5, ES, 4);
	feed(R, 30, &w);
	h.n = 0;
	hb_indexed(&h, S_STATUS_200);
	hb_indexed(&h, 64);	/* content-type, unknown still */
	w_headers(&w, 5, EH, &h);
	h.n = 0;
	hb_lit(&h, L_INDEXED, 0, "grpc-status", "0", true);
	w_headers(&w, 5, EH | ES, &h);
	feed(W, 40, &w);
	assert_int_equal(rec.n, 2);
	expect_grpc(1, SG_ROLE_SERVER, "/svc.S/Unary", 0, 0);

	/* and later refers to it: resolved */
	grpc_request(&w, 7, "/svc.S/Unary");
	w_grpc_message(&w, 7, ES, 4);
	feed(R, 50, &w);
	h.n = 0;
	hb_indexed(&h, S_STATUS_200);
	w_headers(&w, 7, EH, &h);
	h.n = 0;
	hb_indexed(&h, 62);
	w_headers(&w, 7, EH | ES, &h);
	/* a response to a request never seen, now that the role is known */
	w_data(&w, 41, ES, 3);
	feed(W, 60, &w);
	assert_int_equal(rec.n, 3);
	expect_grpc(2, SG_ROLE_SERVER, "/svc.S/Unary", 0, 0);
	assert_int_equal(counters().unpaired, 1);
	assert_int_equal(counters().unknown, 1);
	assert_int_equal(counters().unparsed, 0);

	/* a request whose content-type refers to an entry from before the
	 * join (the client's table): gRPC or not is not known, and its
	 * response does not tell either: no status (an HTTP 200 may be a
	 * gRPC error) */
	h.n = 0;
	hb_indexed(&h, S_METHOD_POST);
	hb_lit(&h, L_PLAIN, S_PATH_ROOT, NULL, "/svc.S/Other", false);
	hb_indexed(&h, 70);
	w_headers(&w, 9, EH, &h);
	w_data(&w, 9, ES, 2);
	w_headers(&w, 11, EH, &h);
	w_grpc_message(&w, 11, ES, 2);
	w_headers(&w, 13, EH, &h);
	w_grpc_message(&w, 13, ES, 2);
	feed(R, 70, &w);
	h.n = 0;
	hb_indexed(&h, S_STATUS_200);
	hb_indexed(&h, 65);
	w_headers(&w, 9, EH, &h);
	w_headers(&w, 11, EH, &h);
	w_headers(&w, 13, EH, &h);
	h.n = 0;
	hb_indexed(&h, 66);
	w_headers(&w, 9, EH | ES, &h);
	/* ... unless it does: a grpc-status read */
	h.n = 0;
	hb_lit(&h, L_PLAIN, 0, "grpc-status", "5", false);
	w_headers(&w, 11, EH | ES, &h);
	/* or its body was one whole length-prefixed message: gRPC, with
	 * its status not known */
	h.n = 0;
	hb_indexed(&h, 66);
	w_headers(&w, 13, EH | ES, &h);
	feed(W, 80, &w);
	assert_int_equal(rec.n, 6);
	assert_int_equal(rec.ex[3].app, SG_APP_HTTP);
	assert_int_equal(rec.ex[3].flags, SG_EX_STATUS_UNKNOWN);
	assert_string_equal(rec.ex[3].op, "POST");
	assert_string_equal(rec.ex[3].target, "/svc.S/Other");
	assert_int_equal(rec.ex[3].status, 0);
	assert_int_equal(rec.ex[3].req_size, 2);
	expect_grpc(4, SG_ROLE_SERVER, "/svc.S/Other", 5, SG_EX_APP_INFERRED);
	expect_grpc(5, SG_ROLE_SERVER, "/svc.S/Other", 0,
	    SG_EX_STATUS_UNKNOWN | SG_EX_APP_INFERRED);
	assert_int_equal(counters().unknown, 3);

	/* the framing alone says nothing of a target that is no gRPC
	 * method */
	h.n = 0;
	hb_indexed(&h, S_METHOD_POST);
	hb_lit(&h, L_PLAIN, S_PATH_ROOT, NULL, "/upload?x=1", false);
	hb_indexed(&h, 70);
	w_headers(&w, 15, EH, &h);
	w_grpc_message(&w, 15, ES, 2);
	feed(R, 90, &w);
	h.n = 0;
	hb_indexed(&h, S_STATUS_200);
	w_headers(&w, 15, EH | ES, &h);
	feed(W, 100, &w);
	assert_int_equal(rec.n, 7);
	assert_int_equal(rec.ex[6].app, SG_APP_HTTP);
	assert_int_equal(rec.ex[6].flags, SG_EX_STATUS_UNKNOWN);
	assert_string_equal(rec.ex[6].target, "/upload");
}

/* Joined mid-way on the client side: reads that start inside a frame
 * are skipped until one starts with frames. */
static void
test_joined_resync(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_UNKNOWN);
	/* the tail of a DATA frame: not frames */
	memset(w.b, 'z', 100);
	w.n = 100;
	feed(R, 10, &w);
	assert_int_equal(counters().unparsed, 100);
	/* a request, written, that first refers to an entry added before
	 * the join: unknown, the fields after it still read */
	hb_indexed(&h, 70);
	hb_request(&h, "GET", "/after", NULL);
	w_headers(&w, 101, EH | ES, &h);
	feed(W, 20, &w);
	assert_int_equal(http2_ops.role(&conn), SG_ROLE_CLIENT);
	/* the response begins a read; it refers to an entry from before
	 * the join first, which does not hide the status after it */
	h.n = 0;
	hb_indexed(&h, 70);
	hb_status(&h, 200);
	w_headers(&w, 101, EH, &h);
	w_data(&w, 101, ES, 12);
	feed(R, 30, &w);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_CLIENT, "GET", "/after", 200, 20, 30, 0, 12);
	assert_int_equal(counters().unparsed, 100);
	assert_int_equal(conn.side[R].dec.counters.errors, 0);
	assert_int_equal(conn.side[R].dec.counters.unknown, 1);
	assert_int_equal(conn.side[W].dec.counters.errors, 0);
	assert_int_equal(conn.side[W].dec.counters.unknown, 1);
}

/* Framing lost in step (a bad frame header) is found again at the start
 * of a later read; the table of that direction is then unknown. */
static void
test_lost_framing(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	static const uint8_t junk[] = "\x00\x00\x05\x02\x00\x00\x00\x00\x00"
	    "xxxxx";

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	hb_lit(&h, L_INDEXED, S_METHOD_GET, NULL, "GET", false);
	hb_lit(&h, L_INDEXED, S_PATH_ROOT, NULL, "/one", false);
	w_headers(&w, 1, EH | ES, &h);
	/* PRIORITY on stream 0: no peer sends it */
	w_bytes(&w, junk, sizeof(junk) - 1);
	h.n = 0;
	hb_request(&h, "GET", "/lost", NULL);
	w_headers(&w, 3, EH | ES, &h);
	feed(R, 10, &w);
	assert_int_equal(counters().unparsed, 14 + 9 + h.n);
	/* the next read starts with a frame: taken */
	h.n = 0;
	hb_indexed(&h, 63);	/* GET, added before the loss: unknown */
	hb_indexed(&h, 62);	/* /one: unknown */
	w_headers(&w, 5, EH | ES, &h);
	h.n = 0;
	hb_request(&h, "GET", "/found", NULL);
	w_headers(&w, 7, EH | ES, &h);
	feed(R, 20, &w);
	h.n = 0;
	w_settings(&w, 0);
	hb_status(&h, 200);
	w_headers(&w, 1, EH | ES, &h);
	w_headers(&w, 3, EH | ES, &h);
	w_headers(&w, 5, EH | ES, &h);
	w_headers(&w, 7, EH | ES, &h);
	feed(W, 30, &w);
	assert_int_equal(rec.n, 3);
	expect_http(0, SG_ROLE_SERVER, "GET", "/one", 200, 10, 30, 0, 0);
	assert_int_equal(rec.ex[1].flags, SG_EX_OP_UNKNOWN |
	    SG_EX_TARGET_UNKNOWN | SG_EX_STATUS_UNKNOWN);
	expect_http(2, SG_ROLE_SERVER, "GET", "/found", 200, 20, 30, 0, 0);
	/* stream 3's response answered a request not seen */
	assert_int_equal(counters().unpaired, 1);
}

/*
 * W3C traceparent in request headers and gRPC metadata.
 */
#define TP_TRACE	"4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_PARENT	"00f067aa0ba902b7"
#define TP_V01		"00-" TP_TRACE "-" TP_PARENT "-01"
#define TP_V00		"00-" TP_TRACE "-" TP_PARENT "-00"

static const uint8_t tp_trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3,
    0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t tp_parent[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9,
    0x02, 0xb7 };

/* Exchange i's SG_EX_TRACE_* flags are want; with a context, the test's. */
static void
expect_tctx(int i, uint8_t want)
{
	static const uint8_t zero[16];
	const struct sg_exchange *ex;
	const uint8_t mask = SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED |
	    SG_EX_TRACE_INVALID;

	assert_true(i < rec.n);
	ex = &rec.ex[i];
	assert_int_equal(ex->flags & mask, want);
	assert_memory_equal(ex->trace_id, want & SG_EX_TRACE_CTX ? tp_trace :
	    zero, 16);
	assert_memory_equal(ex->parent_span_id, want & SG_EX_TRACE_CTX ?
	    tp_parent : zero, 8);
}

static void
h2_tp_answer(struct wire *w, uint32_t stream)
{
	struct hb h = { 0 };

	hb_indexed(&h, S_STATUS_200);
	w_headers(w, stream, EH | ES, &h);
}

static void
test_traceparent(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	/* a literal, Huffman-coded, indexed: dynamic entry 62 */
	hb_request(&h, "GET", "/a", NULL);
	hb_lit(&h, L_INDEXED, 0, "traceparent", TP_V01, true);
	w_headers(&w, 1, EH | ES, &h);
	sc_add(R, 1000, &w);
	h2_tp_answer(&w, 1);
	sc_add(W, 1100, &w);
	/* its name by reference, another value: 62 now, the first 63 */
	h.n = 0;
	hb_request(&h, "GET", "/b", NULL);
	hb_lit(&h, L_INDEXED, 62, NULL, TP_V00, false);
	w_headers(&w, 3, EH | ES, &h);
	sc_add(R, 2000, &w);
	h2_tp_answer(&w, 3);
	sc_add(W, 2100, &w);
	/* the first one again, all by reference */
	h.n = 0;
	hb_request(&h, "GET", "/c", NULL);
	hb_indexed(&h, 63);
	w_headers(&w, 5, EH | ES, &h);
	sc_add(R, 3000, &w);
	h2_tp_answer(&w, 5);
	sc_add(W, 3100, &w);
	/* upper-case hex: not valid */
	h.n = 0;
	hb_request(&h, "GET", "/d", NULL);
	hb_lit(&h, L_PLAIN, 0, "traceparent", "00-4BF92F3577B34DA6A3CE929D"
	    "0E0E4736-" TP_PARENT "-01", false);
	w_headers(&w, 7, EH | ES, &h);
	sc_add(R, 4000, &w);
	h2_tp_answer(&w, 7);
	sc_add(W, 4100, &w);
	/* twice: not valid */
	h.n = 0;
	hb_request(&h, "GET", "/e", NULL);
	hb_indexed(&h, 63);
	hb_indexed(&h, 63);
	w_headers(&w, 9, EH | ES, &h);
	sc_add(R, 5000, &w);
	h2_tp_answer(&w, 9);
	sc_add(W, 5100, &w);
	/* gRPC metadata; and none in the response counts */
	h.n = 0;
	hb_indexed(&h, S_METHOD_POST);
	hb_indexed(&h, S_SCHEME_HTTP);
	hb_lit(&h, L_PLAIN, S_PATH_ROOT, NULL, "/helloworld.Greeter/SayHello",
	    false);
	hb_lit(&h, L_PLAIN, S_CONTENT_TYPE, NULL, "application/grpc", false);
	hb_lit(&h, L_NEVER, 0, "traceparent", "cc-" TP_TRACE "-" TP_PARENT
	    "-01-future", false);
	w_headers(&w, 11, EH, &h);
	w_grpc_message(&w, 11, ES, 7);
	sc_add(R, 6000, &w);
	grpc_response_headers(&w, 11);
	w_grpc_message(&w, 11, 0, 13);
	grpc_trailers(&w, 11, "0");
	sc_add(W, 6100, &w);
	/* none: and in a response it is nobody's context */
	h.n = 0;
	hb_request(&h, "GET", "/f", NULL);
	w_headers(&w, 13, EH | ES, &h);
	sc_add(R, 7000, &w);
	h.n = 0;
	hb_indexed(&h, S_STATUS_200);
	hb_lit(&h, L_PLAIN, 0, "traceparent", TP_V01, false);
	w_headers(&w, 13, EH | ES, &h);
	sc_add(W, 7100, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 7);
	expect_tctx(0, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tctx(1, SG_EX_TRACE_CTX);
	expect_tctx(2, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tctx(3, SG_EX_TRACE_INVALID);
	expect_tctx(4, SG_EX_TRACE_INVALID);
	expect_grpc(5, SG_ROLE_SERVER, "/helloworld.Greeter/SayHello", 0,
	    SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tctx(5, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_http(6, SG_ROLE_SERVER, "GET", "/f", 200, 7000, 7100, 0, 0);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(counters().unknown, 0);
}

/* Streams in flight keep their contexts apart, and give them back. */
static void
test_traceparent_concurrent(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint32_t id;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	for (id = 1; id < 2 * HTTP2_MAX_STREAMS; id += 2) {
		h.n = 0;
		hb_request(&h, "GET", "/x", NULL);
		hb_lit(&h, L_PLAIN, 0, "traceparent", id % 4 == 1 ? TP_V01 :
		    TP_V00, false);
		w_headers(&w, id, EH | ES, &h);
	}
	feed(R, 10, &w);
	assert_int_equal(http2_ops.pending(&conn), HTTP2_MAX_STREAMS);
	/* answered newest first */
	for (int i = 0; i < HTTP2_MAX_STREAMS; i++)
		h2_tp_answer(&w, 2 * HTTP2_MAX_STREAMS - 1 - 2 * (uint32_t)i);
	feed(W, 20, &w);
	assert_int_equal(rec.n, HTTP2_MAX_STREAMS);
	for (int i = 0; i < rec.n; i++) {
		id = 2 * HTTP2_MAX_STREAMS - 1 - 2 * (uint32_t)i;
		expect_tctx(i, SG_EX_TRACE_CTX |
		    (id % 4 == 1 ? SG_EX_TRACE_SAMPLED : 0));
	}
	assert_int_equal(conn.names_used, 0);
}

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
		return;
	}
	assert_non_null(ex->tracestate);
	assert_string_equal(ex->tracestate, want);
}

/* W3C tracestate, in request headers and gRPC metadata: kept with a
 * valid traceparent, its fields joined as one list. */
static void
test_tracestate(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/a", NULL);
	hb_lit(&h, L_PLAIN, 0, "tracestate", "congo=t61rcWkgMzE", true);
	hb_lit(&h, L_INDEXED, 0, "traceparent", TP_V01, false);
	hb_lit(&h, L_INDEXED, 0, "tracestate", " rojo=00f067aa0ba902b7 , ",
	    false);
	w_headers(&w, 1, EH | ES, &h);
	sc_add(R, 1000, &w);
	h2_tp_answer(&w, 1);
	sc_add(W, 1100, &w);
	/* without a traceparent: not kept */
	h.n = 0;
	hb_request(&h, "GET", "/b", NULL);
	hb_lit(&h, L_PLAIN, 0, "tracestate", "congo=x", false);
	w_headers(&w, 3, EH | ES, &h);
	sc_add(R, 2000, &w);
	h2_tp_answer(&w, 3);
	sc_add(W, 2100, &w);
	/* not valid: none, counted */
	h.n = 0;
	hb_request(&h, "GET", "/c", NULL);
	hb_indexed(&h, 63);
	hb_lit(&h, L_PLAIN, 0, "tracestate", "Congo=x", false);
	w_headers(&w, 5, EH | ES, &h);
	sc_add(R, 3000, &w);
	h2_tp_answer(&w, 5);
	sc_add(W, 3100, &w);
	/* gRPC metadata, the entry indexed above by reference */
	h.n = 0;
	hb_indexed(&h, S_METHOD_POST);
	hb_indexed(&h, S_SCHEME_HTTP);
	hb_lit(&h, L_PLAIN, S_PATH_ROOT, NULL, "/helloworld.Greeter/SayHello",
	    false);
	hb_lit(&h, L_PLAIN, S_CONTENT_TYPE, NULL, "application/grpc", false);
	hb_indexed(&h, 63);
	hb_indexed(&h, 62);
	w_headers(&w, 7, EH, &h);
	w_grpc_message(&w, 7, ES, 7);
	sc_add(R, 4000, &w);
	grpc_response_headers(&w, 7);
	w_grpc_message(&w, 7, 0, 13);
	grpc_trailers(&w, 7, "0");
	sc_add(W, 4100, &w);

	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 4);
	expect_tctx(0, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tstate(0, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", 0);
	expect_tctx(1, 0);
	expect_tstate(1, NULL, 0);
	expect_tctx(2, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tstate(2, NULL, SG_EX_TSTATE_INVALID);
	expect_tctx(3, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	expect_tstate(3, "rojo=00f067aa0ba902b7", 0);
	assert_int_equal(conn.names_used, 0);
	assert_int_equal(counters().unknown, 0);
}

/* Streams in flight keep their tracestates apart, and give the bytes
 * back whatever order they end in; one that finds no room is cut. */
static void
test_tracestate_concurrent(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	char ts[HTTP2_MAX_STREAMS][200];
	uint32_t id;
	int i;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	for (i = 0; i < HTTP2_MAX_STREAMS; i++) {
		id = 1 + 2 * (uint32_t)i;
		snprintf(ts[i], sizeof(ts[i]), "s%d=%.*s", i, 10 + i * 5,
		    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
		    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
		    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
		h.n = 0;
		hb_request(&h, "GET", "/x", NULL);
		hb_lit(&h, L_PLAIN, 0, "traceparent", TP_V01, false);
		hb_lit(&h, L_PLAIN, 0, "tracestate", ts[i], false);
		w_headers(&w, id, EH | ES, &h);
		feed(R, 10 + (uint64_t)i, &w);
	}
	assert_int_equal(http2_ops.pending(&conn), HTTP2_MAX_STREAMS);
	/* answered middle out: removal moves the names of those after */
	for (i = 0; i < HTTP2_MAX_STREAMS; i++) {
		int k = (i % 2 ? HTTP2_MAX_STREAMS / 2 + i / 2 :
		    HTTP2_MAX_STREAMS / 2 - 1 - i / 2);

		h2_tp_answer(&w, 1 + 2 * (uint32_t)k);
		feed(W, 100 + (uint64_t)i, &w);
		assert_int_equal(rec.n, i + 1);
		expect_tctx(i, SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
		/* names[] holds 2048 bytes: tracestates give way to the
		 * requests, largest first, and are cut */
		if (rec.ex[i].tracestate != NULL)
			expect_tstate(i, ts[k], 0);
		else
			expect_tstate(i, NULL, SG_EX_TSTATE_CUT);
	}
	i = 0;
	for (int j = 0; j < rec.n; j++)
		i += rec.ex[j].tracestate != NULL;
	assert_true(i > HTTP2_MAX_STREAMS / 2);
	assert_true(i < HTTP2_MAX_STREAMS);
	assert_int_equal(counters().dropped, 0);
	assert_int_equal(conn.names_used, 0);
}

/* The context of the HTTP/1.1 request that asked for h2c goes on. */
static void
test_traceparent_h2c(void **state)
{
	struct sg_handoff ho = { .proto = SG_PROTO_HTTP2, .start_ns = 100,
	    .trace_flags = SG_EX_TRACE_CTX };
	struct wire w = { 0 };

	(void)state;
	snprintf(ho.op, sizeof(ho.op), "GET");
	snprintf(ho.target, sizeof(ho.target), "/up");
	memcpy(ho.trace_id, tp_trace, 16);
	memcpy(ho.parent_span_id, tp_parent, 8);
	start(SG_ROLE_SERVER);
	http2_ops.adopt(&conn, SG_ROLE_SERVER, &ho);
	h2_tp_answer(&w, 1);
	feed(W, 200, &w);
	assert_int_equal(rec.n, 1);
	expect_tctx(0, SG_EX_TRACE_CTX);
	ho.trace_flags = SG_EX_TRACE_INVALID;
	start(SG_ROLE_SERVER);
	http2_ops.adopt(&conn, SG_ROLE_SERVER, &ho);
	h2_tp_answer(&w, 1);
	feed(W, 200, &w);
	assert_int_equal(rec.n, 1);
	expect_tctx(0, SG_EX_TRACE_INVALID);
}

/* What HTTP/1.1's parser hands over after Upgrade: h2c. */
static void
upgraded(uint8_t role, uint64_t start_ns, const char *method,
    const char *path)
{
	struct sg_handoff h = { .proto = SG_PROTO_HTTP2, .start_ns = start_ns };

	snprintf(h.op, sizeof(h.op), "%s", method);
	snprintf(h.target, sizeof(h.target), "%s", path);
	http2_ops.adopt(&conn, role, &h);
}

/* Upgrade from HTTP/1.1 (Upgrade: h2c, 101): the request is stream 1. */
static void
test_h2c_upgrade(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	w_magic(&w);
	w_settings(&w, 0);
	sc_add(R, 200, &w);
	w_settings(&w, 1, 0x3u, 100u);
	sc_add(W, 210, &w);
	w_settings_ack(&w);
	sc_add(R, 220, &w);
	w_settings_ack(&w);
	hb_lit(&h, L_INDEXED, S_STATUS_200, NULL, "200", false);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, ES, 42);
	sc_add(W, 230, &w);
	/* a second request, on HTTP/2 from the start */
	h.n = 0;
	hb_request(&h, "GET", "/next", NULL);
	w_headers(&w, 3, EH | ES, &h);
	sc_add(R, 300, &w);
	h.n = 0;
	hb_indexed(&h, 62);
	w_headers(&w, 3, EH | ES, &h);
	sc_add(W, 310, &w);

	start(SG_ROLE_SERVER);
	upgraded(SG_ROLE_SERVER, 100, "GET", "/up?x=1");
	assert_int_equal(http2_ops.pending(&conn), 1);
	for (int i = 0; i < sc.n; i++)
		feed_cap(sc.step[i].dir, sc.step[i].ts,
		    sc.mem + sc.step[i].at, sc.step[i].n, sc.step[i].n);
	assert_int_equal(rec.n, 2);
	expect_http(0, SG_ROLE_SERVER, "GET", "/up", 200, 100, 230, 0, 42);
	expect_http(1, SG_ROLE_SERVER, "GET", "/next", 200, 300, 310, 0, 0);
	assert_int_equal(counters().unknown, 0);
	assert_int_equal(counters().unparsed, 0);

	/* the client's side of it */
	start(SG_ROLE_CLIENT);
	upgraded(SG_ROLE_CLIENT, 100, "GET", "/up");
	for (int i = 0; i < sc.n; i++)
		feed_cap(!sc.step[i].dir, sc.step[i].ts,
		    sc.mem + sc.step[i].at, sc.step[i].n, sc.step[i].n);
	assert_int_equal(rec.n, 2);
	expect_http(0, SG_ROLE_CLIENT, "GET", "/up", 200, 100, 230, 0, 42);
	expect_http(1, SG_ROLE_CLIENT, "GET", "/next", 200, 300, 310, 0, 0);
}

/* Stream ids: a block for an older id is trailers, unless it has a
 * :method; a block without one is no request. */
static void
test_stream_ids(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	hb_request(&h, "GET", "/seven", NULL);
	w_headers(&w, 7, EH | ES, &h);
	/* trailers of stream 1, long gone */
	h.n = 0;
	hb_lit(&h, L_PLAIN, 0, "x-checksum", "abc", false);
	w_headers(&w, 1, EH | ES, &h);
	/* a request on an older id: against the RFC, still a request */
	h.n = 0;
	hb_request(&h, "GET", "/three", NULL);
	w_headers(&w, 3, EH | ES, &h);
	/* a new id without :method, all of it read: no request */
	h.n = 0;
	hb_lit(&h, L_PLAIN, 0, "x-only", "1", false);
	w_headers(&w, 9, EH | ES, &h);
	feed(R, 10, &w);
	assert_int_equal(http2_ops.pending(&conn), 2);
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 3, EH | ES, &h);
	w_headers(&w, 7, EH | ES, &h);
	w_headers(&w, 9, EH | ES, &h);
	feed(W, 20, &w);
	assert_int_equal(rec.n, 2);
	expect_http(0, SG_ROLE_SERVER, "GET", "/three", 200, 10, 20, 0, 0);
	expect_http(1, SG_ROLE_SERVER, "GET", "/seven", 200, 10, 20, 0, 0);
	assert_int_equal(counters().unpaired, 1);
}

/* PUSH_PROMISE: its block changes the server's table (decoded), the
 * pushed stream is no exchange; PRIORITY frames are passed over. */
static void
test_push_promise(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint8_t p[256];
	static const uint8_t prio[5] = { 0, 0, 0, 1, 16 };

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "GET", "/page", NULL);
	w_headers(&w, 1, EH | ES, &h);
	w_frame(&w, T_PRIORITY, 0, 1, prio, sizeof(prio));
	sc_add(R, 1000, &w);
	/* promised stream 2, the request's fields added to the table;
	 * padded */
	h.n = 0;
	hb_indexed(&h, S_METHOD_GET);
	hb_lit(&h, L_INDEXED, S_PATH_ROOT, NULL, "/style.css", false);
	hb_lit(&h, L_INDEXED, S_STATUS_200, NULL, "203", false);
	p[0] = 3;
	p[1] = p[2] = p[3] = 0;
	p[4] = 2;
	memcpy(p + 5, h.b, h.n);
	memset(p + 5 + h.n, 0, 3);
	w_frame(&w, T_PUSH, F_PADDED | EH, 1, p, 5 + h.n + 3);
	/* the page's response refers to the entry the promise added */
	h.n = 0;
	hb_indexed(&h, 62);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, ES, 20);
	/* the pushed response */
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 2, EH, &h);
	w_data(&w, 2, ES, 30);
	sc_add(W, 1100, &w);
	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "GET", "/page", 203, 1000, 1100, 0,
	    20);
	assert_int_equal(counters().unpaired, 0);
	assert_int_equal(counters().unknown, 0);
}

/* 1xx responses before the final one. */
static void
test_informational(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	sc_reset();
	sc_prefaces();
	hb_request(&h, "POST", "/big", NULL);
	hb_lit(&h, L_PLAIN, 0, "expect", "100-continue", false);
	w_headers(&w, 1, EH, &h);
	sc_add(R, 1000, &w);
	h.n = 0;
	hb_status(&h, 100);
	w_headers(&w, 1, EH, &h);
	sc_add(W, 1010, &w);
	w_data(&w, 1, ES, 30);
	sc_add(R, 1020, &w);
	h.n = 0;
	hb_status(&h, 103);
	hb_lit(&h, L_PLAIN, 0, "link", "</s.css>; rel=preload", false);
	w_headers(&w, 1, EH, &h);
	h.n = 0;
	hb_status(&h, 201);
	w_headers(&w, 1, EH, &h);
	w_data(&w, 1, ES, 2);
	sc_add(W, 1030, &w);
	sc_check_splits(SG_ROLE_SERVER);
	assert_int_equal(rec.n, 1);
	expect_http(0, SG_ROLE_SERVER, "POST", "/big", 201, 1000, 1030, 30,
	    2);
}

/* More requests in flight than the table holds: dropped, counted, and
 * their responses not counted again as unpaired. */
static void
test_dropped(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };
	char path[300];
	uint32_t id;
	int i;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	feed(R, 10, &w);
	for (id = 1; id <= 2 * (HTTP2_MAX_STREAMS + 5); id += 2) {
		h.n = 0;
		hb_request(&h, "GET", "/d", NULL);
		w_headers(&w, id, EH | ES, &h);
	}
	feed(R, 20, &w);
	assert_int_equal(http2_ops.pending(&conn), HTTP2_MAX_STREAMS);
	assert_int_equal(counters().dropped, 5);
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	for (id = 1; id <= 2 * (HTTP2_MAX_STREAMS + 5); id += 2)
		w_headers(&w, id, EH | ES, &h);
	feed(W, 30, &w);
	assert_int_equal(rec.n, HTTP2_MAX_STREAMS);
	assert_int_equal(counters().unpaired, 0);
	assert_true(http2_ops.idle(&conn));

	/* the names area: long paths fill it first */
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	feed(R, 10, &w);
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[299] = '\0';
	for (i = 0, id = 1; i < 10; i++, id += 2) {
		h.n = 0;
		hb_request(&h, "GET", path, NULL);
		w_headers(&w, id, EH | ES, &h);
	}
	feed(R, 20, &w);
	/* 255 + 3 bytes each */
	assert_int_equal(http2_ops.pending(&conn), HTTP2_NAMES_LEN / 258);
	assert_int_equal(counters().dropped, 10 - HTTP2_NAMES_LEN / 258);
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 3, EH | ES, &h);
	feed(W, 30, &w);
	assert_int_equal(rec.n, 1);
	assert_int_equal(strlen(rec.ex[0].target), SG_PATH_MAX - 1);
	/* room again */
	h.n = 0;
	hb_request(&h, "GET", "/short", NULL);
	w_headers(&w, 21, EH | ES, &h);
	feed(R, 40, &w);
	assert_int_equal(http2_ops.pending(&conn), HTTP2_NAMES_LEN / 258);
	h.n = 0;
	hb_status(&h, 200);
	w_headers(&w, 21, EH | ES, &h);
	w_headers(&w, 1, EH | ES, &h);
	feed(W, 50, &w);
	assert_int_equal(rec.n, 3);
	expect_http(1, SG_ROLE_SERVER, "GET", "/short", 200, 40, 50, 0, 0);
	assert_int_equal(strlen(rec.ex[2].target), SG_PATH_MAX - 1);
}

/* Each application's own timeout: a gRPC call may wait as long as its
 * connection lives (0), an HTTP request on the same connection not. */
static void
test_expire_per_app(void **state)
{
	static const struct sg_timeouts to = { .ns = {
		[SG_APP_HTTP] = TIMEOUT, [SG_APP_GRPC] = 0 } };
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint64_t s = 1000000000ULL;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	grpc_request(&w, 1, "/svc.S/Watch");
	w_grpc_message(&w, 1, ES, 4);
	hb_request(&h, "GET", "/slow", NULL);
	w_headers(&w, 3, EH | ES, &h);
	feed(R, 1 * s, &w);
	assert_int_equal(http2_ops.expire(&conn, 3600 * s, &to, rec_emit,
	    &rec), 1);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].app, SG_APP_HTTP);
	assert_int_equal(rec.ex[0].flags, SG_EX_TIMED_OUT);
	assert_int_equal(http2_ops.pending(&conn), 1);
	http2_ops.on_close(&conn, 3601 * s, rec_emit, &rec);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.ex[1].app, SG_APP_GRPC);
	assert_int_equal(rec.ex[1].flags, SG_EX_TIMED_OUT);
}

/* expire() ends streams with no frame for longer than the timeout; a
 * response still flowing does not; on_close() ends the rest. */
static void
test_expire_and_close(void **state)
{
	static const struct sg_timeouts both = { .ns = {
		[SG_APP_HTTP] = TIMEOUT, [SG_APP_GRPC] = TIMEOUT } };
	struct wire w = { 0 };
	struct hb h = { 0 };
	uint64_t s = 1000000000ULL;

	(void)state;
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	hb_request(&h, "GET", "/slow", NULL);
	w_headers(&w, 1, EH | ES, &h);
	w_headers(&w, 3, EH | ES, &h);
	w_headers(&w, 5, EH | ES, &h);
	feed(R, 1 * s, &w);
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 3, EH, &h);
	feed(W, 2 * s, &w);
	w_data(&w, 3, 0, 10);
	feed(W, 20 * s, &w);
	assert_int_equal(http2_ops.expire(&conn, 25 * s, &both, rec_emit,
	    &rec), 0);
	assert_int_equal(http2_ops.expire(&conn, 40 * s, &both, rec_emit,
	    &rec), 2);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.ex[0].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[0].end_ns, 40 * s);
	assert_int_equal(rec.ex[1].flags, SG_EX_TIMED_OUT);
	assert_int_equal(http2_ops.pending(&conn), 1);
	http2_ops.on_close(&conn, 41 * s, rec_emit, &rec);
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.ex[2].flags, SG_EX_TIMED_OUT);
	assert_int_equal(rec.ex[2].resp_size, 10);
	assert_true(http2_ops.idle(&conn));
	/* a late response to an expired stream: unpaired */
	start(SG_ROLE_SERVER);
	w_magic(&w);
	w_settings(&w, 0);
	h.n = 0;
	hb_request(&h, "GET", "/slow", NULL);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 1 * s, &w);
	assert_int_equal(http2_ops.expire(&conn, 40 * s, &both, rec_emit,
	    &rec), 1);
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 1, EH | ES, &h);
	feed(W, 41 * s, &w);
	assert_int_equal(counters().unpaired, 1);
}

static enum sg_sniff
sniff_str(const char *s)
{
	return http2_ops.sniff((const uint8_t *)s, strlen(s), R, 0);
}

static void
test_sniff(void **state)
{
	static const uint8_t tls_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00,
	    0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
	static const uint8_t tls_data[] = { 0x17, 0x03, 0x03, 0x00, 0x20,
	    0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	assert_int_equal(sniff_str(HTTP2_PREFACE), SG_SNIFF_YES);
	assert_int_equal(sniff_str(HTTP2_PREFACE "\x00\x00\x00\x04"),
	    SG_SNIFF_YES);
	assert_int_equal(sniff_str("PRI * HTTP/2"), SG_SNIFF_MAYBE);
	assert_int_equal(sniff_str("P"), SG_SNIFF_MAYBE);
	assert_int_equal(http2_ops.sniff((const uint8_t *)"", 0, R, 0),
	    SG_SNIFF_MAYBE);
	assert_int_equal(sniff_str("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    SG_SNIFF_NO);
	assert_int_equal(sniff_str("HTTP/1.1 200 OK\r\n"), SG_SNIFF_NO);
	assert_int_equal(sniff_str("PRI * HTTP/1.1\r\n"), SG_SNIFF_NO);
	assert_int_equal(http2_ops.sniff(tls_hello, sizeof(tls_hello), W, 0),
	    SG_SNIFF_NO);
	assert_int_equal(http2_ops.sniff(tls_data, sizeof(tls_data), R, 0),
	    SG_SNIFF_NO);
	/* mid-connection: a chain of frames */
	hb_request(&h, "GET", "/", NULL);
	w_headers(&w, 7, EH, &h);
	w_data(&w, 7, ES, 3);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_YES);
	/* the first frame and part of the second */
	assert_int_equal(http2_ops.sniff(w.b, 9 + h.n + 4, R, 0),
	    SG_SNIFF_MAYBE);
	assert_int_equal(http2_ops.sniff(w.b, 9 + h.n + 9, R, 0),
	    SG_SNIFF_YES);
	assert_int_equal(http2_ops.sniff(w.b, 5, R, 0), SG_SNIFF_MAYBE);
	/* one whole frame: a WINDOW_UPDATE alone */
	w.n = 0;
	w_window_update(&w, 0, 65535);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_YES);
	/* ... with an increment of 0, which no peer sends */
	w.n = 0;
	w_window_update(&w, 0, 0);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	/* CONTINUATION with no HEADERS before it */
	w.n = 0;
	w_frame(&w, T_CONT, EH, 1, h.b, h.n);
	w_ping(&w, 0);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	/* HEADERS on stream 0; an undefined flag; the reserved bit */
	w.n = 0;
	w_frame(&w, T_HEADERS, EH, 0, h.b, h.n);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	w.n = 0;
	w_frame(&w, T_DATA, 0x40, 1, h.b, h.n);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	w.n = 0;
	w_frame(&w, T_DATA, 0, 1, h.b, h.n);
	w.b[5] |= 0x80;
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	/* a DATA frame longer than 16384 */
	w.n = 0;
	w_frame(&w, T_DATA, 0, 1, NULL, 0);
	w.b[0] = 1;
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
	/* a frame type no peer sends */
	w.n = 0;
	w_frame(&w, 0x20, 0, 0, NULL, 0);
	assert_int_equal(http2_ops.sniff(w.b, w.n, R, 0), SG_SNIFF_NO);
}

/* Bytes the parser never trusts: zero-length reads, no data, nonsense
 * directions, huge lengths past the capture. */
static void
test_robustness(void **state)
{
	struct wire w = { 0 };
	struct hb h = { 0 };

	(void)state;
	start(SG_ROLE_SERVER);
	http2_ops.on_data(&conn, 7, 1, 10, (const uint8_t *)"x", 1, NULL,
	    rec_emit, &rec);
	http2_ops.on_data(&conn, R, 1, 0, NULL, 0, NULL, rec_emit, &rec);
	w_magic(&w);
	w_settings(&w, 0);
	feed(R, 10, &w);
	/* a read seen not at all: the frame headers in it are lost */
	http2_ops.on_data(&conn, R, 20, 1000, NULL, 0, NULL, rec_emit, &rec);
	assert_int_equal(counters().unparsed, 1000);
	hb_request(&h, "GET", "/ok", NULL);
	w_headers(&w, 1, EH | ES, &h);
	feed(R, 30, &w);
	/* a response whose DATA claims 16 MB, of which little comes */
	h.n = 0;
	hb_status(&h, 200);
	w_settings(&w, 0);
	w_headers(&w, 1, EH, &h);
	feed(W, 40, &w);
	assert_int_equal(conn.side[W].max_frame, 16384);
	http2_ops.on_data(&conn, W, 50, (uint64_t)1 << 40,
	    (const uint8_t *)"\x00\x40\x00\x00\x01\x00\x00\x00\x01", 9, NULL,
	    rec_emit, &rec);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.ex[0].resp_size, 16384);
	/* what followed the frame is past the capture: lost */
	assert_int_equal(counters().unparsed, 1000 + ((uint64_t)1 << 40) -
	    9 - 16384);
}

/*
 * Recordings of real peers (tests/data/http2/README): replayed as the
 * server's reads and writes, as the client's, and with the role not
 * known; with every byte captured they give exactly what the peers
 * reported, with 256 bytes what NAME.expect says.
 */
#define EXPECT_MAX	16

struct expect {
	uint8_t  app;
	char     op[SG_METHOD_MAX];
	char     target[SG_PATH_MAX];
	uint32_t status;
	int      count;
};

struct expectations {
	int           n;
	struct expect e[EXPECT_MAX];
	int           total;
	uint64_t      cap_exchanges;
	uint64_t      cap_dropped;
	uint64_t      cap_unparsed;
	uint64_t      cap_unknown;
};

static const char *
data_dir(void)
{
	static char dir[512];
	const char *top = getenv("top_srcdir");

	snprintf(dir, sizeof(dir), "%s/tests/data/http2", top != NULL ? top :
	    "..");
	return dir;
}

/* NAME.rec into the script: the client's bytes are reads (dir R) */
static void
load_recording(const char *name)
{
	static uint8_t buf[SCRIPT_MEM];
	struct wire *w = malloc(sizeof(*w));
	char path[600];
	size_t n, at = 0, len;
	uint64_t ts = 1000;
	FILE *f;

	assert_non_null(w);
	snprintf(path, sizeof(path), "%s/%s.rec", data_dir(), name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("%s: cannot open (top_srcdir?)", path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	sc_reset();
	w->n = 0;
	while (at + 5 <= n) {
		len = (size_t)buf[at + 1] << 24 | (size_t)buf[at + 2] << 16 |
		    (size_t)buf[at + 3] << 8 | buf[at + 4];
		assert_true(len <= n - at - 5 && len <= sizeof(w->b));
		assert_true(buf[at] == 'C' || buf[at] == 'S');
		memcpy(w->b, buf + at + 5, len);
		w->n = len;
		sc_add(buf[at] == 'C' ? R : W, ts += 1000, w);
		at += 5 + len;
	}
	assert_int_equal(at, n);
	free(w);
}

static void
load_expectations(const char *name, struct expectations *x)
{
	char path[600], line[512], app[8], op[SG_METHOD_MAX];
	struct expect *e;
	FILE *f;

	memset(x, 0, sizeof(*x));
	snprintf(path, sizeof(path), "%s/%s.expect", data_dir(), name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (strncmp(line, "cap256 ", 7) == 0) {
			assert_int_equal(sscanf(line, "cap256 exchanges %"
			    SCNu64 " dropped %" SCNu64 " unparsed %" SCNu64
			    " unknown %" SCNu64,
			    &x->cap_exchanges, &x->cap_dropped,
			    &x->cap_unparsed, &x->cap_unknown), 4);
			continue;
		}
		assert_true(x->n < EXPECT_MAX);
		e = &x->e[x->n++];
		assert_int_equal(sscanf(line, "exchange %7s %15s %255s %u %d",
		    app, op, e->target, &e->status, &e->count), 5);
		e->app = strcmp(app, "grpc") == 0 ? SG_APP_GRPC : SG_APP_HTTP;
		snprintf(e->op, sizeof(e->op), "%s", strcmp(op, "-") == 0 ?
		    "" : op);
		x->total += e->count;
	}
	fclose(f);
	assert_true(x->n > 0);
}

/* Does the exchange agree with the expected one on what it knows? */
static bool
expect_agrees(const struct sg_exchange *ex, const struct expect *e)
{
	if (ex->flags & SG_EX_TIMED_OUT)
		return false;
	if (!(ex->flags & SG_EX_TARGET_UNKNOWN) &&
	    strcmp(ex->target, e->target) != 0)
		return false;
	if (ex->app != e->app)
		/* gRPC not known as such: no status then */
		return ex->app == SG_APP_HTTP &&
		    (ex->flags & SG_EX_STATUS_UNKNOWN);
	if (!(ex->flags & SG_EX_OP_UNKNOWN) && strcmp(ex->op, e->op) != 0)
		return false;
	return (ex->flags & SG_EX_STATUS_UNKNOWN) || ex->status == e->status;
}

/* Each exchange matches an expected one not yet used; the exact ones
 * first. */
static void
expect_subset(const struct expectations *x, uint8_t role)
{
	int left[EXPECT_MAX], i, j, pass;

	for (j = 0; j < x->n; j++)
		left[j] = x->e[j].count;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < rec.n; i++) {
			const struct sg_exchange *ex = &rec.ex[i];

			assert_int_equal(ex->role, role);
			assert_string_equal(ex->version, "2");
			if ((ex->flags != 0) != pass)
				continue;
			for (j = 0; j < x->n; j++)
				if (left[j] > 0 && expect_agrees(ex, &x->e[j]))
					break;
			if (j == x->n)
				fail_msg("exchange %d (%s %s %u, flags %#x) "
				    "not expected", i, ex->op, ex->target,
				    ex->status, ex->flags);
			left[j]--;
		}
	}
}

static void
replay(uint8_t role, size_t cap)
{
	uint8_t flip = role == SG_ROLE_CLIENT;
	int i;

	start(role);
	for (i = 0; i < sc.n; i++) {
		const struct step *s = &sc.step[i];
		size_t n = cap == 0 || cap > s->n ? s->n : cap;

		/* the client writes what the server reads */
		http2_ops.on_data(&conn, flip ? !s->dir : s->dir, s->ts, s->n,
		    sc.mem + s->at, n, s->n >= SG_TAIL_LEN ?
		    sc.mem + s->at + s->n - SG_TAIL_LEN : NULL, rec_emit, &rec);
	}
}

static void
check_recording(const char *name)
{
	static const uint8_t roles[] = { SG_ROLE_SERVER, SG_ROLE_CLIENT,
	    SG_ROLE_UNKNOWN };
	struct expectations x;
	struct sg_proto_counters c;
	uint8_t role, learnt;
	size_t r;

	load_recording(name);
	load_expectations(name, &x);
	for (r = 0; r < sizeof(roles); r++) {
		role = roles[r];
		/* a process whose role is unknown reads the client's bytes:
		 * it is the server */
		learnt = role == SG_ROLE_UNKNOWN ? SG_ROLE_SERVER : role;

		/* all of it: exactly what the peers reported */
		replay(role, 0);
		assert_int_equal(http2_ops.role(&conn), learnt);
		assert_int_equal(http2_ops.pending(&conn), 0);
		assert_int_equal(rec.n, x.total);
		for (int i = 0; i < rec.n; i++)
			assert_int_equal(rec.ex[i].flags, 0);
		expect_subset(&x, learnt);
		c = counters();
		assert_int_equal(c.unparsed, 0);
		assert_int_equal(c.unpaired, 0);
		assert_int_equal(c.dropped, 0);
		assert_int_equal(c.unknown, 0);
		assert_int_equal(conn.blocks_missed, 0);

		/* 256 bytes of each read */
		replay(role, 256);
		http2_ops.on_close(&conn, UINT64_MAX / 2, rec_emit, &rec);
		assert_int_equal(rec.n, x.cap_exchanges);
		expect_subset(&x, learnt);
		c = counters();
		assert_int_equal(c.dropped, x.cap_dropped);
		assert_int_equal(c.unparsed, x.cap_unparsed);
		assert_int_equal(c.unknown, x.cap_unknown);
		assert_int_equal(c.unpaired, 0);
	}
}

static void
test_recorded_curl(void **state)
{
	(void)state;
	check_recording("curl-get");
	check_recording("curl-404");
	check_recording("curl-post");
}

static void
test_recorded_h2load(void **state)
{
	(void)state;
	check_recording("h2load");
}

static void
test_recorded_grpc(void **state)
{
	(void)state;
	check_recording("grpc-python");
	check_recording("grpc-node");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_size),
		cmocka_unit_test(test_server_get),
		cmocka_unit_test(test_client_post),
		cmocka_unit_test(test_role_from_preface),
		cmocka_unit_test(test_interleaved_streams),
		cmocka_unit_test(test_continuation_padding),
		cmocka_unit_test(test_many_continuations),
		cmocka_unit_test(test_dynamic_table),
		cmocka_unit_test(test_grpc),
		cmocka_unit_test(test_grpc_http_error_and_cancel),
		cmocka_unit_test(test_rst_and_goaway),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_size_update_over_limit),
		cmocka_unit_test(test_capture_short),
		cmocka_unit_test(test_block_past_capture),
		cmocka_unit_test(test_block_across_reads),
		cmocka_unit_test(test_joined_grpc),
		cmocka_unit_test(test_joined_resync),
		cmocka_unit_test(test_lost_framing),
		cmocka_unit_test(test_h2c_upgrade),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_traceparent_concurrent),
		cmocka_unit_test(test_traceparent_h2c),
		cmocka_unit_test(test_tracestate),
		cmocka_unit_test(test_tracestate_concurrent),
		cmocka_unit_test(test_stream_ids),
		cmocka_unit_test(test_push_promise),
		cmocka_unit_test(test_informational),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_expire_and_close),
		cmocka_unit_test(test_expire_per_app),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_robustness),
		cmocka_unit_test(test_recorded_curl),
		cmocka_unit_test(test_recorded_h2load),
		cmocka_unit_test(test_recorded_grpc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
