/* Metrics derived from spans: span names, kinds and statuses
 * (spansem.c), span metrics (spanmetrics.c) and the service graph
 * (servicegraph.c), through metrics.c's families and snapshot. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "servicegraph.h"
#include "spanmetrics.h"
#include "spansem.h"

#include "dsnap.h"

#define SEC 1000000000ULL

static struct sg_buckets dur_b = { 3, { 0.01, 0.1, 1 } };
static struct sg_buckets size_b = { 2, { 10, 100 } };

static struct sg_span
mkspan(uint8_t kind, uint8_t app, const char *svc, const char *op,
    uint32_t status)
{
	struct sg_span s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.app = app;
	s.start_ns = 1700000000000000000ULL;
	s.end_ns = s.start_ns + 20000000;     /* 20 ms */
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.instance_id, sizeof(s.instance_id), "host:%s", svc);
	snprintf(s.op, sizeof(s.op), "%s", op);
	s.status = status;
	snprintf(s.peer_addr, sizeof(s.peer_addr), "127.0.0.9");
	snprintf(s.host_addr, sizeof(s.host_addr), "127.0.0.1");
	s.req_size = 7;
	return s;
}

static struct sg_proc_info
mkproc(const char *svc, const char *ns)
{
	struct sg_proc_info p;

	memset(&p, 0, sizeof(p));
	p.pid = 77;
	p.present = 1;
	snprintf(p.service_name, sizeof(p.service_name), "%s", svc);
	snprintf(p.service_namespace, sizeof(p.service_namespace), "%s", ns);
	return p;
}

static const char *
name_of(const struct sg_span *s)
{
	static char buf[SPANSEM_NAME_MAX];

	spansem_name(s, buf, sizeof(buf));
	return buf;
}

/* The names, kinds and statuses the exported spans carry. */
static void
test_spansem(void **state)
{
	struct sg_span s;
	char small[6];

	(void)state;
	s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET", 200);
	assert_string_equal(name_of(&s), "GET");
	snprintf(s.route, sizeof(s.route), "/users/{id}");
	assert_string_equal(name_of(&s), "GET /users/{id}");
	assert_int_equal(spansem_name(&s, small, sizeof(small)), 5);
	assert_string_equal(small, "GET /");
	snprintf(s.op, sizeof(s.op), "BREW");
	assert_string_equal(name_of(&s), "HTTP /users/{id}");
	assert_int_equal(spansem_kind(&s), SPANSEM_KIND_SERVER);
	assert_string_equal(spansem_kind_name(spansem_kind(&s)),
	    "SPAN_KIND_SERVER");
	/* 4xx fails the client's span only; an unread status fails none */
	s.status = 404;
	assert_false(spansem_error(&s));
	s.kind = SG_SPAN_CLIENT;
	assert_true(spansem_error(&s));
	s.flags = SG_SPAN_STATUS_UNKNOWN;
	assert_false(spansem_error(&s));
	s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET", 503);
	assert_true(spansem_error(&s));

	s = mkspan(SG_SPAN_SERVER, SG_APP_GRPC, "a", "", 5);   /* NOT_FOUND */
	snprintf(s.target, sizeof(s.target), "/pkg.Svc/Get");
	assert_string_equal(name_of(&s), "pkg.Svc/Get");
	assert_false(spansem_error(&s));
	s.kind = SG_SPAN_CLIENT;
	assert_true(spansem_error(&s));
	s.flags = SG_SPAN_TARGET_UNKNOWN;
	assert_string_equal(name_of(&s), "grpc");

	s = mkspan(SG_SPAN_CLIENT, SG_APP_POSTGRESQL, "a", "SELECT", 0);
	snprintf(s.collection, sizeof(s.collection), "users");
	assert_string_equal(name_of(&s), "SELECT users");
	assert_false(spansem_error(&s));
	snprintf(s.error, sizeof(s.error), "42P01");
	assert_true(spansem_error(&s));
	s.flags = SG_SPAN_OP_UNKNOWN;
	assert_string_equal(name_of(&s), "postgresql");

	s = mkspan(SG_SPAN_CLIENT, SG_APP_KAFKA, "a", "publish", 0);
	snprintf(s.target, sizeof(s.target), "orders");
	assert_string_equal(name_of(&s), "publish orders");
	assert_int_equal(spansem_kind(&s), SPANSEM_KIND_PRODUCER);
	snprintf(s.op, sizeof(s.op), "process");
	assert_int_equal(spansem_kind(&s), SPANSEM_KIND_CONSUMER);
	assert_string_equal(spansem_kind_name(spansem_kind(&s)),
	    "SPAN_KIND_CONSUMER");
}

/* The labels as "k=v,..." for comparison. */
static const char *
labels_text(const struct metrics_labels *l)
{
	static char out[METRICS_LABELS_MAX];
	size_t o = 0;

	for (size_t i = 0; i < l->len; ) {
		const char *k = l->buf + i, *v = k + strlen(k) + 1;

		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s=%s",
		    o > 0 ? "," : "", k, v);
		i = (size_t)(v - l->buf) + strlen(v) + 1;
	}
	return out;
}

static void
test_spanmetrics_labels(void **state)
{
	static struct metrics_labels l;
	struct sg_span s = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "front", "POST",
	    500);

	(void)state;
	snprintf(s.route, sizeof(s.route), "/pay");
	spanmetrics_labels(&l, &s);
	assert_false(l.err);
	assert_string_equal(labels_text(&l), "service_name=front,"
	    "service_namespace=,span_name=POST /pay,span_kind=SPAN_KIND_CLIENT,"
	    "status_code=STATUS_CODE_ERROR,instance=host:front,job=front,"
	    "source=spyglass");
	snprintf(s.service_namespace, sizeof(s.service_namespace), "shop");
	s.kind = SG_SPAN_SERVER;
	spanmetrics_labels(&l, &s);
	assert_string_equal(labels_text(&l), "service_name=front,"
	    "service_namespace=shop,span_name=POST /pay,"
	    "span_kind=SPAN_KIND_SERVER,status_code=STATUS_CODE_ERROR,"
	    "instance=host:front,job=shop/front,source=spyglass");
	s.status = 404;
	spanmetrics_labels(&l, &s);
	assert_non_null(strstr(labels_text(&l),
	    "status_code=STATUS_CODE_UNSET"));
}

static struct sg_metrics *
derived_new(struct spanmetrics *sm, struct servicegraph *g, uint32_t features,
    bool self_refs)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 100);
	struct sg_config c;

	assert_non_null(m);
	sg_config_defaults(&c);
	c.features = features;
	c.allow_service_graph_self_references = self_refs;
	metrics_select(m, &c);
	spanmetrics_attach(sm, m);
	servicegraph_attach(g, m);
	spanmetrics_select(sm, &c);
	servicegraph_select(g, &c);
	return m;
}

#define F_SPAN  (1u << SG_FEATURE_APPLICATION_SPAN)
#define F_GRAPH (1u << SG_FEATURE_APPLICATION_SERVICE_GRAPH)

/* Off: no family in the snapshot, nothing counted. */
static void
test_derived_off(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_metrics *m = derived_new(&sm, &g, 1u, false);
	struct sg_span s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET",
	    200);
	struct servicegraph_peer p = { 0 };
	struct dsnap d;

	(void)state;
	assert_false(servicegraph_on(&g));
	assert_false(sm.d.on);
	spanmetrics_record(&sm, &s);
	servicegraph_record(&g, &s, &p);
	dsnap_take(m, &d);
	assert_null(dfam(&d, "traces_spanmetrics_calls_total"));
	assert_null(dfam(&d, "traces_service_graph_request_total"));
	assert_non_null(dfam(&d, "http_server_request_duration_seconds"));
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_spanmetrics_counts(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_metrics *m = derived_new(&sm, &g, F_SPAN, false);
	struct sg_span ok = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET",
	    200), bad = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET", 500);
	struct sg_series *se;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (int i = 0; i < 5; i++)
		spanmetrics_record(&sm, &ok);
	spanmetrics_record(&sm, &bad);
	dsnap_take(m, &d);
	assert_null(dfam(&d, "traces_service_graph_request_total"));
	f = dfam(&d, "traces_spanmetrics_calls_total");
	assert_non_null(f);
	assert_string_equal(f->hdr.otel_name, "traces_spanmetrics_calls_total");
	assert_int_equal(f->hdr.type, SG_METRIC_COUNTER);
	assert_int_equal(f->hdr.nseries, 2);
	se = find_series(f, "status_code", "STATUS_CODE_UNSET", NULL);
	assert_non_null(se);
	assert_true(se->value_f == 5);
	se = find_series(f, "status_code", "STATUS_CODE_ERROR", NULL);
	assert_true(se != NULL && se->value_f == 1);
	f = dfam(&d, "traces_spanmetrics_latency");
	assert_true(f != NULL && f->hdr.type == SG_METRIC_HISTOGRAM);
	assert_string_equal(f->hdr.unit, "s");
	assert_int_equal(f->hdr.nbounds, dur_b.n);
	se = find_series(f, "status_code", "STATUS_CODE_UNSET", NULL);
	assert_true(se != NULL && se->count == 5);
	assert_int_equal(se->buckets[1], 5);     /* 20 ms: le 0.1 */
	f = dfam(&d, "traces_spanmetrics_size_total");
	se = find_series(f, "status_code", "STATUS_CODE_UNSET", NULL);
	assert_true(se != NULL && se->value_f == 5 * 7);
	dsnap_free(&d);
	metrics_free(m);
}

static void
assert_text(struct servicegraph_text t, const char *want)
{
	assert_int_equal(strnlen(t.s, t.max), strlen(want));
	assert_memory_equal(t.s, want, strlen(want));
}

/* Who is client and server, and who counts the request. */
static void
test_servicegraph_edge(void **state)
{
	struct sg_proc_info back = mkproc("backend", "shop");
	struct servicegraph_peer none = { 0 }, followed = { true, &back },
	    nameless = { true, NULL };
	struct servicegraph_edge e;
	struct sg_span s;
	static struct metrics_labels l;

	(void)state;
	/* nginx calls the followed backend: its client span counts */
	s = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "nginx", "GET", 200);
	assert_true(servicegraph_edge(&s, &followed, &e));
	assert_text(e.client, "nginx");
	assert_text(e.client_ns, "");
	assert_text(e.server, "backend");
	assert_text(e.server_ns, "shop");
	assert_null(e.connection_type);
	assert_true(e.counted);
	assert_false(e.failed);
	assert_false(e.self);
	servicegraph_labels(&l, &e);
	assert_string_equal(labels_text(&l), "client=nginx,"
	    "client_service_namespace=,server=backend,"
	    "server_service_namespace=shop,source=spyglass");
	/* ... the backend's server span of the same request does not */
	s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "backend", "GET", 500);
	back = mkproc("nginx", "");
	assert_true(servicegraph_edge(&s, &followed, &e));
	assert_text(e.client, "nginx");
	assert_text(e.server, "backend");
	assert_false(e.counted);
	assert_true(e.failed);
	/* a client the sensor does not follow: named by its address, the
	 * server's span counts, a virtual node */
	assert_true(servicegraph_edge(&s, &none, &e));
	assert_text(e.client, "127.0.0.9");
	assert_true(e.counted);
	assert_string_equal(e.connection_type, "virtual_node");
	assert_true(servicegraph_edge(&s, NULL, &e));
	assert_true(e.counted);
	/* a database the sensor does not follow */
	s = mkspan(SG_SPAN_CLIENT, SG_APP_REDIS, "backend", "GET", 0);
	assert_true(servicegraph_edge(&s, &none, &e));
	assert_text(e.server, "127.0.0.9");
	assert_string_equal(e.connection_type, "database");
	assert_true(e.counted);
	/* followed, its metadata not known (yet) */
	assert_true(servicegraph_edge(&s, &nameless, &e));
	assert_text(e.server, "unknown_service");
	/* a span of no kind */
	s.kind = 0;
	assert_false(servicegraph_edge(&s, &none, &e));
	/* a service calling itself */
	s = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "nginx", "GET", 200);
	back = mkproc("nginx", "");
	assert_true(servicegraph_edge(&s, &followed, &e));
	assert_true(e.self);
	back = mkproc("nginx", "other");
	assert_true(servicegraph_edge(&s, &followed, &e));
	assert_false(e.self);
}

/* The series of the edge from client to server in family fam. */
static struct sg_series *
edge(struct dsnap *d, const char *fam, const char *client,
    const char *server)
{
	struct dfam *f = dfam(d, fam);

	return f == NULL ? NULL : find_series(f, "client", client, "server",
	    server, NULL);
}

static double
counter_of(struct dsnap *d, const char *fam, const char *client,
    const char *server)
{
	struct sg_series *se = edge(d, fam, client, server);

	return se == NULL ? 0 : se->value_f;
}

static uint64_t
hist_count_of(struct dsnap *d, const char *fam, const char *client,
    const char *server)
{
	struct sg_series *se = edge(d, fam, client, server);

	return se == NULL ? 0 : se->count;
}

/*
 * curl -> nginx -> backend -> redis, N requests, the last F failing at
 * the backend, with every process but curl followed: each span as the
 * collector would record it, in the order they end.  Each edge counts N
 * requests, F failed; each side's histogram has its N durations.
 */
static void
test_servicegraph_once_per_edge(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_metrics *m = derived_new(&sm, &g, F_SPAN | F_GRAPH, false);
	struct sg_proc_info nginx = mkproc("nginx", ""),
	    backend = mkproc("backend", ""), redis = mkproc("redis", "");
	struct servicegraph_peer curl_p = { 0 }, nginx_p = { true, &nginx },
	    backend_p = { true, &backend }, redis_p = { true, &redis };
	const int n = 10, nfail = 3;
	struct dsnap d;

	(void)state;
	for (int i = 0; i < n; i++) {
		uint32_t st = i < n - nfail ? 200 : 500;
		struct sg_span s;

		s = mkspan(SG_SPAN_SERVER, SG_APP_REDIS, "redis", "SET", 0);
		servicegraph_record(&g, &s, &backend_p);
		s = mkspan(SG_SPAN_CLIENT, SG_APP_REDIS, "backend", "SET", 0);
		servicegraph_record(&g, &s, &redis_p);
		s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "backend", "GET", st);
		servicegraph_record(&g, &s, &nginx_p);
		s = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "nginx", "GET", st);
		servicegraph_record(&g, &s, &backend_p);
		s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "nginx", "GET", st);
		servicegraph_record(&g, &s, &curl_p);
	}
	dsnap_take(m, &d);
	assert_true(counter_of(&d, "traces_service_graph_request_total",
	    "127.0.0.9", "nginx") == n);
	assert_true(counter_of(&d, "traces_service_graph_request_total",
	    "nginx", "backend") == n);
	assert_true(counter_of(&d, "traces_service_graph_request_total",
	    "backend", "redis") == n);
	assert_int_equal(dfam(&d, "traces_service_graph_request_total")->
	    hdr.nseries, 3);
	assert_true(counter_of(&d, "traces_service_graph_request_failed_total",
	    "127.0.0.9", "nginx") == nfail);
	assert_true(counter_of(&d, "traces_service_graph_request_failed_total",
	    "nginx", "backend") == nfail);
	assert_int_equal(dfam(&d, "traces_service_graph_request_failed_total")->
	    hdr.nseries, 2);
	assert_int_equal(hist_count_of(&d,
	    "traces_service_graph_request_client_seconds", "nginx", "backend"),
	    n);
	assert_int_equal(hist_count_of(&d,
	    "traces_service_graph_request_server_seconds", "nginx", "backend"),
	    n);
	assert_int_equal(hist_count_of(&d,
	    "traces_service_graph_request_server_seconds", "backend", "redis"),
	    n);
	assert_int_equal(hist_count_of(&d,
	    "traces_service_graph_request_client_seconds", "127.0.0.9",
	    "nginx"), 0);
	assert_string_equal(dfam(&d, "traces_service_graph_request_server_"
	    "seconds")->hdr.otel_name, "traces_service_graph_request_server");
	dsnap_free(&d);
	metrics_free(m);
}

/* A service's calls to itself: left out, unless allowed. */
static void
test_servicegraph_self(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_proc_info self = mkproc("loop", "");
	struct servicegraph_peer p = { true, &self };
	struct sg_span s = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "loop", "GET",
	    200);
	struct sg_metrics *m;
	struct dsnap d;

	(void)state;
	for (int allow = 0; allow < 2; allow++) {
		m = derived_new(&sm, &g, F_GRAPH, allow);
		servicegraph_record(&g, &s, &p);
		dsnap_take(m, &d);
		assert_true(counter_of(&d, "traces_service_graph_request_total",
		    "loop", "loop") == allow);
		dsnap_free(&d);
		metrics_free(m);
	}
}

/* Consecutive spans share their labels' building and hashing: spans
 * that differ still get series of their own, and a new metrics object
 * (another hash key) is not misled by what the last one hashed. */
static void
test_derived_caches(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_proc_info pa = mkproc("pa", ""), pb = mkproc("pb", "");
	struct servicegraph_peer to_a = { true, &pa }, to_b = { true, &pb };
	struct sg_span a = mkspan(SG_SPAN_CLIENT, SG_APP_HTTP, "c", "GET", 200),
	    b = a, e = a;
	struct sg_metrics *m;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	snprintf(b.route, sizeof(b.route), "/b");
	e.status = 502;
	for (int round = 0; round < 2; round++) {
		m = derived_new(&sm, &g, F_SPAN | F_GRAPH, false);
		spanmetrics_record(&sm, &a);
		spanmetrics_record(&sm, &a);
		spanmetrics_record(&sm, &b);
		spanmetrics_record(&sm, &e);
		spanmetrics_record(&sm, &a);
		servicegraph_record(&g, &a, &to_a);
		servicegraph_record(&g, &a, &to_b);
		servicegraph_record(&g, &a, &to_a);
		dsnap_take(m, &d);
		f = dfam(&d, "traces_spanmetrics_calls_total");
		assert_int_equal(f->hdr.nseries, 3);
		assert_true(find_series(f, "span_name", "GET", "status_code",
		    "STATUS_CODE_UNSET", NULL)->value_f == 3);
		assert_true(find_series(f, "span_name", "GET /b", NULL)->
		    value_f == 1);
		assert_true(find_series(f, "status_code", "STATUS_CODE_ERROR",
		    NULL)->value_f == 1);
		assert_true(counter_of(&d, "traces_service_graph_request_total",
		    "c", "pa") == 2);
		assert_true(counter_of(&d, "traces_service_graph_request_total",
		    "c", "pb") == 1);
		dsnap_free(&d);
		metrics_free(m);
	}
}

/* More label sets in turn than the deriver keeps: each still counts in
 * its own series. */
static void
test_derived_slots(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_metrics *m = derived_new(&sm, &g, F_SPAN, false);
	const int nsets = METRICS_DERIVER_SLOTS + 2, rounds = 3;
	struct sg_span s = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET",
	    200);
	char want[16];
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < nsets; i++) {
			snprintf(s.route, sizeof(s.route), "/r%d", i);
			spanmetrics_record(&sm, &s);
			if (i % 2 == 0)     /* and one found in its slot */
				spanmetrics_record(&sm, &s);
		}
	dsnap_take(m, &d);
	f = dfam(&d, "traces_spanmetrics_calls_total");
	assert_int_equal(f->hdr.nseries, nsets);
	for (int i = 0; i < nsets; i++) {
		snprintf(want, sizeof(want), "GET /r%d", i);
		assert_true(find_series(f, "span_name", want, NULL)->value_f ==
		    rounds * (i % 2 == 0 ? 2 : 1));
	}
	dsnap_free(&d);
	metrics_free(m);
}

/* A series found again without a lookup is still its labels' after
 * expiry has freed others and moved it. */
static void
test_derived_expiry(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct sg_metrics *m = derived_new(&sm, &g, F_SPAN, false);
	struct sg_span old = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "old", "GET",
	    200), a = mkspan(SG_SPAN_SERVER, SG_APP_HTTP, "a", "GET", 200);
	uint64_t t = 1000 * SEC;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	metrics_set_time(m, t);
	spanmetrics_record(&sm, &old);
	metrics_set_time(m, t + 10 * SEC);
	spanmetrics_record(&sm, &a);
	assert_int_equal(metrics_expire(m, 5 * SEC), 3);  /* old's three */
	spanmetrics_record(&sm, &a);
	assert_int_equal(metrics_expire(m, 300 * SEC), 0);
	metrics_set_time(m, t + 400 * SEC);
	assert_int_equal(metrics_expire(m, 300 * SEC), 3);
	spanmetrics_record(&sm, &a);     /* a new series again */
	dsnap_take(m, &d);
	f = dfam(&d, "traces_spanmetrics_calls_total");
	assert_int_equal(f->hdr.nseries, 1);
	assert_true(find_series(f, "service_name", "a", NULL)->value_f == 1);
	dsnap_free(&d);
	metrics_set_time(m, t + 401 * SEC);
	spanmetrics_record(&sm, &old);
	spanmetrics_record(&sm, &a);
	dsnap_take(m, &d);
	f = dfam(&d, "traces_spanmetrics_calls_total");
	assert_int_equal(f->hdr.nseries, 2);
	assert_true(find_series(f, "service_name", "a", NULL)->value_f == 2);
	assert_true(find_series(f, "service_name", "old", NULL)->value_f == 1);
	dsnap_free(&d);
	metrics_free(m);
}

/* The families added count against the limit like the others. */
static void
test_family_add_bounds(void **state)
{
	struct metrics_family_def def = { "x_total", "x", "", "x",
	    SG_METRIC_COUNTER };
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 2);
	static struct metrics_labels l;
	char v[4];
	int id, n = 0;

	(void)state;
	assert_non_null(m);
	def.type = SG_METRIC_GAUGE;
	assert_int_equal(metrics_family_add(m, &def), -1);
	def.type = SG_METRIC_COUNTER;
	id = metrics_family_add(m, &def);
	assert_true(id >= 0);
	while (metrics_family_add(m, &def) >= 0)
		n++;
	assert_int_equal(n + 1, METRICS_EXTRA_MAX);
	metrics_family_enable(m, id, true);
	for (int i = 0; i < 3; i++) {
		snprintf(v, sizeof(v), "%d", i);
		metrics_labels_reset(&l);
		metrics_labels_add(&l, "k", v, sizeof(v));
		metrics_family_update(m, id, &l, 1, NULL);
	}
	assert_true(metrics_series_dropped(m) == 1);
	metrics_family_update(m, -1, &l, 1, NULL);
	metrics_family_update(m, 0, &l, 1, NULL); /* a RED family: refused */
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spansem),
		cmocka_unit_test(test_spanmetrics_labels),
		cmocka_unit_test(test_derived_off),
		cmocka_unit_test(test_spanmetrics_counts),
		cmocka_unit_test(test_servicegraph_edge),
		cmocka_unit_test(test_servicegraph_once_per_edge),
		cmocka_unit_test(test_servicegraph_self),
		cmocka_unit_test(test_derived_caches),
		cmocka_unit_test(test_derived_slots),
		cmocka_unit_test(test_derived_expiry),
		cmocka_unit_test(test_family_add_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
