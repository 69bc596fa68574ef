/*
 * Trace links the collector draws itself, without any header: which
 * span a client call or a server request on this host is the child of.
 *
 * - In-process: a client request written by a thread while it serves a
 *   server request is a child of that server span.  The collector fixes
 *   a server request's context (trace id, span id) when the request
 *   starts, and remembers per thread which context it serves now (the
 *   last server request it read: an event-loop server's most recent
 *   one).  A client request takes the context of the thread that writes
 *   it as its parent.
 * - Same host: when both ends of a connection are followed, the callee's
 *   server span continues the caller's client span, whose context was
 *   fixed at its write.  The write is reported when the send returns,
 *   which may be after the callee's read was: a request that started
 *   with its caller not yet open waits a little for that write
 *   (tracelink_peer_wrote).
 * With context propagation, the ids the kernel put on the wire (struct
 * tracelink_kctx) are the client spans' and their servers' traces.
 * An incoming traceparent wins over both, but for one of the same trace
 * as the caller's client span on this host: a proxy passing on its own
 * caller's unchanged, whose client span is the nearer parent.
 *
 * One context per connection: the request in flight.  Pipelined server
 * requests after the first, and HTTP/2 streams beyond the newest, get
 * traces of their own (or their traceparent's); a client's pipelined
 * requests share the parent of the first, and those of two server
 * requests in flight at once on one connection (a multiplexed channel
 * shared by threads) are linked to neither: a wrong parent would be
 * worse than none.  Memory: a context in each connection slot, and a
 * fixed table of threads; nothing per event.
 */
#ifndef SG_TRACELINK_H
#define SG_TRACELINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "sampler.h"

/* tracelink_ctx.state */
enum tracelink_state {
	TRACELINK_EMPTY = 0,	/* nothing fixed yet */
	TRACELINK_OPEN,		/* fixed at its request's start; its span
				 * has not gone out */
	TRACELINK_USED,		/* its span went out */
	TRACELINK_MIXED,	/* client: requests of two server requests
				 * in flight at once: neither is linked */
};

/* tracelink_ctx.source: whose trace it continues */
enum tracelink_source {
	TRACELINK_ROOT = 0,	/* its own: a new trace */
	TRACELINK_HEADER,	/* the request's traceparent */
	TRACELINK_THREAD,	/* the server request its thread serves */
	TRACELINK_PEER,		/* the client span of the other end */
	TRACELINK_WIRE,		/* the caller's, from a TCP option */
};

/* The context of a connection's request in flight. */
struct tracelink_ctx {
	uint8_t  trace_id[16];
	uint8_t  span_id[8];	/* of the span the request becomes */
	uint8_t  parent_id[8];	/* all zero: a root */
	uint32_t tid;		/* the thread that last read it (server) */
	uint8_t  state;		/* enum tracelink_state */
	uint8_t  source;	/* enum tracelink_source */
	uint8_t  parent;	/* enum sg_parent: what the sampler sees */
	uint8_t  no_peer;	/* a server whose client end was not found
				 * at its first request: not looked up again
				 * until that end writes (with the socket
				 * tracepoints, a client's end is known from
				 * its first write, not from its connect) */
	uint8_t  peer_wait;	/* a server request that started without its
				 * caller's context: the caller's write may
				 * be reported after the callee's read (when
				 * the send returns), and may still become
				 * its parent */
};

/* The context the kernel gave a request on the wire (SG_EV_TRACE,
 * [ebpf] context_propagation): the spans take the same ids, or the next
 * hop's would descend from a span never exported. */
struct tracelink_kctx {
	uint8_t  trace_id[16];
	uint8_t  span_id[8];	/* client: its span's; server: the caller's
				 * (TCP option), or zero */
	uint8_t  kind;		/* enum sg_trace_kind */
	uint8_t  flags;		/* W3C trace flags */
	uint8_t  via;		/* SG_PROP_* */
};

/* The ids of one span. */
struct tracelink_ids {
	uint8_t  trace_id[16];
	uint8_t  span_id[8];
	uint8_t  parent_id[8];	/* all zero: none */
};

struct tracelink;

/* threads: how many serving threads are remembered at once (rounded up
 * to a power of two); an entry older than max_age_ns is not believed
 * (its request timed out unseen, or its thread is gone). */
struct tracelink *tracelink_new(size_t threads, uint64_t max_age_ns);
void tracelink_free(struct tracelink *tl);

/*
 * A server connection's read, after its parser saw it.  hdr_flags and
 * the ids: the traceparent of the request in flight (SG_EX_TRACE_*, as
 * the parser's trace_ctx op reports it; 0 none).  peer: the context of
 * the client end of the same connection when this host follows it, or
 * NULL.  Starts the request's context when none is open; the thread now
 * serves it.
 */
void tracelink_server_read(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint32_t tid, uint64_t ts_ns, uint8_t hdr_flags,
    const uint8_t hdr_trace[16], const uint8_t hdr_parent[8],
    const struct tracelink_ctx *peer, const struct tracelink_kctx *k);
/* The client end of a connection wrote its request (ctx, just opened):
 * a server request of the other end that started before that write was
 * reported (srv, of process pid, peer_wait) becomes its child. */
void tracelink_peer_wrote(struct tracelink *tl, struct tracelink_ctx *srv,
    uint32_t pid, const struct tracelink_ctx *ctx);
/* Whether a server read would start a request: only then is the peer
 * worth looking up. */
bool tracelink_server_starts(const struct tracelink_ctx *ctx);
/* A client connection's write by thread tid, after which in_flight
 * requests await their responses (the parser's pending()): the
 * request's context is fixed, as a child of what the thread serves. */
void tracelink_client_write(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint32_t tid, uint64_t ts_ns, unsigned in_flight,
    const struct tracelink_kctx *k);
/* The exchange ex of role (enum sg_role) ended on the connection (spans
 * out, or timed out): a context it used is spent, and the thread no
 * longer serves a server request that ended. */
void tracelink_spent(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint8_t role, const struct sg_exchange *ex);

/* What the span of ex (role) on a connection with ctx (may be NULL)
 * descends from, as the sampler is to see it.  A span with a local
 * parent inherits its parent's: the samplers' verdicts are then the
 * same for the whole trace (traceidratio is a function of the trace id,
 * the parent-based ones follow the first remote parent). */
enum sg_parent tracelink_parent(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex);
/* The span's ids. */
void tracelink_ids(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex, struct tracelink_ids *out);

struct tracelink_stats {
	uint64_t thread_links;	/* client contexts taken from a thread */
	uint64_t peer_links;	/* server contexts taken from a peer */
	uint64_t threads_evicted; /* serving threads forgotten when full */
	uint64_t wire_links;	/* contexts that came in a TCP option */
	uint64_t kernel_differs; /* a request whose trace the kernel saw
				  * otherwise (a traceparent it did not find
				  * in its first bytes; a client call of a
				  * thread whose request it did not see):
				  * the wire's ids kept, its parent lost */
};
void tracelink_stats(const struct tracelink *tl, struct tracelink_stats *out);

#endif
