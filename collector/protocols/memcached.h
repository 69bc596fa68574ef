/*
 * memcached text protocol: command/reply pairing on one connection, from
 * the bytes one process reads and writes.  Pure: no allocation, no I/O,
 * fixed-size state.
 *
 * Commands are lines ("get k1 k2\r\n"); storage commands ("set k 0 0 5")
 * and the meta set ("ms k 5") are followed by a data block of the declared
 * length and CRLF, skipped by count.  Replies are a line ("STORED",
 * "DELETED", "8", "HD"), VALUE blocks up to "END" (get, gets, gat, gats),
 * STAT lines up to "END" (stats), or "VA <size>" and a data block (mg).
 * "noreply" commands end at once: no reply is expected; so do meta
 * commands in quiet mode ('q' flag), flagged status unknown (a reply may
 * still come, then counted unpaired).  "quit" is no operation.  The
 * binary protocol (magic 0x80) is not parsed.
 *
 * Exchanges: app SG_APP_MEMCACHED, op the command as sent ("get", "set"),
 * target the command and its key with the other arguments as one "?"
 * ("set key ?"), but all the keys of a retrieval ("get k1 k2 k3"); error[]
 * "ERROR", "CLIENT_ERROR" or "SERVER_ERROR".
 */
#ifndef SG_MEMCACHED_H
#define SG_MEMCACHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Bounds: MEMCACHED_MAX_PENDING commands await their replies (more are
 * counted in dropped); a line split across reads keeps its first
 * MEMCACHED_LINE_LEN - 1 bytes; a target its first MEMCACHED_TARGET_LEN - 1
 * (a multi-get's keys that do not fit end in " ...").
 */
#define MEMCACHED_MAX_PENDING 64
#define MEMCACHED_LINE_LEN    256
#define MEMCACHED_TARGET_LEN  128

extern const struct sg_proto_ops memcached_ops;

struct memcached_stream {
	uint8_t  phase;			/* internal */
	uint8_t  in_msg;		/* a message has begun */
	uint8_t  prev_crlf;		/* the last read/write ended in LF */
	uint8_t  line_long;		/* line[] overflowed */
	uint8_t  then_done;		/* the reply ends with the data block */
	uint16_t line_len;
	uint64_t data_left;		/* data block + CRLF bytes to come */
	uint64_t size;			/* bytes of the message so far */
	uint64_t start_ns;
	char     line[MEMCACHED_LINE_LEN];
};

struct memcached_pending {
	uint64_t start_ns;
	uint64_t size;
	uint8_t  kind;			/* internal: what reply to expect */
	uint8_t  flags;			/* SG_EX_* known at request time */
	char     op[SG_METHOD_MAX];
	char     target[MEMCACHED_TARGET_LEN];
};

struct memcached_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  npending;
	uint8_t  head;
	uint64_t last_ns;
	uint64_t unparsed;
	uint64_t unpaired;
	uint64_t dropped;
	struct memcached_stream req;
	struct memcached_stream resp;
	struct memcached_pending pending[MEMCACHED_MAX_PENDING];
};

void memcached_conn_init(struct memcached_conn *c, uint8_t role);
void memcached_on_data(struct memcached_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx);
void memcached_on_close(struct memcached_conn *c, uint64_t ts_ns,
    sg_emit_fn emit, void *ctx);
unsigned memcached_expire(struct memcached_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
bool memcached_idle(const struct memcached_conn *c);
unsigned memcached_pending(const struct memcached_conn *c);
enum sg_sniff memcached_sniff(const uint8_t *data, size_t captured,
    uint8_t dir, uint16_t port);

#endif
