/*
 * memcached text protocol pairing from captured socket reads and writes.
 *
 * Both directions are lines, some followed by a data block whose length
 * the line declares (skipped by count, across reads and past the
 * capture).  A command line is committed to a FIFO of pending commands
 * with the kind of reply it expects; the reply stream reads lines as that
 * kind says: one line, VALUE blocks up to END, STAT lines up to END, or a
 * meta reply ("VA <size>" and a block, or one line).
 *
 * What cannot be followed is counted, not guessed: a line past the
 * captured bytes makes the stream lost until a read or write that starts
 * a line after one that ended with LF; a lost reply stream ends the
 * commands waiting (status unknown, but the one whose reply had begun).
 */
#include "memcached.h"

#include <string.h>

enum mc_phase {
	MC_LINE = 0,	/* expecting a line (a partial one in line[]) */
	MC_DATA,	/* data_left bytes of data block and CRLF */
	MC_LOST,	/* framing unknown: until a read starting a line */
};

/* What reply a command expects. */
enum mc_kind {
	MC_K_NONE = 0,	/* no pending command */
	MC_K_LINE,	/* one line */
	MC_K_RETRIEVE,	/* VALUE blocks, END */
	MC_K_STATS,	/* STAT (or other) lines, END */
	MC_K_META,	/* VA <size> and a block, or one line */
	MC_K_QUIT,	/* none, and no operation */
};

/* How a command's arguments make its target, and where its data is. */
enum mc_shape {
	MC_SH_REST = 0,	/* "cmd ?" when arguments follow */
	MC_SH_KEY,	/* "cmd key ?" */
	MC_SH_STORE,	/* "cmd key ?", data length in token 4 */
	MC_SH_MS,	/* "ms key ?", data length in token 2 */
	MC_SH_KEYS,	/* "get k1 k2" */
	MC_SH_EXPKEYS,	/* "gat ? k1 k2" */
	MC_SH_ARGS,	/* "stats slabs": arguments kept */
};

struct mc_cmd {
	const char	*name;
	uint8_t		 kind;
	uint8_t		 shape;
};

static const struct mc_cmd mc_cmds[] = {
	{ "get",	MC_K_RETRIEVE,	MC_SH_KEYS },
	{ "gets",	MC_K_RETRIEVE,	MC_SH_KEYS },
	{ "gat",	MC_K_RETRIEVE,	MC_SH_EXPKEYS },
	{ "gats",	MC_K_RETRIEVE,	MC_SH_EXPKEYS },
	{ "set",	MC_K_LINE,	MC_SH_STORE },
	{ "add",	MC_K_LINE,	MC_SH_STORE },
	{ "replace",	MC_K_LINE,	MC_SH_STORE },
	{ "append",	MC_K_LINE,	MC_SH_STORE },
	{ "prepend",	MC_K_LINE,	MC_SH_STORE },
	{ "cas",	MC_K_LINE,	MC_SH_STORE },
	{ "delete",	MC_K_LINE,	MC_SH_KEY },
	{ "incr",	MC_K_LINE,	MC_SH_KEY },
	{ "decr",	MC_K_LINE,	MC_SH_KEY },
	{ "touch",	MC_K_LINE,	MC_SH_KEY },
	{ "stats",	MC_K_STATS,	MC_SH_ARGS },
	{ "flush_all",	MC_K_LINE,	MC_SH_REST },
	{ "version",	MC_K_LINE,	MC_SH_REST },
	{ "verbosity",	MC_K_LINE,	MC_SH_REST },
	{ "cache_memlimit", MC_K_LINE,	MC_SH_REST },
	{ "quit",	MC_K_QUIT,	MC_SH_REST },
	{ "mg",		MC_K_META,	MC_SH_KEY },
	{ "ms",		MC_K_META,	MC_SH_MS },
	{ "md",		MC_K_META,	MC_SH_KEY },
	{ "ma",		MC_K_META,	MC_SH_KEY },
	{ "me",		MC_K_META,	MC_SH_KEY },
	{ "mn",		MC_K_META,	MC_SH_REST },
};

enum mc_line {
	MC_LN_MORE,	/* the buffer ended inside the line: kept */
	MC_LN_FULL,
	MC_LN_BLIND,	/* the line runs into bytes past the capture */
};

#define MC_PORT		11211
#define MC_MAX_DIGITS	18
#define MC_MAX_TOKENS	24	/* of a command line, as parsed */
#define MC_OP_LEN	(SG_METHOD_MAX - 1)

_Static_assert(MEMCACHED_MAX_PENDING <= UINT8_MAX, "pending in a byte");
_Static_assert(MEMCACHED_LINE_LEN <= UINT16_MAX, "line length in 16 bits");

struct mc_io {
	const uint8_t	*data;
	size_t		 cap;
	uint64_t	 len;
	uint64_t	 off;
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
};

struct mc_tok {
	const uint8_t	*p;
	size_t		 n;
};

/* A line split on spaces, as memcached does. */
struct mc_tokens {
	struct mc_tok	 t[MC_MAX_TOKENS];
	size_t		 n;
	bool		 more;	/* tokens past MC_MAX_TOKENS */
};

static uint64_t
mc_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool
mc_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

static bool
mc_is_lower(uint8_t ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
mc_is_upper(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z';
}

static bool
mc_is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
mc_tok_is(const struct mc_tok *t, const char *lit)
{
	return strlen(lit) == t->n && memcmp(t->p, lit, t->n) == 0;
}

static void
mc_tokenize(const uint8_t *p, size_t n, struct mc_tokens *tk)
{
	size_t i = 0, s;

	tk->n = 0;
	tk->more = false;
	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		if (i == n)
			break;
		s = i;
		while (i < n && p[i] != ' ')
			i++;
		if (tk->n == MC_MAX_TOKENS) {
			tk->more = true;
			break;
		}
		tk->t[tk->n].p = p + s;
		tk->t[tk->n].n = i - s;
		tk->n++;
	}
}

static bool
mc_parse_u64(const struct mc_tok *t, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (t->n == 0 || t->n > MC_MAX_DIGITS)
		return false;
	for (i = 0; i < t->n; i++) {
		if (!mc_is_digit(t->p[i]))
			return false;
		v = v * 10 + (t->p[i] - '0');
	}
	*out = v;
	return true;
}

static const struct mc_cmd *
mc_find_cmd(const struct mc_tok *t)
{
	size_t i;

	for (i = 0; i < sizeof(mc_cmds) / sizeof(mc_cmds[0]); i++)
		if (mc_tok_is(t, mc_cmds[i].name))
			return &mc_cmds[i];
	return NULL;
}

/* An unknown command is still named when it looks like a word. */
static bool
mc_word_ok(const struct mc_tok *t)
{
	size_t i;

	if (t->n == 0 || t->n > MC_OP_LEN)
		return false;
	for (i = 0; i < t->n; i++)
		if (!mc_is_lower(t->p[i]) && !mc_is_upper(t->p[i]) &&
		    !mc_is_digit(t->p[i]) && t->p[i] != '_')
			return false;
	return true;
}

/* ---- targets */

struct mc_out {
	char	*s;
	size_t	 n;
	size_t	 size;
};

static bool
mc_put(struct mc_out *o, const uint8_t *p, size_t n, size_t reserve)
{
	size_t i;

	if (o->n + n + reserve >= o->size)
		return false;
	for (i = 0; i < n; i++)
		o->s[o->n++] = (p[i] < 0x20 || p[i] > 0x7e) ? '.' : (char)p[i];
	o->s[o->n] = '\0';
	return true;
}

static void
mc_put_str(struct mc_out *o, const char *s, size_t reserve)
{
	(void)mc_put(o, (const uint8_t *)s, strlen(s), reserve);
}

/* The keys from token `from` on, as many as fit whole. */
static void
mc_put_keys(struct mc_out *o, const struct mc_tokens *tk, size_t from,
    bool cut)
{
	size_t i, end = tk->n;

	if (cut && end > from)
		end--;		/* the last key may be incomplete */
	for (i = from; i < end; i++) {
		if (!mc_put(o, (const uint8_t *)" ", 1, 4) ||
		    !mc_put(o, tk->t[i].p, tk->t[i].n, 4)) {
			if (o->n > 0 && o->s[o->n - 1] == ' ')
				o->s[--o->n] = '\0';
			break;
		}
	}
	if (i < tk->n || tk->more)
		mc_put_str(o, " ...", 0);
}

static bool
mc_is_noreply(const struct mc_tokens *tk)
{
	return tk->n > 1 && !tk->more && mc_tok_is(&tk->t[tk->n - 1],
	    "noreply");
}

static bool
mc_is_quiet(const struct mc_tokens *tk)
{
	size_t i;

	for (i = 2; i < tk->n; i++)
		if (mc_tok_is(&tk->t[i], "q"))
			return true;
	return false;
}

static void
mc_target(const struct mc_cmd *cmd, const struct mc_tokens *tk, bool cut,
    char *out, size_t size)
{
	struct mc_out o = { out, 0, size };
	size_t nargs = tk->n - 1 - (mc_is_noreply(tk) ? 1 : 0);
	size_t i;

	out[0] = '\0';
	(void)mc_put(&o, tk->t[0].p, mc_min(tk->t[0].n, MC_OP_LEN), 0);
	switch (cmd != NULL ? cmd->shape : MC_SH_REST) {
	case MC_SH_KEYS:
		mc_put_keys(&o, tk, 1, cut);
		return;
	case MC_SH_EXPKEYS:
		if (tk->n > 1)
			mc_put_str(&o, " ?", 4);
		mc_put_keys(&o, tk, 2, cut);
		return;
	case MC_SH_ARGS:
		for (i = 1; i < tk->n; i++)
			if (!mc_put(&o, (const uint8_t *)" ", 1, 0) ||
			    !mc_put(&o, tk->t[i].p, tk->t[i].n, 0))
				break;
		return;
	case MC_SH_KEY:
	case MC_SH_STORE:
	case MC_SH_MS:
		if (nargs == 0)
			return;
		mc_put_str(&o, " ", 2);
		if (!mc_put(&o, tk->t[1].p, tk->t[1].n, 2))
			(void)mc_put(&o, (const uint8_t *)"?", 1, 0);
		if (nargs > 1)
			mc_put_str(&o, " ?", 0);
		return;
	default:
		if (nargs > 0)
			mc_put_str(&o, " ?", 0);
		return;
	}
}

/* ---- the pending FIFO */

static struct memcached_pending *
mc_oldest(struct memcached_conn *c)
{
	return &c->pending[c->head];
}

static uint8_t
mc_oldest_kind(struct memcached_conn *c)
{
	return c->npending > 0 ? mc_oldest(c)->kind : MC_K_NONE;
}

static void
mc_emit(struct memcached_conn *c, struct mc_io *io,
    const struct memcached_pending *p, uint64_t end_ns, uint8_t flags,
    uint64_t resp_size, const char *error)
{
	struct sg_exchange ex;

	if (io->emit == NULL)
		return;
	proto_exchange_init(&ex);
	ex.app = SG_APP_MEMCACHED;
	ex.role = c->role;
	ex.flags = p->flags | flags;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	memcpy(ex.op, p->op, sizeof(ex.op));
	memcpy(ex.target, p->target, sizeof(p->target));
	ex.target[sizeof(p->target) - 1] = '\0';
	ex.req_size = p->size;
	ex.resp_size = resp_size;
	if (error != NULL)
		memcpy(ex.error, error, strlen(error) + 1);
	io->emit(io->ctx, &ex);
}

static void
mc_end_oldest(struct memcached_conn *c, struct mc_io *io, uint64_t end_ns,
    uint8_t flags, uint64_t resp_size, const char *error)
{
	struct memcached_pending p;

	if (c->npending == 0)
		return;
	p = *mc_oldest(c);
	c->head = (uint8_t)((c->head + 1) % MEMCACHED_MAX_PENDING);
	c->npending--;
	mc_emit(c, io, &p, end_ns, flags, resp_size, error);
}

static void
mc_end_all(struct memcached_conn *c, struct mc_io *io, uint64_t end_ns,
    uint8_t flags)
{
	while (c->npending > 0)
		mc_end_oldest(c, io, end_ns, flags, 0, NULL);
}

/* ---- streams */

static bool
mc_is_req(const struct memcached_conn *c, const struct memcached_stream *s)
{
	return s == &c->req;
}

static void
mc_stream_reset(struct memcached_stream *s)
{
	uint8_t prev_crlf = s->prev_crlf;

	memset(s, 0, offsetof(struct memcached_stream, line));
	s->prev_crlf = prev_crlf;
}

static void
mc_keep(struct memcached_stream *s, const uint8_t *p, size_t n)
{
	size_t room = sizeof(s->line) - 1 - s->line_len;
	size_t k = n < room ? n : room;

	memcpy(s->line + s->line_len, p, k);
	s->line_len += (uint16_t)k;
	if (k < n)
		s->line_long = 1;
}

/* The next line, joined with its start kept from earlier reads: *p, *n
 * without the CRLF; *cut when only its start was kept. */
static enum mc_line
mc_next_line(struct memcached_stream *s, struct mc_io *io, const uint8_t **p,
    size_t *n, bool *cut)
{
	const uint8_t *start, *lf;
	size_t avail, k;

	avail = io->off < io->cap ? io->cap - (size_t)io->off : 0;
	*cut = false;
	/* nothing visible: no pointer into data, which may be NULL */
	if (avail == 0)
		return io->off < io->len ? MC_LN_BLIND : MC_LN_MORE;
	start = io->data + io->off;
	lf = memchr(start, '\n', avail);
	if (lf == NULL) {
		mc_keep(s, start, avail);
		io->off += avail;
		return io->off < io->len ? MC_LN_BLIND : MC_LN_MORE;
	}
	k = (size_t)(lf - start);
	io->off += k + 1;
	if (s->line_len == 0 && !s->line_long) {
		*p = start;
		*n = k;
	} else {
		mc_keep(s, start, k);
		*p = (const uint8_t *)s->line;
		*n = s->line_len;
		*cut = s->line_long;
	}
	if (*n > 0 && (*p)[*n - 1] == '\r' && !*cut)
		(*n)--;
	s->line_len = 0;
	s->line_long = 0;
	return MC_LN_FULL;
}

static void
mc_lose(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, uint64_t from)
{
	c->unparsed += io->len - from;
	mc_stream_reset(s);
	s->phase = MC_LOST;
	io->off = io->len;
}

/* Bytes that are not the protocol. */
static void
mc_garbage(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, uint64_t from)
{
	if (!mc_is_req(c, s) && s->in_msg)
		mc_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	mc_lose(c, s, io, from);
}

/* Queue a command, or end it at once when no reply is expected. */
static void
mc_commit(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, const struct mc_cmd *cmd, const struct mc_tokens *tk,
    bool cut, uint64_t size)
{
	struct memcached_pending *p, now;
	bool quiet;

	if (cmd != NULL && cmd->kind == MC_K_QUIT)
		return;
	quiet = cmd != NULL && cmd->kind == MC_K_META && mc_is_quiet(tk);
	p = c->npending < MEMCACHED_MAX_PENDING ?
	    &c->pending[(c->head + c->npending) % MEMCACHED_MAX_PENDING] :
	    &now;
	memset(p, 0, sizeof(*p));
	p->start_ns = s->start_ns;
	p->size = size;
	p->kind = cmd != NULL ? cmd->kind : MC_K_LINE;
	if (cmd == NULL && !mc_word_ok(&tk->t[0])) {
		p->flags = SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
	} else {
		memcpy(p->op, tk->t[0].p, mc_min(tk->t[0].n, MC_OP_LEN));
		mc_target(cmd, tk, cut, p->target, sizeof(p->target));
		if (cut && cmd != NULL && cmd->shape != MC_SH_KEYS &&
		    cmd->shape != MC_SH_EXPKEYS && tk->n < 3)
			p->flags |= SG_EX_TARGET_UNKNOWN;
	}
	if (quiet || (cmd != NULL && cmd->kind == MC_K_LINE &&
	    mc_is_noreply(tk))) {
		/* no reply expected: it ends now */
		now = *p;
		mc_emit(c, io, &now, io->ts, quiet ? SG_EX_STATUS_UNKNOWN : 0,
		    0, NULL);
		return;
	}
	if (p == &now) {
		c->dropped++;
		return;
	}
	c->npending++;
}

/* The data block a storage command line declares, or -1 for none; false
 * when the line declares one it does not show. */
static bool
mc_data_len(const struct mc_cmd *cmd, const struct mc_tokens *tk,
    int64_t *len)
{
	uint64_t v;
	size_t at;

	*len = -1;
	if (cmd == NULL || (cmd->shape != MC_SH_STORE && cmd->shape != MC_SH_MS))
		return true;
	at = cmd->shape == MC_SH_STORE ? 4 : 2;
	if (tk->n <= at)
		return true;	/* the server refuses the line, no data */
	if (!mc_parse_u64(&tk->t[at], &v) || v > INT64_MAX - 2)
		return true;	/* the same */
	*len = (int64_t)v;
	return true;
}

static void
mc_request_line(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, const uint8_t *p, size_t n, bool cut, uint64_t from)
{
	struct mc_tokens tk;
	const struct mc_cmd *cmd;
	int64_t dlen;

	mc_tokenize(p, n, &tk);
	if (tk.n == 0) {
		mc_stream_reset(s);	/* an empty line: the server says
					 * ERROR to it */
		c->unparsed += io->off - from;
		return;
	}
	if (!mc_is_lower(tk.t[0].p[0]) && !mc_is_upper(tk.t[0].p[0])) {
		mc_garbage(c, s, io, from);
		return;
	}
	cmd = mc_find_cmd(&tk.t[0]);
	(void)mc_data_len(cmd, &tk, &dlen);
	mc_commit(c, s, io, cmd, &tk, cut,
	    s->size + (dlen >= 0 ? (uint64_t)dlen + 2 : 0));
	if (dlen >= 0) {
		s->data_left = (uint64_t)dlen + 2;
		s->phase = MC_DATA;
		return;
	}
	mc_stream_reset(s);
}

static bool
mc_line_is(const uint8_t *p, size_t n, const char *word)
{
	size_t k = strlen(word);

	return n >= k && memcmp(p, word, k) == 0 && (n == k || p[k] == ' ');
}

static const char *
mc_error_word(const uint8_t *p, size_t n)
{
	if (mc_line_is(p, n, "ERROR"))
		return "ERROR";
	if (mc_line_is(p, n, "CLIENT_ERROR"))
		return "CLIENT_ERROR";
	if (mc_line_is(p, n, "SERVER_ERROR"))
		return "SERVER_ERROR";
	return NULL;
}

static void
mc_reply_done(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, const char *error)
{
	if (c->npending == 0)
		c->unpaired++;
	else
		mc_end_oldest(c, io, io->ts, 0, s->size, error);
	mc_stream_reset(s);
}

/* "VALUE <key> <flags> <bytes> [<cas>]" or "VA <bytes> <flags>*": the
 * block's length, or -1. */
static int64_t
mc_block_len(const uint8_t *p, size_t n)
{
	struct mc_tokens tk;
	uint64_t v;
	size_t at;

	if (mc_line_is(p, n, "VALUE"))
		at = 3;
	else if (mc_line_is(p, n, "VA"))
		at = 1;
	else
		return -1;
	mc_tokenize(p, n, &tk);
	if (tk.n <= at || !mc_parse_u64(&tk.t[at], &v) || v > INT64_MAX - 2)
		return -2;
	return (int64_t)v;
}

static void
mc_reply_line(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, const uint8_t *p, size_t n, uint64_t from)
{
	uint8_t kind = mc_oldest_kind(c);
	const char *err;
	int64_t blen;

	if (n == 0 || !(mc_is_upper(p[0]) || mc_is_digit(p[0]))) {
		mc_garbage(c, s, io, from);
		return;
	}
	if ((err = mc_error_word(p, n)) != NULL) {
		mc_reply_done(c, s, io, err);
		return;
	}
	blen = mc_block_len(p, n);
	if (blen == -2) {
		mc_garbage(c, s, io, from);
		return;
	}
	if (blen >= 0 && (kind == MC_K_RETRIEVE || kind == MC_K_META ||
	    kind == MC_K_NONE)) {
		s->data_left = (uint64_t)blen + 2;
		s->phase = MC_DATA;
		/* VA ends its reply with the block; VALUE goes on to END */
		s->then_done = mc_line_is(p, n, "VA");
		return;
	}
	switch (kind) {
	case MC_K_RETRIEVE:
		if (!mc_line_is(p, n, "END")) {
			mc_garbage(c, s, io, from);
			return;
		}
		break;
	case MC_K_STATS:
	case MC_K_NONE:
		/* lines of stats (or of a reply to nothing seen) */
		if (!mc_line_is(p, n, "END") && !mc_line_is(p, n, "RESET") &&
		    !mc_line_is(p, n, "OK") && (mc_line_is(p, n, "STAT") ||
		    mc_line_is(p, n, "ITEM") || kind == MC_K_STATS))
			return;
		break;
	default:
		break;
	}
	mc_reply_done(c, s, io, NULL);
}

static void
mc_step_data(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io)
{
	uint64_t step = mc_min(s->data_left, io->len - io->off);
	uint64_t vis = io->off < io->cap ? mc_min(step, io->cap - io->off) : 0;
	const uint8_t *p = vis > 0 ? io->data + io->off : NULL;
	uint64_t i;

	/* the CRLF after the block, where visible */
	for (i = s->data_left > 2 ? s->data_left - 2 : 0; i < vis; i++)
		if (p[i] != (s->data_left - i == 2 ? '\r' : '\n')) {
			mc_garbage(c, s, io, io->off);
			return;
		}
	io->off += step;
	s->size += step;
	s->data_left -= step;
	if (s->data_left > 0)
		return;
	if (mc_is_req(c, s)) {
		mc_stream_reset(s);
		return;
	}
	s->phase = MC_LINE;
	if (s->then_done)
		mc_reply_done(c, s, io, NULL);
}

/* A line past the capture. */
static void
mc_blind(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io, uint64_t from)
{
	struct mc_tokens tk;
	const struct mc_cmd *cmd;

	if (mc_is_req(c, s)) {
		/* a command shown in part: its word and what follows */
		mc_tokenize((const uint8_t *)s->line, s->line_len, &tk);
		if (tk.n > 1 || (tk.n == 1 && tk.t[0].n < s->line_len)) {
			cmd = mc_find_cmd(&tk.t[0]);
			if (cmd != NULL || mc_word_ok(&tk.t[0]))
				mc_commit(c, s, io, cmd, &tk, true,
				    s->size + io->len - io->off);
		}
	} else if (s->in_msg && c->npending > 0 && s->size > io->off - from) {
		/* its reply began: the others may be past the capture */
		mc_end_oldest(c, io, io->ts, 0, s->size, NULL);
		mc_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	} else {
		mc_end_all(c, io, io->ts, SG_EX_STATUS_UNKNOWN);
	}
	mc_lose(c, s, io, io->off);
}

static void
mc_step_line(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io)
{
	const uint8_t *p = NULL;
	uint64_t from = io->off;
	size_t n = 0;
	bool cut;
	enum mc_line ln;

	if (!s->in_msg) {
		s->in_msg = 1;
		s->start_ns = io->ts;
		s->size = 0;
	}
	ln = mc_next_line(s, io, &p, &n, &cut);
	s->size += io->off - from;
	switch (ln) {
	case MC_LN_MORE:
		return;
	case MC_LN_BLIND:
		mc_blind(c, s, io, from);
		return;
	case MC_LN_FULL:
		break;
	}
	if (mc_is_req(c, s))
		mc_request_line(c, s, io, p, n, cut, from);
	else
		mc_reply_line(c, s, io, p, n, from);
}

static bool
mc_can_resync(const struct memcached_conn *c,
    const struct memcached_stream *s, const struct mc_io *io)
{
	uint8_t t;

	if (!s->prev_crlf || io->cap == 0)
		return false;
	t = io->data[0];
	return mc_is_req(c, s) ? mc_is_lower(t) : mc_is_upper(t) ||
	    mc_is_digit(t);
}

static void
mc_feed(struct memcached_conn *c, struct memcached_stream *s,
    struct mc_io *io)
{
	uint64_t off;
	uint8_t phase;

	if (s->phase == MC_LOST) {
		if (!mc_can_resync(c, s, io)) {
			c->unparsed += io->len;
			return;
		}
		mc_stream_reset(s);
	}
	while (io->off < io->len) {
		off = io->off;
		phase = s->phase;
		switch (s->phase) {
		case MC_LINE:
			mc_step_line(c, s, io);
			break;
		case MC_DATA:
			mc_step_data(c, s, io);
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
mc_ends_lf(const struct mc_io *io, const uint8_t *tail)
{
	if (io->len <= io->cap)
		return io->len > 0 && io->data[io->len - 1] == '\n';
	return tail != NULL && tail[SG_TAIL_LEN - 1] == '\n';
}

/* A connection that predates the sensor: commands are lower-case words,
 * replies upper-case or numbers. */
static bool
mc_learn_role(struct memcached_conn *c, uint8_t dir, const struct mc_io *io)
{
	struct mc_tok t;
	size_t i = 0;

	if (io->cap == 0)
		return false;
	while (i < io->cap && io->data[i] != ' ' && io->data[i] != '\r' &&
	    io->data[i] != '\n')
		i++;
	t.p = io->data;
	t.n = i;
	if (mc_find_cmd(&t) != NULL)
		c->role = dir == SG_DIR_READ ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
	else if (mc_is_upper(io->data[0]) || mc_is_digit(io->data[0]))
		c->role = dir == SG_DIR_READ ? SG_ROLE_CLIENT : SG_ROLE_SERVER;
	else {
		c->unparsed += io->len;
		return false;
	}
	return true;
}

void
memcached_conn_init(struct memcached_conn *c, uint8_t role)
{
	memset(c, 0, offsetof(struct memcached_conn, pending));
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
	c->req.prev_crlf = 1;
	c->resp.prev_crlf = 1;
}

void
memcached_on_data(struct memcached_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	struct memcached_stream *s;
	struct mc_io io;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)mc_min(captured, len) : 0;
	io.len = len;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT &&
	    !mc_learn_role(c, dir, &io))
		return;
	s = (dir == SG_DIR_READ) == (c->role == SG_ROLE_SERVER) ? &c->req :
	    &c->resp;
	mc_feed(c, s, &io);
	s->prev_crlf = mc_ends_lf(&io, tail);
}

void
memcached_on_close(struct memcached_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct mc_io io;
	uint64_t unparsed, unpaired, dropped;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	if (c->resp.in_msg && c->npending > 0)
		mc_end_oldest(c, &io, ts_ns, SG_EX_STATUS_UNKNOWN,
		    c->resp.size, NULL);
	mc_end_all(c, &io, ts_ns, SG_EX_TIMED_OUT);
	role = c->role;
	unparsed = c->unparsed;
	unpaired = c->unpaired;
	dropped = c->dropped;
	memcached_conn_init(c, role);
	c->unparsed = unparsed;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->last_ns = ts_ns;
}

unsigned
memcached_expire(struct memcached_conn *c, uint64_t now_ns,
    uint64_t timeout_ns, sg_emit_fn emit, void *ctx)
{
	struct mc_io io;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	if (c->resp.in_msg && !mc_older(now_ns, c->last_ns, timeout_ns))
		return 0;	/* a reply is flowing */
	while (c->npending > 0 &&
	    mc_older(now_ns, mc_oldest(c)->start_ns, timeout_ns)) {
		mc_end_oldest(c, &io, now_ns, SG_EX_TIMED_OUT, 0, NULL);
		n++;
	}
	if (mc_older(now_ns, c->last_ns, timeout_ns)) {
		if (c->req.phase != MC_LOST)
			mc_stream_reset(&c->req);
		if (c->resp.phase != MC_LOST)
			mc_stream_reset(&c->resp);
	}
	return n;
}

static bool
mc_stream_idle(const struct memcached_stream *s)
{
	return s->phase == MC_LINE && !s->in_msg && s->line_len == 0;
}

bool
memcached_idle(const struct memcached_conn *c)
{
	if (c == NULL)
		return true;
	return c->npending == 0 && mc_stream_idle(&c->req) &&
	    mc_stream_idle(&c->resp);
}

unsigned
memcached_pending(const struct memcached_conn *c)
{
	return c != NULL ? c->npending : 0;
}

/* ---- detection */

/* A whole storage line: "<cmd> <key> <flags> <exptime> <bytes>[ <cas>]
 * [ noreply]"; a retrieval line: "<cmd> <key>+". */
static bool
mc_sniff_shape(const struct mc_cmd *cmd, const struct mc_tokens *tk)
{
	size_t i, need;
	uint64_t v;

	switch (cmd->shape) {
	case MC_SH_STORE:
		need = mc_tok_is(&tk->t[0], "cas") ? 6 : 5;
		if (tk->n != need && !(tk->n == need + 1 && mc_is_noreply(tk)))
			return false;
		for (i = 2; i < need; i++)
			if (!mc_parse_u64(&tk->t[i], &v))
				return false;
		return true;
	case MC_SH_KEYS:
		return tk->n >= 2;
	default:
		return false;
	}
}

static bool
mc_sniff_reply(const uint8_t *d, size_t n)
{
	static const char *const words[] = { "STORED", "NOT_STORED",
	    "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "END", "VALUE",
	    "STAT", "VERSION", "OK", "ERROR", "CLIENT_ERROR",
	    "SERVER_ERROR", "HD", "VA", "EN", "NF", "NS", "EX", "MN" };
	size_t i, k;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		k = strlen(words[i]);
		if (n > k && memcmp(d, words[i], k) == 0 &&
		    (d[k] == ' ' || d[k] == '\r'))
			return true;
	}
	return false;
}

enum sg_sniff
memcached_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port)
{
	struct mc_tokens tk;
	const struct mc_cmd *cmd;
	const uint8_t *lf;
	struct mc_tok w;
	size_t i = 0;

	(void)dir;
	if (data == NULL || captured == 0)
		return SG_SNIFF_NO;
	while (i < captured && (mc_is_lower(data[i]) || data[i] == '_'))
		i++;
	w.p = data;
	w.n = i;
	if (i == captured)
		return i > 0 && i < 16 ? SG_SNIFF_MAYBE : SG_SNIFF_NO;
	if (i > 0 && (data[i] == ' ' || data[i] == '\r' || data[i] == '\n') &&
	    (cmd = mc_find_cmd(&w)) != NULL) {
		if (port == MC_PORT)
			return SG_SNIFF_YES;
		if ((lf = memchr(data, '\n', captured)) == NULL)
			return SG_SNIFF_MAYBE;
		i = (size_t)(lf - data);
		if (i == 0 || data[i - 1] != '\r')
			return SG_SNIFF_NO;
		mc_tokenize(data, i - 1, &tk);
		return mc_sniff_shape(cmd, &tk) ? SG_SNIFF_YES : SG_SNIFF_NO;
	}
	if (port == MC_PORT && mc_sniff_reply(data, captured))
		return SG_SNIFF_YES;
	return SG_SNIFF_NO;
}

/* ---- the parser as the connection table sees it (proto.h) */

static void
mc_ops_init(void *st, uint8_t role)
{
	memcached_conn_init(st, role);
}

static void
mc_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	memcached_on_data(st, dir, ts_ns, len, data, captured, tail, emit,
	    ctx);
}

static void
mc_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	memcached_on_close(st, ts_ns, emit, ctx);
}

static unsigned
mc_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return memcached_expire(st, now_ns, to->ns[SG_APP_MEMCACHED], emit,
	    ctx);
}

static bool
mc_ops_idle(const void *st)
{
	return memcached_idle(st);
}

static unsigned
mc_ops_pending(const void *st)
{
	return memcached_pending(st);
}

static uint8_t
mc_ops_role(const void *st)
{
	return ((const struct memcached_conn *)st)->role;
}

static void
mc_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct memcached_conn *c = st;

	out->unparsed = c->unparsed;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = 0;
}

const struct sg_proto_ops memcached_ops = {
	.name = "memcached",
	.id = SG_PROTO_MEMCACHED,
	.apps = 1u << SG_APP_MEMCACHED,
	.state_size = sizeof(struct memcached_conn),
	.keep_state = false,
	.sniff = memcached_sniff,
	.init = mc_ops_init,
	.on_data = mc_ops_on_data,
	.on_close = mc_ops_on_close,
	.expire = mc_ops_expire,
	.idle = mc_ops_idle,
	.pending = mc_ops_pending,
	.role = mc_ops_role,
	.counters = mc_ops_counters,
};
