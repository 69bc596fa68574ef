/*
 * MySQL/MariaDB client/server protocol from captured socket reads and
 * writes (mysql.h).
 *
 * Both directions are cut into packets by their 4-byte headers, followed
 * across reads; a packet's first MYSQL_KEEP visible bytes are kept until
 * it can be read (it ended, the kept bytes are full, or the rest fell
 * past the capture).  Commands (sequence id 0 on the request stream) are
 * queued; response packets walk a small state machine for the oldest
 * one: OK, ERR, or a result set, or COM_STMT_PREPARE's OK with its
 * parameter and column definitions.  The EOF packets that end column
 * definitions exist unless CLIENT_DEPRECATE_EOF was negotiated; an EOF
 * is always 5 bytes and no row or definition is, so they are recognised
 * without knowing the capabilities.
 *
 * Framing lost past the capture is recovered on the request stream at
 * the next write (read, for a server) that starts with a command, and on
 * the response stream at the next command: request/response, a client
 * only sends a command once it read the previous response, which thus
 * ended with the last response bytes seen.
 */
#include "mysql.h"

#include <string.h>

#include "sql.h"

/* Commands (first payload byte). */
#define COM_QUIT		0x01
#define COM_INIT_DB		0x02
#define COM_QUERY		0x03
#define COM_FIELD_LIST		0x04
#define COM_REFRESH		0x07
#define COM_STATISTICS		0x09
#define COM_PROCESS_KILL	0x0c
#define COM_PING		0x0e
#define COM_CHANGE_USER		0x11
#define COM_STMT_PREPARE	0x16
#define COM_STMT_EXECUTE	0x17
#define COM_STMT_SEND_LONG_DATA	0x18
#define COM_STMT_CLOSE		0x19
#define COM_STMT_RESET		0x1a
#define COM_SET_OPTION		0x1b
#define COM_STMT_FETCH		0x1c
#define COM_RESET_CONNECTION	0x1f
#define COM_LAST		0x1f
#define COM_STMT_BULK_EXECUTE	0xfa	/* MariaDB */

/* Capabilities. */
#define CLIENT_CONNECT_WITH_DB		0x00000008u
#define CLIENT_PROTOCOL_41		0x00000200u
#define CLIENT_SSL			0x00000800u
#define CLIENT_SECURE_CONNECTION	0x00008000u
#define CLIENT_PLUGIN_AUTH_LENENC	0x00200000u
#define CLIENT_DEPRECATE_EOF		0x01000000u
#define CLIENT_QUERY_ATTRIBUTES		0x08000000u

/* Server status flags. */
#define SERVER_MORE_RESULTS_EXISTS	0x0008u
#define SERVER_STATUS_CURSOR_EXISTS	0x0040u
#define SERVER_SESSION_STATE_CHANGED	0x4000u
#define SESSION_TRACK_SCHEMA		1

#define MY_HDR_LEN	4
#define MY_MAX_PAYLOAD	0xffffffu	/* longer payloads continue */
#define MY_EOF_LEN	5		/* 0xfe, warnings, status */
#define MY_GREETING_V10	10
#define MY_NO_STMT	0xffffffffu	/* EXECUTE: the last one prepared */
#define MY_ERR_PROGRESS	0xffff		/* MariaDB: a progress report */

/* How the response to a command is shaped. */
enum my_shape {
	SH_NONE = 0,	/* no response */
	SH_RESULT,	/* OK, ERR or result set(s) */
	SH_PREPARE,	/* COM_STMT_PREPARE's */
	SH_ROWS,	/* rows and a terminator (COM_STMT_FETCH) */
	SH_SIMPLE,	/* one packet: OK, ERR or EOF */
	SH_OPAQUE,	/* whatever comes until the next command */
};

/* What the next response packet is expected to be. */
enum my_rs {
	RS_FIRST = 0,	/* the first packet of a (next) result */
	RS_COLS,	/* defs_left column definitions */
	RS_COLS_EOF,	/* an EOF, unless CLIENT_DEPRECATE_EOF */
	RS_ROWS,	/* rows up to an EOF/OK terminator or ERR */
	RS_PREP_PARAMS,	/* defs_left parameter definitions */
	RS_PREP_PEOF,	/* an EOF after them, maybe */
	RS_PREP_COLS,	/* defs_left column definitions */
	RS_PREP_CEOF,	/* an EOF after them, maybe: the end */
	RS_BLIND,	/* cannot follow: ends with the next command */
};

/* A packet as kept: its first visible bytes. */
struct my_pkt {
	const uint8_t	*p;
	size_t		 n;	/* visible: p[0..n) */
	uint32_t	 len;	/* payload length */
	uint8_t		 seq;
	bool		 cont;	/* continues a longer payload */
};

/* One read or write being parsed, and where exchanges go. */
struct my_io {
	const uint8_t	*data;	/* data[0..cap) is visible */
	size_t		 cap;
	uint64_t	 len;
	uint64_t	 off;
	uint8_t		 dir;
	uint64_t	 ts;
	sg_emit_fn	 emit;
	void		*ctx;
};

_Static_assert(MYSQL_MAX_PENDING <= UINT8_MAX, "pending counted in a byte");
_Static_assert(MYSQL_KEEP >= SG_PATH_MAX + 1 && MYSQL_KEEP <= UINT16_MAX,
    "a command byte and a target fit what is kept");

static void	my_resp_packet(struct mysql_conn *, const struct my_pkt *,
		    struct my_io *);

static uint16_t
my_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
my_u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static uint32_t
my_u32(const uint8_t *p)
{
	return my_u24(p) | (uint32_t)p[3] << 24;
}

static uint64_t
my_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* now - then > timeout, without wrapping when then is in the future. */
static bool
my_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

/* A length-encoded integer at *off of p[0..n); false when it does not
 * fit or is not one (0xfb is NULL, 0xff an error marker). */
static bool
my_lenenc(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	size_t i = *off, k;
	uint8_t b;

	if (i >= n)
		return false;
	b = p[i++];
	if (b < 0xfb) {
		*v = b;
		*off = i;
		return true;
	}
	if (b == 0xfc)
		k = 2;
	else if (b == 0xfd)
		k = 3;
	else if (b == 0xfe)
		k = 8;
	else
		return false;
	if (n - i < k)
		return false;
	*v = 0;
	while (k-- > 0)
		*v = *v << 8 | p[i + k];
	*off = i + (b == 0xfc ? 2 : b == 0xfd ? 3 : 8);
	return true;
}

/* Up to NUL or n bytes of p into out (size outsz, terminated). */
static void
my_copy_text(char *out, size_t outsz, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outsz && p[i] != '\0'; i++)
		out[i] = (char)p[i];
	out[i] = '\0';
}

static bool
my_is_print(uint8_t ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

/*
 * Capabilities.
 */
static bool
my_caps_known(const struct mysql_conn *c)
{
	return c->client_caps != 0;
}

static uint32_t
my_caps(const struct mysql_conn *c)
{
	return c->server_caps != 0 ? c->client_caps & c->server_caps :
	    c->client_caps;
}

/* The EOF after definitions: known absent, known present, or unknown
 * (recognised by its shape). */
static bool
my_eof_deprecated(const struct mysql_conn *c)
{
	return my_caps_known(c) && (my_caps(c) & CLIENT_DEPRECATE_EOF);
}

/*
 * Prepared statements.
 */
static struct mysql_stmt *
my_stmt_find(struct mysql_conn *c, uint32_t id)
{
	struct mysql_stmt *best = NULL;

	for (unsigned i = 0; i < MYSQL_MAX_STMTS; i++) {
		struct mysql_stmt *s = &c->stmts[i];

		if (!s->used)
			continue;
		if (id == MY_NO_STMT ? best == NULL || s->age > best->age :
		    s->id == id)
			best = s;
	}
	return best;
}

static void
my_stmt_add(struct mysql_conn *c, uint32_t id, const char *text)
{
	struct mysql_stmt *s = my_stmt_find(c, id), *old = NULL;

	for (unsigned i = 0; s == NULL && i < MYSQL_MAX_STMTS; i++) {
		if (!c->stmts[i].used)
			s = &c->stmts[i];
		else if (old == NULL || c->stmts[i].age < old->age)
			old = &c->stmts[i];
	}
	if (s == NULL) {
		s = old;
		c->dropped++;	/* forgotten to make room */
	}
	s->used = 1;
	s->id = id;
	s->age = ++c->stmt_age;
	memcpy(s->text, text, sizeof(s->text));
	s->text[sizeof(s->text) - 1] = '\0';
}

static void
my_stmt_forget(struct mysql_conn *c, uint32_t id)
{
	struct mysql_stmt *s = my_stmt_find(c, id);

	if (s != NULL && id != MY_NO_STMT)
		s->used = 0;
}

static void
my_stmts_clear(struct mysql_conn *c)
{
	for (unsigned i = 0; i < MYSQL_MAX_STMTS; i++)
		c->stmts[i].used = 0;
}

/*
 * Pending commands.
 */
static struct mysql_pending *
my_oldest(struct mysql_conn *c)
{
	return &c->pending[c->head];
}

static struct mysql_pending *
my_nth(struct mysql_conn *c, unsigned i)
{
	return &c->pending[(c->head + i) % MYSQL_MAX_PENDING];
}

static enum my_shape
my_shape(uint8_t cmd)
{
	switch (cmd) {
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
	case COM_STMT_CLOSE:
		return SH_NONE;
	case COM_QUERY:
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return SH_RESULT;
	case COM_STMT_PREPARE:
		return SH_PREPARE;
	case COM_STMT_FETCH:
		return SH_ROWS;
	case COM_INIT_DB:
	case COM_REFRESH:
	case COM_PROCESS_KILL:
	case COM_PING:
	case COM_STMT_RESET:
	case COM_SET_OPTION:
	case COM_RESET_CONNECTION:
		return SH_SIMPLE;
	default:
		return SH_OPAQUE;
	}
}

static bool
my_is_command(uint8_t cmd)
{
	return (cmd >= COM_QUIT && cmd <= COM_LAST) ||
	    cmd == COM_STMT_BULK_EXECUTE;
}

static void
my_resp_reset(struct mysql_conn *c)
{
	c->rs = RS_FIRST;
	c->resp_begun = 0;
	c->resp_flags = 0;
	c->defs_left = 0;
	c->prep_cols = 0;
	c->resp_size = 0;
	c->error[0] = '\0';
}

static void
my_emit(struct mysql_conn *c, const struct mysql_pending *p,
    const struct my_io *io, uint64_t end_ns, uint8_t flags)
{
	struct sg_exchange ex;

	proto_exchange_init(&ex);
	ex.app = SG_APP_MYSQL;
	ex.role = c->role;
	ex.flags = p->flags | flags;
	ex.start_ns = p->start_ns;
	ex.end_ns = end_ns > p->start_ns ? end_ns : p->start_ns;
	memcpy(ex.op, p->op, sizeof(ex.op));
	memcpy(ex.target, p->target, sizeof(ex.target));
	memcpy(ex.collection, p->collection, sizeof(ex.collection));
	memcpy(ex.db_namespace, c->db, sizeof(ex.db_namespace));
	ex.req_size = p->req_size;
	if (!(flags & SG_EX_TIMED_OUT)) {
		ex.resp_size = c->resp_size;
		memcpy(ex.error, c->error, sizeof(ex.error));
	}
	if (io->emit != NULL)
		io->emit(io->ctx, &ex);
}

/* The oldest command got its whole response (it ended at end_ns). */
static void
my_complete(struct mysql_conn *c, const struct my_io *io, uint64_t end_ns)
{
	struct mysql_pending *p = my_oldest(c);

	if (c->npending == 0)
		return;
	/* a prepared statement is reported by its executions, or when it
	 * failed and so will not run */
	if (p->report || (p->cmd == COM_STMT_PREPARE && c->error[0] != '\0'))
		my_emit(c, p, io, end_ns, c->resp_flags);
	c->head = (uint8_t)((c->head + 1) % MYSQL_MAX_PENDING);
	c->npending--;
	my_resp_reset(c);
}

static void
my_end_timed_out(struct mysql_conn *c, const struct my_io *io,
    uint64_t ts_ns)
{
	struct mysql_pending *p = my_oldest(c);

	if (p->report)
		my_emit(c, p, io, ts_ns, SG_EX_TIMED_OUT);
	c->head = (uint8_t)((c->head + 1) % MYSQL_MAX_PENDING);
	c->npending--;
	my_resp_reset(c);
}

/*
 * Connection start: the greeting and the handshake response.
 */
static bool
my_looks_greeting(const uint8_t *p, size_t n, uint32_t len)
{
	size_t i;

	if (len < 2 || n < 2 || p[0] != MY_GREETING_V10 || p[1] < '0' ||
	    p[1] > '9')
		return false;
	for (i = 1; i < n && p[i] != '\0'; i++)
		if (!my_is_print(p[i]))
			return false;
	return true;
}

static void
my_greeting(struct mysql_conn *c, const struct my_pkt *k)
{
	const uint8_t *nul = memchr(k->p, '\0', k->n);
	size_t at;

	c->handshake = 1;
	c->server_caps = 0;
	c->client_caps = 0;
	if (nul == NULL)
		return;
	/* thread id 4, scramble 8, filler 1, then the low capability bits;
	 * charset 1 and status 2 before the high ones */
	at = (size_t)(nul - k->p) + 1 + 4 + 8 + 1;
	if (at + 2 <= k->n)
		c->server_caps = my_u16(k->p + at);
	if (at + 7 <= k->n)
		c->server_caps |= (uint32_t)my_u16(k->p + at + 5) << 16;
}

/* The database of a handshake response, when it names one. */
static void
my_handshake_response(struct mysql_conn *c, const struct my_pkt *k)
{
	const uint8_t *p = k->p, *nul;
	size_t n = k->n, at = 32;
	uint64_t alen;
	uint32_t caps;

	if (n < 4 || !((caps = my_u32(p)) & CLIENT_PROTOCOL_41))
		return;
	c->client_caps = caps;
	if (k->len <= 32 || !(caps & CLIENT_CONNECT_WITH_DB))
		return;	/* an SSL request, or no database */
	if (at >= n || (nul = memchr(p + at, '\0', n - at)) == NULL)
		return;
	at = (size_t)(nul - p) + 1;	/* past the user name */
	if (caps & CLIENT_PLUGIN_AUTH_LENENC) {
		if (!my_lenenc(p, n, &at, &alen))
			return;
	} else if (caps & CLIENT_SECURE_CONNECTION) {
		if (at >= n)
			return;
		alen = p[at++];
	} else {
		if (at >= n || (nul = memchr(p + at, '\0', n - at)) == NULL)
			return;
		alen = (uint64_t)(nul - (p + at)) + 1;
	}
	if (alen >= n - at || memchr(p + at + alen, '\0', n - at - alen) ==
	    NULL)
		return;	/* the database is cut by the capture: not known */
	my_copy_text(c->db, sizeof(c->db), p + at + alen, n - at - alen);
}

/*
 * Responses.
 */

/* An OK packet (0x00, or 0xfe ending rows): its status flags, and the
 * database a session-state change (USE db) names. */
static bool
my_ok_status(struct mysql_conn *c, const struct my_pkt *k, uint16_t *status)
{
	const uint8_t *p = k->p;
	size_t n = k->n, at = 1, end;
	uint64_t v, tlen, dlen;

	if (!my_lenenc(p, n, &at, &v) || !my_lenenc(p, n, &at, &v) ||
	    n - at < 4)
		return false;
	*status = my_u16(p + at);
	at += 4;		/* status, warnings */
	if (!(*status & SERVER_SESSION_STATE_CHANGED))
		return true;
	/* info, then the session state changes (CLIENT_SESSION_TRACK) */
	if (!my_lenenc(p, n, &at, &v) || v > n - at)
		return true;
	at += (size_t)v;
	if (!my_lenenc(p, n, &at, &v) || v > n - at)
		return true;
	end = at + (size_t)v;
	while (at < end) {
		uint8_t type = p[at++];

		if (!my_lenenc(p, end, &at, &tlen) || tlen > end - at)
			break;
		if (type == SESSION_TRACK_SCHEMA) {
			size_t s = at;

			if (my_lenenc(p, at + (size_t)tlen, &s, &dlen) &&
			    dlen <= at + tlen - s)
				my_copy_text(c->db, sizeof(c->db), p + s,
				    (size_t)dlen);
		}
		at += (size_t)tlen;
	}
	return true;
}

static bool
my_is_eof(const struct my_pkt *k)
{
	return k->n >= 1 && k->p[0] == 0xfe && k->len == MY_EOF_LEN;
}

/* An EOF or OK ending rows: 0xfe and not a row (a row starting with
 * 0xfe holds a value of 2^24 bytes or more). */
static bool
my_is_terminator(const struct my_pkt *k)
{
	return k->n >= 1 && k->p[0] == 0xfe && k->len < MY_MAX_PAYLOAD;
}

static uint16_t
my_terminator_status(struct mysql_conn *c, const struct my_pkt *k)
{
	uint16_t status = 0;

	if (k->len < 7) {	/* EOF: 0xfe, warnings, status */
		if (k->n >= MY_EOF_LEN)
			status = my_u16(k->p + 3);
		return status;
	}
	if (!my_ok_status(c, k, &status))
		status = 0;	/* cut: taken as the last result */
	return status;
}

/* An ERR packet: its error number, or false for MariaDB's progress
 * reports, which share its marker and are no answer. */
static bool
my_err(struct mysql_conn *c, const struct my_pkt *k)
{
	unsigned code, i = 0;
	char digits[8];

	if (k->n < 3) {
		c->resp_flags |= SG_EX_STATUS_UNKNOWN;
		return true;
	}
	if ((code = my_u16(k->p + 1)) == MY_ERR_PROGRESS)
		return false;
	do
		digits[i++] = (char)('0' + code % 10);
	while ((code /= 10) > 0);
	for (unsigned j = 0; j < i; j++)
		c->error[j] = digits[i - 1 - j];
	c->error[i] = '\0';
	return true;
}

/* A result ended with these status flags: more may follow. */
static void
my_result_done(struct mysql_conn *c, struct my_io *io, uint16_t status)
{
	if (status & SERVER_MORE_RESULTS_EXISTS) {
		c->rs = RS_FIRST;
		return;
	}
	my_complete(c, io, io->ts);
}

static void
my_resp_ok(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	uint16_t status = 0;

	if (!my_ok_status(c, k, &status))
		status = 0;
	my_result_done(c, io, status);
}

/* A column count (lenenc), and MariaDB's "metadata follows" byte when
 * the client caches metadata: 0 says no column definitions follow. */
static void
my_column_count(struct mysql_conn *c, const struct my_pkt *k)
{
	size_t at = 0;
	uint64_t n;

	if (!my_lenenc(k->p, k->n, &at, &n) || n == 0 || n > UINT16_MAX) {
		c->resp_flags |= SG_EX_STATUS_UNKNOWN;
		c->rs = RS_BLIND;
		return;
	}
	c->defs_left = (uint16_t)n;
	if (k->len == at + 1 && k->n > at && k->p[at] == 0)
		c->defs_left = 0;
	c->rs = c->defs_left > 0 ? RS_COLS : RS_COLS_EOF;
}

static void
my_first_result(struct mysql_conn *c, const struct my_pkt *k,
    struct my_io *io)
{
	switch (k->p[0]) {
	case 0x00:
		my_resp_ok(c, k, io);
		break;
	case 0xff:
		if (my_err(c, k))
			my_complete(c, io, io->ts);
		break;
	case 0xfb:	/* LOCAL INFILE: the client sends, then OK or ERR */
		break;
	case 0xfe:
		my_complete(c, io, io->ts);
		break;
	default:
		my_column_count(c, k);
		break;
	}
}

static void
my_rows(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	c->rs = RS_ROWS;
	if (k->n == 0)
		return;	/* unseen: a row, or the end the next command shows */
	if (my_is_terminator(k))
		my_result_done(c, io, my_terminator_status(c, k));
	else if (k->p[0] == 0xff && my_err(c, k))
		my_complete(c, io, io->ts);
}

static void
my_prep_cols(struct mysql_conn *c, struct my_io *io)
{
	c->defs_left = c->prep_cols;
	c->prep_cols = 0;
	if (c->defs_left > 0)
		c->rs = RS_PREP_COLS;
	else
		my_complete(c, io, io->ts);
}

/* A section of definitions ended; an EOF follows unless deprecated. */
static void
my_prep_section_done(struct mysql_conn *c, struct my_io *io, bool params)
{
	if (my_eof_deprecated(c)) {
		if (params)
			my_prep_cols(c, io);
		else
			my_complete(c, io, io->ts);
		return;
	}
	c->rs = params ? RS_PREP_PEOF : RS_PREP_CEOF;
}

static void
my_prepare_ok(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	struct mysql_pending *p = my_oldest(c);

	/* 0x00, statement id 4, columns 2, parameters 2 */
	if (k->n < 9 || k->len < 9) {
		c->resp_flags |= SG_EX_STATUS_UNKNOWN;
		c->rs = RS_BLIND;
		return;
	}
	if (!(p->flags & SG_EX_TARGET_UNKNOWN))
		my_stmt_add(c, my_u32(k->p + 1), p->target);
	c->prep_cols = my_u16(k->p + 5);
	c->defs_left = my_u16(k->p + 7);
	if (c->defs_left > 0)
		c->rs = RS_PREP_PARAMS;
	else
		my_prep_cols(c, io);
}

static void
my_first(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	switch (my_shape(my_oldest(c)->cmd)) {
	case SH_RESULT:
		my_first_result(c, k, io);
		break;
	case SH_PREPARE:
		if (k->p[0] == 0x00)
			my_prepare_ok(c, k, io);
		else if (k->p[0] != 0xff || my_err(c, k))
			my_complete(c, io, io->ts);
		break;
	case SH_ROWS:
		my_rows(c, k, io);
		break;
	case SH_SIMPLE:
		if (k->p[0] == 0xff && !my_err(c, k))
			break;
		if (k->p[0] == 0x00) {
			struct mysql_pending *p = my_oldest(c);
			uint16_t status;

			if (p->cmd == COM_INIT_DB)
				my_copy_text(c->db, sizeof(c->db),
				    (const uint8_t *)p->target,
				    sizeof(p->target));
			if (p->cmd == COM_RESET_CONNECTION)
				my_stmts_clear(c);
			(void)my_ok_status(c, k, &status);
		}
		my_complete(c, io, io->ts);
		break;
	default:
		c->rs = RS_BLIND;
		break;
	}
}

static void
my_resp_step(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	if (k->n == 0 && (c->rs == RS_FIRST || c->rs == RS_PREP_PEOF ||
	    c->rs == RS_PREP_CEOF)) {
		/* what it was cannot be told: ends with the next command */
		c->resp_flags |= SG_EX_STATUS_UNKNOWN;
		c->rs = RS_BLIND;
		return;
	}
	switch (c->rs) {
	case RS_FIRST:
		my_first(c, k, io);
		break;
	case RS_COLS:
		if (--c->defs_left == 0)
			c->rs = RS_COLS_EOF;
		break;
	case RS_COLS_EOF:
		if (my_is_eof(k)) {
			if (k->n >= MY_EOF_LEN &&
			    (my_u16(k->p + 3) & SERVER_STATUS_CURSOR_EXISTS))
				my_complete(c, io, io->ts);	/* rows: FETCH */
			else
				c->rs = RS_ROWS;
			break;
		}
		my_rows(c, k, io);	/* no EOF: deprecated */
		break;
	case RS_ROWS:
		my_rows(c, k, io);
		break;
	case RS_PREP_PARAMS:
		if (--c->defs_left == 0)
			my_prep_section_done(c, io, true);
		break;
	case RS_PREP_COLS:
		if (--c->defs_left == 0)
			my_prep_section_done(c, io, false);
		break;
	case RS_PREP_PEOF:
		if (my_is_eof(k)) {
			my_prep_cols(c, io);
			break;
		}
		my_prep_cols(c, io);	/* no EOF: this is a definition */
		if (c->rs == RS_PREP_COLS)
			my_resp_step(c, k, io);
		else
			my_resp_packet(c, k, io);
		break;
	case RS_PREP_CEOF:
		my_complete(c, io, io->ts);
		if (!my_is_eof(k))
			my_resp_packet(c, k, io);	/* the next answer */
		break;
	default:
		break;
	}
}

static void
my_resp_packet(struct mysql_conn *c, const struct my_pkt *k,
    struct my_io *io)
{
	if (k->cont)
		return;		/* the rest of a payload of 2^24 bytes */
	if (k->seq == 0 && c->npending == 0 &&
	    my_looks_greeting(k->p, k->n, k->len)) {
		my_greeting(c, k);
		return;
	}
	if (c->handshake)
		return;		/* authentication */
	if (c->npending == 0) {
		if (!c->resp_unpaired) {
			c->resp_unpaired = 1;
			c->unpaired++;
		}
		return;
	}
	c->resp_begun = 1;
	my_resp_step(c, k, io);
}

/*
 * Requests.
 */

/* The text of a COM_QUERY or COM_STMT_PREPARE: after MySQL 8's query
 * attributes when negotiated (only their empty form is read). */
static bool
my_query_text(const struct mysql_conn *c, const struct my_pkt *k,
    const uint8_t **q, size_t *n)
{
	size_t at = 1;
	uint64_t nparams, nsets;

	if (k->p[0] == COM_QUERY && (my_caps(c) & CLIENT_QUERY_ATTRIBUTES)) {
		if (!my_lenenc(k->p, k->n, &at, &nparams) ||
		    !my_lenenc(k->p, k->n, &at, &nsets) || nparams != 0)
			return false;
	} else if (k->p[0] == COM_QUERY && !my_caps_known(c) && k->n >= 3 &&
	    k->p[1] == 0 && k->p[2] == 1)
		at = 3;		/* attributes, none: the start was not seen */
	*q = k->p + at;
	*n = k->n > at ? k->n - at : 0;
	return *n > 0 || k->len <= at;
}

static bool
my_is_name_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '$' || ch == '.' ||
	    ch == '`' || ch == '"' || (unsigned char)ch >= 0x80;
}

/* Whether text cut after n bytes ends inside its first word: "SEL"
 * could be SELECT or SELF-something. */
static bool
my_first_word_cut(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' ||
	    t[i] == '\r'))
		i++;
	while (i < n && ((t[i] >= 'A' && t[i] <= 'Z') ||
	    (t[i] >= 'a' && t[i] <= 'z')))
		i++;
	return i == n;
}

/* The statement q (n bytes visible, cut when the capture ended it). */
static void
my_describe(struct mysql_pending *p, const uint8_t *q, size_t n, bool cut)
{
	char table[SG_COLLECTION_MAX] = "";
	size_t tlen;

	my_copy_text(p->target, sizeof(p->target), q, n);
	tlen = strlen(p->target);
	sql_describe(p->target, tlen, p->op, sizeof(p->op), table,
	    sizeof(table));
	/* cut by the capture, or by the target's size (not by a NUL) */
	cut = cut || (tlen == sizeof(p->target) - 1 && n > tlen);
	if (cut && my_first_word_cut(p->target, tlen))
		p->op[0] = '\0';
	/* a name the cut ends could be longer: not told */
	if (!cut || tlen == 0 || !my_is_name_char(p->target[tlen - 1]))
		memcpy(p->collection, table, sizeof(p->collection));
	if (p->op[0] == '\0')
		p->flags |= SG_EX_OP_UNKNOWN;
}

/* The statement an EXECUTE names: prepared earlier, or (MariaDB's
 * direct execution, id -1) by a PREPARE still awaiting its answer. */
static const char *
my_exec_text(struct mysql_conn *c, uint32_t id)
{
	struct mysql_stmt *s;

	if (id == MY_NO_STMT) {
		for (unsigned i = c->npending; i > 0; i--) {
			struct mysql_pending *p = my_nth(c, i - 1);

			if (p->cmd == COM_STMT_PREPARE)
				return p->flags & SG_EX_TARGET_UNKNOWN ? NULL :
				    p->target;
		}
	}
	s = my_stmt_find(c, id);
	return s != NULL ? s->text : NULL;
}

static void
my_command_fill(struct mysql_conn *c, struct mysql_pending *p,
    const struct my_pkt *k)
{
	const uint8_t *q;
	const char *text;
	size_t n;

	switch (p->cmd) {
	case COM_QUERY:
	case COM_STMT_PREPARE:
		if (my_query_text(c, k, &q, &n))
			my_describe(p, q, n, n < k->len - (size_t)(q - k->p));
		else
			p->flags |= SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
		break;
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		text = NULL;
		if (k->n >= 5) {
			p->stmt_id = my_u32(k->p + 1);
			text = my_exec_text(c, p->stmt_id);
		}
		if (text != NULL) {
			my_describe(p, (const uint8_t *)text, strlen(text),
			    strlen(text) == SG_PATH_MAX - 1);
		} else {
			p->flags |= SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
			c->unknown++;
		}
		break;
	case COM_INIT_DB:
		my_copy_text(p->target, sizeof(c->db), k->p + 1, k->n - 1);
		if (k->n - 1 < k->len - 1)
			p->target[0] = '\0';	/* cut: not known */
		break;
	default:
		break;
	}
}

/* A new command: the response in progress, if any, is over. */
static void
my_end_answered(struct mysql_conn *c, struct my_io *io)
{
	if (c->npending > 0 && c->resp_begun)
		my_complete(c, io, c->resp_last_ns);
	if (c->resp.lost || c->resp_unpaired || c->npending == 0) {
		memset(&c->resp, 0, offsetof(struct mysql_stream, keep));
		c->resp_unpaired = 0;
	}
}

static void
my_command(struct mysql_conn *c, const struct my_pkt *k, struct my_io *io)
{
	struct mysql_pending *p;
	uint8_t cmd;

	c->handshake = 0;
	my_end_answered(c, io);
	if (k->n == 0) {
		cmd = 0;	/* not seen: whatever it was gets an answer */
	} else {
		cmd = k->p[0];
		if (!my_is_command(cmd))
			c->unparsed += (uint64_t)k->len + MY_HDR_LEN;
	}
	if (cmd == COM_STMT_CLOSE && k->n >= 5)
		my_stmt_forget(c, my_u32(k->p + 1));
	if (cmd == COM_CHANGE_USER)
		my_stmts_clear(c);
	if (k->n > 0 && my_shape(cmd) == SH_NONE)
		return;
	if (c->npending == MYSQL_MAX_PENDING) {
		c->dropped++;
		return;
	}
	p = my_nth(c, c->npending++);
	memset(p, 0, offsetof(struct mysql_pending, op));
	p->op[0] = p->collection[0] = p->target[0] = '\0';
	p->start_ns = io->ts;
	p->req_size = (uint64_t)k->len;
	p->cmd = cmd;
	p->report = cmd == COM_QUERY || cmd == COM_STMT_EXECUTE ||
	    cmd == COM_STMT_BULK_EXECUTE || k->n == 0;
	if (k->n == 0)
		p->flags = SG_EX_OP_UNKNOWN | SG_EX_TARGET_UNKNOWN;
	else
		my_command_fill(c, p, k);
}

static void
my_req_packet(struct mysql_conn *c, const struct my_pkt *k,
    struct my_io *io)
{
	if (k->cont)
		return;
	if (k->seq == 0 && k->len == 0) {
		c->unparsed += MY_HDR_LEN;	/* no command is empty */
		return;
	}
	if (k->seq != 0) {
		/* handshake response (after an SSL request: 2), or data
		 * for LOCAL INFILE or authentication */
		if (c->handshake && (k->seq == 1 || k->seq == 2))
			my_handshake_response(c, k);
		return;
	}
	my_command(c, k, io);
}

/*
 * Framing.
 */
static void
my_stream_packet(struct mysql_conn *c, struct mysql_stream *s, bool req,
    struct my_io *io)
{
	struct my_pkt k = {
		.p = s->keep, .n = s->keep_len, .len = s->plen,
		.seq = s->seq, .cont = s->cont != 0,
	};

	s->handled = 1;
	if (req)
		my_req_packet(c, &k, io);
	else
		my_resp_packet(c, &k, io);
}

/* The stream's framing is lost past the capture. */
static void
my_stream_lose(struct mysql_conn *c, struct mysql_stream *s, bool req,
    struct my_io *io)
{
	memset(s, 0, offsetof(struct mysql_stream, keep));
	s->lost = 1;
	io->off = io->len;
	if (!req && c->npending > 0 && !c->resp_begun) {
		c->resp_begun = 1;
		c->resp_flags |= SG_EX_STATUS_UNKNOWN;
		c->rs = RS_BLIND;
	}
}

/* A packet header; false when the buffer ended (or framing was lost). */
static bool
my_stream_header(struct mysql_conn *c, struct mysql_stream *s, bool req,
    struct my_io *io)
{
	uint64_t need = MY_HDR_LEN - s->hdr_len, rest = io->len - io->off;
	uint64_t vis = io->off < io->cap ? io->cap - io->off : 0;
	uint64_t k = my_min(need, rest);

	if (vis < k) {
		my_stream_lose(c, s, req, io);
		return false;
	}
	memcpy(s->hdr + s->hdr_len, io->data + io->off, (size_t)k);
	s->hdr_len += (uint8_t)k;
	io->off += k;
	if (k < need)
		return false;
	s->hdr_len = 0;
	s->plen = my_u24(s->hdr);
	s->seq = s->hdr[3];
	s->left = s->plen;
	s->in_packet = 1;
	s->handled = 0;
	s->gap = 0;
	s->keep_len = 0;
	s->cont = s->more;
	s->more = s->plen == MY_MAX_PAYLOAD;
	return true;
}

static void
my_stream_payload(struct mysql_conn *c, struct mysql_stream *s, bool req,
    struct my_io *io)
{
	uint64_t k = my_min(s->left, io->len - io->off);
	uint64_t vis = io->off < io->cap ? my_min(k, io->cap - io->off) : 0;
	size_t room = MYSQL_KEEP - s->keep_len;

	if (!s->gap && !s->handled && vis > 0) {
		size_t take = (size_t)my_min(vis, room);

		memcpy(s->keep + s->keep_len, io->data + io->off, take);
		s->keep_len += (uint16_t)take;
	}
	if (vis < k)
		s->gap = 1;
	io->off += k;
	s->left -= (uint32_t)k;
	if (!s->handled && (s->gap || s->left == 0 ||
	    s->keep_len == MYSQL_KEEP))
		my_stream_packet(c, s, req, io);
	if (s->left == 0)
		s->in_packet = 0;
}

static bool
my_starts_command(const uint8_t *p, size_t n, uint64_t len)
{
	uint32_t plen;

	if (n < MY_HDR_LEN + 1 || p[3] != 0)
		return false;
	plen = my_u24(p);
	return plen >= 1 && plen <= len && my_is_command(p[4]);
}

static void
my_stream_feed(struct mysql_conn *c, struct mysql_stream *s, bool req,
    struct my_io *io)
{
	if (s->lost) {
		/* commands start writes; responses start after commands */
		if (!req || !my_starts_command(io->data, io->cap, io->len)) {
			if (req)
				c->unparsed += io->len;
			return;
		}
		memset(s, 0, offsetof(struct mysql_stream, keep));
	}
	while (io->off < io->len) {
		if (!s->in_packet) {
			if (!my_stream_header(c, s, req, io))
				break;
			if (s->plen == 0) {
				s->in_packet = 0;
				my_stream_packet(c, s, req, io);
			}
			continue;
		}
		my_stream_payload(c, s, req, io);
	}
}

/* A connection that predates the sensor: the side writing a command is
 * the client, the side writing a greeting the server. */
static bool
my_learn_role(struct mysql_conn *c, const struct my_io *io)
{
	bool w = io->dir == SG_DIR_WRITE;

	if (io->cap >= MY_HDR_LEN + 2 && io->data[3] == 0 &&
	    my_looks_greeting(io->data + MY_HDR_LEN, io->cap - MY_HDR_LEN,
	    my_u24(io->data)))
		c->role = w ? SG_ROLE_SERVER : SG_ROLE_CLIENT;
	else if (my_starts_command(io->data, io->cap, io->len))
		c->role = w ? SG_ROLE_CLIENT : SG_ROLE_SERVER;
	else {
		c->unparsed += io->len;
		return false;
	}
	return true;
}

void
mysql_conn_init(struct mysql_conn *c, uint8_t role)
{
	memset(c, 0, offsetof(struct mysql_conn, pending));
	for (unsigned i = 0; i < MYSQL_MAX_STMTS; i++)
		c->stmts[i].used = 0;
	c->role = role <= SG_ROLE_CLIENT ? role : SG_ROLE_UNKNOWN;
}

void
mysql_on_data(struct mysql_conn *c, uint8_t dir, uint64_t ts_ns,
    uint64_t len, const uint8_t *data, size_t captured, sg_emit_fn emit,
    void *ctx)
{
	struct my_io io;
	bool req;

	if (c == NULL || len == 0 || (dir != SG_DIR_READ && dir != SG_DIR_WRITE))
		return;
	memset(&io, 0, sizeof(io));
	io.data = data;
	io.cap = data != NULL ? (size_t)my_min(captured, len) : 0;
	io.len = len;
	io.dir = dir;
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	c->last_ns = ts_ns;
	if (c->role != SG_ROLE_SERVER && c->role != SG_ROLE_CLIENT &&
	    !my_learn_role(c, &io))
		return;
	req = dir == (c->role == SG_ROLE_SERVER ? SG_DIR_READ : SG_DIR_WRITE);
	if (!req && c->npending > 0) {
		c->resp_last_ns = ts_ns;
		c->resp_size += len;
	}
	my_stream_feed(c, req ? &c->req : &c->resp, req, &io);
}

void
mysql_on_close(struct mysql_conn *c, uint64_t ts_ns, sg_emit_fn emit,
    void *ctx)
{
	struct my_io io;
	uint64_t unparsed, unpaired, dropped, unknown;
	uint8_t role;

	if (c == NULL)
		return;
	memset(&io, 0, sizeof(io));
	io.ts = ts_ns;
	io.emit = emit;
	io.ctx = ctx;
	if (c->npending > 0 && c->resp_begun)
		my_complete(c, &io, c->resp_last_ns);
	while (c->npending > 0)
		my_end_timed_out(c, &io, ts_ns);
	role = c->role;
	unparsed = c->unparsed;
	unpaired = c->unpaired;
	dropped = c->dropped;
	unknown = c->unknown;
	mysql_conn_init(c, role);
	c->unparsed = unparsed;
	c->unpaired = unpaired;
	c->dropped = dropped;
	c->unknown = unknown;
	c->last_ns = ts_ns;
}

unsigned
mysql_expire(struct mysql_conn *c, uint64_t now_ns, uint64_t timeout_ns,
    sg_emit_fn emit, void *ctx)
{
	struct my_io io;
	unsigned n = 0;

	if (c == NULL || timeout_ns == 0)
		return 0;
	memset(&io, 0, sizeof(io));
	io.ts = now_ns;
	io.emit = emit;
	io.ctx = ctx;
	while (c->npending > 0) {
		if (c->resp_begun) {
			/* answered, its end unseen: over when it went quiet */
			if (!my_older(now_ns, c->resp_last_ns, timeout_ns))
				break;
			my_complete(c, &io, c->resp_last_ns);
			continue;
		}
		if (!my_older(now_ns, my_oldest(c)->start_ns, timeout_ns))
			break;
		my_end_timed_out(c, &io, now_ns);
		n++;
	}
	return n;
}

bool
mysql_idle(const struct mysql_conn *c)
{
	return c == NULL || (c->npending == 0 && !c->req.in_packet &&
	    c->req.hdr_len == 0 && !c->resp.in_packet && c->resp.hdr_len == 0);
}

unsigned
mysql_pending(const struct mysql_conn *c)
{
	return c != NULL ? c->npending : 0;
}

/* ---- the parser as the connection table sees it (proto.h) */

static enum sg_sniff
my_sniff_gate(uint16_t port)
{
	return port == 3306 || proto_sql_heuristic() ? SG_SNIFF_YES :
	    SG_SNIFF_NO;
}

/* The statement of a COM_QUERY or COM_STMT_PREPARE at p[5..n). */
static enum sg_sniff
my_sniff_text(const uint8_t *p, size_t n, uint32_t plen, uint16_t port)
{
	size_t at = MY_HDR_LEN + 1, vis, text;

	if (p[4] == COM_QUERY && n >= at + 2 && p[at] == 0 && p[at + 1] == 1)
		at += 2;	/* MySQL 8's query attributes, none */
	if (plen < at - MY_HDR_LEN)
		return SG_SNIFF_NO;
	text = plen - (at - MY_HDR_LEN);
	vis = n > at ? n - at : 0;
	vis = vis < text ? vis : text;
	if (vis < 6 && vis < text)
		return SG_SNIFF_MAYBE;	/* "SEL": too little to tell */
	if (!sql_looks_like((const char *)p + at, vis))
		return SG_SNIFF_NO;
	return my_sniff_gate(port);
}

/* The server's greeting (written by a server, read by a client) on any
 * port; a client's command (seq 0) on the MySQL port, or anywhere when
 * the SQL heuristic is on. */
enum sg_sniff
mysql_sniff(const uint8_t *data, size_t captured, uint8_t dir,
    uint16_t port)
{
	uint32_t plen;

	(void)dir;
	if (data == NULL || (captured >= 4 && data[3] != 0) ||
	    (captured >= 3 && my_u24(data) == 0))
		return SG_SNIFF_NO;
	if (captured <= MY_HDR_LEN)
		return SG_SNIFF_MAYBE;
	plen = my_u24(data);
	if (data[4] == MY_GREETING_V10 && plen >= 40 && plen < 1024) {
		if (captured == MY_HDR_LEN + 1)
			return SG_SNIFF_MAYBE;
		if (my_looks_greeting(data + MY_HDR_LEN, captured - MY_HDR_LEN,
		    plen))
			return SG_SNIFF_YES;
	}
	switch (data[4]) {
	case COM_QUERY:
	case COM_STMT_PREPARE:
		return plen >= 2 ? my_sniff_text(data, captured, plen, port) :
		    SG_SNIFF_NO;
	case COM_STMT_EXECUTE:
		/* id 4, flags 1, iteration count 1 (always 1) */
		if (plen < 10)
			return SG_SNIFF_NO;
		if (captured < MY_HDR_LEN + 10)
			return SG_SNIFF_MAYBE;
		return data[9] <= 0x0f && my_u32(data + 10) == 1 ?
		    my_sniff_gate(port) : SG_SNIFF_NO;
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
		return plen == 5 ? my_sniff_gate(port) : SG_SNIFF_NO;
	case COM_STMT_FETCH:
		return plen == 9 ? my_sniff_gate(port) : SG_SNIFF_NO;
	default:
		return SG_SNIFF_NO;
	}
}

static void
my_ops_init(void *st, uint8_t role)
{
	mysql_conn_init(st, role);
}

static void
my_ops_on_data(void *st, uint8_t dir, uint64_t ts_ns, uint64_t len,
    const uint8_t *data, size_t captured, const uint8_t *tail,
    sg_emit_fn emit, void *ctx)
{
	(void)tail;	/* the next command, not the tail, ends responses */
	mysql_on_data(st, dir, ts_ns, len, data, captured, emit, ctx);
}

static void
my_ops_on_close(void *st, uint64_t ts_ns, sg_emit_fn emit, void *ctx)
{
	mysql_on_close(st, ts_ns, emit, ctx);
}

static unsigned
my_ops_expire(void *st, uint64_t now_ns, const struct sg_timeouts *to,
    sg_emit_fn emit, void *ctx)
{
	return mysql_expire(st, now_ns, to->ns[SG_APP_MYSQL], emit, ctx);
}

static bool
my_ops_idle(const void *st)
{
	return mysql_idle(st);
}

static unsigned
my_ops_pending(const void *st)
{
	return mysql_pending(st);
}

static uint8_t
my_ops_role(const void *st)
{
	return ((const struct mysql_conn *)st)->role;
}

static void
my_ops_counters(const void *st, struct sg_proto_counters *out)
{
	const struct mysql_conn *c = st;

	out->unparsed = c->unparsed;
	out->unpaired = c->unpaired;
	out->dropped = c->dropped;
	out->unknown = c->unknown;
}

const struct sg_proto_ops mysql_ops = {
	.name = "mysql",
	.id = SG_PROTO_MYSQL,
	.apps = 1u << SG_APP_MYSQL,
	.state_size = sizeof(struct mysql_conn),
	.keep_state = true,	/* prepared statements */
	.sniff = mysql_sniff,
	.init = my_ops_init,
	.on_data = my_ops_on_data,
	.on_close = my_ops_on_close,
	.expire = my_ops_expire,
	.idle = my_ops_idle,
	.pending = my_ops_pending,
	.role = my_ops_role,
	.counters = my_ops_counters,
};
