/*
 * PostgreSQL protocol 3.0 pairing from captured socket reads and writes.
 *
 * Both directions are sequences of length-prefixed messages (a type
 * byte, then a 32-bit length that counts itself; the start-up packets
 * have no type byte).  Each direction is framed by the same small state
 * machine: a header (kept across reads when split), then a body that is
 * either read (the few messages whose contents matter, their first bytes
 * kept) or skipped by count, past the capture too.  A header that falls
 * past the capture loses the framing: the direction is followed again
 * from the next read or write whose first bytes make a plausible message,
 * or, for responses, right after a ReadyForQuery seen in the tail.
 *
 * Operations wait in a FIFO in the order the frontend sent them: a
 * Query (answered by its ReadyForQuery), an Execute (answered by its
 * CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse)
 * and a Sync or FunctionCall (answered by a ReadyForQuery).  After an
 * error the server skips the rest of the pipeline up to its Sync: the
 * Executes there end at the ReadyForQuery, failed as "PIPELINE_ABORTED".
 * An error that answers a Parse or Bind of a pipeline with no Execute is
 * reported as an exchange of that statement.
 *
 * Statement texts are kept by slot: an Execute refers to the text of the
 * statement its portal was bound to, by slot and generation, so that a
 * text overwritten before the Execute is answered is known to be gone.
 */
#include "postgres.h"

#include <string.h>

#include "sql.h"

enum pg_phase {
	PS_LOST = 0,	/* framing unknown: next buffer, if plausible */
	PS_HDR,		/* reading a header (hdr_len bytes kept) */
	PS_BODY,	/* reading or skipping a body */
	PS_OFF,		/* encrypted (SSL/GSS accepted): not ours */
};

enum pg_kind {
	PK_QUERY = 1,
	PK_EXECUTE,
	PK_SYNC,	/* Sync or FunctionCall: ends at ReadyForQuery */
};

#define PG_MAX_LEN	0x40000000u	/* the server's limit: 1 GiB */
#define PG_STARTUP_MAX	10000u		/* the server's MAX_STARTUP_PACKET */
#define PG_PROTO_3_0	196608u
#define PG_CANCEL_CODE	80877102u
#define PG_SSL_CODE	80877103u
#define PG_GSS_CODE	80877104u
#define PG_ABORTED	"PIPELINE_ABORTED"
#define PG_ERR_OTHER	"_OTHER"	/* failed, SQLSTATE not seen */
#define PG_PORT		5432

_Static_assert(PG_MAX_PENDING <= UINT8_MAX && PG_NTEXTS < PG_NO_SLOT,
    "indexes fit a byte");
_Static_assert(PG_TEXT_MAX <= UINT8_MAX && PG_TEXT_MAX < SG_PATH_MAX,
    "a text's length fits a byte and the target");
_Static_assert(PG_KEEP_REQ <= UINT16_MAX && PG_KEEP_RESP <= UINT16_MAX,
    "kept lengths fit 16 bits");

struct pg_io {
	const uint8_t	*data;	/* data[0..cap) is visible */
	size_t		 cap;
	uint64_t	 len;
	uint64_t	 off;
	const uint8_t	*tail;
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
};

static uint32_t
pg_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
pg_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool
pg_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

/* FNV-1a: names are matched by hash (a collision among a connection's
 * few statements is ~2^-60); 0 is kept for "no name". */
static uint64_t
pg_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ull;
	}
	return h != 0 ? h : 1;
}

/* src, cut to fit dst (dsz > 0 bytes), terminated. */
static void
pg_copy_str(char *dst, size_t dsz, const char *src)
{
	size_t n = strlen(src);

	if (n >= dsz)
		n = dsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The C string at p (n bytes): its length, or -1 when not terminated. */
static long
pg_cstr(const char *p, size_t n)
{
	const char *z = memchr(p, '\0', n);

	return z != NULL ? (long)(z - p) : -1;
}

/*
 * Message types.
 */
static bool
pg_is_frontend_type(uint8_t t)
{
	return t != 0 && strchr("QPBEDCSHXdcfFp", t) != NULL;
}

static bool
pg_is_backend_type(uint8_t t)
{
	return t != 0 && strchr("RSKZTDCEINnst123GHWdcAVv", t) != NULL;
}

/* Whether len (the length field) suits a message of type t. */
static bool
pg_len_ok(bool req, uint8_t t, uint32_t len)
{
	if (len < 4 || len > PG_MAX_LEN)
		return false;
	if (req) {
		switch (t) {
		case 'S': case 'H': case 'X': case 'c':
			return len == 4;
		case 'E':
			return len >= 9;
		case 'B':
			return len >= 12;
		case 'P':
			return len >= 8;
		case 'Q':
			return len >= 5;
		default:
			return true;
		}
	}
	switch (t) {
	case 'Z':
		return len == 5;
	case '1': case '2': case '3': case 'n': case 'I': case 's': case 'c':
		return len == 4;
	case 'K':
		return len == 12;
	default:
		return true;
	}
}

/* A start-up packet: length, then a code. */
static bool
pg_startup_ok(uint32_t len, uint32_t code)
{
	if (code == PG_SSL_CODE || code == PG_GSS_CODE)
		return len == 8;
	if (code == PG_CANCEL_CODE)
		return len == 16;
	return code >> 16 == 3 && len >= 8 && len <= PG_STARTUP_MAX;
}

/* The message at p (n visible bytes of a buffer of len): a plausible
 * start of the direction's traffic, where framing was lost.  It must end
 * within the buffer, and the next one, when visible, be plausible too. */
static bool
pg_plausible_at(bool req, bool startup_ok, const uint8_t *p, size_t n,
    uint64_t len, int depth)
{
	uint32_t mlen;

	if (n >= 8 && p[0] == 0 && req && startup_ok)
		return pg_startup_ok(pg_be32(p), pg_be32(p + 4)) &&
		    pg_be32(p) <= len;
	if (n < 5)
		return false;
	if (req ? !pg_is_frontend_type(p[0]) : !pg_is_backend_type(p[0]))
		return false;
	mlen = pg_be32(p + 1);
	if (!pg_len_ok(req, p[0], mlen) ||
	    (depth == 0 && (uint64_t)mlen + 1 > len))
		return false;
	if (depth > 0 || (uint64_t)mlen + 1 >= n || (uint64_t)mlen + 1 == len)
		return true;
	return pg_plausible_at(req, false, p + mlen + 1, n - mlen - 1,
	    len - mlen - 1, depth + 1);
}

/*
 * Statement texts.
 */
static const struct pg_text *
pg_text_of(const struct postgres_conn *c, struct pg_ref r)
{
	if (r.slot >= PG_NTEXTS || c->texts[r.slot].gen != r.gen)
		return NULL;
	return &c->texts[r.slot];
}

static struct pg_ref
pg_ref_none(void)
{
	struct pg_ref r = { 0, PG_NO_SLOT };

	return r;
}

static struct pg_ref
pg_text_store(struct postgres_conn *c, unsigned slot, const char *text,
    size_t n, uint64_t name_hash)
{
	struct pg_text *t = &c->texts[slot];
	struct pg_ref r;

	t->gen++;
	t->used = ++c->stamp;
	t->name_hash = name_hash;
	t->named = name_hash != 0;
	t->len = (uint8_t)pg_min(n, PG_TEXT_MAX);
	memcpy(t->text, text, t->len);
	r.slot = (uint8_t)slot;
	r.gen = t->gen;
	return r;
}

/* A query's or unnamed statement's text: the next slot of the ring. */
static struct pg_ref
pg_text_anon(struct postgres_conn *c, const char *text, size_t n)
{
	unsigned slot = PG_NAMED_STMTS + c->anon_next;

	c->anon_next = (uint8_t)((c->anon_next + 1) % PG_ANON_TEXTS);
	return pg_text_store(c, slot, text, n, 0);
}

static int
pg_named_find(const struct postgres_conn *c, uint64_t h)
{
	for (int i = 0; i < PG_NAMED_STMTS; i++)
		if (c->texts[i].named && c->texts[i].name_hash == h)
			return i;
	return -1;
}

/* A named statement's text: a Parse of a known name replaces it (its
 * Close may have been missed); else the least recently used goes. */
static struct pg_ref
pg_text_named(struct postgres_conn *c, uint64_t h, const char *text, size_t n)
{
	int i = pg_named_find(c, h), victim = 0;

	if (i >= 0)
		return pg_text_store(c, (unsigned)i, text, n, h);
	for (i = 1; i < PG_NAMED_STMTS; i++)
		if (c->texts[i].used < c->texts[victim].used)
			victim = i;
	return pg_text_store(c, (unsigned)victim, text, n, h);
}

static struct pg_ref
pg_stmt_lookup(struct postgres_conn *c, const char *name, size_t n)
{
	struct pg_ref r = pg_ref_none();
	int i;

	if (n == 0)
		return c->unnamed;
	if ((i = pg_named_find(c, pg_hash(name, n))) < 0)
		return r;
	c->texts[i].used = ++c->stamp;
	r.slot = (uint8_t)i;
	r.gen = c->texts[i].gen;
	return r;
}

static struct pg_portal *
pg_portal_find(struct postgres_conn *c, const char *name, size_t n)
{
	uint64_t h;

	if (n == 0)
		return &c->portals[0];
	h = pg_hash(name, n);
	for (int i = 1; i <= PG_PORTALS; i++)
		if (c->portals[i].used && c->portals[i].name_hash == h)
			return &c->portals[i];
	return NULL;
}

static void
pg_portal_bind(struct postgres_conn *c, const char *name, size_t n,
    struct pg_ref stmt)
{
	struct pg_portal *p = pg_portal_find(c, name, n);

	if (p == NULL) {
		p = &c->portals[1 + c->portal_next];
		c->portal_next = (uint8_t)((c->portal_next + 1) % PG_PORTALS);
		p->name_hash = pg_hash(name, n);
	}
	p->used = 1;
	p->stmt = stmt;
}

/*
 * Pending operations.
 */
static struct pg_pending *
pg_oldest(struct postgres_conn *c)
{
	return c->npending > 0 ? &c->pending[c->head] : NULL;
}

static void
pg_pop(struct postgres_conn *c)
{
	if (c->pending[c->head].kind != PK_SYNC)
		c->nops--;
	c->head = (uint8_t)((c->head + 1) % PG_MAX_PENDING);
	c->npending--;
	c->head_failed = 0;
	c->head_error[0] = '\0';
}

static void
pg_push(struct postgres_conn *c, uint8_t kind, struct pg_ref stmt, uint64_t ts)
{
	struct pg_pending *p;

	if (c->npending == PG_MAX_PENDING || c->dropped_pending > 0) {
		/* the answers to come belong to these: not to later ones */
		c->dropped++;
		if (c->dropped_pending < UINT16_MAX)
			c->dropped_pending++;
	} else {
		p = &c->pending[(c->head + c->npending) % PG_MAX_PENDING];
		memset(p, 0, sizeof(*p));
		p->kind = kind;
		p->stmt = stmt;
		p->start_ns = c->group_start != 0 ? c->group_start : ts;
		p->req_size = c->group_size;
		c->npending++;
		if (kind != PK_SYNC)
			c->nops++;
	}
	c->group_start = 0;
	c->group_size = 0;
}

/* An answer (CommandComplete, ErrorResponse) that belongs to no
 * operation seen: counted once up to the ReadyForQuery, unless it
 * answers one that was dropped (those are answered before the next
 * ReadyForQuery: no more than PG_MAX_PENDING fit a pipeline). */
static void
pg_unpaired(struct postgres_conn *c)
{
	if (c->dropped_pending == 0 && !c->orphan)
		c->unpaired++;
	c->orphan = 1;
}

static void
pg_emit(struct postgres_conn *c, const struct pg_pending *p, uint64_t end_ns,
    uint8_t flags, const char *error, sg_emit_fn emit, void *ctx)
{
	const struct pg_text *t = pg_text_of(c, p->stmt);
	struct sg_exchange ex;

	proto_exchange_init(&ex);
	ex.app = SG_APP_POSTGRESQL;
	ex.role = c->role == SG_ROLE_SERVER ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
	ex.flags = flags;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	ex.req_size = p->req_size;
	ex.resp_size = p->resp_size;
	if (t != NULL) {
		memcpy(ex.target, t->text, t->len);
		ex.target[t->len] = '\0';
		sql_describe(t->text, t->len, ex.op, sizeof(ex.op),
		    ex.collection, sizeof(ex.collection));
		if (ex.op[0] == '\0')
			ex.flags |= SG_EX_OP_UNKNOWN;
	} else {
		ex.flags |= SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
		c->unknown++;
	}
	memcpy(ex.db_namespace, c->db, sizeof(ex.db_namespace));
	if (error != NULL)
		pg_copy_str(ex.error, sizeof(ex.error), error);
	if (emit != NULL)
		emit(ctx, &ex);
}

static void
pg_end_oldest(struct postgres_conn *c, struct pg_io *io, uint8_t flags,
    const char *error)
{
	struct pg_pending *p = pg_oldest(c);

	if (p->kind != PK_SYNC)
		pg_emit(c, p, io->ts, flags, error, io->emit, io->ctx);
	pg_pop(c);
}

static void
pg_end_all(struct postgres_conn *c, struct pg_io *io, uint8_t flags)
{
	while (c->npending > 0)
		pg_end_oldest(c, io, flags, c->head_failed ? c->head_error :
		    NULL);
	c->dropped_pending = 0;
	c->aborting = 0;
}

/*
 * Frontend messages.
 */
static void
pg_startup_params(struct postgres_conn *c, const char *p, size_t n)
{
	char user[SG_DBNAME_MAX] = "";
	size_t i = 0;
	long k, v;

	c->db[0] = '\0';
	while (i < n && (k = pg_cstr(p + i, n - i)) > 0) {
		const char *key = p + i;

		i += (size_t)k + 1;
		if (i >= n || (v = pg_cstr(p + i, n - i)) < 0)
			break;
		if (k == 8 && memcmp(key, "database", 8) == 0 &&
		    (size_t)v < sizeof(c->db))
			memcpy(c->db, p + i, (size_t)v + 1);
		else if (k == 4 && memcmp(key, "user", 4) == 0 &&
		    (size_t)v < sizeof(user))
			memcpy(user, p + i, (size_t)v + 1);
		i += (size_t)v + 1;
	}
	if (c->db[0] == '\0')
		memcpy(c->db, user, sizeof(c->db));
}

static void
pg_startup(struct postgres_conn *c, const char *p, size_t n, bool whole)
{
	uint32_t code;

	if (n < 4)
		return;
	code = pg_be32((const uint8_t *)p);
	if (code == PG_SSL_CODE || code == PG_GSS_CODE) {
		c->ssl_wait++;
		return;
	}
	if (code == PG_CANCEL_CODE)
		return;
	c->startup = 1;
	(void)whole;	/* a parameter cut off is not taken */
	pg_startup_params(c, p + 4, n - 4);
}

/* Parse: name, text. */
static void
pg_parse(struct postgres_conn *c, const char *p, size_t n)
{
	long k = pg_cstr(p, n);
	struct pg_ref r;
	size_t tlen;
	long z;

	if (k < 0) {
		r = pg_ref_none();	/* the name went past what is kept */
	} else {
		tlen = n - (size_t)k - 1;
		if ((z = pg_cstr(p + k + 1, tlen)) >= 0)
			tlen = (size_t)z;
		if (k == 0)
			r = c->unnamed = pg_text_anon(c, p + 1, tlen);
		else
			r = pg_text_named(c, pg_hash(p, (size_t)k), p + k + 1,
			    tlen);
	}
	if (c->group_stmt.slot == PG_NO_SLOT)
		c->group_stmt = r;
}

/* Bind: portal, statement, ... */
static void
pg_bind(struct postgres_conn *c, const char *p, size_t n)
{
	long k = pg_cstr(p, n), s = -1;
	struct pg_ref r = pg_ref_none();

	if (k >= 0)
		s = pg_cstr(p + k + 1, n - (size_t)k - 1);
	if (s >= 0)
		r = pg_stmt_lookup(c, p + k + 1, (size_t)s);
	if (k >= 0)
		pg_portal_bind(c, p, (size_t)k, r);
	if (c->group_stmt.slot == PG_NO_SLOT)
		c->group_stmt = r;
}

static void
pg_execute(struct postgres_conn *c, const char *p, size_t n, uint64_t ts)
{
	long k = pg_cstr(p, n);
	struct pg_portal *portal = k >= 0 ? pg_portal_find(c, p, (size_t)k) :
	    NULL;

	pg_push(c, PK_EXECUTE, portal != NULL && portal->used ? portal->stmt :
	    pg_ref_none(), ts);
}

/* Close: 'S' statement or 'P' portal, name. */
static void
pg_close_msg(struct postgres_conn *c, const char *p, size_t n)
{
	struct pg_portal *portal;
	long k;
	int i;

	if (n < 2 || (k = pg_cstr(p + 1, n - 1)) < 0)
		return;
	if (p[0] == 'S' && k > 0 &&
	    (i = pg_named_find(c, pg_hash(p + 1, (size_t)k))) >= 0)
		c->texts[i].named = 0;
	else if (p[0] == 'P' && (portal = pg_portal_find(c, p + 1,
	    (size_t)k)) != NULL)
		portal->used = 0;
}

static void
pg_query(struct postgres_conn *c, const char *p, size_t n, uint64_t ts)
{
	long z = pg_cstr(p, n);

	pg_push(c, PK_QUERY, pg_text_anon(c, p, z >= 0 ? (size_t)z : n), ts);
}

static void
pg_sync(struct postgres_conn *c, uint64_t ts)
{
	pg_push(c, PK_SYNC, c->group_stmt, ts);
	c->group_stmt = pg_ref_none();
}

/* A frontend message whose header was read: what the pipeline learns. */
static void
pg_req_message(struct postgres_conn *c, struct pg_io *io, bool whole)
{
	struct pg_stream *s = &c->req;
	const char *p = c->req_keep;
	size_t n = s->keep_len;

	if (s->type != 0)
		c->typed_seen = 1;
	switch (s->type) {
	case 0:
		pg_startup(c, p, n, whole);
		c->group_start = 0;	/* no operation's bytes */
		c->group_size = 0;
		break;
	case 'p':
		c->group_start = 0;
		c->group_size = 0;
		break;
	case 'Q':
		pg_query(c, p, n, io->ts);
		break;
	case 'P':
		pg_parse(c, p, n);
		break;
	case 'B':
		pg_bind(c, p, n);
		break;
	case 'E':
		pg_execute(c, p, n, io->ts);
		break;
	case 'C':
		pg_close_msg(c, p, n);
		break;
	case 'S':
	case 'F':
		pg_sync(c, io->ts);
		break;
	default:
		break;
	}
}

/*
 * Backend messages.
 */

/* The SQLSTATE of an ErrorResponse: its 'C' field, 5 characters. */
static void
pg_sqlstate(const char *p, size_t n, char *out, size_t outsz)
{
	size_t i = 0;
	long v;

	pg_copy_str(out, outsz, PG_ERR_OTHER);
	while (i < n && p[i] != '\0') {
		char field = p[i++];

		if ((v = pg_cstr(p + i, n - i)) < 0)
			return;
		if (field == 'C' && v == 5 && 5 < outsz) {
			for (int j = 0; j < 5; j++) {
				char ch = p[i + (size_t)j];

				if (!((ch >= '0' && ch <= '9') ||
				    (ch >= 'A' && ch <= 'Z')))
					return;
			}
			memcpy(out, p + i, 5);
			out[5] = '\0';
			return;
		}
		i += (size_t)v + 1;
	}
}

/* CommandComplete, EmptyQueryResponse, PortalSuspended. */
static void
pg_completed(struct postgres_conn *c, struct pg_io *io)
{
	struct pg_pending *p = pg_oldest(c);

	if (c->resp_lost)
		return;		/* whose it is is not known: at ReadyForQuery */
	if (p == NULL || p->kind == PK_SYNC) {
		pg_unpaired(c);
		return;
	}
	if (p->kind == PK_EXECUTE)
		pg_end_oldest(c, io, 0, NULL);
}

static void
pg_failed(struct postgres_conn *c, struct pg_io *io, const char *sqlstate)
{
	struct pg_pending *p = pg_oldest(c);

	if (c->startup || c->resp_lost)
		return;		/* start-up failures are no operation */
	if (p == NULL) {
		pg_unpaired(c);
		return;
	}
	switch (p->kind) {
	case PK_QUERY:
		if (!c->head_failed)
			pg_copy_str(c->head_error, sizeof(c->head_error),
			    sqlstate);
		c->head_failed = 1;
		break;
	case PK_EXECUTE:
		pg_end_oldest(c, io, 0, sqlstate);
		c->aborting = 1;
		break;
	default:
		/* a Parse or Bind of a pipeline without Execute failed */
		if (!c->head_failed && !c->aborting &&
		    p->stmt.slot != PG_NO_SLOT)
			pg_emit(c, p, io->ts, 0, sqlstate, io->emit, io->ctx);
		c->head_failed = 1;
		c->aborting = 1;
		break;
	}
}

/* ReadyForQuery: everything up to the oldest Query or Sync is over. */
static void
pg_ready(struct postgres_conn *c, struct pg_io *io)
{
	struct pg_pending *p;
	uint8_t kind, flags = c->resp_lost ? SG_EX_STATUS_UNKNOWN : 0;

	if (c->npending == 0) {
		if (!c->startup && c->dropped_pending == 0 && !c->resp_lost &&
		    !c->orphan)
			c->unpaired++;
		c->dropped_pending = 0;
	}
	c->startup = 0;
	c->orphan = 0;
	while ((p = pg_oldest(c)) != NULL) {
		kind = p->kind;
		if (kind == PK_EXECUTE && c->aborting)
			pg_end_oldest(c, io, 0, PG_ABORTED);
		else if (kind == PK_EXECUTE)
			/* its answer was not seen */
			pg_end_oldest(c, io, SG_EX_STATUS_UNKNOWN, NULL);
		else if (c->head_failed)
			pg_end_oldest(c, io, 0, c->head_error);
		else
			pg_end_oldest(c, io, flags, NULL);
		if (kind != PK_EXECUTE)
			break;
	}
	c->aborting = 0;
	c->resp_lost = 0;
}

static void
pg_resp_message(struct postgres_conn *c, struct pg_io *io)
{
	struct pg_stream *s = &c->resp;
	struct pg_pending *p = pg_oldest(c);
	char state[SG_ERROR_MAX];

	if (p != NULL)
		p->resp_size += 1 + (uint64_t)s->body_len + 4;
	if (s->type != 'G' && s->type != 'N' && s->type != 'S')
		c->copy_in = 0;
	switch (s->type) {
	case 'G':
		c->copy_in = 1;
		break;
	case 'C':
	case 'I':
	case 's':
		pg_completed(c, io);
		break;
	case 'E':
		pg_sqlstate(c->resp_keep, s->keep_len, state, sizeof(state));
		pg_failed(c, io, state);
		break;
	case 'Z':
		pg_ready(c, io);
		break;
	default:
		break;
	}
}

/*
 * Framing.
 */
static bool
pg_wants_body(bool req, uint8_t type)
{
	if (!req)
		return type == 'E';
	return type == 0 || type == 'Q' || type == 'P' || type == 'B' ||
	    type == 'E' || type == 'C';
}

static void
pg_message(struct postgres_conn *c, bool req, struct pg_io *io, bool whole)
{
	if (req)
		pg_req_message(c, io, whole);
	else
		pg_resp_message(c, io);
}

/* The framing is lost at io->off: what is left of the buffer is skipped
 * and counted; a ReadyForQuery ending a response buffer (in its tail)
 * puts the stream back in step. */
/* Bytes of the frontend that were not followed: a COPY's data is the
 * COPY's, anything else was lost. */
static void
pg_req_skipped(struct postgres_conn *c, uint64_t n)
{
	if (!c->copy_in)
		c->unparsed += n;
	else if (c->npending > 0)
		pg_oldest(c)->req_size += n;
}

static void
pg_lose(struct postgres_conn *c, bool req, struct pg_io *io)
{
	struct pg_stream *s = req ? &c->req : &c->resp;
	/* from the partial header on, if any */
	uint64_t from = io->off >= s->hdr_len ? io->off - s->hdr_len : 0;
	uint64_t left = io->len - from;
	const uint8_t *z;

	s->phase = PS_LOST;
	s->hdr_len = 0;
	io->off = io->len;
	if (!req && io->tail != NULL && left >= 6) {
		z = io->tail + SG_TAIL_LEN - 6;
		if (z[0] == 'Z' && pg_be32(z + 1) == 5 &&
		    (z[5] == 'I' || z[5] == 'T' || z[5] == 'E')) {
			/* With nothing pending the bytes skipped are the
			 * backend's own (the start-up's ParameterStatus run
			 * past the capture): no exchange lost anything. */
			if (c->npending > 0)
				c->unparsed += left - 6;
			s->phase = PS_HDR;
			s->type = 'Z';
			s->body_len = 1;
			s->body_seen = 1;
			s->keep_len = 0;
			c->resp_lost = c->npending > 0;
			pg_ready(c, io);
			return;
		}
	}
	if (req)
		pg_req_skipped(c, left);
	else
		c->unparsed += left;
	if (!req && c->npending > 0)
		c->resp_lost = 1;
}

static void
pg_begin_body(struct postgres_conn *c, bool req, struct pg_io *io)
{
	struct pg_stream *s = req ? &c->req : &c->resp;

	s->gap = 0;
	s->keep_len = 0;
	s->body_seen = 0;
	s->want = (uint8_t)pg_wants_body(req, s->type);
	if (!s->want)
		pg_message(c, req, io, false);
	if (s->body_len == 0) {
		if (s->want)
			pg_message(c, req, io, true);
		s->phase = PS_HDR;
		s->hdr_len = 0;
		return;
	}
	s->phase = PS_BODY;
}

static void
pg_header(struct postgres_conn *c, bool req, struct pg_io *io)
{
	struct pg_stream *s = req ? &c->req : &c->resp;
	size_t need, take;
	uint32_t mlen;

	if (!req && c->ssl_wait > 0 && s->hdr_len == 0 && io->off < io->cap) {
		uint8_t b = io->data[io->off];

		/* the one-byte answer to SSLRequest or GSSENCRequest */
		if (b == 'S' || b == 'G' || b == 'N') {
			c->ssl_wait--;
			io->off++;
			if (b != 'N') {
				c->req.phase = c->resp.phase = PS_OFF;
				io->off = io->len;
			}
			return;
		}
		c->ssl_wait = 0;	/* an old server's ErrorResponse */
	}
	if (io->off >= io->cap) {
		pg_lose(c, req, io);
		return;
	}
	if (s->hdr_len == 0)
		s->type = req && !c->typed_seen && io->data[io->off] == 0 ?
		    0 : 1;
	need = s->type == 0 ? 4 : 5;
	take = (size_t)pg_min(need - s->hdr_len, io->cap - io->off);
	memcpy(s->hdr + s->hdr_len, io->data + io->off, take);
	s->hdr_len += (uint8_t)take;
	io->off += take;
	if (s->hdr_len < need) {
		if (io->off < io->len)
			pg_lose(c, req, io);	/* cut by the capture */
		return;
	}
	if (need == 4) {
		s->type = 0;
		mlen = pg_be32(s->hdr);
		if (mlen < 8 || mlen > PG_STARTUP_MAX) {
			pg_lose(c, req, io);
			return;
		}
	} else {
		s->type = s->hdr[0];
		mlen = pg_be32(s->hdr + 1);
		if (!(req ? pg_is_frontend_type(s->type) :
		    pg_is_backend_type(s->type)) ||
		    !pg_len_ok(req, s->type, mlen)) {
			pg_lose(c, req, io);
			return;
		}
	}
	s->body_len = mlen - 4;
	s->hdr_len = 0;
	if (req && (s->type == 'd' || s->type == 'c' || s->type == 'f')) {
		/* COPY data: the operation in flight's */
		if (c->npending > 0)
			pg_oldest(c)->req_size += (uint64_t)mlen + 1;
	} else if (req) {
		if (c->group_start == 0)
			c->group_start = io->ts;
		c->group_size += (uint64_t)mlen + (s->type != 0);
	}
	pg_begin_body(c, req, io);
}

static void
pg_body(struct postgres_conn *c, bool req, struct pg_io *io)
{
	struct pg_stream *s = req ? &c->req : &c->resp;
	char *keep = req ? c->req_keep : c->resp_keep;
	size_t keepsz = req ? sizeof(c->req_keep) : sizeof(c->resp_keep);
	uint64_t take = pg_min(s->body_len - s->body_seen, io->len - io->off);
	uint64_t vis = io->off < io->cap ? pg_min(take, io->cap - io->off) : 0;
	size_t k;

	if (s->want && !s->gap && vis > 0 && s->keep_len < keepsz) {
		k = (size_t)pg_min(vis, keepsz - s->keep_len);
		memcpy(keep + s->keep_len, io->data + io->off, k);
		s->keep_len += (uint16_t)k;
	}
	if (vis < take)
		s->gap = 1;
	io->off += take;
	s->body_seen += (uint32_t)take;
	if (s->body_seen < s->body_len)
		return;
	s->phase = PS_HDR;
	s->hdr_len = 0;
	if (s->want)
		pg_message(c, req, io, s->keep_len == s->body_len);
}

static void
pg_feed(struct postgres_conn *c, bool req, struct pg_io *io)
{
	struct pg_stream *s = req ? &c->req : &c->resp;

	if (s->phase == PS_OFF)
		return;
	if (s->phase == PS_LOST) {
		if (!pg_plausible_at(req, req && !c->typed_seen, io->data,
		    io->cap, io->len, 0)) {
			/* the 1-byte answer to an encryption request */
			if (req || c->ssl_wait == 0) {
				if (req)
					pg_req_skipped(c, io->len);
				else
					c->unparsed += io->len;
				if (!req && c->npending > 0)
					c->resp_lost = 1;
				return;
			}
		}
		s->phase = PS_HDR;
		s->hdr_len = 0;
	}
	while (io->off < io->len && s->phase != PS_OFF && s->phase !=
	    PS_LOST) {
		if (s->phase == PS_HDR)
			pg_header(c, req, io);
		else
			pg_body(c, req, io);
	}
}

/* A connection that predates the sensor: the side that writes frontend
 * messages is the client. */
static bool
pg_learn_role(struct postgres_conn *c, uint8_t dir, const struct pg_io *io)
{
	bool is_req;

	if (pg_plausible_at(true, true, io->data, io->cap, io->len, 0) &&
	    (io->data[0] == 0 || strchr("QPBFX", io->data[0]) != NULL))
		is_req = true;
	else if (pg_plausible_at(false, false, io->data, io->cap, io->len, 0) &&
	    strchr("ZT123nIRKstGWAVv", io->data[0]) != NULL)
		is_req = false;
	else {
		c->unparsed += io->len;
		return false;
	}
	c->role = (dir == SG_DIR_WRITE) == is_req ? SG_ROLE_CLIENT :
	    SG_ROLE_SERVER;
	return true;
}

static void
pg_reset(struct postgres_conn *c, uint8_t role)
{
	/* not texts[]: their generations must go on counting */
	memset(c, 0, offsetof(struct postgres_conn, texts));
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
	c->group_stmt = pg_ref_none();
	c->unnamed = pg_ref_none();
	for (int i = 0; i <= PG_PORTALS; i++)
		c->portals[i].stmt = pg_ref_none();
	for (int i = 0; i < PG_NTEXTS; i++)
		c->texts[i].named = 0;
	/* a connection seen from its start (its role known) begins in
	 * step; one that predates the sensor at a plausible message */
	c->req.phase = c->role == SG_ROLE_UNKNOWN ? PS_LOST : PS_HDR;
	c->resp.phase = c->req.phase;
}

void
postgres_conn_init(struct postgres_conn *c, uint8_t role)
{
	memset(c->texts, 0, sizeof(c->texts));
	pg_reset(c, role);
}

void
postgres_on_data(struct postgres_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	struct pg_io io;
	bool req;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)pg_min(captured, len) : 0;
	io.len = len;
	io.tail = tail;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT &&
	    !pg_learn_role(c, dir, &io))
		return;
	req = (dir == SG_DIR_WRITE) == (c->role == SG_ROLE_CLIENT);
	if (!req)
		c->resp_last_ns = ts_ns;
	pg_feed(c, req, &io);
}

void
postgres_on_close(struct postgres_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct pg_io io;
	uint64_t unparsed, unpaired, dropped, unknown;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	pg_end_all(c, &io, SG_EX_TIMED_OUT);
	role = c->role;
	unparsed = c->unparsed;
	unpaired = c->unpaired;
	dropped = c->dropped;
	unknown = c->unknown;
	pg_reset(c, role);
	c->unparsed = unparsed;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->unknown = unknown;
	c->last_ns = ts_ns;
}

unsigned
postgres_expire(struct postgres_conn *c, uint64_t now_ns, uint64_t timeout_ns,
    sg_emit_fn emit, void *ctx)
{
	struct pg_io io;
	struct pg_pending *p;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	/* a response still flowing (a long COPY, many rows) is not late */
	if (!pg_older(now_ns, c->resp_last_ns, timeout_ns) &&
	    c->resp_last_ns != 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	while ((p = pg_oldest(c)) != NULL &&
	    pg_older(now_ns, p->start_ns, timeout_ns)) {
		if (p->kind != PK_SYNC)
			n++;
		pg_end_oldest(c, &io, SG_EX_TIMED_OUT, NULL);
	}
	if (c->npending == 0) {
		c->aborting = 0;
		c->dropped_pending = 0;
	}
	return n;
}

bool
postgres_idle(const struct postgres_conn *c)
{
	if (c == NULL)
		return true;
	return c->npending == 0 && c->dropped_pending == 0 &&
	    c->req.phase != PS_BODY && c->req.hdr_len == 0 &&
	    c->resp.phase != PS_BODY && c->resp.hdr_len == 0;
}

unsigned
postgres_pending(const struct postgres_conn *c)
{
	return c != NULL ? c->nops : 0;
}

/* ---- the parser as the connection table sees it (proto.h) */

/* Frontend text (Query, or Parse after its name) that starts a
 * statement. */
static enum sg_sniff
pg_sniff_text(const uint8_t *p, size_t n, bool parse)
{
	long k = 0;

	if (parse && (k = pg_cstr((const char *)p, n)) < 0)
		return SG_SNIFF_NO;
	if (parse)
		k++;
	if ((size_t)k >= n)
		return SG_SNIFF_MAYBE;
	return sql_looks_like((const char *)p + k, n - (size_t)k) ?
	    SG_SNIFF_YES : SG_SNIFF_NO;
}

enum sg_sniff
postgres_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port)
{
	uint32_t mlen;
	size_t n;

	(void)dir;
	if (data == NULL || captured == 0)
		return SG_SNIFF_NO;
	if (data[0] == 0) {
		if (captured < 8)
			return SG_SNIFF_MAYBE;
		return pg_startup_ok(pg_be32(data), pg_be32(data + 4)) ?
		    SG_SNIFF_YES : SG_SNIFF_NO;
	}
	if (strchr("QPBESX", data[0]) == NULL)
		return SG_SNIFF_NO;
	if (port != PG_PORT && !proto_sql_heuristic())
		return SG_SNIFF_NO;
	if (captured < 5)
		return SG_SNIFF_MAYBE;
	mlen = pg_be32(data + 1);
	if (!pg_len_ok(true, data[0], mlen))
		return SG_SNIFF_NO;
	if (data[0] != 'Q' && data[0] != 'P')
		return SG_SNIFF_YES;
	n = (size_t)pg_min(captured - 5, mlen - 4);
	return pg_sniff_text(data + 5, n, data[0] == 'P');
}

static void
pg_ops_init(void *st, uint8_t role)
{
	postgres_conn_init(st, role);
}

static void
pg_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	postgres_on_data(st, dir, ts_ns, len, data, captured, tail, emit, ctx);
}

static void
pg_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	postgres_on_close(st, ts_ns, emit, ctx);
}

static unsigned
pg_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return postgres_expire(st, now_ns, to->ns[SG_APP_POSTGRESQL], emit,
	    ctx);
}

static bool
pg_ops_idle(const void *st)
{
	return postgres_idle(st);
}

static unsigned
pg_ops_pending(const void *st)
{
	return postgres_pending(st);
}

static uint8_t
pg_ops_role(const void *st)
{
	return ((const struct postgres_conn *)st)->role;
}

static void
pg_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct postgres_conn *c = st;

	out->unparsed = c->unparsed;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = c->unknown;
}

const struct sg_proto_ops postgres_ops = {
	.name = "postgres",
	.id = SG_PROTO_POSTGRES,
	.apps = 1u << SG_APP_POSTGRESQL,
	.state_size = sizeof(struct postgres_conn),
	.keep_state = true,
	.sniff = postgres_sniff,
	.init = pg_ops_init,
	.on_data = pg_ops_on_data,
	.on_close = pg_ops_on_close,
	.expire = pg_ops_expire,
	.idle = pg_ops_idle,
	.pending = pg_ops_pending,
	.role = pg_ops_role,
	.counters = pg_ops_counters,
};
