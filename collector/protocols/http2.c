/*
 * HTTP/2 and gRPC from captured socket reads and writes (see http2.h).
 *
 * Each direction of the connection is a sequence of frames (the client's
 * starts with the 24-byte preface), followed by counting: a frame header
 * gives the payload length, so payload past the capture is skipped
 * without being seen.  What a frame means is taken from the bytes that
 * were captured: its header always (a header past the capture loses the
 * framing), and its payload when visible: the fields at its start, and
 * the fragments of header blocks.
 *
 * A header block (HEADERS or PUSH_PROMISE, then CONTINUATION frames) is
 * decoded by its direction's HPACK decoder once whole.  Fragments seen
 * in the read that completes the block are used in place; those of
 * earlier reads are kept in a bounded buffer.  A block not seen whole
 * makes the decoder's table unknown, and is delivered as a block of
 * unknown fields: a request is still counted and timed.
 *
 * Streams pair a request with its response.  The stream table holds the
 * requests whose response has not ended; an exchange is emitted when the
 * response ends, or the stream is reset, refused by a GOAWAY, expired or
 * cut by the close of the connection.  Frame boundaries, once lost (a
 * header past the capture, bytes that cannot be frames, the sensor
 * joining late), are found again only at the start of a read whose
 * captured bytes are a chain of strictly valid frame headers.
 */
#include "http2.h"

#include <string.h>

#include "tracectx.h"

/* Frame types (RFC 9113 section 6). */
enum h2_type {
	FT_DATA = 0,
	FT_HEADERS,
	FT_PRIORITY,
	FT_RST_STREAM,
	FT_SETTINGS,
	FT_PUSH_PROMISE,
	FT_PING,
	FT_GOAWAY,
	FT_WINDOW_UPDATE,
	FT_CONTINUATION,
	FT_KNOWN
};

#define FL_END_STREAM	0x01
#define FL_ACK		0x01
#define FL_END_HEADERS	0x04
#define FL_PADDED	0x08
#define FL_PRIORITY	0x20

#define H2_DEFAULT_FRAME	16384		/* SETTINGS_MAX_FRAME_SIZE */
#define H2_LARGEST_FRAME	16777215
#define H2_STREAM_MASK		0x7fffffffu
#define H2_NO_GOAWAY		UINT32_MAX
#define H2_NO_PENDING		UINT32_MAX
#define H2_FRAGS		8	/* block pieces of one read in place */
#define H2_FIX_OFF		0xff	/* fix_len: the entry lost bytes */

#define SET_HEADER_TABLE_SIZE	0x1
#define SET_MAX_FRAME_SIZE	0x5

#define ERR_REFUSED_STREAM	0x7
#define ERR_CANCEL		0x8
#define ERR_ENHANCE_YOUR_CALM	0xb
#define ERR_INADEQUATE_SECURITY	0xc

/* gRPC status codes used when the response does not carry one. */
#define GRPC_CANCELLED		1
#define GRPC_UNKNOWN		2
#define GRPC_PERMISSION_DENIED	7
#define GRPC_RESOURCE_EXHAUSTED	8
#define GRPC_UNIMPLEMENTED	12
#define GRPC_INTERNAL		13
#define GRPC_UNAVAILABLE	14
#define GRPC_UNAUTHENTICATED	16

enum h2_phase {
	PH_START = 0,	/* nothing seen this way yet */
	PH_MAGIC,	/* in the client preface */
	PH_HEADER,	/* in a frame header (hdr_len bytes kept) */
	PH_FIRST,	/* in the first frame header of the server's side of
			 * a connection seen from its start */
	PH_PAYLOAD,	/* in a frame payload (left bytes to come) */
	PH_LOST,	/* frame boundaries unknown */
};

/* side.fstate: the frame in progress. */
#define FS_FIX_BLIND	0x01	/* some of its first 8 payload bytes were
				 * not captured */
#define FS_NO_BLOCK	0x02	/* a CONTINUATION of no block seen */

/* side.blk_flags */
#define BF_OPEN		0x01	/* a block is being assembled */
#define BF_END_STREAM	0x02	/* its HEADERS ended the stream */
#define BF_PUSH		0x04	/* a PUSH_PROMISE's */
#define BF_BROKEN	0x08	/* not all of it was seen */

/* http2_stream.flags */
#define SF_REQ_END	0x0001	/* the request ended */
#define SF_FINAL	0x0002	/* final response headers seen, or a
				 * response block that could not be read */
#define SF_STATUS	0x0004	/* status holds :status */
#define SF_GRPC		0x0008
#define SF_GRPC_STATUS	0x0010	/* grpc_status holds grpc-status */
#define SF_RESP_UNKNOWN	0x0020	/* a response block not read whole: a
				 * grpc-status may have been in it */
#define SF_OP_UNKNOWN	0x0040
#define SF_TARGET_UNKNOWN 0x0080
#define SF_DOUBT	0x0100	/* in flight when bytes of the connection
				 * were not seen: its end may have been in
				 * them */
#define SF_APP_UNKNOWN	0x0200	/* its request's content-type may have been
				 * among the fields not resolved: gRPC or
				 * not, its response may tell */
#define SF_GRPC_INFERRED 0x0400	/* SF_APP_UNKNOWN, and gRPC told by its
				 * body's framing (h2_data_is_grpc_message) */
#define SF_TCTX		HTTP2_STREAM_TCTX
#define SF_TCTX_BAD	0x1000	/* a traceparent not valid, or two */
#define SF_TSTATE	HTTP2_STREAM_TSTATE
#define SF_TSTATE_BAD	0x4000	/* a tracestate not valid */
#define SF_TSTATE_CUT	0x8000	/* members of it left out */


/* h2_fields.tctx */
enum h2_tctx {
	TCTX_NONE = 0,
	TCTX_VALID,	/* one valid traceparent, in tctx_val */
	TCTX_BAD,	/* not valid, cut, or more than one */
};

/* http2_conn.conn_flags */
#define CF_FRESH	0x01	/* seen from its start (role known at init,
				 * or upgraded from HTTP/1.1) */
#define CF_MAGIC	0x02	/* the client preface was seen */

/* How an exchange ends. */
enum h2_end {
	END_RESPONSE,	/* END_STREAM of the response */
	END_RESET,	/* RST_STREAM */
	END_REFUSED,	/* above a GOAWAY's last stream id */
	END_TIMEOUT,	/* expired, or the connection closed */
};

_Static_assert(HTTP2_MAX_STREAMS <= UINT8_MAX &&
    HTTP2_DROPPED_IDS <= UINT8_MAX, "counts fit a byte");
_Static_assert(HTTP2_NAMES_LEN <= UINT16_MAX &&
    HTTP2_BLOCK_MAX <= UINT16_MAX, "offsets fit 16 bits");
_Static_assert(SG_PATH_MAX - 1 <= UINT8_MAX && SG_METHOD_MAX - 1 <= UINT8_MAX,
    "name lengths fit a byte");
_Static_assert(HTTP2_NAMES_LEN >= SG_METHOD_MAX + SG_PATH_MAX,
    "any one request's names fit");
_Static_assert(HTTP2_NAMES_LEN >= SG_METHOD_MAX + SG_PATH_MAX + TRACECTX_LEN +
    TRACESTATE_HDR + TRACESTATE_MAX,
    "any one request's names and trace context fit");
_Static_assert(sizeof(struct http2_conn) <= 16 * 1024,
    "the state is as small as stated");

/* What the fields of one header block say, as far as they are known. */
struct h2_fields {
	unsigned unknown;		/* fields not resolved */
	bool     has_method;
	bool     has_path;
	bool     has_status;
	bool     has_grpc_status;
	bool     bad_method;		/* present but not kept as read */
	bool     bad_path;
	bool     bad_status;
	bool     bad_grpc_status;
	bool     has_type;		/* content-type */
	bool     grpc_type;		/* content-type application/grpc... */
	uint8_t  tctx;			/* enum h2_tctx */
	struct tracectx tctx_val;
	uint8_t  tstate;		/* SG_EX_TSTATE_* */
	uint16_t tstate_len;		/* bytes in tstate_val */
	uint16_t status;
	uint16_t grpc_status;
	uint8_t  method_len;
	uint8_t  path_len;		/* kept, at most SG_PATH_MAX - 1 */
	uint8_t  path_query;		/* where '?' is, or path_len */
	char     method[SG_METHOD_MAX];
	char     path[SG_PATH_MAX];
	char     tstate_val[TRACESTATE_MAX];	/* tracestate members */
};

/* One read or write being parsed, and where exchanges go. */
struct h2_io {
	struct http2_conn	*c;
	struct http2_side	*s;	/* &c->side[dir] */
	uint8_t			 dir;
	const uint8_t		*data;	/* data[0..cap) is visible */
	size_t			 cap;
	uint64_t		 len;	/* bytes the syscall moved */
	uint64_t		 off;	/* parse position in [0, len] */
	uint64_t		 ts;
	sg_emit_fn		 emit;
	void			*ctx;
	size_t			 nfrag;	/* block pieces in data[] */
	struct hpack_frag	 frag[H2_FRAGS];
};

/* How strictly a frame header is checked. */
enum h2_check {
	CHK_SANE,	/* while in step: what any peer sends */
	CHK_STRICT,	/* finding frames: only what peers do send */
};

static uint64_t
h2_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint32_t
h2_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t
h2_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* now - then > timeout, without wrapping when then is in the future. */
static bool
h2_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

static bool
h2_role_known(uint8_t role)
{
	return role == SG_ROLE_SERVER || role == SG_ROLE_CLIENT;
}

/* The direction a process of this role sees requests in. */
static uint8_t
h2_request_dir(uint8_t role)
{
	return role == SG_ROLE_SERVER ? SG_DIR_READ : SG_DIR_WRITE;
}

/* The role of a process that sees requests (the client's frames) in dir. */
static uint8_t
h2_role_of_request_dir(uint8_t dir)
{
	return dir == SG_DIR_READ ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
}

/*
 * Frame headers.
 */
struct h2_frame {
	uint32_t len;
	uint32_t stream;
	uint8_t  type;
	uint8_t  flags;
	uint8_t  rbit;
};

static void
h2_frame_parse(const uint8_t *h, struct h2_frame *f)
{
	f->len = h2_be24(h);
	f->type = h[3];
	f->flags = h[4];
	f->rbit = h[5] >> 7;
	f->stream = h2_be32(h + 5) & H2_STREAM_MASK;
}

/* Flags each type defines: a peer sets no other (strict checks only). */
static const uint8_t h2_flags_defined[FT_KNOWN] = {
	[FT_DATA] = FL_END_STREAM | FL_PADDED,
	[FT_HEADERS] = FL_END_STREAM | FL_END_HEADERS | FL_PADDED |
	    FL_PRIORITY,
	[FT_SETTINGS] = FL_ACK,
	[FT_PUSH_PROMISE] = FL_END_HEADERS | FL_PADDED,
	[FT_PING] = FL_ACK,
	[FT_CONTINUATION] = FL_END_HEADERS,
};

/* Whether a type's frames belong to a stream (1), to the connection
 * (0), or either (-1). */
static int
h2_type_stream(uint8_t type)
{
	switch (type) {
	case FT_SETTINGS:
	case FT_PING:
	case FT_GOAWAY:
		return 0;
	case FT_WINDOW_UPDATE:
		return -1;
	default:
		return 1;
	}
}

/* Payload bytes a frame of this type and flags needs at least. */
static uint32_t
h2_min_payload(uint8_t type, uint8_t flags)
{
	uint32_t pad = (flags & FL_PADDED) ? 1 : 0;

	switch (type) {
	case FT_DATA:
		return pad;
	case FT_HEADERS:
		return pad + ((flags & FL_PRIORITY) ? 5 : 0);
	case FT_PUSH_PROMISE:
		return pad + 4;
	case FT_GOAWAY:
		return 8;
	default:
		return 0;
	}
}

/* The length a type fixes, or -1. */
static int64_t
h2_fixed_payload(uint8_t type, uint8_t flags)
{
	switch (type) {
	case FT_PRIORITY:
		return 5;
	case FT_RST_STREAM:
	case FT_WINDOW_UPDATE:
		return 4;
	case FT_PING:
		return 8;
	case FT_SETTINGS:
		return (flags & FL_ACK) ? 0 : -1;
	default:
		return -1;
	}
}

/* RFC 9113 rules on a whole header: what a peer may send at all
 * (CHK_SANE; other types are extensions, skipped), or also what peers
 * do send (CHK_STRICT: known types, defined flags, reserved bit clear). */
static bool
h2_frame_ok(const struct h2_frame *f, uint32_t max_frame,
    enum h2_check check)
{
	int64_t fixed;
	int on_stream;

	if (f->len > max_frame)
		return false;
	if (f->type >= FT_KNOWN)
		return check == CHK_SANE;
	if (check == CHK_STRICT && (f->rbit ||
	    (f->flags & ~h2_flags_defined[f->type]) != 0))
		return false;
	on_stream = h2_type_stream(f->type);
	if ((on_stream == 1 && f->stream == 0) ||
	    (on_stream == 0 && f->stream != 0))
		return false;
	if ((fixed = h2_fixed_payload(f->type, f->flags)) >= 0 &&
	    f->len != (uint64_t)fixed)
		return false;
	if (f->type == FT_SETTINGS && f->len % 6 != 0)
		return false;
	return f->len >= h2_min_payload(f->type, f->flags);
}

/*
 * The visible bytes of a frame's payload, as far as a strict check can
 * use them: a padding length within the payload, a window increment
 * other than 0.
 */
static bool
h2_payload_ok(const struct h2_frame *f, const uint8_t *p, size_t vis)
{
	if ((f->flags & FL_PADDED) && vis >= 1 &&
	    (f->type == FT_DATA || f->type == FT_HEADERS ||
	    f->type == FT_PUSH_PROMISE) &&
	    p[0] > f->len - h2_min_payload(f->type, f->flags))
		return false;
	if (f->type == FT_WINDOW_UPDATE && vis >= 4 &&
	    (h2_be32(p) & H2_STREAM_MASK) == 0)
		return false;
	return true;
}

/* A frame header cut by the end of the visible bytes: could it be one? */
static bool
h2_partial_ok(const uint8_t *h, size_t vis, uint32_t max_frame,
    uint32_t open_stream)
{
	uint8_t full[HTTP2_FRAME_HEADER];
	struct h2_frame f;

	/* the smallest length the visible bytes allow */
	memset(full, 0, sizeof(full));
	memcpy(full, h, vis);
	if (h2_be24(full) > max_frame)
		return false;
	if (vis < 4)
		return true;
	if (h[3] >= FT_KNOWN || (open_stream != 0) != (h[3] ==
	    FT_CONTINUATION))
		return false;
	if (vis < 5)
		return true;
	h2_frame_parse(full, &f);
	if ((f.flags & ~h2_flags_defined[f.type]) != 0)
		return false;
	if (vis < 6)
		return true;
	if (f.rbit)
		return false;
	if ((h2_fixed_payload(f.type, f.flags) >= 0 &&
	    f.len != (uint64_t)h2_fixed_payload(f.type, f.flags)) ||
	    f.len < h2_min_payload(f.type, f.flags))
		return false;
	return true;
}

/*
 * Whether data[0..cap) of a read of len bytes starts with a chain of
 * strictly valid frames: YES for two or more whole headers, or one whose
 * frame ends the read exactly; MAYBE when what is visible could still be
 * (*frames says how many whole headers were seen); NO otherwise.
 * CONTINUATION frames must follow their HEADERS within the chain.
 */
static enum sg_sniff
h2_chain(const uint8_t *data, size_t cap, uint64_t len, uint32_t max_frame,
    unsigned *frames)
{
	struct h2_frame f;
	uint32_t open_stream = 0;
	uint64_t pos = 0, end;
	size_t vis;

	*frames = 0;
	while (pos < cap) {
		vis = cap - (size_t)pos;
		if (vis < HTTP2_FRAME_HEADER)
			return h2_partial_ok(data + pos, vis, max_frame,
			    open_stream) ? SG_SNIFF_MAYBE : SG_SNIFF_NO;
		h2_frame_parse(data + pos, &f);
		if (!h2_frame_ok(&f, max_frame, CHK_STRICT))
			return SG_SNIFF_NO;
		if ((open_stream != 0) != (f.type == FT_CONTINUATION) ||
		    (open_stream != 0 && f.stream != open_stream))
			return SG_SNIFF_NO;
		vis -= HTTP2_FRAME_HEADER;
		if (!h2_payload_ok(&f, data + pos + HTTP2_FRAME_HEADER,
		    (size_t)h2_min(vis, f.len)))
			return SG_SNIFF_NO;
		if ((f.type == FT_HEADERS || f.type == FT_PUSH_PROMISE ||
		    f.type == FT_CONTINUATION) &&
		    !(f.flags & FL_END_HEADERS))
			open_stream = f.stream;
		else
			open_stream = 0;
		(*frames)++;
		end = pos + HTTP2_FRAME_HEADER + f.len;
		if (*frames >= 2 || end == len)
			return SG_SNIFF_YES;
		pos = end;
	}
	return SG_SNIFF_MAYBE;
}

static enum sg_sniff
h2_sniff(const uint8_t *data, size_t captured, uint8_t dir, uint16_t port)
{
	size_t n = h2_min(captured, HTTP2_PREFACE_LEN);
	unsigned frames;

	(void)dir;
	(void)port;
	if (data == NULL || captured == 0)
		return SG_SNIFF_MAYBE;
	if (memcmp(data, HTTP2_PREFACE, n) == 0)
		return n == HTTP2_PREFACE_LEN ? SG_SNIFF_YES : SG_SNIFF_MAYBE;
	/* a connection joined mid-way: the length of the read is not known
	 * here, so one frame that ends the capture exactly is taken */
	return h2_chain(data, captured, captured, H2_DEFAULT_FRAME, &frames);
}

/*
 * Streams.
 */
static struct http2_stream *
h2_stream_find(struct http2_conn *c, uint32_t id)
{
	unsigned i;

	for (i = 0; i < c->nstreams; i++)
		if (c->streams[i].id == id)
			return &c->streams[i];
	return NULL;
}

static void
h2_remember_dropped(struct http2_conn *c, uint32_t id)
{
	if (c->ndropped == HTTP2_DROPPED_IDS) {
		memmove(&c->dropped_ids[0], &c->dropped_ids[1],
		    (HTTP2_DROPPED_IDS - 1) * sizeof(c->dropped_ids[0]));
		c->ndropped--;
	}
	c->dropped_ids[c->ndropped++] = id;
}

/* A response ended on a stream not in flight: it answers a request not
 * seen, unless that one was dropped (counted then). */
static void
h2_unpaired(struct http2_conn *c, uint32_t id)
{
	unsigned i;

	for (i = 0; i < c->ndropped; i++) {
		if (c->dropped_ids[i] != id)
			continue;
		memmove(&c->dropped_ids[i], &c->dropped_ids[i + 1],
		    (c->ndropped - i - 1) * sizeof(c->dropped_ids[0]));
		c->ndropped--;
		return;
	}
	c->counters.unpaired++;
}

/* Names as kept: the method if it can be read, the path (for HTTP
 * without its query). */
static void
h2_kept_names(const struct h2_fields *f, size_t *mlen, size_t *plen)
{
	*mlen = f->has_method && !f->bad_method ? f->method_len : 0;
	*plen = 0;
	if (f->has_path && !f->bad_path)
		*plen = f->grpc_type ? f->path_len : f->path_query;
}

/* Flags of a request's fields that could not be read.  f is NULL for a
 * block not seen whole. */
static uint16_t
h2_request_unknowns(const struct h2_fields *f)
{
	uint16_t flags = 0;

	if (f == NULL)
		return SF_OP_UNKNOWN | SF_TARGET_UNKNOWN | SF_APP_UNKNOWN;
	/* gRPC requests are POST with a content-type application/grpc */
	if (!f->has_type && f->unknown > 0 && (!f->has_method ||
	    f->bad_method || (f->method_len == 4 &&
	    memcmp(f->method, "POST", 4) == 0)))
		flags |= SF_APP_UNKNOWN;
	if (f->has_method ? f->bad_method : f->unknown > 0)
		flags |= SF_OP_UNKNOWN;
	if (f->has_path ? f->bad_path : f->unknown > 0)
		flags |= SF_TARGET_UNKNOWN;
	return flags;
}

static void	h2_stream_remove(struct http2_conn *, struct http2_stream *);

/* A stream given up without an exchange: its end was not seen. */
static void
h2_stream_forget(struct http2_conn *c, struct http2_stream *st)
{
	c->counters.dropped++;
	h2_remember_dropped(c, st->id);
	h2_stream_remove(c, st);
}

/* The oldest stream whose end may have been missed, or NULL. */
static struct http2_stream *
h2_oldest_doubtful(struct http2_conn *c)
{
	struct http2_stream *old = NULL;
	unsigned i;

	for (i = 0; i < c->nstreams; i++)
		if ((c->streams[i].flags & SF_DOUBT) && (old == NULL ||
		    c->streams[i].start_ns < old->start_ns))
			old = &c->streams[i];
	return old;
}

static bool
h2_room(const struct http2_conn *c, size_t names)
{
	return c->nstreams < HTTP2_MAX_STREAMS &&
	    c->names_used + names <= HTTP2_NAMES_LEN;
}

/* SF_TSTATE_* of a request with a valid trace context. */
static uint16_t
h2_tstate_flags(const struct h2_fields *f)
{
	return (f->tstate & SG_EX_TSTATE_INVALID ? SF_TSTATE_BAD : 0) |
	    (f->tstate & SG_EX_TSTATE_CUT ? SF_TSTATE_CUT : 0);
}

/* Bytes of names[] the request's tracestate takes after the `before` of
 * its names and context: 0 when it has none, or when there is no room
 * for it (then it is cut, and the request followed without it). */
static size_t
h2_tstate_room(const struct http2_conn *c, const struct h2_fields *f,
    size_t before)
{
	size_t n = TRACESTATE_HDR + f->tstate_len;

	if (f->tstate_len == 0 || (f->tstate & SG_EX_TSTATE_INVALID) ||
	    !h2_room(c, before + n))
		return 0;
	return n;
}

/* Where the stream's tracestate is in names[]. */
static size_t
h2_tstate_at(const struct http2_stream *st)
{
	return (size_t)st->names_at + st->method_len + st->path_len +
	    (st->flags & SF_TCTX ? TRACECTX_LEN : 0);
}

/* The bytes of names[] the stream's tracestate members take (0: none). */
static uint16_t
h2_tstate_len(const struct http2_conn *c, const struct http2_stream *st)
{
	uint16_t n;

	if (!(st->flags & SF_TSTATE))
		return 0;
	memcpy(&n, c->names + h2_tstate_at(st), sizeof(n));
	return n;
}

/* Bytes of names[] the stream holds: method, path, trace context,
 * tracestate. */
static size_t
h2_stream_names(const struct http2_conn *c, const struct http2_stream *st)
{
	return (size_t)st->method_len + st->path_len +
	    (st->flags & SF_TCTX ? TRACECTX_LEN : 0) +
	    (st->flags & SF_TSTATE ? TRACESTATE_HDR + h2_tstate_len(c, st) : 0);
}

/* The stream whose tracestate holds the most bytes of names[], or NULL. */
static struct http2_stream *
h2_largest_tstate(struct http2_conn *c)
{
	struct http2_stream *big = NULL;
	unsigned i;

	for (i = 0; i < c->nstreams; i++)
		if ((c->streams[i].flags & SF_TSTATE) && (big == NULL ||
		    h2_tstate_len(c, &c->streams[i]) > h2_tstate_len(c, big)))
			big = &c->streams[i];
	return big;
}

/* A tracestate gives its bytes back to a request's names: HPACK lets a
 * 512-byte one come in a byte, so without this they could crowd requests
 * out.  Its stream goes on, its tracestate cut. */
static void
h2_tstate_forget(struct http2_conn *c, struct http2_stream *st)
{
	size_t at = h2_tstate_at(st), n = TRACESTATE_HDR + h2_tstate_len(c, st);
	unsigned i;

	memmove(c->names + at, c->names + at + n, c->names_used - at - n);
	c->names_used = (uint16_t)(c->names_used - n);
	for (i = 0; i < c->nstreams; i++)
		if (c->streams[i].names_at > at)
			c->streams[i].names_at = (uint16_t)
			    (c->streams[i].names_at - n);
	st->flags = (uint16_t)((st->flags & ~SF_TSTATE) | SF_TSTATE_CUT);
}

static struct http2_stream *
h2_stream_open(struct http2_conn *c, uint32_t id, uint64_t ts,
    const struct h2_fields *f)
{
	struct http2_stream *st;
	size_t mlen = 0, plen = 0, tlen = 0, slen = 0;
	uint16_t slen16;

	if (f != NULL)
		h2_kept_names(f, &mlen, &plen);
	/* A field not resolved may have been a second traceparent, which
	 * would make this one not valid: then it is not believed. */
	if (f != NULL && f->tctx == TCTX_VALID && f->unknown == 0)
		tlen = TRACECTX_LEN;
	/* streams that may have ended unseen give way to a new one */
	while (!h2_room(c, mlen + plen + tlen) &&
	    (st = h2_oldest_doubtful(c)) != NULL)
		h2_stream_forget(c, st);
	/* and tracestates, which are not counted lost either */
	while (c->nstreams < HTTP2_MAX_STREAMS &&
	    !h2_room(c, mlen + plen + tlen) &&
	    (st = h2_largest_tstate(c)) != NULL)
		h2_tstate_forget(c, st);
	/* then its trace context, which is not counted lost: the request
	 * is followed, as a trace of its own */
	if (!h2_room(c, mlen + plen + tlen))
		tlen = 0;
	if (!h2_room(c, mlen + plen)) {
		c->counters.dropped++;
		h2_remember_dropped(c, id);
		return NULL;
	}
	st = &c->streams[c->nstreams++];
	memset(st, 0, sizeof(*st));
	st->id = id;
	st->start_ns = st->last_ns = ts;
	st->flags = h2_request_unknowns(f);
	if (f != NULL && f->grpc_type)
		st->flags |= SF_GRPC;
	if (tlen > 0)
		st->flags |= SF_TCTX;
	else if (f != NULL && f->tctx == TCTX_BAD)
		st->flags |= SF_TCTX_BAD;
	if (tlen > 0) {
		st->flags |= h2_tstate_flags(f);
		slen = h2_tstate_room(c, f, mlen + plen + tlen);
		if (slen > 0)
			st->flags |= SF_TSTATE;
		else if (f->tstate_len > 0)
			st->flags |= SF_TSTATE_CUT;
	}
	st->names_at = c->names_used;
	st->method_len = (uint8_t)mlen;
	st->path_len = (uint8_t)plen;
	if (mlen > 0)
		memcpy(c->names + c->names_used, f->method, mlen);
	if (plen > 0)
		memcpy(c->names + c->names_used + mlen, f->path, plen);
	if (tlen > 0)
		memcpy(c->names + c->names_used + mlen + plen, &f->tctx_val,
		    tlen);
	if (slen > 0) {
		slen16 = (uint16_t)(slen - TRACESTATE_HDR);
		memcpy(c->names + c->names_used + mlen + plen + tlen, &slen16,
		    sizeof(slen16));
		memcpy(c->names + c->names_used + mlen + plen + tlen +
		    TRACESTATE_HDR, f->tstate_val, slen16);
	}
	c->names_used = (uint16_t)(c->names_used + mlen + plen + tlen + slen);
	return st;
}

/* Takes the stream out of the table, its names out of names[]. */
static void
h2_stream_remove(struct http2_conn *c, struct http2_stream *st)
{
	size_t at = st->names_at, n = h2_stream_names(c, st);
	unsigned i;

	memmove(c->names + at, c->names + at + n, c->names_used - at - n);
	c->names_used = (uint16_t)(c->names_used - n);
	for (i = 0; i < c->nstreams; i++)
		if (c->streams[i].names_at > at)
			c->streams[i].names_at = (uint16_t)
			    (c->streams[i].names_at - n);
	*st = c->streams[--c->nstreams];
}

/* The code a gRPC client reports for a stream reset with err. */
static uint16_t
h2_grpc_code_of_reset(uint32_t err)
{
	switch (err) {
	case ERR_REFUSED_STREAM:
		return GRPC_UNAVAILABLE;
	case ERR_CANCEL:
		return GRPC_CANCELLED;
	case ERR_ENHANCE_YOUR_CALM:
		return GRPC_RESOURCE_EXHAUSTED;
	case ERR_INADEQUATE_SECURITY:
		return GRPC_PERMISSION_DENIED;
	default:
		return GRPC_INTERNAL;
	}
}

/* The code a gRPC client reports for an HTTP status without grpc-status
 * (gRPC's HTTP to gRPC status code mapping). */
static uint16_t
h2_grpc_code_of_http(uint16_t status)
{
	switch (status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

/*
 * The status of an exchange whose response ended; false if unknown.  One
 * that may be gRPC or not is reported as HTTP (its method and path are
 * the same either way) without a status: an HTTP 200 may be a gRPC
 * error.
 */
static bool
h2_final_status(const struct http2_stream *st, uint32_t *status)
{
	if (!(st->flags & SF_GRPC)) {
		if ((st->flags & (SF_STATUS | SF_APP_UNKNOWN)) != SF_STATUS) {
			*status = 0;
			return false;
		}
		*status = st->status;
		return true;
	}
	if (st->flags & SF_GRPC_STATUS) {
		*status = st->grpc_status;
		return true;
	}
	/* no grpc-status: the HTTP status says, if nothing was missed */
	if ((st->flags & (SF_RESP_UNKNOWN | SF_STATUS)) == SF_STATUS &&
	    st->status != 200) {
		*status = h2_grpc_code_of_http(st->status);
		return true;
	}
	*status = 0;
	return false;
}

/* The stream's trace context: SG_EX_TRACE_* flags, and the ids when its
 * request had a valid one. */
static uint8_t
h2_tctx_get(const struct http2_conn *c, const struct http2_stream *st,
    uint8_t trace_id[16], uint8_t parent_id[8])
{
	struct tracectx t;

	if (st->flags & SF_TCTX_BAD)
		return SG_EX_TRACE_INVALID;
	if (!(st->flags & SF_TCTX))
		return 0;
	memcpy(&t, c->names + st->names_at + st->method_len + st->path_len,
	    TRACECTX_LEN);
	memcpy(trace_id, t.trace_id, sizeof(t.trace_id));
	memcpy(parent_id, t.parent_id, sizeof(t.parent_id));
	return SG_EX_TRACE_CTX |
	    (t.flags & TRACECTX_SAMPLED ? SG_EX_TRACE_SAMPLED : 0);
}

/* The stream's tracestate into buf (TRACESTATE_MAX bytes), when it has
 * a trace context for it to go with: SG_EX_TSTATE_* flags. */
static uint8_t
h2_tstate_get(const struct http2_conn *c, const struct http2_stream *st,
    char *buf, uint16_t *len)
{
	*len = 0;
	if (!(st->flags & SF_TCTX))
		return 0;
	if (st->flags & SF_TSTATE_BAD)
		return SG_EX_TSTATE_INVALID;
	if ((*len = h2_tstate_len(c, st)) > 0)
		memcpy(buf, c->names + h2_tstate_at(st) + TRACESTATE_HDR, *len);
	return st->flags & SF_TSTATE_CUT ? SG_EX_TSTATE_CUT : 0;
}

/*
 * The stream's exchange ends.  Without a response (how != END_RESPONSE)
 * it is SG_EX_TIMED_OUT with status 0, save a gRPC stream reset or
 * refused: that is how the call ended, with the code its client reports
 * (CANCELLED, UNAVAILABLE...), and it is counted as such.
 */
static void
h2_stream_end(struct http2_conn *c, struct http2_stream *st, uint64_t ts,
    enum h2_end how, uint32_t err, sg_emit_fn emit, void *ctx)
{
	struct sg_exchange ex;
	char tstate[TRACESTATE_MAX];
	bool grpc = (st->flags & SF_GRPC) != 0;
	uint32_t status = 0;

	proto_exchange_init(&ex);
	ex.app = grpc ? SG_APP_GRPC : SG_APP_HTTP;
	ex.role = c->role;
	ex.start_ns = st->start_ns;
	ex.end_ns = ts;
	ex.req_size = st->req_size;
	ex.resp_size = st->resp_size;
	memcpy(ex.version, "2", 2);
	if (st->flags & SF_GRPC_INFERRED)
		ex.flags |= SG_EX_APP_INFERRED;
	if (!grpc) {
		memcpy(ex.op, c->names + st->names_at, st->method_len);
		ex.op[st->method_len] = '\0';
		if (st->flags & SF_OP_UNKNOWN)
			ex.flags |= SG_EX_OP_UNKNOWN;
	}
	memcpy(ex.target, c->names + st->names_at + st->method_len,
	    st->path_len);
	ex.target[st->path_len] = '\0';
	if (st->flags & SF_TARGET_UNKNOWN)
		ex.flags |= SG_EX_TARGET_UNKNOWN;
	ex.flags |= h2_tctx_get(c, st, ex.trace_id, ex.parent_span_id);
	/* copied: the stream's names go before the exchange is emitted */
	ex.tracestate_flags = h2_tstate_get(c, st, tstate, &ex.tracestate_len);
	if (ex.tracestate_len > 0)
		ex.tracestate = tstate;
	switch (how) {
	case END_RESPONSE:
		if (!h2_final_status(st, &status))
			ex.flags |= SG_EX_STATUS_UNKNOWN;
		break;
	case END_RESET:
		if (grpc)
			status = h2_grpc_code_of_reset(err);
		else
			ex.flags |= SG_EX_TIMED_OUT;
		break;
	case END_REFUSED:
		if (grpc)
			status = GRPC_UNAVAILABLE;
		else
			ex.flags |= SG_EX_TIMED_OUT;
		break;
	case END_TIMEOUT:
		ex.flags |= SG_EX_TIMED_OUT;
		break;
	}
	ex.status = status;
	c->counters.unknown += !!(ex.flags & SG_EX_OP_UNKNOWN) +
	    !!(ex.flags & SG_EX_TARGET_UNKNOWN) +
	    !!(ex.flags & SG_EX_STATUS_UNKNOWN);
	h2_stream_remove(c, st);
	if (emit != NULL)
		emit(ctx, &ex);
}

static void
h2_io_stream_end(struct h2_io *io, struct http2_stream *st, enum h2_end how,
    uint32_t err)
{
	h2_stream_end(io->c, st, io->ts, how, err, io->emit, io->ctx);
}

/*
 * Header fields: what a block says of the exchange.
 */
static bool
h2_name_is(const char *name, size_t nlen, const char *lit, size_t litlen)
{
	return nlen == litlen && memcmp(name, lit, nlen) == 0;
}

#define H2_NAME_IS(name, nlen, lit) \
	h2_name_is(name, nlen, lit, sizeof(lit) - 1)

/* Visible, non-space ASCII: what is kept of methods and paths, so that
 * they stay printable in spans and labels. */
static bool
h2_printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f)
			return false;
	return true;
}

/* Decimal digits, 1 to `digits` of them. */
static bool
h2_parse_number(const char *s, size_t n, size_t digits, uint16_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > digits)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v > UINT16_MAX)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool
h2_is_grpc_type(const char *v, size_t n)
{
	static const char grpc[] = "application/grpc";
	size_t i;

	if (n < sizeof(grpc) - 1)
		return false;
	/* as peers send it; media types are case-insensitive, though */
	if (memcmp(v, grpc, sizeof(grpc) - 1) == 0)
		return true;
	for (i = 0; i < sizeof(grpc) - 1; i++) {
		char ch = v[i] >= 'A' && v[i] <= 'Z' ? v[i] - 'A' + 'a' : v[i];

		if (ch != grpc[i])
			return false;
	}
	return true;
}

static void
h2_field_method(struct h2_fields *f, const char *v, size_t n)
{
	f->has_method = true;
	if (n == 0 || n >= SG_METHOD_MAX || !h2_printable(v, n)) {
		f->bad_method = true;
		return;
	}
	memcpy(f->method, v, n);
	f->method_len = (uint8_t)n;
}

/* The path, cut to what is kept; where its query starts. */
static void
h2_field_path(struct h2_fields *f, const char *v, size_t n)
{
	const char *q;
	size_t keep = h2_min(n, SG_PATH_MAX - 1);

	f->has_path = true;
	if (!h2_printable(v, keep)) {
		f->bad_path = true;
		return;
	}
	memcpy(f->path, v, keep);
	f->path_len = (uint8_t)keep;
	q = memchr(f->path, '?', keep);
	f->path_query = (uint8_t)(q != NULL ? (size_t)(q - f->path) : keep);
}

/* W3C traceparent (request headers, gRPC metadata alike).  A second one
 * makes it not valid.  A value the decoder cut (HPACK_STRING_MAX octets
 * kept) gets the verdict of the whole one: it rests on its first 56
 * octets and on its being longer than 55 (tracectx_parse). */
static void
h2_field_traceparent(struct h2_fields *f, const char *v, size_t n)
{
	if (f->tctx != TCTX_NONE || !tracectx_parse(v, n, &f->tctx_val))
		f->tctx = TCTX_BAD;
	else
		f->tctx = TCTX_VALID;
}

/* W3C tracestate: its members join those of an earlier field.  A value
 * the decoder cut loses its last member, which may be cut too. */
static void
h2_field_tracestate(struct h2_fields *f, const char *v, size_t n, bool cut)
{
	size_t len = f->tstate_len;

	if (f->tstate & SG_EX_TSTATE_INVALID)
		return;
	switch (tracestate_append(f->tstate_val, &len, v, n, cut)) {
	case TRACESTATE_INVALID:
		f->tstate = SG_EX_TSTATE_INVALID;
		f->tstate_len = 0;
		return;
	case TRACESTATE_CUT:
		f->tstate |= SG_EX_TSTATE_CUT;
		break;
	case TRACESTATE_KEPT:
		break;
	}
	f->tstate_len = (uint16_t)len;
}

static void
h2_field(void *ctx, const char *name, size_t nlen, const char *value,
    size_t vlen, unsigned flags)
{
	struct h2_fields *f = ctx;

	/* a value not known has a name not known (hpack.h) */
	if (flags & (HPACK_FIELD_NAME_UNKNOWN | HPACK_FIELD_VALUE_UNKNOWN)) {
		f->unknown++;
		return;
	}
	if (nlen == 0)
		return;
	if (name[0] == ':') {
		if (H2_NAME_IS(name, nlen, ":status") && !f->has_status) {
			f->has_status = true;
			f->bad_status = vlen != 3 ||
			    !h2_parse_number(value, vlen, 3, &f->status) ||
			    f->status < 100;
		} else if (H2_NAME_IS(name, nlen, ":method") &&
		    !f->has_method) {
			h2_field_method(f, value, vlen);
		} else if (H2_NAME_IS(name, nlen, ":path") && !f->has_path) {
			h2_field_path(f, value, vlen);
		}
		return;
	}
	if (H2_NAME_IS(name, nlen, "content-type")) {
		f->has_type = true;
		f->grpc_type = f->grpc_type || h2_is_grpc_type(value, vlen);
	} else if (H2_NAME_IS(name, nlen, "grpc-status") &&
	    !f->has_grpc_status) {
		f->has_grpc_status = true;
		f->bad_grpc_status = !h2_parse_number(value, vlen, 5,
		    &f->grpc_status);
	} else if (H2_NAME_IS(name, nlen, "traceparent")) {
		h2_field_traceparent(f, value, vlen);
	} else if (H2_NAME_IS(name, nlen, "tracestate")) {
		h2_field_tracestate(f, value, vlen,
		    flags & HPACK_FIELD_VALUE_TRUNCATED);
	}
}

/*
 * Exchanges from header blocks and frames.
 */

/* The sender of dir is the client. */
static bool
h2_is_request_dir(const struct http2_conn *c, uint8_t dir)
{
	return h2_role_known(c->role) && dir == h2_request_dir(c->role);
}

static void
h2_learn_role(struct http2_conn *c, uint8_t dir, const struct h2_fields *f)
{
	if (h2_role_known(c->role) || f == NULL)
		return;
	if (f->has_method)
		c->role = h2_role_of_request_dir(dir);
	else if (f->has_status)
		c->role = h2_role_of_request_dir(!dir);
}

static void
h2_request_headers(struct h2_io *io, uint32_t id, bool end_stream,
    uint64_t ts, const struct h2_fields *f)
{
	struct http2_conn *c = io->c;
	struct http2_stream *st;

	if ((st = h2_stream_find(c, id)) != NULL) {
		/* trailers */
		st->last_ns = io->ts;
		if (end_stream)
			st->flags |= SF_REQ_END;
		return;
	}
	/*
	 * A stream begins with its request HEADERS, ids increasing: a block
	 * for an older id is trailers (of a stream no longer in flight),
	 * unless it has a :method (trailers have no pseudo-header).  A
	 * block without one, all of it read, is no request.
	 */
	if (id <= c->last_client_id && (f == NULL || !f->has_method))
		return;
	if (f != NULL && !f->has_method && f->unknown == 0)
		return;
	if (id > c->last_client_id)
		c->last_client_id = id;
	if ((st = h2_stream_open(c, id, ts, f)) == NULL)
		return;
	if (end_stream)
		st->flags |= SF_REQ_END;
	if (c->goaway_id != H2_NO_GOAWAY && id > c->goaway_id)
		h2_io_stream_end(io, st, END_REFUSED, 0);
}

static bool
h2_is_informational(uint16_t status)
{
	return status >= 100 && status < 200;
}

/* What a response block (headers or trailers) says of the stream. */
static void
h2_response_fields(struct http2_stream *st, const struct h2_fields *f)
{
	if (f == NULL) {
		st->flags |= SF_FINAL | SF_RESP_UNKNOWN;
		return;
	}
	/* only a gRPC server answers so (an error page from a proxy in
	 * front of one says nothing either way) */
	if (f->grpc_type || f->has_grpc_status)
		st->flags |= SF_GRPC;
	if (!(st->flags & SF_FINAL)) {
		if (f->has_status && !f->bad_status &&
		    h2_is_informational(f->status))
			return;	/* 100 Continue, 103: the final one follows */
		st->flags |= SF_FINAL;
		if (f->has_status && !f->bad_status) {
			st->status = f->status;
			st->flags |= SF_STATUS;
		}
	}
	if (f->has_grpc_status && !f->bad_grpc_status &&
	    !(st->flags & SF_GRPC_STATUS)) {
		st->grpc_status = f->grpc_status;
		st->flags |= SF_GRPC_STATUS;
	}
	if (f->unknown > 0 || f->bad_grpc_status)
		st->flags |= SF_RESP_UNKNOWN;
}

static void
h2_response_headers(struct h2_io *io, uint32_t id, bool end_stream,
    const struct h2_fields *f)
{
	struct http2_stream *st;

	if ((st = h2_stream_find(io->c, id)) == NULL) {
		if (end_stream)
			h2_unpaired(io->c, id);
		return;
	}
	st->last_ns = io->ts;
	st->flags &= ~SF_DOUBT;	/* it had not ended */
	h2_response_fields(st, f);
	if (end_stream)
		h2_io_stream_end(io, st, END_RESPONSE, 0);
}

/* A header block ended: f is what it says, NULL if it was not seen whole.
 * Blocks of PUSH_PROMISE only keep the table in step. */
static void
h2_on_headers(struct h2_io *io, uint32_t id, uint8_t blk_flags, uint64_t ts,
    const struct h2_fields *f)
{
	struct http2_conn *c = io->c;
	bool end_stream = (blk_flags & BF_END_STREAM) != 0;

	if (blk_flags & BF_PUSH)
		return;
	h2_learn_role(c, io->dir, f);
	/* even ids: streams the server opens (pushed responses) */
	if (!h2_role_known(c->role) || (id & 1) == 0)
		return;
	if (h2_is_request_dir(c, io->dir))
		h2_request_headers(io, id, end_stream, ts, f);
	else
		h2_response_headers(io, id, end_stream, f);
}

/*
 * Whether the DATA frame that ends now holds exactly one gRPC message: a
 * compressed flag (0 or 1) and a big-endian length that is the rest of
 * the frame.  It tells a call whose content-type could not be read (a
 * reference to a table entry the sensor never saw) from plain HTTP.
 */
static bool
h2_data_is_grpc_message(const struct http2_side *s, uint64_t size)
{
	uint32_t at = (s->flags & FL_PADDED) ? 1 : 0;

	if ((s->fstate & FS_FIX_BLIND) || s->fix_len == H2_FIX_OFF ||
	    s->fix_len < at + 5 || size < 5)
		return false;
	return s->fix[at] <= 1 && h2_be32(s->fix + at + 1) == size - 5;
}

/* A request that may be a gRPC call: its content-type could not be read,
 * and its target reads as /package.Service/Method or could not be read
 * either. */
static bool
h2_may_infer_grpc(const struct http2_conn *c, const struct http2_stream *st)
{
	const char *p = c->names + st->names_at + st->method_len;
	const char *slash;

	if ((st->flags & (SF_APP_UNKNOWN | SF_GRPC)) != SF_APP_UNKNOWN)
		return false;
	/* a reference never seen, as on a channel opened before the sensor */
	if (st->flags & SF_TARGET_UNKNOWN)
		return true;
	if (st->path_len < 4 || p[0] != '/')
		return false;
	slash = memchr(p + 1, '/', st->path_len - 1);
	return slash != NULL && slash > p + 1 &&
	    slash < p + st->path_len - 1 &&
	    memchr(slash + 1, '/', (size_t)(p + st->path_len - slash - 1)) ==
	    NULL && memchr(p, '?', st->path_len) == NULL;
}

static void
h2_on_data_frame(struct h2_io *io, uint32_t id, uint64_t size,
    bool end_stream, bool grpc_message)
{
	struct http2_conn *c = io->c;
	struct http2_stream *st;

	if (!h2_role_known(c->role) || (id & 1) == 0)
		return;
	st = h2_stream_find(c, id);
	if (st != NULL && grpc_message && h2_may_infer_grpc(c, st))
		st->flags |= SF_GRPC | SF_GRPC_INFERRED;
	if (h2_is_request_dir(c, io->dir)) {
		if (st == NULL)
			return;
		st->req_size += size;
		st->last_ns = io->ts;
		if (end_stream)
			st->flags |= SF_REQ_END;
		return;
	}
	if (st == NULL) {
		if (end_stream)
			h2_unpaired(c, id);
		return;
	}
	st->resp_size += size;
	st->last_ns = io->ts;
	st->flags &= ~SF_DOUBT;
	if (end_stream)
		h2_io_stream_end(io, st, END_RESPONSE, 0);
}

static void
h2_on_reset(struct h2_io *io, uint32_t id, uint32_t err)
{
	struct http2_stream *st;

	if ((st = h2_stream_find(io->c, id)) != NULL)
		h2_io_stream_end(io, st, END_RESET, err);
}

/* The server will not process the client's streams above last_id. */
static void
h2_on_goaway(struct h2_io *io, uint32_t last_id)
{
	struct http2_conn *c = io->c;
	unsigned i;

	if (!h2_role_known(c->role) || h2_is_request_dir(c, io->dir))
		return;	/* the client's: only pushed streams are refused */
	if (c->goaway_id == H2_NO_GOAWAY || last_id < c->goaway_id)
		c->goaway_id = last_id;
	for (i = c->nstreams; i > 0; i--)
		if (c->streams[i - 1].id > c->goaway_id)
			h2_io_stream_end(io, &c->streams[i - 1], END_REFUSED,
			    0);
}

/*
 * Header blocks.
 */
static void
h2_block_break(struct h2_io *io)
{
	io->s->blk_flags |= BF_BROKEN;
	io->s->blk_len = 0;
	io->nfrag = 0;
}

/* Moves the pieces of the block that lie in this read's data into
 * blk[], for a later read to complete it. */
static void
h2_block_keep(struct h2_io *io)
{
	struct http2_side *s = io->s;
	size_t i;

	for (i = 0; i < io->nfrag; i++) {
		if (io->frag[i].len > (size_t)(HTTP2_BLOCK_MAX - s->blk_len)) {
			h2_block_break(io);
			return;
		}
		memcpy(s->blk + s->blk_len, io->frag[i].data, io->frag[i].len);
		s->blk_len = (uint16_t)(s->blk_len + io->frag[i].len);
	}
	io->nfrag = 0;
}

static void
h2_block_add(struct h2_io *io, const uint8_t *p, size_t n)
{
	if (io->nfrag == H2_FRAGS)
		h2_block_keep(io);
	if (io->s->blk_flags & BF_BROKEN)
		return;
	io->frag[io->nfrag].data = p;
	io->frag[io->nfrag].len = n;
	io->nfrag++;
}

/* The block ends: decoded if it was seen whole, and delivered. */
static void
h2_block_end(struct h2_io *io)
{
	struct http2_side *s = io->s;
	struct hpack_frag frags[H2_FRAGS + 1];
	struct h2_fields f;
	uint8_t flags = s->blk_flags;
	size_t n = 0, i;

	s->blk_flags = 0;
	if (flags & BF_BROKEN) {
		io->c->blocks_missed++;
		io->nfrag = 0;
		s->blk_len = 0;
		hpack_mark_unknown(&s->dec);
		h2_on_headers(io, s->blk_stream, flags, s->blk_ts, NULL);
		return;
	}
	if (s->blk_len > 0) {
		frags[n].data = s->blk;
		frags[n++].len = s->blk_len;
	}
	for (i = 0; i < io->nfrag; i++)
		frags[n++] = io->frag[i];
	io->nfrag = 0;
	s->blk_len = 0;
	/* not the names, most of it: only their first *_len bytes are read */
	memset(&f, 0, offsetof(struct h2_fields, method));
	/* a block that fails ends there: fields after it are not known
	 * (and the decoder forgets its table) */
	if (hpack_decode(&s->dec, frags, n, h2_field, &f) < 0)
		f.unknown++;
	h2_on_headers(io, s->blk_stream, flags, s->blk_ts, &f);
}

/* The block will not be completed (a frame came between its pieces, or
 * the framing was lost): what was seen of it is of no use. */
static void
h2_block_abort(struct h2_io *io)
{
	h2_block_break(io);
	h2_block_end(io);
}

static void
h2_block_start(struct h2_io *io, uint8_t flags)
{
	struct http2_side *s = io->s;

	s->blk_flags = BF_OPEN | flags;
	s->blk_stream = s->stream;
	s->blk_len = 0;
	s->blk_ts = io->ts;
	io->nfrag = 0;
}

/* Whether the frame in progress carries a piece of the open block. */
static bool
h2_in_block(const struct http2_side *s)
{
	return (s->type == FT_HEADERS || s->type == FT_PUSH_PROMISE ||
	    s->type == FT_CONTINUATION) && !(s->fstate & FS_NO_BLOCK) &&
	    (s->blk_flags & (BF_OPEN | BF_BROKEN)) == BF_OPEN;
}

static bool
h2_padded(const struct http2_side *s)
{
	return (s->flags & FL_PADDED) && (s->type == FT_DATA ||
	    s->type == FT_HEADERS || s->type == FT_PUSH_PROMISE);
}

/*
 * Where the content of the frame in progress (data, or a block fragment)
 * lies in its payload: [*from, *to).  1 if known, 0 if its padding
 * length was not seen, -1 if the padding does not fit the payload.
 */
static int
h2_content(const struct http2_side *s, uint32_t *from, uint32_t *to)
{
	uint32_t pad = 0;

	*from = s->type == FT_CONTINUATION ? 0 :
	    h2_min_payload(s->type, s->flags);
	*to = 0;
	if (h2_padded(s)) {
		if (s->fix_len < 1 || (s->fstate & FS_FIX_BLIND))
			return 0;
		pad = s->fix[0];
	}
	if ((uint64_t)*from + pad > s->frame_len)
		return -1;
	*to = s->frame_len - pad;
	return 1;
}

/*
 * Settings.  Those a side sends bound what is sent to it: the HPACK
 * table of the other direction, and its frames' size.  A lower table
 * size applies once the other side acknowledged it (hpack.h); a higher
 * one at once, as a bound only.
 */
static void
h2_setting(struct h2_io *io, uint16_t id, uint32_t value)
{
	struct http2_side *to = &io->c->side[!io->dir];
	struct hpack_table_info ti;

	switch (id) {
	case SET_HEADER_TABLE_SIZE:
		hpack_table_info(&to->dec, &ti);
		if (value >= ti.settings_max) {
			hpack_set_settings_max(&to->dec, value);
			to->pending_acks = 0;
		} else {
			to->pending_table = value;
			to->pending_acks = to->settings_unacked;
		}
		break;
	case SET_MAX_FRAME_SIZE:
		if (value >= H2_DEFAULT_FRAME && value <= H2_LARGEST_FRAME)
			to->max_frame = value;
		break;
	}
}

/* Settings entries are 6 bytes: those seen whole are applied. */
static void
h2_settings_bytes(struct h2_io *io, const uint8_t *p, size_t n, uint32_t pos)
{
	struct http2_side *s = io->s;
	unsigned k;
	size_t i;

	for (i = 0; i < n; i++) {
		k = (pos + i) % 6;
		if (k == 0)
			s->fix_len = 0;
		if (s->fix_len != k)
			continue;
		s->fix[s->fix_len++] = p[i];
		if (k == 5)
			h2_setting(io, (uint16_t)(s->fix[0] << 8 | s->fix[1]),
			    h2_be32(s->fix + 2));
	}
}

/* This side acknowledged the other's settings. */
static void
h2_settings_acked(struct h2_io *io)
{
	struct http2_side *s = io->s;

	if (s->settings_unacked > 0)
		s->settings_unacked--;
	if (s->pending_acks > 0 && --s->pending_acks == 0) {
		hpack_set_settings_max(&s->dec, s->pending_table);
		s->pending_table = H2_NO_PENDING;
	}
}

/*
 * Frames.
 */
static void
h2_frame_begin(struct h2_io *io)
{
	struct http2_side *s = io->s;
	struct http2_side *other = &io->c->side[!io->dir];

	s->fix_len = 0;
	s->fstate = 0;
	/* nothing may come between the pieces of a block (RFC 9113 6.10) */
	if ((s->blk_flags & BF_OPEN) && (s->type != FT_CONTINUATION ||
	    s->stream != s->blk_stream))
		h2_block_abort(io);
	switch (s->type) {
	case FT_HEADERS:
		h2_block_start(io, (s->flags & FL_END_STREAM) ?
		    BF_END_STREAM : 0);
		break;
	case FT_PUSH_PROMISE:
		h2_block_start(io, BF_PUSH);
		break;
	case FT_CONTINUATION:
		if (!(s->blk_flags & BF_OPEN)) {
			/* the rest of a block whose start was not seen */
			hpack_mark_unknown(&s->dec);
			s->fstate |= FS_NO_BLOCK;
		}
		break;
	case FT_SETTINGS:
		if (!(s->flags & FL_ACK) && other->settings_unacked < UINT8_MAX)
			other->settings_unacked++;
		break;
	}
}

/* DATA payload without its padding.  A padding length past the capture
 * is taken as none. */
static uint64_t
h2_data_size(const struct http2_side *s)
{
	uint32_t from, to;

	switch (h2_content(s, &from, &to)) {
	case 1:
		return to - from;
	case 0:
		return s->frame_len - 1;
	default:
		return 0;
	}
}

static void
h2_frame_end(struct h2_io *io)
{
	struct http2_side *s = io->s;

	s->phase = PH_HEADER;
	switch (s->type) {
	case FT_DATA:
		h2_on_data_frame(io, s->stream, h2_data_size(s),
		    (s->flags & FL_END_STREAM) != 0,
		    h2_data_is_grpc_message(s, h2_data_size(s)));
		break;
	case FT_HEADERS:
	case FT_PUSH_PROMISE:
	case FT_CONTINUATION:
		if ((s->flags & FL_END_HEADERS) &&
		    !(s->fstate & FS_NO_BLOCK) && (s->blk_flags & BF_OPEN))
			h2_block_end(io);
		break;
	case FT_RST_STREAM:
		/* an error code not captured is none of those gRPC maps */
		h2_on_reset(io, s->stream, s->fix_len >= 4 ?
		    h2_be32(s->fix) : UINT32_MAX);
		break;
	case FT_SETTINGS:
		if (s->flags & FL_ACK)
			h2_settings_acked(io);
		break;
	case FT_GOAWAY:
		if (s->fix_len >= 4)
			h2_on_goaway(io, h2_be32(s->fix) & H2_STREAM_MASK);
		break;
	}
}

/* Visible payload bytes p[0..n) of the frame in progress, at payload
 * offset pos. */
static void
h2_piece(struct h2_io *io, const uint8_t *p, size_t n, uint32_t pos)
{
	struct http2_side *s = io->s;
	uint32_t from, to, a, b;
	size_t k;

	if (s->type == FT_SETTINGS) {
		h2_settings_bytes(io, p, n, pos);
		return;
	}
	if (!(s->fstate & FS_FIX_BLIND) && pos == s->fix_len &&
	    pos < sizeof(s->fix)) {
		k = h2_min(n, sizeof(s->fix) - pos);
		memcpy(s->fix + pos, p, k);
		s->fix_len = (uint8_t)(s->fix_len + k);
	}
	if (!h2_in_block(s))
		return;
	if (h2_content(s, &from, &to) <= 0) {
		h2_block_break(io);
		return;
	}
	a = pos > from ? pos : from;
	b = (uint64_t)pos + n < to ? pos + (uint32_t)n : to;
	if (a < b)
		h2_block_add(io, p + (a - pos), b - a);
}

/* Payload bytes of the frame in progress that were not captured. */
static void
h2_blind(struct h2_io *io, uint64_t n, uint32_t pos)
{
	struct http2_side *s = io->s;
	uint32_t from, to;

	if (s->type == FT_SETTINGS) {
		s->fix_len = H2_FIX_OFF;
		return;
	}
	if (pos < sizeof(s->fix))
		s->fstate |= FS_FIX_BLIND;
	if (!h2_in_block(s))
		return;
	if (h2_content(s, &from, &to) <= 0 || (pos < to && pos + n > from))
		h2_block_break(io);
}

/* Bytes from `from` on are not parsed: whatever they held is not known,
 * such as the end of a stream in flight. */
static void
h2_unparsed(struct h2_io *io, uint64_t from)
{
	struct http2_conn *c = io->c;
	unsigned i;

	io->off = io->len;
	if (from >= io->len)
		return;
	c->counters.unparsed += io->len - from;
	for (i = 0; i < c->nstreams; i++)
		c->streams[i].flags |= SF_DOUBT;
}

/* Frame boundaries are lost from `from` on: the rest of the read is not
 * parsed, and the table of this direction is no longer known. */
static void
h2_lose(struct h2_io *io, uint64_t from)
{
	struct http2_side *s = io->s;

	if (s->blk_flags & BF_OPEN)
		h2_block_abort(io);
	hpack_mark_unknown(&s->dec);
	h2_unparsed(io, from);
	s->phase = PH_LOST;
	s->hdr_len = 0;
}

/* At the start of a read, find frames: take the read if its visible
 * bytes begin with strictly valid frame headers (a read usually starts
 * with a frame, and one whole header may be all that was captured). */
static bool
h2_resync(struct h2_io *io)
{
	unsigned frames;

	if (io->off != 0 || h2_chain(io->data, io->cap, io->len,
	    io->s->max_frame, &frames) == SG_SNIFF_NO || frames == 0)
		return false;
	io->s->phase = PH_HEADER;
	io->s->hdr_len = 0;
	return true;
}

/* The first bytes seen this way: the client preface, the server's
 * frames on a connection seen from its start, or frames of one joined
 * late (whose peer's table may hold entries from before). */
static void
h2_begin(struct h2_io *io)
{
	struct http2_conn *c = io->c;
	size_t n = h2_min(io->cap, HTTP2_PREFACE_LEN);

	if (n > 0 && memcmp(io->data, HTTP2_PREFACE, n) == 0) {
		c->conn_flags |= CF_MAGIC;
		if (!h2_role_known(c->role))
			c->role = h2_role_of_request_dir(io->dir);
		io->s->phase = PH_MAGIC;
		return;
	}
	if ((c->conn_flags & (CF_FRESH | CF_MAGIC)) &&
	    h2_role_known(c->role) && !h2_is_request_dir(c, io->dir)) {
		io->s->phase = PH_FIRST;
		return;
	}
	if (h2_resync(io)) {
		hpack_mark_unknown(&io->s->dec);
		return;
	}
	h2_lose(io, io->off);
}

static void
h2_magic(struct h2_io *io)
{
	struct http2_side *s = io->s;
	uint64_t n = h2_min(HTTP2_PREFACE_LEN - s->magic_len,
	    io->len - io->off);
	uint64_t vis = io->off < io->cap ? h2_min(n, io->cap - io->off) : 0;

	if (vis > 0 && memcmp(io->data + io->off,
	    &HTTP2_PREFACE[s->magic_len], (size_t)vis) != 0) {
		h2_lose(io, io->off);
		return;
	}
	io->off += n;
	s->magic_len = (uint8_t)(s->magic_len + n);
	if (s->magic_len == HTTP2_PREFACE_LEN)
		s->phase = PH_HEADER;
}

static void
h2_header(struct h2_io *io)
{
	struct http2_side *s = io->s;
	struct h2_frame f;
	size_t k;

	if (io->off >= io->cap) {
		/* past the capture: where the frame ends is not known */
		h2_lose(io, io->off);
		return;
	}
	k = h2_min(HTTP2_FRAME_HEADER - s->hdr_len, io->cap - io->off);
	memcpy(s->hdr + s->hdr_len, io->data + io->off, k);
	s->hdr_len = (uint8_t)(s->hdr_len + k);
	io->off += k;
	if (s->hdr_len < HTTP2_FRAME_HEADER)
		return;
	s->hdr_len = 0;
	h2_frame_parse(s->hdr, &f);
	if (!h2_frame_ok(&f, s->max_frame, CHK_SANE)) {
		/* no peer sends this: the bytes are not where frames are
		 * (those of the header in this read are counted) */
		h2_lose(io, io->off >= HTTP2_FRAME_HEADER ?
		    io->off - HTTP2_FRAME_HEADER : 0);
		return;
	}
	/* the server's connection preface is a SETTINGS frame: without
	 * it, this is not the start of its side */
	if (s->phase == PH_FIRST && (f.type != FT_SETTINGS ||
	    (f.flags & FL_ACK)))
		hpack_mark_unknown(&s->dec);
	s->type = f.type;
	s->flags = f.flags;
	s->stream = f.stream;
	s->frame_len = s->left = f.len;
	h2_frame_begin(io);
	if (s->left == 0)
		h2_frame_end(io);
	else
		s->phase = PH_PAYLOAD;
}

static void
h2_payload(struct h2_io *io)
{
	struct http2_side *s = io->s;
	uint64_t n = h2_min(s->left, io->len - io->off);
	uint64_t vis = io->off < io->cap ? h2_min(n, io->cap - io->off) : 0;
	uint32_t pos = s->frame_len - s->left;

	if (vis > 0)
		h2_piece(io, io->data + io->off, (size_t)vis, pos);
	if (n > vis)
		h2_blind(io, n - vis, pos + (uint32_t)vis);
	io->off += n;
	s->left -= (uint32_t)n;
	if (s->left == 0)
		h2_frame_end(io);
}

static void
h2_lost(struct h2_io *io)
{
	if (h2_resync(io))
		return;
	h2_unparsed(io, io->off);
}

static void
h2_feed(struct h2_io *io)
{
	struct http2_side *s = io->s;
	uint64_t off;
	uint8_t phase;

	while (io->off < io->len) {
		off = io->off;
		phase = s->phase;
		switch (s->phase) {
		case PH_START:
			h2_begin(io);
			break;
		case PH_MAGIC:
			h2_magic(io);
			break;
		case PH_HEADER:
		case PH_FIRST:
			h2_header(io);
			break;
		case PH_PAYLOAD:
			h2_payload(io);
			break;
		default:
			h2_lost(io);
			break;
		}
		/* every step consumes bytes or changes phase; should one
		 * not, the rest of the read is dropped rather than looped on */
		if (io->off == off && s->phase == phase)
			h2_unparsed(io, io->off);
	}
}

/*
 * The ops.
 */
static void
h2_init(void *st, uint8_t role)
{
	struct http2_conn *c = st;
	struct http2_side *s;
	unsigned d;

	/* not names[] nor the sides' blk[]: only their first bytes in use
	 * are read */
	memset(c, 0, offsetof(struct http2_conn, side));
	c->role = h2_role_known(role) ? role : SG_ROLE_UNKNOWN;
	/* a role known is a connection seen from its start (accept or
	 * connect); one not known predates the sensor */
	c->conn_flags = h2_role_known(role) ? CF_FRESH : 0;
	c->goaway_id = H2_NO_GOAWAY;
	for (d = 0; d < 2; d++) {
		s = &c->side[d];
		hpack_decoder_init(&s->dec, HPACK_SETTINGS_DEFAULT);
		memset(&s->blk_ts, 0, offsetof(struct http2_side, blk) -
		    offsetof(struct http2_side, blk_ts));
		s->max_frame = H2_DEFAULT_FRAME;
		s->pending_table = H2_NO_PENDING;
	}
}

static void
h2_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	struct http2_conn *c = st;
	struct h2_io io;

	(void)tail;	/* frames do not end with anything recognisable */
	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	io.c = c;
	io.s = &c->side[dir];
	io.dir = dir;
	io.data = data;
	io.cap = data != NULL ? (size_t)h2_min(captured, len) : 0;
	io.len = len;
	io.off = 0;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	io.nfrag = 0;
	h2_feed(&io);
	/* pieces of a block still open point into data: keep them */
	if (io.nfrag > 0)
		h2_block_keep(&io);
}

/* A stream ends with no response seen: timed out, unless its end may
 * have been in bytes not seen (then it is forgotten, counted).  Returns
 * the exchanges emitted. */
static unsigned
h2_stream_expire(struct http2_conn *c, struct http2_stream *st,
    uint64_t ts, sg_emit_fn emit, void *ctx)
{
	if (st->flags & SF_DOUBT) {
		h2_stream_forget(c, st);
		return 0;
	}
	h2_stream_end(c, st, ts, END_TIMEOUT, 0, emit, ctx);
	return 1;
}

static void
h2_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	struct http2_conn *c = st;

	if (c == NULL)
		return;
	while (c->nstreams > 0)
		(void)h2_stream_expire(c, &c->streams[c->nstreams - 1], ts_ns,
		    emit, ctx);
}

/* Streams with no frame for longer than their application's timeout
 * end: a response still flowing (a long stream of messages) does not. */
static unsigned
h2_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	struct http2_conn *c = st;
	unsigned i, n = 0;
	uint64_t timeout_ns;

	if (c == NULL)
		return 0;
	/* backwards: the last stream takes the place of one that ends */
	for (i = c->nstreams; i > 0; i--) {
		timeout_ns = to->ns[(c->streams[i - 1].flags & SF_GRPC) ?
		    SG_APP_GRPC : SG_APP_HTTP];
		if (timeout_ns == 0 ||
		    !h2_older(now_ns, c->streams[i - 1].last_ns, timeout_ns))
			continue;
		n += h2_stream_expire(c, &c->streams[i - 1], now_ns, emit,
		    ctx);
	}
	return n;
}

static bool
h2_idle(const void *st)
{
	const struct http2_conn *c = st;

	return c == NULL || c->nstreams == 0;
}

static unsigned
h2_pending(const void *st)
{
	const struct http2_conn *c = st;

	return c == NULL ? 0 : c->nstreams;
}

static uint8_t
h2_role(const void *st)
{
	const struct http2_conn *c = st;

	return c == NULL ? SG_ROLE_UNKNOWN : c->role;
}

static void
h2_counters(const void *st, struct sg_proto_counters *out)
{
	const struct http2_conn *c = st;

	if (c == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = c->counters;
}

/* Upgraded from HTTP/1.1: the request that asked is stream 1, its
 * response to come in HTTP/2. */
/* The trace context of the HTTP/1.1 request that asked for h2c. */
static void
h2_adopt_tctx(struct h2_fields *f, const struct sg_handoff *h)
{
	if (h->trace_flags & SG_EX_TRACE_INVALID) {
		f->tctx = TCTX_BAD;
		return;
	}
	if (!(h->trace_flags & SG_EX_TRACE_CTX))
		return;
	f->tctx = TCTX_VALID;
	memcpy(f->tctx_val.trace_id, h->trace_id, sizeof(h->trace_id));
	memcpy(f->tctx_val.parent_id, h->parent_span_id,
	    sizeof(h->parent_span_id));
	f->tctx_val.flags = h->trace_flags & SG_EX_TRACE_SAMPLED ?
	    TRACECTX_SAMPLED : 0;
}

static void
h2_adopt(void *st, uint8_t role, const struct sg_handoff *h)
{
	struct http2_conn *c = st;
	struct http2_stream *s;
	struct h2_fields f;

	if (c == NULL)
		return;
	if (h2_role_known(role))
		c->role = role;
	c->conn_flags |= CF_FRESH;
	memset(&f, 0, offsetof(struct h2_fields, method));
	h2_field_method(&f, h->op, strnlen(h->op, sizeof(h->op)));
	h2_field_path(&f, h->target, strnlen(h->target, sizeof(h->target)));
	if (h->op[0] == '\0' || h->target[0] == '\0')
		f.unknown = 1;
	h2_adopt_tctx(&f, h);
	if ((s = h2_stream_open(c, 1, h->start_ns, &f)) != NULL) {
		s->flags |= SF_REQ_END;
		s->req_size = h->req_size;
	}
	if (c->last_client_id < 1)
		c->last_client_id = 1;
}

/* The newest request stream: the highest id (a client opens them in
 * increasing order). */
static int
h2_trace_ctx(const void *st, uint8_t trace_id[16], uint8_t parent_id[8])
{
	const struct http2_conn *c = st;
	const struct http2_stream *newest = NULL;

	for (unsigned i = 0; i < c->nstreams; i++)
		if (newest == NULL || c->streams[i].id > newest->id)
			newest = &c->streams[i];
	if (newest == NULL)
		return -1;
	return h2_tctx_get(c, newest, trace_id, parent_id) &
	    (SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
}

const struct sg_proto_ops http2_ops = {
	.name = "http2",
	.id = SG_PROTO_HTTP2,
	.apps = 1u << SG_APP_HTTP | 1u << SG_APP_GRPC,
	.state_size = sizeof(struct http2_conn),
	.keep_state = true,
	.sniff = h2_sniff,
	.init = h2_init,
	.on_data = h2_on_data,
	.on_close = h2_on_close,
	.expire = h2_expire,
	.idle = h2_idle,
	.pending = h2_pending,
	.role = h2_role,
	.counters = h2_counters,
	.adopt = h2_adopt,
	.trace_ctx = h2_trace_ctx,
};
