/*
 * HTTP/2 (RFC 9113) and gRPC over it, followed on one connection from the
 * bytes one process reads and writes.  Pure: no allocation, no I/O, state
 * of a fixed size (struct http2_conn: 15,736 bytes on x86-64, of which
 * 9,856 are the two HPACK decoders), so it is unit-tested, benchmarked
 * and fuzzed on its own.
 *
 * Server side: requests are read, responses written; client side: the
 * reverse.  A connection whose role is unknown (it predates the sensor)
 * takes it from the traffic: the side that sends the client preface, or a
 * header block with :method, is the client's (one with :status, the
 * server's).
 *
 * Each stream is one exchange, emitted when its response ends
 * (END_STREAM).  One that ends otherwise is SG_EX_TIMED_OUT with status 0:
 * reset (RST_STREAM; a gRPC one has the code its client reports, e.g.
 * CANCELLED), refused by the server's GOAWAY (gRPC: UNAVAILABLE), expired
 * (no frame of it for longer than the timeout) or cut by the close.  A
 * request whose content-type is application/grpc... makes an SG_APP_GRPC
 * exchange: op "", target the :path, status the grpc-status of the
 * trailers (or of a trailers-only response; without one, the code gRPC
 * maps an HTTP error to, and for a 200 unknown).
 *
 * What was not seen is not guessed.  The sensor may join a connection
 * late, see only the first `captured` bytes of a read, or miss frames: a
 * header block not decoded whole makes its direction's HPACK table
 * unknown (hpack_mark_unknown), and a field that then cannot be resolved
 * is reported as unknown (SG_EX_OP_UNKNOWN, SG_EX_TARGET_UNKNOWN,
 * SG_EX_STATUS_UNKNOWN).  A request whose content-type could not be read
 * may be gRPC: unless its response shows it is (content-type
 * application/grpc, grpc-status), it is reported as HTTP without a status
 * (an HTTP 200 may be a gRPC error); a method other than POST settles it.
 * Frame boundaries lost (a frame header past the capture, bytes that
 * cannot be frames) are found again at the start of a later read that
 * begins with strictly valid frame headers.  Known approximation: DATA
 * padding whose length octet was not captured is taken as none.
 *
 * Counters (struct sg_proto_counters):
 *   unparsed  bytes not parsed: frames lost until found again;
 *   unpaired  responses that ended on a stream whose request was not
 *             seen (before the sensor joined, or in bytes not parsed);
 *   dropped   requests seen but not followed to their end: no room in the
 *             stream table or the names area, or in flight when bytes of
 *             the connection went unseen and never heard of again (their
 *             end may have been in those bytes: not a timeout);
 *   unknown   fields of emitted exchanges reported unknown (each of op,
 *             target and status counts one).
 * PUSH_PROMISE blocks are decoded (they change the table) and pushed
 * streams otherwise ignored.
 */
#ifndef SG_HTTP2_H
#define SG_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hpack.h"
#include "proto.h"

/*
 * Streams in flight per connection: requests awaiting the end of their
 * response.  Their methods and paths share one area of bytes, packed:
 * a request that finds either full is dropped and counted.  The ids of
 * the last dropped streams are kept so that their responses are not
 * counted again as unpaired.
 */
#define HTTP2_MAX_STREAMS	32
#define HTTP2_NAMES_LEN		2048
#define HTTP2_DROPPED_IDS	16
/*
 * A header block split across reads is kept here until it is whole; one
 * larger than this is not decoded (its direction's table becomes
 * unknown).  A block within one read is decoded in place.  Reads show at
 * most SG_CAPTURE_MAX bytes, so a block longer than that is seen whole
 * only over several short reads.
 */
#define HTTP2_BLOCK_MAX		1024

#define HTTP2_FRAME_HEADER	9
#define HTTP2_PREFACE		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HTTP2_PREFACE_LEN	24

/* http2_stream.flags: its request's trace context (TRACECTX_LEN bytes)
 * follows its method and path in names[]. */
#define HTTP2_STREAM_TCTX	0x0800
/* http2_stream.flags: its tracestate follows the context, as a 16-bit
 * length (host order) and the members. */
#define HTTP2_STREAM_TSTATE	0x2000

struct http2_stream {
	uint64_t start_ns;		/* request HEADERS seen */
	uint64_t last_ns;		/* any frame of the stream */
	uint64_t req_size;		/* DATA payload, padding aside */
	uint64_t resp_size;
	uint32_t id;
	uint16_t flags;			/* internal */
	uint16_t status;		/* :status of the final response */
	uint16_t grpc_status;
	uint16_t names_at;		/* method, then path, in names[] */
	uint8_t  method_len;
	uint8_t  path_len;
};

/* One direction of the connection's bytes (SG_DIR_READ or SG_DIR_WRITE):
 * its framing, and the HPACK decoder of the header blocks sent that way. */
struct http2_side {
	struct hpack_decoder dec;
	uint64_t blk_ts;		/* when the header block began */
	uint32_t stream;		/* frame in progress */
	uint32_t frame_len;
	uint32_t left;			/* its payload bytes still to come */
	uint32_t max_frame;		/* SETTINGS_MAX_FRAME_SIZE of the
					 * receiver, as far as seen */
	uint32_t pending_table;		/* SETTINGS_HEADER_TABLE_SIZE for dec,
					 * applied when acknowledged */
	uint32_t blk_stream;		/* header block being assembled */
	uint16_t blk_len;		/* bytes of it kept in blk[] */
	uint8_t  phase;			/* internal */
	uint8_t  type;			/* frame in progress */
	uint8_t  flags;
	uint8_t  fstate;		/* internal */
	uint8_t  hdr_len;		/* bytes of a frame header kept */
	uint8_t  hdr[HTTP2_FRAME_HEADER];
	uint8_t  fix_len;		/* first payload bytes kept */
	uint8_t  fix[8];
	uint8_t  blk_flags;		/* internal */
	uint8_t  magic_len;		/* preface bytes matched */
	uint8_t  settings_unacked;	/* SETTINGS sent the other way */
	uint8_t  pending_acks;		/* acknowledgements before
					 * pending_table applies */
	uint8_t  blk[HTTP2_BLOCK_MAX];
};

struct http2_conn {
	uint8_t  role;			/* enum sg_role */
	uint8_t  nstreams;
	uint8_t  ndropped;		/* ids in dropped_ids[] */
	uint8_t  conn_flags;		/* internal */
	uint16_t names_used;		/* bytes of names[] streams hold */
	uint32_t last_client_id;	/* highest request stream id seen */
	uint32_t goaway_id;		/* from the server: later streams are
					 * not processed (UINT32_MAX: none) */
	struct sg_proto_counters counters;
	uint64_t blocks_missed;		/* header blocks not decoded whole */
	uint32_t dropped_ids[HTTP2_DROPPED_IDS];
	struct http2_stream streams[HTTP2_MAX_STREAMS];
	struct http2_side side[2];	/* by enum sg_dir */
	char     names[HTTP2_NAMES_LEN];
};

extern const struct sg_proto_ops http2_ops;

#endif
