/*
 * spyglass-collector: turns raw socket events into HTTP exchanges, spans
 * and RED metrics.  It handles attacker-controlled bytes, so it runs with
 * no capabilities, an unprivileged uid and a seccomp filter that allows
 * no network socket: its only peers are the loader and the exporter.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "events.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "otlp_conf.h"
#include "procs.h"
#include "sampler.h"
#include "sandbox.h"
#include "spans.h"

#define SG_CONNS_CAPACITY  16384
#define SG_MAX_SERIES      2000
#define SG_SNAPSHOT_MS     1000
#define SG_SPAN_BATCH      (64u << 10)
#define SG_SNAPSHOT_MAX    SG_IPC_MAX_MSG

static struct {
	struct sg_config   cfg;
	uint8_t           *config_msg;     /* as received, to forward */
	size_t             config_len;
	struct sg_conns   *conns;
	struct sg_metrics *metrics;
	uint64_t           series_ttl_ns;   /* idle series freed after */
	nng_socket         in, out;
	int                exporter_connects;
	int64_t            clock_offset;
	struct wire_w      spans;
	uint8_t            span_buf[SG_SPAN_BATCH];
	uint32_t           nspans;
	size_t             spans_hdr;       /* offset of the span count */
	uint64_t           spans_total;
	uint64_t           spans_unsampled;
	bool               want_spans;      /* printer or OTLP traces on */
	uint64_t           lost_ipc;        /* spans and snapshots not sent */
	struct sg_stat     loader_stats[SG_STATS_MAX];
	uint16_t           nloader_stats;
} C;

/* ---- spans towards the exporter ---- */

static void
sg_spans_reset(void)
{
	wire_w_init(&C.spans, C.span_buf, sizeof(C.span_buf));
	wire_put_u32(&C.spans, 0);   /* count, patched at flush */
	C.nspans = 0;
}

static void
sg_spans_flush(void)
{
	if (C.nspans == 0)
		return;
	for (int i = 0; i < 4; i++)
		C.span_buf[i] = (uint8_t)(C.nspans >> (8 * i));
	if (sg_ipc_send(C.out, SG_MSG_SPANS, C.span_buf, C.spans.len) != 0)
		C.lost_ipc += C.nspans;
	sg_spans_reset();
}

static void
sg_spans_add(const struct sg_span *s)
{
	size_t mark = C.spans.len;

	msg_put_span(&C.spans, s);
	if (C.spans.err) {
		/* Full: send what is there and start a new batch. */
		C.spans.err = 0;
		C.spans.len = mark;
		sg_spans_flush();
		msg_put_span(&C.spans, s);
		if (C.spans.err) {
			sg_spans_reset();
			C.lost_ipc++;
			return;
		}
	}
	C.nspans++;
}

/* conns.c hands over each finished exchange. */
static void
sg_on_exchange(void *ctx, const struct sg_conn *conn,
    const struct http1_exchange *ex)
{
	struct sg_span s;

	(void)ctx;
	spans_build(&s, conn, ex, procs_find(conn->pid), C.clock_offset,
	    C.want_spans);
	metrics_record_span(C.metrics, &s);
	C.spans_total++;
	if (!C.want_spans)
		return;
	if (!sampler_keep(C.cfg.traces.sampler, C.cfg.traces.sampler_arg,
	    s.trace_id)) {
		C.spans_unsampled++;
		return;
	}
	sg_spans_add(&s);
}

/* ---- message handlers ---- */

static void
sg_reseed_target_info(const struct sg_proc_info *p, void *ctx)
{
	(void)ctx;
	metrics_service_seen(C.metrics, p);
}

/* How long an idle series is kept: as long as the export that shows it
 * longest, among those that are on, needs it; each export leaves out
 * what is idle past its own ttl. */
static uint64_t
sg_series_ttl_ns(const struct sg_config *c)
{
	struct sg_otlp_dest d;
	char err[256];
	uint32_t ms = c->prom.port != 0 ? c->prom.ttl_ms : 0;

	/* A bad endpoint is still on: it fails in the exporter. */
	(void)sg_otlp_dest(c, SG_OTLP_METRICS, &d, err, sizeof(err));
	if (d.enabled && c->metrics.ttl_ms > ms)
		ms = c->metrics.ttl_ms;
	/* Neither is on: nobody reads them, the Prometheus ttl will do. */
	if (ms == 0)
		ms = c->prom.ttl_ms;
	return (uint64_t)ms * 1000000u;
}

static void
sg_apply_config(const struct sg_config *cfg)
{
	struct sg_config nc = *cfg;

	if (C.metrics == NULL ||
	    memcmp(&nc.prom.duration_histogram, &C.cfg.prom.duration_histogram,
	    sizeof(nc.prom.duration_histogram)) != 0 ||
	    memcmp(&nc.prom.size_histogram, &C.cfg.prom.size_histogram,
	    sizeof(nc.prom.size_histogram)) != 0) {
		metrics_free(C.metrics);
		C.metrics = metrics_new(&nc.prom.duration_histogram,
		    &nc.prom.size_histogram, SG_MAX_SERIES);
		if (C.metrics == NULL)
			sg_fatal("out of memory for metrics");
		procs_foreach(sg_reseed_target_info, NULL);
	}
	if (C.conns == NULL ||
	    nc.ebpf.http_request_timeout_ms != C.cfg.ebpf.http_request_timeout_ms) {
		conns_free(C.conns);
		C.conns = conns_new(SG_CONNS_CAPACITY,
		    (uint64_t)nc.ebpf.http_request_timeout_ms * 1000000u,
		    sg_on_exchange, NULL);
		if (C.conns == NULL)
			sg_fatal("out of memory for connections");
	}
	C.cfg = nc;
	C.series_ttl_ns = sg_series_ttl_ns(&nc);
	C.want_spans = nc.trace_printer != SG_PRINTER_DISABLED ||
	    nc.traces.s.endpoint[0] != '\0' || nc.otlp_endpoint[0] != '\0';
	sg_log_set_level(nc.log_level);
}

static int
sg_on_config(const struct sg_msg *m, void *ctx)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config nc;
	uint8_t *copy;

	(void)ctx;
	sg_config_defaults(&nc);
	if (sg_config_decode(&nc, m->payload, m->size, "loader", err,
	    sizeof(err)) < 0)
		sg_fatal("configuration from the loader refused: %s", err);
	sg_apply_config(&nc);
	if ((copy = malloc(m->size)) == NULL)
		sg_fatal("out of memory");
	memcpy(copy, m->payload, m->size);
	free(C.config_msg);
	C.config_msg = copy;
	C.config_len = m->size;
	/* The exporter takes its settings from the same message. */
	if (sg_ipc_send(C.out, SG_MSG_CONFIG, copy, m->size) != 0)
		sg_log(SG_LOG_DEBUG, "exporter not connected yet");
	return 0;
}

static int
sg_on_events(const struct sg_msg *m, void *ctx)
{
	size_t off = 0;

	(void)ctx;
	while (off < m->size) {
		uint32_t sz;

		if (m->size - off < sizeof(sz))
			sg_fatal("event batch: truncated size at %zu", off);
		memcpy(&sz, m->payload + off, sizeof(sz));
		off += sizeof(sz);
		if (sz > m->size - off)
			sg_fatal("event batch: event of %u bytes overruns", sz);
		conns_handle_event(C.conns, m->payload + off, sz);
		off += sz;
	}
	return 0;
}

static int
sg_on_proc(const struct sg_msg *m, void *ctx)
{
	struct sg_proc_info p;
	struct wire_r r;

	(void)ctx;
	wire_r_init(&r, m->payload, m->size);
	if (msg_get_proc(&r, &p) < 0 || !wire_r_done(&r))
		sg_fatal("malformed process message");
	if (!p.present)
		conns_forget_pid(C.conns, p.pid);
	procs_update(&p);
	metrics_service_seen(C.metrics, &p);
	return 0;
}

static int
sg_on_stats(const struct sg_msg *m, void *ctx)
{
	struct wire_r r;
	uint16_t n;

	(void)ctx;
	wire_r_init(&r, m->payload, m->size);
	if (msg_get_stats(&r, C.loader_stats, &n) < 0 || !wire_r_done(&r))
		sg_fatal("malformed stats message");
	C.nloader_stats = n;
	return 0;
}

static const struct sg_dispatch sg_collector_dispatch[] = {
	{ SG_MSG_CONFIG, 2, sg_on_config },
	{ SG_MSG_EVENTS, 0, sg_on_events },
	{ SG_MSG_PROC,   1, sg_on_proc },
	{ SG_MSG_STATS,  2, sg_on_stats },
};

/* ---- periodic work ---- */

static void
sg_publish_stats(void)
{
	struct sg_conns_stats cs;

	for (uint16_t i = 0; i < C.nloader_stats; i++)
		metrics_set_stat(C.metrics, C.loader_stats[i].name,
		    C.loader_stats[i].value);
	conns_stats(C.conns, &cs);
	metrics_set_stat(C.metrics, "spyglass_bad_events_total{stage=\"collector\"}",
	    cs.bad_events);
	metrics_set_stat(C.metrics, "spyglass_connections_evicted_total",
	    cs.evicted);
	metrics_set_stat(C.metrics, "spyglass_http_requests_timed_out_total",
	    cs.timed_out);
	metrics_set_stat(C.metrics, "spyglass_connections_active", cs.active);
	metrics_set_stat(C.metrics, "spyglass_unparsed_bytes_total",
	    cs.unparsed);
	metrics_set_stat(C.metrics, "spyglass_spans_total", C.spans_total);
	metrics_set_stat(C.metrics, "spyglass_spans_unsampled_total",
	    C.spans_unsampled);
	metrics_set_stat(C.metrics,
	    "spyglass_events_lost_total{stage=\"collector_ipc\"}", C.lost_ipc);
}

static void
sg_send_snapshot(void)
{
	/* A mapping of its own each time (see sg_child_args_parse): the
	 * pages a large snapshot touched go back once series expire. */
	uint8_t *buf = malloc(SG_SNAPSHOT_MAX);
	size_t len;

	sg_publish_stats();
	if (buf == NULL) {
		C.lost_ipc++;
		return;
	}
	len = metrics_snapshot(C.metrics, buf, SG_SNAPSHOT_MAX,
	    sg_clock_ns(CLOCK_REALTIME));
	if (len == 0)
		sg_log(SG_LOG_WARN, "metric snapshot larger than %u bytes",
		    SG_SNAPSHOT_MAX);
	else if (sg_ipc_send(C.out, SG_MSG_METRICS, buf, len) != 0)
		C.lost_ipc++;
	free(buf);
}

static void
sg_check_exporter_peer(void)
{
	int connects = sg_ipc_connects(C.out);

	if (connects != C.exporter_connects && C.config_msg != NULL) {
		if (sg_ipc_send(C.out, SG_MSG_CONFIG, C.config_msg,
		    C.config_len) != 0)
			return;   /* try again on the next tick */
		C.exporter_connects = connects;
	}
}

int
main(int argc, char **argv)
{
	struct sg_child_args args;
	uint64_t next_tick = 0;
	int recvfd;

	sg_child_args_parse(argc, argv, "spyglass-collector", &args);
	sg_log_init("spyglass-collector", args.level);

	if (sg_ipc_dial(&C.in, SG_IPC_PULL, args.runtime_dir,
	    SG_IPC_EVENTS_SOCK) < 0 ||
	    sg_ipc_dial(&C.out, SG_IPC_PUSH, args.runtime_dir,
	    SG_IPC_EXPORT_SOCK) < 0)
		return 1;
	if (sg_sandbox_collector(args.sandbox_debug) < 0)
		sg_fatal("cannot apply the seccomp filter");
	if (args.selftest != NULL)
		return sg_sandbox_selftest(args.selftest) == 0 ? 0 : 1;

	spans_init();
	sg_config_defaults(&C.cfg);
	sg_apply_config(&C.cfg);
	sg_spans_reset();
	C.clock_offset = spans_clock_offset();

	if (nng_socket_get_int(C.in, NNG_OPT_RECVFD, &recvfd) != 0)
		sg_fatal("nng: no receive fd");
	for (;;) {
		struct pollfd pfd = { .fd = recvfd, .events = POLLIN };
		struct sg_msg m;
		uint64_t now;

		/* poll() rather than a receive timeout: each of those arms
		 * nng's timer thread, which cost 1 % of a CPU when idle. */
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			sg_fatal("poll: %s", strerror(errno));
		metrics_set_time(C.metrics, sg_clock_ns(CLOCK_MONOTONIC));
		/* Until none is left, or a malformed one (logged, dropped;
		 * the descriptor stays readable for the rest). */
		while (sg_ipc_recv(C.in, &m, 0) == 0) {
			sg_ipc_dispatch(sg_collector_dispatch,
			    sizeof(sg_collector_dispatch) /
			    sizeof(sg_collector_dispatch[0]), &m, NULL);
			sg_ipc_msg_free(&m);
		}
		sg_spans_flush();
		now = sg_clock_ns(CLOCK_MONOTONIC);
		if (now >= next_tick) {
			sg_check_exporter_peer();
			C.clock_offset = spans_clock_offset();
			metrics_set_time(C.metrics, now);
			conns_tick(C.conns, now);
			sg_spans_flush();
			/* Freed series are small blocks all over the heap,
			 * of which glibc gives back only the top by itself. */
			if (metrics_expire(C.metrics, C.series_ttl_ns) > 0)
				malloc_trim(0);
			sg_send_snapshot();
			next_tick = now + SG_SNAPSHOT_MS * 1000000ull;
		}
	}
}
