/*
 * Fuzz target for the memcached text protocol parser and its pairing: it sees
 * bytes chosen by whoever talks to the instrumented processes.
 *
 * The first input byte picks the role; the rest is a script of records:
 * op, n, n payload bytes: one read or write (with bytes past the capture
 * and a tail when op asks), an expiry or a close.  Invariants of the
 * state and of every exchange are checked; a broken one aborts.
 */
#define FZ_NAME "fuzz_memcached"
#include "fuzz.h"
#include "memcached.h"

#define FZ_STEP		1000

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	size_t i;

	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(ex->app == SG_APP_MEMCACHED, "app");
	fz_check(fz_terminated(ex->op, sizeof(ex->op)), "op end");
	fz_check((ex->op[0] == '\0') == ((ex->flags & SG_EX_OP_UNKNOWN) != 0),
	    "op empty iff unknown");
	for (i = 0; ex->op[i] != '\0'; i++)
		fz_check((ex->op[i] >= 'a' && ex->op[i] <= 'z') ||
		    (ex->op[i] >= 'A' && ex->op[i] <= 'Z') ||
		    (ex->op[i] >= '0' && ex->op[i] <= '9') || ex->op[i] == '_',
		    "op chars");
	fz_check(fz_terminated(ex->target, sizeof(ex->target)), "target end");
	for (i = 0; ex->target[i] != '\0'; i++)
		fz_check(ex->target[i] >= 0x20 && ex->target[i] < 0x7f,
		    "target chars");
	fz_check(fz_terminated(ex->error, sizeof(ex->error)), "error end");
	for (i = 0; ex->error[i] != '\0'; i++)
		fz_check(ex->error[i] > 0x20 && ex->error[i] < 0x7f,
		    "error chars");
	fz_check(ex->status == 0, "status");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
}

static void
fz_check_conn(const struct memcached_conn *c)
{
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	fz_check(c->npending <= MEMCACHED_MAX_PENDING, "npending");
	fz_check(c->head < MEMCACHED_MAX_PENDING, "head");
	fz_check(c->req.line_len < MEMCACHED_LINE_LEN, "req line_len");
	fz_check(c->resp.line_len < MEMCACHED_LINE_LEN, "resp line_len");
}

static void
fz_memcached_emit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check_exchange(ex);
}

static void
fz_memcached_data(struct memcached_conn *c, int op, uint64_t ts, const uint8_t *p,
    size_t n)
{
	uint64_t extra = (uint64_t)((op >> 3) & 15) *
	    ((op & 0x80) != 0 ? 4096 : 7);
	const uint8_t *tail = NULL;

	if (extra > 0 && n >= SG_TAIL_LEN)
		tail = p + n - SG_TAIL_LEN;
	memcached_on_data(c, (op >> 2) & 1, ts, n + extra, n > 0 ? p : NULL, n,
	    tail, fz_memcached_emit, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct memcached_conn c;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int mode, op, len;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	memcached_conn_init(&c, (uint8_t)((mode >> 1) % 3));
	while ((op = fz_byte(&in)) >= 0 && (len = fz_byte(&in)) >= 0) {
		p = fz_take(&in, (size_t)len, &n);
		ts += FZ_STEP;
		switch (op & 3) {
		case 2:
			memcached_expire(&c, ts, (uint64_t)(op >> 2) * FZ_STEP,
			    fz_memcached_emit, NULL);
			break;
		case 3:
			if (op & 4) {
				memcached_on_close(&c, ts, fz_memcached_emit, NULL);
				break;
			}
			/* FALLTHROUGH */
		default:
			fz_memcached_data(&c, op, ts, p, n);
			break;
		}
		fz_check_conn(&c);
		(void)memcached_idle(&c);
		(void)memcached_sniff(p, n, (uint8_t)(op & 1), 11211);
	}
	memcached_on_close(&c, ts + FZ_STEP, fz_memcached_emit, NULL);
	fz_check_conn(&c);
	fz_check(memcached_pending(&c) == 0, "pending after close");
	return 0;
}
