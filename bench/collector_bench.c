/*
 * The collector's hot path without IPC or BPF: data events laid out as
 * the BPF programs write them, through conns_handle_event (connection
 * table, the parser), span building and the RED metrics, as
 * spyglass-collector does for every exchange.  Keep-alive exchanges of
 * wrk against nginx (or pgbench's select, redis-benchmark's GET), spread
 * over a number of connections.
 *
 *   make bench/collector_bench
 *   bench/collector_bench [-p http|postgresql|redis] [-f FEATURES] [-x] [-s]
 *       [EXCHANGES [CONNECTIONS]]
 *   valgrind --tool=callgrind bench/collector_bench 100000 16
 *
 * -f takes [metrics] features (application_span,application_service_graph
 * add the span metrics and the service graph, with its peer lookup).
 * -x: every other connection is the process's own call to an upstream
 * (it writes the request and reads the response), as a proxy's: server
 * and client spans alternate.
 * -s: spans exported (a trace printer or OTLP on): their ids, the
 * sampler's verdict, and the trace links the collector then draws
 * (tracelink.h), as main.c does.
 *
 * Prints the time per exchange.  Under callgrind, instructions per
 * exchange do not depend on what else the machine is doing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "conns.h"
#include "events.h"
#include "metrics.h"
#include "procs.h"
#include "routes.h"
#include "servicegraph.h"
#include "spanmetrics.h"
#include "spans.h"
#include "sampler.h"
#include "tracelink.h"

#define BENCH_CONNS_CAPACITY 16384   /* as in collector/main.c */
#define BENCH_MAX_SERIES     4096
#define BENCH_PID            4242
#define BENCH_TRACE_THREADS  4096    /* as in collector/main.c */

/* An exchange as a server reads its request and writes its response. */
struct bench_proto {
	const char *name;
	uint16_t    port;
	const char *req;
	size_t      req_len;
	const char *resp;
	size_t      resp_len;
};

#define B(s) s, sizeof(s) - 1
static const struct bench_proto bench_protos[] = {
	{ "http", 18490,
	  B("GET /ok HTTP/1.1\r\nHost: 127.0.0.1:18490\r\n\r\n"),
	  B("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
	    "Date: Sun, 22 Nov 2026 08:00:00 GMT\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 3\r\n"
	    "Connection: keep-alive\r\n\r\nok\n") },
	/* pgbench's select, simple protocol: Query; RowDescription,
	 * DataRow, CommandComplete, ReadyForQuery */
	{ "postgresql", 5432,
	  B("Q\0\0\0\x3aSELECT abalance FROM pgbench_accounts WHERE aid = "
	    "42;\0"),
	  B("T\0\0\0\x21\0\x01" "abalance\0\0\0\x40\x06\0\x03\0\0\0\x17"
	    "\0\x04\xff\xff\xff\xff\0\0"
	    "D\0\0\0\x0b\0\x01\0\0\0\x01" "0"
	    "C\0\0\0\x0dSELECT 1\0"
	    "Z\0\0\0\x05I") },
	/* redis-benchmark's GET */
	{ "redis", 6379,
	  B("*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n"),
	  B("$3\r\nxxx\r\n") },
};
#undef B

struct bench {
	struct sg_metrics  *metrics;
	struct spanmetrics  spanmetrics;
	struct servicegraph graph;
	struct sg_conns    *conns;
	struct sg_routes   *routes;
	uint64_t            exchanges;
	bool                exported;	/* -s */
	uint64_t            kept;	/* spans the sampler kept */
};

/* As collector/main.c's sg_graph_record. */
static void
bench_graph(struct bench *b, const struct sg_conn *conn,
    const struct sg_span *s)
{
	struct servicegraph_peer peer = { 0 };
	const struct sg_conn *pc;

	if (!servicegraph_on(&b->graph))
		return;
	if ((pc = conns_peer(b->conns, conn)) != NULL) {
		peer.followed = true;
		peer.proc = procs_find(pc->pid);
	}
	servicegraph_record(&b->graph, s, &peer);
}

static void
bench_on_exchange(void *ctx, const struct sg_conn *conn,
    const struct sg_exchange *ex)
{
	struct bench *b = ctx;
	struct sg_span s;

	/* as collector/main.c does: an HTTP request's route by the default
	 * heuristic, the metrics, and with spans exported the sampler's
	 * verdict (the default, parentbased_always_on) */
	spans_build(&s, conn, ex, procs_find(conn->pid), 0, b->exported);
	if (s.app == SG_APP_HTTP)
		(void)routes_find(b->routes, s.service_name,
		    sizeof(s.service_name), s.target,
		    strnlen(s.target, sizeof(s.target)), s.route,
		    sizeof(s.route));
	metrics_record_span(b->metrics, &s);
	spanmetrics_record(&b->spanmetrics, &s);
	bench_graph(b, conn, &s);
	if (b->exported && sampler_keep(SG_SAMPLER_PB_ALWAYS_ON, 1.0,
	    s.trace_id, spans_parent(conn, ex)))
		b->kept++;
	b->exchanges++;
}

/* A server's read or write on its port; a client's (role
 * SG_ROLE_CLIENT) to the next port, its upstream. */
static size_t
bench_event(struct sg_data_event *e, uint64_t sock, uint8_t role,
    uint8_t dir, uint16_t port, const char *payload, size_t n)
{
	uint16_t ephemeral = (uint16_t)(40000 + sock % 20000);

	memset(e, 0, SG_DATA_EVENT_HDR_SIZE);
	e->hdr.type = SG_EV_DATA;
	e->hdr.pid = BENCH_PID;
	e->hdr.tid = BENCH_PID;
	e->conn.sock = sock;
	e->conn.family = 2;
	e->conn.lport = role == SG_ROLE_CLIENT ? ephemeral : port;
	e->conn.rport = role == SG_ROLE_CLIENT ? (uint16_t)(port + 1) :
	    ephemeral;
	memcpy(e->conn.laddr, "\x7f\x00\x00\x01", 4);
	memcpy(e->conn.raddr, "\x7f\x00\x00\x01", 4);
	e->len = (int64_t)n;
	e->captured = (uint16_t)n;
	e->dir = dir;
	e->role = role;
	memcpy(e->data, payload, n);
	return SG_DATA_EVENT_HDR_SIZE + n;
}

/* The process's metadata, as the loader sends it before its events. */
static void
bench_proc(void)
{
	struct sg_proc_info p;

	memset(&p, 0, sizeof(p));
	p.pid = BENCH_PID;
	p.present = 1;
	snprintf(p.service_name, sizeof(p.service_name), "nginx");
	snprintf(p.instance_id, sizeof(p.instance_id), "bench:%d", BENCH_PID);
	snprintf(p.exe, sizeof(p.exe), "/usr/sbin/nginx");
	procs_update(&p);
}

static const struct bench_proto *
bench_proto_named(const char *name)
{
	for (size_t i = 0; i < sizeof(bench_protos) / sizeof(bench_protos[0]);
	    i++)
		if (strcmp(bench_protos[i].name, name) == 0)
			return &bench_protos[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct bench_proto *bp = &bench_protos[0];
	struct sg_data_event *req, *resp;
	unsigned long n, nconn;
	struct sg_config cfg;
	struct sg_conns *t;
	struct bench b = { 0 };
	struct tracelink *tl = NULL;
	size_t req_size, resp_size;
	uint64_t t0, t1;

	char err[SG_CONFIG_ERR_MAX];
	bool proxy = false;

	sg_config_defaults(&cfg);
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-x") == 0 || strcmp(argv[1], "-s") == 0) {
			if (argv[1][1] == 'x')
				proxy = true;
			else
				b.exported = true;
			argc--;
			argv++;
			continue;
		}
		if (argc < 3)
			break;
		if (strcmp(argv[1], "-p") == 0)
			bp = bench_proto_named(argv[2]);
		else if (strcmp(argv[1], "-f") != 0 ||
		    sg_config_set(&cfg, "metrics", "features", argv[2],
		    "-f", err, sizeof(err)) < 0) {
			fprintf(stderr, "collector_bench: %s: %s\n", argv[1],
			    strcmp(argv[1], "-f") == 0 ? err : "unknown");
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	nconn = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
	if (bp == NULL || n == 0 || nconn == 0 ||
	    nconn > BENCH_CONNS_CAPACITY / 2) {
		fprintf(stderr, "usage: collector_bench [-p http|postgresql|"
		    "redis] [-f FEATURES] [-x] [-s] [EXCHANGES [1..%d "
		    "CONNECTIONS]]\n",
		    BENCH_CONNS_CAPACITY / 2);
		return 2;
	}
	spans_init();
	bench_proc();
	b.metrics = metrics_new(&cfg.prom.duration_histogram,
	    &cfg.prom.size_histogram, BENCH_MAX_SERIES);
	b.routes = routes_new(cfg.routes.patterns, cfg.routes.ignored_patterns,
	    cfg.routes.unmatched, cfg.routes.ignore_mode,
	    cfg.routes.wildcard_char[0],
	    cfg.routes.max_path_segment_cardinality, NULL, 0);
	metrics_select(b.metrics, &cfg);
	spanmetrics_attach(&b.spanmetrics, b.metrics);
	servicegraph_attach(&b.graph, b.metrics);
	spanmetrics_select(&b.spanmetrics, &cfg);
	servicegraph_select(&b.graph, &cfg);
	t = conns_new(BENCH_CONNS_CAPACITY,
	    (uint64_t)cfg.ebpf.http_request_timeout_ms * 1000000u,
	    bench_on_exchange, &b);
	b.conns = t;
	if (b.exported) {
		tl = tracelink_new(BENCH_TRACE_THREADS,
		    (uint64_t)cfg.ebpf.http_request_timeout_ms * 1000000u);
		if (tl == NULL || t == NULL) {
			fprintf(stderr, "collector_bench: out of memory\n");
			return 1;
		}
		conns_set_tracelink(t, tl);
	}
	req = calloc(nconn, sizeof(*req));
	resp = calloc(nconn, sizeof(*resp));
	if (b.metrics == NULL || t == NULL || req == NULL || resp == NULL) {
		fprintf(stderr, "collector_bench: out of memory\n");
		return 1;
	}
	/* Events built beforehand: only their timestamps change. */
	for (unsigned long c = 0; c < nconn; c++) {
		/* socket addresses as the kernel hands them out */
		uint64_t sock = 0xffff888100000000ULL + c * 0x880;
		bool client = proxy && c % 2 == 1;
		uint8_t role = client ? SG_ROLE_CLIENT : SG_ROLE_SERVER;

		req_size = bench_event(&req[c], sock, role, client ?
		    SG_DIR_WRITE : SG_DIR_READ, bp->port, bp->req, bp->req_len);
		resp_size = bench_event(&resp[c], sock, role, client ?
		    SG_DIR_READ : SG_DIR_WRITE, bp->port, bp->resp,
		    bp->resp_len);
	}
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	for (unsigned long i = 0; i < n; i++) {
		unsigned long c = i % nconn;
		uint64_t ts = 1000000 + i * 10000;

		req[c].hdr.ts_ns = ts;
		resp[c].hdr.ts_ns = ts + 5000;
		if (conns_handle_event(t, &req[c], req_size) != 0 ||
		    conns_handle_event(t, &resp[c], resp_size) != 0) {
			fprintf(stderr, "collector_bench: event refused\n");
			return 1;
		}
	}
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	if (b.exchanges != n) {
		struct sg_conns_stats st;

		conns_stats(t, &st);
		fprintf(stderr, "collector_bench: %llu exchanges of %lu "
		    "(unparsed %llu, unpaired %llu, dropped %llu, timed out "
		    "%llu)\n", (unsigned long long)b.exchanges, n,
		    (unsigned long long)st.unparsed,
		    (unsigned long long)st.unpaired,
		    (unsigned long long)st.dropped,
		    (unsigned long long)st.timed_out);
		return 1;
	}
	printf("%s: %lu exchanges over %lu connections: %.0f ns per exchange "
	    "(2 events)%s\n", bp->name, n, nconn, (double)(t1 - t0) / (double)n,
	    b.exported ? ", spans exported" : "");
	if (b.exported && b.kept != n) {
		fprintf(stderr, "collector_bench: %llu spans kept of %lu\n",
		    (unsigned long long)b.kept, n);
		return 1;
	}
	conns_free(t);
	tracelink_free(tl);
	metrics_free(b.metrics);
	routes_free(b.routes);
	free(req);
	free(resp);
	return 0;
}
