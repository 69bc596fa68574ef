/*
 * Fuzz target for the MySQL/MariaDB parser (and its sniffer): it sees
 * bytes chosen by whoever talks to the instrumented processes, and by
 * the servers they talk to.
 *
 * The first input byte picks the role (and whether SQL is detected on
 * any port); the rest is a script of records: op, n, n payload bytes:
 * one read or write (with bytes past the capture when op asks), an
 * expiry or a close, as in fuzz_http1.c.  Invariants of the state and of
 * every exchange are checked; a broken one aborts.
 */
#define FZ_NAME "fuzz_mysql"
#include "fuzz.h"
#include "mysql.h"

#define FZ_STEP		1000

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	size_t i;

	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(ex->app == SG_APP_MYSQL, "app");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)), "op end");
	fz_check(fz_terminated(ex->target, sizeof(ex->target)), "target end");
	fz_check(fz_terminated(ex->collection, sizeof(ex->collection)),
	    "collection end");
	fz_check(fz_terminated(ex->db_namespace, sizeof(ex->db_namespace)),
	    "namespace end");
	fz_check(fz_terminated(ex->error, sizeof(ex->error)), "error end");
	fz_check((ex->op[0] == '\0') == ((ex->flags & SG_EX_OP_UNKNOWN) != 0),
	    "op unknown iff empty");
	for (i = 0; ex->error[i] != '\0'; i++)
		fz_check(ex->error[i] >= '0' && ex->error[i] <= '9' && i < 5,
		    "error: a number");
	fz_check(!(ex->flags & SG_EX_TIMED_OUT) || ex->error[0] == '\0',
	    "timed out without an answer");
	fz_check(ex->status == 0, "status");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
}

static void
fz_check_stream(const struct mysql_stream *s)
{
	fz_check(s->hdr_len < 4, "hdr_len");
	fz_check(s->keep_len <= MYSQL_KEEP, "keep_len");
	fz_check(s->left <= s->plen, "left");
}

static void
fz_check_conn(const struct mysql_conn *c)
{
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	fz_check(c->npending <= MYSQL_MAX_PENDING, "npending");
	fz_check(c->head < MYSQL_MAX_PENDING, "head");
	fz_check(c->npending > 0 || !c->resp_begun, "answer to nothing");
	fz_check(fz_terminated(c->db, sizeof(c->db)), "db end");
	fz_check_stream(&c->req);
	fz_check_stream(&c->resp);
	for (unsigned i = 0; i < MYSQL_MAX_STMTS; i++)
		fz_check(!c->stmts[i].used || fz_terminated(c->stmts[i].text,
		    sizeof(c->stmts[i].text)), "statement end");
}

static void
fz_mysql_emit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check_exchange(ex);
}

static void
fz_mysql_data(struct mysql_conn *c, int op, uint64_t ts, const uint8_t *p,
    size_t n)
{
	uint64_t extra = (uint64_t)((op >> 3) & 15) *
	    ((op & 0x80) != 0 ? 4096 : 7);
	enum sg_sniff v;

	v = mysql_sniff(n > 0 ? p : NULL, n, (op >> 2) & 1, 3306);
	fz_check(v == SG_SNIFF_NO || v == SG_SNIFF_MAYBE || v == SG_SNIFF_YES,
	    "sniff");
	mysql_on_data(c, (op >> 2) & 1, ts, n + extra, n > 0 ? p : NULL, n,
	    fz_mysql_emit, NULL);
}

static void
fz_mysql(struct fz_in *in, uint8_t role)
{
	static struct mysql_conn c;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, len;

	mysql_conn_init(&c, role);
	while ((op = fz_byte(in)) >= 0 && (len = fz_byte(in)) >= 0) {
		p = fz_take(in, (size_t)len, &n);
		ts += FZ_STEP;
		switch (op & 3) {
		case 2:
			mysql_expire(&c, ts, (uint64_t)(op >> 2) * FZ_STEP,
			    fz_mysql_emit, NULL);
			break;
		case 3:
			if (op & 4) {
				mysql_on_close(&c, ts, fz_mysql_emit, NULL);
				break;
			}
			/* FALLTHROUGH */
		default:
			fz_mysql_data(&c, op, ts, p, n);
			break;
		}
		fz_check_conn(&c);
		(void)mysql_idle(&c);
	}
	mysql_on_close(&c, ts + FZ_STEP, fz_mysql_emit, NULL);
	fz_check_conn(&c);
	fz_check(mysql_pending(&c) == 0, "pending after close");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int mode;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	proto_set_sql_heuristic(mode & 1);
	fz_mysql(&in, (uint8_t)((mode >> 1) % 3));
	return 0;
}
