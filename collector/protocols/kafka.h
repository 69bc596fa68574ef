/*
 * Kafka wire protocol: Produce and Fetch exchanges on one connection,
 * from the bytes one process reads and writes.  Pure: no allocation, no
 * I/O, fixed-size state, so it is unit-tested and fuzzed on its own.
 *
 * Every message is an int32 size and that many bytes.  A request's header
 * is api_key, api_version, correlation_id, client_id (and tagged fields in
 * flexible versions); a response's is the correlation_id (and tagged
 * fields).  Messages are followed by their size across reads, and those
 * longer than the capture (Produce with payloads, Fetch responses with
 * records) are skipped by count.  Requests wait for their response in a
 * bounded table and are paired by correlation id (a broker answers in
 * order, so the requests older than the one answered got answers the
 * sensor did not see).
 *
 * Exchanges (app SG_APP_KAFKA):
 *   Produce (api 0) -> op "publish", target the first topic of the
 *     request; error[] the first non-zero error code among the response's
 *     partitions, in decimal ("3": UNKNOWN_TOPIC_OR_PARTITION).  acks=0
 *     has no response: the exchange ends with the request.
 *   Fetch (api 1) -> op "process", target the request's first topic (or
 *     the response's, when an incremental fetch session names none);
 *     error[] the response's error code, else the first non-zero
 *     partition error among the partitions the capture shows.  A Fetch
 *     counts when it delivered something: its response carries records
 *     or an error.  Empty responses (a consumer's long polls, whose number
 *     depends on timing) are not exchanges, nor are Fetches cut off by the
 *     close of the connection (a consumer stopping in the middle of a
 *     poll); one whose response never came within the timeout is.
 *     Fetch v13+ names topics by id: target unknown.
 *   Other APIs (ApiVersions, Metadata, Heartbeat, ...) are followed so
 *     that the pairing stays in step, but are not exchanges.
 */
#ifndef SG_KAFKA_H
#define SG_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "msg.h"
#include "proto.h"

/*
 * Requests awaiting their response, per connection.  librdkafka keeps at
 * most 5 in flight per connection when idempotent, kafkajs a few; a
 * request seen when the table is full is dropped and counted.
 */
#define KAFKA_MAX_PENDING 32
/* Kafka refuses topic names longer than 249 characters. */
#define KAFKA_TOPIC_MAX   250
/* The first bytes of a message kept to parse it when it spans reads:
 * the header, a client_id and the first topic of the body. */
#define KAFKA_HEAD_LEN    512

/* The parser as the connection table sees it (proto.h). */
extern const struct sg_proto_ops kafka_ops;

/* A request awaiting its response. */
struct kafka_pending {
	uint64_t start_ns;
	uint64_t size;			/* bytes on the wire */
	int32_t  corr;			/* correlation id */
	int16_t  api;			/* api_key */
	int16_t  version;
	uint8_t  flags;			/* internal */
	uint8_t  topic_len;
	char     topic[KAFKA_TOPIC_MAX];
};

/* One direction: a message being read, followed by its size. */
struct kafka_stream {
	uint8_t  phase;			/* internal */
	uint8_t  size_len;		/* bytes of the size field seen */
	uint8_t  parsed;		/* head parsed */
	uint8_t  blind;			/* part of the head was past the
					 * capture */
	uint8_t  size_buf[4];
	uint32_t size;			/* bytes after the size field */
	uint32_t left;			/* of them, still to come */
	uint16_t head_len;
	uint64_t start_ns;		/* the message's first byte */
	uint8_t  head[KAFKA_HEAD_LEN];	/* its first bytes */
};

struct kafka_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  npending;
	uint8_t  first;			/* ring index of the oldest pending */
	uint8_t  answering;		/* the response being read answers
					 * `answer` */
	uint8_t  ans_flags;		/* SG_EX_* learnt from the response */
	uint8_t  ans_report;		/* a Fetch that delivered something */
	uint8_t  req_ok;		/* req_cur holds the request read */
	uint8_t  cand_valid;		/* role unknown: a request seen ... */
	uint8_t  cand_dir;		/* ... in this direction ... */
	int32_t  cand_corr;		/* ... with this correlation id */
	char     ans_error[SG_ERROR_MAX];
	uint32_t dropped_unanswered;	/* dropped requests still to be
					 * answered (not unpaired then) */
	uint64_t last_ns;
	uint64_t unparsed;
	uint64_t unpaired;
	uint64_t dropped;
	uint64_t unknown;		/* Fetches whose response could not
					 * be told empty or not */
	struct kafka_stream req;
	struct kafka_stream resp;
	struct kafka_pending req_cur;	/* the request being read */
	struct kafka_pending answer;	/* the request being answered */
	struct kafka_pending pending[KAFKA_MAX_PENDING];
};

void kafka_conn_init(struct kafka_conn *c, uint8_t role);
/* Feed one read (dir SG_DIR_READ) or write (SG_DIR_WRITE) of len bytes of
 * which the first `captured` are in data. */
void kafka_on_data(struct kafka_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, sg_emit_fn emit,
    void *ctx);
/* The connection closed: Produce requests without a response end timed
 * out; Fetches in flight are not exchanges. */
void kafka_on_close(struct kafka_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx);
/* End requests older than timeout_ns (0: none) as timed out. */
unsigned kafka_expire(struct kafka_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx);
bool kafka_idle(const struct kafka_conn *c);
unsigned kafka_pending(const struct kafka_conn *c);
/* What the first bytes of a connection's read or write say. */
enum sg_sniff kafka_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port);

#endif
