/*
 * What every protocol parser of the collector provides, and what it
 * produces.  A parser follows one connection from the bytes one process
 * reads and writes, and emits an exchange (a request and its response, or
 * what is known of one) each time one ends.  Parsers are pure: no
 * allocation, no I/O, state of a fixed size the connection table owns, so
 * each is unit-tested, benchmarked and fuzzed on its own.  One file per
 * protocol under collector/protocols/; the registry (proto.c) lists them.
 */
#ifndef SG_PROTO_H
#define SG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "events.h"
#include "msg.h"

/* Parsers (wire protocols), in the order detection tries them. */
enum sg_proto {
	SG_PROTO_NONE = 0,	/* not known yet, or none matched */
	SG_PROTO_HTTP1,
	SG_PROTO_HTTP2,
	SG_PROTO_POSTGRES,
	SG_PROTO_MYSQL,
	SG_PROTO_KAFKA,
	SG_PROTO_REDIS,
	SG_PROTO_MEMCACHED,
	SG_PROTO_MAX
};

/* sg_exchange.flags */
#define SG_EX_TIMED_OUT		0x01	/* no response: timeout, close, reset */
#define SG_EX_STATUS_UNKNOWN	0x02	/* a response whose status the sensor
					 * could not read (never guessed) */
#define SG_EX_OP_UNKNOWN	0x04	/* op could not be read */
#define SG_EX_TARGET_UNKNOWN	0x08	/* target could not be read */
#define SG_EX_APP_INFERRED	0x10	/* gRPC told by the message framing
					 * of a body, its content-type being a
					 * reference the sensor could not
					 * resolve */
/* The request carried a valid W3C traceparent (collector/protocols/
 * tracectx.h): trace_id and parent_span_id are the caller's, and
 * SG_EX_TRACE_SAMPLED its sampled flag. */
#define SG_EX_TRACE_CTX		0x20
#define SG_EX_TRACE_SAMPLED	0x40
/* A traceparent that was not valid (or two of them): ignored. */
#define SG_EX_TRACE_INVALID	0x80

/*
 * Databases and messaging use the same fields:
 *   op       the operation: "SELECT", "GET", "set"; Kafka: "publish"
 *            (Produce) or "process" (Fetch)
 *   target   SQL: the statement's text as sent (the collector replaces
 *            its literals); Redis, memcached: the command and its key,
 *            other arguments as "?"; Kafka: the topic
 *   status   0; an error is error[], the flags say what is unknown
 */
struct sg_exchange {
	uint8_t  app;			/* enum sg_app (msg.h) */
	uint8_t  role;			/* SG_ROLE_SERVER or SG_ROLE_CLIENT */
	uint8_t  flags;			/* SG_EX_* */
	uint64_t start_ns;		/* monotonic: first request byte seen */
	uint64_t end_ns;		/* monotonic: last response byte seen */
	/* HTTP: the method.  gRPC: "" (the HTTP method is always POST). */
	char     op[SG_METHOD_MAX];
	/* HTTP: the request target without the query.  gRPC: the method,
	 * "/package.Service/Method". */
	char     target[SG_PATH_MAX];
	char     version[4];		/* HTTP: "1.0", "1.1", "2" */
	/* HTTP: the status code (0: none).  gRPC: the status code. */
	uint32_t status;
	uint64_t req_size;		/* body (HTTP) or message (gRPC) bytes */
	uint64_t resp_size;
	/* Databases: the table the statement names ("" none or unknown). */
	char     collection[SG_COLLECTION_MAX];
	/* Databases: the database, when the connection's start told it. */
	char     db_namespace[SG_DBNAME_MAX];
	/* Databases and messaging: "" success; else what failed: the
	 * SQLSTATE ("42P01"), MySQL's error number ("1064"), the Redis
	 * error's first word ("ERR", "WRONGTYPE"), memcached's "ERROR",
	 * "CLIENT_ERROR" or "SERVER_ERROR", Kafka's error code ("3"). */
	char     error[SG_ERROR_MAX];
	/* With SG_EX_TRACE_CTX: the trace the request belongs to, and the
	 * span of the caller that sent it. */
	uint8_t  trace_id[16];
	uint8_t  parent_span_id[8];
	/* With SG_EX_TRACE_CTX: the request's W3C tracestate, whole members
	 * only (tracectx.h), tracestate_len bytes without a NUL; NULL when
	 * it had none.  The parser's memory: valid during emit only. */
	const char *tracestate;
	uint16_t tracestate_len;
	uint8_t  tracestate_flags;	/* SG_EX_TSTATE_* */
};

/* sg_exchange.tracestate_flags, with SG_EX_TRACE_CTX only: a tracestate
 * of the request was not valid (none is kept), or members of it were
 * left out (too long, or past what the sensor saw of the request). */
#define SG_EX_TSTATE_INVALID	0x01
#define SG_EX_TSTATE_CUT	0x02

/* An empty exchange: every number zero, every string "", no trace
 * context.  A parser ends each string it writes with a NUL, and no
 * reader looks past it: clearing the whole 500 bytes for every
 * exchange was half of Redis's rd_end_oldest. */
static inline void
proto_exchange_init(struct sg_exchange *ex)
{
	ex->app = 0;
	ex->role = 0;
	ex->flags = 0;
	ex->start_ns = 0;
	ex->end_ns = 0;
	ex->op[0] = '\0';
	ex->target[0] = '\0';
	ex->version[0] = '\0';
	ex->status = 0;
	ex->req_size = 0;
	ex->resp_size = 0;
	ex->collection[0] = '\0';
	ex->db_namespace[0] = '\0';
	ex->error[0] = '\0';
	memset(ex->trace_id, 0, sizeof(ex->trace_id));
	memset(ex->parent_span_id, 0, sizeof(ex->parent_span_id));
	ex->tracestate = NULL;
	ex->tracestate_len = 0;
	ex->tracestate_flags = 0;
}

typedef void (*sg_emit_fn)(void *ctx, const struct sg_exchange *ex);

/* How long an exchange may wait for its response, per application
 * protocol (a gRPC stream may rightly last far longer than an HTTP
 * request); 0: no limit, it ends with its connection. */
struct sg_timeouts {
	uint64_t ns[SG_APP_MAX];
};

/* Per-connection counts a parser keeps; the table adds up what changed. */
struct sg_proto_counters {
	uint64_t unparsed;	/* bytes that were not this protocol */
	uint64_t unpaired;	/* responses to requests not seen */
	uint64_t dropped;	/* requests seen with no room to keep */
	uint64_t unknown;	/* fields that could not be resolved (HPACK
				 * references to entries never seen) */
};

/*
 * A connection that changes protocol in-band: HTTP/1.1's Upgrade: h2c
 * answered 101.  The request that asked is answered in the new protocol,
 * which takes it over with the bytes after the switch.
 */
struct sg_handoff {
	uint8_t  proto;			/* enum sg_proto to go on with */
	uint64_t off;			/* where it starts in the last buffer */
	uint64_t start_ns;		/* the request in flight */
	uint64_t req_size;
	char     op[SG_METHOD_MAX];	/* "": not known */
	char     target[SG_PATH_MAX];
	/* SG_EX_TRACE_* of the request, and its context */
	uint8_t  trace_flags;
	uint8_t  trace_id[16];
	uint8_t  parent_span_id[8];
};

/* sniff() verdicts. */
enum sg_sniff {
	SG_SNIFF_NO = 0,	/* not this protocol */
	SG_SNIFF_MAYBE,		/* could be: not enough bytes to tell */
	SG_SNIFF_YES,
};

struct sg_proto_ops {
	const char *name;		/* "http1", ... (logs, tests) */
	uint8_t     id;			/* enum sg_proto */
	uint32_t    apps;		/* 1 << enum sg_app it may emit */
	size_t      state_size;	/* bytes of per-connection state */
	/* Whether the state must live as long as the connection (HTTP/2's
	 * HPACK tables), or may be dropped whenever idle() (HTTP/1). */
	bool        keep_state;
	/* Whether the first captured bytes of a read (dir SG_DIR_READ) or
	 * write of a connection not yet known are this protocol.  port is
	 * the connection's local port for a server, its peer's for a
	 * client (0 unknown): a hint only. */
	enum sg_sniff (*sniff)(const uint8_t *data, size_t captured,
	    uint8_t dir, uint16_t port);
	void     (*init)(void *st, uint8_t role);
	/* One read or write of len bytes, the first `captured` in data;
	 * tail is NULL or its last SG_TAIL_LEN bytes. */
	void     (*on_data)(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
	    const uint8_t *data, size_t captured, const uint8_t *tail,
	    sg_emit_fn emit, void *ctx);
	/* The connection closed: exchanges delimited by close end, those
	 * without a response end timed out. */
	void     (*on_close)(void *st, uint64_t ts_ns, sg_emit_fn emit,
	    void *ctx);
	/* End requests waiting longer than their application's timeout
	 * as timed out; how many. */
	unsigned (*expire)(void *st, uint64_t now_ns,
	    const struct sg_timeouts *to, sg_emit_fn emit, void *ctx);
	/* Nothing in flight: no exchange would be lost with the state. */
	bool     (*idle)(const void *st);
	/* Requests awaiting their response (cut off when the sensor stops). */
	unsigned (*pending)(const void *st);
	/* The role, as learnt from the traffic when it was SG_ROLE_UNKNOWN. */
	uint8_t  (*role)(const void *st);
	void     (*counters)(const void *st, struct sg_proto_counters *out);
	/* Optional: whether the last on_data() handed the connection over
	 * (then h says to what, from where, with which request). */
	bool     (*handoff)(const void *st, struct sg_handoff *h);
	/* Optional: take a connection over, after init(). */
	void     (*adopt)(void *st, uint8_t role, const struct sg_handoff *h);
	/* Optional, servers: the traceparent of the newest request read
	 * so far (SG_EX_TRACE_CTX with the ids, and SG_EX_TRACE_SAMPLED),
	 * 0 when it had none; -1 when no request is in flight (the read
	 * was a control frame): no request starts.  Asked after each read,
	 * so that the request's context is fixed as it starts.  Without
	 * it, every read may start one. */
	int      (*trace_ctx)(const void *st, uint8_t trace_id[16],
	    uint8_t parent_id[8]);
};

/* [ebpf] heuristic_sql_detect: whether the SQL protocols are detected on
 * any port (their framing and a statement keyword), or only on the known
 * ones (5432, 3306) and on connections whose start was seen.  Sniffers
 * ask; the collector sets it with its configuration. */
void proto_set_sql_heuristic(bool on);
bool proto_sql_heuristic(void);

/* The parser for id, or NULL. */
const struct sg_proto_ops *proto_ops(uint8_t id);
/* The parsers needed for the apps (1 << enum sg_app): 1 << enum sg_proto. */
uint32_t proto_for_apps(uint32_t apps);
/* The first enabled parser (enabled: bit 1 << id) whose sniff says yes;
 * SG_PROTO_NONE when none does.  *maybe is set when one could still. */
uint8_t proto_detect(uint32_t enabled, const uint8_t *data, size_t captured,
    uint8_t dir, uint16_t port, bool *maybe);

#endif
