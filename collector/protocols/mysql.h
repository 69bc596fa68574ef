/*
 * The MySQL/MariaDB client/server protocol on one connection, from the
 * bytes one process reads and writes.  Pure: no allocation, no I/O,
 * fixed-size state, so it is unit-tested and fuzzed on its own.
 *
 * Everything travels in packets: a 3-byte little-endian payload length
 * and a sequence id.  A client writes commands (sequence id 0), the
 * server answers each with OK, ERR, or a result set (column count,
 * column definitions, rows, an EOF/OK terminator), in order: the
 * protocol is request/response, so a new command also ends the previous
 * response when its terminator was past the capture.  Only the first
 * `captured` bytes of each read/write are seen; packets are followed by
 * their length across reads and skipped by count.
 *
 * Reported (exchanges, app SG_APP_MYSQL):
 *   COM_QUERY            op and collection from sql_describe(), target
 *                        the statement's text as sent
 *   COM_STMT_EXECUTE,    the text of the statement prepared under its
 *   COM_STMT_BULK_EXEC.  id (SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN
 *                        when its COM_STMT_PREPARE was not seen)
 *   COM_STMT_PREPARE     only when it fails (the statement did not run);
 *                        a success maps the statement id to the text
 *   error[]              an ERR packet's error number, decimal ("1146")
 * Not reported (their responses are followed all the same):
 *   COM_INIT_DB (sets db_namespace), COM_PING, COM_QUIT, COM_STMT_CLOSE
 *   (forgets the statement), COM_STMT_RESET, COM_STMT_FETCH,
 *   COM_STMT_SEND_LONG_DATA, and the other administrative commands.
 * db_namespace: the database of the handshake response (when
 * CLIENT_CONNECT_WITH_DB), of a COM_INIT_DB answered OK, or of an OK's
 * session-state change (USE db).
 */
#ifndef SG_MYSQL_H
#define SG_MYSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Commands awaiting their responses: one at a time, except when a client
 * pipelines (MariaDB's direct execution writes PREPARE and EXECUTE
 * together).  A command seen when all are taken is dropped and counted.
 */
#define MYSQL_MAX_PENDING 4
/* Prepared statements remembered per connection (id -> text); the
 * oldest is forgotten (counted as dropped) to make room. */
#define MYSQL_MAX_STMTS   16
/* First bytes of a packet kept to read it: a command byte and a
 * statement's text as long as a target, a greeting, a handshake
 * response with its database. */
#define MYSQL_KEEP        320
/* All told, struct mysql_conn is about 6.5 kB, kept as long as its
 * connection (keep_state: the statements outlive exchanges). */

/* The parser as the connection table sees it (proto.h). */
extern const struct sg_proto_ops mysql_ops;

/* One direction's packet framing. */
struct mysql_stream {
	uint8_t  hdr[4];		/* a packet header split across reads */
	uint8_t  hdr_len;
	uint8_t  in_packet;		/* inside a payload of plen bytes */
	uint8_t  handled;		/* the packet was looked at */
	uint8_t  gap;			/* bytes of it fell past the capture */
	uint8_t  lost;			/* framing lost: past the capture */
	uint8_t  cont;			/* continues a 0xffffff-byte packet */
	uint8_t  more;			/* the last packet had 0xffffff bytes */
	uint8_t  seq;
	uint32_t plen;
	uint32_t left;			/* payload bytes still to come */
	uint16_t keep_len;
	uint8_t  keep[MYSQL_KEEP];	/* the payload's first visible bytes */
};

struct mysql_pending {
	uint64_t start_ns;
	uint64_t req_size;
	uint32_t stmt_id;		/* COM_STMT_* */
	uint8_t  cmd;			/* command byte */
	uint8_t  report;		/* emitted when answered */
	uint8_t  flags;			/* SG_EX_* known at request time */
	char     op[SG_METHOD_MAX];
	char     collection[SG_COLLECTION_MAX];
	char     target[SG_PATH_MAX];	/* text; COM_INIT_DB: the database */
};

struct mysql_stmt {
	uint32_t id;
	uint8_t  used;
	uint32_t age;			/* larger: prepared later */
	char     text[SG_PATH_MAX];
};

struct mysql_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  handshake;		/* greeting seen, no command yet */
	uint8_t  npending;
	uint8_t  head;
	/* the oldest pending command's response */
	uint8_t  rs;			/* internal: what comes next */
	uint8_t  resp_begun;
	uint8_t  resp_flags;		/* SG_EX_STATUS_UNKNOWN */
	uint8_t  resp_unpaired;		/* a response with no command */
	uint16_t defs_left;		/* column/parameter definitions */
	uint16_t prep_cols;		/* COM_STMT_PREPARE: columns after */
	uint32_t server_caps;
	uint32_t client_caps;
	uint32_t stmt_age;
	uint64_t resp_size;
	uint64_t resp_last_ns;		/* last response byte so far */
	uint64_t last_ns;
	uint64_t unparsed;
	uint64_t unpaired;
	uint64_t dropped;
	uint64_t unknown;		/* executes of statements not known */
	char     error[SG_ERROR_MAX];
	char     db[SG_DBNAME_MAX];
	struct mysql_stream req;
	struct mysql_stream resp;
	struct mysql_pending pending[MYSQL_MAX_PENDING];
	struct mysql_stmt stmts[MYSQL_MAX_STMTS];
};

void mysql_conn_init(struct mysql_conn *c, uint8_t role);
void mysql_on_data(struct mysql_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, sg_emit_fn emit,
    void *ctx);
/* Pending commands end: the one being answered at its last response
 * byte, the others timed out. */
void mysql_on_close(struct mysql_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx);
unsigned mysql_expire(struct mysql_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
bool mysql_idle(const struct mysql_conn *c);
unsigned mysql_pending(const struct mysql_conn *c);
enum sg_sniff mysql_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port);

#endif
