/*
 * Trace links: the context table (threads serving requests, bounded),
 * the linking rules (in-process, same host, traceparent first, pipelined
 * requests), sampling that keeps or drops a trace whole, and the same
 * through the connection table with HTTP/1 and Redis bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "conns.h"
#include "events.h"
#include "http1.h"
#include "http2.h"
#include "ids.h"
#include "sampler.h"
#include "spans.h"
#include "tracelink.h"

#define PID	100
#define TID	101
#define MS	1000000ull

static const uint8_t zero8[8];

static struct sg_exchange
exchange(uint8_t role)
{
	struct sg_exchange ex;

	memset(&ex, 0, sizeof(ex));
	ex.app = SG_APP_HTTP;
	ex.role = role;
	ex.status = 200;
	return ex;
}

/* The traceparent "00-<0x11...>-<0x22...>-<flags>" as a parser reports
 * it. */
static uint8_t
header(uint8_t trace_id[16], uint8_t parent_id[8], bool sampled)
{
	memset(trace_id, 0x11, 16);
	memset(parent_id, 0x22, 8);
	return SG_EX_TRACE_CTX | (sampled ? SG_EX_TRACE_SAMPLED : 0);
}

static void
ids_of(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex, struct tracelink_ids *out)
{
	tracelink_ids(ctx, role, ex, out);
}

/* Thread per request: the client call the thread makes while serving
 * is the server span's child; the server span keeps the span id fixed
 * at its start. */
static void
test_thread_per_request(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx srv = { 0 }, cli = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	struct tracelink_ids s, c;
	struct tracelink_stats st;

	(void)state;
	assert_non_null(tl);
	tracelink_server_read(tl, &srv, PID, TID, 1 * MS, 0, NULL, NULL, NULL, NULL);
	assert_int_equal(srv.state, TRACELINK_OPEN);
	assert_int_equal(srv.source, TRACELINK_ROOT);
	tracelink_client_write(tl, &cli, PID, TID, 2 * MS, 1, NULL);
	assert_int_equal(cli.source, TRACELINK_THREAD);

	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c);
	tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
	ids_of(&srv, SG_ROLE_SERVER, &sx, &s);
	tracelink_spent(tl, &srv, PID, SG_ROLE_SERVER, &sx);

	assert_memory_equal(c.trace_id, s.trace_id, 16);
	assert_memory_equal(c.parent_id, s.span_id, 8);
	assert_memory_equal(s.span_id, srv.span_id, 8);
	assert_memory_equal(s.parent_id, zero8, 8);
	assert_memory_not_equal(c.span_id, s.span_id, 8);
	assert_int_equal(tracelink_parent(&cli, SG_ROLE_CLIENT, &cx),
	    SG_PARENT_NONE);

	/* The request ended: a later call of the thread is a root. */
	tracelink_client_write(tl, &cli, PID, TID, 3 * MS, 1, NULL);
	assert_int_equal(cli.source, TRACELINK_ROOT);
	/* another thread, another process: not children */
	tracelink_server_read(tl, &srv, PID, TID, 4 * MS, 0, NULL, NULL, NULL, NULL);
	memset(&cli, 0, sizeof(cli));
	tracelink_client_write(tl, &cli, PID, TID + 1, 5 * MS, 1, NULL);
	assert_int_equal(cli.source, TRACELINK_ROOT);
	memset(&cli, 0, sizeof(cli));
	tracelink_client_write(tl, &cli, PID + 1, TID, 5 * MS, 1, NULL);
	assert_int_equal(cli.source, TRACELINK_ROOT);
	tracelink_stats(tl, &st);
	assert_int_equal(st.thread_links, 1);
	tracelink_free(tl);
}

/* A traceparent: the server span continues it, its client calls too,
 * with its sampled flag for the sampler. */
static void
test_header(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx srv = { 0 }, cli = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	uint8_t tr[16], par[8], f = header(tr, par, false);
	struct tracelink_ids s, c;

	(void)state;
	tracelink_server_read(tl, &srv, PID, TID, MS, f, tr, par, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, MS, 1, NULL);
	sx.flags = f;
	memcpy(sx.trace_id, tr, 16);
	memcpy(sx.parent_span_id, par, 8);
	assert_int_equal(tracelink_parent(&srv, SG_ROLE_SERVER, &sx),
	    SG_PARENT_NOT_SAMPLED);
	assert_int_equal(tracelink_parent(&cli, SG_ROLE_CLIENT, &cx),
	    SG_PARENT_NOT_SAMPLED);
	ids_of(&srv, SG_ROLE_SERVER, &sx, &s);
	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c);
	assert_memory_equal(s.trace_id, tr, 16);
	assert_memory_equal(s.parent_id, par, 8);
	assert_memory_equal(s.span_id, srv.span_id, 8);
	assert_memory_equal(c.trace_id, tr, 16);
	assert_memory_equal(c.parent_id, s.span_id, 8);

	/* The header came in a later read than the request's first: the
	 * context takes it, its span id stays. */
	memset(&srv, 0, sizeof(srv));
	tracelink_server_read(tl, &srv, PID, TID, MS, 0, NULL, NULL, NULL, NULL);
	memcpy(s.span_id, srv.span_id, 8);
	tracelink_server_read(tl, &srv, PID, TID, MS, f, tr, par, NULL, NULL);
	assert_int_equal(srv.source, TRACELINK_HEADER);
	assert_memory_equal(srv.span_id, s.span_id, 8);
	tracelink_free(tl);
}

/* Same host: the callee's server span is the child of the caller's
 * client span; a traceparent would win. */
static void
test_peer(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx callee = { 0 }, caller = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	uint8_t tr[16], par[8], f = header(tr, par, true);
	struct tracelink_ids s, c;
	struct tracelink_stats st;

	(void)state;
	tracelink_client_write(tl, &caller, PID, TID, MS, 1, NULL);
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, 0, NULL, NULL,
	    &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_PEER);
	ids_of(&callee, SG_ROLE_SERVER, &sx, &s);
	ids_of(&caller, SG_ROLE_CLIENT, &cx, &c);
	assert_memory_equal(s.trace_id, c.trace_id, 16);
	assert_memory_equal(s.parent_id, c.span_id, 8);
	tracelink_stats(tl, &st);
	assert_int_equal(st.peer_links, 1);

	/* A caller's span already out is no parent of a new request. */
	tracelink_spent(tl, &caller, PID, SG_ROLE_CLIENT, &cx);
	tracelink_spent(tl, &callee, PID + 1, SG_ROLE_SERVER, &sx);
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, 0, NULL, NULL,
	    &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_ROOT);
	tracelink_spent(tl, &callee, PID + 1, SG_ROLE_SERVER, &sx);

	/* a traceparent of another trace first */
	memset(&caller, 0, sizeof(caller));
	tracelink_client_write(tl, &caller, PID, TID, MS, 1, NULL);
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, f, tr, par,
	    &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_HEADER);
	assert_memory_equal(callee.trace_id, tr, 16);
	tracelink_spent(tl, &callee, PID + 1, SG_ROLE_SERVER, &sx);

	/* one of the caller's own trace (a proxy passing on its caller's):
	 * the caller's client span is the nearer parent, also when the
	 * header shows up in a later read */
	memcpy(tr, caller.trace_id, 16);
	memset(&callee, 0, sizeof(callee));
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, f, tr, par,
	    &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_PEER);
	memset(&callee, 0, sizeof(callee));
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, 0, NULL, NULL,
	    &caller, NULL);
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, f, tr, par,
	    NULL, NULL);
	assert_int_equal(callee.source, TRACELINK_PEER);
	sx.flags = f;
	memcpy(sx.trace_id, tr, 16);
	memcpy(sx.parent_span_id, par, 8);
	ids_of(&callee, SG_ROLE_SERVER, &sx, &s);
	assert_memory_equal(s.parent_id, caller.span_id, 8);
	tracelink_free(tl);
}

/* The callee's read reported before the caller's write (a send's event
 * goes out when the call returns, after the peer may have read): the
 * write, when it comes, still makes the caller's span the parent, also
 * of the callee's thread's own calls from then on. */
static void
test_peer_late_write(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx callee = { 0 }, caller = { 0 }, call = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	uint8_t tr[16], par[8], f = header(tr, par, true);
	struct tracelink_ids s, c;
	struct tracelink_stats st;

	(void)state;
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, MS, 0, NULL, NULL,
	    &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_ROOT);
	assert_true(callee.peer_wait);
	memcpy(s.span_id, callee.span_id, 8);
	tracelink_client_write(tl, &caller, PID, TID, 2 * MS, 1, NULL);
	tracelink_peer_wrote(tl, &callee, PID + 1, &caller);
	assert_int_equal(callee.source, TRACELINK_PEER);
	assert_false(callee.peer_wait);
	assert_memory_equal(callee.span_id, s.span_id, 8);
	ids_of(&callee, SG_ROLE_SERVER, &sx, &s);
	ids_of(&caller, SG_ROLE_CLIENT, &cx, &c);
	assert_memory_equal(s.trace_id, c.trace_id, 16);
	assert_memory_equal(s.parent_id, c.span_id, 8);
	tracelink_client_write(tl, &call, PID + 1, TID + 1, 3 * MS, 1, NULL);
	assert_memory_equal(call.trace_id, c.trace_id, 16);
	assert_memory_equal(call.parent_id, s.span_id, 8);
	tracelink_stats(tl, &st);
	assert_int_equal(st.peer_links, 1);
	/* once only: a later write of the caller is another request's */
	tracelink_peer_wrote(tl, &callee, PID + 1, &caller);
	tracelink_stats(tl, &st);
	assert_int_equal(st.peer_links, 1);
	tracelink_spent(tl, &callee, PID + 1, SG_ROLE_SERVER, &sx);
	tracelink_spent(tl, &caller, PID, SG_ROLE_CLIENT, &cx);

	/* The proxy's caller's traceparent passed on: the caller's client
	 * span, of the same trace, is the nearer parent. */
	memset(&callee, 0, sizeof(callee));
	memset(&caller, 0, sizeof(caller));
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, 4 * MS, f, tr,
	    par, &caller, NULL);
	assert_int_equal(callee.source, TRACELINK_HEADER);
	assert_true(callee.peer_wait);
	tracelink_client_write(tl, &caller, PID, TID, 5 * MS, 1, NULL);
	memcpy(caller.trace_id, tr, 16);   /* as if it took the same trace */
	tracelink_peer_wrote(tl, &callee, PID + 1, &caller);
	assert_int_equal(callee.source, TRACELINK_PEER);
	assert_memory_equal(callee.parent_id, caller.span_id, 8);
	tracelink_spent(tl, &callee, PID + 1, SG_ROLE_SERVER, &sx);

	/* ... but not one of another trace, which the caller knows of */
	memset(&callee, 0, sizeof(callee));
	memset(&caller, 0, sizeof(caller));
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, 6 * MS, f, tr,
	    par, &caller, NULL);
	tracelink_client_write(tl, &caller, PID, TID, 7 * MS, 1, NULL);
	tracelink_peer_wrote(tl, &callee, PID + 1, &caller);
	assert_int_equal(callee.source, TRACELINK_HEADER);
	assert_memory_equal(callee.parent_id, par, 8);

	/* the caller's end not known yet (its first event is that write) */
	memset(&callee, 0, sizeof(callee));
	memset(&caller, 0, sizeof(caller));
	tracelink_server_read(tl, &callee, PID + 1, TID + 1, 8 * MS, 0, NULL,
	    NULL, NULL, NULL);
	assert_true(callee.peer_wait);
	tracelink_client_write(tl, &caller, PID, TID, 9 * MS, 1, NULL);
	tracelink_peer_wrote(tl, &callee, PID + 1, &caller);
	assert_int_equal(callee.source, TRACELINK_PEER);
	assert_memory_equal(callee.parent_id, caller.span_id, 8);
	tracelink_free(tl);
}

/* An event loop: one thread reads request A, then B; its next call is
 * B's.  A's end does not take B from the thread. */
static void
test_event_loop(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx a = { 0 }, b = { 0 }, cli = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	struct tracelink_ids c;

	(void)state;
	tracelink_server_read(tl, &a, PID, TID, MS, 0, NULL, NULL, NULL, NULL);
	tracelink_server_read(tl, &b, PID, TID, 2 * MS, 0, NULL, NULL, NULL, NULL);
	tracelink_spent(tl, &a, PID, SG_ROLE_SERVER, &sx);
	tracelink_client_write(tl, &cli, PID, TID, 3 * MS, 1, NULL);
	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c);
	assert_memory_equal(c.trace_id, b.trace_id, 16);
	assert_memory_equal(c.parent_id, b.span_id, 8);

	/* The same client connection, reused for a request of A read
	 * again: a new context, A's child. */
	tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
	memset(&a, 0, sizeof(a));
	tracelink_server_read(tl, &a, PID, TID, 4 * MS, 0, NULL, NULL, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, 5 * MS, 1, NULL);
	assert_memory_equal(cli.parent_id, a.span_id, 8);
	/* B read again before A's call is written: a call still open
	 * with A as its parent moves to B (the latest read). */
	tracelink_server_read(tl, &b, PID, TID, 6 * MS, 0, NULL, NULL, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, 7 * MS, 1, NULL);
	assert_memory_equal(cli.parent_id, b.span_id, 8);

	/* A shared, multiplexed client connection: a call for A in flight
	 * when the thread writes one for B: neither is linked. */
	memset(&cli, 0, sizeof(cli));
	tracelink_server_read(tl, &a, PID, TID, 8 * MS, 0, NULL, NULL, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, 8 * MS, 1, NULL);
	tracelink_server_read(tl, &b, PID, TID, 9 * MS, 0, NULL, NULL, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, 9 * MS, 2, NULL);
	assert_int_equal(cli.state, TRACELINK_MIXED);
	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c);
	assert_memory_equal(c.parent_id, zero8, 8);
	assert_int_equal(tracelink_parent(&cli, SG_ROLE_CLIENT, &cx),
	    SG_PARENT_NONE);
	tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
	tracelink_client_write(tl, &cli, PID, TID, 10 * MS, 2, NULL);
	assert_int_equal(cli.state, TRACELINK_MIXED);
	/* all answered: the next call is linked again */
	tracelink_client_write(tl, &cli, PID, TID, 11 * MS, 1, NULL);
	assert_int_equal(cli.state, TRACELINK_OPEN);
	assert_memory_equal(cli.parent_id, b.span_id, 8);
	tracelink_free(tl);
}

/* Pipelining: a server's requests after the first get no context (one
 * per connection); a client's share the parent, each its span id. */
static void
test_pipelined(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx srv = { 0 }, cli = { 0 };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	struct tracelink_ids s1, s2, c1, c2;

	(void)state;
	tracelink_server_read(tl, &srv, PID, TID, MS, 0, NULL, NULL, NULL, NULL);
	tracelink_client_write(tl, &cli, PID, TID, MS, 1, NULL);
	tracelink_client_write(tl, &cli, PID, TID, MS, 1, NULL);
	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c1);
	tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
	ids_of(&cli, SG_ROLE_CLIENT, &cx, &c2);
	tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
	assert_memory_equal(c1.parent_id, srv.span_id, 8);
	assert_memory_equal(c2.parent_id, srv.span_id, 8);
	assert_memory_equal(c2.trace_id, srv.trace_id, 16);
	assert_memory_not_equal(c1.span_id, c2.span_id, 8);

	ids_of(&srv, SG_ROLE_SERVER, &sx, &s1);
	tracelink_spent(tl, &srv, PID, SG_ROLE_SERVER, &sx);
	ids_of(&srv, SG_ROLE_SERVER, &sx, &s2);
	tracelink_spent(tl, &srv, PID, SG_ROLE_SERVER, &sx);
	assert_memory_equal(s1.span_id, srv.span_id, 8);
	assert_memory_not_equal(s2.span_id, srv.span_id, 8);
	assert_memory_not_equal(s2.trace_id, srv.trace_id, 16);
	assert_memory_equal(s2.parent_id, zero8, 8);

	/* A request whose traceparent is not the context's (pipelined
	 * behind it, or another HTTP/2 stream): its own, the context
	 * stays for the request it belongs to. */
	memset(&srv, 0, sizeof(srv));
	tracelink_server_read(tl, &srv, PID, TID, MS, 0, NULL, NULL, NULL, NULL);
	sx.flags = header(sx.trace_id, sx.parent_span_id, true);
	ids_of(&srv, SG_ROLE_SERVER, &sx, &s1);
	tracelink_spent(tl, &srv, PID, SG_ROLE_SERVER, &sx);
	assert_memory_equal(s1.trace_id, sx.trace_id, 16);
	assert_memory_equal(s1.parent_id, sx.parent_span_id, 8);
	assert_int_equal(srv.state, TRACELINK_OPEN);
	tracelink_free(tl);
}

/* Bounded: as many threads as asked for (a power of two, in sets of
 * 4), the least recently seen of a set given up; an old entry is not
 * believed. */
static void
test_thread_table_bound(void **state)
{
	struct tracelink *tl = tracelink_new(16, 10 * MS);
	struct tracelink_ctx srv = { 0 }, cli = { 0 };
	struct tracelink_stats st;
	unsigned linked = 0;

	(void)state;
	for (uint32_t tid = 1; tid <= 1000; tid++) {
		memset(&srv, 0, sizeof(srv));
		tracelink_server_read(tl, &srv, PID, tid, tid, 0, NULL, NULL,
		    NULL, NULL);
	}
	tracelink_stats(tl, &st);
	assert_int_equal(st.threads_evicted, 1000 - 16);
	/* the newest thread is remembered, the oldest forgotten */
	for (uint32_t tid = 1; tid <= 1000; tid++) {
		memset(&cli, 0, sizeof(cli));
		tracelink_client_write(tl, &cli, PID, tid, 1000, 1, NULL);
		linked += cli.source == TRACELINK_THREAD;
		if (tid == 1000)
			assert_int_equal(cli.source, TRACELINK_THREAD);
	}
	assert_int_equal(linked, 16);
	/* older than max_age: not believed */
	memset(&cli, 0, sizeof(cli));
	tracelink_client_write(tl, &cli, PID, 1000, 1000 + 11 * MS, 1, NULL);
	assert_int_equal(cli.source, TRACELINK_ROOT);
	assert_null(tracelink_new(0, 0));
	tracelink_free(NULL);
	tracelink_free(tl);
}

/* Every sampler keeps or drops a linked trace whole: the verdict of a
 * child equals its parent's, for roots and remote parents alike. */
static void
test_sampling_whole_traces(void **state)
{
	static const enum sg_sampler samplers[] = {
		SG_SAMPLER_ALWAYS_ON, SG_SAMPLER_ALWAYS_OFF,
		SG_SAMPLER_TRACEIDRATIO, SG_SAMPLER_PB_ALWAYS_ON,
		SG_SAMPLER_PB_ALWAYS_OFF, SG_SAMPLER_PB_TRACEIDRATIO,
	};
	struct tracelink *tl = tracelink_new(64, 0);
	struct sg_exchange sx = exchange(SG_ROLE_SERVER),
	    cx = exchange(SG_ROLE_CLIENT);
	unsigned kept = 0, dropped = 0;

	(void)state;
	for (int i = 0; i < 400; i++) {
		struct tracelink_ctx srv = { 0 }, cli = { 0 }, callee = { 0 };
		struct tracelink_ids s, c, e;
		uint8_t tr[16] = { 0 }, par[8] = { 0 }, f = 0;

		if (i % 4 != 0) {
			f = header(tr, par, i % 4 == 1);
			ids_random(tr, 16);
		}
		sx.flags = f;
		memcpy(sx.trace_id, tr, 16);
		memcpy(sx.parent_span_id, par, 8);
		tracelink_server_read(tl, &srv, PID, TID, MS, f, tr, par, NULL, NULL);
		tracelink_client_write(tl, &cli, PID, TID, MS, 1, NULL);
		tracelink_server_read(tl, &callee, PID + 1, TID, MS, 0, NULL,
		    NULL, &cli, NULL);
		ids_of(&srv, SG_ROLE_SERVER, &sx, &s);
		ids_of(&cli, SG_ROLE_CLIENT, &cx, &c);
		ids_of(&callee, SG_ROLE_SERVER, &cx, &e);
		for (size_t k = 0; k < sizeof(samplers) / sizeof(samplers[0]);
		    k++) {
			bool vs = sampler_keep(samplers[k], 0.5, s.trace_id,
			    tracelink_parent(&srv, SG_ROLE_SERVER, &sx));
			bool vc = sampler_keep(samplers[k], 0.5, c.trace_id,
			    tracelink_parent(&cli, SG_ROLE_CLIENT, &cx));
			bool ve = sampler_keep(samplers[k], 0.5, e.trace_id,
			    tracelink_parent(&callee, SG_ROLE_SERVER, &cx));

			assert_int_equal(vs, vc);
			assert_int_equal(vs, ve);
			if (samplers[k] == SG_SAMPLER_PB_TRACEIDRATIO)
				vs ? kept++ : dropped++;
		}
		tracelink_spent(tl, &cli, PID, SG_ROLE_CLIENT, &cx);
		tracelink_spent(tl, &srv, PID, SG_ROLE_SERVER, &sx);
	}
	/* both verdicts happened: the test compared something */
	assert_true(kept > 50);
	assert_true(dropped > 50);
	tracelink_free(tl);
}

/* ---- through the connection table ---- */

struct rec {
	unsigned     n;
	struct sg_span span[8];
};

static void
rec_emit(void *ctx, const struct sg_conn *conn, const struct sg_exchange *ex)
{
	struct rec *r = ctx;

	if (r->n < 8)
		spans_build(&r->span[r->n++], conn, ex, NULL, 0, true);
}

/* One data event: pid and tid, the socket, its addresses, the bytes. */
static void
feed(struct sg_conns *t, uint32_t pid, uint32_t tid, uint64_t sock,
    uint8_t role, uint8_t dir, uint16_t lport, uint16_t rport, uint64_t ts,
    const char *bytes)
{
	struct sg_data_event e;
	size_t n = strlen(bytes);

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_DATA;
	e.hdr.pid = pid;
	e.hdr.tid = tid;
	e.hdr.ts_ns = ts;
	e.conn.sock = sock;
	e.conn.family = 2;
	e.conn.lport = lport;
	e.conn.rport = rport;
	memcpy(e.conn.laddr, "\x7f\x00\x00\x01", 4);
	memcpy(e.conn.raddr, "\x7f\x00\x00\x01", 4);
	e.len = (int64_t)n;
	e.captured = (uint16_t)n;
	e.dir = dir;
	e.role = role;
	memcpy(e.data, bytes, n);
	assert_int_equal(conns_handle_event(t, &e,
	    SG_DATA_EVENT_HDR_SIZE + n), 0);
}

#define REQ	"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define RESP	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define TP_REQ	"GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" \
    "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"

/*
 * A proxy (pid 1, thread 11) serves a request, calls a backend (pid 2,
 * thread 22) over a connection both ends of which are followed; the
 * backend calls Redis.  Four spans, one trace, each the child of the
 * one before.
 */
static void
run_path(struct sg_conns *t, const char *req, const char *hop,
    uint16_t hop_port, bool late_write, struct rec *r)
{
	uint64_t ts = 1000;

	/* curl -> proxy :8080 */
	feed(t, 1, 11, 0x1000, SG_ROLE_SERVER, SG_DIR_READ, 8080, 50000,
	    ts++, req);
	/* proxy -> backend :9090 from hop_port, both ends; the backend's
	 * read may be reported first */
	if (late_write)
		feed(t, 2, 22, (0x30000 + (uint64_t)hop_port) << 4, SG_ROLE_SERVER, SG_DIR_READ,
		    9090, hop_port, ts++, hop);
	feed(t, 1, 11, (0x20000 + (uint64_t)hop_port) << 4, SG_ROLE_CLIENT, SG_DIR_WRITE,
	    hop_port, 9090, ts++, hop);
	if (!late_write)
		feed(t, 2, 22, (0x30000 + (uint64_t)hop_port) << 4, SG_ROLE_SERVER, SG_DIR_READ,
		    9090, hop_port, ts++, hop);
	/* backend -> redis :6379 */
	feed(t, 2, 22, 0x4000, SG_ROLE_CLIENT, SG_DIR_WRITE, 50002, 6379,
	    ts++, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	feed(t, 2, 22, 0x4000, SG_ROLE_CLIENT, SG_DIR_READ, 50002, 6379,
	    ts++, "$1\r\nv\r\n");
	feed(t, 2, 22, (0x30000 + (uint64_t)hop_port) << 4, SG_ROLE_SERVER, SG_DIR_WRITE, 9090,
	    hop_port, ts++, RESP);
	feed(t, 1, 11, (0x20000 + (uint64_t)hop_port) << 4, SG_ROLE_CLIENT, SG_DIR_READ,
	    hop_port, 9090, ts++, RESP);
	feed(t, 1, 11, 0x1000, SG_ROLE_SERVER, SG_DIR_WRITE, 8080, 50000,
	    ts++, RESP);
	assert_int_equal(r->n, 4);
}

static void
assert_child(const struct sg_span *child, const struct sg_span *parent)
{
	assert_memory_equal(child->trace_id, parent->trace_id, 16);
	assert_memory_equal(child->parent_span_id, parent->span_id, 8);
}

static void
test_conns_path(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct rec r = { 0 };
	struct sg_conns *t = conns_new(256, 1000 * MS, rec_emit, &r);
	/* in the order they end */
	const struct sg_span *redis = &r.span[0], *backend = &r.span[1],
	    *pclient = &r.span[2], *proxy = &r.span[3];
	uint8_t first[16];

	(void)state;
	assert_non_null(t);
	conns_set_tracelink(t, tl);
	run_path(t, REQ, REQ, 50001, false, &r);
	assert_int_equal(redis->app, SG_APP_REDIS);
	assert_int_equal(proxy->kind, SG_SPAN_SERVER);
	assert_int_equal(pclient->kind, SG_SPAN_CLIENT);
	assert_memory_equal(proxy->parent_span_id, zero8, 8);
	assert_child(pclient, proxy);
	assert_child(backend, pclient);
	assert_child(redis, backend);

	/* the same again: a trace of its own */
	memcpy(first, proxy->trace_id, 16);
	r.n = 0;
	run_path(t, REQ, REQ, 50001, false, &r);
	assert_memory_not_equal(proxy->trace_id, first, 16);
	assert_child(&r.span[2], &r.span[3]);
	assert_child(&r.span[1], &r.span[2]);
	assert_child(&r.span[0], &r.span[1]);

	/* with a traceparent from outside: its trace, the proxy its child;
	 * the proxy passes it on unchanged, the backend is still the child
	 * of the proxy's client span */
	r.n = 0;
	run_path(t, TP_REQ, TP_REQ, 50001, false, &r);
	assert_memory_equal(proxy->trace_id, "\x0a\xf7\x65\x19\x16\xcd\x43"
	    "\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c", 16);
	assert_memory_equal(proxy->parent_span_id,
	    "\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);
	assert_child(pclient, proxy);
	assert_child(backend, pclient);
	assert_child(redis, backend);
	assert_int_equal(spans_parent(NULL, NULL), SG_PARENT_NONE);

	/* the backend's read reported before the proxy's write, with and
	 * without a traceparent, on the connection both ends of which are
	 * known and on new ones (the proxy's end unknown until its write):
	 * the same tree */
	static const uint16_t ports[] = { 50001, 50001, 50011, 50012 };

	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		const char *req = i % 2 ? TP_REQ : REQ;

		r.n = 0;
		run_path(t, req, req, ports[i], true, &r);
		assert_child(pclient, proxy);
		assert_child(backend, pclient);
		assert_child(redis, backend);
	}

	/* without links (no span export): each span a trace of its own */
	conns_set_tracelink(t, NULL);
	r.n = 0;
	run_path(t, REQ, REQ, 50001, false, &r);
	assert_memory_not_equal(pclient->trace_id, proxy->trace_id, 16);
	assert_memory_equal(backend->parent_span_id, zero8, 8);
	conns_free(t);
	tracelink_free(tl);
}


/* A kernel context (SG_EV_TRACE) for the next data event of a socket. */
static void
feed_trace(struct sg_conns *t, uint32_t pid, uint32_t tid, uint64_t sock,
    uint8_t kind, const char *trace, const char *span)
{
	struct sg_trace_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = SG_EV_TRACE;
	e.hdr.pid = pid;
	e.hdr.tid = tid;
	e.conn.sock = sock;
	e.kind = kind;
	e.flags = 1;
	e.via = SG_PROP_HEADERS;
	memcpy(e.trace_id, trace, 16);
	if (span != NULL)
		memcpy(e.span_id, span, 8);
	assert_int_equal(conns_handle_event(t, &e, sizeof(e)), 0);
}

#define K_TRACE	"\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x01"
#define K_SPAN	"\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8"
#define K_HOP	"GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" \
    "112233445566778899aabbccddeeff01-c1c2c3c4c5c6c7c8-01\r\n\r\n"

/* Context propagation: the kernel drew the proxy request's trace and
 * wrote its client call's ids into the hop's traceparent; the spans take
 * the same, so that the next hop, on this host or not, is the client
 * span's child.  Then a client call whose thread's request the kernel
 * did not see as the collector did: the wire's ids kept, counted. */
static void
test_conns_kernel_ctx(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct rec r = { 0 };
	struct sg_conns *t = conns_new(256, 1000 * MS, rec_emit, &r);
	const struct sg_span *backend = &r.span[0], *pclient = &r.span[1],
	    *proxy = &r.span[2];
	struct sg_conns_stats cs;
	struct tracelink_stats ls;
	uint64_t ts = 1000;

	(void)state;
	assert_non_null(t);
	conns_set_tracelink(t, tl);
	feed_trace(t, 1, 11, 0x1000, SG_TRACE_SERVER, K_TRACE, NULL);
	feed(t, 1, 11, 0x1000, SG_ROLE_SERVER, SG_DIR_READ, 8080, 50000,
	    ts++, REQ);
	feed_trace(t, 1, 11, 0x2000, SG_TRACE_CLIENT, K_TRACE, K_SPAN);
	feed(t, 1, 11, 0x2000, SG_ROLE_CLIENT, SG_DIR_WRITE, 50001, 9090,
	    ts++, REQ);
	/* the backend reads what went on the wire */
	feed(t, 2, 22, 0x3000, SG_ROLE_SERVER, SG_DIR_READ, 9090, 50001,
	    ts++, K_HOP);
	feed(t, 2, 22, 0x3000, SG_ROLE_SERVER, SG_DIR_WRITE, 9090, 50001,
	    ts++, RESP);
	feed(t, 1, 11, 0x2000, SG_ROLE_CLIENT, SG_DIR_READ, 50001, 9090,
	    ts++, RESP);
	feed(t, 1, 11, 0x1000, SG_ROLE_SERVER, SG_DIR_WRITE, 8080, 50000,
	    ts++, RESP);
	assert_int_equal(r.n, 3);
	assert_memory_equal(proxy->trace_id, K_TRACE, 16);
	assert_memory_equal(proxy->parent_span_id, zero8, 8);
	assert_memory_equal(pclient->span_id, K_SPAN, 8);
	assert_child(pclient, proxy);
	assert_child(backend, pclient);
	conns_stats(t, &cs);
	assert_int_equal(cs.propagated[0], 1);
	assert_int_equal(cs.kctx_unused, 0);

	/* a call of a thread serving nothing the kernel saw: a root with
	 * the wire's ids */
	r.n = 0;
	feed(t, 1, 11, 0x1000, SG_ROLE_SERVER, SG_DIR_READ, 8080, 50000,
	    ts++, REQ);
	feed_trace(t, 1, 11, 0x2000, SG_TRACE_CLIENT, K_TRACE, K_SPAN);
	feed(t, 1, 11, 0x2000, SG_ROLE_CLIENT, SG_DIR_WRITE, 50001, 9090,
	    ts++, REQ);
	feed(t, 1, 11, 0x2000, SG_ROLE_CLIENT, SG_DIR_READ, 50001, 9090,
	    ts++, RESP);
	assert_int_equal(r.n, 1);
	assert_memory_equal(r.span[0].trace_id, K_TRACE, 16);
	assert_memory_equal(r.span[0].span_id, K_SPAN, 8);
	assert_memory_equal(r.span[0].parent_span_id, zero8, 8);
	tracelink_stats(tl, &ls);
	assert_int_equal(ls.kernel_differs, 1);
	conns_free(t);
	tracelink_free(tl);
}

/* A context from the caller's TCP option: the server span is the child
 * of the caller's client span, which the sampler sees as remote. */
static void
test_wire_option(void **state)
{
	struct tracelink *tl = tracelink_new(64, 0);
	struct tracelink_ctx srv = { 0 };
	struct tracelink_kctx k = { .kind = SG_TRACE_SERVER, .flags = 1,
	    .via = SG_PROP_TCPOPT };
	struct sg_exchange sx = exchange(SG_ROLE_SERVER);
	struct tracelink_ids s;
	struct tracelink_stats st;

	(void)state;
	memcpy(k.trace_id, K_TRACE, 16);
	memcpy(k.span_id, K_SPAN, 8);
	tracelink_server_read(tl, &srv, PID, TID, MS, 0, NULL, NULL, NULL, &k);
	assert_int_equal(srv.source, TRACELINK_WIRE);
	ids_of(&srv, SG_ROLE_SERVER, &sx, &s);
	assert_memory_equal(s.trace_id, K_TRACE, 16);
	assert_memory_equal(s.parent_id, K_SPAN, 8);
	assert_int_equal(tracelink_parent(&srv, SG_ROLE_SERVER, &sx),
	    SG_PARENT_SAMPLED);
	tracelink_stats(tl, &st);
	assert_int_equal(st.wire_links, 1);
	tracelink_free(tl);
}

static void
noemit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	(void)ex;
}

/* The parsers' trace_ctx op: no request in flight (nothing read yet,
 * or the response went out), a request without a traceparent, one
 * with. */
static void
test_parser_trace_ctx(void **state)
{
	static struct http1_conn h1;
	static struct http2_conn h2;
	const struct sg_proto_ops *ops = &http1_ops;
	uint8_t tr[16], par[8];

	(void)state;
	ops->init(&h1, SG_ROLE_SERVER);
	assert_int_equal(ops->trace_ctx(&h1, tr, par), -1);
	ops->on_data(&h1, SG_DIR_READ, 1, strlen(REQ), (const uint8_t *)REQ,
	    strlen(REQ), NULL, noemit, NULL);
	assert_int_equal(ops->trace_ctx(&h1, tr, par), 0);
	ops->on_data(&h1, SG_DIR_WRITE, 2, strlen(RESP), (const uint8_t *)RESP,
	    strlen(RESP), NULL, noemit, NULL);
	assert_int_equal(ops->trace_ctx(&h1, tr, par), -1);
	ops->on_data(&h1, SG_DIR_READ, 3, strlen(TP_REQ),
	    (const uint8_t *)TP_REQ, strlen(TP_REQ), NULL, noemit, NULL);
	assert_int_equal(ops->trace_ctx(&h1, tr, par),
	    SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	assert_memory_equal(par, "\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);

	ops = &http2_ops;
	ops->init(&h2, SG_ROLE_SERVER);
	assert_int_equal(ops->trace_ctx(&h2, tr, par), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_per_request),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_peer_late_write),
		cmocka_unit_test(test_event_loop),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_thread_table_bound),
		cmocka_unit_test(test_sampling_whole_traces),
		cmocka_unit_test(test_conns_path),
		cmocka_unit_test(test_conns_kernel_ctx),
		cmocka_unit_test(test_wire_option),
		cmocka_unit_test(test_parser_trace_ctx),
	};

	spans_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
