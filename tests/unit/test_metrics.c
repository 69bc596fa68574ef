/* RED aggregation (metrics.c) and span building (spans.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "spans.h"
#include "wire.h"

#include "dsnap.h"

#define SEC       1000000000ULL
#define TTL       (300 * SEC)

static struct sg_buckets dur_b = { 15, { 0, 0.005, 0.01, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10 } };
static struct sg_buckets size_b = { 10, { 0, 32, 64, 128, 256, 512, 1024,
    2048, 4096, 8192 } };

/* The family of the drop counter is gone from the snapshot (it is a
 * self-metric the exporter renders); the count is asked for. */
static double
dropped_of(const struct sg_metrics *m, const struct dsnap *d)
{
	assert_null(dfam((struct dsnap *)d, "spyglass_metric_series_dropped_total"));
	return (double)metrics_series_dropped(m);
}

static struct sg_span
span(uint8_t kind, const char *method, uint16_t status, uint64_t dur_ns,
    uint64_t req, uint64_t resp)
{
	struct sg_span s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.app = SG_APP_HTTP;
	s.start_ns = 1700000000000000000ULL;
	s.end_ns = s.start_ns + dur_ns;
	snprintf(s.op, sizeof(s.op), "%s", method);
	s.status = status;
	snprintf(s.service_name, sizeof(s.service_name), "svc");
	snprintf(s.service_namespace, sizeof(s.service_namespace), "ns");
	snprintf(s.instance_id, sizeof(s.instance_id), "host:1");
	snprintf(s.peer_addr, sizeof(s.peer_addr), "10.0.0.2");
	s.peer_port = 8080;
	s.req_size = req;
	s.resp_size = resp;
	return s;
}

static void
test_new_invalid(void **state)
{
	struct sg_buckets bad = { 2, { 1, 1 } };
	struct sg_buckets nan = { 1, { NAN } };

	(void)state;
	assert_null(metrics_new(NULL, &size_b, 10));
	assert_null(metrics_new(&dur_b, &bad, 10));
	assert_null(metrics_new(&nan, &size_b, 10));
	assert_null(metrics_new(&dur_b, &size_b, 0));
	metrics_free(NULL);
}

static void
test_empty_families(void **state)
{
	static const struct { const char *prom, *otel, *unit; uint8_t type;
	    int size; } want[] = {
		{ "http_server_request_duration_seconds",
		  "http.server.request.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "http_client_request_duration_seconds",
		  "http.client.request.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "http_server_request_body_size_bytes",
		  "http.server.request.body.size", "By", SG_METRIC_HISTOGRAM, 1 },
		{ "http_server_response_body_size_bytes",
		  "http.server.response.body.size", "By", SG_METRIC_HISTOGRAM,
		  1 },
		{ "http_client_request_body_size_bytes",
		  "http.client.request.body.size", "By", SG_METRIC_HISTOGRAM, 1 },
		{ "http_client_response_body_size_bytes",
		  "http.client.response.body.size", "By", SG_METRIC_HISTOGRAM,
		  1 },
		{ "rpc_server_duration_seconds", "rpc.server.duration", "s",
		  SG_METRIC_HISTOGRAM, 0 },
		{ "rpc_client_duration_seconds", "rpc.client.duration", "s",
		  SG_METRIC_HISTOGRAM, 0 },
		{ "db_client_operation_duration_seconds",
		  "db.client.operation.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "db_server_operation_duration_seconds",
		  "db.server.operation.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "messaging_publish_duration_seconds",
		  "messaging.publish.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "messaging_process_duration_seconds",
		  "messaging.process.duration", "s", SG_METRIC_HISTOGRAM, 0 },
		{ "target_info", "target_info", "", SG_METRIC_GAUGE, 0 },
	};
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct dsnap d;

	(void)state;
	assert_non_null(m);
	dsnap_take(m, &d);
	assert_int_equal(d.nfam, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct sg_family_hdr *h = &d.fam[i].hdr;
		const struct sg_buckets *b = want[i].size ? &size_b : &dur_b;

		assert_string_equal(h->prom_name, want[i].prom);
		assert_string_equal(h->otel_name, want[i].otel);
		assert_string_equal(h->unit, want[i].unit);
		assert_int_equal(h->type, want[i].type);
		assert_true(h->help[0] != '\0');
		if (h->type == SG_METRIC_HISTOGRAM) {
			assert_int_equal(h->nbounds, b->n);
			assert_memory_equal(h->bounds, b->b,
			    b->n * sizeof(double));
		} else
			assert_int_equal(h->nbounds, 0);
		/* Empty families are still sent. */
		assert_int_equal(h->nseries, 0);
	}
	assert_true(dropped_of(m, &d) == 0);
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_server_histograms(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *get, *post;
	/* Beyla's default set for HTTP server metrics */
	static const char *const keys[] = { "http_request_method",
	    "http_response_status_code", "url_scheme", "service_name",
	    "service_namespace", "target_instance", "server_address",
	    "server_port" };
	uint64_t want_get[16] = { 0 }, want_post[16] = { 0 };

	(void)state;
	assert_non_null(m);
	s = span(SG_SPAN_SERVER, "GET", 200, 1000000, 0, 10);      /* 1ms */
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "GET", 200, 5000000, 32, 33);     /* =5ms */
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "GET", 200, 2000000000, 1, 8192); /* 2s */
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "POST", 500, 20000000000ULL, 100000, 0);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "POST", 500, 0, 0, 0);
	metrics_record_span(m, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 2);
	/* Labels in the documented order. */
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(f->series[i].nlabels, 8);
		for (size_t k = 0; k < 8; k++)
			assert_string_equal(f->series[i].key[k], keys[k]);
	}
	get = find_series(f, "http_request_method", "GET",
	    "http_response_status_code", "200", "service_name", "svc",
	    "service_namespace", "ns", "target_instance", "host:1", NULL);
	post = find_series(f, "http_request_method", "POST",
	    "http_response_status_code", "500", NULL);
	assert_non_null(get);
	assert_non_null(post);
	/* le semantics: 1ms -> le 0.005, exactly 5ms -> le 0.005 too,
	 * 2s -> le 2.5; 20s -> +Inf; 0 -> le 0. */
	want_get[1] = 2;
	want_get[11] = 1;
	want_post[15] = 1;
	want_post[0] = 1;
	assert_memory_equal(get->buckets, want_get, 16 * sizeof(uint64_t));
	assert_memory_equal(post->buckets, want_post, 16 * sizeof(uint64_t));
	assert_int_equal(get->count, 3);
	assert_int_equal(post->count, 2);
	assert_true(fabs(get->sum - 2.006) < 1e-12);
	assert_true(fabs(post->sum - 20.0) < 1e-12);

	f = dfam(&d, "http_server_request_body_size_bytes");
	assert_int_equal(f->hdr.nseries, 2);
	get = find_series(f, "http_request_method", "GET", NULL);
	assert_non_null(get);
	memset(want_get, 0, sizeof(want_get));
	want_get[0] = 1;            /* 0 */
	want_get[1] = 2;            /* 1, 32 */
	assert_memory_equal(get->buckets, want_get, 11 * sizeof(uint64_t));
	assert_true(get->sum == 33);
	post = find_series(f, "http_request_method", "POST", NULL);
	assert_int_equal(post->buckets[10], 1);   /* 100000: +Inf */
	assert_int_equal(post->buckets[0], 1);

	f = dfam(&d, "http_server_response_body_size_bytes");
	get = find_series(f, "http_request_method", "GET", NULL);
	memset(want_get, 0, sizeof(want_get));
	want_get[1] = 1;            /* 10 */
	want_get[2] = 1;            /* 33 */
	want_get[9] = 1;            /* 8192 */
	assert_memory_equal(get->buckets, want_get, 11 * sizeof(uint64_t));
	assert_true(get->sum == 10 + 33 + 8192);

	/* Nothing leaked into the client families. */
	assert_int_equal(dfam(&d, "http_client_request_duration_seconds")
	    ->hdr.nseries, 0);
	assert_int_equal(dfam(&d, "http_client_request_body_size_bytes")
	    ->hdr.nseries, 0);
	assert_true(dropped_of(m, &d) == 0);
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_client_labels(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *se;

	(void)state;
	s = span(SG_SPAN_CLIENT, "PUT", 201, 30000000, 5, 6);
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	snprintf(s.peer_addr, sizeof(s.peer_addr), "::1");
	s.peer_port = 443;
	metrics_record_span(m, &s);
	s.kind = 7;                 /* not a span kind: ignored */
	metrics_record_span(m, &s);
	metrics_record_span(m, NULL);
	metrics_record_span(NULL, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 2);
	se = &f->series[0];
	assert_int_equal(se->nlabels, 8);
	assert_string_equal(se->key[6], "server_address");
	assert_string_equal(se->key[7], "server_port");
	assert_string_equal(se->value[0], "PUT");
	assert_string_equal(se->value[1], "201");
	assert_string_equal(se->value[6], "10.0.0.2");
	assert_string_equal(se->value[7], "8080");
	assert_int_equal(se->count, 2);
	assert_int_equal(se->buckets[4], 2);       /* 30ms: le 0.05 */
	se = find_series(f, "server_address", "::1", "server_port", "443",
	    NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 1);
	f = dfam(&d, "http_client_response_body_size_bytes");
	assert_int_equal(f->hdr.nseries, 2);
	assert_true(f->series[0].sum == 12);
	assert_int_equal(dfam(&d, "http_server_request_duration_seconds")
	    ->hdr.nseries, 0);
	dsnap_free(&d);
	metrics_free(m);
}

/* gRPC counts in the rpc families, labelled with its method and status;
 * a status not read has no label, a consecutive span of another method
 * another series (the label cache compares the method too). */
static void
test_grpc_labels(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *se;

	(void)state;
	s = span(SG_SPAN_SERVER, "", 5, 2000000, 0, 0);
	s.app = SG_APP_GRPC;
	snprintf(s.target, sizeof(s.target), "/pkg.Svc/Get");
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	snprintf(s.target, sizeof(s.target), "/pkg.Svc/List");
	metrics_record_span(m, &s);
	s.flags = SG_SPAN_STATUS_UNKNOWN;
	metrics_record_span(m, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "rpc_server_duration_seconds");
	assert_int_equal(f->hdr.nseries, 3);
	se = find_series(f, "rpc_method", "/pkg.Svc/Get",
	    "rpc_grpc_status_code", "5", NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 2);
	assert_string_equal(label(se, "rpc_system"), "grpc");
	se = find_series(f, "rpc_method", "/pkg.Svc/List",
	    "rpc_grpc_status_code", "5", NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 1);
	for (uint32_t i = 0; i < f->hdr.nseries; i++)
		if (label(&f->series[i], "rpc_grpc_status_code") == NULL)
			assert_int_equal(f->series[i].count, 1);
	assert_int_equal(dfam(&d, "http_server_request_duration_seconds")
	    ->hdr.nseries, 0);
	assert_int_equal(dfam(&d, "rpc_client_duration_seconds")
	    ->hdr.nseries, 0);
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_method_status(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	s = span(SG_SPAN_SERVER, "FOO", 0, 1, 0, 0);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "BAR", 0, 1, 0, 0);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "get", 0, 1, 0, 0);    /* case matters */
	metrics_record_span(m, &s);
	/* A method filling its field without a terminator. */
	s = span(SG_SPAN_SERVER, "", 404, 1, 0, 0);
	memset(s.op, 'A', sizeof(s.op));
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "DELETE", 404, 1, 0, 0);
	metrics_record_span(m, &s);
	/* end before start counts as zero duration */
	s = span(SG_SPAN_SERVER, "DELETE", 404, 0, 0, 0);
	s.end_ns = s.start_ns - 5;
	metrics_record_span(m, &s);
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 3);
	assert_int_equal(find_series(f, "http_request_method", "_OTHER",
	    "http_response_status_code", "0", NULL)->count, 3);
	assert_int_equal(find_series(f, "http_request_method", "_OTHER",
	    "http_response_status_code", "404", NULL)->count, 1);
	assert_int_equal(find_series(f, "http_request_method", "DELETE",
	    NULL)->buckets[0], 1);
	assert_int_equal(find_series(f, "http_request_method", "DELETE",
	    NULL)->count, 2);
	dsnap_free(&d);
	metrics_free(m);
}

/* Spans alternating between label sets, and repeating one: the hash of
 * the previous span's labels is reused only when they are the same. */
static void
test_label_hash_reuse(void **state)
{
	static const char *const seq[] = { "GET", "POST", "GET", "GET",
		"POST", "PUT", "GET" };
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		s = span(SG_SPAN_SERVER, seq[i], 200, 1, 0, 0);
		metrics_record_span(m, &s);
	}
	s = span(SG_SPAN_CLIENT, "GET", 200, 1, 0, 0);   /* other side */
	metrics_record_span(m, &s);
	s.peer_port = 9090;                     /* another server: */
	metrics_record_span(m, &s);
	s.peer_addr[0] = '2';                   /* and another */
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "GET", 200, 1, 0, 0);
	s.peer_port = 1;                        /* not a server label */
	metrics_record_span(m, &s);
	snprintf(s.service_name, sizeof(s.service_name), "other");
	metrics_record_span(m, &s);
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 4);
	assert_int_equal(find_series(f, "http_request_method", "GET",
	    "service_name", "svc", NULL)->count, 5);
	assert_int_equal(find_series(f, "service_name", "other",
	    NULL)->count, 1);
	assert_int_equal(find_series(f, "http_request_method", "POST",
	    NULL)->count, 2);
	assert_int_equal(find_series(f, "http_request_method", "PUT",
	    NULL)->count, 1);
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 3);
	assert_int_equal(find_series(f, "server_address", "10.0.0.2",
	    "server_port", "8080", NULL)->count, 1);
	assert_int_equal(find_series(f, "server_address", "10.0.0.2",
	    "server_port", "9090", NULL)->count, 1);
	assert_int_equal(find_series(f, "server_address", "20.0.0.2",
	    "server_port", "9090", NULL)->count, 2);
	dsnap_free(&d);
	metrics_free(m);
}

/* A proxy's server and client spans alternating, and a cycle of more
 * label sets than the cache keeps: every span is counted in its own
 * series, whichever slot its labels were found in or built anew. */
static void
test_label_cache_slots(void **state)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE",
		"PATCH", "HEAD" };
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 20);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < 6; i++) {
			s = span(SG_SPAN_SERVER, methods[i], 200, 1, 0, 0);
			metrics_record_span(m, &s);
			s = span(SG_SPAN_CLIENT, methods[i], 200, 1, 0, 0);
			metrics_record_span(m, &s);
			if (i % 2 == 0) {   /* and the server span again */
				s = span(SG_SPAN_SERVER, methods[i], 200, 1,
				    0, 0);
				metrics_record_span(m, &s);
			}
		}
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(find_series(f, "http_request_method",
		    methods[i], NULL)->count, i % 2 == 0 ? 6 : 3);
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(find_series(f, "http_request_method",
		    methods[i], NULL)->count, 3);
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_series_limit(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 3);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	FILE *log = tmpfile();
	char line[512];
	int saved, warnings = 0;

	(void)state;
	/* what the refusals log, from standard error */
	assert_non_null(log);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0 && dup2(fileno(log), STDERR_FILENO) >= 0);
	for (int round = 0; round < 2; round++)
		for (uint16_t st = 200; st < 205; st++) {
			s = span(SG_SPAN_SERVER, "GET", st, 1000, 0, 0);
			metrics_record_span(m, &s);
		}
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(log);
	while (fgets(line, sizeof(line), log) != NULL)
		warnings += strstr(line, "reached its limit of 3 series") != NULL;
	fclose(log);
	/* one warning per family and episode, not one per refusal */
	assert_int_equal(warnings, 3);
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(f->series[i].count, 2);
	assert_null(find_series(f, "http_response_status_code", "203", NULL));
	/* 2 statuses x 2 rounds x 3 families refused */
	assert_true(dropped_of(m, &d) == 12);
	dsnap_free(&d);
	metrics_free(m);
}

/* Enough series to grow and rehash the table several times. */
static void
test_many_series(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 2000);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 1500; i++) {
			s = span(SG_SPAN_SERVER, "GET", 200, 1000, 0,
			    (uint64_t)i);
			snprintf(s.service_name, sizeof(s.service_name),
			    "svc-%d", i);
			metrics_record_span(m, &s);
		}
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_response_body_size_bytes");
	assert_int_equal(f->hdr.nseries, 1500);
	for (uint32_t i = 0; i < 1500; i++) {
		char want[32];

		snprintf(want, sizeof(want), "svc-%u", i);
		assert_string_equal(label(&f->series[i], "service_name"), want);
		assert_int_equal(f->series[i].count, 2);
		assert_true(f->series[i].sum == 2.0 * i);
	}
	assert_true(dropped_of(m, &d) == 0);
	dsnap_free(&d);
	metrics_free(m);
}

static struct sg_proc_info
proc(uint32_t pid, const char *name, int present)
{
	struct sg_proc_info p;

	memset(&p, 0, sizeof(p));
	p.pid = pid;
	p.present = (uint8_t)present;
	snprintf(p.service_name, sizeof(p.service_name), "%s", name);
	snprintf(p.service_namespace, sizeof(p.service_namespace), "prod");
	snprintf(p.instance_id, sizeof(p.instance_id), "h:%u", pid);
	return p;
}

static void
test_target_info(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 100);
	struct sg_proc_info p;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *se;
	char host[SG_LABEL_MAX] = "";
	static const char *const keys[] = { "service_name",
	    "service_namespace", "target_instance", "telemetry_sdk_name",
	    "host_name", "process_pid" };
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC);

	(void)state;
	gethostname(host, sizeof(host) - 1);
	p = proc(42, "shop", 1);
	metrics_service_seen(m, &p);
	metrics_service_seen(m, &p);
	dsnap_take(m, &d);
	f = dfam(&d, "target_info");
	assert_int_equal(f->hdr.nseries, 1);
	se = &f->series[0];
	assert_int_equal(se->nlabels, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(se->key[i], keys[i]);
	assert_string_equal(se->value[0], "shop");
	assert_string_equal(se->value[1], "prod");
	assert_string_equal(se->value[2], "h:42");
	assert_string_equal(se->value[3], "spyglass");
	assert_string_equal(se->value[4], host);
	assert_string_equal(se->value[5], "42");
	assert_true(se->value_f == 1);
	dsnap_free(&d);

	/* Renamed by an exec: still one series, the new name. */
	p = proc(42, "shop2", 1);
	p.instance_id[0] = '\0';
	p.service_name[0] = '\0';
	metrics_service_seen(m, &p);
	dsnap_take(m, &d);
	f = dfam(&d, "target_info");
	assert_int_equal(f->hdr.nseries, 1);
	assert_string_equal(f->series[0].value[0], "unknown_service");
	assert_string_equal(f->series[0].value[2], "42");
	dsnap_free(&d);

	/* Many processes, every odd one exits: an exit lets the series
	 * age, the ttl removes it, and removals keep the table consistent
	 * (found again, not duplicated). */
	metrics_set_time(m, t0);
	for (uint32_t pid = 100; pid < 160; pid++) {
		p = proc(pid, "x", 1);
		metrics_service_seen(m, &p);
	}
	for (uint32_t pid = 101; pid < 160; pid += 2) {
		p = proc(pid, "", 0);
		metrics_service_seen(m, &p);
	}
	for (uint32_t pid = 100; pid < 160; pid += 2) {
		p = proc(pid, "x", 1);
		metrics_service_seen(m, &p);
	}
	metrics_set_time(m, t0 + TTL);
	/* A second exit message does not restart the ageing. */
	p = proc(101, "", 0);
	metrics_service_seen(m, &p);
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	f = dfam(&d, "target_info");
	assert_int_equal(f->hdr.nseries, 61);
	assert_true(find_series(f, "process_pid", "101", NULL)->idle_ns == TTL);
	assert_true(find_series(f, "process_pid", "100", NULL)->idle_ns == 0);
	dsnap_free(&d);
	metrics_set_time(m, t0 + TTL + 1);
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	f = dfam(&d, "target_info");
	assert_int_equal(f->hdr.nseries, 31);
	for (uint32_t pid = 100; pid < 160; pid++) {
		char want[16];

		snprintf(want, sizeof(want), "%u", pid);
		if (pid % 2)
			assert_null(find_series(f, "process_pid", want, NULL));
		else
			assert_non_null(find_series(f, "process_pid", want,
			    NULL));
	}
	dsnap_free(&d);
	p = proc(42, "", 0);
	metrics_service_seen(m, &p);
	metrics_service_seen(m, NULL);
	/* A running process's target_info never ages, however long it
	 * stays idle. */
	metrics_set_time(m, t0 + 100 * TTL);
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	assert_int_equal(dfam(&d, "target_info")->hdr.nseries, 30);
	assert_null(find_series(dfam(&d, "target_info"), "process_pid", "42",
	    NULL));
	dsnap_free(&d);
	metrics_free(m);
}

/* Series idle for longer than the ttl are freed; one updated again
 * stays; the snapshot says how long each has been idle. */
static void
test_expiry(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	metrics_set_time(m, t0);
	s = span(SG_SPAN_CLIENT, "GET", 200, 1000, 0, 0);
	metrics_record_span(m, &s);                /* the one that stays */
	s.status = 404;
	metrics_record_span(m, &s);                /* the one that goes */
	s = span(SG_SPAN_SERVER, "GET", 200, 1000, 0, 0);
	metrics_record_span(m, &s);                /* goes too */
	metrics_set_time(m, t0 + TTL / 2);
	s = span(SG_SPAN_CLIENT, "GET", 200, 1000, 0, 0);
	metrics_record_span(m, &s);
	metrics_set_time(m, t0 + TTL + 1);
	dsnap_take(m, &d);
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_true(find_series(f, "http_response_status_code", "200",
	    NULL)->idle_ns == TTL / 2 + 1);
	assert_true(find_series(f, "http_response_status_code", "404",
	    NULL)->idle_ns == TTL + 1);
	dsnap_free(&d);

	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 1);
	assert_int_equal(find_series(f, "http_response_status_code", "200",
	    NULL)->count, 2);
	assert_int_equal(dfam(&d, "http_client_response_body_size_bytes")
	    ->hdr.nseries, 1);
	assert_int_equal(dfam(&d, "http_server_request_duration_seconds")
	    ->hdr.nseries, 0);
	assert_true(dropped_of(m, &d) == 0);
	dsnap_free(&d);

	/* A freed series that comes back starts from zero, later. */
	s.status = 404;
	metrics_record_span(m, &s);
	dsnap_take(m, &d);
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(find_series(f, "http_response_status_code", "404",
	    NULL)->count, 1);
	assert_true(find_series(f, "http_response_status_code", "404",
	    NULL)->start_ns - find_series(f, "http_response_status_code",
	    "200", NULL)->start_ns == TTL + 1);
	dsnap_free(&d);

	/* Nothing idle for longer than the ttl: nothing goes. */
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	assert_int_equal(dfam(&d, "http_client_request_duration_seconds")
	    ->hdr.nseries, 2);
	dsnap_free(&d);
	metrics_expire(NULL, TTL);
	metrics_set_time(NULL, t0);
	metrics_free(m);
}

/* The label slots remember where their series are.  A removal moves the
 * family's last series into the freed place, and a new series then takes
 * the index a slot remembered for the moved one: the slot must find its
 * series again, not count into the newcomer. */
static void
test_series_memo_moves(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC);
	static const uint16_t st[] = { 200, 201, 202, 203 };
	struct sg_span s;
	struct dsnap d;
	struct dfam *f, *fr;
	char code[8];

	(void)state;
	metrics_set_time(m, t0);
	for (size_t i = 0; i < 4; i++) {          /* series 0..3, four slots */
		s = span(SG_SPAN_SERVER, "GET", st[i], 1000, 10, 100);
		metrics_record_span(m, &s);
	}
	metrics_set_time(m, t0 + TTL / 2);
	for (size_t i = 1; i < 4; i++) {          /* 200 is left to age */
		s = span(SG_SPAN_SERVER, "GET", st[i], 1000, 10, 100);
		metrics_record_span(m, &s);
	}
	metrics_set_time(m, t0 + TTL + 1);
	metrics_expire(m, TTL);                    /* 203 moves to index 0 */
	s = span(SG_SPAN_SERVER, "GET", 204, 1000, 10, 100);
	metrics_record_span(m, &s);                /* new, at index 3 */
	for (int k = 0; k < 3; k++) {
		s = span(SG_SPAN_SERVER, "GET", 203, 1000, 10, 100);
		metrics_record_span(m, &s);
	}
	dsnap_take(m, &d);
	f = dfam(&d, "http_server_request_duration_seconds");
	fr = dfam(&d, "http_server_response_body_size_bytes");
	assert_int_equal(f->hdr.nseries, 4);
	assert_null(find_series(f, "http_response_status_code", "200", NULL));
	for (uint16_t c = 201; c <= 204; c++) {
		uint64_t want = c == 203 ? 5 : c == 204 ? 1 : 2;

		snprintf(code, sizeof(code), "%u", c);
		assert_int_equal(find_series(f, "http_response_status_code",
		    code, NULL)->count, want);
		assert_int_equal(find_series(fr, "http_response_status_code",
		    code, NULL)->count, want);
	}
	dsnap_free(&d);
	metrics_free(m);
}

/* Thousands of series come and go, as with short-lived processes: the
 * table stays consistent through the removals and the shrinking. */
static void
test_expiry_churn(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 2000);
	uint64_t t = sg_clock_ns(CLOCK_MONOTONIC);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1500; i++) {
			metrics_set_time(m, t + (uint64_t)i);
			s = span(SG_SPAN_CLIENT, "GET", 200, 1000, 0,
			    (uint64_t)i);
			snprintf(s.instance_id, sizeof(s.instance_id),
			    "host:%d", round * 10000 + i);
			metrics_record_span(m, &s);
			metrics_record_span(m, &s);
		}
		/* All but the last ten of the round go. */
		t += 1490;
		metrics_set_time(m, t + TTL);
		metrics_expire(m, TTL);
		dsnap_take(m, &d);
		f = dfam(&d, "http_client_response_body_size_bytes");
		assert_int_equal(f->hdr.nseries, 10);
		for (int i = 1490; i < 1500; i++) {
			char want[32];

			snprintf(want, sizeof(want), "host:%d",
			    round * 10000 + i);
			assert_int_equal(find_series(f, "target_instance",
			    want, NULL)->count, 2);
		}
		dsnap_free(&d);
		t += TTL + 10;
		metrics_set_time(m, t);
		metrics_expire(m, TTL);
	}
	dsnap_take(m, &d);
	assert_int_equal(dfam(&d, "http_client_response_body_size_bytes")
	    ->hdr.nseries, 0);
	assert_true(dropped_of(m, &d) == 0);
	dsnap_free(&d);
	metrics_free(m);
}

/* What the code under test writes on standard error. */
struct capture {
	int   saved;
	FILE *f;
};

static void
capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

static char *
capture_end(struct capture *c)
{
	char *text;
	long n;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	assert_int_equal(fseek(c->f, 0, SEEK_END), 0);
	n = ftell(c->f);
	rewind(c->f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, c->f), (size_t)n);
	fclose(c->f);
	return text;
}

static int
count_str(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* A family at its limit says so once, when it first refuses a series,
 * and once more when expiry leaves a tenth of it free; then a new
 * episode. */
static void
test_full_logged_once(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 20);
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC);
	struct capture c;
	struct sg_span s;
	char *text;

	(void)state;
	metrics_set_time(m, t0);
	capture_start(&c);
	for (int round = 0; round < 3; round++)
		for (uint16_t st = 200; st < 230; st++) {
			s = span(SG_SPAN_SERVER, "GET", st, 1000, 0, 0);
			metrics_record_span(m, &s);
		}
	metrics_expire(m, TTL);
	text = capture_end(&c);
	assert_int_equal(count_str(text, "warn: "), 3);
	assert_int_equal(count_str(text, "warn: metrics: "
	    "http_server_request_duration_seconds reached its limit of 20 "
	    "series"), 1);
	assert_int_equal(count_str(text, "warn: metrics: "
	    "http_server_request_body_size_bytes reached"), 1);
	assert_int_equal(count_str(text, "warn: metrics: "
	    "http_server_response_body_size_bytes reached"), 1);
	assert_int_equal(count_str(text, "info: "), 0);
	free(text);

	/* Still full after one series goes: the same episode. */
	capture_start(&c);
	metrics_set_time(m, t0 + 2 * TTL);
	for (uint16_t st = 201; st < 220; st++) {
		s = span(SG_SPAN_SERVER, "GET", st, 1000, 0, 0);
		metrics_record_span(m, &s);
	}
	metrics_set_time(m, t0 + 3 * TTL);
	metrics_expire(m, 2 * TTL - 1);           /* status 200 goes */
	s = span(SG_SPAN_SERVER, "GET", 300, 1000, 0, 0);
	metrics_record_span(m, &s);               /* takes its place */
	s.status = 301;
	metrics_record_span(m, &s);               /* refused again */
	metrics_expire(m, 2 * TTL - 1);
	text = capture_end(&c);
	assert_string_equal(text, "");
	free(text);

	/* Everything expires: room again, said once per family ... */
	capture_start(&c);
	metrics_set_time(m, t0 + 10 * TTL);
	metrics_expire(m, TTL);
	metrics_expire(m, TTL);
	text = capture_end(&c);
	assert_int_equal(count_str(text, "info: "), 3);
	assert_int_equal(count_str(text, "info: metrics: "
	    "http_server_request_duration_seconds has room again (0 of 20 "
	    "series); 31 observations of series it had no room for were not "
	    "counted"), 1);
	assert_int_equal(count_str(text, "warn: "), 0);
	free(text);

	/* ... and the next refusal is a new episode. */
	capture_start(&c);
	for (uint16_t st = 200; st < 221; st++) {
		s = span(SG_SPAN_SERVER, "GET", st, 1000, 0, 0);
		metrics_record_span(m, &s);
	}
	text = capture_end(&c);
	assert_int_equal(count_str(text, "warn: "), 3);
	free(text);
	metrics_free(m);
}

static void
test_snapshot_cap(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s = span(SG_SPAN_CLIENT, "GET", 200, 1000, 1, 2);
	uint8_t *buf = malloc(SNAP_CAP);
	size_t full;

	(void)state;
	metrics_record_span(m, &s);
	full = metrics_snapshot(m, buf, SNAP_CAP, 1, 0, 0);
	assert_true(full > 0);
	for (size_t cap = 0; cap < full; cap += 7)
		assert_int_equal(metrics_snapshot(m, buf, cap, 1, 0, 0), 0);
	assert_int_equal(metrics_snapshot(m, buf, full - 1, 1, 0, 0), 0);
	assert_int_equal(metrics_snapshot(m, buf, full, 1, 0, 0), full);
	assert_int_equal(metrics_snapshot(m, NULL, full, 1, 0, 0), 0);
	free(buf);
	metrics_free(m);
}

/* ---- spans */

static struct sg_conn
conn4(void)
{
	struct sg_conn c;

	memset(&c, 0, sizeof(c));
	c.pid = 4242;
	c.sock = 1;
	c.role = SG_ROLE_SERVER;
	c.id.family = AF_INET;
	c.id.lport = 8080;
	c.id.rport = 51000;
	memcpy(c.id.laddr, (uint8_t[]){ 127, 0, 0, 1 }, 4);
	memcpy(c.id.raddr, (uint8_t[]){ 192, 168, 1, 20 }, 4);
	return c;
}

static struct sg_exchange
exchange(uint8_t role)
{
	struct sg_exchange ex;

	memset(&ex, 0, sizeof(ex));
	ex.role = role;
	ex.start_ns = 1000;
	ex.end_ns = 3500;
	ex.app = SG_APP_HTTP;
	snprintf(ex.op, sizeof(ex.op), "GET");
	snprintf(ex.target, sizeof(ex.target), "/a/b");
	snprintf(ex.version, sizeof(ex.version), "1.1");
	ex.status = 204;
	ex.req_size = 11;
	ex.resp_size = 22;
	return ex;
}

static int
is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void
test_spans_server(void **state)
{
	struct sg_conn c = conn4();
	struct sg_exchange ex = exchange(SG_ROLE_SERVER);
	struct sg_proc_info p = proc(4242, "shop", 1);
	struct sg_span s, s2;

	(void)state;
	spans_init();
	spans_init();
	/* not exported: no ids; addresses, for the metrics' server_address
	 * (and client_address when selected) */
	spans_build(&s, &c, &ex, &p, 1000000, false);
	assert_true(is_zero(s.trace_id, 16));
	assert_true(is_zero(s.span_id, 8));
	assert_string_equal(s.host_addr, "127.0.0.1");
	assert_string_equal(s.peer_addr, "192.168.1.20");
	assert_string_equal(s.service_name, "shop");
	spans_build(&s, &c, &ex, &p, 1000000, true);
	assert_int_equal(s.kind, SG_SPAN_SERVER);
	assert_int_equal(s.start_ns, 1001000);
	assert_int_equal(s.end_ns, 1003500);
	assert_int_equal(s.pid, 4242);
	assert_string_equal(s.service_name, "shop");
	assert_string_equal(s.service_namespace, "prod");
	assert_string_equal(s.instance_id, "h:4242");
	assert_string_equal(s.op, "GET");
	assert_string_equal(s.target, "/a/b");
	assert_string_equal(s.route, "");
	assert_int_equal(s.status, 204);
	assert_string_equal(s.scheme, "http");
	assert_string_equal(s.protocol_version, "1.1");
	assert_string_equal(s.host_addr, "127.0.0.1");
	assert_int_equal(s.host_port, 8080);
	assert_string_equal(s.peer_addr, "192.168.1.20");
	assert_int_equal(s.peer_port, 51000);
	assert_int_equal(s.req_size, 11);
	assert_int_equal(s.resp_size, 22);
	assert_false(is_zero(s.trace_id, 16));
	assert_false(is_zero(s.span_id, 8));
	assert_true(is_zero(s.parent_span_id, 8));

	spans_build(&s2, &c, &ex, &p, 1000000, true);
	assert_memory_not_equal(s.trace_id, s2.trace_id, 16);
	assert_memory_not_equal(s.span_id, s2.span_id, 8);

	/* the plaintext of a TLS connection, from the library's hooks */
	c.tls = SG_CONN_TLS_PLAINTEXT;
	spans_build(&s, &c, &ex, &p, 1000000, true);
	assert_string_equal(s.scheme, "https");
	c.tls = SG_CONN_TLS_RECORDS;
	spans_build(&s, &c, &ex, &p, 1000000, true);
	assert_string_equal(s.scheme, "http");
}

/* The caller's tracestate goes with the server span that continues its
 * traceparent, and with no other. */
static void
test_spans_trace_state(void **state)
{
	static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16 };
	static const uint8_t pid[8] = { 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 1, 2 };
	static const char ts[] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
	struct sg_conn c = conn4();
	struct sg_exchange ex = exchange(SG_ROLE_SERVER);
	struct sg_span s;

	(void)state;
	spans_init();
	ex.flags |= SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED;
	memcpy(ex.trace_id, tid, 16);
	memcpy(ex.parent_span_id, pid, 8);
	ex.tracestate = ts;
	ex.tracestate_len = 17;		/* a length, not a NUL, ends it */
	memset(&s, 0x55, sizeof(s));
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_memory_equal(s.trace_id, tid, 16);
	assert_memory_equal(s.parent_span_id, pid, 8);
	assert_string_equal(s.trace_state, "congo=t61rcWkgMzE");
	/* not exported: nothing to carry it */
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_string_equal(s.trace_state, "");
	/* a client's own header is not its span's context */
	ex.role = SG_ROLE_CLIENT;
	c.role = SG_ROLE_CLIENT;
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_memory_not_equal(s.trace_id, tid, 16);
	assert_string_equal(s.trace_state, "");
	/* without a traceparent a tracestate means nothing */
	ex.role = SG_ROLE_SERVER;
	c.role = SG_ROLE_SERVER;
	ex.flags &= (uint8_t)~(SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED);
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_string_equal(s.trace_state, "");
}

static void
test_spans_client(void **state)
{
	struct sg_conn c = conn4();
	struct sg_exchange ex = exchange(SG_ROLE_CLIENT);
	struct sg_span s;
	static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 10, 1, 2, 3 };

	(void)state;
	c.role = SG_ROLE_CLIENT;
	c.id.family = AF_INET6;
	memcpy(c.id.laddr, mapped, 16);
	memcpy(c.id.raddr, v6a, 16);
	c.id.lport = 40000;
	c.id.rport = 443;
	snprintf(ex.version, sizeof(ex.version), "1.0");
	ex.end_ns = 10;            /* before start: a zero-length span */
	/* not exported, but client metrics need the server's address */
	spans_build(&s, &c, &ex, NULL, -500, false);
	assert_int_equal(s.kind, SG_SPAN_CLIENT);
	assert_int_equal(s.start_ns, 500);
	assert_int_equal(s.end_ns, 500);
	assert_string_equal(s.host_addr, "10.1.2.3");
	assert_int_equal(s.host_port, 40000);
	assert_string_equal(s.peer_addr, "2001:db8::1");
	assert_int_equal(s.peer_port, 443);
	assert_string_equal(s.protocol_version, "1.0");
	assert_string_equal(s.service_name, "unknown_service");
	assert_string_equal(s.service_namespace, "");
	assert_string_equal(s.instance_id, "4242");

	/* unknown exchange role: the connection's role decides */
	ex.role = SG_ROLE_UNKNOWN;
	ex.version[0] = '\0';
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_int_equal(s.kind, SG_SPAN_CLIENT);
	assert_string_equal(s.protocol_version, "1.1");

	/* Addresses are formatted again when they change (the last ones
	 * are kept), shorter ones leaving nothing of the longer behind. */
	c.id.family = AF_INET;
	memset(c.id.laddr, 0, 16);
	memset(c.id.raddr, 0, 16);
	memcpy(c.id.laddr, (uint8_t[]){ 192, 168, 100, 200 }, 4);
	memcpy(c.id.raddr, (uint8_t[]){ 1, 2, 3, 4 }, 4);
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_string_equal(s.host_addr, "192.168.100.200");
	assert_string_equal(s.peer_addr, "1.2.3.4");
	memcpy(c.id.laddr, (uint8_t[]){ 9, 9, 9, 9 }, 4);
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_string_equal(s.host_addr, "9.9.9.9");
	assert_int_equal(s.host_addr[sizeof(s.host_addr) - 1], 0);
	assert_int_equal(s.host_addr[10], 0);
	assert_string_equal(s.peer_addr, "1.2.3.4");
	c.id.family = AF_INET6;   /* the same bytes, another family */
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_string_equal(s.peer_addr, "102:304::");
}

/* A valid incoming context: a server span continues the caller's trace;
 * a client span, or one without a context, starts its own. */
static void
test_spans_trace_context(void **state)
{
	static const uint8_t trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3,
	    0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	static const uint8_t parent[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9,
	    0x02, 0xb7 };
	struct sg_conn c = conn4();
	struct sg_exchange ex = exchange(SG_ROLE_SERVER);
	struct sg_span s, s2;

	(void)state;
	memcpy(ex.trace_id, trace, 16);
	memcpy(ex.parent_span_id, parent, 8);
	ex.flags = SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_SAMPLED);
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_memory_equal(s.trace_id, trace, 16);
	assert_memory_equal(s.parent_span_id, parent, 8);
	assert_false(is_zero(s.span_id, 8));
	assert_memory_not_equal(s.span_id, parent, 8);
	/* two requests with one caller's span: one trace, two spans */
	spans_build(&s2, &c, &ex, NULL, 0, true);
	assert_memory_equal(s2.trace_id, trace, 16);
	assert_memory_not_equal(s.span_id, s2.span_id, 8);
	/* not exported: no ids at all */
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_true(is_zero(s.trace_id, 16));
	assert_true(is_zero(s.parent_span_id, 8));

	ex.flags = SG_EX_TRACE_CTX;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_NOT_SAMPLED);
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_memory_equal(s.trace_id, trace, 16);
	assert_memory_equal(s.parent_span_id, parent, 8);

	/* the connection's role when the exchange has none */
	ex.role = SG_ROLE_UNKNOWN;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_NOT_SAMPLED);
	c.role = SG_ROLE_CLIENT;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_NONE);
	/* a client's own request: its context is not the span's parent */
	ex.role = SG_ROLE_CLIENT;
	ex.flags = SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_NONE);
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_memory_not_equal(s.trace_id, trace, 16);
	assert_true(is_zero(s.parent_span_id, 8));

	/* an invalid one, or none: a trace of its own */
	c.role = SG_ROLE_SERVER;
	ex = exchange(SG_ROLE_SERVER);
	ex.flags = SG_EX_TRACE_INVALID;
	assert_int_equal(spans_parent(&c, &ex), SG_PARENT_NONE);
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_false(is_zero(s.trace_id, 16));
	assert_true(is_zero(s.parent_span_id, 8));
	assert_int_equal(spans_parent(NULL, &ex), SG_PARENT_NONE);
}

static void
test_spans_addr(void **state)
{
	char buf[SG_ADDR_MAX];
	uint8_t a[16] = { 0 };

	(void)state;
	spans_format_addr(buf, sizeof(buf), AF_INET6, a);
	assert_string_equal(buf, "::");
	a[15] = 1;
	spans_format_addr(buf, sizeof(buf), AF_INET6, a);
	assert_string_equal(buf, "::1");
	spans_format_addr(buf, sizeof(buf), 99, a);
	assert_string_equal(buf, "");
	memcpy(a, (uint8_t[]){ 255, 255, 255, 255 }, 4);
	spans_format_addr(buf, sizeof(buf), AF_INET, a);
	assert_string_equal(buf, "255.255.255.255");
	memcpy(a, (uint8_t[]){ 0, 0, 0, 0 }, 4);
	spans_format_addr(buf, sizeof(buf), AF_INET, a);
	assert_string_equal(buf, "0.0.0.0");
	memcpy(a, (uint8_t[]){ 1, 23, 100, 9 }, 4);
	spans_format_addr(buf, sizeof(buf), AF_INET, a);
	assert_string_equal(buf, "1.23.100.9");
	memcpy(a, (uint8_t[]){ 127, 10, 99, 200 }, 4);
	spans_format_addr(buf, sizeof(buf), AF_INET, a);
	assert_string_equal(buf, "127.10.99.200");
	memcpy(a, (uint8_t[]){ 255, 255, 255, 255 }, 4);
	spans_format_addr(buf, 8, AF_INET, a);    /* truncated, terminated */
	assert_string_equal(buf, "255.255");
	memset(a, 0xab, sizeof(a));
	spans_format_addr(buf, 8, AF_INET6, a);   /* does not fit: empty */
	assert_string_equal(buf, "");
	spans_format_addr(buf, sizeof(buf), AF_INET, NULL);
	assert_string_equal(buf, "");
	spans_format_addr(NULL, 0, AF_INET, a);
}

static void
test_spans_clock(void **state)
{
	struct timespec r, mo;
	int64_t off = spans_clock_offset(), want;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	want = ((int64_t)r.tv_sec - (int64_t)mo.tv_sec) * 1000000000LL +
	    ((int64_t)r.tv_nsec - (int64_t)mo.tv_nsec);
	assert_true(llabs(off - want) < 50000000LL);     /* 50ms */
}

/* [attributes.select.*]: an include list replaces the defaults, an
 * exclude list takes away, a family glob picks the families; the size
 * families of a side may then differ from its duration family. */
/* Database operations: their own families, client and server apart,
 * Beyla's labels, error_type only on errors. */
static void
test_db_labels(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *se;

	(void)state;
	s = span(SG_SPAN_CLIENT, "SELECT", 0, 2000000, 0, 0);
	s.app = SG_APP_POSTGRESQL;
	s.peer_port = 5432;
	snprintf(s.collection, sizeof(s.collection), "users");
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	snprintf(s.error, sizeof(s.error), "42P01");
	metrics_record_span(m, &s);
	s = span(SG_SPAN_CLIENT, "GET", 0, 1000000, 0, 0);
	s.app = SG_APP_REDIS;
	metrics_record_span(m, &s);
	s.kind = SG_SPAN_SERVER;
	metrics_record_span(m, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "db_client_operation_duration_seconds");
	assert_int_equal(f->hdr.nseries, 3);
	se = find_series(f, "db_system_name", "postgresql",
	    "db_operation_name", "SELECT", "db_collection_name", "users",
	    "server_port", "5432", NULL);
	assert_non_null(se);
	for (uint32_t i = 0; i < f->hdr.nseries; i++) {
		se = &f->series[i];
		if (label(se, "error_type") != NULL) {
			assert_string_equal(label(se, "error_type"), "42P01");
			assert_int_equal(se->count, 1);
		} else if (strcmp(label(se, "db_system_name"), "postgresql") == 0)
			assert_int_equal(se->count, 2);
		else {
			assert_string_equal(label(se, "db_system_name"), "redis");
			assert_null(label(se, "db_collection_name"));
			assert_int_equal(se->count, 1);
		}
		assert_null(label(se, "http_request_method"));
		assert_null(label(se, "url_path"));
	}
	f = dfam(&d, "db_server_operation_duration_seconds");
	assert_int_equal(f->hdr.nseries, 1);
	assert_string_equal(label(&f->series[0], "db_operation_name"), "GET");
	assert_int_equal(dfam(&d, "http_client_request_duration_seconds")
	    ->hdr.nseries, 0);
	dsnap_free(&d);
	metrics_free(m);
}

/* Kafka: Produce is publishing, Fetch processing, by topic. */
static void
test_messaging_labels(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;
	struct sg_series *se;

	(void)state;
	s = span(SG_SPAN_CLIENT, "publish", 0, 2000000, 0, 0);
	s.app = SG_APP_KAFKA;
	snprintf(s.target, sizeof(s.target), "orders");
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	snprintf(s.target, sizeof(s.target), "audit");
	metrics_record_span(m, &s);
	snprintf(s.op, sizeof(s.op), "process");
	metrics_record_span(m, &s);
	s.kind = SG_SPAN_SERVER;   /* a broker's side: not counted */
	metrics_record_span(m, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "messaging_publish_duration_seconds");
	assert_int_equal(f->hdr.nseries, 2);
	se = find_series(f, "messaging_destination_name", "orders",
	    "messaging_system", "kafka", NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 2);
	se = find_series(f, "messaging_destination_name", "audit", NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 1);
	f = dfam(&d, "messaging_process_duration_seconds");
	assert_int_equal(f->hdr.nseries, 1);
	se = find_series(f, "messaging_destination_name", "audit", NULL);
	assert_non_null(se);
	assert_int_equal(se->count, 1);
	assert_int_equal(dfam(&d, "db_client_operation_duration_seconds")
	    ->hdr.nseries, 0);
	dsnap_free(&d);
	metrics_free(m);
}

/* An SQL statement loses its literals in the span; the database fields
 * are copied, the HTTP ones stay empty. */
static void
test_spans_sql(void **state)
{
	struct sg_conn c = conn4();
	struct sg_exchange ex = exchange(SG_ROLE_CLIENT);
	struct sg_span s;

	(void)state;
	ex.app = SG_APP_POSTGRESQL;
	snprintf(ex.op, sizeof(ex.op), "SELECT");
	snprintf(ex.target, sizeof(ex.target),
	    "SELECT * FROM users WHERE name = 'bob' AND id = 42");
	snprintf(ex.collection, sizeof(ex.collection), "users");
	snprintf(ex.db_namespace, sizeof(ex.db_namespace), "shop");
	snprintf(ex.error, sizeof(ex.error), "42P01");
	ex.status = 0;
	/* not exported: the text is neither needed nor sanitized */
	spans_build(&s, &c, &ex, NULL, 0, false);
	assert_string_equal(s.target, "");
	assert_string_equal(s.collection, "users");
	spans_build(&s, &c, &ex, NULL, 0, true);
	assert_int_equal(s.kind, SG_SPAN_CLIENT);
	assert_int_equal(s.app, SG_APP_POSTGRESQL);
	assert_null(strstr(s.target, "bob"));
	assert_null(strstr(s.target, "42"));
	assert_non_null(strstr(s.target, "users"));
	assert_string_equal(s.collection, "users");
	assert_string_equal(s.db_namespace, "shop");
	assert_string_equal(s.error, "42P01");
	assert_string_equal(s.scheme, "");
	assert_string_equal(s.protocol_version, "");
}

static struct sg_pstat
pstat(uint32_t pid, uint64_t start, uint64_t user_us, uint64_t sys_us)
{
	struct sg_pstat ps;

	memset(&ps, 0, sizeof(ps));
	ps.pid = pid;
	ps.start_time = start;
	ps.user_us = user_us;
	ps.system_us = sys_us;
	ps.rss_bytes = 10 << 20;
	ps.vm_bytes = 100 << 20;
	snprintf(ps.comm, sizeof(ps.comm), "busy) (x");
	return ps;
}

/* application_process: families only with the feature; CPU time as
 * read, utilisation over the last interval per CPU, memory, disk only
 * when readable; an exit lets the series age out; a reused pid starts
 * its series again. */
static void
test_process_metrics(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 100);
	char err[SG_CONFIG_ERR_MAX];
	struct sg_proc_info p = proc(42, "busy", 1);
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC);
	struct sg_series *se;
	struct sg_config c;
	struct sg_pstat ps;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	snprintf(p.exe, sizeof(p.exe), "/usr/local/bin/busy");
	p.start_time = 777;
	metrics_set_time(m, t0);
	metrics_service_seen(m, &p);
	ps = pstat(42, 777, 2000000, 500000);
	/* Off by default: nothing recorded, no family. */
	metrics_record_process(m, &p, &ps, 5 * SEC, 4, NULL);
	dsnap_take(m, &d);
	assert_null(dfam(&d, "process_cpu_time_seconds_total"));
	assert_null(dfam(&d, "process_memory_usage_bytes"));
	dsnap_free(&d);

	sg_config_defaults(&c);
	assert_int_equal(sg_config_set(&c, "metrics", "features",
	    "application,application_process", "t", err, sizeof(err)), 0);
	metrics_select(m, &c);
	metrics_record_process(m, &p, &ps, 5 * SEC, 4, NULL);
	dsnap_take(m, &d);
	f = dfam(&d, "process_cpu_time_seconds_total");
	assert_non_null(f);
	assert_int_equal(f->hdr.type, SG_METRIC_COUNTER);
	assert_int_equal(f->hdr.flags, SG_FAMILY_OBSERVED);
	assert_string_equal(f->hdr.otel_name, "process.cpu.time");
	assert_int_equal(f->hdr.nseries, 2);
	se = find_series(f, "cpu_mode", "user", "service_name", "busy",
	    "service_namespace", "prod", "target_instance", "h:42",
	    "process_pid", "42", "process_executable_name", "busy",
	    "process_executable_path", "/usr/local/bin/busy",
	    "process_command", "busy) (x", NULL);
	assert_non_null(se);
	assert_true(se->value_f == 2.0);
	assert_true(find_series(f, "cpu_mode", "system", NULL)->value_f == 0.5);
	/* One sample: no utilisation yet. */
	assert_int_equal(dfam(&d, "process_cpu_utilization_ratio")->hdr.nseries,
	    0);
	assert_true(dfam(&d, "process_memory_usage_bytes")->series[0].value_f ==
	    10 << 20);
	assert_true(dfam(&d, "process_memory_virtual_bytes")->series[0].value_f
	    == 100 << 20);
	assert_int_equal(dfam(&d, "process_disk_io_bytes_total")->hdr.nseries, 0);
	dsnap_free(&d);

	/* 2 s later, 1.5 s more user time and 0.1 s system, on 4 CPUs. */
	ps = pstat(42, 777, 3500000, 600000);
	ps.flags = SG_PSTAT_IO;
	ps.io_read = 4096;
	ps.io_write = 8192;
	metrics_record_process(m, &p, &ps, 7 * SEC, 4,
	    (const uint64_t[2]){ 300, 1200 });
	dsnap_take(m, &d);
	f = dfam(&d, "process_cpu_utilization_ratio");
	assert_int_equal(f->hdr.type, SG_METRIC_GAUGE);
	assert_int_equal(f->hdr.nseries, 2);
	assert_true(fabs(find_series(f, "cpu_mode", "user", NULL)->value_f -
	    1.5 / 2 / 4) < 1e-9);
	assert_true(fabs(find_series(f, "cpu_mode", "system", NULL)->value_f -
	    0.1 / 2 / 4) < 1e-9);
	f = dfam(&d, "process_disk_io_bytes_total");
	assert_int_equal(f->hdr.nseries, 2);
	assert_true(find_series(f, "disk_io_direction", "read",
	    NULL)->value_f == 4096);
	assert_true(find_series(f, "disk_io_direction", "write",
	    NULL)->value_f == 8192);
	assert_true(find_series(f, "disk_io_direction", "write",
	    NULL)->idle_ns == 0);
	f = dfam(&d, "process_network_io_bytes_total");
	assert_int_equal(f->hdr.type, SG_METRIC_COUNTER);
	assert_string_equal(f->hdr.otel_name, "process.network.io");
	assert_true(find_series(f, "network_io_direction", "receive",
	    NULL)->value_f == 300);
	assert_true(find_series(f, "network_io_direction", "transmit",
	    NULL)->value_f == 1200);
	dsnap_free(&d);

	/* It exits: its series age from then, as target_info does. */
	p.present = 0;
	metrics_service_seen(m, &p);
	metrics_set_time(m, t0 + TTL);
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	se = find_series(dfam(&d, "process_cpu_time_seconds_total"),
	    "cpu_mode", "user", NULL);
	assert_non_null(se);
	assert_true(se->idle_ns == TTL);
	dsnap_free(&d);

	/* The pid comes back as another process: a series of its own,
	 * counting from its own start, no utilisation across the two. */
	p.present = 1;
	p.start_time = 999;
	metrics_service_seen(m, &p);
	ps = pstat(42, 999, 100000, 0);
	metrics_record_process(m, &p, &ps, 8 * SEC, 4, NULL);
	dsnap_take(m, &d);
	f = dfam(&d, "process_cpu_time_seconds_total");
	se = find_series(f, "cpu_mode", "user", NULL);
	assert_true(se->value_f == 0.1);
	assert_true(se->idle_ns == 0);
	dsnap_free(&d);
	metrics_set_time(m, t0 + 2 * TTL + 1);
	metrics_expire(m, TTL);
	dsnap_take(m, &d);
	/* Live: still there; the disk series of the first one expired. */
	assert_int_equal(dfam(&d, "process_cpu_time_seconds_total")->hdr.nseries,
	    2);
	assert_int_equal(dfam(&d, "process_disk_io_bytes_total")->hdr.nseries, 0);
	dsnap_free(&d);

	/* Off again: the families leave the snapshot. */
	sg_config_defaults(&c);
	metrics_select(m, &c);
	dsnap_take(m, &d);
	assert_null(dfam(&d, "process_cpu_time_seconds_total"));
	assert_non_null(dfam(&d, "target_info"));
	dsnap_free(&d);
	metrics_free(m);
}

static void
test_attribute_select(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;
	struct sg_span s;
	struct dsnap d;
	struct dfam *f;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set(&c, "attributes.select.http_server_*",
	    "include", "*", "t", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set(&c, "attributes.select.http_server_*",
	    "exclude", "server.*, target_instance", "t", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set(&c,
	    "attributes.select.http_server_request_body_size", "include",
	    "http_request_method", "t", err, sizeof(err)), 0);
	metrics_select(m, &c);
	s = span(SG_SPAN_SERVER, "GET", 200, 1000000, 0, 10);
	snprintf(s.target, sizeof(s.target), "/users/42");
	snprintf(s.route, sizeof(s.route), "/users/{id}");
	snprintf(s.scheme, sizeof(s.scheme), "https");
	metrics_record_span(m, &s);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_CLIENT, "GET", 200, 1000000, 0, 10);
	metrics_record_span(m, &s);
	dsnap_take(m, &d);

	f = dfam(&d, "http_server_request_duration_seconds");
	assert_int_equal(f->hdr.nseries, 1);
	assert_non_null(find_series(f, "http_request_method", "GET",
	    "http_response_status_code", "200", "http_route", "/users/{id}",
	    "url_scheme", "https", "url_path", "/users/42", "service_name",
	    "svc", "service_namespace", "ns", "client_address", "10.0.0.2",
	    NULL));
	assert_int_equal(f->series[0].nlabels, 8);
	assert_int_equal(f->series[0].count, 2);
	/* the later, narrower block for the request size */
	f = dfam(&d, "http_server_request_body_size_bytes");
	assert_int_equal(f->series[0].nlabels, 1);
	assert_int_equal(f->series[0].count, 2);
	f = dfam(&d, "http_server_response_body_size_bytes");
	assert_int_equal(f->series[0].nlabels, 8);
	/* the client side keeps the defaults */
	f = dfam(&d, "http_client_request_duration_seconds");
	assert_int_equal(f->series[0].nlabels, 8);
	assert_non_null(find_series(f, "server_address", "10.0.0.2",
	    "server_port", "8080", NULL));
	dsnap_free(&d);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test(test_empty_families),
		cmocka_unit_test(test_server_histograms),
		cmocka_unit_test(test_client_labels),
		cmocka_unit_test(test_attribute_select),
		cmocka_unit_test(test_grpc_labels),
		cmocka_unit_test(test_db_labels),
		cmocka_unit_test(test_messaging_labels),
		cmocka_unit_test(test_spans_sql),
		cmocka_unit_test(test_method_status),
		cmocka_unit_test(test_label_hash_reuse),
		cmocka_unit_test(test_label_cache_slots),
		cmocka_unit_test(test_series_limit),
		cmocka_unit_test(test_many_series),
		cmocka_unit_test(test_target_info),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_series_memo_moves),
		cmocka_unit_test(test_expiry_churn),
		cmocka_unit_test(test_full_logged_once),
		cmocka_unit_test(test_snapshot_cap),
		cmocka_unit_test(test_spans_server),
		cmocka_unit_test(test_spans_trace_state),
		cmocka_unit_test(test_spans_client),
		cmocka_unit_test(test_spans_trace_context),
		cmocka_unit_test(test_spans_addr),
		cmocka_unit_test(test_spans_clock),
		cmocka_unit_test(test_process_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
