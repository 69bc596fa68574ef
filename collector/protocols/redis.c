/*
 * Redis pairing from captured socket reads and writes.
 *
 * Both directions are streams of RESP values read by one small machine:
 * a type line (kept across reads while incomplete), then for bulk strings
 * a payload skipped by count, for aggregates a stack of element counts.
 * A value that completes at the top level is a message: on the request
 * stream a command, committed to a FIFO of pending commands; on the reply
 * stream the reply to the oldest one, unless it is an attribute (the
 * reply follows it) or a push (out of band).  The command name and key
 * are copied from the first two bulk strings of a command as they pass.
 *
 * What cannot be followed is counted, not guessed: a framing line past the
 * captured bytes makes the stream lost; a lost reply stream ends the
 * commands waiting (status unknown, but the one whose reply had begun),
 * and later replies with nothing to answer are unpaired.
 */
#include "redis.h"

#include <string.h>

enum rd_phase {
	RD_LINE = 0,	/* expecting a type line (a partial one in line[]) */
	RD_SKIPLINE,	/* the rest of a line too long to keep */
	RD_BULK,	/* bulk_left bytes of payload and CRLF */
	RD_LOST,	/* framing unknown: until a read starting a message */
};

enum rd_capture {
	RD_CAP_NONE = 0,
	RD_CAP_WORD,	/* command name, push kind, blob error */
	RD_CAP_KEY,	/* a command's first argument */
};

#define RD_CUT_WORD	0x01	/* word[] misses bytes past the capture */
#define RD_CUT_KEY	0x02

enum rd_kind {
	RD_KIND_PLAIN = 0,
	RD_KIND_SUBSCRIBE,	/* answered by a push confirmation */
};

enum rd_line {
	RD_LN_MORE,	/* the buffer ended inside the line: kept */
	RD_LN_FULL,	/* a complete line */
	RD_LN_BLIND,	/* the line runs into bytes past the capture */
};

#define RD_MAX_DIGITS	18	/* larger lengths are nonsense */

_Static_assert(REDIS_MAX_PENDING <= UINT8_MAX, "pending count in a byte");
_Static_assert(REDIS_MAX_DEPTH <= 16, "attribute levels in 16 bits");
_Static_assert(REDIS_LINE_LEN <= UINT8_MAX && REDIS_KEY_LEN <= UINT8_MAX &&
    REDIS_WORD_LEN <= UINT8_MAX, "lengths in a byte");

struct rd_io {
	const uint8_t	*data;	/* data[0..cap) is visible */
	size_t		 cap;
	uint64_t	 len;
	uint64_t	 off;
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
};

static bool
rd_is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
rd_is_alpha(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static uint8_t
rd_upper(uint8_t ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

static uint8_t
rd_lower(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static uint64_t
rd_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool
rd_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

/* The type bytes a reply (RESP2 or RESP3) may start with. */
static bool
rd_is_reply_type(uint8_t t)
{
	return t != '\0' && strchr("+-:$*_#,(!=%~>|", t) != NULL;
}

static bool
rd_word_is(const char *w, const char *lit)
{
	size_t i;

	for (i = 0; lit[i] != '\0'; i++)
		if (rd_lower((uint8_t)w[i]) != (uint8_t)lit[i])
			return false;
	return w[i] == '\0';
}

static bool
rd_is_subscribe_cmd(const char *op)
{
	size_t n = strnlen(op, sizeof("punsubscribe"));

	/* most commands are none: by length first */
	if (n < sizeof("subscribe") - 1 || n > sizeof("punsubscribe") - 1)
		return false;
	return rd_word_is(op, "subscribe") || rd_word_is(op, "psubscribe") ||
	    rd_word_is(op, "ssubscribe") || rd_word_is(op, "unsubscribe") ||
	    rd_word_is(op, "punsubscribe") || rd_word_is(op, "sunsubscribe");
}

static bool
rd_is_unsubscribe(const char *w)
{
	return rd_word_is(w, "unsubscribe") || rd_word_is(w, "punsubscribe") ||
	    rd_word_is(w, "sunsubscribe");
}

/* What a subscribed connection receives out of band. */
static bool
rd_is_push_kind(const char *w)
{
	return rd_is_subscribe_cmd(w) || rd_word_is(w, "message") ||
	    rd_word_is(w, "pmessage") || rd_word_is(w, "smessage");
}

/*
 * A decimal from a type line: "-1" (null) or digits.  False when it is
 * neither or absurdly large.
 */
static bool
rd_parse_count(const uint8_t *p, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (n == 2 && p[0] == '-' && p[1] == '1') {
		*out = -1;
		return true;
	}
	if (n == 0 || n > RD_MAX_DIGITS)
		return false;
	for (i = 0; i < n; i++) {
		if (!rd_is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* A signed integer reply (":-3"), for the counts of push confirmations. */
static bool
rd_parse_int(const uint8_t *p, size_t n, int64_t *out)
{
	bool neg = n > 0 && p[0] == '-';
	int64_t v;

	if (neg && n > 1 && rd_parse_count(p + 1, n - 1, &v) && v >= 0) {
		*out = -v;
		return true;
	}
	if (!neg && rd_parse_count(p, n, &v) && v >= 0) {
		*out = v;
		return true;
	}
	return false;
}

/* ---- the pending FIFO */

static struct redis_pending *
rd_oldest(struct redis_conn *c)
{
	return &c->pending[c->head];
}

static void
rd_pop(struct redis_conn *c)
{
	c->head = (uint8_t)((c->head + 1) % REDIS_MAX_PENDING);
	c->npending--;
}

/* Key bytes shown as printable ASCII: keys are binary-safe. */
static size_t
rd_put_key(char *dst, size_t room, const char *key)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	size_t n = strnlen(key, room), i = 0;
	uint64_t x;

	memcpy(dst, key, n);
	/* Eight bytes at a time: nonzero when one is below 0x20 or above
	 * 0x7e (or, after such a byte, a borrow's or carry's false
	 * alarm), and then looked at byte by byte. */
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, dst + i, 8);
		if ((((x - 0x20 * ones) & ~x) | x | (x + ones)) & highs)
			break;
	}
	for (; i < n; i++)
		if ((uint8_t)(dst[i] - 0x20) > 0x7e - 0x20)
			dst[i] = '.';
	return n;
}

/* "SET key ? ?": the command, its first argument, "?" for the others. */
static void
rd_target(const struct redis_pending *p, char *out, size_t size)
{
	size_t n, i;

	n = strlen(p->op);
	memcpy(out, p->op, n);
	if (p->has_key && n + 2 < size) {
		out[n++] = ' ';
		n += rd_put_key(out + n, size - 1 - n, p->key);
	}
	for (i = 0; i < p->nargs && i < REDIS_MAX_QMARKS && n + 3 < size; i++) {
		out[n++] = ' ';
		out[n++] = '?';
	}
	if (i < p->nargs && n + 4 < size) {
		memcpy(out + n, " ...", 4);
		n += 4;
	}
	out[n] = '\0';
}

static void
rd_copy_word(char *dst, size_t size, const uint8_t *p, size_t n, bool upper)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		dst[i] = (char)(upper ? rd_upper(p[i]) : p[i]);
	dst[i] = '\0';
}

static void
rd_emit(struct redis_conn *c, struct rd_io *io, const struct redis_pending *p,
    uint64_t end_ns, uint8_t flags, uint64_t resp_size, const char *error)
{
	struct sg_exchange ex;

	if (io->emit == NULL)
		return;
	proto_exchange_init(&ex);
	ex.app = SG_APP_REDIS;
	ex.role = c->role;
	ex.flags = p->flags | flags;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	memcpy(ex.op, p->op, sizeof(ex.op));
	ex.op[sizeof(ex.op) - 1] = '\0';
	rd_target(p, ex.target, sizeof(ex.target));
	ex.req_size = p->size;
	ex.resp_size = resp_size;
	if (error != NULL)
		rd_copy_word(ex.error, sizeof(ex.error), (const uint8_t *)error,
		    strlen(error), false);
	io->emit(io->ctx, &ex);
}

/* The oldest command ends: answered, or not (flags). */
static void
rd_end_oldest(struct redis_conn *c, struct rd_io *io, uint64_t end_ns,
    uint8_t flags, uint64_t resp_size, const char *error)
{
	const struct redis_pending *p;

	if (c->npending == 0)
		return;
	/* its slot is written again only by a later command's commit */
	p = rd_oldest(c);
	rd_pop(c);
	rd_emit(c, io, p, end_ns, flags, resp_size, error);
}

static void
rd_end_all(struct redis_conn *c, struct rd_io *io, uint64_t end_ns,
    uint8_t flags)
{
	while (c->npending > 0)
		rd_end_oldest(c, io, end_ns, flags, 0, NULL);
}

/* A command whose name is printable letters, digits, '-' or '_'. */
static bool
rd_name_ok(const char *op)
{
	size_t i;

	if (op[0] == '\0')
		return false;
	for (i = 0; op[i] != '\0'; i++)
		if (!rd_is_alpha((uint8_t)op[i]) && !rd_is_digit((uint8_t)op[i]) &&
		    op[i] != '_' && op[i] != '-' && op[i] != '|')
			return false;
	return true;
}

/* Queue a command: its name, its first argument, how many others. */
static void
rd_commit(struct redis_conn *c, const char *op,
    uint8_t op_cut, const char *key, bool has_key, uint8_t key_cut,
    uint32_t nargs, uint64_t start_ns, uint64_t size)
{
	struct redis_pending *p;

	if (c->npending == REDIS_MAX_PENDING) {
		c->dropped++;
		return;
	}
	p = &c->pending[(c->head + c->npending) % REDIS_MAX_PENDING];
	memset(p, 0, sizeof(*p));
	p->start_ns = start_ns;
	p->size = size;
	p->nargs = nargs;
	if (op_cut || !rd_name_ok(op)) {
		p->flags |= SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
	} else {
		memcpy(p->op, op, sizeof(p->op));
		p->op[sizeof(p->op) - 1] = '\0';
		p->has_key = has_key && !key_cut;
		if (has_key && key_cut) {
			/* shown as one more "?" */
			p->flags |= SG_EX_TARGET_UNKNOWN;
			p->nargs++;
		}
		if (p->has_key) {
			memcpy(p->key, key, sizeof(p->key));
			p->key[sizeof(p->key) - 1] = '\0';
		}
		if (rd_is_subscribe_cmd(p->op)) {
			p->kind = RD_KIND_SUBSCRIBE;
			if (!rd_is_unsubscribe(p->op))
				c->subscribed = 1;
		}
	}
	c->npending++;
}

/* ---- streams */

static void
rd_stream_reset(struct redis_stream *s)
{
	uint8_t prev_crlf = s->prev_crlf;

	memset(s, 0, offsetof(struct redis_stream, left));
	s->word[0] = '\0';
	s->key[0] = '\0';
	s->prev_crlf = prev_crlf;
}

static void
rd_keep(struct redis_stream *s, const uint8_t *p, size_t n)
{
	size_t room = sizeof(s->line) - 1 - s->line_len;
	size_t k = n < room ? n : room;

	memcpy(s->line + s->line_len, p, k);
	s->line_len += (uint8_t)k;
	if (k < n)
		s->line_long = 1;
}

/*
 * The next line, joined with its start kept from earlier reads: *p, *n
 * without the CRLF.  A kept line longer than line[] comes truncated.
 */
static enum rd_line
rd_next_line(struct redis_stream *s, struct rd_io *io, const uint8_t **p,
    size_t *n)
{
	const uint8_t *start, *lf;
	size_t avail, k;

	avail = io->off < io->cap ? io->cap - (size_t)io->off : 0;
	/* nothing visible: no pointer into data, which may be NULL */
	if (avail == 0)
		return io->off < io->len ? RD_LN_BLIND : RD_LN_MORE;
	start = io->data + io->off;
	lf = memchr(start, '\n', avail);
	if (lf == NULL) {
		rd_keep(s, start, avail);
		io->off += avail;
		return io->off < io->len ? RD_LN_BLIND : RD_LN_MORE;
	}
	k = (size_t)(lf - start);
	io->off += k + 1;
	if (s->line_len == 0 && !s->line_long) {
		*p = start;
		*n = k;
	} else {
		rd_keep(s, start, k);
		*p = (const uint8_t *)s->line;
		*n = s->line_len;
	}
	if (*n > 0 && (*p)[*n - 1] == '\r')
		(*n)--;
	s->line_len = 0;
	s->line_long = 0;
	return RD_LN_FULL;
}

static bool
rd_is_req(const struct redis_conn *c, const struct redis_stream *s)
{
	return s == &c->req;
}

/* Bytes that are not RESP: lost until a read/write that starts anew. */
static void
rd_garbage(struct redis_conn *c, struct redis_stream *s, struct rd_io *io,
    uint64_t from)
{
	c->unparsed += io->len - from;
	if (!rd_is_req(c, s) && s->in_msg)
		rd_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	rd_stream_reset(s);
	s->phase = RD_LOST;
	io->off = io->len;
}

/* The first word of an error ("ERR", "WRONGTYPE"), upper-case letters. */
static void
rd_error_word(const char *msg, size_t n, char *out, size_t size)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size && msg[i] != ' ' && msg[i] != '\r' &&
	    msg[i] > 0x20 && msg[i] < 0x7f; i++)
		out[i] = msg[i];
	out[i] = '\0';
}

/* A reply or push is complete at the top level. */
static void
rd_reply_done(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	char err[SG_ERROR_MAX];
	bool push;

	push = s->top == '>' || (c->subscribed && s->top == '*' &&
	    !(s->cut & RD_CUT_WORD) && rd_is_push_kind(s->word));
	if (push) {
		if (rd_is_unsubscribe(s->word) && s->has_third &&
		    s->third == 0)
			c->subscribed = 0;
		/* a confirmation answers the command that asked for it */
		if (rd_is_subscribe_cmd(s->word) && c->npending > 0 &&
		    rd_oldest(c)->kind == RD_KIND_SUBSCRIBE)
			rd_end_oldest(c, io, io->ts, 0, s->size, NULL);
		return;
	}
	if (c->npending == 0) {
		c->unpaired++;
		return;
	}
	err[0] = '\0';
	if (s->top == '-' || s->top == '!')
		rd_error_word(s->word, strlen(s->word), err, sizeof(err));
	if ((s->top == '-' || s->top == '!') && err[0] == '\0')
		rd_end_oldest(c, io, io->ts, SG_EX_STATUS_UNKNOWN, s->size,
		    NULL);
	else
		rd_end_oldest(c, io, io->ts, 0, s->size,
		    err[0] != '\0' ? err : NULL);
}

static void
rd_request_done(struct redis_conn *c, struct redis_stream *s)
{
	if (s->nelems == 0)
		return;		/* "*0": the server skips it */
	rd_commit(c, s->word, s->cut & RD_CUT_WORD, s->key,
	    s->nelems > 1, s->cut & RD_CUT_KEY,
	    s->nelems > 2 ? s->nelems - 2 : 0, s->start_ns, s->size);
}

static void
rd_message_done(struct redis_conn *c, struct redis_stream *s,
    struct rd_io *io)
{
	if (rd_is_req(c, s))
		rd_request_done(c, s);
	else
		rd_reply_done(c, s, io);
	rd_stream_reset(s);
}

/* A value ended at the current level: close the aggregates it fills. */
static void
rd_value_done(struct redis_conn *c, struct redis_stream *s,
    struct rd_io *io, bool was_attr)
{
	uint8_t d;

	for (;;) {
		if (s->depth == 0) {
			if (was_attr) {
				s->top = 0;	/* the reply follows */
				return;
			}
			rd_message_done(c, s, io);
			return;
		}
		d = s->depth - 1;
		if (was_attr)
			return;		/* not an element of its parent */
		if (s->depth == 1)
			s->index++;
		if (--s->left[d] > 0)
			return;
		was_attr = (s->attr >> d) & 1;
		s->attr &= (uint16_t)~(1u << d);
		s->depth--;
	}
}

/* An attribute completed inside an aggregate is no element of it. */
static void
rd_aggregate(struct redis_conn *c, struct redis_stream *s, struct rd_io *io,
    uint8_t t, int64_t count, uint64_t from)
{
	bool attr = t == '|';

	if (t == '%' || t == '|')
		count *= 2;
	if (count <= 0) {
		rd_value_done(c, s, io, attr);
		return;
	}
	if (s->depth == REDIS_MAX_DEPTH) {
		rd_garbage(c, s, io, from);
		return;
	}
	if (s->depth == 0) {
		s->index = 0;
		s->has_third = 0;
		s->word_len = 0;
		s->word[0] = '\0';
		s->cut = 0;
		s->nelems = (uint32_t)rd_min((uint64_t)count, UINT32_MAX);
	}
	s->left[s->depth] = (uint64_t)count;
	if (attr)
		s->attr |= (uint16_t)(1u << s->depth);
	s->depth++;
}

static uint8_t
rd_capture_for(const struct redis_conn *c, const struct redis_stream *s,
    uint8_t t)
{
	if (rd_is_req(c, s))
		return s->depth == 1 && s->index == 0 ? RD_CAP_WORD :
		    s->depth == 1 && s->index == 1 ? RD_CAP_KEY : RD_CAP_NONE;
	if (s->depth == 0 && t == '!')
		return RD_CAP_WORD;
	if (s->depth == 1 && s->index == 0 && (s->top == '*' || s->top == '>'))
		return RD_CAP_WORD;
	return RD_CAP_NONE;
}

static void
rd_bulk_begin(struct redis_conn *c, struct redis_stream *s,
    struct rd_io *io, uint8_t t, int64_t len)
{
	if (len < 0) {
		rd_value_done(c, s, io, false);	/* null */
		return;
	}
	s->capture = rd_capture_for(c, s, t);
	if (s->capture == RD_CAP_WORD)
		s->word_len = 0;
	else if (s->capture == RD_CAP_KEY)
		s->key_len = 0;
	s->bulk_left = (uint64_t)len + 2;
	s->phase = RD_BULK;
}

/* An inline command: words separated by blanks, on one line. */
static void
rd_inline(struct redis_conn *c, struct redis_stream *s, struct rd_io *io,
    const uint8_t *p, size_t n, bool cut, uint64_t from)
{
	size_t i = 0, w0, w1, k0 = 0, k1 = 0;
	uint32_t words = 0;
	char op[REDIS_WORD_LEN], key[REDIS_KEY_LEN];
	bool op_cut;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n) {
		rd_stream_reset(s);	/* blank: the server skips it */
		return;
	}
	if (!rd_is_alpha(p[i])) {
		rd_garbage(c, s, io, from);
		return;
	}
	w0 = i;
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	w1 = i;
	for (; i < n; words++) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (words == 0)
			k0 = i;
		while (i < n && p[i] != ' ' && p[i] != '\t')
			i++;
		if (words == 0)
			k1 = i;
	}
	op_cut = cut && w1 == n;
	rd_copy_word(op, sizeof(op), p + w0, w1 - w0, true);
	if (words > 0 && k1 - k0 >= 2 && p[k0] == '"' && p[k1 - 1] == '"') {
		k0++;
		k1--;
	}
	rd_copy_word(key, sizeof(key), p + k0, k1 - k0, false);
	rd_commit(c, op, op_cut, key, words > 0,
	    words > 0 && cut && k1 == n, words > 1 ? words - 1 : 0,
	    s->start_ns, s->size);
	rd_stream_reset(s);
}

/* A complete type line at the current level. */
static void
rd_line_value(struct redis_conn *c, struct redis_stream *s, struct rd_io *io,
    const uint8_t *p, size_t n, uint64_t from)
{
	bool req = rd_is_req(c, s);
	int64_t v;
	uint8_t t;

	if (n == 0) {
		if (req && s->depth == 0) {
			rd_stream_reset(s);	/* empty inline line */
			return;
		}
		rd_garbage(c, s, io, from);
		return;
	}
	t = p[0];
	if (req && s->depth == 0 && t != '*') {
		rd_inline(c, s, io, p, n, false, from);
		return;
	}
	if ((req && s->depth > 0 && t != '$') || !rd_is_reply_type(t)) {
		rd_garbage(c, s, io, from);
		return;
	}
	if (s->depth == 0)
		s->top = t;
	switch (t) {
	case '$': case '!': case '=':
		if (!rd_parse_count(p + 1, n - 1, &v)) {
			rd_garbage(c, s, io, from);
			return;
		}
		rd_bulk_begin(c, s, io, t, v);
		return;
	case '*': case '%': case '~': case '>': case '|':
		if (!rd_parse_count(p + 1, n - 1, &v)) {
			rd_garbage(c, s, io, from);
			return;
		}
		rd_aggregate(c, s, io, t, v, from);
		return;
	case '-':
		if (s->depth == 0)
			rd_copy_word(s->word, sizeof(s->word), p + 1, n - 1,
			    false);
		break;
	case ':':
		if (s->depth == 1 && s->index == 2)
			s->has_third = rd_parse_int(p + 1, n - 1, &s->third);
		break;
	default:
		break;
	}
	rd_value_done(c, s, io, false);
}

/* Framing fell past the capture. */
static void
rd_blind(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	c->unparsed += io->len - io->off;
	io->off = io->len;
	if (rd_is_req(c, s)) {
		/* the command in progress is known to exist */
		if (s->in_msg && s->top == '*' && s->nelems > 0) {
			if (s->index == 0)
				s->cut |= RD_CUT_WORD;
			if (s->index <= 1)
				s->cut |= RD_CUT_KEY;
			rd_request_done(c, s);
		}
	} else if (s->in_msg && s->top != 0 && s->top != '>' &&
	    s->top != '|' && c->npending > 0) {
		/* its reply began: the others may have been past the capture */
		rd_end_oldest(c, io, io->ts, s->top == '-' ?
		    SG_EX_STATUS_UNKNOWN : 0, s->size, NULL);
		rd_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	} else if (s->in_msg) {
		rd_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	}
	rd_stream_reset(s);
	s->phase = RD_LOST;
}

static void
rd_step_line(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	const uint8_t *p = NULL;
	uint64_t from = io->off;
	size_t n = 0;
	enum rd_line ln;

	if (!s->in_msg) {
		s->in_msg = 1;
		s->start_ns = io->ts;
		s->size = 0;
	}
	ln = rd_next_line(s, io, &p, &n);
	s->size += io->off - from;
	switch (ln) {
	case RD_LN_MORE:
		return;
	case RD_LN_BLIND:
		if (rd_is_req(c, s) && s->depth == 0 && s->line_len > 0 &&
		    s->line[0] != '*') {
			/* an inline command cut by the capture */
			rd_inline(c, s, io, (const uint8_t *)s->line,
			    s->line_len, true, from);
			c->unparsed += io->len - io->off;
			s->phase = RD_LOST;
			io->off = io->len;
			return;
		}
		rd_blind(c, s, io);
		return;
	case RD_LN_FULL:
		break;
	}
	rd_line_value(c, s, io, p, n, from);
}

static void
rd_step_bulk(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	uint64_t step = rd_min(s->bulk_left, io->len - io->off);
	uint64_t payload = s->bulk_left > 2 ? s->bulk_left - 2 : 0;
	uint64_t vis = io->off < io->cap ? rd_min(step, io->cap - io->off) : 0;
	uint64_t take = rd_min(payload, vis);
	const uint8_t *p = vis > 0 ? io->data + io->off : NULL;
	char *dst = s->capture == RD_CAP_WORD ? s->word :
	    s->capture == RD_CAP_KEY ? s->key : NULL;
	uint8_t *dlen = s->capture == RD_CAP_WORD ? &s->word_len : &s->key_len;
	size_t size = s->capture == RD_CAP_WORD ? sizeof(s->word) :
	    sizeof(s->key);
	uint64_t i, k;

	if (dst != NULL) {
		k = rd_min(take, size - 1 - *dlen);
		for (i = 0; i < k; i++)
			dst[*dlen + i] = (char)(s->capture == RD_CAP_WORD &&
			    rd_is_req(c, s) ? rd_upper(p[i]) : p[i]);
		*dlen += (uint8_t)k;
		dst[*dlen] = '\0';
		if (take < rd_min(payload, step))
			s->cut |= s->capture == RD_CAP_WORD ? RD_CUT_WORD :
			    RD_CUT_KEY;
	}
	/* the CRLF after the payload, where visible */
	for (i = payload; i < vis; i++)
		if (p[i] != (s->bulk_left - i == 2 ? '\r' : '\n')) {
			rd_garbage(c, s, io, io->off);
			return;
		}
	io->off += step;
	s->size += step;
	s->bulk_left -= step;
	if (s->bulk_left == 0) {
		s->phase = RD_LINE;
		s->capture = RD_CAP_NONE;
		rd_value_done(c, s, io, false);
	}
}

/* Whether a lost stream can start again with this read or write. */
static bool
rd_can_resync(const struct redis_conn *c, const struct redis_stream *s,
    const struct rd_io *io)
{
	uint8_t t;

	if (!s->prev_crlf || io->cap == 0)
		return false;
	t = io->data[0];
	if (rd_is_req(c, s))
		return t == '*' || rd_is_alpha(t);
	return rd_is_reply_type(t);
}

/*
 * The common messages parsed in one pass: a command array of bulk
 * strings, and a simple, integer or bulk reply, whole within the
 * capture and at a message's start.  What they leave (the pending
 * command, the reply's end) is what the state machine above would have
 * left; anything else (a partial or cut message, a null, a nested or
 * RESP3 value, an error, an inline command) returns false having
 * changed nothing, and goes the general way.  The general way was
 * about 1,500 instructions per command in bench/collector_bench -p
 * redis, and the parser half the collector's time under
 * redis-benchmark -P 16 (bench/RESULTS.md, 2026-11-28).
 */
bool redis_fast_off;

/* The type line at p[0, avail): its value's digits after the type byte
 * (without the CR), and where the next line starts.  False when no LF
 * is visible. */
static bool
rd_fast_line(const uint8_t *p, size_t avail, size_t *n, size_t *next)
{
	const uint8_t *lf = memchr(p, '\n', avail);
	size_t k;

	if (lf == NULL)
		return false;
	k = (size_t)(lf - p);
	*next = k + 1;
	if (k > 0 && p[k - 1] == '\r')
		k--;
	if (k == 0)
		return false;
	*n = k - 1;
	return true;
}

/* A bulk string at p: "$<len>\r\n<len bytes>\r\n", whole in avail.
 * *at, *len: its payload; *next: the byte after it. */
static bool
rd_fast_bulk(const uint8_t *p, size_t avail, size_t *at, size_t *len,
    size_t *next)
{
	size_t n, hdr;
	int64_t v;

	if (avail == 0 || p[0] != '$' || !rd_fast_line(p, avail, &n, &hdr) ||
	    !rd_parse_count(p + 1, n, &v) || v < 0 ||
	    (uint64_t)v + 2 > avail - hdr)
		return false;
	if (p[hdr + (size_t)v] != '\r' || p[hdr + (size_t)v + 1] != '\n')
		return false;
	*at = hdr;
	*len = (size_t)v;
	*next = hdr + (size_t)v + 2;
	return true;
}

static bool
rd_fast_request(struct redis_conn *c, struct rd_io *io)
{
	const uint8_t *p = io->data + io->off;
	size_t avail = io->cap - (size_t)io->off, off, n, at, len, next;
	char word[REDIS_WORD_LEN], key[REDIS_KEY_LEN];
	int64_t count;

	if (p[0] != '*' || !rd_fast_line(p, avail, &n, &off) ||
	    !rd_parse_count(p + 1, n, &count) || count < 1 ||
	    count > REDIS_MAX_PENDING)
		return false;
	word[0] = key[0] = '\0';
	for (int64_t i = 0; i < count; i++) {
		if (!rd_fast_bulk(p + off, avail - off, &at, &len, &next))
			return false;
		if (i == 0) {
			if (len >= sizeof(word))
				return false;
			rd_copy_word(word, sizeof(word), p + off + at, len,
			    true);
		} else if (i == 1) {
			if (len >= sizeof(key))
				return false;
			memcpy(key, p + off + at, len);
			key[len] = '\0';
		}
		off += next;
	}
	rd_commit(c, word, 0, key, count > 1, 0,
	    count > 2 ? (uint32_t)(count - 2) : 0, io->ts, off);
	io->off += off;
	return true;
}

static bool
rd_fast_reply(struct redis_conn *c, struct rd_io *io)
{
	const uint8_t *p = io->data + io->off;
	size_t avail = io->cap - (size_t)io->off, off, n, at, len;

	switch (p[0]) {
	case '+':
	case ':':
		if (!rd_fast_line(p, avail, &n, &off))
			return false;
		break;
	case '$':
		if (!rd_fast_bulk(p, avail, &at, &len, &off))
			return false;
		break;
	default:
		return false;
	}
	io->off += off;
	if (c->npending == 0)
		c->unpaired++;
	else
		rd_end_oldest(c, io, io->ts, 0, off, NULL);
	return true;
}

/* One message the fast way, where the stream is at a message's start. */
static bool
rd_fast(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	if (redis_fast_off || s->phase != RD_LINE || s->in_msg ||
	    s->line_len != 0 || s->line_long || io->off >= io->cap)
		return false;
	return rd_is_req(c, s) ? rd_fast_request(c, io) : rd_fast_reply(c, io);
}

static void
rd_feed(struct redis_conn *c, struct redis_stream *s, struct rd_io *io)
{
	uint64_t off;
	uint8_t phase;

	if (s->phase == RD_LOST) {
		if (!rd_can_resync(c, s, io)) {
			c->unparsed += io->len;
			return;
		}
		rd_stream_reset(s);
	}
	while (io->off < io->len) {
		if (rd_fast(c, s, io))
			continue;
		off = io->off;
		phase = s->phase;
		switch (s->phase) {
		case RD_LINE:
			rd_step_line(c, s, io);
			break;
		case RD_BULK:
			rd_step_bulk(c, s, io);
			break;
		default:
			io->off = io->len;
			break;
		}
		if (io->off == off && s->phase == phase)
			io->off = io->len;	/* no progress: give up */
	}
}

static bool
rd_ends_crlf(const struct rd_io *io, const uint8_t *tail)
{
	if (io->len <= io->cap)
		return io->len > 0 && io->data[io->len - 1] == '\n';
	return tail != NULL && tail[SG_TAIL_LEN - 1] == '\n';
}

/* A connection that predates the sensor: replies tell the direction (an
 * array may be either). */
static bool
rd_learn_role(struct redis_conn *c, uint8_t dir, const struct rd_io *io)
{
	uint8_t t;

	if (io->cap == 0)
		return false;
	t = io->data[0];
	if (t == '*')
		return false;
	if (rd_is_reply_type(t))
		c->role = dir == SG_DIR_READ ? SG_ROLE_CLIENT : SG_ROLE_SERVER;
	else if (rd_is_alpha(t))
		c->role = dir == SG_DIR_READ ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
	else {
		c->unparsed += io->len;
		return false;
	}
	return true;
}

/* The streams as rd_stream_reset leaves one between two messages: their
 * buffers past the lengths are not cleared, nor pending[] (an entry is
 * written whole when its command is committed).  A state is taken from
 * the free list for every exchange (conns.c): clearing both streams
 * whole was a third of the init's instructions. */
void
redis_conn_init(struct redis_conn *c, uint8_t role)
{
	memset(c, 0, offsetof(struct redis_conn, req));
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
	c->req.prev_crlf = 1;
	c->resp.prev_crlf = 1;
	rd_stream_reset(&c->req);
	rd_stream_reset(&c->resp);
}

void
redis_on_data(struct redis_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	struct redis_stream *s;
	struct rd_io io;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)rd_min(captured, len) : 0;
	io.len = len;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT &&
	    !rd_learn_role(c, dir, &io))
		return;
	s = (dir == SG_DIR_READ) == (c->role == SG_ROLE_SERVER) ? &c->req :
	    &c->resp;
	rd_feed(c, s, &io);
	s->prev_crlf = rd_ends_crlf(&io, tail);
}

void
redis_on_close(struct redis_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct rd_io io;
	uint64_t unparsed, unpaired, dropped;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	if (c->resp.in_msg && c->npending > 0)
		rd_end_oldest(c, &io, ts_ns, SG_EX_STATUS_UNKNOWN,
		    c->resp.size, NULL);
	rd_end_all(c, &io, ts_ns, SG_EX_TIMED_OUT);
	role = c->role;
	unparsed = c->unparsed;
	unpaired = c->unpaired;
	dropped = c->dropped;
	redis_conn_init(c, role);
	c->unparsed = unparsed;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->last_ns = ts_ns;
}

unsigned
redis_expire(struct redis_conn *c, uint64_t now_ns, uint64_t timeout_ns,
    sg_emit_fn emit, void *ctx)
{
	struct rd_io io;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	/* a reply flowing: only a stalled one ends */
	if (c->resp.in_msg && !rd_older(now_ns, c->last_ns, timeout_ns))
		return 0;
	while (c->npending > 0 &&
	    rd_older(now_ns, rd_oldest(c)->start_ns, timeout_ns)) {
		rd_end_oldest(c, &io, now_ns, SG_EX_TIMED_OUT, 0, NULL);
		n++;
	}
	if (rd_older(now_ns, c->last_ns, timeout_ns)) {
		/* partial messages will not be completed */
		if (c->req.phase != RD_LOST)
			rd_stream_reset(&c->req);
		if (c->resp.phase != RD_LOST)
			rd_stream_reset(&c->resp);
	}
	return n;
}

static bool
rd_stream_idle(const struct redis_stream *s)
{
	return s->phase == RD_LINE && !s->in_msg && s->line_len == 0;
}

bool
redis_idle(const struct redis_conn *c)
{
	if (c == NULL)
		return true;
	/* subscribed: later pushes must not be taken for replies */
	return c->npending == 0 && !c->subscribed &&
	    rd_stream_idle(&c->req) && rd_stream_idle(&c->resp);
}

unsigned
redis_pending(const struct redis_conn *c)
{
	return c != NULL ? c->npending : 0;
}

/* ---- detection */

#define RD_PORT 6379

/* "*<digits>\r\n$": a command (or an array reply: Redis either way). */
static enum sg_sniff
rd_sniff_array(const uint8_t *d, size_t n)
{
	size_t i = 1;

	while (i < n && rd_is_digit(d[i]) && i <= 10)
		i++;
	if (i == n)
		return SG_SNIFF_MAYBE;
	if (i == 1)
		return SG_SNIFF_NO;
	if (d[i] != '\r')
		return SG_SNIFF_NO;
	if (++i == n)
		return SG_SNIFF_MAYBE;
	if (d[i] != '\n')
		return SG_SNIFF_NO;
	if (++i == n)
		return SG_SNIFF_MAYBE;
	return d[i] == '$' ? SG_SNIFF_YES : SG_SNIFF_NO;
}

/* A line of letters, then a blank or the line's end. */
static bool
rd_sniff_inline(const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n && rd_is_alpha(d[i]))
		i++;
	return i > 0 && i < n && (d[i] == ' ' || d[i] == '\r' || d[i] == '\n');
}

/* A reply line: its type byte, then a line end within what is seen. */
static bool
rd_sniff_reply(const uint8_t *d, size_t n)
{
	const uint8_t *lf;
	size_t i;

	if (!rd_is_reply_type(d[0]) || d[0] == '*')
		return false;
	if ((lf = memchr(d, '\n', n)) == NULL)
		return false;
	if (lf == d || lf[-1] != '\r')
		return false;
	for (i = 1; d + i < lf - 1; i++)
		if (d[i] < 0x20 && d[i] != '\t')
			return false;
	return true;
}

enum sg_sniff
redis_sniff(const uint8_t *data, size_t captured, uint8_t dir, uint16_t port)
{
	enum sg_sniff v;

	(void)dir;
	if (data == NULL || captured == 0)
		return SG_SNIFF_NO;
	if (data[0] == '*' && (v = rd_sniff_array(data, captured)) !=
	    SG_SNIFF_NO)
		return v;
	if (port != RD_PORT)
		return SG_SNIFF_NO;
	if (rd_sniff_inline(data, captured) || rd_sniff_reply(data, captured))
		return SG_SNIFF_YES;
	return captured < 4 ? SG_SNIFF_MAYBE : SG_SNIFF_NO;
}

/* ---- the parser as the connection table sees it (proto.h) */

static void
rd_ops_init(void *st, uint8_t role)
{
	redis_conn_init(st, role);
}

static void
rd_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	redis_on_data(st, dir, ts_ns, len, data, captured, tail, emit, ctx);
}

static void
rd_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	redis_on_close(st, ts_ns, emit, ctx);
}

static unsigned
rd_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return redis_expire(st, now_ns, to->ns[SG_APP_REDIS], emit, ctx);
}

static bool
rd_ops_idle(const void *st)
{
	return redis_idle(st);
}

static unsigned
rd_ops_pending(const void *st)
{
	return redis_pending(st);
}

static uint8_t
rd_ops_role(const void *st)
{
	return ((const struct redis_conn *)st)->role;
}

static void
rd_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct redis_conn *c = st;

	out->unparsed = c->unparsed;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = 0;
}

const struct sg_proto_ops redis_ops = {
	.name = "redis",
	.id = SG_PROTO_REDIS,
	.apps = 1u << SG_APP_REDIS,
	.state_size = sizeof(struct redis_conn),
	.keep_state = false,
	.sniff = redis_sniff,
	.init = rd_ops_init,
	.on_data = rd_ops_on_data,
	.on_close = rd_ops_on_close,
	.expire = rd_ops_expire,
	.idle = rd_ops_idle,
	.pending = rd_ops_pending,
	.role = rd_ops_role,
	.counters = rd_ops_counters,
};
