/*
 * OTLP delivery against a scripted HTTP/1.1 server in a thread of this
 * process (no node needed): it accepts one request per connection, records
 * its header and body, and answers the next scripted status.  One test
 * races a thread enqueuing into a full queue against the sender's own.  gRPC is
 * checked by hand against tests/otlp/receiver.js.
 *
 * Exit 77 (skip) when no loopback socket can be bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "log.h"
#include "otlp_send.h"

#define MAX_REQS   16
#define MAX_SCRIPT 8

struct srv_req {
	char     head[4096];
	uint8_t *body;
	size_t   len;
	double   at;              /* seconds, CLOCK_MONOTONIC */
};

struct srv {
	int          fd;
	int          port;
	pthread_t    thread;
	atomic_bool  stop;
	pthread_mutex_t mu;
	/* script: status and extra header line per request; past its end,
	 * `dflt` */
	int          status[MAX_SCRIPT];
	const char  *extra[MAX_SCRIPT];
	int          nscript;
	int          dflt;
	const char  *dflt_extra;
	struct srv_req reqs[MAX_REQS];
	int          nreqs;
	/* all the requests answered (reqs keeps the first MAX_REQS), those
	 * answered 2xx, and the sum of their bodies read as numbers */
	uint64_t     nanswered, n2xx, sum2xx;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
srv_read_request(int c, struct srv_req *r)
{
	char buf[65536];
	size_t have = 0, hlen, clen = 0;
	char *end, *cl;
	ssize_t n;

	for (;;) {
		if (have == sizeof(buf) - 1)
			return -1;
		if ((n = read(c, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(end - buf) + 4;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)hlen, buf);
	if ((cl = strcasestr(r->head, "\r\ncontent-length:")) != NULL)
		clen = strtoul(cl + 17, NULL, 10);
	if ((r->body = malloc(clen + 1)) == NULL)
		return -1;
	r->len = have - hlen > clen ? clen : have - hlen;
	memcpy(r->body, buf + hlen, r->len);
	while (r->len < clen) {
		if ((n = read(c, r->body + r->len, clen - r->len)) <= 0)
			return -1;
		r->len += (size_t)n;
	}
	r->body[r->len] = '\0';
	r->at = now();
	return 0;
}

static void
srv_answer(struct srv *s, int c)
{
	struct srv_req r = { .body = NULL };
	char out[512];
	const char *extra;
	int st, n;

	if (srv_read_request(c, &r) < 0) {
		free(r.body);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->nreqs < s->nscript) {
		st = s->status[s->nreqs];
		extra = s->extra[s->nreqs];
	} else {
		st = s->dflt;
		extra = s->dflt_extra;
	}
	s->nanswered++;
	if (st >= 200 && st < 300) {
		s->n2xx++;
		s->sum2xx += strtoull((const char *)r.body, NULL, 10);
	}
	if (s->nreqs < MAX_REQS)
		s->reqs[s->nreqs++] = r;
	else
		free(r.body);
	pthread_mutex_unlock(&s->mu);
	n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n%s%s\r\n", st, extra ? extra : "",
	    extra ? "\r\n" : "");
	(void)!write(c, out, (size_t)n);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((c = accept(s->fd, NULL, NULL)) < 0)
			continue;
		srv_answer(s, c);
		close(c);
	}
	return NULL;
}

static int
srv_listen(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
setup(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->fd = srv_listen(&s->port);
	assert_true(s->fd >= 0);
	s->dflt = 200;
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct srv *s = *state;

	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	for (int i = 0; i < s->nreqs; i++)
		free(s->reqs[i].body);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return 0;
}

static void
script(struct srv *s, int st, const char *extra)
{
	pthread_mutex_lock(&s->mu);
	s->status[s->nscript] = st;
	s->extra[s->nscript++] = extra;
	pthread_mutex_unlock(&s->mu);
}

/* The answer past the script, for a server already serving. */
static void
answer_by_default(struct srv *s, int st, const char *extra)
{
	pthread_mutex_lock(&s->mu);
	s->dflt = st;
	s->dflt_extra = extra;
	pthread_mutex_unlock(&s->mu);
}

/* Wait (10 s at most) until the server has answered n requests, or n
 * with 2xx. */
static void
wait_answered(struct srv *s, uint64_t n, bool only_2xx)
{
	double end = now() + 10;
	uint64_t got;

	do {
		pthread_mutex_lock(&s->mu);
		got = only_2xx ? s->n2xx : s->nanswered;
		pthread_mutex_unlock(&s->mu);
		if (got >= n)
			return;
		usleep(1000);
	} while (now() < end);
	fail_msg("timed out: %llu answered", (unsigned long long)got);
}

static int
nreqs(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->nreqs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void
target(struct otlp_target *t, const struct srv *s)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d/v1/traces",
	    s->port);
	t->protocol = OTLP_PROTO_HTTP;
	t->timeout_ms = 5000;
	t->max_queue_items = 1000;
}

static void
enqueue_str(struct otlp_sender *o, const char *str, uint32_t items)
{
	uint8_t *buf = (uint8_t *)strdup(str);

	assert_non_null(buf);
	otlp_sender_enqueue(o, buf, strlen(str), items);
}

/* Wait (10 s at most) until sent + dropped reach n. */
static void
wait_done(struct otlp_sender *o, uint64_t n, struct otlp_send_stats *st)
{
	double end = now() + 10;

	do {
		otlp_sender_stats(o, st);
		if (st->sent_items + st->dropped_items >= n)
			return;
		usleep(10000);
	} while (now() < end);
	fail_msg("timed out: sent %llu dropped %llu",
	    (unsigned long long)st->sent_items,
	    (unsigned long long)st->dropped_items);
}

static void
assert_body(const struct srv_req *r, const char *want)
{
	assert_int_equal(r->len, strlen(want));
	assert_memory_equal(r->body, want, r->len);
}

static void
test_success(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;

	target(&t, s);
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "hello-otlp", 3);
	wait_done(o, 3, &st);
	assert_int_equal(st.sent_items, 3);
	assert_int_equal(st.dropped_items, 0);
	assert_int_equal(st.retries, 0);
	assert_int_equal(st.queued_items, 0);
	assert_int_equal(st.queued_bytes, 0);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 1);
	assert_non_null(strstr(s->reqs[0].head, "POST /v1/traces HTTP/1.1"));
	assert_non_null(strcasestr(s->reqs[0].head,
	    "\r\nContent-Type: application/x-protobuf\r\n"));
	assert_null(strcasestr(s->reqs[0].head, "content-encoding"));
	assert_body(&s->reqs[0], "hello-otlp");
}

static void
test_retry_503(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;

	script(s, 503, NULL);
	target(&t, s);
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "again", 2);
	wait_done(o, 2, &st);
	assert_int_equal(st.sent_items, 2);
	assert_int_equal(st.dropped_items, 0);
	assert_int_equal(st.retries, 1);
	otlp_sender_free(o);
	/* one failed attempt, one delivery, nothing sent twice */
	assert_int_equal(nreqs(s), 2);
	assert_body(&s->reqs[0], "again");
	assert_body(&s->reqs[1], "again");
}

static void
test_retry_after(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	double gap;

	script(s, 429, "Retry-After: 1");
	target(&t, s);
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "later", 1);
	wait_done(o, 1, &st);
	assert_int_equal(st.sent_items, 1);
	assert_int_equal(st.retries, 1);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 2);
	/* the first backoff is at most 200 ms without Retry-After */
	gap = s->reqs[1].at - s->reqs[0].at;
	assert_true(gap >= 0.95);
	assert_true(gap < 3);
}

static void
test_400_dropped(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;

	script(s, 400, NULL);
	target(&t, s);
	assert_non_null(o = otlp_sender_new(SG_OTLP_METRICS, &t));
	enqueue_str(o, "bad", 4);
	wait_done(o, 4, &st);
	assert_int_equal(st.dropped_items, 4);
	assert_int_equal(st.sent_items, 0);
	assert_int_equal(st.retries, 0);
	/* the next one goes out */
	enqueue_str(o, "good", 5);
	wait_done(o, 9, &st);
	assert_int_equal(st.sent_items, 5);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 2);
	assert_body(&s->reqs[1], "good");
}

static void
test_overflow(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	double end = now() + 5;

	/* the first attempt fails and holds the sender in a 1 s backoff */
	script(s, 503, "Retry-After: 1");
	target(&t, s);
	t.max_queue_items = 10;
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "AAAA", 5);
	do {
		otlp_sender_stats(o, &st);
		usleep(5000);
	} while (st.retries == 0 && now() < end);
	assert_int_equal(st.retries, 1);
	enqueue_str(o, "BBBB", 5);
	otlp_sender_stats(o, &st);
	assert_int_equal(st.queued_items, 10);
	assert_int_equal(st.dropped_items, 0);
	/* 15 > 10: the oldest (A, backing off) goes */
	enqueue_str(o, "CCCC", 5);
	otlp_sender_stats(o, &st);
	assert_int_equal(st.queued_items, 10);
	assert_int_equal(st.queued_bytes, 8);
	assert_int_equal(st.dropped_items, 5);
	wait_done(o, 15, &st);
	assert_int_equal(st.sent_items, 10);
	assert_int_equal(st.dropped_items, 5);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 3);
	assert_body(&s->reqs[0], "AAAA");
	assert_body(&s->reqs[1], "BBBB");
	assert_body(&s->reqs[2], "CCCC");
}

/* A thread that enqueues as fast as it can until stopped.  Each body is
 * its item count in decimal, for the server to add up. */
struct flood {
	struct otlp_sender *o;
	pthread_t   thread;
	atomic_bool stop;
	uint64_t    enqueued;     /* items; read once the thread is joined */
};

static void *
flood_main(void *arg)
{
	struct flood *f = arg;

	for (uint32_t i = 0; !atomic_load(&f->stop); i++) {
		/* varied, so that one request counted for another shows */
		uint32_t items = 1 + i % 3;
		char digit[2] = { (char)('0' + items), '\0' };
		uint8_t *buf = (uint8_t *)strdup(digit);

		if (buf == NULL)
			continue;
		otlp_sender_enqueue(f->o, buf, 1, items);
		f->enqueued += items;
	}
	return NULL;
}

/* cpu: NULL for anywhere */
static void
flood_start(struct flood *f, struct otlp_sender *o, const cpu_set_t *cpu)
{
	pthread_attr_t a;

	f->o = o;
	f->enqueued = 0;
	atomic_init(&f->stop, false);
	assert_int_equal(pthread_attr_init(&a), 0);
	if (cpu != NULL)
		assert_int_equal(pthread_attr_setaffinity_np(&a, sizeof(*cpu),
		    cpu), 0);
	assert_int_equal(pthread_create(&f->thread, &a, flood_main, f), 0);
	pthread_attr_destroy(&a);
}

/* Items enqueued. */
static uint64_t
flood_stop(struct flood *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	return f->enqueued;
}

/* The first two CPUs this thread may run on; false when it has one. */
static bool
two_cpus(cpu_set_t *a, cpu_set_t *b)
{
	cpu_set_t all;
	int n = 0;

	CPU_ZERO(a);
	CPU_ZERO(b);
	if (pthread_getaffinity_np(pthread_self(), sizeof(all), &all) != 0)
		return false;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &all))
			CPU_SET(c, n++ == 0 ? a : b);
	return n == 2;
}

/* A sender whose thread runs on cpu (NULL: anywhere): a thread starts
 * with the affinity of the thread that makes it. */
static struct otlp_sender *
sender_new_on(const cpu_set_t *cpu, const struct otlp_target *t)
{
	struct otlp_sender *o;
	cpu_set_t all;

	if (cpu == NULL)
		return otlp_sender_new(SG_OTLP_TRACES, t);
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(all),
	    &all), 0);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(*cpu),
	    cpu), 0);
	o = otlp_sender_new(SG_OTLP_TRACES, t);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(all),
	    &all), 0);
	return o;
}

/* The end of an outage: the queue is at its bound, so that every enqueue
 * drops the oldest while the sender has a request in flight, through
 * failed attempts (retried at once: Retry-After: 0), then successful ones.
 * The request in flight must never be dropped (the sender would free it
 * twice), and every item must be counted once: sent, dropped or queued. */
static void
test_overflow_in_flight(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	struct flood f;
	cpu_set_t cpu_sender, cpu_flood;
	bool pinned = two_cpus(&cpu_sender, &cpu_flood);
	double end;
	uint64_t enqueued, sum2xx, n503;

	answer_by_default(s, 503, "Retry-After: 0");
	target(&t, s);
	t.max_queue_items = 8;
	/* The sender and the flood on CPUs of their own: sharing one, they
	 * would seldom run at the same time, and the race seldom be hit. */
	assert_non_null(o = sender_new_on(pinned ? &cpu_sender : NULL, &t));
	flood_start(&f, o, pinned ? &cpu_flood : NULL);
	wait_answered(s, 200, false);
	answer_by_default(s, 200, NULL);
	wait_answered(s, 200, true);
	enqueued = flood_stop(&f);
	otlp_sender_stats(o, &st);
	assert_int_equal(st.sent_items + st.dropped_items + st.queued_items,
	    enqueued);
	end = now() + 10;
	while (st.queued_items > 0 && now() < end) {
		usleep(1000);
		otlp_sender_stats(o, &st);
	}
	otlp_sender_free(o);
	assert_int_equal(st.queued_items, 0);
	assert_int_equal(st.queued_bytes, 0);
	assert_int_equal(st.sent_items + st.dropped_items, enqueued);
	pthread_mutex_lock(&s->mu);
	sum2xx = s->sum2xx;
	n503 = s->nanswered - s->n2xx;
	pthread_mutex_unlock(&s->mu);
	assert_int_equal(st.sent_items, sum2xx);
	assert_int_equal(st.retries, n503);
}

static void
test_gzip(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	char want[4000], got[8000];
	z_stream z;

	for (size_t i = 0; i < sizeof(want) - 1; i++)
		want[i] = (char)('a' + i % 7);
	want[sizeof(want) - 1] = '\0';
	target(&t, s);
	t.gzip = true;
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, want, 1);
	wait_done(o, 1, &st);
	assert_int_equal(st.sent_items, 1);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 1);
	assert_non_null(strcasestr(s->reqs[0].head,
	    "\r\nContent-Encoding: gzip\r\n"));
	assert_true(s->reqs[0].len < strlen(want));
	/* gzip magic, then inflate (15 + 16: gzip only) */
	assert_int_equal(s->reqs[0].body[0], 0x1f);
	assert_int_equal(s->reqs[0].body[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = s->reqs[0].body;
	z.avail_in = (uInt)s->reqs[0].len;
	z.next_out = (Bytef *)got;
	z.avail_out = sizeof(got);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, strlen(want));
	assert_memory_equal(got, want, strlen(want));
	inflateEnd(&z);
}

static void
test_headers(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;

	target(&t, s);
	snprintf(t.headers, sizeof(t.headers),
	    "api-key=secret%%20value%%3D%%2C, X-Tenant = acme,bad header=x,"
	    "crlf=a%%0d%%0aEvil: 1");
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "h", 1);
	wait_done(o, 1, &st);
	otlp_sender_free(o);
	assert_int_equal(nreqs(s), 1);
	assert_non_null(strstr(s->reqs[0].head,
	    "\r\napi-key: secret value=,\r\n"));
	assert_non_null(strstr(s->reqs[0].head, "\r\nx-tenant: acme\r\n"));
	assert_null(strstr(s->reqs[0].head, "bad header"));
	assert_null(strcasestr(s->reqs[0].head, "evil"));
}

static void
test_free_while_backing_off(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	double end = now() + 5, t0;

	s->dflt = 503;
	s->dflt_extra = "Retry-After: 30";
	target(&t, s);
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "never", 1);
	do {
		otlp_sender_stats(o, &st);
		usleep(5000);
	} while (st.retries == 0 && now() < end);
	assert_int_equal(st.retries, 1);
	t0 = now();
	otlp_sender_free(o);
	assert_true(now() - t0 < 0.5);
	assert_int_equal(nreqs(s), 1);
}

/* Connection refused is retried with backoff (no Retry-After). */
static void
test_refused(void **state)
{
	struct srv *s = *state;
	struct otlp_target t;
	struct otlp_send_stats st;
	struct otlp_sender *o;
	double end = now() + 5, t0;
	int port, fd = srv_listen(&port);

	(void)s;
	assert_true(fd >= 0);
	close(fd);		/* nobody listens there now */
	target(&t, s);
	snprintf(t.url, sizeof(t.url), "http://127.0.0.1:%d/v1/traces", port);
	assert_non_null(o = otlp_sender_new(SG_OTLP_TRACES, &t));
	enqueue_str(o, "x", 1);
	do {
		otlp_sender_stats(o, &st);
		usleep(5000);
	} while (st.retries < 3 && now() < end);
	assert_true(st.retries >= 3);
	assert_int_equal(st.sent_items, 0);
	assert_int_equal(st.queued_items, 1);
	t0 = now();
	otlp_sender_free(o);
	assert_true(now() - t0 < 0.5);
}

static void
test_unresolved_refused(void **state)
{
	struct otlp_target t;

	target(&t, *state);
	snprintf(t.url, sizeof(t.url), "http://collector.example:4318/v1/traces");
	assert_null(otlp_sender_new(SG_OTLP_TRACES, &t));
	/* with a resolve entry it is accepted (and curl never resolves) */
	snprintf(t.resolve, sizeof(t.resolve),
	    "collector.example:4318:127.0.0.1");
	struct otlp_sender *o = otlp_sender_new(SG_OTLP_TRACES, &t);
	assert_non_null(o);
	otlp_sender_free(o);
	/* a CA file that was not read before the sandbox */
	target(&t, *state);
	snprintf(t.url, sizeof(t.url), "https://127.0.0.1:1/v1/traces");
	snprintf(t.ca_file, sizeof(t.ca_file), "/nonexistent/ca.pem");
	assert_null(otlp_sender_new(SG_OTLP_TRACES, &t));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_400_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_backing_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_refused, setup,
		    teardown),
	};
	int port, fd;

	sg_log_init("test_otlp_send", SG_LOG_WARN);
	if ((fd = srv_listen(&port)) < 0) {
		fprintf(stderr, "cannot bind 127.0.0.1: skipped\n");
		return 77;
	}
	close(fd);
	if (otlp_send_global_init(NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
