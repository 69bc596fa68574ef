/*
 * PostgreSQL frontend/backend protocol 3.0 on one connection, from the
 * bytes one process reads and writes.  Pure: no allocation, no I/O,
 * fixed-size state (about 12 KiB, kept for the connection's life: it
 * remembers the database and the prepared statements).
 *
 * Exchanges: a simple Query (several statements in one Query are one
 * exchange, named by the first) ends at its ReadyForQuery; an Execute of
 * the extended protocol ends at its CommandComplete, EmptyQueryResponse,
 * PortalSuspended or ErrorResponse.  A COPY is the operation that started
 * it.  Start-up, authentication and the encryption requests are skipped;
 * the StartupMessage's database (or user) names every exchange's
 * db_namespace.  Messages are followed by their length across reads and
 * past the capture; ReadyForQuery in the tail of a long response puts the
 * stream back in step.
 */
#ifndef SG_POSTGRES_H
#define SG_POSTGRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Bounds.  Operations in flight (Query, Execute, and the Sync that ends a
 * pipeline): PG_MAX_PENDING; more are dropped and counted.  Statement
 * texts: the first PG_TEXT_MAX bytes of PG_NAMED_STMTS named prepared
 * statements (least recently used out) and of the last PG_ANON_TEXTS
 * queries and unnamed statements (a ring: an Execute still waiting when
 * its text was overwritten is reported without it, counted unknown).
 * Named portals: PG_PORTALS, besides the unnamed one.
 */
#define PG_MAX_PENDING	64
#define PG_NAMED_STMTS	24
#define PG_ANON_TEXTS	16
#define PG_TEXT_MAX	200
#define PG_PORTALS	4
#define PG_KEEP_REQ	(64 + PG_TEXT_MAX + 8)	/* a Parse's name and text */
#define PG_KEEP_RESP	96			/* an ErrorResponse's start */

#define PG_NTEXTS	(PG_NAMED_STMTS + PG_ANON_TEXTS)

/* The parser as the connection table sees it (proto.h). */
extern const struct sg_proto_ops postgres_ops;

/* A statement's text, and where it is: slot and generation. */
struct pg_ref {
	uint32_t gen;
	uint8_t  slot;			/* PG_NO_SLOT: unknown */
};
#define PG_NO_SLOT 0xff

struct pg_text {
	uint64_t name_hash;		/* named statement: its name's hash */
	uint64_t used;			/* last use, for the LRU */
	uint32_t gen;			/* bumped at each reuse of the slot */
	uint8_t  named;			/* findable by name_hash */
	uint8_t  len;
	char     text[PG_TEXT_MAX];
};

struct pg_portal {
	uint64_t      name_hash;
	struct pg_ref stmt;
	uint8_t       used;
};

struct pg_pending {
	uint64_t      start_ns;
	uint64_t      req_size;
	uint64_t      resp_size;
	struct pg_ref stmt;
	uint8_t       kind;		/* internal */
};

/* One direction's framing. */
struct pg_stream {
	uint8_t  phase;			/* internal */
	uint8_t  type;			/* message type; 0 start-up packet */
	uint8_t  hdr_len;		/* header bytes kept */
	uint8_t  gap;			/* body bytes fell past a capture */
	uint8_t  want;			/* the body is kept and read */
	uint8_t  hdr[5];
	uint32_t body_len;
	uint32_t body_seen;
	uint16_t keep_len;
};

struct postgres_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  startup;		/* start-up seen, ReadyForQuery not yet */
	uint8_t  typed_seen;		/* a typed frontend message was seen */
	uint8_t  ssl_wait;		/* encryption requests awaiting their
					 * one-byte answer */
	uint8_t  aborting;		/* an error: Executes up to the Sync
					 * are skipped by the server */
	uint8_t  resp_lost;		/* responses lost until ReadyForQuery */
	uint8_t  copy_in;		/* CopyInResponse: the frontend sends
					 * data, not counted when skipped */
	uint8_t  head_failed;		/* the oldest pending has an error */
	uint8_t  orphan;		/* an unpaired answer before the next
					 * ReadyForQuery (counted once) */
	uint8_t  npending;
	uint8_t  head;
	uint8_t  nops;			/* pending Queries and Executes */
	uint8_t  anon_next;
	uint8_t  portal_next;
	uint16_t dropped_pending;	/* dropped operations not answered */
	uint64_t stamp;			/* LRU clock */
	uint64_t group_start;		/* first request byte since the last
					 * operation (0: none) */
	uint64_t group_size;
	struct pg_ref group_stmt;	/* first statement of the pipeline */
	struct pg_ref unnamed;		/* the unnamed statement */
	uint64_t resp_last_ns;
	uint64_t last_ns;
	uint64_t unparsed;
	uint64_t unpaired;
	uint64_t dropped;
	uint64_t unknown;
	char     head_error[SG_ERROR_MAX];
	char     db[SG_DBNAME_MAX];
	struct pg_stream req;
	struct pg_stream resp;
	char     req_keep[PG_KEEP_REQ];
	char     resp_keep[PG_KEEP_RESP];
	struct pg_portal portals[PG_PORTALS + 1];	/* [0]: unnamed */
	struct pg_pending pending[PG_MAX_PENDING];
	struct pg_text texts[PG_NTEXTS];	/* named, then the ring */
};

void postgres_conn_init(struct postgres_conn *c, uint8_t role);
/* One read (SG_DIR_READ) or write of len bytes, the first `captured` in
 * data; tail NULL or the last SG_TAIL_LEN bytes.  Exchanges: app
 * SG_APP_POSTGRESQL, op the statement's keyword, collection its table,
 * target its text (as sent, cut at PG_TEXT_MAX), error the SQLSTATE. */
void postgres_on_data(struct postgres_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx);
void postgres_on_close(struct postgres_conn *c, uint64_t ts_ns,
    sg_emit_fn emit, void *ctx);
unsigned postgres_expire(struct postgres_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
bool postgres_idle(const struct postgres_conn *c);
unsigned postgres_pending(const struct postgres_conn *c);
enum sg_sniff postgres_sniff(const uint8_t *data, size_t captured,
    uint8_t dir, uint16_t port);

#endif
