/*
 * Kafka Produce and Fetch exchanges from captured socket reads and
 * writes.
 *
 * Each direction is a sequence of messages framed by an int32 size.  The
 * first KAFKA_HEAD_LEN bytes of a message are kept (they may span reads)
 * and parsed once, when they are all there, when the message ends, or
 * when the capture skipped some of them; the rest of the message is
 * skipped by count.  A size that makes no sense means the stream is out
 * of step: it is skipped, and counted, until a read or write that starts
 * with a plausible message (a request header, or a response to a request
 * pending).
 *
 * Field layouts follow the Kafka protocol's message definitions
 * (clients/src/main/resources/common/message/ *.json): versions change
 * which fields are present, and "flexible" versions (Produce 9+, Fetch
 * 12+) use compact (varint) lengths and tagged fields.  Only what is
 * needed is read: the topic of a request, the errors and the records of
 * a response.
 */
#include "kafka.h"

#include <string.h>

enum kf_phase {
	KS_SIZE = 0,	/* expecting a message's size (size_len bytes seen) */
	KS_BODY,	/* in a message: left bytes to come */
	KS_LOST,	/* out of step: waiting for a buffer starting a message */
};

/* kafka_pending.flags */
#define KP_TARGET_UNKNOWN	0x01	/* the topic could not be read */
#define KP_TOPIC_FROM_RESP	0x02	/* a Fetch naming no topic: the
					 * response's first one */
#define KP_ACKS0		0x04	/* Produce acks=0: no response */

#define KF_API_PRODUCE		0
#define KF_API_FETCH		1
#define KF_API_VERSIONS		18
#define KF_API_MAX		90	/* 74 in Kafka 4.0; room to grow */
#define KF_VERSION_MAX		24	/* Fetch is at 17 */
#define KF_MSG_MAX		(1u << 30)	/* larger is not a size */
#define KF_REQ_MIN		10	/* api, version, corr, client_id */
#define KF_RESP_MIN		4	/* corr */
#define KF_REQ_HDR		14	/* size, api, version, corr, length */
#define KF_PORT			9092

_Static_assert(KAFKA_MAX_PENDING <= UINT8_MAX, "ring indices fit a byte");
_Static_assert(KAFKA_TOPIC_MAX - 1 <= UINT8_MAX, "topic length fits a byte");
_Static_assert(KAFKA_TOPIC_MAX <= SG_PATH_MAX, "a topic fits a target");
_Static_assert(KAFKA_HEAD_LEN <= UINT16_MAX, "head length fits 16 bits");

/* One read or write being parsed, and where exchanges go. */
struct kf_io {
	const uint8_t	*data;	/* data[0..cap) is visible */
	size_t		 cap;
	uint64_t	 len;	/* bytes the syscall moved */
	uint64_t	 off;	/* parse position in [0, len] */
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
};

/*
 * Reading fields from a message's head.  Errors are sticky: once the
 * bytes ran out (KR_SHORT) or a field made no sense (KR_BAD), every read
 * returns 0 and the caller looks at err once.
 */
enum kf_err { KR_OK = 0, KR_SHORT, KR_BAD };

struct kf_rd {
	const uint8_t	*p;
	size_t		 n;
	size_t		 off;	/* <= n */
	uint8_t		 err;	/* enum kf_err */
	bool		 flex;	/* compact lengths, tagged fields */
};

static void
kf_rd_init(struct kf_rd *r, const uint8_t *p, size_t n, bool flex)
{
	r->p = p;
	r->n = n;
	r->off = 0;
	r->err = KR_OK;
	r->flex = flex;
}

static bool
kf_need(struct kf_rd *r, size_t k)
{
	if (r->err != KR_OK)
		return false;
	if (r->n - r->off < k) {
		r->err = KR_SHORT;
		return false;
	}
	return true;
}

static uint32_t
kf_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
kf_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int16_t
kf_i16(struct kf_rd *r)
{
	uint16_t v;

	if (!kf_need(r, 2))
		return 0;
	v = kf_be16(r->p + r->off);
	r->off += 2;
	return (int16_t)v;
}

static int32_t
kf_i32(struct kf_rd *r)
{
	uint32_t v;

	if (!kf_need(r, 4))
		return 0;
	v = kf_be32(r->p + r->off);
	r->off += 4;
	return (int32_t)v;
}

static void
kf_skip(struct kf_rd *r, uint64_t k)
{
	if (!kf_need(r, 0))
		return;
	if (k > r->n - r->off) {
		r->off = r->n;
		r->err = KR_SHORT;
		return;
	}
	r->off += (size_t)k;
}

/* An unsigned varint of at most 32 bits. */
static uint32_t
kf_uvarint(struct kf_rd *r)
{
	uint32_t v = 0;
	unsigned shift;
	uint8_t b;

	for (shift = 0; shift < 35; shift += 7) {
		if (!kf_need(r, 1))
			return 0;
		b = r->p[r->off++];
		if (shift == 28 && (b & 0x70) != 0)
			break;
		v |= (uint32_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return v;
	}
	r->err = KR_BAD;
	return 0;
}

/* The length of a string, bytes or array: -1 for null. */
static int64_t
kf_length(struct kf_rd *r, bool wide)
{
	int64_t n;

	if (r->flex)
		return (int64_t)kf_uvarint(r) - 1;
	n = wide ? kf_i32(r) : kf_i16(r);
	if (n < -1)
		r->err = KR_BAD;
	return n;
}

static int64_t
kf_array(struct kf_rd *r)
{
	return kf_length(r, true);
}

/* A (nullable) string: *s points into the head, *n its length; 0 when
 * null. */
static void
kf_string(struct kf_rd *r, const uint8_t **s, size_t *n)
{
	int64_t len = kf_length(r, false);

	*s = NULL;
	*n = 0;
	if (r->err != KR_OK || len <= 0)
		return;
	if (!kf_need(r, (size_t)len)) {
		r->off = r->n;
		return;
	}
	*s = r->p + r->off;
	*n = (size_t)len;
	r->off += (size_t)len;
}

static void
kf_skip_string(struct kf_rd *r)
{
	const uint8_t *s;
	size_t n;

	kf_string(r, &s, &n);
}

/* Tagged fields (flexible versions only): a count, then tag, size, data. */
static void
kf_tags(struct kf_rd *r)
{
	uint32_t n, i;

	if (!r->flex)
		return;
	n = kf_uvarint(r);
	for (i = 0; i < n && r->err == KR_OK; i++) {
		(void)kf_uvarint(r);
		kf_skip(r, kf_uvarint(r));
	}
}

static uint64_t
kf_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* now - then > timeout, without wrapping when then is in the future. */
static bool
kf_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

static bool
kf_printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

/* Kafka's legal topic characters: only those go into labels. */
static bool
kf_topic_ok(const uint8_t *p, size_t n)
{
	if (n == 0 || n >= KAFKA_TOPIC_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return false;
	return true;
}

static bool
kf_flexible(int16_t api, int16_t version)
{
	return (api == KF_API_PRODUCE && version >= 9) ||
	    (api == KF_API_FETCH && version >= 12);
}

static bool
kf_is_exchange(int16_t api)
{
	return api == KF_API_PRODUCE || api == KF_API_FETCH;
}

/*
 * Plausibility of the start of a buffer, for detection, the role of a
 * connection that predates the sensor, and getting back in step.
 */
enum kf_plaus { KP_NO = 0, KP_SHORT, KP_YES };

static bool
kf_size_ok(uint32_t size, uint32_t min)
{
	return size >= min && size <= KF_MSG_MAX;
}

/* The request header at data: size, api_key, api_version, correlation id,
 * client_id (its visible characters printable). */
static enum kf_plaus
kf_request_start(const uint8_t *d, size_t cap)
{
	uint32_t size;
	int16_t clen;
	size_t vis;

	if (d == NULL || cap < 4)
		return KP_SHORT;
	size = kf_be32(d);
	if (!kf_size_ok(size, KF_REQ_MIN))
		return KP_NO;
	if (cap >= 6 && kf_be16(d + 4) > KF_API_MAX)
		return KP_NO;
	if (cap >= 8 && kf_be16(d + 6) > KF_VERSION_MAX)
		return KP_NO;
	if (cap >= 12 && (d[8] & 0x80) != 0)
		return KP_NO;	/* clients count correlation ids up from 0 */
	if (cap < KF_REQ_HDR)
		return KP_SHORT;
	clen = (int16_t)kf_be16(d + 12);
	if (clen < -1 || (clen > 0 && (uint32_t)clen > size - KF_REQ_MIN))
		return KP_NO;
	vis = clen > 0 ? (size_t)kf_min((uint64_t)clen, cap - KF_REQ_HDR) : 0;
	return kf_printable(d + KF_REQ_HDR, vis) ? KP_YES : KP_NO;
}

/*
 * Requests.
 */
struct kf_req_hdr {
	int16_t api;
	int16_t version;
	int32_t corr;
};

static bool
kf_read_req_header(struct kf_rd *r, struct kf_req_hdr *h)
{
	h->api = kf_i16(r);
	h->version = kf_i16(r);
	h->corr = kf_i32(r);
	if (r->err != KR_OK)
		return false;
	if (h->api < 0 || h->api > KF_API_MAX || h->version < 0 ||
	    h->version > KF_VERSION_MAX)
		return false;
	kf_skip_string(r);		/* client_id: never compact */
	r->flex = kf_flexible(h->api, h->version);
	kf_tags(r);
	return true;
}

static void
kf_set_topic(struct kafka_pending *p, const uint8_t *s, size_t n)
{
	if (!kf_topic_ok(s, n)) {
		p->flags |= KP_TARGET_UNKNOWN;
		return;
	}
	memcpy(p->topic, s, n);
	p->topic_len = (uint8_t)n;
}

/* The first topic of a topics array whose entries start with the name
 * (or, from topic_id_version on, a topic id). */
static void
kf_first_topic(struct kf_rd *r, struct kafka_pending *p, int topic_id_version,
    bool none_from_resp)
{
	const uint8_t *s;
	size_t n;
	int64_t count = kf_array(r);

	if (r->err == KR_OK && count <= 0 && none_from_resp) {
		p->flags |= KP_TOPIC_FROM_RESP;
		return;
	}
	if (r->err != KR_OK || count <= 0 || p->version >= topic_id_version) {
		p->flags |= KP_TARGET_UNKNOWN;
		return;
	}
	kf_string(r, &s, &n);
	if (r->err != KR_OK) {
		p->flags |= KP_TARGET_UNKNOWN;
		return;
	}
	kf_set_topic(p, s, n);
}

static void
kf_produce_request(struct kf_rd *r, struct kafka_pending *p)
{
	int16_t acks;

	if (p->version >= 3)
		kf_skip_string(r);	/* transactional_id */
	acks = kf_i16(r);
	(void)kf_i32(r);		/* timeout_ms */
	if (r->err == KR_OK && acks == 0)
		p->flags |= KP_ACKS0;
	kf_first_topic(r, p, 13, false);
}

static void
kf_fetch_request(struct kf_rd *r, struct kafka_pending *p)
{
	if (p->version <= 14)
		(void)kf_i32(r);	/* replica_id */
	(void)kf_i32(r);		/* max_wait_ms */
	(void)kf_i32(r);		/* min_bytes */
	if (p->version >= 3)
		(void)kf_i32(r);	/* max_bytes */
	if (p->version >= 4)
		kf_skip(r, 1);		/* isolation_level */
	if (p->version >= 7)
		kf_skip(r, 8);		/* session_id, session_epoch */
	/* an incremental fetch session may name no topic */
	kf_first_topic(r, p, 13, true);
}

static void
kf_lose(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io,
    uint64_t from)
{
	c->unparsed += io->len - from;
	io->off = io->len;
	s->phase = KS_LOST;
	s->size_len = 0;
}

/* The head of a request: what it is, and for Produce and Fetch its
 * topic.  false: not a request header (out of step). */
static bool
kf_req_parse(struct kafka_conn *c)
{
	struct kafka_stream *s = &c->req;
	struct kafka_pending *p = &c->req_cur;
	struct kf_req_hdr h;
	struct kf_rd r;

	kf_rd_init(&r, s->head, s->head_len, false);
	if (!kf_read_req_header(&r, &h))
		return false;
	memset(p, 0, offsetof(struct kafka_pending, topic));
	p->start_ns = s->start_ns;
	p->size = (uint64_t)s->size + 4;
	p->corr = h.corr;
	p->api = h.api;
	p->version = h.version;
	c->req_ok = 1;
	if (h.api == KF_API_PRODUCE)
		kf_produce_request(&r, p);
	else if (h.api == KF_API_FETCH)
		kf_fetch_request(&r, p);
	return true;
}

/*
 * Exchanges.
 */
static void
kf_format_error(char *out, int code)
{
	char tmp[8];
	unsigned v = code < 0 ? (unsigned)-code : (unsigned)code;
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(tmp));
	if (code < 0)
		out[i++] = '-';
	while (n > 0)
		out[i++] = tmp[--n];
	out[i] = '\0';
}

static void
kf_emit(const struct kafka_conn *c, const struct kf_io *io,
    const struct kafka_pending *p, uint64_t end_ns, uint8_t flags,
    const char *error, uint64_t resp_size)
{
	struct sg_exchange ex;

	if (io->emit == NULL)
		return;
	proto_exchange_init(&ex);
	ex.app = SG_APP_KAFKA;
	ex.role = c->role;
	ex.flags = flags;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	strcpy(ex.op, p->api == KF_API_PRODUCE ? "publish" : "process");
	if (p->flags & (KP_TARGET_UNKNOWN | KP_TOPIC_FROM_RESP) ||
	    p->topic_len == 0)
		ex.flags |= SG_EX_TARGET_UNKNOWN;
	else {
		memcpy(ex.target, p->topic, p->topic_len);
		ex.target[p->topic_len] = '\0';
	}
	ex.req_size = p->size;
	ex.resp_size = resp_size;
	if (error != NULL)
		strcpy(ex.error, error);
	io->emit(io->ctx, &ex);
}

_Static_assert(KAFKA_TOPIC_MAX < SG_PATH_MAX, "a topic and its NUL fit a "
    "target");

/* Only what was written of topic[] is ever read. */
static void
kf_copy_pending(struct kafka_pending *to, const struct kafka_pending *from)
{
	memcpy(to, from, offsetof(struct kafka_pending, topic) +
	    from->topic_len);
}

static struct kafka_pending *
kf_oldest(struct kafka_conn *c)
{
	return &c->pending[c->first];
}

static void
kf_pop(struct kafka_conn *c)
{
	c->first = (uint8_t)((c->first + 1) % KAFKA_MAX_PENDING);
	c->npending--;
}

/* A request whose response the sensor did not see, although the broker,
 * answering a later one, must have sent it. */
static void
kf_end_unseen(struct kafka_conn *c, struct kf_io *io,
    const struct kafka_pending *p, uint64_t end_ns)
{
	if (p->api == KF_API_PRODUCE)
		kf_emit(c, io, p, end_ns, SG_EX_STATUS_UNKNOWN, NULL, 0);
	else if (p->api == KF_API_FETCH)
		c->unknown++;
}

/* A request that got no response: a Produce times out, a Fetch too when
 * it waited past the timeout (not when the connection closed). */
static void
kf_end_timed_out(struct kafka_conn *c, struct kf_io *io,
    const struct kafka_pending *p, uint64_t end_ns, bool closing)
{
	if (p->api == KF_API_PRODUCE || (p->api == KF_API_FETCH && !closing))
		kf_emit(c, io, p, end_ns, SG_EX_TIMED_OUT, NULL, 0);
}

static void
kf_req_done(struct kafka_conn *c, struct kf_io *io)
{
	struct kafka_pending *p = &c->req_cur;

	if (!c->req_ok)
		return;
	c->req_ok = 0;
	if (p->api == KF_API_PRODUCE && (p->flags & KP_ACKS0)) {
		kf_emit(c, io, p, io->ts, 0, NULL, 0);
		return;
	}
	if (c->npending == KAFKA_MAX_PENDING) {
		c->dropped++;
		c->dropped_unanswered++;
		return;
	}
	kf_copy_pending(&c->pending[(c->first + c->npending) %
	    KAFKA_MAX_PENDING], p);
	c->npending++;
}

/*
 * Responses.
 */
struct kf_resp_info {
	int  error;		/* first non-zero error code */
	bool records;		/* a partition carries records */
	bool complete;		/* all partitions were read */
	const uint8_t *topic;	/* the first topic (Fetch) */
	size_t topic_len;
};

static void
kf_produce_partition(struct kf_rd *r, int16_t version, struct kf_resp_info *ri)
{
	int64_t n, i;
	int16_t err;

	(void)kf_i32(r);			/* index */
	err = kf_i16(r);
	if (r->err == KR_OK && err != 0 && ri->error == 0)
		ri->error = err;
	kf_skip(r, 8);				/* base_offset */
	if (version >= 2)
		kf_skip(r, 8);			/* log_append_time_ms */
	if (version >= 5)
		kf_skip(r, 8);			/* log_start_offset */
	if (version >= 8) {
		n = kf_array(r);		/* record_errors */
		for (i = 0; i < n && r->err == KR_OK; i++) {
			(void)kf_i32(r);
			kf_skip_string(r);
			kf_tags(r);
		}
		kf_skip_string(r);		/* error_message */
	}
	kf_tags(r);
}

static void
kf_produce_response(struct kf_rd *r, int16_t version, struct kf_resp_info *ri)
{
	int64_t nt, np, t, i;

	nt = kf_array(r);
	for (t = 0; t < nt && r->err == KR_OK && ri->error == 0; t++) {
		if (version >= 13)
			kf_skip(r, 16);		/* topic_id */
		else
			kf_skip_string(r);
		np = kf_array(r);
		for (i = 0; i < np && r->err == KR_OK && ri->error == 0; i++)
			kf_produce_partition(r, version, ri);
		kf_tags(r);
	}
	ri->complete = r->err == KR_OK;
}

/* One partition of a Fetch response; false once its records run past
 * what is kept (the walk stops there). */
static bool
kf_fetch_partition(struct kf_rd *r, int16_t version, struct kf_resp_info *ri)
{
	int64_t n, i, records;
	int16_t err;

	(void)kf_i32(r);			/* partition_index */
	err = kf_i16(r);
	if (r->err == KR_OK && err != 0 && ri->error == 0)
		ri->error = err;
	kf_skip(r, 8);				/* high_watermark */
	if (version >= 4)
		kf_skip(r, 8);			/* last_stable_offset */
	if (version >= 5)
		kf_skip(r, 8);			/* log_start_offset */
	if (version >= 4) {
		n = kf_array(r);		/* aborted_transactions */
		for (i = 0; i < n && r->err == KR_OK; i++) {
			kf_skip(r, 16);
			kf_tags(r);
		}
	}
	if (version >= 11)
		(void)kf_i32(r);		/* preferred_read_replica */
	records = kf_length(r, true);
	if (r->err != KR_OK)
		return false;
	if (records > 0)
		ri->records = true;
	kf_skip(r, records > 0 ? (uint64_t)records : 0);
	kf_tags(r);
	return r->err == KR_OK;
}

static void
kf_fetch_response(struct kf_rd *r, int16_t version, struct kf_resp_info *ri)
{
	int64_t nt, np, t, i;
	int16_t err;

	if (version >= 1)
		(void)kf_i32(r);		/* throttle_time_ms */
	if (version >= 7) {
		err = kf_i16(r);
		if (r->err == KR_OK && err != 0)
			ri->error = err;
		(void)kf_i32(r);		/* session_id */
	}
	nt = kf_array(r);
	for (t = 0; t < nt && r->err == KR_OK; t++) {
		if (version >= 13) {
			kf_skip(r, 16);		/* topic_id */
		} else if (t == 0) {
			kf_string(r, &ri->topic, &ri->topic_len);
		} else
			kf_skip_string(r);
		np = kf_array(r);
		for (i = 0; i < np && r->err == KR_OK; i++)
			if (!kf_fetch_partition(r, version, ri))
				break;
		kf_tags(r);
	}
	ri->complete = r->err == KR_OK;
}

/* Out of order: the requests before the one answered were answered in
 * bytes the sensor could not follow. */
static bool
kf_pair(struct kafka_conn *c, struct kf_io *io, int32_t corr)
{
	unsigned i, k;

	for (i = 0; i < c->npending; i++)
		if (c->pending[(c->first + i) % KAFKA_MAX_PENDING].corr == corr)
			break;
	if (i == c->npending) {
		if (c->dropped_unanswered > 0)
			c->dropped_unanswered--;
		else
			c->unpaired++;
		return false;
	}
	for (k = 0; k < i; k++) {
		kf_end_unseen(c, io, kf_oldest(c), c->resp.start_ns);
		kf_pop(c);
	}
	kf_copy_pending(&c->answer, kf_oldest(c));
	kf_pop(c);
	c->answering = 1;
	c->ans_flags = 0;
	c->ans_report = 0;
	c->ans_error[0] = '\0';
	return true;
}

static void
kf_resp_result(struct kafka_conn *c, const struct kf_resp_info *ri)
{
	struct kafka_pending *p = &c->answer;

	if (ri->error != 0)
		kf_format_error(c->ans_error, ri->error);
	if (p->api == KF_API_PRODUCE) {
		c->ans_report = 1;
		if (ri->error == 0 && !ri->complete)
			c->ans_flags |= SG_EX_STATUS_UNKNOWN;
		return;
	}
	if ((p->flags & KP_TOPIC_FROM_RESP) && ri->topic != NULL) {
		p->flags &= (uint8_t)~KP_TOPIC_FROM_RESP;
		kf_set_topic(p, ri->topic, ri->topic_len);
	}
	if (ri->error != 0 || ri->records)
		c->ans_report = 1;
	else if (!ri->complete)
		c->unknown++;	/* empty, or records past the capture? */
}

/* The head of a response: which request it answers, and for Produce and
 * Fetch what came of it. */
static void
kf_resp_parse(struct kafka_conn *c, struct kf_io *io)
{
	struct kafka_stream *s = &c->resp;
	struct kf_resp_info ri;
	struct kf_rd r;
	int32_t corr;

	if (s->head_len < 4) {
		/* the correlation id was past the capture: answers arrive
		 * in order, so it is the oldest request's */
		if (c->npending == 0) {
			c->unpaired++;
			return;
		}
		corr = kf_oldest(c)->corr;
	} else
		corr = (int32_t)kf_be32(s->head);
	if (!kf_pair(c, io, corr))
		return;
	if (!kf_is_exchange(c->answer.api))
		return;
	if (s->head_len < 4) {
		c->ans_flags |= SG_EX_STATUS_UNKNOWN;
		c->ans_report = c->answer.api == KF_API_PRODUCE;
		if (!c->ans_report)
			c->unknown++;
		return;
	}
	memset(&ri, 0, sizeof(ri));
	kf_rd_init(&r, s->head + 4, s->head_len - 4U,
	    kf_flexible(c->answer.api, c->answer.version));
	kf_tags(&r);
	if (c->answer.api == KF_API_PRODUCE)
		kf_produce_response(&r, c->answer.version, &ri);
	else
		kf_fetch_response(&r, c->answer.version, &ri);
	kf_resp_result(c, &ri);
}

static void
kf_resp_done(struct kafka_conn *c, struct kf_io *io)
{
	if (!c->answering)
		return;
	c->answering = 0;
	if (c->ans_report)
		kf_emit(c, io, &c->answer, io->ts, c->ans_flags, c->ans_error,
		    (uint64_t)c->resp.size + 4);
}

/*
 * Streams.
 */
static bool
kf_is_req_stream(const struct kafka_conn *c, const struct kafka_stream *s)
{
	return s == &c->req;
}

/* A buffer of a stream out of step starts a message: a request header,
 * or a response to a request pending (its size and correlation id). */
static bool
kf_starts_message(const struct kafka_conn *c, const struct kafka_stream *s,
    const struct kf_io *io)
{
	int32_t corr;

	if (kf_is_req_stream(c, s))
		return kf_request_start(io->data, io->cap) == KP_YES;
	if (io->cap < 8 || !kf_size_ok(kf_be32(io->data), KF_RESP_MIN))
		return false;
	corr = (int32_t)kf_be32(io->data + 4);
	for (unsigned i = 0; i < c->npending; i++)
		if (c->pending[(c->first + i) % KAFKA_MAX_PENDING].corr == corr)
			return true;
	return false;
}

static void
kf_read_size(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io)
{
	uint64_t from = io->off;
	bool req = kf_is_req_stream(c, s);

	if (s->size_len == 0)
		s->start_ns = io->ts;
	while (s->size_len < 4 && io->off < io->len) {
		if (io->off >= io->cap) {
			/* a size past the capture: the framing is lost */
			kf_lose(c, s, io, io->off);
			return;
		}
		s->size_buf[s->size_len++] = io->data[io->off++];
	}
	if (s->size_len < 4)
		return;
	s->size = kf_be32(s->size_buf);
	if (!kf_size_ok(s->size, req ? KF_REQ_MIN : KF_RESP_MIN)) {
		c->unparsed += 4 - (io->off - from);	/* from earlier reads */
		kf_lose(c, s, io, from);
		return;
	}
	s->phase = KS_BODY;
	s->left = s->size;
	s->head_len = 0;
	s->parsed = 0;
	s->blind = 0;
}

static void
kf_parse_head(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io)
{
	s->parsed = 1;
	if (!kf_is_req_stream(c, s)) {
		kf_resp_parse(c, io);
		return;
	}
	if (!kf_req_parse(c)) {
		/* not a request: the stream is out of step */
		c->unparsed += (uint64_t)s->size + 4 - s->left;
		kf_lose(c, s, io, io->off);
	}
}

static void
kf_message_done(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io)
{
	if (kf_is_req_stream(c, s))
		kf_req_done(c, io);
	else
		kf_resp_done(c, io);
	s->phase = KS_SIZE;
	s->size_len = 0;
}

static void
kf_read_body(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io)
{
	uint64_t k = kf_min(s->left, io->len - io->off);
	uint64_t vis = io->off < io->cap ? kf_min(k, io->cap - io->off) : 0;
	uint64_t want = kf_min(s->size, KAFKA_HEAD_LEN);
	uint64_t take;

	if (!s->parsed && s->head_len < want) {
		take = kf_min(vis, want - s->head_len);
		if (take > 0)
			memcpy(s->head + s->head_len, io->data + io->off,
			    (size_t)take);
		s->head_len += (uint16_t)take;
		if (s->head_len < want && vis < k)
			s->blind = 1;
	}
	io->off += k;
	s->left -= (uint32_t)k;
	if (!s->parsed && (s->head_len == want || s->blind || s->left == 0)) {
		kf_parse_head(c, s, io);
		if (s->phase == KS_LOST)
			return;
	}
	if (s->left == 0)
		kf_message_done(c, s, io);
}

static void
kf_feed(struct kafka_conn *c, struct kafka_stream *s, struct kf_io *io)
{
	if (s->phase == KS_LOST) {
		if (!kf_starts_message(c, s, io)) {
			c->unparsed += io->len;
			return;
		}
		s->phase = KS_SIZE;
		s->size_len = 0;
	}
	while (io->off < io->len) {
		switch (s->phase) {
		case KS_SIZE:
			kf_read_size(c, s, io);
			break;
		case KS_BODY:
			kf_read_body(c, s, io);
			break;
		default:
			io->off = io->len;
			break;
		}
	}
}

static uint8_t
kf_request_dir(uint8_t role)
{
	return role == SG_ROLE_SERVER ? SG_DIR_READ : SG_DIR_WRITE;
}

/*
 * A connection that predates the sensor.  A response can read as a
 * request header (its correlation id as api_key and version), so a
 * request is believed only once the other direction answers it: a
 * buffer starting with a size and the request's correlation id.  Both
 * streams then pick up at the next buffer that starts a message.
 */
static void
kf_learn_role(struct kafka_conn *c, uint8_t dir, const struct kf_io *io)
{
	c->unparsed += io->len;
	if (c->cand_valid && dir != c->cand_dir && io->cap >= 8 &&
	    kf_size_ok(kf_be32(io->data), KF_RESP_MIN) &&
	    (int32_t)kf_be32(io->data + 4) == c->cand_corr) {
		c->role = c->cand_dir == SG_DIR_WRITE ? SG_ROLE_CLIENT :
		    SG_ROLE_SERVER;
		c->req.phase = KS_LOST;
		c->resp.phase = KS_LOST;
		return;
	}
	if (kf_request_start(io->data, io->cap) == KP_YES) {
		c->cand_valid = 1;
		c->cand_dir = dir;
		c->cand_corr = (int32_t)kf_be32(io->data + 8);
	}
}

void
kafka_conn_init(struct kafka_conn *c, uint8_t role)
{
	/* Not the heads and the table, most of the size: only what was
	 * written of them is read. */
	memset(c, 0, offsetof(struct kafka_conn, req));
	memset(&c->req, 0, offsetof(struct kafka_stream, head));
	memset(&c->resp, 0, offsetof(struct kafka_stream, head));
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
}

void
kafka_on_data(struct kafka_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, sg_emit_fn emit,
    void *ctx)
{
	struct kf_io io;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)kf_min(captured, len) : 0;
	io.len = len;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT) {
		kf_learn_role(c, dir, &io);
		return;
	}
	kf_feed(c, dir == kf_request_dir(c->role) ? &c->req : &c->resp, &io);
}

void
kafka_on_close(struct kafka_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct kf_io io;
	uint64_t unparsed, unpaired, dropped, unknown;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	/* a response cut short: what its head told, if it was read */
	if (c->answering && c->ans_report)
		kf_emit(c, &io, &c->answer, ts_ns, c->ans_flags, c->ans_error,
		    (uint64_t)c->resp.size + 4 - c->resp.left);
	else if (c->answering && c->answer.api == KF_API_PRODUCE)
		kf_emit(c, &io, &c->answer, ts_ns, SG_EX_STATUS_UNKNOWN, NULL,
		    0);
	while (c->npending > 0) {
		kf_end_timed_out(c, &io, kf_oldest(c), ts_ns, true);
		kf_pop(c);
	}
	role = c->role;
	unparsed = c->unparsed;
	unpaired = c->unpaired;
	dropped = c->dropped;
	unknown = c->unknown;
	kafka_conn_init(c, role);
	c->unparsed = unparsed;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->unknown = unknown;
	c->last_ns = ts_ns;
}

unsigned
kafka_expire(struct kafka_conn *c, uint64_t now_ns, uint64_t timeout_ns,
    sg_emit_fn emit, void *ctx)
{
	struct kf_io io;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	while (c->npending > 0 &&
	    kf_older(now_ns, kf_oldest(c)->start_ns, timeout_ns)) {
		if (kf_is_exchange(kf_oldest(c)->api))
			n++;
		kf_end_timed_out(c, &io, kf_oldest(c), now_ns, false);
		kf_pop(c);
	}
	/* answers to dropped requests that never came will not come */
	if (kf_older(now_ns, c->last_ns, timeout_ns))
		c->dropped_unanswered = 0;
	return n;
}

bool
kafka_idle(const struct kafka_conn *c)
{
	if (c == NULL)
		return true;
	return c->npending == 0 && !c->answering && !c->req_ok &&
	    c->dropped_unanswered == 0 &&
	    c->req.phase == KS_SIZE && c->req.size_len == 0 &&
	    c->resp.phase == KS_SIZE && c->resp.size_len == 0;
}

unsigned
kafka_pending(const struct kafka_conn *c)
{
	return c != NULL ? c->npending : 0;
}

/* ---- the parser as the connection table sees it (proto.h) */

/*
 * A request header: plausible sizes, api key and version, a printable
 * client_id.  Yes on Kafka's port, or for ApiVersions, the request every
 * client opens its connections with; elsewhere other requests are too
 * weak a sign (a connection that predates the sensor on another port is
 * not followed).  Responses alone cannot be told from other binary
 * protocols.  A server may read the size alone first: on port 9092 a
 * plausible size is enough.
 */
enum sg_sniff
kafka_sniff(const uint8_t *data, size_t captured, uint8_t dir, uint16_t port)
{
	enum kf_plaus pl = kf_request_start(data, captured);

	(void)dir;
	if (pl == KP_NO)
		return SG_SNIFF_NO;
	if (port == KF_PORT && data != NULL && captured >= 4)
		return SG_SNIFF_YES;
	if (pl == KP_SHORT)
		return SG_SNIFF_MAYBE;
	if (kf_be16(data + 4) == KF_API_VERSIONS && kf_be16(data + 6) <= 4)
		return SG_SNIFF_YES;
	return SG_SNIFF_MAYBE;
}

static void
kf_ops_init(void *st, uint8_t role)
{
	kafka_conn_init(st, role);
}

static void
kf_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	(void)tail;
	kafka_on_data(st, dir, ts_ns, len, data, captured, emit, ctx);
}

static void
kf_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	kafka_on_close(st, ts_ns, emit, ctx);
}

static unsigned
kf_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return kafka_expire(st, now_ns, to->ns[SG_APP_KAFKA], emit, ctx);
}

static bool
kf_ops_idle(const void *st)
{
	return kafka_idle(st);
}

static unsigned
kf_ops_pending(const void *st)
{
	return kafka_pending(st);
}

static uint8_t
kf_ops_role(const void *st)
{
	return ((const struct kafka_conn *)st)->role;
}

static void
kf_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct kafka_conn *c = st;

	out->unparsed = c->unparsed;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = c->unknown;
}

const struct sg_proto_ops kafka_ops = {
	.name = "kafka",
	.id = SG_PROTO_KAFKA,
	.apps = 1u << SG_APP_KAFKA,
	.state_size = sizeof(struct kafka_conn),
	.keep_state = false,
	.sniff = kafka_sniff,
	.init = kf_ops_init,
	.on_data = kf_ops_on_data,
	.on_close = kf_ops_on_close,
	.expire = kf_ops_expire,
	.idle = kf_ops_idle,
	.pending = kf_ops_pending,
	.role = kf_ops_role,
	.counters = kf_ops_counters,
};
