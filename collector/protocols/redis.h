/*
 * Redis (RESP2 and RESP3) command/reply pairing on one connection, from
 * the bytes one process reads and writes.  Pure: no allocation, no I/O,
 * fixed-size state.
 *
 * Requests are arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or
 * inline commands ("PING\r\n"); replies are any RESP value, aggregates
 * nested.  Commands are answered in order, so pipelined commands wait in a
 * FIFO.  RESP3 attributes ('|') precede a reply and are not one; pushes
 * ('>') are out of band, as are the messages of a subscribed RESP2
 * connection: neither answers a command, except the confirmation that
 * answers a SUBSCRIBE-like command.  Bulk strings are skipped by count
 * across reads; when framing falls past the captured bytes the stream is
 * lost until a read or write that starts a message after one that ended
 * with CRLF.
 *
 * Exchanges: app SG_APP_REDIS, op the command name upper-cased (the first
 * word only: "CLIENT", "CONFIG"), target the command, its first argument
 * and "?" for each other one ("SET key ?"), error[] the first word of an
 * error reply ("ERR", "WRONGTYPE").
 */
#ifndef SG_REDIS_H
#define SG_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Bounds.  REDIS_MAX_PENDING commands await their replies (redis-benchmark
 * -P 16 pipelines 16; more is counted in dropped).  Aggregates nest
 * REDIS_MAX_DEPTH deep at most (deeper: the stream is lost).  The first
 * REDIS_KEY_LEN - 1 bytes of a key are kept, REDIS_LINE_LEN - 1 of a line
 * split across reads (the rest of a longer line is skipped).
 */
#define REDIS_MAX_PENDING 64
#define REDIS_MAX_DEPTH   16
#define REDIS_KEY_LEN     64
#define REDIS_LINE_LEN    48
#define REDIS_WORD_LEN    SG_METHOD_MAX	/* command names, push kinds */
#define REDIS_MAX_QMARKS  16		/* "?"s shown in a target */

extern const struct sg_proto_ops redis_ops;
/* Tests: every message the general way, not the common ones' one pass
 * (so that the two can be compared). */
extern bool redis_fast_off;

/* One direction: the parser of a stream of RESP values. */
struct redis_stream {
	uint8_t  phase;			/* internal */
	uint8_t  depth;			/* open aggregates */
	uint8_t  top;			/* type byte of the top-level value */
	uint8_t  line_len;		/* bytes kept in line[] */
	uint8_t  line_long;		/* line[] overflowed: rest skipped */
	uint8_t  capture;		/* where the bulk being read goes */
	uint8_t  word_len;
	uint8_t  key_len;
	uint8_t  prev_crlf;		/* the last read/write ended in CRLF */
	uint8_t  blind;			/* a framing line fell past the capture */
	uint8_t  has_third;		/* third top-level element an integer */
	uint8_t  in_msg;		/* a message has begun */
	uint8_t  cut;			/* RD_CUT_*: captures incomplete */
	uint16_t attr;			/* bit d: level d is an attribute */
	int64_t  third;			/* its value (push counts) */
	uint32_t index;			/* elements done at level 1 */
	uint32_t nelems;		/* elements of the top-level aggregate */
	uint64_t bulk_left;		/* payload + CRLF bytes still to come */
	uint64_t size;			/* bytes of the message so far */
	uint64_t start_ns;
	uint64_t left[REDIS_MAX_DEPTH];	/* elements left per open aggregate */
	char     line[REDIS_LINE_LEN];
	char     word[REDIS_WORD_LEN];	/* first element / error word */
	char     key[REDIS_KEY_LEN];	/* second element of a request */
};

struct redis_pending {
	uint64_t start_ns;
	uint64_t size;
	uint32_t nargs;			/* arguments after the key */
	uint8_t  flags;			/* SG_EX_* known at request time */
	uint8_t  kind;			/* internal: subscribe-like or not */
	uint8_t  has_key;
	char     op[REDIS_WORD_LEN];
	char     key[REDIS_KEY_LEN];
};

struct redis_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  npending;
	uint8_t  head;
	uint8_t  subscribed;		/* a SUBSCRIBE-like command was sent */
	uint64_t last_ns;
	uint64_t unparsed;
	uint64_t unpaired;
	uint64_t dropped;
	struct redis_stream req;
	struct redis_stream resp;
	struct redis_pending pending[REDIS_MAX_PENDING];
};

void redis_conn_init(struct redis_conn *c, uint8_t role);
void redis_on_data(struct redis_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx);
void redis_on_close(struct redis_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx);
unsigned redis_expire(struct redis_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
bool redis_idle(const struct redis_conn *c);
unsigned redis_pending(const struct redis_conn *c);
enum sg_sniff redis_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port);

#endif
