/*
 * Fuzz target for the Kafka parser (collector/protocols/kafka.c) and its
 * pairing of requests and responses: it sees bytes chosen by whoever
 * talks to the instrumented processes.
 *
 * The first input byte picks the role; the rest is a script of records
 * as in fuzz_http1.c: op, n, n payload bytes: one read or write (with
 * bytes past the capture when op asks), an expiry or a close.  The seeds
 * (corpus/kafka) are kcat's conversations with librdkafka's mock broker,
 * one record a TCP segment.  Invariants of the state and of every
 * exchange are checked; a broken one aborts.
 */
#define FZ_NAME "fuzz_kafka"
#include "fuzz.h"
#include "kafka.h"

#define FZ_STEP		1000

static int
fz_topic_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static void
fz_check_exchange(const struct sg_exchange *ex)
{
	size_t i;

	fz_check(ex->role == SG_ROLE_SERVER || ex->role == SG_ROLE_CLIENT,
	    "role");
	fz_check(ex->app == SG_APP_KAFKA, "app");
	fz_check(strcmp(ex->op, "publish") == 0 ||
	    strcmp(ex->op, "process") == 0, "op");
	fz_check(fz_terminated(ex->target, sizeof(ex->target)), "target end");
	for (i = 0; ex->target[i] != '\0'; i++)
		fz_check(fz_topic_char(ex->target[i]), "target chars");
	fz_check((ex->target[0] == '\0') ==
	    ((ex->flags & SG_EX_TARGET_UNKNOWN) != 0), "target unknown");
	fz_check(fz_terminated(ex->error, sizeof(ex->error)), "error end");
	for (i = 0; ex->error[i] != '\0'; i++)
		fz_check((ex->error[i] >= '0' && ex->error[i] <= '9') ||
		    (i == 0 && ex->error[i] == '-'), "error chars");
	fz_check(ex->error[0] != '0', "error zero");
	fz_check(!(ex->flags & SG_EX_TIMED_OUT) || ex->error[0] == '\0',
	    "timed out with an error");
	fz_check((ex->flags & ~(SG_EX_TIMED_OUT | SG_EX_STATUS_UNKNOWN |
	    SG_EX_TARGET_UNKNOWN)) == 0, "flags");
	fz_check(ex->status == 0, "status");
	fz_check(ex->end_ns >= ex->start_ns, "end before start");
}

static void
fz_check_stream(const struct kafka_stream *s)
{
	fz_check(s->phase <= 2, "phase");
	fz_check(s->size_len <= 4, "size_len");
	fz_check(s->head_len <= KAFKA_HEAD_LEN, "head_len");
	fz_check(s->phase != 1 || s->left <= s->size, "left");
	fz_check(s->phase != 1 || s->head_len <= s->size, "head past size");
}

static void
fz_check_conn(const struct kafka_conn *c)
{
	fz_check(c->role <= SG_ROLE_CLIENT, "conn role");
	fz_check(c->npending <= KAFKA_MAX_PENDING, "npending");
	fz_check(c->first < KAFKA_MAX_PENDING, "first");
	for (unsigned i = 0; i < c->npending && i < KAFKA_MAX_PENDING; i++)
		fz_check(c->pending[(c->first + i) % KAFKA_MAX_PENDING]
		    .topic_len < KAFKA_TOPIC_MAX, "topic_len");
	fz_check_stream(&c->req);
	fz_check_stream(&c->resp);
}

static void
fz_kafka_emit(void *ctx, const struct sg_exchange *ex)
{
	(void)ctx;
	fz_check_exchange(ex);
}

/* One read or write: the payload is what was captured; op may add bytes
 * past the capture. */
static void
fz_kafka_data(struct kafka_conn *c, int op, uint64_t ts, const uint8_t *p,
    size_t n)
{
	uint64_t extra = (uint64_t)((op >> 3) & 15) *
	    ((op & 0x80) != 0 ? 4096 : 7);

	kafka_on_data(c, (op >> 2) & 1, ts, n + extra, n > 0 ? p : NULL, n,
	    fz_kafka_emit, NULL);
}

static void
fz_kafka(struct fz_in *in, uint8_t role)
{
	struct kafka_conn c;
	const uint8_t *p;
	uint64_t ts = FZ_STEP;
	size_t n;
	int op, len;

	kafka_conn_init(&c, role);
	while ((op = fz_byte(in)) >= 0 && (len = fz_byte(in)) >= 0) {
		p = fz_take(in, (size_t)len, &n);
		ts += FZ_STEP;
		switch (op & 3) {
		case 2:
			kafka_expire(&c, ts, (uint64_t)(op >> 2) * FZ_STEP,
			    fz_kafka_emit, NULL);
			break;
		case 3:
			if (op & 4) {
				kafka_on_close(&c, ts, fz_kafka_emit, NULL);
				break;
			}
			/* FALLTHROUGH */
		default:
			fz_kafka_data(&c, op, ts, p, n);
			break;
		}
		fz_check_conn(&c);
		(void)kafka_idle(&c);
		(void)kafka_sniff(p, n, (uint8_t)(op & 1), 9092);
	}
	kafka_on_close(&c, ts + FZ_STEP, fz_kafka_emit, NULL);
	fz_check_conn(&c);
	fz_check(kafka_idle(&c), "idle after close");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int mode;

	if ((mode = fz_byte(&in)) < 0)
		return 0;
	fz_kafka(&in, (uint8_t)((mode >> 1) % 3));
	return 0;
}
