#include "otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "otlp_conf.h"
#include "otlp_encode.h"
#include "otlp_send.h"
#include "self.h"

struct otlp_signal_state {
	struct otlp_sender *sender;
	struct otlp_target  target;      /* what sender was made for */
	uint64_t            encode_errors;
};

static struct {
	struct otlp_signal_state    sig[2];
	struct otlp_resource_extra  extra;
	struct sg_span             *batch;
	uint32_t                    nbatch;
	uint32_t                    batch_size;
	uint32_t                    batch_timeout_ms;
	uint64_t                    batch_deadline;  /* 0: batch empty */
	uint8_t                    *snap;
	size_t                      snaplen;
	uint32_t                    interval_ms;
	uint64_t                    next_metrics;
	uint64_t                    ttl_ns;          /* idle series left out */
} O;

static void
otlp_target_of(const struct sg_config *c, const struct sg_otlp_dest *d,
    struct otlp_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->url, sizeof(t->url), "%s", d->url);
	t->protocol = d->grpc ? OTLP_PROTO_GRPC : OTLP_PROTO_HTTP;
	t->json = d->json;
	snprintf(t->headers, sizeof(t->headers), "%s", d->headers);
	t->gzip = d->gzip;
	snprintf(t->ca_file, sizeof(t->ca_file), "%s", c->otlp_ca_file);
	t->insecure = c->otlp_insecure;
	snprintf(t->resolve, sizeof(t->resolve), "%s", d->resolve);
	t->timeout_ms = 10000;
	t->max_queue_items = d->max_queue_size;
}

/* The loader restarts an exporter started without -O when OTLP export
 * is added, so this only lasts until then. */
static void
otlp_not_ready(void)
{
	static bool logged;

	if (logged)
		return;
	logged = true;
	sg_log(SG_LOG_WARN, "OTLP export configured but libcurl is not "
	    "loaded (started without -O): nothing is sent over OTLP");
}

static void
otlp_configure_signal(const struct sg_config *c, enum sg_otlp_sig sig)
{
	struct otlp_signal_state *st = &O.sig[sig];
	struct sg_otlp_dest d;
	struct otlp_target t;
	char err[256];

	if (sg_otlp_dest(c, sig, &d, err, sizeof(err)) < 0) {
		sg_log(SG_LOG_ERR, "%s", err);
		d.enabled = false;
	}
	if (!d.enabled) {
		otlp_sender_free(st->sender);
		st->sender = NULL;
		return;
	}
	if (!otlp_send_ready()) {
		otlp_not_ready();
		return;
	}
	otlp_target_of(c, &d, &t);
	if (st->sender != NULL && memcmp(&t, &st->target, sizeof(t)) == 0)
		return;
	otlp_sender_free(st->sender);
	st->target = t;
	st->sender = otlp_sender_new(sig, &t);
	sg_log(SG_LOG_INFO, "OTLP %s to %s (%s%s)",
	    sg_otlp_sig_name(sig), t.url,
	    t.protocol == OTLP_PROTO_GRPC ? "grpc" : t.json ? "http/json" :
	    "http/protobuf",
	    t.gzip ? ", gzip" : "");
}

void
otlp_configure(const struct sg_config *c)
{
	char err[256];
	struct sg_span *b;

	if (otlp_resource_extra_parse(&O.extra, c->resource_attributes, err,
	    sizeof(err)) < 0) {
		sg_log(SG_LOG_ERR, "resource_attributes: %s", err);
		O.extra.n = 0;
	}
	if (c->host_name[0] != '\0')
		snprintf(O.extra.host_name, sizeof(O.extra.host_name), "%s",
		    c->host_name);
	else
		gethostname(O.extra.host_name, sizeof(O.extra.host_name) - 1);
	otlp_configure_signal(c, SG_OTLP_TRACES);
	otlp_configure_signal(c, SG_OTLP_METRICS);
	if (c->traces.batch_size != O.batch_size) {
		/* Send what is batched before the size changes. */
		O.batch_deadline = 1;
		otlp_tick();
		b = realloc(O.batch, (size_t)c->traces.batch_size * sizeof(*b));
		if (b == NULL)
			sg_fatal("out of memory for a batch of %u spans",
			    c->traces.batch_size);
		O.batch = b;
		O.batch_size = c->traces.batch_size;
	}
	O.batch_timeout_ms = c->traces.batch_timeout_ms;
	O.ttl_ns = (uint64_t)c->metrics.ttl_ms * 1000000u;
	if (c->metrics.interval_ms != O.interval_ms) {
		O.interval_ms = c->metrics.interval_ms;
		O.next_metrics = sg_mono_ms() + O.interval_ms;
	}
}

static void
otlp_flush_spans(void)
{
	struct otlp_signal_state *st = &O.sig[SG_OTLP_TRACES];
	uint8_t *buf;
	size_t len;

	O.batch_deadline = 0;
	if (O.nbatch == 0)
		return;
	if (otlp_encode_traces(O.batch, O.nbatch, &O.extra, st->target.json,
	    &buf, &len) < 0)
		st->encode_errors += O.nbatch;
	else
		otlp_sender_enqueue(st->sender, buf, len, O.nbatch);
	O.nbatch = 0;
}

void
otlp_span(const struct sg_span *s)
{
	if (O.sig[SG_OTLP_TRACES].sender == NULL || O.batch == NULL)
		return;
	O.batch[O.nbatch++] = *s;
	if (O.batch_deadline == 0)
		O.batch_deadline = sg_mono_ms() + O.batch_timeout_ms;
	if (O.nbatch == O.batch_size)
		otlp_flush_spans();
}

void
otlp_snapshot(const uint8_t *snap, size_t len)
{
	uint8_t *copy;

	if (O.sig[SG_OTLP_METRICS].sender == NULL)
		return;
	if ((copy = malloc(len)) == NULL)
		return;   /* the previous one is sent instead */
	memcpy(copy, snap, len);
	free(O.snap);
	O.snap = copy;
	O.snaplen = len;
}

/* Cumulative temporality: the latest snapshot carries everything. */
static void
otlp_send_metrics(void)
{
	struct otlp_signal_state *st = &O.sig[SG_OTLP_METRICS];
	uint8_t *buf;
	size_t len;

	if (st->sender == NULL || O.snap == NULL)
		return;
	if (otlp_encode_metrics(O.snap, O.snaplen, &O.extra, O.ttl_ns,
	    st->target.json, &buf, &len) < 0)
		st->encode_errors++;
	else
		otlp_sender_enqueue(st->sender, buf, len, 1);
}

void
otlp_self_stats(uint64_t *self)
{
	struct otlp_send_stats ss[2] = { 0 };

	for (int i = 0; i < 2; i++)
		if (O.sig[i].sender != NULL)
			otlp_sender_stats(O.sig[i].sender, &ss[i]);
	self[SG_SELF_OTLP_SENT_TRACES] = ss[0].sent_items;
	self[SG_SELF_OTLP_SENT_METRICS] = ss[1].sent_items;
	self[SG_SELF_OTLP_DROPPED_TRACES] = ss[0].dropped_items +
	    O.sig[0].encode_errors;
	self[SG_SELF_OTLP_DROPPED_METRICS] = ss[1].dropped_items +
	    O.sig[1].encode_errors;
	self[SG_SELF_OTLP_RETRIES_TRACES] = ss[0].retries;
	self[SG_SELF_OTLP_RETRIES_METRICS] = ss[1].retries;
	self[SG_SELF_OTLP_QUEUED_TRACES] = ss[0].queued_items;
	self[SG_SELF_OTLP_QUEUED_METRICS] = ss[1].queued_items;
}

int
otlp_tick(void)
{
	uint64_t now = sg_mono_ms();
	uint64_t next = now + 1000;

	if (O.batch_deadline != 0 && now >= O.batch_deadline)
		otlp_flush_spans();
	if (O.sig[SG_OTLP_METRICS].sender != NULL && now >= O.next_metrics) {
		otlp_send_metrics();
		O.next_metrics = now + O.interval_ms;
	}
	if (O.batch_deadline != 0 && O.batch_deadline < next)
		next = O.batch_deadline;
	if (O.sig[SG_OTLP_METRICS].sender != NULL && O.next_metrics < next)
		next = O.next_metrics;
	return next > now ? (int)(next - now) : 0;
}

/* Items still queued for delivery, both signals. */
static uint64_t
otlp_queued(uint64_t q[2])
{
	struct otlp_send_stats ss;

	for (int i = 0; i < 2; i++) {
		q[i] = 0;
		if (O.sig[i].sender != NULL) {
			otlp_sender_stats(O.sig[i].sender, &ss);
			q[i] = ss.queued_items;
		}
	}
	return q[0] + q[1];
}

void
otlp_finish(uint64_t deadline_ms)
{
	struct timespec pause = { 0, 20 * 1000000L };
	uint64_t q[2];

	otlp_flush_spans();
	otlp_send_metrics();
	while (otlp_queued(q) > 0 && sg_mono_ms() < deadline_ms)
		nanosleep(&pause, NULL);
	if (q[0] + q[1] > 0)
		sg_log(SG_LOG_WARN, "stop: not delivered within the shutdown "
		    "timeout: %llu spans, %llu metric snapshots",
		    (unsigned long long)q[0], (unsigned long long)q[1]);
	otlp_shutdown();
}

void
otlp_shutdown(void)
{
	otlp_flush_spans();
	for (int i = 0; i < 2; i++) {
		otlp_sender_free(O.sig[i].sender);
		O.sig[i].sender = NULL;
	}
	free(O.batch);
	free(O.snap);
	O.batch = NULL;
	O.snap = NULL;
}
