/*
 * HTTP/1.x pairing from captured socket reads and writes.
 *
 * Each connection has two byte streams: requests (read by a server,
 * written by a client) and responses (the other direction).  Each stream
 * is parsed by the same small state machine: a start line, a header block
 * kept line by line (only the incomplete line survives between reads), then
 * a body followed by length: Content-Length, chunked framing, or the close
 * of the connection.  Only a prefix of every buffer is visible, so bodies
 * are skipped by counting `len`, and anything whose framing went past the
 * visible bytes is followed "lost": until the next buffer that starts
 * with a start line.
 *
 * The request being received is committed to a ring of pending requests
 * when its header block ends, so responses pair with requests first-in
 * first-out.  What cannot be paired is counted, never guessed: a request
 * seen while the ring is full is dropped (`dropped`), and a final response
 * that answers no pending request (its request was past the capture, or
 * timed out) is `unpaired`.
 */
#include "http1.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tracectx.h"

enum h1_phase {
	PH_START = 0,	/* expecting a start line (a partial one in hdr) */
	PH_HEADERS,	/* in the header block (a partial line in hdr) */
	PH_SKIPLINE,	/* skipping the rest of a line too long to keep */
	PH_BODY,	/* body: chunked, until_close or body_left bytes */
	PH_LOST,	/* framing unknown: skip to a buffer starting a message */
	PH_TUNNEL,	/* upgraded or CONNECT: no longer HTTP/1.x */
};

enum h1_chunk {
	CH_NONE = 0,
	CH_SIZE,	/* chunk-size line (a partial one in hdr) */
	CH_DATA,	/* body_left bytes of chunk data */
	CH_DATA_END,	/* body_left bytes of the CRLF after the data */
	CH_TRAILER,	/* trailer lines up to an empty line */
	CH_BLIND,	/* sizes fell past the capture: watch the tails */
};

enum h1_line {
	LN_MORE,	/* the visible bytes ended inside the line: kept */
	LN_FULL,	/* a complete line */
	LN_LONG,	/* a complete line of which only the start was kept */
	LN_CUT,		/* too long to keep: first bytes given, rest to skip */
	LN_BLIND,	/* the line runs into bytes past the capture */
};

enum h1_scan {
	SC_BAD = -1,	/* cannot be the start of a start line */
	SC_PARTIAL,	/* a valid prefix */
	SC_FULL,	/* a complete, valid start line */
};

#define H1_NO_LENGTH	UINT64_MAX	/* no Content-Length seen */
#define H1_CL_DIGITS	18		/* larger is nonsense; avoids overflow */
#define H1_CHUNK_DIGITS	15
#define H1_METHOD_LEN	(SG_METHOD_MAX - 1)
#define H1_LAST_CHUNK	"0\r\n\r\n"
#define H1_MIN_REQUEST	14		/* "A / HTTP/1.1\n\n" */

_Static_assert(HTTP1_MAX_PENDING > SG_CAPTURE_MAX / H1_MIN_REQUEST &&
    HTTP1_MAX_PENDING <= UINT8_MAX,
    "the requests of one capture fit the ring, counted in a byte");
/* A trace context joins its request's names as TRACECTX_LEN bytes, and
 * a tracestate as TRACESTATE_HDR bytes and its members, fewer than their
 * header lines took in the capture: the bound below still holds. */
_Static_assert(HTTP1_NAMES_LEN >= SG_CAPTURE_MAX &&
    HTTP1_NAMES_LEN <= UINT16_MAX,
    "the names of one capture fit, indexed by 16 bits");
_Static_assert(SG_PATH_MAX - 1 <= UINT8_MAX && SG_METHOD_MAX - 1 <= UINT8_MAX,
    "name lengths fit a byte");

/* One read or write being parsed, and where exchanges go. */
struct h1_io {
	const uint8_t	*data;	/* data[0..cap) is visible */
	size_t		 cap;
	uint64_t	 len;	/* bytes the syscall moved */
	uint64_t	 off;	/* parse position in [0, len] */
	const uint8_t	*tail;	/* NULL or the last SG_TAIL_LEN bytes */
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
	/* Whether the last line h1_next_line() gave is all field characters:
	 * 1 yes, 0 no, -1 not looked at (a line joined across reads). */
	int8_t		 line_ok;
};

struct h1_reqline {
	const uint8_t	*method;
	size_t		 mlen;
	const uint8_t	*target;
	size_t		 tlen;
	char		 minor;	/* version digit, 0 until seen */
};

struct h1_statusline {
	uint16_t	 status;	/* 0 until all three digits seen */
	char		 minor;
};

static void	h1_resp_complete(struct http1_conn *, struct h1_io *,
		    uint64_t, uint64_t);

static bool
h1_is_upper(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static bool
h1_is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static int
h1_hex_value(uint8_t ch)
{
	if (h1_is_digit(ch))
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static uint8_t
h1_lower(uint8_t ch)
{
	return h1_is_upper(ch) ? ch - 'A' + 'a' : ch;
}

/* Visible, non-space ASCII: what a request target may hold.  Bytes above
 * 0x7e are refused so that paths stay printable in spans and labels. */
static bool
h1_is_target_char(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/* Field values may carry obs-text but no control characters. */
static bool
h1_is_field_char(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Of eight bytes, the high bit of each below 0x20 or equal to 0x7f, and
 * maybe of a byte after one of them (a borrow's false alarm): zero when
 * all eight are plain text, so that most words need no closer look. */
static uint64_t
h1_word_ctl(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t d = x ^ 0x7f * ones;

	return (((x - 0x20 * ones) & ~x) | ((d - ones) & ~d)) & highs;
}

/*
 * The line scan's block: H1_BLOCK bytes at p, of which h1_block_ctl()
 * flags those below 0x20 or equal to 0x7f (zero: all plain text) and
 * h1_block_first() gives the first flagged, a real one.  SSE2, where the
 * compiler has it, looks at sixteen bytes with no false alarm (the line
 * scan: 1,262 instructions per exchange in bench/collector_bench with
 * the eight-byte word); else a word of eight.
 */
#if defined(__SSE2__)
#define H1_BLOCK 16

static uint64_t
h1_block_ctl(const uint8_t *p)
{
	const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i c1f = _mm_set1_epi8(0x1f);
	/* unsigned x <= 0x1f: the larger of the two is 0x1f */
	const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f);
	const __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));

	return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(low, del));
}

static size_t
h1_block_first(uint64_t mask)
{
	return (size_t)__builtin_ctzll(mask);
}

/* mask without the flags of its first k bytes (k < H1_BLOCK) */
static uint64_t
h1_block_drop(uint64_t mask, size_t k)
{
	return mask >> k;
}
#else
#define H1_BLOCK 8

static uint64_t
h1_block_ctl(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
	return h1_word_ctl(x);
}

/* On a big-endian machine the first of the bits may be a borrow's false
 * alarm: callers check the byte. */
static size_t
h1_block_first(uint64_t mask)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (size_t)__builtin_clzll(mask) >> 3;
#else
	return (size_t)__builtin_ctzll(mask) >> 3;
#endif
}

/* mask without the flags of its first k bytes (k < H1_BLOCK); a false
 * alarm left by a dropped byte's borrow is checked as any flag is */
static uint64_t
h1_block_drop(uint64_t mask, size_t k)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return mask << (8 * k);
#else
	return mask >> (8 * k);
#endif
}
#endif

/* Eight bytes with A-Z made lower case (h1_lower() on each): exact,
 * with no carry between bytes. */
static uint64_t
h1_word_lower(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	const uint64_t low7 = x & ~highs;
	const uint64_t ge_a = low7 + (0x80 - 'A') * ones;
	const uint64_t gt_z = low7 + (0x7f - 'Z') * ones;

	return x | ((ge_a & ~gt_z & ~x & highs) >> 2);
}

/* p[0, n) equals lit, a lower-case literal, but for case.  Eight bytes
 * at a time where there are eight (a Content-Length line's name took 150
 * instructions a byte at a time). */
static bool
h1_eq_nocase(const uint8_t *p, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	if (n >= 8) {
		uint64_t x, y;

		for (i = 0; i < n; i += 8) {
			/* the last word may overlap the one before */
			size_t at = i + 8 <= n ? i : n - 8;

			memcpy(&x, p + at, 8);
			memcpy(&y, lit + at, 8);
			if (h1_word_lower(x) != y)
				return false;
		}
		return true;
	}
	for (i = 0; i < n; i++)
		if (h1_lower(p[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

static bool
h1_contains_nocase(const uint8_t *p, size_t n, const char *lit)
{
	size_t i, k = strlen(lit);

	for (i = 0; i + k <= n; i++)
		if (h1_eq_nocase(p + i, k, lit))
			return true;
	return false;
}

static uint64_t
h1_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* now - then > timeout, without wrapping when then is in the future. */
static bool
h1_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

/*
 * Start lines.  The scanners accept a prefix too, so that a line split
 * across reads is refused as soon as it cannot become valid and a line
 * cut by the capture can still be used for what it shows.
 */
static enum h1_scan
h1_scan_reqline(const uint8_t *p, size_t n, struct h1_reqline *rl)
{
	static const char version[] = "HTTP/1.";
	size_t i = 0, v;

	memset(rl, 0, sizeof(*rl));
	rl->method = p;
	while (i < n && h1_is_upper(p[i]) && i < H1_METHOD_LEN)
		i++;
	rl->mlen = i;
	if (i == n)
		return SC_PARTIAL;
	if (i == 0 || p[i] != ' ')
		return SC_BAD;
	rl->target = p + ++i;
	while (i < n && h1_is_target_char(p[i]))
		i++;
	rl->tlen = (size_t)(p + i - rl->target);
	if (i == n)
		return SC_PARTIAL;
	if (rl->tlen == 0 || p[i] != ' ')
		return SC_BAD;
	i++;
	for (v = 0; v < sizeof(version) - 1; v++, i++) {
		if (i == n)
			return SC_PARTIAL;
		if (p[i] != (uint8_t)version[v])
			return SC_BAD;
	}
	if (i == n)
		return SC_PARTIAL;
	if (!h1_is_digit(p[i]))
		return SC_BAD;
	rl->minor = (char)p[i++];
	return i == n ? SC_FULL : SC_BAD;
}

static enum h1_scan
h1_scan_statusline(const uint8_t *p, size_t n, struct h1_statusline *sl)
{
	static const char version[] = "HTTP/1.";
	size_t i, v;
	unsigned status = 0;

	memset(sl, 0, sizeof(*sl));
	for (i = 0; i < sizeof(version) - 1; i++) {
		if (i == n)
			return SC_PARTIAL;
		if (p[i] != (uint8_t)version[i])
			return SC_BAD;
	}
	if (i == n)
		return SC_PARTIAL;
	if (!h1_is_digit(p[i]))
		return SC_BAD;
	sl->minor = (char)p[i++];
	if (i == n)
		return SC_PARTIAL;
	if (p[i++] != ' ')
		return SC_BAD;
	for (v = 0; v < 3; v++, i++) {
		if (i == n)
			return SC_PARTIAL;
		if (!h1_is_digit(p[i]))
			return SC_BAD;
		status = status * 10 + (p[i] - '0');
	}
	if (status < 100 || status > 599)
		return SC_BAD;
	sl->status = (uint16_t)status;
	if (i < n && p[i] != ' ')
		return SC_BAD;
	for (; i < n; i++)
		if (!h1_is_field_char(p[i]))
			return SC_BAD;
	return SC_FULL;
}

/* A line kept between reads may end with the CR of its CRLF. */
static size_t
h1_strip_cr(const uint8_t *p, size_t n)
{
	return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

/* The visible first line of the buffer at io->off, up to LF or the
 * visible end, and whether it was complete. */
static size_t
h1_first_line(const struct h1_io *io, const uint8_t **p, bool *complete)
{
	const uint8_t *lf;
	size_t avail;

	*p = NULL;
	*complete = false;
	if (io->off >= io->cap)
		return 0;
	*p = io->data + io->off;
	avail = io->cap - (size_t)io->off;
	if ((lf = memchr(*p, '\n', avail)) == NULL)
		return avail;
	*complete = true;
	return h1_strip_cr(*p, (size_t)(lf - *p));
}

/* Does the buffer start (at io->off) a request?  A complete line must be
 * a valid request line; a line cut by the end of the visible bytes must be
 * a valid prefix that shows at least the method and a space. */
static bool
h1_starts_request(const struct h1_io *io)
{
	struct h1_reqline rl;
	const uint8_t *p;
	bool complete;
	size_t n;
	enum h1_scan sc;

	n = h1_first_line(io, &p, &complete);
	if (p == NULL)
		return false;
	sc = h1_scan_reqline(p, complete ? n : h1_strip_cr(p, n), &rl);
	if (complete)
		return sc == SC_FULL;
	return sc != SC_BAD && rl.target != NULL;
}

static bool
h1_starts_response(const struct h1_io *io)
{
	struct h1_statusline sl;
	const uint8_t *p;
	bool complete;
	size_t n;
	enum h1_scan sc;

	n = h1_first_line(io, &p, &complete);
	if (p == NULL)
		return false;
	sc = h1_scan_statusline(p, complete ? n : h1_strip_cr(p, n), &sl);
	if (complete)
		return sc == SC_FULL;
	return sc != SC_BAD && sl.status != 0;
}

/*
 * Message state.
 */
static void
h1_msg_reset(struct http1_msg_state *m)
{
	uint8_t phase = m->phase == PH_TUNNEL ? PH_TUNNEL : PH_START;

	/* Not hdr[] (most of it): only its first hdr_len bytes are read. */
	memset(m, 0, offsetof(struct http1_msg_state, hdr));
	m->phase = phase;
	m->body_left = H1_NO_LENGTH;
}

static void
h1_headers_begin(struct http1_msg_state *m, uint8_t phase)
{
	m->phase = phase;
	m->chunked = CH_NONE;
	m->until_close = 0;
	m->body_left = H1_NO_LENGTH;
	m->body_seen = 0;
	m->hdr_len = 0;
}

/* Switch to skipping whatever this message still holds; hdr becomes the
 * window of the stream's last bytes used to spot a chunked end. */
static void
h1_msg_lose(struct http1_msg_state *m)
{
	m->phase = PH_LOST;
	m->body_seen = 0;
	m->hdr_len = 0;
}

/* Append to the kept partial line.  Returns false when it did not fit:
 * the kept part is then the first sizeof(hdr) bytes. */
static bool
h1_keep(struct http1_msg_state *m, const uint8_t *p, size_t n)
{
	size_t room = sizeof(m->hdr) - m->hdr_len;
	size_t k = n < room ? n : room;

	memcpy(m->hdr + m->hdr_len, p, k);
	m->hdr_len += (uint16_t)k;
	return k == n;
}

/*
 * The first '\n' of s[0, avail), or NULL; *ok: whether the bytes before
 * it (the CR of a CRLF aside) are all field characters.  One pass does
 * what memchr() and h1_field_chars_ok() did in two, a block at a time
 * (bench/collector_bench: 6,579 instructions per exchange before).
 */
static const uint8_t *
h1_scan_line(const uint8_t *s, size_t avail, bool *ok)
{
	size_t i = 0, j, end;
	uint64_t mask;

	*ok = true;
	while (i < avail) {
		end = avail;
		j = i;
		if (avail >= H1_BLOCK) {
			if (i + H1_BLOCK <= avail) {
				mask = h1_block_ctl(s + i);
				end = i + H1_BLOCK;
			} else {
				/* the rest, as the end of the last block: a
				 * capture's last lines are seldom a block */
				mask = h1_block_drop(h1_block_ctl(s + avail -
				    H1_BLOCK), i - (avail - H1_BLOCK));
			}
			if (mask == 0) {
				i = end;
				continue;
			}
			/* the first byte flagged is a real one (a borrow
			 * only runs on past it): most lines end at it */
			j = i + h1_block_first(mask);
			if (s[j] == '\n')
				return s + j;
			if (s[j] == '\r' && j + 1 < avail && s[j + 1] == '\n')
				return s + j + 1;
		}
		for (; j < end; j++) {
			if (s[j] == '\n')
				return s + j;
			if (!h1_is_field_char(s[j]) && !(s[j] == '\r' &&
			    j + 1 < avail && s[j + 1] == '\n'))
				*ok = false;
		}
		i = end;
	}
	return NULL;
}

/*
 * The next line of a start line, header block or chunked framing, joined
 * with its start kept from earlier reads.  *p and *n (without the line
 * end) stay valid until the next call on this stream.
 */
static enum h1_line
h1_next_line(struct http1_msg_state *m, struct h1_io *io,
    const uint8_t **p, size_t *n)
{
	const uint8_t *s, *lf;
	size_t avail, take;
	bool fits, ok = false;

	avail = io->off < io->cap ? io->cap - (size_t)io->off : 0;
	s = avail > 0 ? io->data + io->off : NULL;
	lf = avail > 0 ? h1_scan_line(s, avail, &ok) : NULL;
	take = lf != NULL ? (size_t)(lf - s) : avail;
	io->off += lf != NULL ? take + 1 : take;
	io->line_ok = -1;

	if (m->hdr_len == 0 && (lf != NULL || io->off < io->len)) {
		*p = s;
		*n = h1_strip_cr(s, take);
		if (lf != NULL)
			io->line_ok = ok;
		return lf != NULL ? LN_FULL : LN_BLIND;
	}
	fits = take == 0 || h1_keep(m, s, take);
	*p = (const uint8_t *)m->hdr;
	*n = h1_strip_cr(*p, m->hdr_len);
	if (lf == NULL && io->off == io->len && fits)
		return LN_MORE;
	m->hdr_len = 0;
	if (lf != NULL)
		return fits ? LN_FULL : LN_LONG;
	return io->off < io->len ? LN_BLIND : LN_CUT;
}

/* Skip the CR and LF that may precede a start line. */
static void
h1_skip_blank(struct h1_io *io)
{
	while (io->off < io->cap &&
	    (io->data[io->off] == '\r' || io->data[io->off] == '\n'))
		io->off++;
}

static void
h1_garbage(struct http1_conn *c, struct http1_msg_state *m,
    struct h1_io *io, uint64_t from)
{
	c->garbage += io->len - from;
	io->off = io->len;
	h1_msg_reset(m);
}

/*
 * Header fields.  Only the framing ones matter here.
 */
static bool
h1_field_chars_ok(const uint8_t *p, size_t n)
{
	size_t i = 0, last;

	/* Eight bytes at a time: most are plain text.  A word with a byte
	 * below 0x20 or equal to 0x7f (a tab, or a borrow's false alarm)
	 * is looked at byte by byte.  This was a quarter of the collector's
	 * instructions per exchange (bench/collector_bench). */
	for (; i + 8 <= n || (i < n && n >= 8); i = last + 8) {
		uint64_t x;

		/* the last word may overlap the one before */
		last = i + 8 <= n ? i : n - 8;
		memcpy(&x, p + last, 8);
		if (h1_word_ctl(x) == 0)
			continue;
		for (size_t j = last; j < last + 8; j++)
			if (!h1_is_field_char(p[j]))
				return false;
	}
	for (; i < n; i++)
		if (!h1_is_field_char(p[i]))
			return false;
	return true;
}

static bool
h1_parse_length(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > H1_CL_DIGITS)
		return false;
	for (i = 0; i < n; i++) {
		if (!h1_is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

static void	h1_req_traceparent(struct http1_conn *, const uint8_t *,
		    size_t);
static void	h1_req_tracestate(struct http1_conn *, const uint8_t *,
		    size_t, bool);

/* The fields read here; the others are only checked. */
enum h1_field {
	HF_OTHER = 0,
	HF_CONTENT_LENGTH,
	HF_TRANSFER_ENCODING,
	HF_UPGRADE,
	HF_TRACEPARENT,		/* requests only */
	HF_TRACESTATE,		/* requests only */
};

/* The lengths of the names h1_field_of() knows, a bit each: most lines
 * are passed over on this alone. */
#define H1_FIELD_LENS ((1ULL << 7) | (1ULL << 10) | (1ULL << 11) | \
	(1ULL << 14) | (1ULL << 17))

/* Which field a name of n bytes is: by its length first, as most lines
 * of a header block are none of these. */
static enum h1_field
h1_field_of(const uint8_t *name, size_t n, bool req)
{
	switch (n) {
	case 7:
		return h1_eq_nocase(name, n, "upgrade") ? HF_UPGRADE : HF_OTHER;
	case 10:
		return req && h1_eq_nocase(name, n, "tracestate") ?
		    HF_TRACESTATE : HF_OTHER;
	case 11:
		return req && h1_eq_nocase(name, n, "traceparent") ?
		    HF_TRACEPARENT : HF_OTHER;
	case 14:
		return h1_eq_nocase(name, n, "content-length") ?
		    HF_CONTENT_LENGTH : HF_OTHER;
	case 17:
		return h1_eq_nocase(name, n, "transfer-encoding") ?
		    HF_TRANSFER_ENCODING : HF_OTHER;
	}
	return HF_OTHER;
}

/* A field line's name: its length, 0 when the line has none. */
static size_t
h1_field_name_len(const uint8_t *p, size_t n)
{
	const uint8_t *colon = memchr(p, ':', n);

	return colon != NULL ? (size_t)(colon - p) : 0;
}

/* The value of a field line whose name is namelen bytes, without the
 * optional whitespace around it. */
static void
h1_field_value(const uint8_t *p, size_t n, size_t namelen,
    const uint8_t **v, size_t *vlen)
{
	*v = p + namelen + 1;
	*vlen = n - namelen - 1;
	while (*vlen > 0 && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
		(*v)++;
		(*vlen)--;
	}
	while (*vlen > 0 && ((*v)[*vlen - 1] == ' ' || (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
}

static void	h1_header_field(struct http1_conn *, bool, enum h1_field,
		    const uint8_t *, size_t, size_t);

/* Returns false when the line cannot belong to a header block.  Besides
 * the framing fields, a request's trace context is read. */
static bool
h1_header_line(struct http1_conn *c, bool req, const uint8_t *p, size_t n,
    int8_t chars_ok)
{
	size_t namelen;
	enum h1_field f;

	/* h1_next_line() looked at the characters of most lines */
	if (chars_ok == 0 || (chars_ok < 0 && !h1_field_chars_ok(p, n)))
		return false;
	if (p[0] == ' ' || p[0] == '\t')
		return true;	/* obsolete folding: a continued value */
	if ((namelen = h1_field_name_len(p, n)) == 0)
		return false;
	if ((f = h1_field_of(p, namelen, req)) != HF_OTHER)
		h1_header_field(c, req, f, p, n, namelen);
	return true;
}

/* Field f's line (p, n, its name namelen bytes): what it says of the
 * message's framing, or the request's trace context. */
static void
h1_header_field(struct http1_conn *c, bool req, enum h1_field f,
    const uint8_t *p, size_t n, size_t namelen)
{
	struct http1_msg_state *m = req ? &c->req : &c->resp;
	const uint8_t *v;
	size_t vlen;
	uint64_t length;

	h1_field_value(p, n, namelen, &v, &vlen);
	switch (f) {
	case HF_CONTENT_LENGTH:
		/* an invalid length is ignored, not trusted */
		if (h1_parse_length(v, vlen, &length))
			m->body_left = length;
		break;
	case HF_TRANSFER_ENCODING:
		if (h1_contains_nocase(v, vlen, "chunked"))
			m->chunked = CH_SIZE;
		break;
	case HF_UPGRADE:
		m->upgrade_h2c = h1_eq_nocase(v, vlen, "h2c");
		break;
	case HF_TRACEPARENT:
		h1_req_traceparent(c, v, vlen);
		break;
	case HF_TRACESTATE:
		h1_req_tracestate(c, v, vlen, false);
		break;
	case HF_OTHER:
		break;
	}
}

/* A request's field line seen only in part (p, n: its start): no framing
 * field is that long, but a tracestate may be, and the members whole in
 * its start are kept. */
static void
h1_header_line_start(struct http1_conn *c, bool req, const uint8_t *p,
    size_t n)
{
	const uint8_t *v;
	size_t namelen, vlen;

	if (!req || n == 0 || p[0] == ' ' || p[0] == '\t' ||
	    (namelen = h1_field_name_len(p, n)) == 0 ||
	    h1_field_of(p, namelen, req) != HF_TRACESTATE)
		return;
	h1_field_value(p, n, namelen, &v, &vlen);
	h1_req_tracestate(c, v, vlen, true);
}

/*
 * Chunked framing, followed while the size lines are visible; once one
 * falls past the capture only the tails can tell where it ends.
 */
static bool
h1_parse_chunk_size(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	int d;

	for (i = 0; i < n && (d = h1_hex_value(p[i])) >= 0; i++) {
		if (i == H1_CHUNK_DIGITS)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (i == 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < n && p[i] != ';')
		return false;
	*out = v;
	return true;
}

/* Keep the last SG_TAIL_LEN bytes of the stream from `from` on in hdr,
 * when the end of this buffer is known. */
static void
h1_window_update(struct http1_msg_state *m, const struct h1_io *io,
    uint64_t from)
{
	const uint8_t *end;
	size_t k, drop;

	k = (size_t)h1_min(io->len - from, SG_TAIL_LEN);
	if (io->len <= io->cap)
		end = io->data + io->len;
	else if (io->tail != NULL && io->len >= SG_TAIL_LEN)
		end = io->tail + SG_TAIL_LEN;
	else {
		m->hdr_len = 0;	/* the end of this buffer was not seen */
		return;
	}
	if (m->hdr_len > SG_TAIL_LEN)
		m->hdr_len = 0;
	if (m->hdr_len + k > SG_TAIL_LEN) {
		drop = m->hdr_len + k - SG_TAIL_LEN;
		memmove(m->hdr, m->hdr + drop, m->hdr_len - drop);
		m->hdr_len -= (uint16_t)drop;
	}
	memcpy(m->hdr + m->hdr_len, end - k, k);
	m->hdr_len += (uint16_t)k;
}

/* "0\r\n\r\n" ends the window, and is not the end of a larger size. */
static bool
h1_window_has_last_chunk(const struct http1_msg_state *m)
{
	size_t k = sizeof(H1_LAST_CHUNK) - 1;

	if (m->hdr_len < k || m->hdr_len > SG_TAIL_LEN)
		return false;
	if (memcmp(m->hdr + m->hdr_len - k, H1_LAST_CHUNK, k) != 0)
		return false;
	return m->hdr_len == k || m->hdr[m->hdr_len - k - 1] == '\n';
}

static void
h1_chunk_blind(struct http1_msg_state *m)
{
	m->chunked = CH_BLIND;
	m->hdr_len = 0;
}

static void
h1_chunk_line(struct http1_msg_state *m, struct h1_io *io, bool *done)
{
	const uint8_t *p;
	size_t n;
	uint64_t size;

	switch (h1_next_line(m, io, &p, &n)) {
	case LN_MORE:
		if (m->chunked == CH_SIZE && n > H1_CHUNK_DIGITS + 64)
			h1_chunk_blind(m);	/* extensions this long: give up */
		return;
	case LN_LONG:
	case LN_CUT:
	case LN_BLIND:
		h1_chunk_blind(m);
		return;
	case LN_FULL:
		break;
	}
	if (m->chunked == CH_TRAILER) {
		*done = n == 0;
		return;
	}
	if (!h1_parse_chunk_size(p, n, &size)) {
		h1_chunk_blind(m);
		return;
	}
	if (size == 0) {
		m->chunked = CH_TRAILER;
		return;
	}
	m->chunked = CH_DATA;
	m->body_left = size;
}

static void
h1_chunk_data_end(struct http1_msg_state *m, struct h1_io *io)
{
	uint8_t ch;

	while (m->body_left > 0 && io->off < io->len) {
		if (io->off < io->cap) {
			ch = io->data[io->off];
			if (ch == '\n')
				m->body_left = 1;	/* a bare LF ends it too */
			else if (ch != '\r' || m->body_left != 2) {
				h1_chunk_blind(m);
				return;
			}
		}
		io->off++;
		m->body_left--;
	}
	if (m->body_left == 0)
		m->chunked = CH_SIZE;
}

/* One step through chunked framing.  Returns the bytes it consumed. */
static uint64_t
h1_chunk_step(struct http1_msg_state *m, struct h1_io *io, bool *done)
{
	uint64_t from = io->off, k;

	switch (m->chunked) {
	case CH_SIZE:
	case CH_TRAILER:
		h1_chunk_line(m, io, done);
		break;
	case CH_DATA:
		k = h1_min(m->body_left, io->len - io->off);
		io->off += k;
		m->body_left -= k;
		if (m->body_left == 0) {
			m->chunked = CH_DATA_END;
			m->body_left = 2;
		}
		break;
	case CH_DATA_END:
		h1_chunk_data_end(m, io);
		break;
	default:
		io->off = io->len;
		h1_window_update(m, io, from);
		*done = h1_window_has_last_chunk(m);
		break;
	}
	return io->off - from;
}

/* One step through a body.  Returns the bytes it consumed. */
static uint64_t
h1_body_step(struct http1_msg_state *m, struct h1_io *io, bool *done)
{
	uint64_t k;

	*done = false;
	if (m->chunked != CH_NONE)
		return h1_chunk_step(m, io, done);
	if (m->until_close) {
		k = io->len - io->off;
		io->off = io->len;
		return k;
	}
	k = h1_min(m->body_left, io->len - io->off);
	io->off += k;
	m->body_left -= k;
	*done = m->body_left == 0;
	return k;
}

/*
 * Pending requests: a ring, oldest at head, and their methods and paths
 * back to back in names[], a ring of bytes in the same order.  The request
 * being received is in c->receiving until its header block ends.
 */
enum h1_req_flag {
	RQ_KEPT		= 0x01,	/* had room: joins the ring when complete */
	RQ_HEAD		= 0x02,	/* its response has no body */
	RQ_CONNECT	= 0x04,	/* a 2xx response opens a tunnel */
	RQ_TCTX		= HTTP1_PENDING_TCTX,
	RQ_TCTX_BAD	= 0x10,	/* a traceparent not valid, or two */
	RQ_TSTATE	= HTTP1_PENDING_TSTATE,
	RQ_TSTATE_BAD	= 0x40,	/* a tracestate not valid */
	RQ_TSTATE_CUT	= 0x80,	/* members of it left out */
};


static struct http1_pending *
h1_oldest(struct http1_conn *c)
{
	return &c->pending[c->head];
}

static struct http1_pending *
h1_newest(struct http1_conn *c)
{
	return &c->pending[(c->head + c->npending - 1) % HTTP1_MAX_PENDING];
}

static uint16_t
h1_names_add(uint16_t at, size_t n)
{
	return (uint16_t)((at + n) % HTTP1_NAMES_LEN);
}

/* n <= HTTP1_NAMES_LEN bytes at `at`, wrapping at the end of names[].
 * (The second copy is rare: a call saved per name, twice an exchange.) */
static void
h1_names_put(struct http1_conn *c, uint16_t at, const uint8_t *src, size_t n)
{
	size_t first = (size_t)h1_min(n, HTTP1_NAMES_LEN - at);

	memcpy(c->names + at, src, first);
	if (first < n)
		memcpy(c->names, src + first, n - first);
}

/* n bytes from `at`, wrapping at the end of names[]. */
static void
h1_names_copy(const struct http1_conn *c, uint16_t at, size_t n, void *dst)
{
	size_t first = (size_t)h1_min(n, HTTP1_NAMES_LEN - at);

	memcpy(dst, c->names + at, first);
	if (first < n)
		memcpy((char *)dst + first, c->names, n - first);
}

/* n bytes from `at` as a string: dst holds at least n + 1. */
static void
h1_names_get(const struct http1_conn *c, uint16_t at, size_t n, char *dst)
{
	h1_names_copy(c, at, n, dst);
	dst[n] = '\0';
}

/* The request's trace context: SG_EX_TRACE_* flags, and the ids when it
 * had a valid one. */
static uint8_t
h1_tctx_get(const struct http1_conn *c, const struct http1_pending *p,
    uint8_t trace_id[16], uint8_t parent_id[8])
{
	struct tracectx t;

	if (p->flags & RQ_TCTX_BAD)
		return SG_EX_TRACE_INVALID;
	if (!(p->flags & RQ_TCTX))
		return 0;
	h1_names_copy(c, h1_names_add(p->names_at,
	    (size_t)p->method_len + p->path_len), TRACECTX_LEN, &t);
	memcpy(trace_id, t.trace_id, sizeof(t.trace_id));
	memcpy(parent_id, t.parent_id, sizeof(t.parent_id));
	return SG_EX_TRACE_CTX |
	    (t.flags & TRACECTX_SAMPLED ? SG_EX_TRACE_SAMPLED : 0);
}

/* Where the request's tracestate is, or would go, in names[]. */
static uint16_t
h1_tstate_at(const struct http1_pending *p)
{
	return h1_names_add(p->names_at, (size_t)p->method_len + p->path_len +
	    (p->flags & RQ_TCTX ? TRACECTX_LEN : 0));
}

/* The bytes of the request's tracestate kept in names[] (0: none). */
static uint16_t
h1_tstate_len(const struct http1_conn *c, const struct http1_pending *p)
{
	uint16_t n;

	if (!(p->flags & RQ_TSTATE))
		return 0;
	h1_names_copy(c, h1_tstate_at(p), sizeof(n), &n);
	return n;
}

/* The request's tracestate into buf (TRACESTATE_MAX bytes), when it has
 * a trace context for it to go with: SG_EX_TSTATE_* flags. */
static uint8_t
h1_tstate_get(const struct http1_conn *c, const struct http1_pending *p,
    char *buf, uint16_t *len)
{
	*len = 0;
	if (!(p->flags & RQ_TCTX))
		return 0;
	if (p->flags & RQ_TSTATE_BAD)
		return SG_EX_TSTATE_INVALID;
	*len = h1_tstate_len(c, p);
	if (*len > 0)
		h1_names_copy(c, h1_names_add(h1_tstate_at(p), TRACESTATE_HDR),
		    *len, buf);
	return p->flags & RQ_TSTATE_CUT ? SG_EX_TSTATE_CUT : 0;
}

/* Bytes of names[] the request holds: method, path, trace context,
 * tracestate. */
static uint16_t
h1_names_len(const struct http1_conn *c, const struct http1_pending *p)
{
	return (uint16_t)(p->method_len + p->path_len +
	    (p->flags & RQ_TCTX ? TRACECTX_LEN : 0) +
	    (p->flags & RQ_TSTATE ? TRACESTATE_HDR + h1_tstate_len(c, p) : 0));
}

/* Requests dropped before the oldest are given up with it: they are
 * older still, and were counted when dropped. */
static void
h1_pop(struct http1_conn *c)
{
	const struct http1_pending *p = h1_oldest(c);

	c->names_used -= h1_names_len(c, p);
	c->head = (uint8_t)((c->head + 1) % HTTP1_MAX_PENDING);
	c->npending--;
}

static void
h1_emit(struct http1_conn *c, struct h1_io *io, const struct http1_pending *p,
    uint64_t end_ns, uint16_t status, uint64_t resp_body)
{
	struct sg_exchange ex;
	char tstate[TRACESTATE_MAX];

	proto_exchange_init(&ex);
	ex.app = SG_APP_HTTP;
	ex.role = c->role;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	h1_names_get(c, p->names_at, p->method_len, ex.op);
	h1_names_get(c, h1_names_add(p->names_at, p->method_len), p->path_len,
	    ex.target);
	ex.version[0] = '1';
	ex.version[1] = '.';
	ex.version[2] = p->minor;
	ex.version[3] = '\0';
	ex.status = status;
	ex.flags = status == 0 ? SG_EX_TIMED_OUT : 0;
	ex.flags |= h1_tctx_get(c, p, ex.trace_id, ex.parent_span_id);
	ex.tracestate_flags = h1_tstate_get(c, p, tstate, &ex.tracestate_len);
	if (ex.tracestate_len > 0)
		ex.tracestate = tstate;
	ex.req_size = p->req_body;
	ex.resp_size = resp_body;
	if (io->emit != NULL)
		io->emit(io->ctx, &ex);
}

/* The oldest request ends without a response. */
static void
h1_end_timed_out(struct http1_conn *c, struct h1_io *io, uint64_t end_ns)
{
	h1_emit(c, io, h1_oldest(c), end_ns, 0, 0);
	h1_pop(c);
}

/* The newest request ends without a response. */
static void
h1_end_newest_timed_out(struct http1_conn *c, struct h1_io *io,
    uint64_t end_ns)
{
	const struct http1_pending *p = h1_newest(c);

	h1_emit(c, io, p, end_ns, 0, 0);
	c->names_used -= h1_names_len(c, p);
	c->names_end = p->names_at;
	c->npending--;
}

/* Has the response to the oldest request started? */
static bool
h1_resp_begun(const struct http1_conn *c)
{
	const struct http1_msg_state *m = &c->resp;

	if (c->npending == 0 || c->resp_status == 0 || c->resp_unpaired)
		return false;
	return m->phase == PH_HEADERS || m->phase == PH_SKIPLINE ||
	    m->phase == PH_BODY || m->phase == PH_LOST;
}

static uint64_t
h1_resp_body_so_far(const struct http1_conn *c)
{
	const struct http1_msg_state *m = &c->resp;

	if (m->phase == PH_LOST && m->body_left != H1_NO_LENGTH)
		return m->body_left;
	return m->body_seen;
}

/* End the response in progress where its last byte was seen: it was cut
 * short (close, stall) or its end could not be seen (lost framing). */
static void
h1_resp_cut(struct http1_conn *c, struct h1_io *io)
{
	h1_resp_complete(c, io, c->resp_last_ns, h1_resp_body_so_far(c));
}

static void
h1_end_pending(struct http1_conn *c, struct h1_io *io, uint64_t end_ns)
{
	while (c->npending > 0)
		h1_end_timed_out(c, io, end_ns);
}

static void
h1_tunnel(struct http1_conn *c, struct h1_io *io)
{
	h1_end_pending(c, io, io->ts);
	c->req.phase = PH_TUNNEL;
	c->resp.phase = PH_TUNNEL;
	io->off = io->len;
}

/*
 * Requests.
 */

/* A new request may be starting at io->off. */
static void
h1_req_begin(struct http1_conn *c, struct h1_io *io)
{
	memset(&c->receiving, 0, sizeof(c->receiving));
	c->receiving.start_ns = io->ts;
}

/* Where the path of an absolute-form target ("http://host/p", sent to
 * proxies) starts: after the scheme and authority. */
static bool
h1_absolute_path(const uint8_t *t, size_t n, size_t *start)
{
	size_t i = 0;

	while (i < n && ((t[i] >= 'a' && t[i] <= 'z') ||
	    (t[i] >= 'A' && t[i] <= 'Z')))
		i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return false;
	for (i += 3; i < n; i++)
		if (t[i] == '/' || t[i] == '?' || t[i] == '#')
			break;
	*start = i;
	return true;
}

/* The path of a target: without query or fragment, at most
 * SG_PATH_MAX - 1 bytes.  Returns its length; *path points into the
 * target, or to "/" for an absolute form without one. */
static size_t
h1_target_path(const uint8_t *target, size_t tlen, const uint8_t **path)
{
	size_t i = 0, k;
	bool absolute;

	absolute = h1_absolute_path(target, tlen, &i);
	for (k = i; k < tlen && k - i < SG_PATH_MAX - 1; k++)
		if (target[k] == '?' || target[k] == '#')
			break;
	*path = target + i;
	if (absolute && k == i) {
		*path = (const uint8_t *)"/";
		return 1;
	}
	return k - i;
}

static bool
h1_method_is(const struct h1_reqline *rl, const char *method)
{
	return rl->mlen == strlen(method) &&
	    memcmp(rl->method, method, rl->mlen) == 0;
}

/* Room for one more pending request whose names take n bytes? */
static bool
h1_has_room(const struct http1_conn *c, size_t n)
{
	return c->npending < HTTP1_MAX_PENDING &&
	    c->names_used + n <= HTTP1_NAMES_LEN;
}

/* The names go after the pending ones' now; they are theirs only when the
 * request is committed, and until then nothing else writes there. */
static void
h1_req_fill(struct http1_conn *c, struct h1_io *io,
    const struct h1_reqline *rl)
{
	struct http1_pending *p = &c->receiving;
	const uint8_t *path;
	size_t plen;

	/* a response whose end could not be seen is over by now */
	if (c->resp.phase == PH_LOST && h1_resp_begun(c))
		h1_resp_cut(c, io);

	plen = h1_target_path(rl->target, rl->tlen, &path);
	p->minor = rl->minor != 0 ? rl->minor : '1';
	if (h1_method_is(rl, "HEAD"))
		p->flags |= RQ_HEAD;
	else if (h1_method_is(rl, "CONNECT"))
		p->flags |= RQ_CONNECT;
	if (!h1_has_room(c, rl->mlen + plen))
		return;
	p->flags |= RQ_KEPT;
	p->names_at = c->names_end;
	p->method_len = (uint8_t)rl->mlen;
	p->path_len = (uint8_t)plen;
	h1_names_put(c, p->names_at, rl->method, rl->mlen);
	h1_names_put(c, h1_names_add(p->names_at, rl->mlen), path, plen);
}

/*
 * A traceparent field of the request being received.  A valid one joins
 * its names (if there is room: else it is not known, and the span starts
 * a trace of its own); one that is not valid, or a second one (two
 * would make one invalid value if combined, as HTTP allows), leaves the
 * request without a context, counted by the collector.
 */
static void
h1_req_traceparent(struct http1_conn *c, const uint8_t *v, size_t n)
{
	struct http1_pending *p = &c->receiving;
	struct tracectx t;
	uint16_t at = h1_names_add(p->names_at,
	    (size_t)p->method_len + p->path_len);
	uint8_t saved[TRACESTATE_HDR + TRACESTATE_MAX];
	size_t tslen = 0;

	if ((p->flags & (RQ_TCTX | RQ_TCTX_BAD)) ||
	    !tracectx_parse((const char *)v, n, &t)) {
		/* without a context the tracestate means nothing, and it
		 * would not be found behind one no longer there */
		p->flags = (uint8_t)((p->flags & ~(RQ_TCTX | RQ_TSTATE)) |
		    RQ_TCTX_BAD);
		return;
	}
	if (!(p->flags & RQ_KEPT) ||
	    c->names_used + h1_names_len(c, p) + TRACECTX_LEN > HTTP1_NAMES_LEN)
		return;
	/* a tracestate that came first moves up behind the context */
	if (p->flags & RQ_TSTATE) {
		tslen = TRACESTATE_HDR + h1_tstate_len(c, p);
		h1_names_copy(c, at, tslen, saved);
	}
	h1_names_put(c, at, (const uint8_t *)&t, TRACECTX_LEN);
	if (tslen > 0)
		h1_names_put(c, h1_names_add(at, TRACECTX_LEN), saved, tslen);
	p->flags |= RQ_TCTX;
}

/*
 * A tracestate field of the request being received: its members join
 * those of an earlier one (HTTP lets a list be split across fields) after
 * the request's names and trace context, as TRACESTATE_HDR bytes of
 * length and the members.  Kept whether or not the traceparent has come
 * yet; used only with a valid one, as the specification asks.  partial:
 * v is the start of a line not seen whole.
 */
static void
h1_req_tracestate(struct http1_conn *c, const uint8_t *v, size_t n,
    bool partial)
{
	struct http1_pending *p = &c->receiving;
	char ts[TRACESTATE_MAX];
	size_t len = h1_tstate_len(c, p), other;
	uint16_t len16;
	enum tracestate_verdict r;

	if ((p->flags & (RQ_TSTATE_BAD | RQ_TCTX_BAD)) ||
	    !(p->flags & RQ_KEPT))
		return;
	other = h1_names_len(c, p) -
	    (p->flags & RQ_TSTATE ? TRACESTATE_HDR + len : 0);
	if (len > 0)
		h1_names_copy(c, h1_names_add(h1_tstate_at(p), TRACESTATE_HDR),
		    len, ts);
	r = tracestate_append(ts, &len, (const char *)v, n, partial);
	if (r == TRACESTATE_INVALID) {
		p->flags = (uint8_t)((p->flags & ~RQ_TSTATE) | RQ_TSTATE_BAD);
		return;
	}
	if (r == TRACESTATE_CUT)
		p->flags |= RQ_TSTATE_CUT;
	if (len == 0)
		return;		/* empty members only */
	if (c->names_used + other + TRACESTATE_HDR + len > HTTP1_NAMES_LEN) {
		/* the members of this field are the ones left out */
		p->flags |= RQ_TSTATE_CUT;
		return;
	}
	len16 = (uint16_t)len;
	h1_names_put(c, h1_tstate_at(p), (const uint8_t *)&len16,
	    sizeof(len16));
	h1_names_put(c, h1_names_add(h1_tstate_at(p), TRACESTATE_HDR),
	    (const uint8_t *)ts, len);
	p->flags |= RQ_TSTATE;
}

/* The request joins the ring, or is dropped: counted once here, and its
 * response, when it comes, answers none of the pending ones. */
static void
h1_req_commit(struct http1_conn *c)
{
	struct http1_pending *p = &c->receiving;
	uint16_t n = h1_names_len(c, p);

	if (!(p->flags & RQ_KEPT)) {
		c->dropped++;
		if (c->dropped_after < UINT16_MAX)
			c->dropped_after++;
		return;
	}
	p->dropped_before = c->dropped_after;
	c->dropped_after = 0;
	c->pending[(c->head + c->npending) % HTTP1_MAX_PENDING] = *p;
	c->npending++;
	c->names_used += n;
	c->names_end = h1_names_add(c->names_end, n);
}

static void
h1_req_headers_done(struct http1_conn *c)
{
	struct http1_msg_state *m = &c->req;

	h1_req_commit(c);
	if (m->chunked != CH_NONE || (m->body_left != H1_NO_LENGTH &&
	    m->body_left > 0)) {
		m->phase = PH_BODY;
		return;
	}
	h1_msg_reset(m);
}

/* The bytes from io->off on were not captured: a request may start there
 * (pipelined in the same write), whose response will pair with nothing.
 * Skip to a buffer that starts with a request line. */
static void
h1_req_unseen(struct http1_conn *c, struct h1_io *io)
{
	if (io->off < io->len)
		h1_msg_lose(&c->req);
	io->off = io->len;
}

/* The header block runs past the capture: the request is known but not
 * where it ends. */
static void
h1_req_headers_lost(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->req;

	if (m->body_left != H1_NO_LENGTH)
		c->receiving.req_body = m->body_left;
	h1_req_commit(c);
	h1_req_unseen(c, io);
}

static void
h1_req_start(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->req;
	struct h1_reqline rl;
	const uint8_t *p;
	uint64_t from;
	size_t n;
	enum h1_line ln;
	enum h1_scan sc;

	if (m->hdr_len == 0) {
		h1_skip_blank(io);
		if (io->off >= io->cap) {
			h1_req_unseen(c, io);
			return;
		}
		h1_req_begin(c, io);
	}
	from = io->off;
	ln = h1_next_line(m, io, &p, &n);
	sc = h1_scan_reqline(p, n, &rl);
	switch (ln) {
	case LN_MORE:
		if (sc == SC_BAD)
			h1_garbage(c, m, io, from);
		return;
	case LN_FULL:
		if (sc != SC_FULL)
			break;
		h1_req_fill(c, io, &rl);
		h1_headers_begin(m, PH_HEADERS);
		return;
	case LN_LONG:
	case LN_CUT:
	case LN_BLIND:
		if (sc == SC_BAD)
			break;
		if (rl.tlen == 0) {
			/* cut by the capture before its target: unseen */
			if (ln != LN_BLIND)
				break;
			h1_req_unseen(c, io);
			return;
		}
		/* a long target: keep what was seen */
		h1_req_fill(c, io, &rl);
		h1_headers_begin(m, ln == LN_CUT ? PH_SKIPLINE : PH_HEADERS);
		if (ln == LN_BLIND)
			h1_req_headers_lost(c, io);
		return;
	}
	h1_garbage(c, m, io, from);
}

static void
h1_req_body(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->req;
	uint64_t k;
	bool done;

	k = h1_body_step(m, io, &done);
	m->body_seen += k;
	/* the body belongs to the newest request, if it was kept and is not
	 * answered yet */
	if (c->npending > 0 && (c->receiving.flags & RQ_KEPT))
		h1_newest(c)->req_body += k;
	if (done)
		h1_msg_reset(m);
}

/*
 * Responses.
 */

/* Does the response in progress answer a request flagged so?  One whose
 * request was not kept is taken to answer a plain one. */
static bool
h1_answers(const struct http1_conn *c, uint8_t flag)
{
	return !c->resp_unpaired && c->npending > 0 &&
	    (c->pending[c->head].flags & flag) != 0;
}

/* The response in progress is complete: pair it with the oldest request. */
static void
h1_resp_complete(struct http1_conn *c, struct h1_io *io, uint64_t end_ns,
    uint64_t resp_body)
{
	if (c->resp_status != 0 && !c->resp_unpaired && c->npending > 0) {
		h1_emit(c, io, h1_oldest(c), end_ns, c->resp_status, resp_body);
		h1_pop(c);
	}
	c->resp_status = 0;
	c->resp_unpaired = 0;
	h1_msg_reset(&c->resp);
}

static bool
h1_status_is_interim(uint16_t status)
{
	return status >= 100 && status < 200 && status != 101;
}

/*
 * A status line was seen: it answers the oldest pending request, unless
 * requests were dropped before that one (it answers the first of them) or
 * none is pending (its request was past the capture, or timed out).  A
 * final response answering no pending request is counted here, once: in
 * `unpaired`, or already in `dropped` for a dropped request's.
 */
static void
h1_resp_pair(struct http1_conn *c, uint16_t status)
{
	uint16_t *dropped = c->npending > 0 ? &h1_oldest(c)->dropped_before :
	    &c->dropped_after;

	c->resp_unpaired = c->npending == 0 || *dropped > 0;
	if (!c->resp_unpaired || h1_status_is_interim(status))
		return;
	if (*dropped > 0)
		(*dropped)--;
	else
		c->unpaired++;
}

static bool
h1_resp_switches_protocol(struct http1_conn *c)
{
	return c->resp_status == 101 ||
	    (c->resp_status / 100 == 2 && h1_answers(c, RQ_CONNECT));
}

/* 101 with Upgrade: h2c, answering a request seen: its response comes in
 * HTTP/2, on stream 1 (RFC 9113 3.2 of 7540). */
static bool
h1_resp_upgrades_h2c(const struct http1_conn *c)
{
	return c->resp_status == 101 && c->resp.upgrade_h2c &&
	    c->npending > 0 && !c->resp_unpaired;
}

/* The rest is HTTP/2: the oldest request is handed over (handoff()),
 * the others, pipelined after an upgrade, cannot be answered. */
static void
h1_switch(struct http1_conn *c, struct h1_io *io)
{
	while (c->npending > 1)
		h1_end_newest_timed_out(c, io, io->ts);
	c->switched = 1;
	c->switch_off = io->off;
	c->req.phase = PH_TUNNEL;
	c->resp.phase = PH_TUNNEL;
	io->off = io->len;
}

static bool
h1_resp_has_no_body(struct http1_conn *c)
{
	return c->resp_status == 204 || c->resp_status == 304 ||
	    h1_answers(c, RQ_HEAD);
}

static void
h1_resp_headers_done(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->resp;

	if (h1_status_is_interim(c->resp_status)) {
		c->resp_status = 0;	/* 100 Continue: the final one follows */
		h1_msg_reset(m);
		return;
	}
	if (h1_resp_upgrades_h2c(c)) {
		h1_switch(c, io);
		return;
	}
	if (h1_resp_switches_protocol(c)) {
		h1_resp_complete(c, io, io->ts, 0);
		h1_tunnel(c, io);
		return;
	}
	if (h1_resp_has_no_body(c)) {
		h1_resp_complete(c, io, io->ts, 0);
		return;
	}
	if (m->chunked == CH_NONE && m->body_left == H1_NO_LENGTH)
		m->until_close = 1;
	else if (m->chunked == CH_NONE && m->body_left == 0) {
		h1_resp_complete(c, io, io->ts, 0);
		return;
	}
	m->phase = PH_BODY;
}

/* The header block runs past the capture. */
static void
h1_resp_headers_lost(struct http1_conn *c, struct h1_io *io)
{
	if (h1_status_is_interim(c->resp_status)) {
		/* the final response is expected in a later buffer */
		c->resp_status = 0;
		h1_msg_reset(&c->resp);
		io->off = io->len;
		return;
	}
	if (h1_resp_switches_protocol(c) || h1_resp_has_no_body(c)) {
		h1_resp_headers_done(c, io);
		io->off = io->len;
		return;
	}
	h1_msg_lose(&c->resp);	/* keeps body_left: the Content-Length */
}

static void
h1_resp_start(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->resp;
	struct h1_statusline sl;
	const uint8_t *p;
	uint64_t from;
	size_t n;
	enum h1_line ln;
	enum h1_scan sc;

	if (m->hdr_len == 0) {
		h1_skip_blank(io);
		if (io->off >= io->cap) {
			/* responses past the capture cannot be counted */
			if (io->off < io->len)
				h1_msg_lose(m);
			io->off = io->len;
			return;
		}
	}
	from = io->off;
	ln = h1_next_line(m, io, &p, &n);
	sc = h1_scan_statusline(p, n, &sl);
	if (ln == LN_MORE) {
		if (sc == SC_BAD)
			h1_garbage(c, m, io, from);
		return;
	}
	if (sc == SC_BAD || sl.status == 0 || (ln == LN_FULL &&
	    sc != SC_FULL)) {
		h1_garbage(c, m, io, from);
		return;
	}
	c->resp_status = sl.status;
	h1_resp_pair(c, sl.status);
	h1_headers_begin(m, ln == LN_CUT ? PH_SKIPLINE : PH_HEADERS);
	if (ln == LN_BLIND)
		h1_resp_headers_lost(c, io);
}

static void
h1_resp_body(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->resp;
	bool done;

	m->body_seen += h1_body_step(m, io, &done);
	if (done)
		h1_resp_complete(c, io, io->ts, m->body_seen);
}

/* Skipping a response whose framing is unknown: its end shows only if the
 * stream's last bytes are a chunked terminator. */
static void
h1_resp_lost(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->resp;
	uint64_t from = io->off;

	io->off = io->len;
	m->body_seen += io->len - from;
	h1_window_update(m, io, from);
	if (!h1_window_has_last_chunk(m))
		return;
	if (c->resp_status != 0)
		h1_resp_complete(c, io, io->ts, h1_resp_body_so_far(c));
	else
		h1_msg_reset(m);
}

/*
 * Header blocks, the same for both streams.
 */
static void
h1_headers_done(struct http1_conn *c, bool req, struct h1_io *io)
{
	if (req)
		h1_req_headers_done(c);
	else
		h1_resp_headers_done(c, io);
}

static void
h1_headers_lost(struct http1_conn *c, bool req, struct h1_io *io)
{
	if (req)
		h1_req_headers_lost(c, io);
	else
		h1_resp_headers_lost(c, io);
}

/* Header lines hold no control characters; a CR may end a kept part. */
static bool
h1_partial_line_ok(const struct http1_msg_state *m)
{
	const uint8_t *p = (const uint8_t *)m->hdr;

	return h1_field_chars_ok(p, h1_strip_cr(p, m->hdr_len));
}

bool http1_fast_off;

/*
 * A header block's common lines in one pass: whole within the capture,
 * plain field characters up to CRLF or LF, a name before a colon.  What
 * h1_next_line() and h1_header_line() would do with such a line is done
 * here from two bit masks per 64 bytes (control characters, colons)
 * instead of a scan and a search per line (collector_bench: about 1,630
 * instructions per exchange for the two blocks' lines, in h1_next_line(),
 * the field lookups and memchr()).  Any other line (one the capture or a
 * read cuts, a tab, folding, no name, one of 64 bytes or more) is left at
 * io->off for them.  True when the block ended (h1_headers_done() ran).
 * tests/unit/test_http1.c's test_fast_matches_general holds the two ways
 * to the same results.
 */
#if defined(__SSE2__)
#define H1_CHUNK 64

/* The colons among the H1_CHUNK bytes at p, a bit each; *ctl: the bytes
 * h1_block_ctl() flags. */
static uint64_t
h1_chunk_masks(const uint8_t *p, uint64_t *ctl)
{
	const __m128i colon = _mm_set1_epi8(':');
	uint64_t c = 0, k = 0;

#pragma GCC unroll 4
	for (unsigned i = 0; i < H1_CHUNK / 16; i++) {
		const __m128i x = _mm_loadu_si128(
		    (const __m128i *)(const void *)(p + 16 * i));

		c |= h1_block_ctl(p + 16 * i) << (16 * i);
		k |= (uint64_t)(uint32_t)_mm_movemask_epi8(
		    _mm_cmpeq_epi8(x, colon)) << (16 * i);
	}
	*ctl = c;
	return k;
}

static bool
h1_header_lines_fast(struct http1_conn *c, bool req, struct h1_io *io)
{
	uint8_t pad[H1_CHUNK];

	while (io->off < io->cap) {
		const uint64_t base = io->off;
		const uint8_t *s = io->data + base, *chunk = s;
		const size_t rem = io->cap - (size_t)base;
		uint64_t ctl, colon;
		size_t pos = 0;

		if (rem < H1_CHUNK) {
			/* zeros: control characters, so no line ends past
			 * the capture */
			memset(pad, 0, sizeof(pad));
			memcpy(pad, s, rem);
			chunk = pad;
		}
		colon = h1_chunk_masks(chunk, &ctl);
		while (pos < H1_CHUNK) {
			const uint8_t *line = s + pos;
			uint64_t after = colon >> pos;
			size_t e, next, name;

			if ((ctl >> pos) == 0) {
				/* the line goes on past the chunk: start the
				 * next chunk with it, unless it is the first */
				if (pos == 0)
					return false;
				break;
			}
			e = pos + (size_t)__builtin_ctzll(ctl >> pos);
			if (chunk[e] == '\n')
				next = e + 1;
			else if (chunk[e] == '\r' && e + 1 < rem &&
			    s[e + 1] == '\n')
				next = e + 2;
			else
				return false;
			if (e == pos) {
				io->off = base + next;
				h1_headers_done(c, req, io);
				return true;
			}
			name = after != 0 ? (size_t)__builtin_ctzll(after) :
			    e - pos;
			if (line[0] == ' ' || name == 0 || pos + name >= e)
				return false;
			io->off = base + next;
			if ((H1_FIELD_LENS >> name) & 1) {
				enum h1_field f = h1_field_of(line, name, req);

				if (f != HF_OTHER)
					h1_header_field(c, req, f, line,
					    e - pos, name);
			}
			pos = next;
		}
	}
	return false;
}
#else
static bool
h1_header_lines_fast(struct http1_conn *c, bool req, struct h1_io *io)
{
	(void)c;
	(void)req;
	(void)io;
	return false;
}
#endif

static void
h1_headers(struct http1_conn *c, bool req, struct h1_io *io)
{
	struct http1_msg_state *m = req ? &c->req : &c->resp;
	const uint8_t *p;
	uint64_t from;
	size_t n;
	enum h1_line ln;

	/* A block's whole lines are taken here one after the other, not
	 * one per turn of the stream's loop (collector_bench: 260
	 * instructions per exchange). */
	do {
		if (m->hdr_len == 0 && !http1_fast_off) {
			if (h1_header_lines_fast(c, req, io))
				return;
			/* on entry io->off < io->len: lines were taken */
			if (io->off >= io->len)
				return;
		}
		from = io->off;
		ln = h1_next_line(m, io, &p, &n);
		if (ln == LN_FULL && n == 0) {
			h1_headers_done(c, req, io);
			return;
		}
		if (ln == LN_FULL && !h1_header_line(c, req, p, n, io->line_ok))
			goto garbage;
	} while (ln == LN_FULL && io->off < io->len);

	switch (ln) {
	case LN_FULL:
		return;
	case LN_MORE:
		if (!h1_partial_line_ok(m))
			break;
		return;
	case LN_LONG:
	case LN_CUT:
		/* too long to be a framing field; its start is still checked */
		if (!h1_field_chars_ok(p, n))
			break;
		h1_header_line_start(c, req, p, n);
		if (ln == LN_CUT)
			m->phase = PH_SKIPLINE;
		return;
	case LN_BLIND:
		/* not parsed: a value cut by the capture could mislead,
		 * save a list's whole members */
		if (!h1_field_chars_ok(p, n))
			break;
		h1_header_line_start(c, req, p, n);
		h1_headers_lost(c, req, io);
		return;
	}
garbage:
	if (!req)
		c->resp_status = 0;
	h1_garbage(c, m, io, from);
}

static void
h1_skip_line(struct http1_conn *c, bool req, struct h1_io *io)
{
	struct http1_msg_state *m = req ? &c->req : &c->resp;
	const uint8_t *lf;
	size_t avail;

	avail = io->off < io->cap ? io->cap - (size_t)io->off : 0;
	lf = avail > 0 ? memchr(io->data + io->off, '\n', avail) : NULL;
	if (lf != NULL) {
		io->off = (uint64_t)(lf - io->data) + 1;
		m->phase = PH_HEADERS;
		return;
	}
	io->off += avail;
	if (io->off < io->len)
		h1_headers_lost(c, req, io);
}

/*
 * Streams.
 */

/* A step that neither consumed bytes nor changed state would loop
 * forever: should one exist, drop the rest of the buffer instead. */
static void
h1_ensure_progress(const struct http1_msg_state *m, struct h1_io *io,
    uint64_t off, uint8_t phase, uint8_t chunked)
{
	if (io->off == off && m->phase == phase && m->chunked == chunked)
		io->off = io->len;
}

static void
h1_req_feed(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->req;
	uint64_t off;
	uint8_t phase, chunked;

	if (m->phase == PH_LOST && h1_starts_request(io))
		h1_msg_reset(m);
	while (io->off < io->len) {
		off = io->off;
		phase = m->phase;
		chunked = m->chunked;
		switch (m->phase) {
		case PH_START:
			h1_req_start(c, io);
			break;
		case PH_HEADERS:
			h1_headers(c, true, io);
			break;
		case PH_SKIPLINE:
			h1_skip_line(c, true, io);
			break;
		case PH_BODY:
			h1_req_body(c, io);
			break;
		default:	/* lost or tunnel: nothing to learn */
			io->off = io->len;
			break;
		}
		h1_ensure_progress(m, io, off, phase, chunked);
	}
}

/* A response that answers no pending request is followed only within the
 * buffer it began in: its request, unknown, may have been a HEAD, whose
 * response declares a length it does not send.  Past that buffer it is
 * skipped until one starts with a status line. */
static void
h1_resp_contain_unpaired(struct http1_conn *c)
{
	struct http1_msg_state *m = &c->resp;

	if (c->resp_unpaired && c->resp_status != 0 &&
	    (m->phase == PH_HEADERS || m->phase == PH_SKIPLINE ||
	    m->phase == PH_BODY))
		h1_msg_lose(m);
}

static void
h1_resp_feed(struct http1_conn *c, struct h1_io *io)
{
	struct http1_msg_state *m = &c->resp;
	uint64_t off;
	uint8_t phase, chunked;

	if (m->phase == PH_LOST && h1_starts_response(io)) {
		if (c->resp_status != 0)
			h1_resp_cut(c, io);
		else
			h1_msg_reset(m);
	}
	c->resp_last_ns = io->ts;
	while (io->off < io->len) {
		off = io->off;
		phase = m->phase;
		chunked = m->chunked;
		switch (m->phase) {
		case PH_START:
			h1_resp_start(c, io);
			break;
		case PH_HEADERS:
			h1_headers(c, false, io);
			break;
		case PH_SKIPLINE:
			h1_skip_line(c, false, io);
			break;
		case PH_BODY:
			h1_resp_body(c, io);
			break;
		case PH_LOST:
			h1_resp_lost(c, io);
			break;
		default:
			io->off = io->len;
			break;
		}
		h1_ensure_progress(m, io, off, phase, chunked);
	}
	h1_resp_contain_unpaired(c);
}

static uint8_t
h1_request_dir(uint8_t role)
{
	return role == SG_ROLE_SERVER ? SG_DIR_READ : SG_DIR_WRITE;
}

/* A connection that predates the sensor: the side that reads a request
 * line is the server. */
static bool
h1_learn_role(struct http1_conn *c, uint8_t dir, struct h1_io *io)
{
	h1_skip_blank(io);
	if (!h1_starts_request(io)) {
		if (io->off < io->cap)
			c->garbage += io->len - io->off;
		return false;
	}
	c->role = dir == SG_DIR_READ ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
	return true;
}

void
http1_conn_init(struct http1_conn *c, uint8_t role)
{
	/* Not pending[] and names[], most of the size: an entry is written
	 * whole as its request is committed; nor the messages' hdr[], of
	 * which only the first hdr_len bytes are read.  A state is taken
	 * from the free list for each exchange (conns.c): clearing those
	 * was 3.6 % of the collector's samples at nginx saturation. */
	memset(c, 0, offsetof(struct http1_conn, req));
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
	c->req.phase = c->resp.phase = 0;   /* not a tunnel left from before */
	h1_msg_reset(&c->req);
	h1_msg_reset(&c->resp);
	memset(&c->receiving, 0, sizeof(c->receiving));
}

void
http1_on_data(struct http1_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	struct h1_io io;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)h1_min(captured, len) : 0;
	io.len = len;
	io.tail = tail;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT &&
	    !h1_learn_role(c, dir, &io))
		return;
	if (dir == h1_request_dir(c->role))
		h1_req_feed(c, &io);
	else
		h1_resp_feed(c, &io);
}

void
http1_on_close(struct http1_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct h1_io io;
	uint64_t garbage, unpaired, dropped;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	if (h1_resp_begun(c)) {
		if (c->resp.phase == PH_BODY && c->resp.until_close)
			h1_resp_complete(c, &io, ts_ns, c->resp.body_seen);
		else
			h1_resp_cut(c, &io);
	}
	h1_end_pending(c, &io, ts_ns);
	/* the counters are the connection's, not the exchange's */
	role = c->role;
	garbage = c->garbage;
	unpaired = c->unpaired;
	dropped = c->dropped;
	http1_conn_init(c, role);
	c->garbage = garbage;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->last_ns = ts_ns;
}

/* Nothing happened for longer than the timeout: partial messages will not
 * be completed. */
static void
h1_drop_partial(struct http1_conn *c)
{
	h1_msg_reset(&c->req);
	h1_msg_reset(&c->resp);
	c->resp_status = 0;
	c->resp_unpaired = 0;
	c->dropped_after = 0;	/* counted when dropped; no answer came */
}

unsigned
http1_expire(struct http1_conn *c, uint64_t now_ns, uint64_t timeout_ns,
    sg_emit_fn emit, void *ctx)
{
	struct h1_io io;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	while (c->npending > 0) {
		if (h1_resp_begun(c)) {
			/* a response is flowing: only a stalled one ends */
			if (!h1_older(now_ns, c->resp_last_ns, timeout_ns))
				break;
			h1_resp_cut(c, &io);
			continue;
		}
		if (!h1_older(now_ns, h1_oldest(c)->start_ns, timeout_ns))
			break;
		h1_end_timed_out(c, &io, now_ns);
		n++;
	}
	if (h1_older(now_ns, c->last_ns, timeout_ns))
		h1_drop_partial(c);
	return n;
}

bool
http1_idle(const struct http1_conn *c)
{
	if (c == NULL)
		return true;
	/* dropped_after: the answers to dropped requests must not be counted
	 * again as unpaired */
	return c->npending == 0 && c->dropped_after == 0 &&
	    c->req.phase == PH_START && c->req.hdr_len == 0 &&
	    c->resp.phase == PH_START && c->resp.hdr_len == 0;
}

unsigned
http1_pending(const struct http1_conn *c)
{
	return c != NULL ? c->npending : 0;
}

/* ---- the parser as the connection table sees it (proto.h) */

/* A request line or a status line, whole or as far as captured; a
 * request line cut short must show its method and a space. */
static enum sg_sniff
h1_sniff(const uint8_t *data, size_t captured, uint8_t dir, uint16_t port)
{
	struct h1_io io;

	(void)dir;
	(void)port;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = captured;
	io.len = captured;
	h1_skip_blank(&io);
	if (h1_starts_request(&io) || h1_starts_response(&io))
		return SG_SNIFF_YES;
	/* Too little to tell: "GE" could become a request. */
	if (io.cap - (size_t)io.off < 4 && data != NULL) {
		for (size_t i = (size_t)io.off; i < io.cap; i++)
			if (!h1_is_upper(data[i]))
				return SG_SNIFF_NO;
		return SG_SNIFF_MAYBE;
	}
	return SG_SNIFF_NO;
}

static void
h1_ops_init(void *st, uint8_t role)
{
	http1_conn_init(st, role);
}

static void
h1_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	http1_on_data(st, dir, ts_ns, len, data, captured, tail, emit, ctx);
}

static void
h1_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	http1_on_close(st, ts_ns, emit, ctx);
}

static unsigned
h1_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return http1_expire(st, now_ns, to->ns[SG_APP_HTTP], emit, ctx);
}

static bool
h1_ops_idle(const void *st)
{
	return http1_idle(st);
}

static unsigned
h1_ops_pending(const void *st)
{
	return http1_pending(st);
}

static uint8_t
h1_ops_role(const void *st)
{
	return ((const struct http1_conn *)st)->role;
}

static void
h1_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct http1_conn *c = st;

	out->unparsed = c->garbage;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = 0;
}

static bool
h1_ops_handoff(const void *st, struct sg_handoff *h)
{
	const struct http1_conn *c = st;
	const struct http1_pending *p;

	if (!c->switched || c->npending == 0)
		return false;
	p = &c->pending[c->head];
	memset(h, 0, sizeof(*h));
	h->proto = SG_PROTO_HTTP2;
	h->off = c->switch_off;
	h->start_ns = p->start_ns;
	h->req_size = p->req_body;
	h1_names_get(c, p->names_at, p->method_len, h->op);
	h1_names_get(c, h1_names_add(p->names_at, p->method_len), p->path_len,
	    h->target);
	h->trace_flags = h1_tctx_get(c, p, h->trace_id, h->parent_span_id);
	return true;
}

/* The newest request read: the one whose header block is being read,
 * else the newest awaiting its response. */
static int
h1_ops_trace_ctx(const void *st, uint8_t trace_id[16], uint8_t parent_id[8])
{
	const struct http1_conn *c = st;
	const struct http1_pending *p;

	if (c->req.phase == PH_HEADERS)
		p = &c->receiving;
	else if (c->npending > 0)
		p = &c->pending[(c->head + c->npending - 1) %
		    HTTP1_MAX_PENDING];
	else
		return -1;
	return h1_tctx_get(c, p, trace_id, parent_id) & (SG_EX_TRACE_CTX |
	    SG_EX_TRACE_SAMPLED);
}

const struct sg_proto_ops http1_ops = {
	.name = "http1",
	.id = SG_PROTO_HTTP1,
	.apps = 1u << SG_APP_HTTP,
	.state_size = sizeof(struct http1_conn),
	.keep_state = false,
	.sniff = h1_sniff,
	.init = h1_ops_init,
	.on_data = h1_ops_on_data,
	.on_close = h1_ops_on_close,
	.expire = h1_ops_expire,
	.idle = h1_ops_idle,
	.pending = h1_ops_pending,
	.role = h1_ops_role,
	.counters = h1_ops_counters,
	.handoff = h1_ops_handoff,
	.trace_ctx = h1_ops_trace_ctx,
};
