/*
 * OTLP protobuf encoding with protobuf-c.  protobuf-c packs from a tree of
 * C structs, so the tree is built in an arena: every temporary of one call
 * comes from it and goes with it at the end, whatever path the call takes.
 * The tree is proportional to the input (spans given, series actually
 * present in the snapshot), never to counts the input merely claims.
 *
 * Text reaching the wire was partly read off the network (paths, routes,
 * methods); protobuf strings must be UTF-8, and a receiver refuses a whole
 * request over one bad byte, so ill-formed bytes become U+FFFD here.
 */
#include "otlp_encode.h"
#include "otlp_json.h"

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_trace_service.pb-c.h"
#include "otlp_metrics_service.pb-c.h"

#include "pct.h"
#include "semconv.h"
#include "spansem.h"
#include "utf8.h"
#include "wire.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define SCOPE_NAME       "spyglass"
#define UNKNOWN_SERVICE  "unknown_service"
#define ARENA_CHUNK      (64 * 1024)

typedef Opentelemetry__Proto__Common__V1__AnyValue        pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue        pb_kv;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource      pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans    pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans       pb_sspans;
typedef Opentelemetry__Proto__Trace__V1__Span             pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status           pb_status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_rmetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics   pb_smetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric         pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge          pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum            pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram      pb_hist;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_ndp;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_hdp;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
    pb_trace_req;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest
    pb_metrics_req;

#define ANY_STRING  OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define ANY_INT     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
#define KIND(k)     OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##k
#define STATUS(c) \
	OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##c
#define DATA(d)     OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##d
#define AS_DOUBLE \
	OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

/* ---- arena */

struct chunk {
	struct chunk *next;
	size_t        len;
	size_t        cap;
	max_align_t   data[];
};

struct arena {
	struct chunk *head;
};

static void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct chunk *c = a->head;
	void *p;

	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) / align * align;
	if (c == NULL || c->cap - c->len < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		/* calloc: every message starts zeroed, as INIT expects. */
		if ((c = calloc(1, sizeof(*c) + cap)) == NULL)
			return NULL;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->len;
	c->len += n;
	return p;
}

static void *
arena_array(struct arena *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return arena_alloc(a, n * size == 0 ? 1 : n * size);
}

static void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* A NUL-terminated UTF-8 copy of at most max bytes of s (fixed-size
 * fields need not be terminated); ill-formed bytes become U+FFFD. */
static char *
arena_text(struct arena *a, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), i, k, o = 0, bad = 0;
	char *d;

	for (i = 0; i < n; i += k)
		if ((k = sg_utf8_seq(p + i, n - i, NULL)) == 0) {
			bad++;
			k = 1;
		}
	if ((d = arena_alloc(a, n + 2 * bad + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i += k) {
		if ((k = sg_utf8_seq(p + i, n - i, NULL)) == 0) {
			memcpy(d + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
			continue;
		}
		memcpy(d + o, p + i, k);
		o += k;
	}
	d[o] = '\0';
	return d;
}

static char *
arena_str(struct arena *a, const char *s)
{
	return arena_text(a, s, SIZE_MAX);
}

/* ---- singly linked lists, for things counted only once all are seen */

struct node {
	void        *p;
	struct node *next;
};

struct list {
	struct node *head, *tail;
	size_t       n;
};

static int
list_add(struct arena *a, struct list *l, void *p)
{
	struct node *nd = arena_alloc(a, sizeof(*nd));

	if (nd == NULL)
		return -1;
	nd->p = p;
	if (l->tail != NULL)
		l->tail->next = nd;
	else
		l->head = nd;
	l->tail = nd;
	l->n++;
	return 0;
}

/* The list as the pointer array protobuf-c wants. */
static void **
list_array(struct arena *a, const struct list *l)
{
	void **v = arena_array(a, l->n, sizeof(*v));
	size_t i = 0;

	if (v == NULL)
		return NULL;
	for (const struct node *nd = l->head; nd != NULL; nd = nd->next)
		v[i++] = nd->p;
	return v;
}

/* ---- attributes: a KeyValue array of fixed capacity; keys unique */

struct attrs {
	pb_kv  **kv;
	size_t   n;
	size_t   cap;
};

static int
attrs_init(struct arena *a, struct attrs *l, size_t cap)
{
	l->n = 0;
	l->cap = cap;
	l->kv = arena_array(a, cap, sizeof(*l->kv));
	return l->kv == NULL ? -1 : 0;
}

static bool
attrs_has(const struct attrs *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kv[i]->key, key) == 0)
			return true;
	return false;
}

/* A new KeyValue for key with an empty AnyValue, or NULL. */
static pb_any *
attrs_add(struct arena *a, struct attrs *l, const char *key)
{
	static const pb_kv kv_init =
	    OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	static const pb_any any_init =
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	pb_kv *kv;
	pb_any *v;

	if (l->n >= l->cap || attrs_has(l, key))
		return NULL;
	kv = arena_alloc(a, sizeof(*kv));
	v = arena_alloc(a, sizeof(*v));
	if (kv == NULL || v == NULL)
		return NULL;
	*kv = kv_init;
	*v = any_init;
	if ((kv->key = arena_str(a, key)) == NULL)
		return NULL;
	kv->value = v;
	l->kv[l->n++] = kv;
	return v;
}

/* String attribute from a field of at most max bytes; an empty value is
 * left out, as OpenTelemetry treats it like a missing one. */
static int
attr_text(struct arena *a, struct attrs *l, const char *key, const char *val,
    size_t max)
{
	pb_any *v;

	if (strnlen(val, max) == 0 || attrs_has(l, key))
		return 0;
	if ((v = attrs_add(a, l, key)) == NULL)
		return -1;
	v->value_case = ANY_STRING;
	v->string_value = arena_text(a, val, max);
	return v->string_value == NULL ? -1 : 0;
}

static int
attr_str(struct arena *a, struct attrs *l, const char *key, const char *val)
{
	return attr_text(a, l, key, val, SIZE_MAX);
}

static int
attr_int(struct arena *a, struct attrs *l, const char *key, int64_t val)
{
	pb_any *v;

	if (attrs_has(l, key))
		return 0;
	if ((v = attrs_add(a, l, key)) == NULL)
		return -1;
	v->value_case = ANY_INT;
	v->int_value = val;
	return 0;
}

/* ---- resources */

/* What tells resources apart: the service and, for spans, the process.
 * The strings point at the caller's bytes while looking up and at arena
 * copies once stored. */
struct rkey {
	const char *s[3];        /* service name, namespace, instance id */
	size_t      len[3];
	int64_t     pid;         /* -1: not known (metrics) */
	bool        self;        /* spyglass's own metrics */
	const char *exe;         /* executable path; NULL: not known */
	size_t      exelen;
};

struct res {
	struct rkey k;
	uint64_t    hash;
	size_t      nspans;      /* traces: spans of this resource */
	size_t      fill;
	pb_span   **spans;
	struct list metrics;     /* metrics: pb_metric, one per family */
	size_t      fam;         /* family (index + 1) cur belongs to */
	pb_metric  *cur;
	struct list points;      /* data points of cur */
};

struct restab {
	struct res  *r;
	size_t       n;
	size_t       cap;
	uint32_t    *slots;      /* index + 1; 0 empty */
	size_t       nslots;     /* power of two, at least 2 * n */
};

/* FNV-1a: resource keys name local processes, not network input. */
static uint64_t
rkey_hash(const struct rkey *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < k->len[i]; j++)
			h = (h ^ (unsigned char)k->s[i][j]) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL;  /* separator */
	}
	h ^= (uint64_t)k->pid ^ ((uint64_t)k->self << 63);
	return h * 0x100000001b3ULL;
}

static bool
rkey_eq(const struct rkey *a, const struct rkey *b)
{
	if (a->pid != b->pid || a->self != b->self)
		return false;
	for (int i = 0; i < 3; i++)
		if (a->len[i] != b->len[i] ||
		    memcmp(a->s[i], b->s[i], a->len[i]) != 0)
			return false;
	return true;
}

static void
restab_slot_put(struct restab *t, uint64_t h, uint32_t idx)
{
	size_t mask = t->nslots - 1, i;

	for (i = h & mask; t->slots[i] != 0; i = (i + 1) & mask)
		;
	t->slots[i] = idx + 1;
}

/* Room for one more resource.  Outgrown arrays stay in the arena until
 * the end: doubling keeps that waste below the final size. */
static int
restab_grow(struct arena *a, struct restab *t)
{
	if (t->n == UINT32_MAX - 1)
		return -1;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		struct res *nr = arena_array(a, ncap, sizeof(*nr));

		if (nr == NULL)
			return -1;
		if (t->n > 0)
			memcpy(nr, t->r, t->n * sizeof(*nr));
		t->r = nr;
		t->cap = ncap;
	}
	if ((t->n + 1) * 2 > t->nslots) {
		size_t nn = t->nslots ? t->nslots * 2 : 16;
		uint32_t *slots = arena_array(a, nn, sizeof(*slots));

		if (slots == NULL)
			return -1;
		t->slots = slots;
		t->nslots = nn;
		for (size_t i = 0; i < t->n; i++)
			restab_slot_put(t, t->r[i].hash, (uint32_t)i);
	}
	return 0;
}

/* Index of the resource for k, created when missing; -1 on failure. */
static ssize_t
restab_get(struct arena *a, struct restab *t, const struct rkey *k)
{
	uint64_t h = rkey_hash(k);
	struct res *r;
	size_t mask, i;

	if (t->nslots > 0) {
		mask = t->nslots - 1;
		for (i = h & mask; t->slots[i] != 0; i = (i + 1) & mask) {
			r = &t->r[t->slots[i] - 1];
			if (r->hash == h && rkey_eq(&r->k, k))
				return (ssize_t)(t->slots[i] - 1);
		}
	}
	if (restab_grow(a, t) < 0)
		return -1;
	r = &t->r[t->n];
	memset(r, 0, sizeof(*r));
	r->k = *k;
	r->hash = h;
	for (int j = 0; j < 3; j++) {
		char *s = arena_alloc(a, k->len[j] + 1);

		if (s == NULL)
			return -1;
		memcpy(s, k->s[j], k->len[j]);
		s[k->len[j]] = '\0';
		r->k.s[j] = s;
	}
	restab_slot_put(t, h, (uint32_t)t->n);
	return (ssize_t)t->n++;
}

static const char *
extra_get(const struct otlp_resource_extra *x, const char *key)
{
	if (x == NULL)
		return NULL;
	for (size_t i = 0; i < x->n && i < OTLP_MAX_EXTRA_ATTRS; i++)
		if (strncmp(x->attr[i].key, key, sizeof(x->attr[i].key)) == 0 &&
		    memchr(x->attr[i].value, '\0',
		    sizeof(x->attr[i].value)) != NULL)
			return x->attr[i].value;
	return NULL;
}

/* Resource attributes: what the sensor knows of the process first, then
 * OTEL_RESOURCE_ATTRIBUTES for what it does not know (attrs_add keeps the
 * first of two equal keys). */
static pb_resource *
resource_build(struct arena *a, const struct rkey *k,
    const struct otlp_resource_extra *x)
{
	static const pb_resource init =
	    OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	const char *svc = k->s[0], *ns = k->s[1], *v;
	pb_resource *r = arena_alloc(a, sizeof(*r));
	struct attrs l;
	size_t nx = x == NULL ? 0 : x->n < OTLP_MAX_EXTRA_ATTRS ? x->n :
	    OTLP_MAX_EXTRA_ATTRS;
	int e = 0;

	if (r == NULL || attrs_init(a, &l, 10 + nx) < 0)
		return NULL;
	*r = init;
	if (k->self)
		svc = SCOPE_NAME;
	else if (svc[0] == '\0')
		svc = (v = extra_get(x, "service.name")) != NULL ? v :
		    UNKNOWN_SERVICE;
	if (!k->self && ns[0] == '\0' &&
	    (v = extra_get(x, "service.namespace")) != NULL)
		ns = v;
	e |= attr_str(a, &l, "service.name", svc);
	e |= attr_str(a, &l, "service.namespace", ns);
	e |= attr_str(a, &l, "service.instance.id", k->s[2]);
	e |= attr_str(a, &l, "telemetry.sdk.name", SCOPE_NAME);
	e |= attr_str(a, &l, "telemetry.sdk.version", PACKAGE_VERSION);
	if (x != NULL)
		e |= attr_text(a, &l, "host.name", x->host_name,
		    sizeof(x->host_name));
	if (k->pid >= 0)
		e |= attr_int(a, &l, "process.pid", k->pid);
	if (k->exe != NULL && k->exelen > 0) {
		const char *base = memrchr(k->exe, '/', k->exelen);

		base = base != NULL ? base + 1 : k->exe;
		e |= attr_text(a, &l, "process.executable.path", k->exe,
		    k->exelen);
		e |= attr_text(a, &l, "process.executable.name", base,
		    k->exelen - (size_t)(base - k->exe));
	}
	for (size_t i = 0; i < nx && e == 0; i++) {
		char key[sizeof(x->attr[i].key) + 1];

		/* service.* from the environment only stood in above. */
		memcpy(key, x->attr[i].key, sizeof(x->attr[i].key));
		key[sizeof(x->attr[i].key)] = '\0';
		if (strcmp(key, "service.name") == 0 ||
		    strcmp(key, "service.namespace") == 0)
			continue;
		e |= attr_text(a, &l, key, x->attr[i].value,
		    sizeof(x->attr[i].value));
	}
	if (e != 0)
		return NULL;
	r->n_attributes = l.n;
	r->attributes = l.kv;
	return r;
}

static pb_scope *
scope_build(struct arena *a)
{
	static const pb_scope init =
	    OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	pb_scope *s = arena_alloc(a, sizeof(*s));

	if (s == NULL)
		return NULL;
	*s = init;
	s->name = arena_str(a, SCOPE_NAME);
	s->version = arena_str(a, PACKAGE_VERSION);
	return s->name == NULL || s->version == NULL ? NULL : s;
}

/* The packed message in one malloc'd buffer: protobuf, or OTLP JSON. */
static int
pack(const ProtobufCMessage *m, bool json, uint8_t **out, size_t *outlen)
{
	size_t n;
	uint8_t *buf;

	if (json)
		return otlp_json_pack(m, out, outlen);
	n = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	if (protobuf_c_message_pack(m, buf) != n) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* ---- traces */


static int
span_bytes(struct arena *a, ProtobufCBinaryData *d, const uint8_t *p,
    size_t n)
{
	if ((d->data = arena_alloc(a, n)) == NULL)
		return -1;
	memcpy(d->data, p, n);
	d->len = n;
	return 0;
}

/* The address pair describing the server is this process's side on a
 * server span and the peer's on a client span. */
static int
attrs_addresses(struct arena *a, struct attrs *l, const struct sg_span *s)
{
	bool server = s->kind == SG_SPAN_SERVER;
	int e = 0;

	e |= attr_text(a, l, "server.address",
	    server ? s->host_addr : s->peer_addr, sizeof(s->host_addr));
	if ((server ? s->host_port : s->peer_port) != 0)
		e |= attr_int(a, l, "server.port",
		    server ? s->host_port : s->peer_port);
	if (server) {
		e |= attr_text(a, l, "client.address", s->peer_addr,
		    sizeof(s->peer_addr));
		if (s->peer_port != 0)
			e |= attr_int(a, l, "client.port", s->peer_port);
	}
	return e;
}

static int64_t
attr_size(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* HTTP: the method is kept to the known set, the original aside, as it
 * comes off the wire. */
static int
http_attrs(struct arena *a, struct attrs *l, const struct sg_span *s)
{
	const char *method = semconv_http_method(s->op, sizeof(s->op));
	int e = 0;

	if (method != NULL)
		e |= attr_str(a, l, "http.request.method", method);
	else {
		e |= attr_str(a, l, "http.request.method", "_OTHER");
		if (!(s->flags & SG_SPAN_OP_UNKNOWN))
			e |= attr_text(a, l, "http.request.method_original",
			    s->op, sizeof(s->op));
	}
	if (s->status != 0 && !(s->flags & SG_SPAN_STATUS_UNKNOWN))
		e |= attr_int(a, l, "http.response.status_code", s->status);
	if (!(s->flags & SG_SPAN_TARGET_UNKNOWN))
		e |= attr_text(a, l, "url.path", s->target, sizeof(s->target));
	e |= attr_text(a, l, "url.scheme", s->scheme, sizeof(s->scheme));
	e |= attr_text(a, l, "http.route", s->route, sizeof(s->route));
	e |= attr_text(a, l, "network.protocol.version", s->protocol_version,
	    sizeof(s->protocol_version));
	e |= attr_int(a, l, "http.request.body.size", attr_size(s->req_size));
	e |= attr_int(a, l, "http.response.body.size",
	    attr_size(s->resp_size));
	return e;
}

static int
grpc_attrs(struct arena *a, struct attrs *l, const struct sg_span *s)
{
	const char *svc, *method;
	size_t sn, mn;
	int e = 0;

	e |= attr_str(a, l, "rpc.system", "grpc");
	if (!(s->flags & SG_SPAN_TARGET_UNKNOWN) &&
	    semconv_grpc_split(s->target, sizeof(s->target), &svc, &sn,
	    &method, &mn)) {
		e |= attr_text(a, l, "rpc.service", svc, sn);
		e |= attr_text(a, l, "rpc.method", method, mn);
	}
	if (!(s->flags & SG_SPAN_STATUS_UNKNOWN))
		e |= attr_int(a, l, "rpc.grpc.status_code", s->status);
	e |= attr_text(a, l, "network.protocol.version", s->protocol_version,
	    sizeof(s->protocol_version));
	return e;
}

static int
db_attrs(struct arena *a, struct attrs *l, const struct sg_span *s)
{
	int e = 0;

	e |= attr_str(a, l, "db.system.name", semconv_db_system(s->app));
	if (!(s->flags & SG_SPAN_OP_UNKNOWN))
		e |= attr_text(a, l, "db.operation.name", s->op, sizeof(s->op));
	e |= attr_text(a, l, "db.collection.name", s->collection,
	    sizeof(s->collection));
	e |= attr_text(a, l, "db.namespace", s->db_namespace,
	    sizeof(s->db_namespace));
	if (!(s->flags & SG_SPAN_TARGET_UNKNOWN))
		e |= attr_text(a, l, "db.query.text", s->target,
		    sizeof(s->target));
	e |= attr_text(a, l, "db.response.status_code", s->error,
	    sizeof(s->error));
	e |= attr_text(a, l, "error.type", s->error, sizeof(s->error));
	return e;
}

static int
msg_attrs(struct arena *a, struct attrs *l, const struct sg_span *s)
{
	int e = 0;

	e |= attr_str(a, l, "messaging.system",
	    semconv_messaging_system(s->app));
	e |= attr_text(a, l, "messaging.operation.name", s->op, sizeof(s->op));
	e |= attr_str(a, l, "messaging.operation.type",
	    spansem_publishes(s) ? "send" : "process");
	if (!(s->flags & SG_SPAN_TARGET_UNKNOWN))
		e |= attr_text(a, l, "messaging.destination.name", s->target,
		    sizeof(s->target));
	e |= attr_text(a, l, "error.type", s->error, sizeof(s->error));
	return e;
}

/* The attributes of each app's semantic conventions (its name, kind
 * and status: spansem.h). */
static const struct span_map {
	int   (*attrs)(struct arena *, struct attrs *, const struct sg_span *);
} span_maps[SG_APP_MAX] = {
	[SG_APP_HTTP] = { http_attrs },
	[SG_APP_GRPC] = { grpc_attrs },
	[SG_APP_POSTGRESQL] = { db_attrs },
	[SG_APP_MYSQL] = { db_attrs },
	[SG_APP_REDIS] = { db_attrs },
	[SG_APP_MEMCACHED] = { db_attrs },
	[SG_APP_KAFKA] = { msg_attrs },
};

/* Made valid UTF-8: routes and operations come off the network. */
static char *
span_name(struct arena *a, const struct sg_span *s)
{
	char buf[SPANSEM_NAME_MAX];
	size_t n = spansem_name(s, buf, sizeof(buf));

	return arena_text(a, buf, n + 1);
}

static int
span_kind(const struct sg_span *s)
{
	static const int kinds[] = {
		[SPANSEM_KIND_UNSPECIFIED] = KIND(UNSPECIFIED),
		[SPANSEM_KIND_SERVER] = KIND(SERVER),
		[SPANSEM_KIND_CLIENT] = KIND(CLIENT),
		[SPANSEM_KIND_PRODUCER] = KIND(PRODUCER),
		[SPANSEM_KIND_CONSUMER] = KIND(CONSUMER),
	};
	enum spansem_kind k = spansem_kind(s);

	return (size_t)k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k] :
	    KIND(UNSPECIFIED);
}

static int
span_attrs(struct arena *a, pb_span *ps, const struct sg_span *s,
    const struct span_map *map)
{
	struct attrs l;
	int e;

	if (attrs_init(a, &l, 16) < 0)
		return -1;
	e = map->attrs(a, &l, s) | attrs_addresses(a, &l, s);
	ps->n_attributes = l.n;
	ps->attributes = l.kv;
	return e;
}

static pb_span *
span_build(struct arena *a, const struct sg_span *s)
{
	static const pb_span init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	static const pb_status st_init =
	    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	pb_span *ps = arena_alloc(a, sizeof(*ps));
	pb_status *st = arena_alloc(a, sizeof(*st));
	const struct span_map *map;

	if (ps == NULL || st == NULL || s->app == 0 || s->app >= SG_APP_MAX)
		return NULL;
	map = &span_maps[s->app];
	*ps = init;
	*st = st_init;
	if (span_bytes(a, &ps->trace_id, s->trace_id, sizeof(s->trace_id)) < 0 ||
	    span_bytes(a, &ps->span_id, s->span_id, sizeof(s->span_id)) < 0)
		return NULL;
	/* A root span has no parent: the field stays empty. */
	if (!sg_id_absent(s->parent_span_id, sizeof(s->parent_span_id)) &&
	    span_bytes(a, &ps->parent_span_id, s->parent_span_id,
	    sizeof(s->parent_span_id)) < 0)
		return NULL;
	if (s->trace_state[0] != '\0' &&
	    (ps->trace_state = arena_str(a, s->trace_state)) == NULL)
		return NULL;
	if ((ps->name = span_name(a, s)) == NULL)
		return NULL;
	ps->kind = span_kind(s);
	ps->start_time_unix_nano = s->start_ns;
	ps->end_time_unix_nano = s->end_ns;
	if (span_attrs(a, ps, s, map) != 0)
		return NULL;
	st->code = spansem_error(s) ? STATUS(ERROR) : STATUS(UNSET);
	ps->status = st;
	return ps;
}

static void
span_rkey(const struct sg_span *s, struct rkey *k)
{
	memset(k, 0, sizeof(*k));
	k->s[0] = s->service_name;
	k->len[0] = strnlen(s->service_name, sizeof(s->service_name));
	k->s[1] = s->service_namespace;
	k->len[1] = strnlen(s->service_namespace, sizeof(s->service_namespace));
	k->s[2] = s->instance_id;
	k->len[2] = strnlen(s->instance_id, sizeof(s->instance_id));
	k->pid = s->pid;
	k->exe = s->exe;
	k->exelen = strnlen(s->exe, sizeof(s->exe));
}

static pb_rspans *
rspans_build(struct arena *a, struct res *r,
    const struct otlp_resource_extra *x)
{
	static const pb_rspans rs_init =
	    OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	static const pb_sspans ss_init =
	    OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	pb_rspans *rs = arena_alloc(a, sizeof(*rs));
	pb_sspans *ss = arena_alloc(a, sizeof(*ss));
	pb_sspans **ssv = arena_alloc(a, sizeof(*ssv));

	if (rs == NULL || ss == NULL || ssv == NULL)
		return NULL;
	*rs = rs_init;
	*ss = ss_init;
	if ((rs->resource = resource_build(a, &r->k, x)) == NULL ||
	    (ss->scope = scope_build(a)) == NULL)
		return NULL;
	ss->n_spans = r->nspans;
	ss->spans = r->spans;
	ssv[0] = ss;
	rs->n_scope_spans = 1;
	rs->scope_spans = ssv;
	return rs;
}

static int
traces_build(struct arena *a, const struct sg_span *spans, size_t n,
    const struct otlp_resource_extra *x, pb_trace_req *req)
{
	struct restab t = { 0 };
	size_t *which;
	struct rkey k;
	ssize_t ri;

	/* Two passes: count the spans of each resource, then fill. */
	if ((which = arena_array(a, n, sizeof(*which))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		span_rkey(&spans[i], &k);
		if ((ri = restab_get(a, &t, &k)) < 0)
			return -1;
		which[i] = (size_t)ri;
		t.r[ri].nspans++;
	}
	for (size_t i = 0; i < t.n; i++) {
		t.r[i].spans = arena_array(a, t.r[i].nspans,
		    sizeof(*t.r[i].spans));
		if (t.r[i].spans == NULL)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct res *r = &t.r[which[i]];

		if ((r->spans[r->fill++] = span_build(a, &spans[i])) == NULL)
			return -1;
	}
	req->resource_spans = arena_array(a, t.n, sizeof(*req->resource_spans));
	if (req->resource_spans == NULL)
		return -1;
	for (size_t i = 0; i < t.n; i++)
		if ((req->resource_spans[i] = rspans_build(a, &t.r[i], x)) ==
		    NULL)
			return -1;
	req->n_resource_spans = t.n;
	return 0;
}

int
otlp_encode_traces(const struct sg_span *spans, size_t n,
    const struct otlp_resource_extra *x, bool json, uint8_t **out,
    size_t *outlen)
{
	pb_trace_req req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	struct arena a = { NULL };
	int rc = -1;

	if (out == NULL || outlen == NULL || (spans == NULL && n > 0))
		return -1;
	if (traces_build(&a, spans, n, x, &req) == 0)
		rc = pack(&req.base, json, out, outlen);
	arena_free(&a);
	return rc;
}

/* ---- metrics */

/* Prometheus label -> semantic-convention attribute.  Not listed: each
 * '_' becomes '.', which is right for most names but not all
 * (status_code), hence the table. */
static const struct label_map {
	const char *prom;
	const char *otel;
	bool        integer;
} label_maps[] = {
	{ "http_request_method", "http.request.method", false },
	{ "http_response_status_code", "http.response.status_code", true },
	{ "http_route", "http.route", false },
	{ "server_address", "server.address", false },
	{ "server_port", "server.port", true },
	{ "client_address", "client.address", false },
	{ "url_scheme", "url.scheme", false },
	{ "network_protocol_version", "network.protocol.version", false },
	/* the service graph's, as Beyla names them over OTLP too */
	{ "client_service_namespace", "client_service_namespace", false },
	{ "server_service_namespace", "server_service_namespace", false },
	{ "connection_type", "connection_type", false },
};

/* Decimal digits only, up to a u32; anything else stays a string. */
static bool
parse_uint(const char *s, int64_t *v)
{
	int64_t r = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return false;
		r = r * 10 + (s[i] - '0');
	}
	if (i == 0 || r > UINT32_MAX)
		return false;
	*v = r;
	return true;
}

static int
label_attr(struct arena *a, struct attrs *l, const char *key,
    const char *value)
{
	char name[sizeof(((struct sg_series *)0)->key[0])];
	int64_t iv;

	/* Empty means absent in Prometheus, and in OpenTelemetry. */
	if (value[0] == '\0')
		return 0;
	for (size_t i = 0; i < sizeof(label_maps) / sizeof(label_maps[0]);
	    i++) {
		const struct label_map *m = &label_maps[i];

		if (strcmp(m->prom, key) != 0)
			continue;
		if (!m->integer || !parse_uint(value, &iv))
			return attr_str(a, l, m->otel, value);
		/* Status 0 and port 0 say "none", not a value. */
		return iv == 0 ? 0 : attr_int(a, l, m->otel, iv);
	}
	snprintf(name, sizeof(name), "%s", key);
	for (char *p = name; *p != '\0'; p++)
		if (*p == '_')
			*p = '.';
	return attr_str(a, l, name, value);
}

/* Which resource a series belongs to, and its other labels as data
 * point attributes. */
static int
series_split(struct arena *a, const struct sg_series *se, struct rkey *k,
    struct attrs *l)
{
	static const char *const rlabels[3] = { "service_name",
	    "service_namespace", "target_instance" };
	bool service = false;

	memset(k, 0, sizeof(*k));
	k->pid = -1;
	for (int j = 0; j < 3; j++)
		k->s[j] = "";
	if (attrs_init(a, l, se->nlabels) < 0)
		return -1;
	for (uint16_t i = 0; i < se->nlabels && i < SG_MAX_LABELS; i++) {
		int j;

		for (j = 0; j < 3; j++)
			if (strcmp(se->key[i], rlabels[j]) == 0)
				break;
		/* the span metrics call the instance as Beyla does */
		if (j == 3 && strcmp(se->key[i], "instance") == 0)
			j = 2;
		if (j < 3) {
			k->s[j] = se->value[i];
			k->len[j] = strlen(se->value[i]);
			service = true;
		} else if (label_attr(a, l, se->key[i], se->value[i]) < 0)
			return -1;
	}
	/* Without service labels it is spyglass describing itself. */
	k->self = !service;
	return 0;
}

struct snap {
	uint64_t             now_ns;
	uint64_t             ttl_ns;
	struct sg_family_hdr f;
	struct sg_series     se;
	double              *bounds;   /* shared by the family's points */
};

static pb_metric *
metric_new(struct arena *a, const struct sg_family_hdr *f)
{
	static const pb_metric init =
	    OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	pb_metric *m = arena_alloc(a, sizeof(*m));

	if (m == NULL)
		return NULL;
	*m = init;
	/* Self-metrics have no OpenTelemetry name: the Prometheus one is it. */
	m->name = arena_str(a, f->otel_name[0] != '\0' ? f->otel_name :
	    f->prom_name);
	m->description = arena_str(a, f->help);
	m->unit = arena_str(a, f->unit);
	if (m->name == NULL || m->description == NULL || m->unit == NULL)
		return NULL;
	return m;
}

static void *
point_number(struct arena *a, const struct snap *s, struct attrs *l)
{
	static const pb_ndp init =
	    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
	pb_ndp *p = arena_alloc(a, sizeof(*p));

	if (p == NULL)
		return NULL;
	*p = init;
	p->n_attributes = l->n;
	p->attributes = l->kv;
	/* A gauge has no start: its value is not accumulated since one. */
	if (s->f.type == SG_METRIC_COUNTER)
		p->start_time_unix_nano = s->se.start_ns;
	p->time_unix_nano = s->now_ns;
	p->value_case = AS_DOUBLE;
	p->as_double = s->se.value_f;
	return p;
}

/* The snapshot's buckets are per bucket with the +Inf one last: OTLP's
 * layout exactly, so they are copied as they are. */
static void *
point_histogram(struct arena *a, const struct snap *s, struct attrs *l)
{
	static const pb_hdp init =
	    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
	size_t nb = (size_t)s->f.nbounds + 1;
	pb_hdp *p = arena_alloc(a, sizeof(*p));

	if (p == NULL)
		return NULL;
	*p = init;
	p->n_attributes = l->n;
	p->attributes = l->kv;
	p->has_start_time_unix_nano = true;
	p->start_time_unix_nano = s->se.start_ns;
	p->has_time_unix_nano = true;
	p->time_unix_nano = s->now_ns;
	p->has_count = true;
	p->count = s->se.count;
	p->has_sum = true;
	p->sum = s->se.sum;
	if ((p->bucket_counts = arena_array(a, nb, sizeof(uint64_t))) == NULL)
		return NULL;
	memcpy(p->bucket_counts, s->se.buckets, nb * sizeof(uint64_t));
	p->n_bucket_counts = nb;
	p->explicit_bounds = s->bounds;
	p->n_explicit_bounds = s->f.nbounds;
	return p;
}

/* One data point of family fam into the metric of its resource, that
 * metric created on the resource's first point of the family. */
static int
series_add(struct arena *a, struct restab *t, struct snap *s, size_t fam)
{
	struct attrs l;
	struct rkey k;
	struct res *r;
	ssize_t ri;
	void *p;

	if (series_split(a, &s->se, &k, &l) < 0 ||
	    (ri = restab_get(a, t, &k)) < 0)
		return -1;
	r = &t->r[ri];
	if (r->fam != fam) {
		if ((r->cur = metric_new(a, &s->f)) == NULL ||
		    list_add(a, &r->metrics, r->cur) < 0)
			return -1;
		r->fam = fam;
		/* The points of the previous metric live on in its oneof. */
		memset(&r->points, 0, sizeof(r->points));
		r->cur->data_case = s->f.type == SG_METRIC_HISTOGRAM ?
		    DATA(HISTOGRAM) : s->f.type == SG_METRIC_COUNTER ?
		    DATA(SUM) : DATA(GAUGE);
	}
	p = s->f.type == SG_METRIC_HISTOGRAM ? point_histogram(a, s, &l) :
	    point_number(a, s, &l);
	if (p == NULL || list_add(a, &r->points, p) < 0)
		return -1;
	return 0;
}

/* The data of r's current metric from its point list. */
static int
metric_finish(struct arena *a, struct res *r)
{
	static const pb_gauge g_init =
	    OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
	static const pb_sum s_init =
	    OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
	static const pb_hist h_init =
	    OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
	pb_metric *m = r->cur;
	void **v;

	if (m == NULL)
		return 0;
	if ((v = list_array(a, &r->points)) == NULL)
		return -1;
	switch (m->data_case) {
	case DATA(HISTOGRAM):
		if ((m->histogram = arena_alloc(a, sizeof(*m->histogram))) ==
		    NULL)
			return -1;
		*m->histogram = h_init;
		m->histogram->aggregation_temporality = CUMULATIVE;
		m->histogram->n_data_points = r->points.n;
		m->histogram->data_points = (pb_hdp **)v;
		break;
	case DATA(SUM):
		if ((m->sum = arena_alloc(a, sizeof(*m->sum))) == NULL)
			return -1;
		*m->sum = s_init;
		m->sum->aggregation_temporality = CUMULATIVE;
		m->sum->is_monotonic = true;
		m->sum->n_data_points = r->points.n;
		m->sum->data_points = (pb_ndp **)v;
		break;
	default:
		if ((m->gauge = arena_alloc(a, sizeof(*m->gauge))) == NULL)
			return -1;
		*m->gauge = g_init;
		m->gauge->n_data_points = r->points.n;
		m->gauge->data_points = (pb_ndp **)v;
		break;
	}
	r->cur = NULL;
	return 0;
}

static int
family_read(struct arena *a, struct wire_r *wr, struct restab *t,
    struct snap *s, size_t fam)
{
	/* target_info is how Prometheus carries a resource; OTLP has the
	 * resource itself. */
	bool skip;

	if (msg_get_family(wr, &s->f) < 0)
		return -1;
	skip = strcmp(s->f.prom_name, "target_info") == 0;
	if (s->f.type == SG_METRIC_HISTOGRAM) {
		s->bounds = arena_array(a, s->f.nbounds, sizeof(double));
		if (s->bounds == NULL)
			return -1;
		memcpy(s->bounds, s->f.bounds, s->f.nbounds * sizeof(double));
	}
	for (uint32_t j = 0; j < s->f.nseries; j++) {
		if (msg_get_series(wr, &s->f, s->now_ns, &s->se) < 0)
			return -1;
		if (skip || s->se.idle_ns > s->ttl_ns)
			continue;
		if (series_add(a, t, s, fam) < 0)
			return -1;
	}
	/* Close the family's metrics before the next family opens new
	 * ones on the same resources. */
	for (size_t i = 0; i < t->n; i++)
		if (t->r[i].fam == fam && metric_finish(a, &t->r[i]) < 0)
			return -1;
	return 0;
}

static pb_rmetrics *
rmetrics_build(struct arena *a, struct res *r,
    const struct otlp_resource_extra *x)
{
	static const pb_rmetrics rm_init =
	    OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	static const pb_smetrics sm_init =
	    OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	pb_rmetrics *rm = arena_alloc(a, sizeof(*rm));
	pb_smetrics *sm = arena_alloc(a, sizeof(*sm));
	pb_smetrics **smv = arena_alloc(a, sizeof(*smv));

	if (rm == NULL || sm == NULL || smv == NULL)
		return NULL;
	*rm = rm_init;
	*sm = sm_init;
	if ((rm->resource = resource_build(a, &r->k, x)) == NULL ||
	    (sm->scope = scope_build(a)) == NULL ||
	    (sm->metrics = (pb_metric **)list_array(a, &r->metrics)) == NULL)
		return NULL;
	sm->n_metrics = r->metrics.n;
	smv[0] = sm;
	rm->n_scope_metrics = 1;
	rm->scope_metrics = smv;
	return rm;
}

static int
metrics_build(struct arena *a, const uint8_t *snap, size_t len,
    const struct otlp_resource_extra *x, uint64_t ttl_ns, pb_metrics_req *req)
{
	struct restab t = { 0 };
	struct sg_snapshot_hdr h;
	struct wire_r wr;
	struct snap *s;

	/* Some 3 KiB of scratch: the arena keeps it off the stack. */
	if ((s = arena_alloc(a, sizeof(*s))) == NULL)
		return -1;
	s->ttl_ns = ttl_ns;
	wire_r_init(&wr, snap, len);
	if (msg_get_snapshot_hdr(&wr, &h) < 0)
		return -1;
	s->now_ns = h.now_ns;
	for (size_t i = 0; i < h.nfamilies; i++)
		if (family_read(a, &wr, &t, s, i + 1) < 0)
			return -1;
	if (!wire_r_done(&wr))
		return -1;
	req->resource_metrics = arena_array(a, t.n,
	    sizeof(*req->resource_metrics));
	if (req->resource_metrics == NULL)
		return -1;
	for (size_t i = 0; i < t.n; i++)
		if ((req->resource_metrics[i] = rmetrics_build(a, &t.r[i], x)) ==
		    NULL)
			return -1;
	req->n_resource_metrics = t.n;
	return 0;
}

int
otlp_encode_metrics(const uint8_t *snap, size_t len,
    const struct otlp_resource_extra *x, uint64_t ttl_ns, bool json,
    uint8_t **out, size_t *outlen)
{
	pb_metrics_req req =
	    OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	struct arena a = { NULL };
	int rc = -1;

	if (snap == NULL || out == NULL || outlen == NULL)
		return -1;
	if (metrics_build(&a, snap, len, x, ttl_ns, &req) == 0)
		rc = pack(&req.base, json, out, outlen);
	arena_free(&a);
	return rc;
}
