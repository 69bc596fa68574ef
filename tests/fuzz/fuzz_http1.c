/*
 * Fuzz target for the HTTP/1.x parser and its request/response pairing:
 * it sees bytes chosen by whoever talks to the instrumented processes.
 * (The connection table and detection: fuzz_conns.c.)
 *
 * The first input byte picks the role; the rest is a script of records:
 * op, n, n payload bytes: one read or write (with bytes past the capture
 * and a tail when op asks), an expiry or a close.  Invariants of the
 * state and of every exchange are checked; a broken one aborts so that
 * the fuzzer reports it.
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#define FZ_NAME "fuzz_http1"
#include "http1.h"
#include "fuzz.h"
#include "tracectx.h"

#define FZ_STEP		1000

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	size_t i;

	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(ex->app == SG_APP_HTTP, "app");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)), "method end");
	fz_check(ex->op[0] != '\0', "method empty");
	for (i = 0; ex->op[i] != '\0'; i++)
		fz_check(ex->op[i] >= 'A' && ex->op[i] <= 'Z',
		    "method chars");
	fz_check(fz_terminated(ex->target, sizeof(ex->target)), "path end");
	for (i = 0; ex->target[i] != '\0'; i++)
		fz_check(ex->target[i] > 0x20 && ex->target[i] < 0x7f &&
		    ex->target[i] != '?', "path chars");
	fz_check(ex->version[0] == '1' && ex->version[1] == '.' &&
	    ex->version[3] == '\0', "version");
	fz_check(ex->status == 0 || (ex->status >= 100 && ex->status <= 599),
	    "status range");
	fz_check(((ex->flags & SG_EX_TIMED_OUT) != 0) == (ex->status == 0),
	    "timed_out");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
	fz_check((ex->flags & ~(SG_EX_TIMED_OUT | SG_EX_TRACE_CTX |
	    SG_EX_TRACE_SAMPLED | SG_EX_TRACE_INVALID)) == 0, "flags");
	fz_check_tctx(ex);
}

/* The pending requests' names (and trace contexts) are back to back in
 * names[], oldest first, ending at names_end. */
static void
fz_check_names(const struct http1_conn *c)
{
	const struct http1_pending *p;
	size_t used = 0, at;
	unsigned i;

	fz_check(c->names_used <= HTTP1_NAMES_LEN, "names_used");
	fz_check(c->names_end < HTTP1_NAMES_LEN, "names_end");
	at = (c->names_end + HTTP1_NAMES_LEN - c->names_used) % HTTP1_NAMES_LEN;
	for (i = 0; i < c->npending && i < HTTP1_MAX_PENDING; i++) {
		p = &c->pending[(c->head + i) % HTTP1_MAX_PENDING];
		fz_check(p->names_at == (at + used) % HTTP1_NAMES_LEN,
		    "names order");
		fz_check(p->method_len > 0 && p->method_len < SG_METHOD_MAX,
		    "method_len");
		used += p->method_len + p->path_len +
		    (p->flags & HTTP1_PENDING_TCTX ? TRACECTX_LEN : 0);
		if (p->flags & HTTP1_PENDING_TSTATE) {
			uint8_t b[2];
			uint16_t n;

			b[0] = (uint8_t)c->names[(at + used) % HTTP1_NAMES_LEN];
			b[1] = (uint8_t)c->names[(at + used + 1) %
			    HTTP1_NAMES_LEN];
			memcpy(&n, b, sizeof(n));
			fz_check(n > 0 && n <= TRACESTATE_MAX,
			    "tracestate kept");
			used += sizeof(n) + n;
		}
	}
	fz_check(used == c->names_used, "names used");
}

static void
fz_check_conn(const struct http1_conn *c)
{
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	fz_check(c->npending <= HTTP1_MAX_PENDING, "npending");
	fz_check(c->head < HTTP1_MAX_PENDING, "head");
	fz_check(c->req.hdr_len <= sizeof(c->req.hdr), "req hdr_len");
	fz_check(c->resp.hdr_len <= sizeof(c->resp.hdr), "resp hdr_len");
	fz_check_names(c);
}

static void
fz_http1_emit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check_exchange(ex);
}

/* One read or write: the payload is what was captured; op may add bytes
 * past the capture, and then the last payload bytes serve as the tail. */
static void
fz_http1_data(struct http1_conn *c, int op, uint64_t ts, const uint8_t *p,
    size_t n)
{
	uint64_t extra = (uint64_t)((op >> 3) & 15) *
	    ((op & 0x80) != 0 ? 4096 : 7);
	const uint8_t *tail = NULL;

	if (extra > 0 && n >= SG_TAIL_LEN)
		tail = p + n - SG_TAIL_LEN;
	http1_on_data(c, (op >> 2) & 1, ts, n + extra, n > 0 ? p : NULL, n,
	    tail, fz_http1_emit, NULL);
}

static void
fz_http1(struct fz_in *in, uint8_t role)
{
	struct http1_conn c;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, len;

	http1_conn_init(&c, role);
	while ((op = fz_byte(in)) >= 0 && (len = fz_byte(in)) >= 0) {
		p = fz_take(in, (size_t)len, &n);
		ts += FZ_STEP;
		switch (op & 3) {
		case 2:
			http1_expire(&c, ts, (uint64_t)(op >> 2) * FZ_STEP,
			    fz_http1_emit, NULL);
			break;
		case 3:
			if (op & 4) {
				http1_on_close(&c, ts, fz_http1_emit, NULL);
				break;
			}
			/* FALLTHROUGH */
		default:
			fz_http1_data(&c, op, ts, p, n);
			break;
		}
		fz_check_conn(&c);
		(void)http1_idle(&c);
	}
	http1_on_close(&c, ts + FZ_STEP, fz_http1_emit, NULL);
	fz_check_conn(&c);
	fz_check(http1_idle(&c), "idle after close");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int mode;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	fz_http1(&in, (uint8_t)((mode >> 1) % 3));
	return 0;
}
