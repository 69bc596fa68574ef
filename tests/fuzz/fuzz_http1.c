/*
 * Fuzz target for the HTTP/1.x pairing and the connection table (with
 * every parser of the registry, so detection too): both see bytes chosen
 * by whoever talks to the instrumented processes.
 *
 * The first input byte picks the mode; the rest is a script of records.
 *   http1 mode: op, n, n payload bytes: one read or write (with bytes
 *     past the capture and a tail when op asks), an expiry or a close.
 *   conns mode: op, ctl, n, payload: data, connect, close, process and
 *     tick events built from the fields, or raw events passed unchanged.
 * Invariants of the state and of every exchange are checked; a broken one
 * aborts so that the fuzzer reports it.
 *
 * Build with -fsanitize=fuzzer, or with -DSG_FUZZ_STANDALONE for a program
 * that runs the files named on its command line ("-": stdin).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "http1.h"

#define FZ_TIMEOUT	5000
#define FZ_STEP		1000
#define FZ_CONNS	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz_in {
	const uint8_t	*p;
	size_t		 n;
};

static int
fz_byte(struct fz_in *in)
{
	if (in->n == 0)
		return -1;
	in->n--;
	return *in->p++;
}

static const uint8_t *
fz_take(struct fz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

static void
fz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_http1: invariant broken: %s\n", what);
		abort();
	}
}

static int
fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

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
}

/* The pending requests' names are back to back in names[], oldest first,
 * ending at names_end. */
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
		used += p->method_len + p->path_len;
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

static void
fz_conns_emit(void *ctx, const struct sg_conn *c,
    const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check(c != NULL && c->sock != 0, "emit conn");
	fz_check(!(ex->flags & SG_EX_TIMED_OUT), "timed out exchange emitted");
	/* exchanges end while a parser state is attached */
	fz_check(c->state != NULL, "emit without parser state");
	fz_check(ex->app > 0 && ex->app < SG_APP_MAX, "app");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)) &&
	    fz_terminated(ex->target, sizeof(ex->target)), "strings end");
	/* the other parsers' exchanges are checked by their own targets */
	if (c->proto != SG_PROTO_HTTP1)
		return;
	fz_check(ex->status != 0, "HTTP/1 exchange without a status");
	fz_check(ex->role == c->role, "exchange role");
	fz_check_exchange(ex);
	fz_check_conn(c->state);
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

/* Events are handed over in buffers of their exact size so that any read
 * past the end is caught. */
static void
fz_send(struct sg_conns *t, const void *ev, size_t size)
{
	uint8_t *copy;

	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return;
	memcpy(copy, ev, size);
	(void)conns_handle_event(t, copy, size);
	free(copy);
}

static void
fz_conns_data(struct sg_conns *t, int op, int ctl, uint64_t ts,
    const uint8_t *p, size_t n)
{
	static struct sg_data_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_DATA;
	e.hdr.pid = 100 + ((op >> 5) & 1);
	e.hdr.ts_ns = ts;
	e.conn.sock = 1 + ((op >> 3) & 3);
	e.dir = (op >> 6) & 1;
	e.role = (uint8_t)(ctl % 3);
	e.flags = (uint8_t)((ctl >> 2) & 3);
	e.len = (int64_t)n + (int64_t)(ctl >> 4) * 1000;
	if (e.len == 0)
		e.len = 1;
	e.captured = (uint16_t)(n < SG_CAPTURE_MAX ? n : SG_CAPTURE_MAX);
	memcpy(e.data, p, e.captured);
	if (n >= SG_TAIL_LEN)
		memcpy(e.tail, p + n - SG_TAIL_LEN, SG_TAIL_LEN);
	fz_send(t, &e, SG_DATA_EVENT_HDR_SIZE + e.captured);
}

static void
fz_conns_other(struct sg_conns *t, int op, int ctl, uint64_t ts)
{
	struct sg_conn_event ce;
	struct sg_close_event cl;
	struct sg_proc_event pe;

	memset(&ce, 0, sizeof(ce));
	memset(&cl, 0, sizeof(cl));
	memset(&pe, 0, sizeof(pe));
	switch (op & 7) {
	case 3:
		ce.hdr.type = SG_EV_CONN;
		ce.hdr.pid = 100 + ((op >> 5) & 1);
		ce.hdr.ts_ns = ts;
		ce.conn.sock = 1 + ((op >> 3) & 3);
		ce.conn.family = 2;
		ce.role = (uint8_t)(ctl % 3);
		fz_send(t, &ce, sizeof(ce));
		break;
	case 4:
		cl.hdr.type = SG_EV_CLOSE;
		cl.hdr.pid = 100 + ((op >> 5) & 1);
		cl.hdr.ts_ns = ts;
		cl.conn.sock = 1 + ((op >> 3) & 3);
		fz_send(t, &cl, sizeof(cl));
		break;
	case 5:
		pe.hdr.type = SG_EV_EXEC + ctl % 3;
		pe.hdr.pid = 100 + ((op >> 5) & 1);
		pe.hdr.ts_ns = ts;
		fz_send(t, &pe, sizeof(pe));
		break;
	default:
		conns_tick(t, ts + (uint64_t)ctl * FZ_STEP);
		break;
	}
}

static void
fz_conns(struct fz_in *in)
{
	struct sg_conns *t;
	struct sg_conns_stats st;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, ctl, len;

	if ((t = conns_new(FZ_CONNS, FZ_TIMEOUT, fz_conns_emit, NULL)) == NULL)
		return;
	while ((op = fz_byte(in)) >= 0 && (ctl = fz_byte(in)) >= 0 &&
	    (len = fz_byte(in)) >= 0) {
		ts += FZ_STEP;
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			p = fz_take(in, (size_t)len * 4, &n);
			fz_conns_data(t, op, ctl, ts, p, n);
			break;
		case 7:
			p = fz_take(in, (size_t)len << (ctl & 3), &n);
			fz_send(t, p, n);
			break;
		default:
			fz_conns_other(t, op, ctl, ts);
			break;
		}
		conns_stats(t, &st);
		fz_check(st.active <= FZ_CONNS, "active");
	}
	conns_tick(t, ts + 10 * FZ_TIMEOUT);
	conns_stats(t, &st);
	fz_check(st.active <= FZ_CONNS, "active at end");
	conns_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int mode;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	if (mode & 1)
		fz_conns(&in);
	else
		fz_http1(&in, (uint8_t)((mode >> 1) % 3));
	return 0;
}

#ifdef SG_FUZZ_STANDALONE
static int
fz_run_stream(FILE *f, const char *name)
{
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, got;

	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "%s: out of memory\n", name);
				free(buf);
				return -1;
			}
			buf = nbuf;
		}
		if ((got = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += got;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", name);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	FILE *f;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file ... (- for stdin)\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (fz_run_stream(stdin, "stdin") != 0)
				rc = 1;
			continue;
		}
		if ((f = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			rc = 1;
			continue;
		}
		if (fz_run_stream(f, argv[i]) != 0)
			rc = 1;
		fclose(f);
	}
	return rc;
}
#endif
