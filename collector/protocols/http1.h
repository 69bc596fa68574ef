/*
 * HTTP/1.x request/response pairing on one connection, from the bytes one
 * process reads and writes.  Pure: no allocation, no I/O, fixed-size
 * state, so it is unit-tested and fuzzed on its own.
 *
 * Server side: requests are read, responses written.  Client side: the
 * reverse.  A connection whose role is unknown (it predates the sensor)
 * takes the role from the first direction that carries a request line.
 * Only the first `captured` bytes of each read/write are seen, plus
 * optionally its last SG_TAIL_LEN bytes; `len` is the full byte count, so
 * bodies are followed by counting (Content-Length) or by the chunked
 * terminator in the tail.
 */
#ifndef SG_HTTP1_H
#define SG_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Pipelined requests awaiting their responses, per connection.  One
 * capture can show SG_CAPTURE_MAX / 14 of them (the shortest request the
 * parser takes is "A / HTTP/1.1\n\n"): all fit, with room for a few still
 * pending from earlier reads.  Their methods and paths share one ring of
 * bytes, in the same order, so that an entry stays small: two captures'
 * worth, as they are parts of the requests' own bytes.  A request seen
 * when either is full is dropped and counted.
 */
#define HTTP1_MAX_PENDING 80
#define HTTP1_NAMES_LEN   (2 * SG_CAPTURE_MAX)

/* The parser as the connection table sees it (proto.h). */
extern const struct sg_proto_ops http1_ops;

/* Parser state of one request or response being read. */
struct http1_msg_state {
	uint8_t  phase;          /* internal */
	uint8_t  chunked;
	uint8_t  until_close;
	uint8_t  upgrade_h2c;    /* Upgrade: h2c among its fields */
	uint64_t body_left;      /* Content-Length bytes still expected */
	uint64_t body_seen;
	uint16_t hdr_len;        /* bytes of an incomplete header block kept */
	char     hdr[192];       /* start of a header block split across reads */
};

/* http1_pending.flags: its request's trace context (TRACECTX_LEN bytes)
 * follows its method and path in names[]. */
#define HTTP1_PENDING_TCTX	0x08
/* http1_pending.flags: its request's tracestate follows the context, as
 * a 16-bit length (host order) and the members. */
#define HTTP1_PENDING_TSTATE	0x20

struct http1_pending {
	uint64_t start_ns;
	uint64_t req_body;
	uint16_t names_at;             /* method, then path, in names[] */
	uint16_t dropped_before;       /* dropped requests just before it */
	uint8_t  method_len;
	uint8_t  path_len;
	char     minor;                /* version "1.<minor>" */
	uint8_t  flags;                /* internal */
};

struct http1_conn {
	uint8_t  role;                 /* enum sg_role */
	uint8_t  npending;
	uint8_t  head;                 /* ring index of the oldest pending */
	uint8_t  resp_unpaired;        /* the response in progress answers
	                                * no pending request */
	uint16_t resp_status;
	uint16_t names_used;           /* bytes of names[] pending requests hold */
	uint16_t names_end;            /* where the next request's names go */
	uint16_t dropped_after;        /* dropped requests after the newest */
	uint8_t  switched;             /* upgraded to h2c: the oldest pending
	                                * request goes on in HTTP/2 */
	uint64_t switch_off;           /* where HTTP/2 starts in the buffer */
	uint64_t resp_last_ns;         /* last response byte so far */
	uint64_t last_ns;              /* any activity */
	uint64_t garbage;              /* bytes that were not HTTP/1.x */
	uint64_t unpaired;             /* final responses that answered no
	                                * pending request */
	uint64_t dropped;              /* requests seen with no room left */
	struct http1_msg_state req;    /* request being received/sent */
	struct http1_msg_state resp;   /* response being sent/received */
	struct http1_pending receiving;  /* the request being received */
	struct http1_pending pending[HTTP1_MAX_PENDING];
	char     names[HTTP1_NAMES_LEN];
};

/* Tests: parse every header line the general way, for comparison. */
extern bool http1_fast_off;

void http1_conn_init(struct http1_conn *c, uint8_t role);
/* Feed one read (dir SG_DIR_READ) or write (SG_DIR_WRITE) of len bytes of
 * which the first `captured` are in data; tail is NULL or the last
 * SG_TAIL_LEN bytes.  Completed exchanges are passed to emit: app
 * SG_APP_HTTP, op the method, target the path without the query, status
 * 0 and SG_EX_TIMED_OUT when no response came. */
void http1_on_data(struct http1_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx);
/* The connection closed: a response delimited by close ends here; pending
 * requests without a response end as timed_out. */
void http1_on_close(struct http1_conn *c, uint64_t ts_ns,
    sg_emit_fn emit, void *ctx);
/* End requests older than timeout_ns as timed_out.  Returns how many. */
unsigned http1_expire(struct http1_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
/* Nothing pending: the connection state may be dropped without loss. */
bool http1_idle(const struct http1_conn *c);
/* Requests awaiting their response. */
unsigned http1_pending(const struct http1_conn *c);

#endif
