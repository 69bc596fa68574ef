/*
 * Connection table of the collector: raw events in, exchanges out.
 * Keyed by (pid, kernel socket address); fixed capacity chosen at start,
 * open addressing, no allocation per event.  When full, the least
 * recently used idle connection is evicted and counted.
 *
 * A connection's protocol is detected from its first bytes (proto.h);
 * until one is, its bytes are only counted.  A slot is small; the
 * parser's state is attached while an exchange is in progress and goes
 * back to its protocol's free list when the connection is idle again (or
 * with the connection, for parsers whose state must last as long), so
 * memory follows the requests in flight, not the connections open.
 */
#ifndef SG_CONNS_H
#define SG_CONNS_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "proto.h"
#include "tracelink.h"

/* sg_conn.tls */
enum sg_conn_tls {
	SG_CONN_PLAIN = 0,      /* the socket's own bytes, not TLS */
	SG_CONN_TLS_PLAINTEXT,  /* a TLS connection's plaintext, from the
	                         * library (SG_DATA_TLS) */
	SG_CONN_TLS_RECORDS,    /* TLS records on the socket: not parsed */
};

/* The plaintext of a TLS connection is followed apart from its socket:
 * a kernel socket address is aligned, and this bit tells the two keys
 * apart. */
#define SG_CONN_KEY_TLS 1u

struct sg_conn {
	uint32_t          pid;
	uint64_t          sock;     /* the key: the socket's address, with
	                             * SG_CONN_KEY_TLS for its plaintext;
	                             * 0: free slot */
	struct sg_conn_id id;       /* addresses as last seen */
	uint8_t           role;     /* enum sg_role */
	uint8_t           proto;    /* enum sg_proto; SG_PROTO_NONE: not known */
	uint8_t           tls;      /* enum sg_conn_tls */
	uint64_t          last_ns;
	void             *state;    /* the parser's; NULL while idle */
	uint32_t          byaddr;   /* its entry in the address index + 1;
	                             * 0: not indexed */
	struct tracelink_ctx trace; /* its request in flight, while trace
	                             * links are drawn */
};

struct sg_conns_stats {
	uint64_t events;            /* events handled */
	uint64_t bad_events;        /* malformed (size/type) events refused */
	uint64_t evicted;           /* live connections evicted when full */
	uint64_t timed_out;         /* requests ended by the timeout */
	uint64_t active;            /* connections in the table now */
	uint64_t unparsed;          /* bytes no parser could read */
	uint64_t tls_records;       /* bytes of TLS records on sockets */
	uint64_t unpaired;          /* responses to requests not seen */
	uint64_t dropped;           /* requests seen with no room to keep */
	uint64_t unknown;           /* fields that could not be resolved */
	uint64_t cut_off;           /* awaiting a response at conns_finish */
	uint64_t states;            /* parser states allocated: the most
	                             * connections mid-exchange at once */
	uint64_t propagated[2];     /* client requests the kernel gave a
	                             * context: in a header, a TCP option */
	uint64_t kctx_unused;       /* kernel contexts no data event took
	                             * (their request's span took ids of its
	                             * own) */
	uint64_t unindexed;         /* connections left out of the address
	                             * index (its window full): their other
	                             * end, if followed, is not found */
};

/* Called for each finished exchange with the connection it happened on. */
typedef void (*conns_emit_fn)(void *ctx, const struct sg_conn *conn,
    const struct sg_exchange *ex);

struct sg_conns;

/* request_timeout_ns: how long an exchange may wait for its response
 * (every application protocol, until conns_set_timeout), and how long
 * an idle connection's parser state is kept. */
struct sg_conns *conns_new(size_t capacity, uint64_t request_timeout_ns,
    conns_emit_fn emit, void *ctx);
/* The timeout of one application protocol (enum sg_app); 0: none. */
void conns_set_timeout(struct sg_conns *t, uint8_t app, uint64_t ns);
void conns_free(struct sg_conns *t);
/* The parsers connections may be detected as: bit 1 << enum sg_proto
 * (all of them by default).  Connections already detected keep theirs. */
void conns_set_protocols(struct sg_conns *t, uint32_t enabled);
/* Draw trace links (tracelink.h) with tl, which the caller owns and
 * keeps while t lives; NULL: none (spans are not exported). */
void conns_set_tracelink(struct sg_conns *t, struct tracelink *tl);
/* Validate and apply one raw event (bytes exactly as the BPF wrote it).
 * Returns 0, or -1 when the event is malformed (counted, ignored). */
int  conns_handle_event(struct sg_conns *t, const void *ev, size_t size);
/* Time out requests and drop idle connections; call about once a second
 * with the current CLOCK_MONOTONIC time. */
void conns_tick(struct sg_conns *t, uint64_t now_ns);
/* The sensor stops: count the requests still awaiting their response
 * as cut off (no span, no metric: they did not end). */
void conns_finish(struct sg_conns *t);
/* Forget every connection of a process that went away. */
void conns_forget_pid(struct sg_conns *t, uint32_t pid);
void conns_stats(const struct sg_conns *t, struct sg_conns_stats *out);
/* The other end of c when it is a connection of a process this table
 * follows too (both ends on this host): the connection whose addresses
 * mirror c's.  Of the two a TLS connection has, its plaintext; of
 * processes sharing a socket, the one active last.  NULL otherwise. */
const struct sg_conn *conns_peer(const struct sg_conns *t,
    const struct sg_conn *c);

#endif
