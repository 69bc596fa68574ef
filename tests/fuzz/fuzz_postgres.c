/*
 * Fuzz target for the PostgreSQL parser and the SQL text functions it
 * uses (sql.c): both see bytes chosen by whoever talks to a database.
 *
 * The first input byte picks the role, the capture size and the SQL
 * heuristic; the rest is a script of records: op, n, n payload bytes:
 * one read or write (with bytes past the capture and a tail when op
 * asks), an expiry or a close.  Every payload also goes through sniff and
 * the SQL functions.  Invariants of the state and of every exchange are
 * checked; a broken one aborts so that the fuzzer reports it.
 */
#define FZ_NAME "fuzz_postgres"
#include "fuzz.h"
#include "postgres.h"
#include "sql.h"

#define FZ_STEP		1000

static bool
fz_sqlstate_like(const char *e)
{
	if (strlen(e) != 5)
		return false;
	for (int i = 0; i < 5; i++)
		if (!((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'A' && e[i] <= 'Z')))
			return false;
	return true;
}

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	fz_check(ex->app == SG_APP_POSTGRESQL, "app");
	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)), "op end");
	for (size_t i = 0; ex->op[i] != '\0'; i++)
		fz_check((ex->op[i] >= 'A' && ex->op[i] <= 'Z') ||
		    ex->op[i] == '_', "op chars");
	fz_check((ex->op[0] == '\0') == ((ex->flags & SG_EX_OP_UNKNOWN) != 0),
	    "op unknown flag");
	fz_check(fz_terminated(ex->target, sizeof(ex->target)), "target end");
	fz_check(strlen(ex->target) <= PG_TEXT_MAX, "target length");
	fz_check(fz_terminated(ex->collection, sizeof(ex->collection)),
	    "collection end");
	fz_check(fz_terminated(ex->db_namespace, sizeof(ex->db_namespace)),
	    "namespace end");
	fz_check(fz_terminated(ex->error, sizeof(ex->error)), "error end");
	fz_check(ex->error[0] == '\0' || fz_sqlstate_like(ex->error) ||
	    strcmp(ex->error, "_OTHER") == 0 ||
	    strcmp(ex->error, "PIPELINE_ABORTED") == 0, "error value");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
	fz_check(ex->status == 0, "status");
}

static void
fz_check_conn(const struct postgres_conn *c)
{
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	fz_check(c->npending <= PG_MAX_PENDING, "npending");
	fz_check(c->head < PG_MAX_PENDING, "head");
	fz_check(c->nops <= c->npending, "nops");
	fz_check(c->anon_next < PG_ANON_TEXTS, "anon_next");
	fz_check(c->portal_next < PG_PORTALS, "portal_next");
	fz_check(c->req.keep_len <= PG_KEEP_REQ, "req keep");
	fz_check(c->resp.keep_len <= PG_KEEP_RESP, "resp keep");
	fz_check(c->req.hdr_len < 5 && c->resp.hdr_len < 5, "hdr_len");
	fz_check(c->req.body_seen <= c->req.body_len, "req body");
	fz_check(c->resp.body_seen <= c->resp.body_len, "resp body");
	fz_check(fz_terminated(c->db, sizeof(c->db)), "db end");
	for (int i = 0; i < PG_NTEXTS; i++)
		fz_check(c->texts[i].len <= PG_TEXT_MAX, "text len");
}

static void
fz_pg_emit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check_exchange(ex);
}

static void
fz_sql(const uint8_t *p, size_t n)
{
	char op[SG_METHOD_MAX], table[SG_COLLECTION_MAX], out[SG_PATH_MAX];
	size_t k;

	sql_describe((const char *)p, n, op, sizeof(op), table, sizeof(table));
	fz_check(fz_terminated(op, sizeof(op)), "sql op end");
	fz_check(fz_terminated(table, sizeof(table)), "sql table end");
	k = sql_sanitize((const char *)p, n, n % 2 ? SQL_MYSQL : SQL_POSTGRES,
	    out, sizeof(out));
	fz_check(k < sizeof(out) && out[k] == '\0' && strlen(out) == k,
	    "sanitize length");
	(void)sql_looks_like((const char *)p, n);
	/* a tiny output buffer */
	k = sql_sanitize((const char *)p, n, SQL_POSTGRES, out, 3);
	fz_check(k < 3 && out[k] == '\0', "sanitize small");
}

static void
fz_pg_data(struct postgres_conn *c, int op, uint64_t ts, const uint8_t *p,
    size_t n, size_t capmax)
{
	uint64_t extra = (uint64_t)((op >> 3) & 15) *
	    ((op & 0x80) != 0 ? 4096 : 7);
	const uint8_t *tail = NULL;
	size_t cap = n < capmax ? n : capmax;

	if (cap < n)
		extra += n - cap;
	if (extra > 0 && n >= SG_TAIL_LEN)
		tail = p + n - SG_TAIL_LEN;
	postgres_on_data(c, (op >> 2) & 1, ts, cap + extra, cap > 0 ? p : NULL,
	    cap, tail, fz_pg_emit, NULL);
}

static void
fz_pg(struct fz_in *in, uint8_t role, size_t capmax)
{
	static struct postgres_conn c;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, len;

	postgres_conn_init(&c, role);
	while ((op = fz_byte(in)) >= 0 && (len = fz_byte(in)) >= 0) {
		p = fz_take(in, (size_t)len, &n);
		ts += FZ_STEP;
		(void)postgres_sniff(n > 0 ? p : NULL, n, (op >> 2) & 1,
		    (op & 0x40) ? 5432 : 0);
		fz_sql(p, n);
		switch (op & 3) {
		case 2:
			postgres_expire(&c, ts, (uint64_t)(op >> 2) * FZ_STEP,
			    fz_pg_emit, NULL);
			break;
		case 3:
			if (op & 4) {
				postgres_on_close(&c, ts, fz_pg_emit, NULL);
				break;
			}
			/* FALLTHROUGH */
		default:
			fz_pg_data(&c, op, ts, p, n, capmax);
			break;
		}
		fz_check_conn(&c);
		(void)postgres_idle(&c);
		fz_check(postgres_pending(&c) <= PG_MAX_PENDING, "pending");
	}
	postgres_on_close(&c, ts + FZ_STEP, fz_pg_emit, NULL);
	fz_check_conn(&c);
	fz_check(postgres_pending(&c) == 0, "pending after close");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[4] = { 256, 1024, 16, 64 };
	struct fz_in in = { data, size };
	int mode;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	proto_set_sql_heuristic((mode & 0x40) != 0);
	fz_pg(&in, (uint8_t)((mode >> 1) % 3), caps[(mode >> 3) & 3]);
	return 0;
}
