/*
 * Fuzz target for the HTTP/2 and gRPC parser (collector/protocols/http2.c).
 *
 * The input is a conversation, replayed three times on a new state:
 *   A  each read or write whole, all of it captured;
 *   B  each one in reads of a few bytes, all captured;
 *   C  each one whole, only its first bytes captured (and its tail).
 * Checked after every step: the state's invariants, the exchanges'
 * (strings terminated and printable, flags and apps defined, times in
 * order), counters that never go back.  Then, between the runs:
 *   - B gives what A gives, exchange for exchange, counters alike, when
 *     neither lost the framing and the same header blocks were missed
 *     (read boundaries must not matter);
 *   - what C reports as known, A reports the same, when A lost nothing
 *     and C found frames again only where A had them (a capture cut
 *     short must not make the parser guess).
 * A broken one aborts so that the fuzzer reports it.
 *
 * Input: octet 0 is the setup: bits 0-1 the role (0 unknown, 1 server,
 * 2 client, 3 server after an h2c upgrade), bits 2-4 C's capture, bits
 * 5-7 B's read size.  Then records: op, length (2 octets, big-endian),
 * that many octets (fewer at the end).  op & 0x80: no payload, op & 3:
 * 0 expire (timeout: the length in ms), 1 close, 2 advance the clock
 * by the length in ms, 3 nothing; else a read (op & 1 = 0) or write,
 * captured in C by (op >> 1 & 7) (0: the setup's).
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NAME "fuzz_http2"
#include "http2.h"
#include "fuzz.h"
#include "tracectx.h"

#define FZ_EXCHANGES	4096
#define FZ_STEP_NS	1000
#define FZ_MS		1000000ULL


struct fz_run {
	struct http2_conn	 conn;
	struct sg_exchange	*ex;
	char			(*ts)[TRACESTATE_MAX];	/* ex[i].tracestate */
	size_t			 n;
	struct sg_proto_counters last;
};

/* Phases of struct http2_side (http2.c) the checks need. */
#define FZ_PH_START	0
#define FZ_PH_HEADER	2
#define FZ_PH_FIRST	3
#define FZ_PH_LOST	5

static const size_t fz_caps[8] = { 0, 256, 128, 64, 24, 9, 1, 1024 };
static const size_t fz_pieces[8] = { 1, 2, 3, 5, 9, 17, 64, 1000 };

static struct fz_run run_a, run_b, run_c;
/* per record: a frame starts with it in run A */
static uint8_t *fz_boundary;
/* run C took frames at the start of a record where A had none */
static int fz_missync;

static int
fz_printable(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);
	const char *p;

	if (end == NULL)
		return 0;
	for (p = s; p < end; p++)
		if ((uint8_t)*p <= 0x20 || (uint8_t)*p >= 0x7f)
			return 0;
	return 1;
}

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	fz_check(ex->app == SG_APP_HTTP || ex->app == SG_APP_GRPC, "app");
	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check((ex->flags & ~(SG_EX_TIMED_OUT | SG_EX_STATUS_UNKNOWN |
	    SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN | SG_EX_APP_INFERRED |
	    SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED | SG_EX_TRACE_INVALID)) == 0,
	    "flags");
	fz_check_tctx(ex);
	fz_check(!(ex->flags & SG_EX_APP_INFERRED) || ex->app == SG_APP_GRPC,
	    "inferred gRPC");
	fz_check(!(ex->flags & SG_EX_TIMED_OUT) ||
	    !(ex->flags & SG_EX_STATUS_UNKNOWN), "timed out, status unknown");
	fz_check(fz_printable(ex->op, sizeof(ex->op)), "op");
	fz_check(fz_printable(ex->target, sizeof(ex->target)), "target");
	fz_check(strcmp(ex->version, "2") == 0, "version");
	fz_check(ex->end_ns >= ex->start_ns, "times");
	if (ex->app == SG_APP_GRPC)
		fz_check(ex->op[0] == '\0' && !(ex->flags & SG_EX_OP_UNKNOWN),
		    "gRPC op");
	if (ex->flags & SG_EX_OP_UNKNOWN)
		fz_check(ex->op[0] == '\0', "unknown op has a value");
	if (ex->flags & SG_EX_TARGET_UNKNOWN)
		fz_check(ex->target[0] == '\0', "unknown target has a value");
	if (ex->flags & SG_EX_STATUS_UNKNOWN)
		fz_check(ex->status == 0, "unknown status has a value");
	if (ex->app == SG_APP_HTTP && !(ex->flags & (SG_EX_TIMED_OUT |
	    SG_EX_STATUS_UNKNOWN)))
		fz_check(ex->status >= 200 && ex->status <= 999,
		    "HTTP status");
	if (ex->app == SG_APP_HTTP && (ex->flags & SG_EX_TIMED_OUT))
		fz_check(ex->status == 0, "HTTP timed out with a status");
}

static void
fz_emit(void *ctx, const struct sg_exchange *ex)
{
	struct fz_run *r = ctx;

	fz_check_exchange(ex);
	fz_check(r->n < FZ_EXCHANGES, "too many exchanges");
	r->ex[r->n] = *ex;
	if (ex->tracestate != NULL) {
		memcpy(r->ts[r->n], ex->tracestate, ex->tracestate_len);
		r->ex[r->n].tracestate = r->ts[r->n];
	}
	r->n++;
}

/* Bytes of names[] a stream holds (http2.c's h2_stream_names). */
static size_t
fz_stream_names(const struct http2_conn *c, const struct http2_stream *s)
{
	size_t n = s->method_len + s->path_len +
	    (s->flags & HTTP2_STREAM_TCTX ? TRACECTX_LEN : 0);
	uint16_t ts;

	if (s->flags & HTTP2_STREAM_TSTATE) {
		fz_check((s->flags & HTTP2_STREAM_TCTX) &&
		    s->names_at + n + sizeof(ts) <= c->names_used,
		    "tracestate place");
		memcpy(&ts, c->names + s->names_at + n, sizeof(ts));
		fz_check(ts > 0 && ts <= TRACESTATE_MAX, "tracestate kept");
		n += sizeof(ts) + ts;
	}
	return n;
}

static void
fz_check_state(struct fz_run *r)
{
	const struct http2_conn *c = &r->conn;
	struct sg_proto_counters k;
	size_t names = 0;
	unsigned i, j, d;

	fz_check(c->nstreams <= HTTP2_MAX_STREAMS, "nstreams");
	fz_check(c->ndropped <= HTTP2_DROPPED_IDS, "ndropped");
	fz_check(c->names_used <= HTTP2_NAMES_LEN, "names_used");
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	for (i = 0; i < c->nstreams; i++) {
		const struct http2_stream *s = &c->streams[i];
		size_t n = fz_stream_names(c, s);

		/* path_len is a byte: below SG_PATH_MAX by its type */
		fz_check(s->method_len < SG_METHOD_MAX, "method length");
		fz_check(s->names_at + n <= c->names_used, "names_at");
		fz_check(s->id != 0 && (s->id & 1), "stream id");
		names += n;
		for (j = 0; j < i; j++) {
			const struct http2_stream *t = &c->streams[j];
			size_t tn = fz_stream_names(c, t);

			fz_check(t->id != s->id, "stream twice");
			fz_check(n == 0 || tn == 0 ||
			    s->names_at + n <= t->names_at ||
			    t->names_at + tn <= s->names_at, "names overlap");
		}
	}
	fz_check(names == c->names_used, "names packed");
	for (d = 0; d < 2; d++) {
		const struct http2_side *s = &c->side[d];

		fz_check(s->phase <= 5, "phase");
		fz_check(s->hdr_len < HTTP2_FRAME_HEADER, "hdr_len");
		fz_check(s->blk_len <= HTTP2_BLOCK_MAX, "blk_len");
		fz_check(s->fix_len <= sizeof(s->fix) || s->fix_len == 0xff,
		    "fix_len");
		fz_check(s->left <= s->frame_len, "left");
		fz_check(s->magic_len <= HTTP2_PREFACE_LEN, "magic_len");
		fz_check(s->max_frame >= 16384 && s->max_frame < (1u << 24),
		    "max_frame");
	}
	fz_check(http2_ops.pending(c) == c->nstreams, "pending");
	fz_check(http2_ops.idle(c) == (c->nstreams == 0), "idle");
	http2_ops.counters(c, &k);
	fz_check(k.unparsed >= r->last.unparsed &&
	    k.unpaired >= r->last.unpaired && k.dropped >= r->last.dropped &&
	    k.unknown >= r->last.unknown, "counters went back");
	r->last = k;
}

static void
fz_start(struct fz_run *r, int setup)
{
	static const uint8_t roles[4] = { SG_ROLE_UNKNOWN, SG_ROLE_SERVER,
	    SG_ROLE_CLIENT, SG_ROLE_SERVER };

	memset(&r->last, 0, sizeof(r->last));
	r->n = 0;
	http2_ops.init(&r->conn, roles[setup & 3]);
	if ((setup & 3) == 3) {
		static const struct sg_handoff up = { .proto = SG_PROTO_HTTP2,
		    .op = "GET", .target = "/up?q" };

		http2_ops.adopt(&r->conn, SG_ROLE_SERVER, &up);
	}
	fz_check_state(r);
}

static void
fz_data(struct fz_run *r, uint8_t dir, uint64_t ts, const uint8_t *p,
    size_t n, size_t cap, int check)
{
	const uint8_t *tail = n >= SG_TAIL_LEN ? p + n - SG_TAIL_LEN : NULL;

	/* the bytes past the capture are not given: the fuzzer's heap
	 * checks find any read of them */
	if (cap < n) {
		uint8_t *seen = malloc(cap > 0 ? cap : 1);

		fz_check(seen != NULL, "out of memory");
		memcpy(seen, p, cap);
		http2_ops.on_data(&r->conn, dir, ts, n, cap > 0 ? seen : NULL,
		    cap, tail, fz_emit, r);
		free(seen);
	} else {
		http2_ops.on_data(&r->conn, dir, ts, n, p, n, NULL, fz_emit,
		    r);
	}
	if (check)
		fz_check_state(r);
}

static void
fz_control(struct fz_run *r, int op, unsigned arg, uint64_t *ts)
{
	switch (op & 3) {
	case 0: {
		/* HTTP's timeout from arg; gRPC's none, or the same */
		struct sg_timeouts to = { .ns = { [SG_APP_HTTP] = arg * FZ_MS,
		    [SG_APP_GRPC] = (arg & 1) ? 0 : arg * FZ_MS } };

		(void)http2_ops.expire(&r->conn, *ts, &to, fz_emit, r);
		break;
	}
	case 1:
		http2_ops.on_close(&r->conn, *ts, fz_emit, r);
		fz_check(r->conn.nstreams == 0, "streams after close");
		break;
	case 2:
		*ts += arg * FZ_MS;
		break;
	}
	fz_check_state(r);
}

/* Never HTTP/2 from a text protocol's first bytes (save the preface):
 * a printable first octet makes a frame length of 2 MB or more. */
static void
fz_sniff(const uint8_t *p, size_t n)
{
	enum sg_sniff v = http2_ops.sniff(p, n, SG_DIR_READ, 0);
	size_t k = n < HTTP2_PREFACE_LEN ? n : HTTP2_PREFACE_LEN;

	fz_check(v == SG_SNIFF_NO || v == SG_SNIFF_MAYBE || v == SG_SNIFF_YES,
	    "sniff verdict");
	if (n > 0 && p[0] >= 0x20 && memcmp(p, HTTP2_PREFACE, k) != 0)
		fz_check(v == SG_SNIFF_NO, "sniff takes text");
}

static int
fz_at_boundary(const struct http2_side *s)
{
	return (s->phase == FZ_PH_START || s->phase == FZ_PH_HEADER ||
	    s->phase == FZ_PH_FIRST) && s->hdr_len == 0;
}

/* Run C's read: did it find frames at its start, and was A at a frame
 * boundary there? */
static void
fz_data_c(struct fz_run *r, size_t rec, uint8_t dir, uint64_t ts,
    const uint8_t *p, size_t n, size_t cap)
{
	const struct http2_side *s = &r->conn.side[dir];
	uint64_t unparsed = r->last.unparsed;
	int finding = s->phase == FZ_PH_START || s->phase == FZ_PH_LOST;

	fz_data(r, dir, ts, p, n, cap, 1);
	if (finding && r->last.unparsed - unparsed < n && !fz_boundary[rec])
		fz_missync = 1;
}

/* mode 0: A, 1: B, 2: C */
static void
fz_replay(struct fz_run *r, int mode, const uint8_t *data, size_t size)
{
	size_t at = 1, n, k, piece = fz_pieces[data[0] >> 5 & 7], rec = 0;
	uint64_t ts = FZ_STEP_NS;
	int op;

	fz_start(r, data[0]);
	while (at + 3 <= size) {
		op = data[at];
		n = (size_t)data[at + 1] << 8 | data[at + 2];
		at += 3;
		ts += FZ_STEP_NS;
		if (op & 0x80) {
			fz_control(r, op, (unsigned)n, &ts);
			continue;
		}
		if (n > size - at)
			n = size - at;
		if (mode == 1) {
			/* the state is checked once per record: the checks
			 * cost more than the parsing */
			for (k = 0; k < n; k += piece)
				fz_data(r, op & 1, ts, data + at + k,
				    n - k < piece ? n - k : piece,
				    n - k < piece ? n - k : piece, 0);
			fz_check_state(r);
		} else if (mode == 2) {
			size_t cap = fz_caps[(op >> 1 & 7) != 0 ?
			    (op >> 1 & 7) : (data[0] >> 2 & 7)];

			fz_data_c(r, rec, op & 1, ts, data + at, n,
			    cap == 0 || cap > n ? n : cap);
		} else {
			fz_boundary[rec] = (uint8_t)fz_at_boundary(
			    &r->conn.side[op & 1]);
			fz_sniff(data + at, n);
			fz_data(r, op & 1, ts, data + at, n, n, 1);
		}
		at += n;
		rec++;
	}
}

static int
fz_same_exchange(const struct sg_exchange *a, const struct sg_exchange *b)
{
	return a->app == b->app && a->role == b->role &&
	    a->flags == b->flags && a->start_ns == b->start_ns &&
	    a->end_ns == b->end_ns && strcmp(a->op, b->op) == 0 &&
	    strcmp(a->target, b->target) == 0 && a->status == b->status &&
	    a->req_size == b->req_size && a->resp_size == b->resp_size &&
	    fz_same_tctx(a, b);
}

/* Read boundaries do not matter. */
static void
fz_compare_splits(void)
{
	size_t i;

	if (run_a.last.unparsed != 0 || run_b.last.unparsed != 0 ||
	    run_a.conn.blocks_missed != run_b.conn.blocks_missed)
		return;
	fz_check(run_a.n == run_b.n, "split: exchange count");
	for (i = 0; i < run_a.n; i++)
		fz_check(fz_same_exchange(&run_a.ex[i], &run_b.ex[i]),
		    "split: exchange");
	fz_check(memcmp(&run_a.last, &run_b.last, sizeof(run_a.last)) == 0,
	    "split: counters");
}

/* What c says it knows, a says the same. */
static int
fz_agrees(const struct sg_exchange *c, const struct sg_exchange *a)
{
	if (c->start_ns != a->start_ns || c->end_ns != a->end_ns ||
	    c->role != a->role || (a->flags & SG_EX_TIMED_OUT))
		return 0;
	/* gRPC only when A says so, or told by a body's framing when the
	 * content-type could not be read */
	if (c->app == SG_APP_GRPC && a->app != SG_APP_GRPC &&
	    !(c->flags & SG_EX_APP_INFERRED))
		return 0;
	if (!(c->flags & SG_EX_TARGET_UNKNOWN) &&
	    ((a->flags & SG_EX_TARGET_UNKNOWN) ||
	    strcmp(c->target, a->target) != 0))
		return 0;
	/* a trace context, valid or not, is one A read the same */
	if ((c->flags & (SG_EX_TRACE_CTX | SG_EX_TRACE_INVALID)) &&
	    !fz_same_tctx(c, a))
		return 0;
	if (c->app != a->app)
		/* C could not tell gRPC: it says no status; or it told
		 * gRPC from the framing, and its status is a grpc-status */
		return (c->flags & (SG_EX_STATUS_UNKNOWN |
		    SG_EX_APP_INFERRED)) != 0;
	if (!(c->flags & SG_EX_OP_UNKNOWN) && ((a->flags & SG_EX_OP_UNKNOWN) ||
	    strcmp(c->op, a->op) != 0))
		return 0;
	if (!(c->flags & SG_EX_STATUS_UNKNOWN) && ((a->flags &
	    SG_EX_STATUS_UNKNOWN) || c->status != a->status))
		return 0;
	return 1;
}

/*
 * An exchange of C with no counterpart in A is right only if nothing of
 * its request could be read (A did not take the block as a request), or
 * A ended the stream without a response (a field of a GOAWAY that C did
 * not see).
 */
static void
fz_match(const struct sg_exchange *c, char *used)
{
	size_t i;

	for (i = 0; i < run_a.n; i++) {
		if (used[i] || !fz_agrees(c, &run_a.ex[i]))
			continue;
		used[i] = 1;
		return;
	}
	if ((c->flags & (SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN)) ==
	    (SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN))
		return;
	for (i = 0; i < run_a.n; i++)
		if ((run_a.ex[i].flags & SG_EX_TIMED_OUT) &&
		    run_a.ex[i].start_ns == c->start_ns)
			return;
	fz_check(0, "capture: an exchange says what the whole one does not");
}

/* Exchanges that ended with their response, most known first. */
static void
fz_compare_capture(int setup)
{
	char *used;
	size_t i;
	int pass;

	/*
	 * The same frames where C has frames; all requests kept by A; a
	 * conversation A, which saw it all from its start, found valid: no
	 * frames on streams that had ended (unpaired: C may not have seen
	 * the end, and take them for the stream's), no block refused (C
	 * may not have seen the SETTINGS that made it invalid).
	 */
	if ((setup & 3) == 0 || run_a.last.unparsed != 0 || fz_missync ||
	    run_a.last.dropped != 0 || run_a.last.unpaired != 0 ||
	    run_a.conn.side[0].dec.counters.errors != 0 ||
	    run_a.conn.side[1].dec.counters.errors != 0)
		return;
	used = calloc(run_a.n + 1, 1);
	fz_check(used != NULL, "out of memory");
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < run_c.n; i++) {
			const struct sg_exchange *c = &run_c.ex[i];
			int vague = (c->flags & (SG_EX_OP_UNKNOWN |
			    SG_EX_TARGET_UNKNOWN | SG_EX_STATUS_UNKNOWN)) != 0;

			if ((c->flags & SG_EX_TIMED_OUT) || vague != pass)
				continue;
			fz_match(c, used);
		}
	}
	free(used);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_exchange ex_a[FZ_EXCHANGES], ex_b[FZ_EXCHANGES],
	    ex_c[FZ_EXCHANGES];
	static char ts_a[FZ_EXCHANGES][TRACESTATE_MAX],
	    ts_b[FZ_EXCHANGES][TRACESTATE_MAX],
	    ts_c[FZ_EXCHANGES][TRACESTATE_MAX];

	if (size < 1)
		return 0;
	run_a.ex = ex_a;
	run_b.ex = ex_b;
	run_c.ex = ex_c;
	run_a.ts = ts_a;
	run_b.ts = ts_b;
	run_c.ts = ts_c;
	fz_boundary = calloc(size / 3 + 1, 1);
	fz_check(fz_boundary != NULL, "out of memory");
	fz_missync = 0;
	fz_replay(&run_a, 0, data, size);
	fz_replay(&run_b, 1, data, size);
	fz_replay(&run_c, 2, data, size);
	fz_compare_splits();
	fz_compare_capture(data[0]);
	free(fz_boundary);
	return 0;
}
