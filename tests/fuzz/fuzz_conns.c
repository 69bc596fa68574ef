/*
 * Fuzz target for the connection table with every parser of the
 * registry: detection of a connection's protocol from its first bytes,
 * hand-over between parsers (HTTP/1.1 upgraded to h2c), per-protocol
 * state lists, timeouts, closes and process ends, and malformed events
 * as a compromised or buggy BPF side could write them.  Each parser's
 * own invariants are checked by its own target; here, those of the table
 * and of every exchange it passes on.
 *
 * An input is a script of records: op, ctl, n (two bytes, little-endian),
 * n payload bytes.
 *   op & 7 = 0..2: a read or write of the payload (pid, socket,
 *     direction and thread from op's other bits; from ctl: role % 3, flags in bits
 *     2-4, thousands of bytes past the capture in bits 5-7); 2: the
 *     plaintext of a TLS library (SG_DATA_TLS) on that socket;
 *   3: connect, 4: close, 5: exec/fork/exit, or with ctl's bit 7 a
 *     kernel trace context (SG_EV_TRACE; kind, flags and via from ctl's
 *     other bits), 6: tick (ctl: how late);
 *   7: the payload as a raw event, unchecked.
 *
 * Trace links are drawn (tracelink.h): every span gets a trace and a
 * span id, and no span is its own parent.
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#define FZ_NAME "fuzz_conns"
#include "fuzz.h"
#include "conns.h"
#include "tracelink.h"

#define FZ_TIMEOUT	5000
#define FZ_STEP		1000
#define FZ_CONNS	8

static bool
fz_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
fz_check_ids(const struct sg_conn *c, const struct sg_exchange *ex)
{
	struct tracelink_ids ids;

	tracelink_ids(&c->trace, ex->role, ex, &ids);
	fz_check(!fz_zero(ids.trace_id, 16) && !fz_zero(ids.span_id, 8),
	    "span without ids");
	fz_check(memcmp(ids.span_id, ids.parent_id, 8) != 0,
	    "span its own parent");
	fz_check(tracelink_parent(&c->trace, ex->role, ex) <=
	    SG_PARENT_NOT_SAMPLED, "parent");
}

static void
fz_conns_emit(void *ctx, const struct sg_conn *c,
    const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check(c != NULL && c->sock != 0, "emit conn");
	fz_check(c->proto > SG_PROTO_NONE && c->proto < SG_PROTO_MAX &&
	    proto_ops(c->proto) != NULL, "emit from no parser");
	/* exchanges end while a parser state is attached */
	fz_check(c->state != NULL, "emit without parser state");
	fz_check(!(ex->flags & SG_EX_TIMED_OUT), "timed out exchange emitted");
	fz_check(ex->app > 0 && ex->app < SG_APP_MAX, "app");
	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(ex->role == c->role, "exchange role");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)) &&
	    fz_terminated(ex->target, sizeof(ex->target)) &&
	    fz_terminated(ex->version, sizeof(ex->version)), "strings end");
	if (c->proto == SG_PROTO_HTTP1) {
		fz_check(ex->app == SG_APP_HTTP, "HTTP/1 app");
		fz_check(ex->status >= 100 && ex->status <= 599,
		    "HTTP/1 status");
		fz_check(ex->version[0] == '1' && ex->version[1] == '.',
		    "HTTP/1 version");
	} else if (c->proto == SG_PROTO_HTTP2)
		fz_check(strcmp(ex->version, "2") == 0, "HTTP/2 version");
	else
		fz_check((proto_ops(c->proto)->apps & (1u << ex->app)) != 0,
		    "app of its parser");
	if (ex->app == SG_APP_GRPC)
		fz_check(ex->op[0] == '\0', "gRPC op");
	fz_check_ids(c, ex);
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

/* One of four sockets, at aligned addresses as the kernel's are (an odd
 * one is refused: the table keys TLS plaintext with that bit). */
static uint64_t
fz_sock(int op)
{
	return (uint64_t)(1 + ((op >> 3) & 3)) << 4;
}

static void
fz_data(struct sg_conns *t, int op, int ctl, uint64_t ts, const uint8_t *p,
    size_t n)
{
	static struct sg_data_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_DATA;
	e.hdr.pid = 100 + ((op >> 5) & 1);
	e.hdr.tid = e.hdr.pid + ((op >> 7) & 1);
	e.hdr.ts_ns = ts;
	e.conn.sock = fz_sock(op);
	e.dir = (op >> 6) & 1;
	e.role = (uint8_t)(ctl % 3);
	e.flags = (uint8_t)((ctl >> 2) & 7);	/* SG_DATA_* */
	if ((op & 7) == 2)
		e.flags |= SG_DATA_TLS;
	e.len = (int64_t)n + (int64_t)(ctl >> 5) * 1000;
	if (e.len == 0)
		e.len = 1;
	e.captured = (uint16_t)(n < SG_CAPTURE_MAX ? n : SG_CAPTURE_MAX);
	memcpy(e.data, p, e.captured);
	if (n >= SG_TAIL_LEN)
		memcpy(e.tail, p + n - SG_TAIL_LEN, SG_TAIL_LEN);
	fz_send(t, &e, SG_DATA_EVENT_HDR_SIZE + e.captured);
}

static void
fz_other(struct sg_conns *t, int op, int ctl, uint64_t ts)
{
	struct sg_conn_event ce;
	struct sg_close_event cl;
	struct sg_proc_event pe;
	struct sg_trace_event te;

	memset(&te, 0, sizeof(te));
	memset(&ce, 0, sizeof(ce));
	memset(&cl, 0, sizeof(cl));
	memset(&pe, 0, sizeof(pe));
	switch (op & 7) {
	case 3:
		ce.hdr.type = SG_EV_CONN;
		ce.hdr.pid = 100 + ((op >> 5) & 1);
		ce.hdr.ts_ns = ts;
		ce.conn.sock = fz_sock(op);
		ce.conn.family = 2;
		ce.conn.lport = (uint16_t)(ctl & 1 ? 8080 : 50051);
		ce.role = (uint8_t)(ctl % 3);
		fz_send(t, &ce, sizeof(ce));
		break;
	case 4:
		cl.hdr.type = SG_EV_CLOSE;
		cl.hdr.pid = 100 + ((op >> 5) & 1);
		cl.hdr.ts_ns = ts;
		cl.conn.sock = fz_sock(op);
		fz_send(t, &cl, sizeof(cl));
		break;
	case 5:
		if (ctl & 0x80) {
			te.hdr.type = SG_EV_TRACE;
			te.hdr.pid = 100 + ((op >> 5) & 1);
			te.hdr.tid = te.hdr.pid + ((op >> 7) & 1);
			te.hdr.ts_ns = ts;
			te.conn.sock = fz_sock(op);
			te.kind = (uint8_t)(ctl & 3);
			te.flags = (uint8_t)((ctl >> 2) & 1);
			te.via = (uint8_t)((ctl >> 3) & 3);
			te.data_flags = ctl & 0x20 ? SG_DATA_TLS : 0;
			/* ids that differ with the thread and socket; the
			 * span id zero or not */
			memset(te.trace_id, 0x11 * (1 + (op & 0x38)), 16);
			memset(te.span_id, ctl & 0x40 ? 0x22 : 0, 8);
			fz_send(t, &te, sizeof(te));
			break;
		}
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct sg_conns *t;
	struct tracelink *tl;
	struct sg_conns_stats st;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, ctl, lo, hi;

	if ((t = conns_new(FZ_CONNS, FZ_TIMEOUT, fz_conns_emit, NULL)) == NULL)
		return 0;
	if ((tl = tracelink_new(4, FZ_TIMEOUT)) == NULL) {
		conns_free(t);
		return 0;
	}
	conns_set_tracelink(t, tl);
	/* gRPC calls without a timeout, as by default */
	conns_set_timeout(t, SG_APP_GRPC, 0);
	while ((op = fz_byte(&in)) >= 0 && (ctl = fz_byte(&in)) >= 0 &&
	    (lo = fz_byte(&in)) >= 0 && (hi = fz_byte(&in)) >= 0) {
		p = fz_take(&in, (size_t)(lo | hi << 8), &n);
		ts += FZ_STEP;
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			fz_data(t, op, ctl, ts, p, n);
			break;
		case 7:
			fz_send(t, p, n);
			break;
		default:
			fz_other(t, op, ctl, ts);
			break;
		}
		conns_stats(t, &st);
		fz_check(st.active <= FZ_CONNS, "active");
		fz_check(st.states <= FZ_CONNS * SG_PROTO_MAX, "states");
	}
	conns_tick(t, ts + 10 * FZ_TIMEOUT);
	conns_finish(t);
	conns_stats(t, &st);
	fz_check(st.active <= FZ_CONNS, "active at end");
	conns_free(t);
	tracelink_free(tl);
	return 0;
}
