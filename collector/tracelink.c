/*
 * Trace links: the contexts of requests in flight, and which thread
 * serves which (tracelink.h says what they link).  The thread table is set-associative over a fixed array:
 * a thread lives in one of TRACELINK_WAYS slots by its hash, and a full
 * set gives up its least recently seen thread.
 */
#include "tracelink.h"

#include <stdlib.h>
#include <string.h>

#include "ids.h"

#define TRACELINK_WAYS	4

/* A thread serving a server request: the context its client calls
 * descend from. */
struct tracelink_thread {
	uint32_t pid;		/* 0: free */
	uint32_t tid;
	uint64_t seen_ns;	/* its last read of that request */
	uint8_t  trace_id[16];
	uint8_t  span_id[8];
	uint8_t  parent;	/* enum sg_parent of the server span */
};

struct tracelink {
	struct tracelink_thread	*slot;
	size_t			 mask;
	uint64_t		 max_age_ns;
	struct tracelink_stats	 st;
};

struct tracelink *
tracelink_new(size_t threads, uint64_t max_age_ns)
{
	struct tracelink *tl;
	size_t cap = TRACELINK_WAYS;

	if (threads == 0 ||
	    threads > SIZE_MAX / 2 / sizeof(struct tracelink_thread))
		return NULL;
	while (cap < threads)
		cap <<= 1;
	if ((tl = calloc(1, sizeof(*tl))) == NULL)
		return NULL;
	if ((tl->slot = calloc(cap, sizeof(*tl->slot))) == NULL) {
		free(tl);
		return NULL;
	}
	tl->mask = cap - 1;
	tl->max_age_ns = max_age_ns;
	return tl;
}

void
tracelink_free(struct tracelink *tl)
{
	if (tl == NULL)
		return;
	free(tl->slot);
	free(tl);
}

/* The first slot of the thread's set. */
static size_t
tl_set(const struct tracelink *tl, uint32_t pid, uint32_t tid)
{
	uint64_t h = ((uint64_t)pid << 32 | tid) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & tl->mask & ~(size_t)(TRACELINK_WAYS - 1);
}

static struct tracelink_thread *
tl_thread_find(struct tracelink *tl, uint32_t pid, uint32_t tid)
{
	struct tracelink_thread *s = &tl->slot[tl_set(tl, pid, tid)];

	for (size_t i = 0; i < TRACELINK_WAYS; i++)
		if (s[i].pid == pid && s[i].tid == tid)
			return &s[i];
	return NULL;
}

/* The thread's slot, or the one it takes: a free one, else the least
 * recently seen of its set. */
static struct tracelink_thread *
tl_thread_slot(struct tracelink *tl, uint32_t pid, uint32_t tid)
{
	struct tracelink_thread *s = &tl->slot[tl_set(tl, pid, tid)], *victim;

	victim = &s[0];
	for (size_t i = 0; i < TRACELINK_WAYS; i++) {
		if (s[i].pid == pid && s[i].tid == tid)
			return &s[i];
		if (victim->pid != 0 && (s[i].pid == 0 ||
		    s[i].seen_ns < victim->seen_ns))
			victim = &s[i];
	}
	if (victim->pid != 0)
		tl->st.threads_evicted++;
	victim->pid = pid;
	victim->tid = tid;
	return victim;
}

/* The thread serves the request of ctx from now on. */
static void
tl_thread_serves(struct tracelink *tl, uint32_t pid, uint32_t tid,
    uint64_t ts_ns, const struct tracelink_ctx *ctx)
{
	struct tracelink_thread *th;

	if (pid == 0)
		return;
	th = tl_thread_slot(tl, pid, tid);
	th->seen_ns = ts_ns;
	memcpy(th->trace_id, ctx->trace_id, sizeof(th->trace_id));
	memcpy(th->span_id, ctx->span_id, sizeof(th->span_id));
	th->parent = ctx->parent;
}

/* What the thread serves, if it is recent enough to be believed. */
static const struct tracelink_thread *
tl_thread_serving(struct tracelink *tl, uint32_t pid, uint32_t tid,
    uint64_t ts_ns)
{
	const struct tracelink_thread *th = tl_thread_find(tl, pid, tid);

	if (th == NULL || (tl->max_age_ns != 0 && ts_ns > th->seen_ns &&
	    ts_ns - th->seen_ns > tl->max_age_ns))
		return NULL;
	return th;
}

/* The server request the thread served ended: its later client calls
 * are no children of it.  Another request it took since stays. */
static void
tl_thread_done(struct tracelink *tl, uint32_t pid, uint32_t tid,
    const uint8_t span_id[8])
{
	struct tracelink_thread *th = tl_thread_find(tl, pid, tid);

	if (th != NULL && memcmp(th->span_id, span_id, 8) == 0)
		memset(th, 0, sizeof(*th));
}

static enum sg_parent
tl_header_parent(uint8_t hdr_flags)
{
	return hdr_flags & SG_EX_TRACE_SAMPLED ? SG_PARENT_SAMPLED :
	    SG_PARENT_NOT_SAMPLED;
}

/* A context continuing the caller's traceparent. */
static void
tl_take_header(struct tracelink_ctx *ctx, uint8_t hdr_flags,
    const uint8_t hdr_trace[16], const uint8_t hdr_parent[8])
{
	memcpy(ctx->trace_id, hdr_trace, sizeof(ctx->trace_id));
	memcpy(ctx->parent_id, hdr_parent, sizeof(ctx->parent_id));
	ctx->source = TRACELINK_HEADER;
	ctx->parent = (uint8_t)tl_header_parent(hdr_flags);
}

/* A child of a span of this host: its trace, and its sampling as the
 * parent's (see tracelink_parent). */
static void
tl_take_local(struct tracelink_ctx *ctx, uint8_t source,
    const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t parent)
{
	memcpy(ctx->trace_id, trace_id, sizeof(ctx->trace_id));
	memcpy(ctx->parent_id, span_id, sizeof(ctx->parent_id));
	ctx->source = source;
	ctx->parent = parent;
}

static void
tl_take_root(struct tracelink_ctx *ctx)
{
	ids_random(ctx->trace_id, sizeof(ctx->trace_id));
	memset(ctx->parent_id, 0, sizeof(ctx->parent_id));
	ctx->source = TRACELINK_ROOT;
	ctx->parent = SG_PARENT_NONE;
}

static bool
tl_same_header(const struct tracelink_ctx *ctx, const uint8_t trace_id[16],
    const uint8_t parent_id[8])
{
	return ctx->source == TRACELINK_HEADER &&
	    memcmp(ctx->trace_id, trace_id, sizeof(ctx->trace_id)) == 0 &&
	    memcmp(ctx->parent_id, parent_id, sizeof(ctx->parent_id)) == 0;
}

bool
tracelink_server_starts(const struct tracelink_ctx *ctx)
{
	return ctx->state != TRACELINK_OPEN;
}

/*
 * Whether the caller's client span on this host is a nearer parent than
 * the request's traceparent: there is none, or it is of the same trace
 * (a proxy passing its own caller's on unchanged, which the sensor saw
 * come in: the client span descends from it).  A traceparent of another
 * trace wins: the caller knows of a context the sensor does not.
 */
static bool
tl_peer_fits(const struct tracelink_ctx *peer, bool hdr,
    const uint8_t hdr_trace[16])
{
	return peer != NULL && peer->state == TRACELINK_OPEN &&
	    (!hdr || memcmp(peer->trace_id, hdr_trace, 16) == 0);
}

static const uint8_t zero_span[8];

/* Whether the kernel's context came in the caller's TCP option: it names
 * the caller's client span. */
static bool
tl_kctx_wire(const struct tracelink_kctx *k)
{
	return k != NULL && memcmp(k->span_id, zero_span, 8) != 0;
}

/* The caller's client span, from its TCP option, as the parent. */
static void
tl_take_wire(struct tracelink *tl, struct tracelink_ctx *ctx,
    const struct tracelink_kctx *k)
{
	tl_take_header(ctx, (k->flags & 1) ? SG_EX_TRACE_SAMPLED : 0,
	    k->trace_id, k->span_id);
	ctx->source = TRACELINK_WIRE;
	tl->st.wire_links++;
}

void
tracelink_server_read(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint32_t tid, uint64_t ts_ns, uint8_t hdr_flags,
    const uint8_t hdr_trace[16], const uint8_t hdr_parent[8],
    const struct tracelink_ctx *peer, const struct tracelink_kctx *k)
{
	bool hdr = (hdr_flags & SG_EX_TRACE_CTX) && hdr_trace != NULL &&
	    hdr_parent != NULL;

	if (tl == NULL || ctx == NULL)
		return;
	if (k != NULL && k->kind != SG_TRACE_SERVER)
		k = NULL;
	if (tracelink_server_starts(ctx)) {
		ids_random(ctx->span_id, sizeof(ctx->span_id));
		/* the caller's own word on the wire first; then the kernel's
		 * trace (the traceparent it found, or one it drew) is what
		 * this request's calls carry */
		if (tl_kctx_wire(k))
			tl_take_wire(tl, ctx, k);
		else if (tl_peer_fits(peer, hdr, hdr_trace) && (k == NULL ||
		    memcmp(peer->trace_id, k->trace_id, 16) == 0)) {
			tl_take_local(ctx, TRACELINK_PEER, peer->trace_id,
			    peer->span_id, peer->parent);
			tl->st.peer_links++;
		} else if (hdr) {
			tl_take_header(ctx, hdr_flags, hdr_trace, hdr_parent);
			if (k != NULL && memcmp(hdr_trace, k->trace_id, 16) != 0)
				tl->st.kernel_differs++;
		} else {
			tl_take_root(ctx);
			if (k != NULL)
				memcpy(ctx->trace_id, k->trace_id,
				    sizeof(ctx->trace_id));
		}
		/* Not the caller's yet: its end may not be known, or not
		 * open, as its write may be reported after this read.  The
		 * kernel's trace would not be the caller's. */
		ctx->peer_wait = ctx->source != TRACELINK_PEER && k == NULL;
		ctx->state = TRACELINK_OPEN;
	} else if (hdr && !tl_same_header(ctx, hdr_trace, hdr_parent) &&
	    !((ctx->source == TRACELINK_PEER ||
	    ctx->source == TRACELINK_WIRE) &&
	    memcmp(ctx->trace_id, hdr_trace, 16) == 0))
		/* the traceparent came in a later read than the request's
		 * first, or belongs to a request pipelined behind it */
		tl_take_header(ctx, hdr_flags, hdr_trace, hdr_parent);
	ctx->tid = tid;
	tl_thread_serves(tl, pid, tid, ts_ns, ctx);
}

void
tracelink_peer_wrote(struct tracelink *tl, struct tracelink_ctx *srv,
    uint32_t pid, const struct tracelink_ctx *ctx)
{
	struct tracelink_thread *th;
	uint8_t old_trace[16];

	if (tl == NULL || srv == NULL || ctx == NULL || !srv->peer_wait ||
	    srv->state != TRACELINK_OPEN)
		return;
	srv->peer_wait = 0;
	if (!tl_peer_fits(ctx, srv->source == TRACELINK_HEADER,
	    srv->trace_id))
		return;
	memcpy(old_trace, srv->trace_id, sizeof(old_trace));
	tl_take_local(srv, TRACELINK_PEER, ctx->trace_id, ctx->span_id,
	    ctx->parent);
	tl->st.peer_links++;
	/* its thread's client calls from now on are of the caller's trace */
	th = tl_thread_find(tl, pid, srv->tid);
	if (th != NULL && memcmp(th->span_id, srv->span_id, 8) == 0 &&
	    memcmp(th->trace_id, old_trace, 16) == 0) {
		memcpy(th->trace_id, srv->trace_id, sizeof(th->trace_id));
		th->parent = srv->parent;
	}
}

/* Whether ctx already descends from what the thread serves (th, or
 * nothing). */
static bool
tl_same_parent(const struct tracelink_ctx *ctx,
    const struct tracelink_thread *th)
{
	if (th == NULL)
		return ctx->source == TRACELINK_ROOT;
	return ctx->source == TRACELINK_THREAD &&
	    memcmp(ctx->parent_id, th->span_id, sizeof(ctx->parent_id)) == 0;
}

/* A client request that left with the kernel's ids k: the child of what
 * the thread serves when that is the trace it carries, else of nothing
 * this host saw. */
static void
tl_client_kernel(struct tracelink *tl, struct tracelink_ctx *ctx,
    const struct tracelink_thread *th, const struct tracelink_kctx *k)
{
	if (th != NULL && memcmp(th->trace_id, k->trace_id, 16) == 0) {
		tl_take_local(ctx, TRACELINK_THREAD, th->trace_id, th->span_id,
		    th->parent);
		tl->st.thread_links++;
	} else {
		if (th != NULL)
			tl->st.kernel_differs++;
		tl_take_root(ctx);
		memcpy(ctx->trace_id, k->trace_id, sizeof(ctx->trace_id));
	}
	memcpy(ctx->span_id, k->span_id, sizeof(ctx->span_id));
}

void
tracelink_client_write(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint32_t tid, uint64_t ts_ns, unsigned in_flight,
    const struct tracelink_kctx *k)
{
	const struct tracelink_thread *th;

	if (tl == NULL || ctx == NULL)
		return;
	th = tl_thread_serving(tl, pid, tid, ts_ns);
	if (k != NULL && k->kind == SG_TRACE_CLIENT && in_flight <= 1) {
		tl_client_kernel(tl, ctx, th, k);
		ctx->tid = tid;
		ctx->state = TRACELINK_OPEN;
		return;
	}
	/* More of the same request, or one pipelined behind it by the
	 * same caller: one context. */
	if (ctx->state == TRACELINK_OPEN && tl_same_parent(ctx, th))
		return;
	/* Another caller's request while one is still awaited: which
	 * response is whose cannot be told from the context. */
	if ((ctx->state == TRACELINK_OPEN || ctx->state == TRACELINK_MIXED) &&
	    in_flight > 1) {
		ctx->state = TRACELINK_MIXED;
		return;
	}
	ids_random(ctx->span_id, sizeof(ctx->span_id));
	if (th != NULL) {
		tl_take_local(ctx, TRACELINK_THREAD, th->trace_id, th->span_id,
		    th->parent);
		tl->st.thread_links++;
	} else
		tl_take_root(ctx);
	ctx->tid = tid;
	ctx->state = TRACELINK_OPEN;
}

/* How the span of ex takes its ids. */
enum tl_choice {
	TL_RANDOM,		/* a root of its own */
	TL_HEADER,		/* ex's traceparent, a span id of its own */
	TL_CTX,			/* the context, span id included */
	TL_CTX_NEW_SPAN,	/* the context's trace and parent, a span id
				 * of its own (a client's pipelined calls) */
};

/* Whether the server context is that of ex: one taken from a
 * traceparent is only that request's; one from the caller on this host
 * is not for a request with a traceparent of another trace; a new one
 * not for a request that carried one. */
static bool
tl_server_fits(const struct tracelink_ctx *ctx, const struct sg_exchange *ex)
{
	bool hdr = ex->flags & SG_EX_TRACE_CTX;

	switch (ctx->source) {
	case TRACELINK_HEADER:
		return hdr && tl_same_header(ctx, ex->trace_id,
		    ex->parent_span_id);
	case TRACELINK_PEER:
	case TRACELINK_WIRE:
		return !hdr || memcmp(ctx->trace_id, ex->trace_id, 16) == 0;
	}
	return !hdr;
}

static enum tl_choice
tl_server_choice(const struct tracelink_ctx *ctx, const struct sg_exchange *ex)
{
	if (ctx != NULL && ctx->state == TRACELINK_OPEN &&
	    tl_server_fits(ctx, ex))
		return TL_CTX;
	return ex->flags & SG_EX_TRACE_CTX ? TL_HEADER : TL_RANDOM;
}

/* A client's own traceparent (its SDK's, or a proxy passing its
 * caller's on) is not the parent of the sensor's client span. */
static enum tl_choice
tl_client_choice(const struct tracelink_ctx *ctx)
{
	if (ctx == NULL)
		return TL_RANDOM;
	if (ctx->state == TRACELINK_OPEN)
		return TL_CTX;
	if (ctx->state == TRACELINK_USED && ctx->source != TRACELINK_ROOT)
		return TL_CTX_NEW_SPAN;
	return TL_RANDOM;
}

static enum tl_choice
tl_choice(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex)
{
	return role == SG_ROLE_CLIENT ? tl_client_choice(ctx) :
	    tl_server_choice(ctx, ex);
}

enum sg_parent
tracelink_parent(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex)
{
	if (ex == NULL)
		return SG_PARENT_NONE;
	switch (tl_choice(ctx, role, ex)) {
	case TL_HEADER:
		return tl_header_parent(ex->flags);
	case TL_CTX:
	case TL_CTX_NEW_SPAN:
		return (enum sg_parent)ctx->parent;
	case TL_RANDOM:
		break;
	}
	return SG_PARENT_NONE;
}

void
tracelink_ids(const struct tracelink_ctx *ctx, uint8_t role,
    const struct sg_exchange *ex, struct tracelink_ids *out)
{
	memset(out, 0, sizeof(*out));
	if (ex == NULL)
		return;
	switch (tl_choice(ctx, role, ex)) {
	case TL_RANDOM:
		ids_random(out->trace_id, sizeof(out->trace_id));
		ids_random(out->span_id, sizeof(out->span_id));
		break;
	case TL_HEADER:
		memcpy(out->trace_id, ex->trace_id, sizeof(out->trace_id));
		memcpy(out->parent_id, ex->parent_span_id,
		    sizeof(out->parent_id));
		ids_random(out->span_id, sizeof(out->span_id));
		break;
	case TL_CTX:
		memcpy(out->trace_id, ctx->trace_id, sizeof(out->trace_id));
		memcpy(out->parent_id, ctx->parent_id, sizeof(out->parent_id));
		memcpy(out->span_id, ctx->span_id, sizeof(out->span_id));
		break;
	case TL_CTX_NEW_SPAN:
		memcpy(out->trace_id, ctx->trace_id, sizeof(out->trace_id));
		memcpy(out->parent_id, ctx->parent_id, sizeof(out->parent_id));
		ids_random(out->span_id, sizeof(out->span_id));
		break;
	}
}

void
tracelink_spent(struct tracelink *tl, struct tracelink_ctx *ctx,
    uint32_t pid, uint8_t role, const struct sg_exchange *ex)
{
	if (tl == NULL || ctx == NULL || ex == NULL ||
	    tl_choice(ctx, role, ex) != TL_CTX)
		return;
	ctx->state = TRACELINK_USED;
	if (role != SG_ROLE_CLIENT)
		tl_thread_done(tl, pid, ctx->tid, ctx->span_id);
}

void
tracelink_stats(const struct tracelink *tl, struct tracelink_stats *out)
{
	if (out == NULL)
		return;
	if (tl == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = tl->st;
}
