/*
 * spyglass-collector: turns raw socket events into HTTP exchanges, spans
 * and RED metrics.  It handles attacker-controlled bytes, so it runs with
 * no capabilities, an unprivileged uid and a seccomp filter that allows
 * no socket() and no connect(): it listens on its two channels before the
 * filter, and only the loader and the exporter may connect to them.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "child.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "events.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "procs.h"
#include "routes.h"
#include "select_conf.h"
#include "sampler.h"
#include "sandbox.h"
#include "self.h"
#include "servicegraph.h"
#include "spanmetrics.h"
#include "spans.h"
#include "tracelink.h"

#define SG_CONNS_CAPACITY  16384
#define SG_TRACE_THREADS   4096	/* threads serving requests at once */
#define SG_MAX_SERIES      2000
#define SG_SNAPSHOT_MS     1000
#define SG_FIRST_TICK_MS   100
#define SG_SPAN_BATCH      (64u << 10)
#define SG_SNAPSHOT_MAX    SG_IPC_MAX_MSG

static struct {
	struct sg_config   cfg;
	struct sg_conns   *conns;
	struct tracelink  *tracelink;       /* with conns, for spans */
	struct sg_metrics *metrics;
	struct spanmetrics spanmetrics;     /* families in metrics */
	struct servicegraph graph;          /* families in metrics */
	struct sg_routes  *routes;
	uint64_t           routes_ignored[2];   /* metrics, traces */
	uint64_t           self_exported[2];    /* metrics, traces */
	uint64_t           filtered;        /* [filter.application.*] */
	uint64_t           series_ttl_ns;   /* idle series freed after */
	struct sg_chan     in;             /* from the loader */
	nng_socket         out;
	struct sg_ipc_peer exporter;       /* the one peer of out */
	int64_t            clock_offset;
	struct wire_w      spans;
	uint8_t            span_buf[SG_SPAN_BATCH];
	uint32_t           nspans;
	size_t             spans_hdr;       /* offset of the span count */
	uint32_t           apps;         /* 1 << enum sg_app counted */
	uint64_t           spans_total;
	uint64_t           ev_first;     /* the events taken (msg.h) */
	uint64_t           ev_next;
	uint64_t           busy_since;   /* woke or last yielded (mono ns) */
	bool               ev_seen;      /* ev_first is set */
	bool               configured;   /* the loader's configuration came */
	struct sg_early   *early;        /* batches waiting for it, oldest
	                                  * first */
	struct sg_early  **early_tail;
	size_t             early_bytes;
	uint64_t           lost_channel; /* events passed over in the
	                                  * channel (chan.h): numbers missing
	                                  * between two batches taken */
	uint64_t           lost_early;   /* events of batches dropped from
	                                  * it, the oldest, past its bound */
	uint64_t           spans_unsampled;
	uint64_t           tctx_invalid;    /* traceparent ignored */
	uint64_t           tstate_invalid;  /* tracestate ignored */
	uint64_t           tstate_cut;      /* tracestate members left out */
	bool               want_spans;      /* printer or OTLP traces on */
	bool               proc_net;        /* application_process: count
	                                     * each process's socket bytes */
	uint64_t           lost_ipc;        /* spans and snapshots not sent */
	uint64_t           self[SG_SELF_MAX];
	bool               stopping;        /* the last snapshot went */
} C = {
	.exporter = { .name = "exporter" },
	.early_tail = &C.early,
};

/*
 * Event batches that come before the loader's configuration.  A restarted
 * collector is handed first the batches queued for the one before it,
 * then its configuration.  Counted under the defaults, they would carry
 * the wrong buckets, labels and routes, and the configuration could then
 * drop what they counted (sg_apply_config starts the metrics again when
 * the histograms differ).  So they wait for it, up to SG_EARLY_MAX bytes;
 * past that the oldest are dropped and counted.
 */
#define SG_EARLY_MAX	(4u << 20)

struct sg_early {
	struct sg_early *next;
	size_t           size;
	uint8_t          payload[];
};

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

/* The route of span s ([routes]): for HTTP from its path, for gRPC its
 * method.  Returns SG_ROUTE_* flags (ignored for metrics, traces). */
static unsigned
sg_route(struct sg_span *s)
{
	size_t n;

	if (s->flags & SG_SPAN_TARGET_UNKNOWN)
		return 0;
	n = strnlen(s->target, sizeof(s->target));
	if (s->app == SG_APP_GRPC) {
		memcpy(s->route, s->target, n);
		s->route[n] = '\0';
		return 0;
	}
	if (s->app != SG_APP_HTTP)
		return 0;
	/* low-cardinality: one trie per service */
	return routes_find(C.routes, s->service_name, sizeof(s->service_name),
	    s->target, n, s->route, sizeof(s->route));
}

/*
 * exclude_otel_instrumented_services, as Beyla decides it: a process seen
 * to send OTLP itself (a successful client call to /v1/traces or
 * /v1/metrics, or to the OTLP gRPC services' Export) exports that signal
 * on its own; from then on the sensor leaves that signal of it out.
 * Returns PROCS_OTEL_* of the process.
 */
static unsigned
sg_self_exported(const struct sg_span *s)
{
	static const struct {
		uint8_t     app;
		const char *target;
		unsigned    kind;
	} exports[] = {
		{ SG_APP_HTTP, "/v1/traces", PROCS_OTEL_TRACES },
		{ SG_APP_HTTP, "/v1/metrics", PROCS_OTEL_METRICS },
		{ SG_APP_GRPC, "/opentelemetry.proto.collector.trace.v1."
		  "TraceService/Export", PROCS_OTEL_TRACES },
		{ SG_APP_GRPC, "/opentelemetry.proto.collector.metrics.v1."
		  "MetricsService/Export", PROCS_OTEL_METRICS },
	};
	unsigned add = 0, had, now;

	if (!C.cfg.discovery.exclude_otel_instrumented_services)
		return 0;
	if (s->kind == SG_SPAN_CLIENT && !(s->flags & (SG_SPAN_TARGET_UNKNOWN |
	    SG_SPAN_STATUS_UNKNOWN)) && (s->app == SG_APP_GRPC ?
	    s->status == 0 : s->status >= 200 && s->status < 300))
		for (size_t i = 0; i < sizeof(exports) / sizeof(exports[0]); i++)
			if (exports[i].app == s->app &&
			    strncmp(s->target, exports[i].target,
			    sizeof(s->target)) == 0)
				add = exports[i].kind;
	had = procs_otel(s->pid, 0);
	if (add == 0 || (had & add))
		return had;
	now = procs_otel(s->pid, add);
	sg_log(SG_LOG_INFO, "pid %u (%s) sends OpenTelemetry %s itself: the "
	    "sensor leaves its %s out (exclude_otel_instrumented_services)",
	    s->pid, s->service_name, add == PROCS_OTEL_TRACES ? "traces" :
	    "metrics", add == PROCS_OTEL_TRACES ? "spans" : "metrics");
	return now;
}

/* [filter.application.ATTR]: whether span s passes every filter.  A
 * filter on an attribute the span does not have (url_path of a gRPC
 * call) lets it pass. */
static bool
sg_filters_pass(const struct sg_span *s)
{
	char buf[16];

	for (unsigned i = 0; i < C.cfg.attributes.nfilter; i++) {
		const struct sg_attr_filter *f = &C.cfg.attributes.filter[i];
		int a = sg_attr_find(f->attr);
		const char *v = a >= 0 ? spans_attr(s, a, buf, sizeof(buf)) :
		    NULL;

		if (v == NULL)
			continue;
		if (f->match[0] != '\0' && !sg_globs_match(f->match, v))
			return false;
		if (f->not_match[0] != '\0' && sg_globs_match(f->not_match, v))
			return false;
	}
	return true;
}

/* application_service_graph: the span's edge, its other end looked up
 * in the connection table (a process the sensor follows too). */
static void
sg_graph_record(const struct sg_conn *conn, const struct sg_span *s)
{
	struct servicegraph_peer peer = { 0 };
	const struct sg_conn *pc;

	if (!servicegraph_on(&C.graph))
		return;
	if ((pc = conns_peer(C.conns, conn)) != NULL) {
		peer.followed = true;
		peer.proc = procs_find(pc->pid);
	}
	servicegraph_record(&C.graph, s, &peer);
}

/* Every metric a span makes: RED, span metrics, service graph. */
static void
sg_metrics_record(const struct sg_conn *conn, const struct sg_span *s)
{
	metrics_record_span(C.metrics, s);
	spanmetrics_record(&C.spanmetrics, s);
	sg_graph_record(conn, s);
}

/* conns.c hands over each finished exchange. */
static void
sg_on_exchange(void *ctx, const struct sg_conn *conn,
    const struct sg_exchange *ex)
{
	struct sg_span s;
	unsigned rf, otel;

	(void)ctx;
	/* A parser may carry an app not asked for (HTTP/2: HTTP and gRPC). */
	if (ex->app >= SG_APP_MAX || !(C.apps & (1u << ex->app)))
		return;
	if (ex->flags & SG_EX_TRACE_INVALID)
		C.tctx_invalid++;
	C.tstate_invalid += !!(ex->tracestate_flags & SG_EX_TSTATE_INVALID);
	C.tstate_cut += !!(ex->tracestate_flags & SG_EX_TSTATE_CUT);
	spans_build(&s, conn, ex, procs_find(conn->pid), C.clock_offset,
	    C.want_spans);
	rf = sg_route(&s);
	otel = sg_self_exported(&s);
	if (!sg_filters_pass(&s)) {
		C.filtered++;
		return;
	}
	if (rf & SG_ROUTE_NO_METRICS)
		C.routes_ignored[0]++;
	else if (otel & PROCS_OTEL_METRICS)
		C.self_exported[0]++;
	else
		sg_metrics_record(conn, &s);
	C.spans_total++;
	if (!C.want_spans)
		return;
	if (rf & SG_ROUTE_NO_TRACES) {
		C.routes_ignored[1]++;
		return;
	}
	if (otel & PROCS_OTEL_TRACES) {
		C.self_exported[1]++;
		return;
	}
	if (!sampler_keep(C.cfg.traces.sampler, C.cfg.traces.sampler_arg,
	    s.trace_id, spans_parent(conn, ex))) {
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

/* The apps [metrics] instrumentations asks for: 1 << enum sg_app. */
static uint32_t
sg_apps_enabled(uint32_t instr)
{
	uint32_t apps = 0;

	if (instr & (1u << SG_INSTR_HTTP))
		apps |= 1u << SG_APP_HTTP;
	if (instr & (1u << SG_INSTR_GRPC))
		apps |= 1u << SG_APP_GRPC;
	if (instr & (1u << SG_INSTR_SQL))
		apps |= 1u << SG_APP_POSTGRESQL | 1u << SG_APP_MYSQL;
	if (instr & (1u << SG_INSTR_REDIS))
		apps |= 1u << SG_APP_REDIS;
	if (instr & (1u << SG_INSTR_MEMCACHED))
		apps |= 1u << SG_APP_MEMCACHED;
	if (instr & (1u << SG_INSTR_KAFKA))
		apps |= 1u << SG_APP_KAFKA;
	return apps;
}

/* The loader checked the patterns: a failure here is out of memory. */
static void
sg_apply_routes(const struct sg_config *c)
{
	char err[256];

	routes_free(C.routes);
	C.routes = routes_new(c->routes.patterns, c->routes.ignored_patterns,
	    c->routes.unmatched, c->routes.ignore_mode,
	    c->routes.wildcard_char[0], c->routes.max_path_segment_cardinality,
	    err, sizeof(err));
	if (C.routes == NULL)
		sg_fatal("routes: %s", err);
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
		spanmetrics_attach(&C.spanmetrics, C.metrics);
		servicegraph_attach(&C.graph, C.metrics);
		procs_foreach(sg_reseed_target_info, NULL);
	}
	if (C.conns == NULL ||
	    nc.ebpf.http_request_timeout_ms != C.cfg.ebpf.http_request_timeout_ms) {
		conns_free(C.conns);
		tracelink_free(C.tracelink);
		C.conns = conns_new(SG_CONNS_CAPACITY,
		    (uint64_t)nc.ebpf.http_request_timeout_ms * 1000000u,
		    sg_on_exchange, NULL);
		C.tracelink = tracelink_new(SG_TRACE_THREADS,
		    (uint64_t)nc.ebpf.http_request_timeout_ms * 1000000u);
		if (C.conns == NULL || C.tracelink == NULL)
			sg_fatal("out of memory for connections");
	}
	/* Links cost a context per request: only for spans that go out. */
	conns_set_tracelink(C.conns, nc.export_spans ? C.tracelink : NULL);
	conns_set_timeout(C.conns, SG_APP_GRPC,
	    (uint64_t)nc.ebpf.grpc_request_timeout_ms * 1000000u);
	C.apps = sg_apps_enabled(nc.instrumentations);
	proto_set_sql_heuristic(nc.ebpf.heuristic_sql_detect);
	conns_set_protocols(C.conns, proto_for_apps(C.apps));
	if (C.routes == NULL ||
	    memcmp(&nc.routes, &C.cfg.routes, sizeof(nc.routes)) != 0)
		sg_apply_routes(&nc);
	metrics_set_host(C.metrics, nc.host_name);
	metrics_select(C.metrics, &nc);
	C.proc_net = metrics_process_on(C.metrics);
	spanmetrics_select(&C.spanmetrics, &nc);
	servicegraph_select(&C.graph, &nc);
	C.cfg = nc;
	C.series_ttl_ns = (uint64_t)nc.series_ttl_ms * 1000000u;
	C.want_spans = nc.export_spans;
	sg_log_set_level(nc.log_level);
}

static void	sg_early_take(void);

static int
sg_on_config(const struct sg_msg *m, void *ctx)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config nc;

	(void)ctx;
	sg_config_defaults(&nc);
	if (sg_config_decode(&nc, m->payload, m->size, "loader", err,
	    sizeof(err)) < 0)
		sg_fatal("configuration from the loader refused: %s", err);
	sg_apply_config(&nc);
	if (!C.configured) {
		C.configured = true;
		sg_early_take();
	}
	return 0;
}

/* The exporter's pid: the only process that may take our output. */
static int
sg_on_peer(const struct sg_msg *m, void *ctx)
{
	uint32_t pid;

	(void)ctx;
	if (msg_get_peer(m->payload, m->size, &pid) < 0)
		sg_fatal("malformed peer message");
	atomic_store(&C.exporter.pid, (int)pid);
	return 0;
}

/* application_process: a data event's bytes, to its process's network
 * I/O (conns_handle_event checks the rest of the event). */
static void
sg_count_net(const uint8_t *ev, size_t sz)
{
	struct sg_data_event d;

	if (sz < SG_DATA_EVENT_HDR_SIZE)
		return;
	memcpy(&d, ev, SG_DATA_EVENT_HDR_SIZE);
	if (d.hdr.type == SG_EV_DATA && d.len > 0)
		procs_net_add(d.hdr.pid, d.dir, (uint64_t)d.len);
}

/*
 * A batch holds up to a thousand events, a millisecond of work: a service
 * sharing the CPU waited for all of it (a 50,000-request burst's p99 was
 * 2.8 times the uninstrumented one).  Once the collector has worked
 * SG_YIELD_AFTER_NS since it woke or last yielded, the CPU is offered
 * back, while the channel is calm enough for the collector to fall
 * behind a little (bench/RESULTS.md, 2026-11-27).  The clock is read
 * every SG_YIELD_CHECK events: a yield is a syscall, and on a
 * paravirtualised guest a trip through the hypervisor, so that one every
 * 64 events was 40 % of the collector's CPU at nginx saturation
 * (bench/RESULTS.md, 2026-11-28 06:41).
 */
#define SG_YIELD_CHECK    64
#define SG_YIELD_AFTER_NS 200000

static void
sg_yield_to_services(void)
{
	static unsigned n;
	uint64_t now;

	if (++n % SG_YIELD_CHECK != 0)
		return;
	now = sg_clock_ns(CLOCK_MONOTONIC);
	if (now - C.busy_since < SG_YIELD_AFTER_NS || !sg_chan_calm(&C.in))
		return;
	sched_yield();
	C.busy_since = sg_clock_ns(CLOCK_MONOTONIC);
}

/* The events of a batch (SG_MSG_EVENTS: u64 first, then u32 size and
 * the event, each); a malformed one is fatal, as any bad message. */
static uint64_t
sg_batch_count(const uint8_t *p, size_t size)
{
	size_t off = sizeof(uint64_t);
	uint64_t n = 0;

	while (off < size) {
		uint32_t sz;

		if (size - off < sizeof(sz))
			sg_fatal("event batch: truncated size at %zu", off);
		memcpy(&sz, p + off, sizeof(sz));
		off += sizeof(sz);
		if (sz > size - off)
			sg_fatal("event batch: event of %u bytes overruns", sz);
		off += sz;
		n++;
	}
	return n;
}

/* The batch's events, counted: they are the collector's from here.  A
 * malformed batch is fatal, as any bad message. */
static void
sg_events_take(const uint8_t *p, size_t size)
{
	size_t off = sizeof(uint64_t);
	uint64_t first;

	memcpy(&first, p, sizeof(first));
	if (C.ev_next != 0 && first < C.ev_next)
		sg_fatal("event batch: numbered %" PRIu64 ", after %" PRIu64,
		    first, C.ev_next);
	/* Numbers are given as batches are written: a gap is batches
	 * passed over unread. */
	if (C.ev_next != 0)
		C.lost_channel += first - C.ev_next;
	C.ev_next = first;
	while (off < size) {
		uint32_t sz;

		if (size - off < sizeof(sz))
			sg_fatal("event batch: truncated size at %zu", off);
		memcpy(&sz, p + off, sizeof(sz));
		off += sizeof(sz);
		if (sz > size - off)
			sg_fatal("event batch: event of %u bytes overruns", sz);
		if (C.proc_net)
			sg_count_net(p + off, sz);
		conns_handle_event(C.conns, p + off, sz);
		sg_yield_to_services();
		C.ev_next++;
		off += sz;
	}
}

/* The oldest batch waiting, out of the queue (the caller frees it). */
static struct sg_early *
sg_early_pop(void)
{
	struct sg_early *e = C.early;

	if (e == NULL)
		return NULL;
	if ((C.early = e->next) == NULL)
		C.early_tail = &C.early;
	C.early_bytes -= e->size;
	return e;
}

/* A batch that will not be counted: its events are reported lost. */
static void
sg_early_drop(struct sg_early *e)
{
	C.lost_early += sg_batch_count(e->payload, e->size);
	free(e);
}

/* A batch before the configuration waits for it (SG_EARLY_MAX). */
static void
sg_early_keep(const uint8_t *p, size_t size)
{
	struct sg_early *e;

	while (C.early != NULL && C.early_bytes + size > SG_EARLY_MAX)
		sg_early_drop(sg_early_pop());
	if (size > SG_EARLY_MAX || (e = malloc(sizeof(*e) + size)) == NULL) {
		C.lost_early += sg_batch_count(p, size);
		return;
	}
	e->next = NULL;
	e->size = size;
	memcpy(e->payload, p, size);
	*C.early_tail = e;
	C.early_tail = &e->next;
	C.early_bytes += size;
}

/* The configuration came: the batches that waited are taken, in order. */
static void
sg_early_take(void)
{
	struct sg_early *e;

	while ((e = sg_early_pop()) != NULL) {
		sg_events_take(e->payload, e->size);
		free(e);
	}
}

static int
sg_on_events(const struct sg_msg *m, void *ctx)
{
	uint64_t first;

	(void)ctx;
	/* The first batch handed to this collector, taken or not: those
	 * before it died with its predecessor (msg.h); those dropped while
	 * waiting are counted here. */
	memcpy(&first, m->payload, sizeof(first));
	if (!C.ev_seen) {
		C.ev_first = first;
		C.ev_seen = true;
	}
	if (!C.configured)
		sg_early_keep(m->payload, m->size);
	else
		sg_events_take(m->payload, m->size);
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

/*
 * Resource use of selected processes (application_process), read from
 * /proc by the loader.  A sample of a process we do not know as that
 * process (not selected, or its pid reused since) is passed over: the
 * process message that tells us comes first on the same channel.
 */
static int
sg_on_pstats(const struct sg_msg *m, void *ctx)
{
	struct sg_pstats_hdr h;
	struct sg_pstat ps;
	uint64_t net[2];
	struct wire_r r;

	(void)ctx;
	wire_r_init(&r, m->payload, m->size);
	if (msg_get_pstats_hdr(&r, &h) < 0)
		sg_fatal("malformed process samples");
	for (uint32_t i = 0; i < h.n; i++) {
		const struct sg_proc_info *p;

		if (msg_get_pstat(&r, &ps) < 0)
			sg_fatal("malformed process sample %u of %u", i, h.n);
		if ((p = procs_find(ps.pid)) != NULL &&
		    p->start_time == ps.start_time)
			metrics_record_process(C.metrics, p, &ps, h.sample_ns,
			    h.ncpu, procs_net(ps.pid, &net[0], &net[1]) ? net :
			    NULL);
	}
	if (!wire_r_done(&r))
		sg_fatal("process samples: trailing bytes");
	return 0;
}

static void sg_send_snapshot(void);

/*
 * The sensor stops: what we hold goes to the exporter (the exchanges
 * finished so far as spans, a last snapshot; requests still awaiting
 * their response counted as cut off), then the stop, which comes after
 * them on the same channel.  The loader ends us once the exporter is
 * done.
 */
static int
sg_on_stop(const struct sg_msg *m, void *ctx)
{
	(void)ctx;
	/* batches still waiting for a configuration never came to count */
	while (C.early != NULL)
		sg_early_drop(sg_early_pop());
	conns_finish(C.conns);
	sg_spans_flush();
	sg_send_snapshot();
	if (sg_ipc_send(C.out, SG_MSG_STOP, m->payload, m->size) != 0)
		sg_log(SG_LOG_WARN, "stop: the exporter did not take the "
		    "last spans and snapshot");
	C.stopping = true;
	return 0;
}

/* What the loader may send us; anything else is fatal. */
static const struct sg_dispatch sg_collector_dispatch[] = {
	{ SG_MSG_CONFIG, 2, sg_on_config },
	{ SG_MSG_EVENTS, 8, sg_on_events },
	{ SG_MSG_PROC,   1, sg_on_proc },
	{ SG_MSG_PEER,   4, sg_on_peer },
	{ SG_MSG_STOP,   4, sg_on_stop },
	{ SG_MSG_PSTATS, 14, sg_on_pstats },
};

/* ---- periodic work ---- */

static void
sg_send_stats(void)
{
	struct sg_conns_stats cs;
	struct tracelink_stats ls;
	uint8_t buf[1024];
	struct wire_w w;

	conns_stats(C.conns, &cs);
	C.self[SG_SELF_BAD_COLLECTOR] = cs.bad_events;
	C.self[SG_SELF_EVICTED] = cs.evicted;
	C.self[SG_SELF_TIMED_OUT] = cs.timed_out;
	C.self[SG_SELF_CUT_OFF] = cs.cut_off;
	C.self[SG_SELF_CONNS_ACTIVE] = cs.active;
	C.self[SG_SELF_UNPARSED] = cs.unparsed;
	C.self[SG_SELF_ROUTES_IGNORED_METRICS] = C.routes_ignored[0];
	C.self[SG_SELF_ROUTES_IGNORED_TRACES] = C.routes_ignored[1];
	C.self[SG_SELF_SELF_EXPORTED_METRICS] = C.self_exported[0];
	C.self[SG_SELF_SELF_EXPORTED_TRACES] = C.self_exported[1];
	C.self[SG_SELF_FILTERED] = C.filtered;
	C.self[SG_SELF_TLS_CIPHERTEXT] = cs.tls_records;
	C.self[SG_SELF_UNPAIRED] = cs.unpaired;
	C.self[SG_SELF_REQ_DROPPED] = cs.dropped;
	C.self[SG_SELF_UNKNOWN_FIELDS] = cs.unknown;
	C.self[SG_SELF_SPANS] = C.spans_total;
	C.self[SG_SELF_SPANS_UNSAMPLED] = C.spans_unsampled;
	C.self[SG_SELF_TRACE_CONTEXT_INVALID] = C.tctx_invalid;
	C.self[SG_SELF_TRACE_STATE_INVALID] = C.tstate_invalid;
	C.self[SG_SELF_TRACE_STATE_CUT] = C.tstate_cut;
	tracelink_stats(C.tracelink, &ls);
	C.self[SG_SELF_TRACE_LINKS_THREAD] = ls.thread_links;
	C.self[SG_SELF_TRACE_LINKS_PEER] = ls.peer_links;
	C.self[SG_SELF_TRACE_THREADS_FORGOTTEN] = ls.threads_evicted;
	C.self[SG_SELF_TRACE_LINKS_WIRE] = ls.wire_links;
	C.self[SG_SELF_PROPAGATED_HEADER] = cs.propagated[0];
	C.self[SG_SELF_PROPAGATED_TCPOPT] = cs.propagated[1];
	C.self[SG_SELF_PROPAGATION_DIFFERS] = ls.kernel_differs;
	C.self[SG_SELF_PROPAGATION_UNUSED] = cs.kctx_unused;
	C.self[SG_SELF_CONNS_UNINDEXED] = cs.unindexed;
	C.self[SG_SELF_LOST_COLLECTOR_IPC] = C.lost_ipc;
	C.self[SG_SELF_LOST_COLLECTOR_START] = C.lost_early;
	C.self[SG_SELF_LOST_CHANNEL] = C.lost_channel;
	C.self[SG_SELF_SERIES_DROPPED] = metrics_series_dropped(C.metrics);
	C.self[SG_SELF_IPC_REJECTED_COLLECTOR] =
	    atomic_load(&C.exporter.rejected);
	wire_w_init(&w, buf, sizeof(buf));
	self_put_stats(&w, SG_SELF_COLLECTOR, C.self);
	if (w.err || sg_ipc_send(C.out, SG_MSG_STATS, buf, w.len) != 0)
		C.lost_ipc++;
}

static void
sg_send_snapshot(void)
{
	/* A mapping of its own each time (see sg_child_args_parse): the
	 * pages a large snapshot touched go back once series expire. */
	uint8_t *buf = malloc(SG_SNAPSHOT_MAX);
	size_t len;

	sg_send_stats();
	if (buf == NULL) {
		C.lost_ipc++;
		return;
	}
	/* both 0 until an event was taken (msg.h), though ev_first is set
	 * by the first batch handed over, taken or waiting */
	len = metrics_snapshot(C.metrics, buf, SG_SNAPSHOT_MAX,
	    sg_clock_ns(CLOCK_REALTIME), C.ev_next != 0 ? C.ev_first : 0,
	    C.ev_next);
	if (len == 0)
		sg_log(SG_LOG_WARN, "metric snapshot larger than %u bytes",
		    SG_SNAPSHOT_MAX);
	else if (sg_ipc_send(C.out, SG_MSG_METRICS, buf, len) != 0)
		C.lost_ipc++;
	free(buf);
}

/* The wait until the next tick (whole milliseconds, rounded up).  The
 * channel wakes the collector for events; waking more often for nothing
 * cost a trip through the hypervisor ten times a second when idle. */
static int
sg_ms_until(uint64_t tick_ns)
{
	uint64_t now = sg_clock_ns(CLOCK_MONOTONIC);

	if (tick_ns <= now)
		return 0;
	if (tick_ns - now >= SG_SNAPSHOT_MS * 1000000ull)
		return SG_SNAPSHOT_MS;
	return (int)((tick_ns - now + 999999) / 1000000);
}

int
main(int argc, char **argv)
{
	struct sg_child_args args;
	uint64_t next_tick, now;

	sg_child_args_parse(argc, argv, "spyglass-collector", &args);
	sg_log_init("spyglass-collector", args.level);

	/* The loader started us with our channel (not for a self-test);
	 * the exporter is known once the loader names it. */
	if (args.selftest == NULL &&
	    sg_chan_attach(&C.in, SG_CHAN_FD_MEM, SG_CHAN_FD_WAKE) < 0)
		sg_fatal("no channel from the loader on descriptors %d and "
		    "%d: %s", SG_CHAN_FD_MEM, SG_CHAN_FD_WAKE, strerror(errno));
	if (sg_ipc_listen(&C.out, SG_IPC_PUSH, args.runtime_dir,
	    SG_IPC_SPANS, &C.exporter) < 0)
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
	/* The first tick no sooner than the old 100 ms poll gave it: its
	 * snapshot should follow the loader's configuration, which comes
	 * through the channel just after the start. */
	next_tick = sg_clock_ns(CLOCK_MONOTONIC) + SG_FIRST_TICK_MS * 1000000ull;

	for (;;) {
		struct pollfd pfd = { .fd = sg_chan_wake_fd(&C.in),
		    .events = POLLIN };
		struct sg_msg m;
		int rv;

		if (poll(&pfd, 1, sg_ms_until(C.stopping ? UINT64_MAX :
		    next_tick)) < 0 && errno != EINTR)
			sg_fatal("poll: %s", strerror(errno));
		sg_chan_clear_wake(&C.in);
		C.busy_since = sg_clock_ns(CLOCK_MONOTONIC);
		metrics_set_time(C.metrics, C.busy_since);
		/* Each is released once acted on: a message we die on is
		 * not handed to our successor (chan.h). */
		while ((rv = sg_chan_recv(&C.in, &m)) == 0) {
			sg_ipc_dispatch(sg_collector_dispatch,
			    sizeof(sg_collector_dispatch) /
			    sizeof(sg_collector_dispatch[0]), &m, NULL);
			sg_chan_release(&C.in);
		}
		/* rv < 0: what was pending was passed over (logged); the
		 * events in it are reported lost by their numbers */
		sg_spans_flush();
		now = sg_clock_ns(CLOCK_MONOTONIC);
		/* After the stop nothing more is sent: the exporter has
		 * what there was and may be gone. */
		if (now >= next_tick && !C.stopping) {
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
