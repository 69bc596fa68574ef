/* OTLP encoding (otlp_encode.c): encode, decode again with the
 * protobuf-c code generated from proto/, and compare field by field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otlp_trace_service.pb-c.h"
#include "otlp_metrics_service.pb-c.h"

#include "clock.h"
#include "metrics.h"
#include "otlp_encode.h"
#include "self.h"
#include "servicegraph.h"
#include "spanmetrics.h"
#include "snapshot.h"
#include "wire.h"

#define SNAP_CAP (1u << 20)
/* Snapshot time: after every series' start, which is the real clock. */
#define SNAP_TIME 4000000000000000000ULL
#define NO_TTL    UINT64_MAX

typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
    trace_req_t;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
    metrics_req_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans rspans_t;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics rmetrics_t;
typedef Opentelemetry__Proto__Metrics__V1__Metric metric_t;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hdp_t;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint ndp_t;

#define STRING_VALUE OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define INT_VALUE    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
#define KIND_SERVER  OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT  OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define KIND_PRODUCER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER
#define KIND_CONSUMER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER
#define STATUS_UNSET OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET
#define STATUS_ERROR OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR
#define CUMULATIVE   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define DATA_HIST    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM
#define DATA_SUM     OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM
#define DATA_GAUGE   OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
#define AS_DOUBLE    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE

static const uint8_t trace_id[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3,
    0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t span_id1[8] = { 0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02,
    0xb7 };
static const uint8_t span_id2[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* ---- helpers */

static struct sg_span
mkspan(uint8_t kind, const char *svc, uint32_t pid, const char *method,
    const char *route, uint16_t status)
{
	struct sg_span s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.app = SG_APP_HTTP;
	s.start_ns = 1700000000123456789ULL;
	s.end_ns = s.start_ns + 2500000;
	memcpy(s.trace_id, trace_id, sizeof(s.trace_id));
	memcpy(s.span_id, span_id1, sizeof(s.span_id));
	s.pid = pid;
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.instance_id, sizeof(s.instance_id), "host1:%u", pid);
	snprintf(s.op, sizeof(s.op), "%s", method);
	snprintf(s.target, sizeof(s.target), "/users/42");
	snprintf(s.route, sizeof(s.route), "%s", route);
	s.status = status;
	snprintf(s.scheme, sizeof(s.scheme), "http");
	snprintf(s.protocol_version, sizeof(s.protocol_version), "1.1");
	snprintf(s.peer_addr, sizeof(s.peer_addr), "10.0.0.2");
	s.peer_port = 50000;
	snprintf(s.host_addr, sizeof(s.host_addr), "10.0.0.1");
	s.host_port = 8080;
	s.req_size = 12;
	s.resp_size = 3400;
	return s;
}

static const kv_t *
find_kv(kv_t *const *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0)
			return kv[i];
	return NULL;
}

static void
assert_str_attr(kv_t *const *kv, size_t n, const char *key, const char *want)
{
	const kv_t *a = find_kv(kv, n, key);

	if (a == NULL)
		fail_msg("attribute %s missing", key);
	assert_int_equal(a->value->value_case, STRING_VALUE);
	assert_string_equal(a->value->string_value, want);
}

static void
assert_int_attr(kv_t *const *kv, size_t n, const char *key, int64_t want)
{
	const kv_t *a = find_kv(kv, n, key);

	if (a == NULL)
		fail_msg("attribute %s missing", key);
	assert_int_equal(a->value->value_case, INT_VALUE);
	assert_int_equal(a->value->int_value, want);
}

static trace_req_t *
encode_decode_traces(const struct sg_span *s, size_t n,
    const struct otlp_resource_extra *x)
{
	trace_req_t *req;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(otlp_encode_traces(s, n, x, false, &buf, &len), 0);
	assert_non_null(buf);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, buf);
	assert_non_null(req);
	free(buf);
	return req;
}

static metrics_req_t *
encode_decode_metrics(const uint8_t *snap, size_t n,
    const struct otlp_resource_extra *x, uint64_t ttl_ns)
{
	metrics_req_t *req;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(otlp_encode_metrics(snap, n, x, ttl_ns, false, &buf, &len),
	    0);
	assert_non_null(buf);
	req = opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
	    NULL, len, buf);
	assert_non_null(req);
	free(buf);
	return req;
}

static void
free_traces(trace_req_t *r)
{
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    r, NULL);
}

static void
free_metrics(metrics_req_t *r)
{
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
	    r, NULL);
}

static void
extra_init(struct otlp_resource_extra *x, const char *attrs)
{
	char err[128];

	memset(x, 0, sizeof(*x));
	snprintf(x->host_name, sizeof(x->host_name), "node1");
	assert_int_equal(otlp_resource_extra_parse(x, attrs, err,
	    sizeof(err)), 0);
}

/* ---- traces */

static void
test_traces_fields(void **state)
{
	struct otlp_resource_extra x;
	struct sg_span s[2];
	trace_req_t *req;
	rspans_t *rs;
	span_t *sp;
	kv_t **ra;
	size_t nra;

	(void)state;
	extra_init(&x, "deployment.environment=prod,service.name=envsvc");
	s[0] = mkspan(SG_SPAN_SERVER, "api", 10, "GET", "/users/{id}", 503);
	snprintf(s[0].service_namespace, sizeof(s[0].service_namespace),
	    "shop");
	s[1] = mkspan(SG_SPAN_CLIENT, "api", 10, "POST", "", 404);
	snprintf(s[1].service_namespace, sizeof(s[1].service_namespace),
	    "shop");
	memcpy(s[1].span_id, span_id2, sizeof(s[1].span_id));
	memcpy(s[1].parent_span_id, span_id1, sizeof(s[1].parent_span_id));
	snprintf(s[0].trace_state, sizeof(s[0].trace_state), "congo=t61rcW");
	snprintf(s[1].peer_addr, sizeof(s[1].peer_addr), "192.0.2.9");
	s[1].peer_port = 443;

	req = encode_decode_traces(s, 2, &x);
	assert_int_equal(req->n_resource_spans, 1);
	rs = req->resource_spans[0];

	/* The resource: derived attributes first, the environment's after,
	 * and its service.name only stood in for a missing one. */
	ra = rs->resource->attributes;
	nra = rs->resource->n_attributes;
	assert_int_equal(nra, 8);
	assert_string_equal(ra[0]->key, "service.name");
	assert_str_attr(ra, nra, "service.name", "api");
	assert_str_attr(ra, nra, "service.namespace", "shop");
	assert_str_attr(ra, nra, "service.instance.id", "host1:10");
	assert_str_attr(ra, nra, "telemetry.sdk.name", "spyglass");
	assert_str_attr(ra, nra, "telemetry.sdk.version", PACKAGE_VERSION);
	assert_str_attr(ra, nra, "host.name", "node1");
	assert_int_attr(ra, nra, "process.pid", 10);
	assert_str_attr(ra, nra, "deployment.environment", "prod");
	assert_null(find_kv(ra, nra, "telemetry.sdk.language"));

	assert_int_equal(rs->n_scope_spans, 1);
	assert_string_equal(rs->scope_spans[0]->scope->name, "spyglass");
	assert_int_equal(rs->scope_spans[0]->n_spans, 2);

	/* Server span, 503: an error on the server's side. */
	sp = rs->scope_spans[0]->spans[0];
	assert_string_equal(sp->name, "GET /users/{id}");
	assert_int_equal(sp->kind, KIND_SERVER);
	assert_int_equal(sp->trace_id.len, 16);
	assert_memory_equal(sp->trace_id.data, trace_id, 16);
	assert_int_equal(sp->span_id.len, 8);
	assert_memory_equal(sp->span_id.data, span_id1, 8);
	assert_int_equal(sp->parent_span_id.len, 0);
	assert_string_equal(sp->trace_state, "congo=t61rcW");
	assert_int_equal(sp->start_time_unix_nano, 1700000000123456789ULL);
	assert_int_equal(sp->end_time_unix_nano, 1700000000125956789ULL);
	assert_non_null(sp->status);
	assert_int_equal(sp->status->code, STATUS_ERROR);
	assert_int_equal(sp->n_attributes, 12);
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "http.request.method", "GET");
	assert_int_attr(sp->attributes, sp->n_attributes,
	    "http.response.status_code", 503);
	assert_str_attr(sp->attributes, sp->n_attributes, "url.path",
	    "/users/42");
	assert_str_attr(sp->attributes, sp->n_attributes, "url.scheme", "http");
	assert_str_attr(sp->attributes, sp->n_attributes, "http.route",
	    "/users/{id}");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "network.protocol.version", "1.1");
	assert_str_attr(sp->attributes, sp->n_attributes, "server.address",
	    "10.0.0.1");
	assert_int_attr(sp->attributes, sp->n_attributes, "server.port", 8080);
	assert_str_attr(sp->attributes, sp->n_attributes, "client.address",
	    "10.0.0.2");
	assert_int_attr(sp->attributes, sp->n_attributes, "client.port", 50000);
	assert_int_attr(sp->attributes, sp->n_attributes,
	    "http.request.body.size", 12);
	assert_int_attr(sp->attributes, sp->n_attributes,
	    "http.response.body.size", 3400);

	/* Client span, 404, no route: named by its method alone; the
	 * server is the peer. */
	sp = rs->scope_spans[0]->spans[1];
	assert_string_equal(sp->name, "POST");
	assert_int_equal(sp->kind, KIND_CLIENT);
	assert_memory_equal(sp->span_id.data, span_id2, 8);
	assert_int_equal(sp->parent_span_id.len, 8);
	assert_memory_equal(sp->parent_span_id.data, span_id1, 8);
	assert_string_equal(sp->trace_state, "");
	assert_int_equal(sp->status->code, STATUS_ERROR);
	assert_str_attr(sp->attributes, sp->n_attributes, "server.address",
	    "192.0.2.9");
	assert_int_attr(sp->attributes, sp->n_attributes, "server.port", 443);
	assert_null(find_kv(sp->attributes, sp->n_attributes,
	    "client.address"));
	assert_null(find_kv(sp->attributes, sp->n_attributes, "http.route"));
	free_traces(req);
}

static void
test_traces_status(void **state)
{
	static const struct { uint8_t kind; uint16_t status; int code; } c[] = {
		{ SG_SPAN_SERVER, 200, STATUS_UNSET },
		{ SG_SPAN_SERVER, 404, STATUS_UNSET },
		{ SG_SPAN_SERVER, 499, STATUS_UNSET },
		{ SG_SPAN_SERVER, 500, STATUS_ERROR },
		{ SG_SPAN_CLIENT, 399, STATUS_UNSET },
		{ SG_SPAN_CLIENT, 400, STATUS_ERROR },
		{ SG_SPAN_CLIENT, 0, STATUS_UNSET },
	};
	struct sg_span s[sizeof(c) / sizeof(c[0])];
	trace_req_t *req;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		s[i] = mkspan(c[i].kind, "svc", 1, "GET", "", c[i].status);
	req = encode_decode_traces(s, sizeof(c) / sizeof(c[0]), NULL);
	assert_int_equal(req->n_resource_spans, 1);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		span_t *sp = req->resource_spans[0]->scope_spans[0]->spans[i];

		assert_int_equal(sp->status->code, c[i].code);
		/* No response, no status code attribute. */
		assert_int_equal(find_kv(sp->attributes, sp->n_attributes,
		    "http.response.status_code") == NULL, c[i].status == 0);
	}
	free_traces(req);
}

/* gRPC: the conventions' name, attributes and status; a status the sensor
 * could not read is neither an attribute nor an error. */
static void
test_traces_grpc(void **state)
{
	static const struct {
		uint8_t kind; uint32_t status; uint8_t flags; int code;
	} c[] = {
		{ SG_SPAN_SERVER, 0, 0, STATUS_UNSET },
		{ SG_SPAN_SERVER, 5, 0, STATUS_UNSET },		/* NOT_FOUND */
		{ SG_SPAN_SERVER, 2, 0, STATUS_ERROR },		/* UNKNOWN */
		{ SG_SPAN_SERVER, 14, 0, STATUS_ERROR },	/* UNAVAILABLE */
		{ SG_SPAN_CLIENT, 5, 0, STATUS_ERROR },
		{ SG_SPAN_CLIENT, 0, 0, STATUS_UNSET },
		{ SG_SPAN_SERVER, 0, SG_SPAN_STATUS_UNKNOWN, STATUS_UNSET },
	};
	struct sg_span s[sizeof(c) / sizeof(c[0])];
	trace_req_t *req;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		s[i] = mkspan(c[i].kind, "svc", 1, "", "", 0);
		s[i].app = SG_APP_GRPC;
		s[i].status = c[i].status;
		s[i].flags = c[i].flags;
		snprintf(s[i].target, sizeof(s[i].target),
		    "/helloworld.Greeter/SayHello");
		snprintf(s[i].protocol_version, sizeof(s[i].protocol_version),
		    "2");
	}
	req = encode_decode_traces(s, sizeof(c) / sizeof(c[0]), NULL);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		span_t *sp = req->resource_spans[0]->scope_spans[0]->spans[i];

		assert_string_equal(sp->name, "helloworld.Greeter/SayHello");
		assert_int_equal(sp->status->code, c[i].code);
		assert_str_attr(sp->attributes, sp->n_attributes,
		    "rpc.system", "grpc");
		assert_str_attr(sp->attributes, sp->n_attributes,
		    "rpc.service", "helloworld.Greeter");
		assert_str_attr(sp->attributes, sp->n_attributes,
		    "rpc.method", "SayHello");
		if (c[i].flags & SG_SPAN_STATUS_UNKNOWN)
			assert_null(find_kv(sp->attributes, sp->n_attributes,
			    "rpc.grpc.status_code"));
		else
			assert_int_attr(sp->attributes, sp->n_attributes,
			    "rpc.grpc.status_code", c[i].status);
		assert_null(find_kv(sp->attributes, sp->n_attributes,
		    "http.request.method"));
	}
	free_traces(req);

	/* A method the sensor could not read: a generic name, no
	 * rpc.service or rpc.method. */
	s[0].flags = SG_SPAN_TARGET_UNKNOWN;
	s[0].target[0] = '\0';
	req = encode_decode_traces(s, 1, NULL);
	{
		span_t *sp = req->resource_spans[0]->scope_spans[0]->spans[0];

		assert_string_equal(sp->name, "grpc");
		assert_null(find_kv(sp->attributes, sp->n_attributes,
		    "rpc.method"));
	}
	free_traces(req);
}

/* Database and messaging spans: their conventions' names, attributes,
 * kinds and error status. */
static void
test_traces_db(void **state)
{
	struct sg_span s[4];
	trace_req_t *req;
	span_t *sp;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		s[i] = mkspan(SG_SPAN_CLIENT, "svc", 1, "SELECT", "", 0);
		s[i].scheme[0] = s[i].protocol_version[0] = '\0';
	}
	s[0].app = SG_APP_POSTGRESQL;
	snprintf(s[0].target, sizeof(s[0].target),
	    "SELECT * FROM users WHERE id = ?");
	snprintf(s[0].collection, sizeof(s[0].collection), "users");
	snprintf(s[0].db_namespace, sizeof(s[0].db_namespace), "shop");
	s[1] = s[0];
	snprintf(s[1].error, sizeof(s[1].error), "42P01");
	s[2].app = SG_APP_KAFKA;
	snprintf(s[2].op, sizeof(s[2].op), "publish");
	snprintf(s[2].target, sizeof(s[2].target), "orders");
	s[3] = s[2];
	snprintf(s[3].op, sizeof(s[3].op), "process");
	req = encode_decode_traces(s, 4, NULL);

	sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	assert_string_equal(sp->name, "SELECT users");
	assert_int_equal(sp->kind, KIND_CLIENT);
	assert_int_equal(sp->status->code, STATUS_UNSET);
	assert_str_attr(sp->attributes, sp->n_attributes, "db.system.name",
	    "postgresql");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "db.operation.name", "SELECT");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "db.collection.name", "users");
	assert_str_attr(sp->attributes, sp->n_attributes, "db.namespace",
	    "shop");
	assert_str_attr(sp->attributes, sp->n_attributes, "db.query.text",
	    "SELECT * FROM users WHERE id = ?");
	assert_str_attr(sp->attributes, sp->n_attributes, "server.address",
	    "10.0.0.2");
	assert_null(find_kv(sp->attributes, sp->n_attributes, "error.type"));
	assert_null(find_kv(sp->attributes, sp->n_attributes,
	    "http.request.method"));
	assert_null(find_kv(sp->attributes, sp->n_attributes, "url.scheme"));

	sp = req->resource_spans[0]->scope_spans[0]->spans[1];
	assert_int_equal(sp->status->code, STATUS_ERROR);
	assert_str_attr(sp->attributes, sp->n_attributes, "error.type",
	    "42P01");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "db.response.status_code", "42P01");

	sp = req->resource_spans[0]->scope_spans[0]->spans[2];
	assert_string_equal(sp->name, "publish orders");
	assert_int_equal(sp->kind, KIND_PRODUCER);
	assert_str_attr(sp->attributes, sp->n_attributes, "messaging.system",
	    "kafka");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "messaging.destination.name", "orders");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "messaging.operation.type", "send");
	sp = req->resource_spans[0]->scope_spans[0]->spans[3];
	assert_string_equal(sp->name, "process orders");
	assert_int_equal(sp->kind, KIND_CONSUMER);
	free_traces(req);
}

static void
test_traces_resources(void **state)
{
	struct otlp_resource_extra x;
	struct sg_span s[5];
	trace_req_t *req;
	rspans_t *const *rs;

	(void)state;
	extra_init(&x, "service.name=fallback, service.namespace=ns1");
	s[0] = mkspan(SG_SPAN_SERVER, "a", 1, "GET", "", 200);
	s[1] = mkspan(SG_SPAN_SERVER, "b", 2, "GET", "", 200);
	s[2] = mkspan(SG_SPAN_SERVER, "a", 1, "PUT", "", 200);
	s[3] = mkspan(SG_SPAN_SERVER, "a", 3, "GET", "", 200);
	s[4] = mkspan(SG_SPAN_CLIENT, "", 4, "GET", "", 200);

	req = encode_decode_traces(s, 5, &x);
	rs = req->resource_spans;
	/* One resource per process, in order of first appearance. */
	assert_int_equal(req->n_resource_spans, 4);
	assert_str_attr(rs[0]->resource->attributes,
	    rs[0]->resource->n_attributes, "service.name", "a");
	assert_int_attr(rs[0]->resource->attributes,
	    rs[0]->resource->n_attributes, "process.pid", 1);
	assert_str_attr(rs[0]->resource->attributes,
	    rs[0]->resource->n_attributes, "service.namespace", "ns1");
	assert_int_equal(rs[0]->scope_spans[0]->n_spans, 2);
	assert_string_equal(rs[0]->scope_spans[0]->spans[1]->name, "PUT");
	assert_str_attr(rs[1]->resource->attributes,
	    rs[1]->resource->n_attributes, "service.name", "b");
	assert_int_equal(rs[1]->scope_spans[0]->n_spans, 1);
	assert_int_attr(rs[2]->resource->attributes,
	    rs[2]->resource->n_attributes, "process.pid", 3);
	/* A process without a name takes the environment's. */
	assert_str_attr(rs[3]->resource->attributes,
	    rs[3]->resource->n_attributes, "service.name", "fallback");
	free_traces(req);

	/* Without any name at all: OpenTelemetry's unknown_service. */
	req = encode_decode_traces(&s[4], 1, NULL);
	assert_str_attr(req->resource_spans[0]->resource->attributes,
	    req->resource_spans[0]->resource->n_attributes, "service.name",
	    "unknown_service");
	assert_null(find_kv(req->resource_spans[0]->resource->attributes,
	    req->resource_spans[0]->resource->n_attributes, "host.name"));
	free_traces(req);
}

static void
test_traces_odd_input(void **state)
{
	struct sg_span s;
	trace_req_t *req;
	span_t *sp;
	uint8_t *buf = NULL;
	size_t len = 99;

	(void)state;
	/* Nothing to send: an empty request, still a valid one. */
	assert_int_equal(otlp_encode_traces(NULL, 0, NULL, false, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);

	/* A method outside the known set, bytes that are not UTF-8, and
	 * fields filled to the last byte without a terminator. */
	s = mkspan(SG_SPAN_SERVER, "svc", 1, "FOO", "", 200);
	snprintf(s.target, sizeof(s.target), "/a\xff" "b");
	memset(s.route, 'r', sizeof(s.route));
	memset(s.op, 'M', sizeof(s.op));
	req = encode_decode_traces(&s, 1, NULL);
	sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	assert_int_equal(strncmp(sp->name, "HTTP rrrr", 9), 0);
	assert_int_equal(strlen(sp->name), 5 + sizeof(s.route));
	assert_str_attr(sp->attributes, sp->n_attributes, "http.request.method",
	    "_OTHER");
	assert_str_attr(sp->attributes, sp->n_attributes,
	    "http.request.method_original", "MMMMMMMMMMMMMMMM");
	assert_str_attr(sp->attributes, sp->n_attributes, "url.path",
	    "/a\xef\xbf\xbd" "b");
	free_traces(req);
}

/* ---- metrics */

static size_t
snapshot(struct sg_metrics *m, uint8_t **out)
{
	uint8_t *buf = malloc(SNAP_CAP);
	size_t len;

	assert_non_null(buf);
	len = metrics_snapshot(m, buf, SNAP_CAP, SNAP_TIME, 0, 0);
	assert_true(len > 0);
	*out = buf;
	return len;
}

static const metric_t *
find_metric(const rmetrics_t *rm, const char *name)
{
	const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm;

	assert_int_equal(rm->n_scope_metrics, 1);
	sm = rm->scope_metrics[0];
	for (size_t i = 0; i < sm->n_metrics; i++)
		if (strcmp(sm->metrics[i]->name, name) == 0)
			return sm->metrics[i];
	return NULL;
}

static const rmetrics_t *
find_resource(const metrics_req_t *req, const char *svc)
{
	for (size_t i = 0; i < req->n_resource_metrics; i++) {
		const kv_t *a = find_kv(req->resource_metrics[i]->resource->attributes,
		    req->resource_metrics[i]->resource->n_attributes,
		    "service.name");

		if (a != NULL && strcmp(a->value->string_value, svc) == 0)
			return req->resource_metrics[i];
	}
	return NULL;
}

static struct sg_metrics *
test_metrics_new(void)
{
	static const struct sg_buckets dur = { 3, { 0.005, 1, 2.5 } };
	static const struct sg_buckets size = { 2, { 0, 1024 } };
	struct sg_metrics *m = metrics_new(&dur, &size, 100);

	assert_non_null(m);
	return m;
}

static void
test_metrics_fields(void **state)
{
	struct otlp_resource_extra x;
	struct sg_proc_info p;
	struct sg_metrics *m;
	struct sg_span s;
	metrics_req_t *req;
	const rmetrics_t *rm;
	const metric_t *mt;
	const hdp_t *hp;
	const ndp_t *np;
	uint8_t *snap;
	size_t len;
	uint64_t start, hp_start, self[SG_SELF_MAX] = { 0 };

	(void)state;
	extra_init(&x, "deployment.environment=prod");
	m = test_metrics_new();
	/* The request series begin 5 s after the sensor's counters. */
	metrics_set_time(m, sg_clock_ns(CLOCK_MONOTONIC) + 5000000000ULL);
	s = mkspan(SG_SPAN_SERVER, "api", 10, "GET", "", 200);
	s.end_ns = s.start_ns + 500000000;   /* 0.5 s */
	metrics_record_span(m, &s);
	s.end_ns = s.start_ns + 3000000000;  /* 3 s */
	s.resp_size = 10;
	metrics_record_span(m, &s);
	s = mkspan(SG_SPAN_CLIENT, "web", 20, "POST", "", 502);
	snprintf(s.peer_addr, sizeof(s.peer_addr), "backend");
	s.peer_port = 9000;
	metrics_record_span(m, &s);
	memset(&p, 0, sizeof(p));
	p.pid = 10;
	p.present = 1;
	snprintf(p.service_name, sizeof(p.service_name), "api");
	metrics_service_seen(m, &p);
	len = snapshot(m, &snap);
	/* The exporter's snapshot: the collector's, then the self-metrics. */
	self[SG_SELF_EVENTS_READ] = 42;
	self[SG_SELF_LOST_RINGBUF] = 3;
	self[SG_SELF_CONNS_ACTIVE] = 5;
	assert_int_equal(snapshot_collector(snap, len), 0);
	free(snap);
	snap = snapshot_build(self, SNAP_TIME, &len);
	assert_non_null(snap);

	req = encode_decode_metrics(snap, len, &x, NO_TTL);
	/* api, web and spyglass itself; target_info made no resource. */
	assert_int_equal(req->n_resource_metrics, 3);

	rm = find_resource(req, "api");
	assert_non_null(rm);
	assert_string_equal(rm->scope_metrics[0]->scope->name, "spyglass");
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "service.instance.id", "host1:10");
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "telemetry.sdk.name", "spyglass");
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "host.name", "node1");
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "deployment.environment", "prod");
	assert_null(find_kv(rm->resource->attributes,
	    rm->resource->n_attributes, "service.namespace"));
	assert_int_equal(rm->scope_metrics[0]->n_metrics, 3);
	assert_null(find_metric(rm, "target_info"));

	mt = find_metric(rm, "http.server.request.duration");
	assert_non_null(mt);
	assert_string_equal(mt->unit, "s");
	assert_string_equal(mt->description,
	    "Duration of HTTP service calls from the server side, in seconds");
	assert_int_equal(mt->data_case, DATA_HIST);
	assert_int_equal(mt->histogram->aggregation_temporality, CUMULATIVE);
	assert_int_equal(mt->histogram->n_data_points, 1);
	hp = mt->histogram->data_points[0];
	hp_start = hp->start_time_unix_nano;
	assert_int_equal(hp->time_unix_nano, SNAP_TIME);
	assert_int_equal(hp->count, 2);
	assert_true(hp->has_sum);
	assert_true(fabs(hp->sum - 3.5) < 1e-9);
	assert_false(hp->has_min);
	assert_false(hp->has_max);
	assert_int_equal(hp->n_explicit_bounds, 3);
	assert_true(hp->explicit_bounds[0] == 0.005);
	assert_true(hp->explicit_bounds[1] == 1);
	assert_true(hp->explicit_bounds[2] == 2.5);
	assert_int_equal(hp->n_bucket_counts, 4);
	assert_int_equal(hp->bucket_counts[0], 0);
	assert_int_equal(hp->bucket_counts[1], 1);
	assert_int_equal(hp->bucket_counts[2], 0);
	assert_int_equal(hp->bucket_counts[3], 1);
	/* Beyla's default set: service.* and target.instance go to the
	 * resource; url.scheme, server.address and server.port stay */
	assert_int_equal(hp->n_attributes, 5);
	assert_str_attr(hp->attributes, hp->n_attributes,
	    "http.request.method", "GET");
	assert_int_attr(hp->attributes, hp->n_attributes, "server.port", 8080);
	assert_int_attr(hp->attributes, hp->n_attributes,
	    "http.response.status_code", 200);

	mt = find_metric(rm, "http.server.response.body.size");
	assert_non_null(mt);
	assert_string_equal(mt->unit, "By");
	hp = mt->histogram->data_points[0];
	assert_int_equal(hp->count, 2);
	assert_true(hp->sum == 3410);
	assert_int_equal(hp->n_bucket_counts, 3);
	assert_int_equal(hp->bucket_counts[0], 0);
	assert_int_equal(hp->bucket_counts[1], 1);
	assert_int_equal(hp->bucket_counts[2], 1);
	assert_non_null(find_metric(rm, "http.server.request.body.size"));

	rm = find_resource(req, "web");
	assert_non_null(rm);
	mt = find_metric(rm, "http.client.request.duration");
	assert_non_null(mt);
	hp = mt->histogram->data_points[0];
	assert_int_equal(hp->count, 1);
	assert_int_equal(hp->n_attributes, 5);
	assert_str_attr(hp->attributes, hp->n_attributes, "server.address",
	    "backend");
	assert_int_attr(hp->attributes, hp->n_attributes, "server.port", 9000);
	assert_int_attr(hp->attributes, hp->n_attributes,
	    "http.response.status_code", 502);

	/* Self-metrics keep their Prometheus names, and count from the
	 * exporter's first snapshot. */
	rm = find_resource(req, "spyglass");
	assert_non_null(rm);
	mt = find_metric(rm, "spyglass_metric_series_dropped_total");
	start = mt->sum->data_points[0]->start_time_unix_nano;
	assert_int_equal(start, SNAP_TIME);
	assert_true(hp_start > 0 && hp_start <= SNAP_TIME);
	assert_null(find_kv(rm->resource->attributes,
	    rm->resource->n_attributes, "service.instance.id"));
	assert_int_equal(rm->scope_metrics[0]->n_metrics, self_nfamilies());
	mt = find_metric(rm, "spyglass_events_read_total");
	assert_non_null(mt);
	assert_int_equal(mt->data_case, DATA_SUM);
	assert_true(mt->sum->is_monotonic);
	assert_int_equal(mt->sum->aggregation_temporality, CUMULATIVE);
	np = mt->sum->data_points[0];
	assert_int_equal(np->value_case, AS_DOUBLE);
	assert_true(np->as_double == 42);
	assert_int_equal(np->start_time_unix_nano, start);
	assert_int_equal(np->n_attributes, 0);
	mt = find_metric(rm, "spyglass_events_lost_total");
	np = mt->sum->data_points[0];
	assert_true(np->as_double == 3);
	assert_str_attr(np->attributes, np->n_attributes, "stage", "ringbuf");
	mt = find_metric(rm, "spyglass_connections_active");
	assert_int_equal(mt->data_case, DATA_GAUGE);
	np = mt->gauge->data_points[0];
	assert_true(np->as_double == 5);
	assert_int_equal(np->time_unix_nano, SNAP_TIME);
	mt = find_metric(rm, "spyglass_metric_series_dropped_total");
	assert_non_null(mt);
	assert_true(mt->sum->data_points[0]->as_double == 0);

	free_metrics(req);
	free(snap);
	snapshot_free();
	metrics_free(m);
}

/* Series of one family and resource are one Metric; of two resources,
 * two. */
static void
test_metrics_grouping(void **state)
{
	struct sg_metrics *m;
	struct sg_span s;
	metrics_req_t *req;
	const rmetrics_t *rm;
	const metric_t *mt;
	uint8_t *snap;
	size_t len;

	(void)state;
	m = test_metrics_new();
	s = mkspan(SG_SPAN_SERVER, "api", 10, "GET", "", 200);
	metrics_record_span(m, &s);
	s.status = 500;
	metrics_record_span(m, &s);
	s.status = 200;
	snprintf(s.op, sizeof(s.op), "DELETE");
	metrics_record_span(m, &s);
	s = mkspan(SG_SPAN_SERVER, "api", 11, "GET", "", 200);
	metrics_record_span(m, &s);
	len = snapshot(m, &snap);

	req = encode_decode_metrics(snap, len, NULL, NO_TTL);
	/* two processes; no self-metrics in the collector's snapshot */
	assert_int_equal(req->n_resource_metrics, 2);
	rm = req->resource_metrics[0];
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "service.instance.id", "host1:10");
	mt = find_metric(rm, "http.server.request.duration");
	assert_int_equal(mt->histogram->n_data_points, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mt->histogram->data_points[i]->count, 1);
	rm = req->resource_metrics[1];
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "service.instance.id", "host1:11");
	mt = find_metric(rm, "http.server.request.duration");
	assert_int_equal(mt->histogram->n_data_points, 1);
	free_metrics(req);
	free(snap);
	metrics_free(m);
}

/* Span metrics go with their service's resource (Beyla's instance is
 * its service.instance.id); the service graph's edges, which belong to
 * no one service, with the sensor's own; their labels keep Beyla's
 * OTLP names. */
static void
test_metrics_derived(void **state)
{
	static struct spanmetrics sm;
	static struct servicegraph g;
	struct servicegraph_peer none = { 0 };
	struct sg_metrics *m;
	struct sg_config c;
	struct sg_span s;
	metrics_req_t *req;
	const rmetrics_t *rm;
	const metric_t *mt;
	uint8_t *snap;
	size_t len;

	(void)state;
	m = test_metrics_new();
	sg_config_defaults(&c);
	c.features = 1u << SG_FEATURE_APPLICATION_SPAN |
	    1u << SG_FEATURE_APPLICATION_SERVICE_GRAPH;
	spanmetrics_attach(&sm, m);
	servicegraph_attach(&g, m);
	spanmetrics_select(&sm, &c);
	servicegraph_select(&g, &c);
	s = mkspan(SG_SPAN_SERVER, "api", 10, "GET", "/users/{id}", 200);
	metrics_record_span(m, &s);
	spanmetrics_record(&sm, &s);
	servicegraph_record(&g, &s, &none);
	len = snapshot(m, &snap);

	req = encode_decode_metrics(snap, len, NULL, NO_TTL);
	assert_int_equal(req->n_resource_metrics, 2);
	rm = find_resource(req, "api");
	assert_non_null(rm);
	assert_str_attr(rm->resource->attributes, rm->resource->n_attributes,
	    "service.instance.id", "host1:10");
	mt = find_metric(rm, "traces_spanmetrics_calls_total");
	assert_non_null(mt);
	assert_int_equal(mt->sum->n_data_points, 1);
	assert_true(mt->sum->data_points[0]->as_double == 1);
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "span.name",
	    "GET /users/{id}");
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "span.kind",
	    "SPAN_KIND_SERVER");
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "status.code",
	    "STATUS_CODE_UNSET");
	assert_null(find_kv(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "instance"));
	assert_non_null(find_metric(rm, "traces_spanmetrics_latency"));
	assert_null(find_metric(rm, "traces_service_graph_request_total"));
	rm = req->resource_metrics[0] == rm ? req->resource_metrics[1] :
	    req->resource_metrics[0];
	mt = find_metric(rm, "traces_service_graph_request_total");
	assert_non_null(mt);
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "client", "10.0.0.2");
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "server", "api");
	assert_str_attr(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes, "connection_type",
	    "virtual_node");
	/* empty: absent, as in Prometheus */
	assert_null(find_kv(mt->sum->data_points[0]->attributes,
	    mt->sum->data_points[0]->n_attributes,
	    "client_service_namespace"));
	mt = find_metric(rm, "traces_service_graph_request_server");
	assert_non_null(mt);
	assert_string_equal(mt->unit, "s");
	assert_int_equal(mt->histogram->data_points[0]->count, 1);
	free_metrics(req);
	free(snap);
	metrics_free(m);
}

static void
test_metrics_malformed(void **state)
{
	struct sg_metrics *m;
	struct sg_span s;
	metrics_req_t *req;
	uint8_t *snap, *buf = NULL, hdr[28];
	size_t len, outlen;
	struct wire_w w;

	(void)state;
	m = test_metrics_new();
	s = mkspan(SG_SPAN_SERVER, "api", 10, "GET", "", 200);
	metrics_record_span(m, &s);
	len = snapshot(m, &snap);

	/* Cut anywhere: refused, never a partial request. */
	for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 37) {
		assert_int_equal(otlp_encode_metrics(snap, cut, NULL, NO_TTL, false,
		    &buf, &outlen), -1);
		assert_null(buf);
	}
	/* A byte too many. */
	snap[len] = 0;
	assert_int_equal(otlp_encode_metrics(snap, len + 1, NULL, NO_TTL, false,
	    &buf, &outlen), -1);
	/* A family of an unknown type (the byte after its strings). */
	snap[28 + 2 + strlen("http_server_request_duration_seconds") + 2 +
	    strlen("http.server.request.duration") + 2 + 1 + 2 +
	    strlen("Duration of HTTP service calls from the server side, "
	    "in seconds")] = 9;
	assert_int_equal(otlp_encode_metrics(snap, len, NULL, NO_TTL, false, &buf,
	    &outlen), -1);
	assert_null(buf);

	/* No families: a valid, empty request. */
	wire_w_init(&w, hdr, sizeof(hdr));
	msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 2, .nfamilies = 0 });
	assert_int_equal(w.err, 0);
	req = encode_decode_metrics(hdr, w.len, NULL, NO_TTL);
	assert_int_equal(req->n_resource_metrics, 0);
	free_metrics(req);

	/* A family claiming more series than follow. */
	{
		struct sg_family_hdr f;
		uint8_t b[1024];

		memset(&f, 0, sizeof(f));
		snprintf(f.prom_name, sizeof(f.prom_name), "x_total");
		f.type = SG_METRIC_COUNTER;
		f.nseries = 4000000000u;
		wire_w_init(&w, b, sizeof(b));
		msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 2, .nfamilies = 1 });
		msg_put_family(&w, &f);
		assert_int_equal(w.err, 0);
		assert_int_equal(otlp_encode_metrics(b, w.len, NULL, NO_TTL, false,
		    &buf, &outlen), -1);
	}
	/* A series that starts after the snapshot's time. */
	{
		struct sg_family_hdr f;
		struct sg_series se;
		uint8_t b[4096];

		memset(&f, 0, sizeof(f));
		memset(&se, 0, sizeof(se));
		snprintf(f.prom_name, sizeof(f.prom_name), "x_total");
		f.type = SG_METRIC_COUNTER;
		f.nseries = 1;
		se.start_ns = 3;
		wire_w_init(&w, b, sizeof(b));
		msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 2, .nfamilies = 1 });
		msg_put_family(&w, &f);
		msg_put_series(&w, &f, &se);
		assert_int_equal(w.err, 0);
		assert_int_equal(otlp_encode_metrics(b, w.len, NULL, NO_TTL, false,
		    &buf, &outlen), -1);
		se.start_ns = 2;
		wire_w_init(&w, b, sizeof(b));
		msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 2, .nfamilies = 1 });
		msg_put_family(&w, &f);
		msg_put_series(&w, &f, &se);
		req = encode_decode_metrics(b, w.len, NULL, NO_TTL);
		assert_int_equal(req->n_resource_metrics, 1);
		free_metrics(req);
	}
	free(snap);
	metrics_free(m);
}

/* Series idle past the ttl are not sent, and a process whose series
 * all are makes no resource; one updated again is sent, with a start
 * after the expiry when it had been freed. */
static void
test_metrics_ttl(void **state)
{
	struct sg_metrics *m;
	struct sg_proc_info p;
	struct sg_span s;
	metrics_req_t *req;
	const rmetrics_t *rm;
	const metric_t *mt;
	uint8_t *snap;
	size_t len;
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC), sec = 1000000000ULL;
	uint64_t start;

	(void)state;
	m = test_metrics_new();
	metrics_set_time(m, t0);
	s = mkspan(SG_SPAN_CLIENT, "old", 10, "GET", "", 200);
	metrics_record_span(m, &s);
	memset(&p, 0, sizeof(p));
	p.pid = 10;
	p.present = 1;
	metrics_service_seen(m, &p);
	p.present = 0;
	metrics_service_seen(m, &p);
	metrics_set_time(m, t0 + 8 * sec);
	s = mkspan(SG_SPAN_CLIENT, "new", 11, "GET", "", 200);
	metrics_record_span(m, &s);
	metrics_set_time(m, t0 + 10 * sec);
	len = snapshot(m, &snap);

	/* The exporter's ttl decides what it sends ... */
	req = encode_decode_metrics(snap, len, NULL, 5 * sec);
	assert_int_equal(req->n_resource_metrics, 1);
	assert_null(find_resource(req, "old"));
	assert_non_null(find_resource(req, "new"));
	free_metrics(req);
	req = encode_decode_metrics(snap, len, NULL, 10 * sec);
	assert_int_equal(req->n_resource_metrics, 2);
	free_metrics(req);
	free(snap);

	/* ... and what the collector freed comes back from zero, with a
	 * start after the one it had. */
	metrics_expire(m, 5 * sec);
	s = mkspan(SG_SPAN_CLIENT, "old", 10, "GET", "", 200);
	metrics_record_span(m, &s);
	len = snapshot(m, &snap);
	req = encode_decode_metrics(snap, len, NULL, 5 * sec);
	rm = find_resource(req, "old");
	assert_non_null(rm);
	mt = find_metric(rm, "http.client.request.duration");
	assert_int_equal(mt->histogram->data_points[0]->count, 1);
	start = mt->histogram->data_points[0]->start_time_unix_nano;
	mt = find_metric(find_resource(req, "new"),
	    "http.client.request.duration");
	assert_true(start - mt->histogram->data_points[0]->start_time_unix_nano
	    == 2 * sec);
	free_metrics(req);
	free(snap);
	metrics_free(m);
}

/* ---- OTEL_RESOURCE_ATTRIBUTES */

static void
test_extra_parse(void **state)
{
	struct otlp_resource_extra x;
	char err[128], many[1024];
	size_t o = 0;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(otlp_resource_extra_parse(&x,
	    " a=b , c = d%20e ,k=%E2%82%ac,eq=x=y,,", err, sizeof(err)), 0);
	assert_int_equal(x.n, 4);
	assert_string_equal(x.attr[0].key, "a");
	assert_string_equal(x.attr[0].value, "b");
	assert_string_equal(x.attr[1].key, "c");
	assert_string_equal(x.attr[1].value, "d e");
	assert_string_equal(x.attr[2].key, "k");
	assert_string_equal(x.attr[2].value, "\xe2\x82\xac");
	assert_string_equal(x.attr[3].key, "eq");
	assert_string_equal(x.attr[3].value, "x=y");

	/* The last of a repeated key wins; an empty value is allowed. */
	assert_int_equal(otlp_resource_extra_parse(&x, "a=1,a=2,e=", err,
	    sizeof(err)), 0);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.attr[0].value, "2");
	assert_string_equal(x.attr[1].value, "");

	assert_int_equal(otlp_resource_extra_parse(&x, "", err, sizeof(err)),
	    0);
	assert_int_equal(x.n, 0);
	assert_int_equal(otlp_resource_extra_parse(&x, NULL, err, sizeof(err)),
	    0);

	/* Errors discard everything. */
	assert_int_equal(otlp_resource_extra_parse(&x, "a=1,novalue", err,
	    sizeof(err)), -1);
	assert_int_equal(x.n, 0);
	assert_non_null(strstr(err, "'='"));
	assert_non_null(strstr(err, "novalue"));
	assert_int_equal(otlp_resource_extra_parse(&x, "=v", err, sizeof(err)),
	    -1);
	assert_int_equal(otlp_resource_extra_parse(&x, "a=%zz", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "percent"));
	assert_int_equal(otlp_resource_extra_parse(&x, "a=%4", err,
	    sizeof(err)), -1);
	assert_int_equal(otlp_resource_extra_parse(&x, "a=x%00", err,
	    sizeof(err)), -1);
	assert_int_equal(otlp_resource_extra_parse(&x, "a=%ff", err,
	    sizeof(err)), -1);
	memset(many, 'v', 300);
	memcpy(many, "a=", 2);
	many[300] = '\0';
	assert_int_equal(otlp_resource_extra_parse(&x, many, err,
	    sizeof(err)), -1);
	memset(many, 'k', 100);
	memcpy(many + 100, "=v", 3);
	assert_int_equal(otlp_resource_extra_parse(&x, many, err,
	    sizeof(err)), -1);

	for (int i = 0; i < OTLP_MAX_EXTRA_ATTRS; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "k%d=v,", i);
	assert_int_equal(otlp_resource_extra_parse(&x, many, err,
	    sizeof(err)), 0);
	assert_int_equal(x.n, OTLP_MAX_EXTRA_ATTRS);
	snprintf(many + o, sizeof(many) - o, "one=more");
	assert_int_equal(otlp_resource_extra_parse(&x, many, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	assert_int_equal(x.n, 0);
}

static const void *
has(const uint8_t *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s));
}

/* http/json: the same request as OTLP JSON, checked by python's json
 * module and by the fields OTLP/JSON mandates: ids in hex, 64-bit
 * integers as strings, lowerCamelCase names, values as AnyValue. */
static void
test_traces_json(void **state)
{
	struct sg_span s = mkspan(SG_SPAN_SERVER, "shop", 42, "GET",
	    "/users/{id}", 200);
	char path[] = "/tmp/test_otlp_json_XXXXXX", cmd[1024];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	assert_int_equal(otlp_encode_traces(&s, 1, NULL, true, &buf, &len), 0);
	assert_non_null(buf);
	assert_true(len > 2 && buf[0] == '{' && buf[len - 1] == '}');
	assert_non_null(has(buf, len, "\"traceId\":\""));
	assert_non_null(has(buf, len, "\"spanId\":\"00f067aa0ba902b7\""));
	assert_non_null(has(buf, len, "\"startTimeUnixNano\":\"1700000000123456789\""));
	assert_non_null(has(buf, len, "\"name\":\"GET /users/{id}\""));
	assert_non_null(has(buf, len, "\"stringValue\":\"shop\""));
	assert_null(has(buf, len, "trace_id"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	if (access("/usr/bin/python3", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import json,sys; "
		    "d=json.load(open(sys.argv[1])); "
		    "sp=d[\"resourceSpans\"][0][\"scopeSpans\"][0][\"spans\"][0]; "
		    "assert sp[\"kind\"]==2, sp[\"kind\"]; "
		    "assert len(sp[\"traceId\"])==32' %s", path);
		assert_int_equal(system(cmd), 0);
	}
	unlink(path);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traces_fields),
		cmocka_unit_test(test_traces_json),
		cmocka_unit_test(test_traces_status),
		cmocka_unit_test(test_traces_grpc),
		cmocka_unit_test(test_traces_db),
		cmocka_unit_test(test_traces_resources),
		cmocka_unit_test(test_traces_odd_input),
		cmocka_unit_test(test_metrics_fields),
		cmocka_unit_test(test_metrics_grouping),
		cmocka_unit_test(test_metrics_derived),
		cmocka_unit_test(test_metrics_malformed),
		cmocka_unit_test(test_metrics_ttl),
		cmocka_unit_test(test_extra_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
