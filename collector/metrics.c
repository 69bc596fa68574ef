/*
 * RED aggregation.  Each family keeps its series in an array and finds
 * them through an open-addressing table keyed by a keyed hash (SipHash)
 * of the label set: the label values partly come from the network, so
 * an attacker must not be able to pick values that collide.  Memory is
 * only allocated when a series is created, never when one is updated,
 * and series per family are capped.  Expiry frees idle series and gives
 * the arrays back once they are mostly empty.
 */
#include "metrics.h"

#include <sys/random.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "select_conf.h"
#include "spans.h"
#include "semconv.h"
#include "wire.h"

#define KEY_MAX 64

#define SERIES_MAX_LIMIT (1u << 20)

enum fam_index {
	FAM_SRV_DUR = 0,
	FAM_CLI_DUR,
	FAM_SRV_REQ,
	FAM_SRV_RESP,
	FAM_CLI_REQ,
	FAM_CLI_RESP,
	FAM_RPC_SRV_DUR,
	FAM_RPC_CLI_DUR,
	FAM_DB_CLI_DUR,
	FAM_DB_SRV_DUR,
	FAM_MSG_PUB_DUR,
	FAM_MSG_PROC_DUR,
	FAM_TARGET,
	/* application_process: from the loader's /proc samples */
	FAM_PROC_CPU_TIME,
	FAM_PROC_CPU_UTIL,
	FAM_PROC_MEM,
	FAM_PROC_VIRT,
	FAM_PROC_DISK,
	FAM_PROC_NET,
	FAM_NFIXED,
	FAM_NONE = FAM_NFIXED,
	FAM_MAX = FAM_NFIXED + METRICS_EXTRA_MAX
};

struct series {
	uint64_t  hash;
	char     *labels;        /* "k\0v\0" pairs; shares the allocation */
	uint16_t  nlabels;
	uint16_t  labels_len;
	uint64_t *buckets;       /* histogram: nbounds + 1, else NULL */
	uint64_t  count;
	double    sum;           /* histogram sum */
	double    value;         /* counter/gauge */
	uint64_t  start_ns;      /* CLOCK_MONOTONIC: counting since */
	uint64_t  updated_ns;    /* CLOCK_MONOTONIC: last update */
	uint32_t  pid;           /* target_info, process metrics: the
	                          * process it describes */
	bool      live;          /* never idle: a running process's
	                          * target_info, a self-metric */
	uint64_t  pstart;        /* process metrics: its start time (ticks),
	                          * telling a reused pid's process apart */
	uint64_t  sample_ns;     /* ... the loader's time of the value */
};

struct family {
	struct sg_family_hdr hdr;
	size_t          max;     /* series limit */
	size_t          n;
	size_t          cap;
	struct series  *series;
	uint32_t       *slots;   /* series index + 1; 0 is empty */
	size_t          nslots;  /* power of two, at least 2 * n */
	bool            full;    /* refusing series: an episode, logged */
	bool            off;     /* its feature is off: not in snapshots */
	uint64_t        refused; /* observations refused in the episode */
	uint64_t        moves;   /* removals: each may move a series */
};

/* The span fields a span's labels are made of. */
struct label_src {
	uint32_t mask;                 /* the labels they were built with */
	uint8_t  kind;                 /* 0: none kept */
	uint8_t  app;
	uint8_t  flags;
	uint32_t status;
	uint16_t peer_port;
	uint16_t host_port;
	char     op[SG_METHOD_MAX];
	char     target[SG_PATH_MAX];  /* the method, or url_path */
	char     route[SG_PATH_MAX];   /* HTTP only */
	char     service_name[SG_NAME_MAX];
	char     service_namespace[SG_NAME_MAX];
	char     instance_id[SG_NAME_MAX];
	char     peer_addr[SG_ADDR_MAX];
	char     host_addr[SG_ADDR_MAX];
	char     scheme[8];
	char     collection[SG_COLLECTION_MAX];
	char     db_namespace[SG_DBNAME_MAX];
	char     error[SG_ERROR_MAX];
};

/*
 * The label set of a recent span, with what it was built from and its
 * hash.  More than one: a proxy alternates server and client spans, and
 * with a single set each of them built and hashed its labels again
 * (11,439 instructions per exchange against 6,750 without alternation).
 */
#define RED_SLOTS 4
#define RED_FAMS  3            /* duration, request and response size */
struct red_slot {
	struct metrics_labels l;
	struct label_src      src;     /* src.kind 0: not valid */
	uint64_t              hash;
	/* The series of l in the families the spans with these labels
	 * update: found again without a hash lookup and label comparison
	 * (three per exchange, ~330 instructions in collector_bench). */
	uint8_t               fam[RED_FAMS];
	struct metrics_hit    hit[RED_FAMS];
};

struct sg_metrics {
	struct family   fam[FAM_MAX];
	size_t          nfam;    /* the fixed ones, then those added */
	struct sg_buckets duration;    /* of the histograms added */
	size_t          max_series;
	uint64_t        key[2];  /* SipHash key */
	uint64_t        start_ns;      /* CLOCK_REALTIME at creation */
	uint64_t        start_mono;    /* CLOCK_MONOTONIC at creation */
	uint64_t        now;           /* CLOCK_MONOTONIC of updates */
	uint64_t        dropped;
	char            hostname[SG_LABEL_MAX];
	struct metrics_labels scratch_labels;
	struct sg_series scratch_series;
	uint32_t        masks[FAM_NFIXED];   /* labels of each family */
	struct metrics_labels other_labels;  /* a family whose mask differs */
	struct red_slot red[RED_SLOTS];     /* the label sets of the last
	                                     * spans */
	size_t          red_last;      /* the slot used last: tried first */
	size_t          red_next;      /* the slot to build in next */
};

struct fam_def {
	const char *prom, *otel, *unit, *help;
	uint8_t     type;
	int         size;        /* 1: size buckets, 0: duration buckets */
	uint32_t    avail, def;  /* labels it may have, and has by default */
	uint8_t     flags;       /* SG_FAMILY_* */
};

/* The label sets, Beyla's: [attributes.select.*] picks from avail. */
#define B(a) SG_ATTR_BIT(SG_ATTR_ ## a)
#define L_APP   (B(SERVICE_NAME) | B(SERVICE_NAMESPACE) | B(TARGET_INSTANCE))
#define L_HTTP  (L_APP | B(HTTP_METHOD) | B(HTTP_STATUS) | B(HTTP_ROUTE) | \
	B(URL_SCHEME) | B(SERVER_ADDRESS) | B(SERVER_PORT))
#define L_RPC   (L_APP | B(RPC_METHOD) | B(RPC_SYSTEM) | B(RPC_STATUS) | \
	B(SERVER_ADDRESS) | B(SERVER_PORT))
#define A_HTTP  (L_HTTP | B(URL_PATH) | B(CLIENT_ADDRESS))
#define A_RPC   (L_RPC | B(CLIENT_ADDRESS))
#define L_DB    (L_APP | B(DB_OPERATION) | B(DB_SYSTEM) | B(DB_COLLECTION) | \
	B(ERROR_TYPE) | B(SERVER_ADDRESS) | B(SERVER_PORT))
#define L_MSG   (L_APP | B(MESSAGING_SYSTEM) | B(MESSAGING_DESTINATION) | \
	B(ERROR_TYPE) | B(SERVER_ADDRESS) | B(SERVER_PORT))
#define DB_LABELS (L_DB | B(DB_NAMESPACE) | B(CLIENT_ADDRESS)), L_DB
#define MSG_LABELS (L_MSG | B(CLIENT_ADDRESS)), L_MSG
#define HTTP_LABELS A_HTTP, L_HTTP
#define RPC_SRV_LABELS A_RPC, L_RPC
#define RPC_CLI_LABELS A_RPC, (L_RPC & ~B(SERVER_PORT))

static const struct fam_def fam_defs[FAM_NFIXED] = {
	[FAM_SRV_DUR] = { "http_server_request_duration_seconds",
	    "http.server.request.duration", "s",
	    "Duration of HTTP service calls from the server side, in seconds",
	    SG_METRIC_HISTOGRAM, 0, HTTP_LABELS, 0 },
	[FAM_CLI_DUR] = { "http_client_request_duration_seconds",
	    "http.client.request.duration", "s",
	    "Duration of HTTP service calls from the client side, in seconds",
	    SG_METRIC_HISTOGRAM, 0, HTTP_LABELS, 0 },
	[FAM_SRV_REQ] = { "http_server_request_body_size_bytes",
	    "http.server.request.body.size", "By",
	    "Size, in bytes, of the HTTP request body as received at the "
	    "server side", SG_METRIC_HISTOGRAM, 1, HTTP_LABELS, 0 },
	[FAM_SRV_RESP] = { "http_server_response_body_size_bytes",
	    "http.server.response.body.size", "By",
	    "Size, in bytes, of the HTTP response body as sent from the "
	    "server side", SG_METRIC_HISTOGRAM, 1, HTTP_LABELS, 0 },
	[FAM_CLI_REQ] = { "http_client_request_body_size_bytes",
	    "http.client.request.body.size", "By",
	    "Size, in bytes, of the HTTP request body as sent from the "
	    "client side", SG_METRIC_HISTOGRAM, 1, HTTP_LABELS, 0 },
	[FAM_CLI_RESP] = { "http_client_response_body_size_bytes",
	    "http.client.response.body.size", "By",
	    "Size, in bytes, of the HTTP response body as received at the "
	    "client side", SG_METRIC_HISTOGRAM, 1, HTTP_LABELS, 0 },
	[FAM_RPC_SRV_DUR] = { "rpc_server_duration_seconds",
	    "rpc.server.duration", "s",
	    "Duration of RPC service calls from the server side, in seconds",
	    SG_METRIC_HISTOGRAM, 0, RPC_SRV_LABELS, 0 },
	[FAM_RPC_CLI_DUR] = { "rpc_client_duration_seconds",
	    "rpc.client.duration", "s",
	    "Duration of RPC service calls from the client side, in seconds",
	    SG_METRIC_HISTOGRAM, 0, RPC_CLI_LABELS, 0 },
	[FAM_DB_CLI_DUR] = { "db_client_operation_duration_seconds",
	    "db.client.operation.duration", "s",
	    "Duration of database client operations, in seconds",
	    SG_METRIC_HISTOGRAM, 0, DB_LABELS, 0 },
	/* Not in the conventions: a selected database server's side of
	 * the same operations, kept apart from its clients'. */
	[FAM_DB_SRV_DUR] = { "db_server_operation_duration_seconds",
	    "db.server.operation.duration", "s",
	    "Duration of database operations from the server side, in seconds",
	    SG_METRIC_HISTOGRAM, 0, DB_LABELS, 0 },
	[FAM_MSG_PUB_DUR] = { "messaging_publish_duration_seconds",
	    "messaging.publish.duration", "s",
	    "Duration of messaging publish operations, in seconds",
	    SG_METRIC_HISTOGRAM, 0, MSG_LABELS, 0 },
	[FAM_MSG_PROC_DUR] = { "messaging_process_duration_seconds",
	    "messaging.process.duration", "s",
	    "Duration of messaging process operations, in seconds",
	    SG_METRIC_HISTOGRAM, 0, MSG_LABELS, 0 },
	[FAM_TARGET] = { "target_info", "target_info", "",
	    "Target metadata", SG_METRIC_GAUGE, 0, 0, 0, 0 },
	/* Beyla's names.  Their labels are fixed (proc_labels): the
	 * selection of [attributes.select.*] does not reach them yet. */
	[FAM_PROC_CPU_TIME] = { "process_cpu_time_seconds_total",
	    "process.cpu.time", "s",
	    "Total CPU seconds broken down by different states",
	    SG_METRIC_COUNTER, 0, 0, 0, SG_FAMILY_OBSERVED },
	[FAM_PROC_CPU_UTIL] = { "process_cpu_utilization_ratio",
	    "process.cpu.utilization", "1",
	    "Difference in process.cpu.time since the last measurement, "
	    "divided by the elapsed time and number of CPUs available",
	    SG_METRIC_GAUGE, 0, 0, 0, 0 },
	[FAM_PROC_MEM] = { "process_memory_usage_bytes",
	    "process.memory.usage", "By",
	    "The amount of physical memory in use",
	    SG_METRIC_GAUGE, 0, 0, 0, 0 },
	[FAM_PROC_VIRT] = { "process_memory_virtual_bytes",
	    "process.memory.virtual", "By",
	    "The amount of committed virtual memory",
	    SG_METRIC_GAUGE, 0, 0, 0, 0 },
	[FAM_PROC_DISK] = { "process_disk_io_bytes_total",
	    "process.disk.io", "By", "Disk bytes transferred",
	    SG_METRIC_COUNTER, 0, 0, 0, SG_FAMILY_OBSERVED },
	[FAM_PROC_NET] = { "process_network_io_bytes_total",
	    "process.network.io", "By", "Network bytes transferred",
	    SG_METRIC_COUNTER, 0, 0, 0, SG_FAMILY_OBSERVED },
};

/* The families of [metrics] features = application_process. */
static const uint8_t proc_fams[] = { FAM_PROC_CPU_TIME, FAM_PROC_CPU_UTIL,
	FAM_PROC_MEM, FAM_PROC_VIRT, FAM_PROC_DISK, FAM_PROC_NET };

/* The families a span of each app counts in: [app][client]. */
struct app_fams {
	uint8_t dur, req, resp;
};

static const struct app_fams app_families[SG_APP_MAX][2] = {
	[SG_APP_HTTP] = {
		{ FAM_SRV_DUR, FAM_SRV_REQ, FAM_SRV_RESP },
		{ FAM_CLI_DUR, FAM_CLI_REQ, FAM_CLI_RESP },
	},
	[SG_APP_GRPC] = {
		{ FAM_RPC_SRV_DUR, FAM_NONE, FAM_NONE },
		{ FAM_RPC_CLI_DUR, FAM_NONE, FAM_NONE },
	},
#define DB_FAMS { { FAM_DB_SRV_DUR, FAM_NONE, FAM_NONE }, \
		{ FAM_DB_CLI_DUR, FAM_NONE, FAM_NONE } }
	[SG_APP_POSTGRESQL] = DB_FAMS,
	[SG_APP_MYSQL] = DB_FAMS,
	[SG_APP_REDIS] = DB_FAMS,
	[SG_APP_MEMCACHED] = DB_FAMS,
#undef DB_FAMS
	/* Publishing or processing, told by the operation (msg_family). */
	[SG_APP_KAFKA] = {
		{ FAM_NONE, FAM_NONE, FAM_NONE },
		{ FAM_MSG_PUB_DUR, FAM_NONE, FAM_NONE },
	},
};

/* A consumer's Fetch is processing; a broker's side is not counted. */
static void
msg_family(struct app_fams *f, const struct sg_span *s)
{
	if (s->kind == SG_SPAN_CLIENT &&
	    strncmp(s->op, "process", sizeof(s->op)) == 0)
		f->dur = FAM_MSG_PROC_DUR;
}

/* ---- SipHash-2-4, written from the paper's description. */

static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

static uint64_t
load_le64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t
siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v[4], m;
	size_t i;

	v[0] = key[0] ^ 0x736f6d6570736575ULL;
	v[1] = key[1] ^ 0x646f72616e646f6dULL;
	v[2] = key[0] ^ 0x6c7967656e657261ULL;
	v[3] = key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(p + i, 8);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	m = load_le64(p + i, len - i) | ((uint64_t)len << 56);
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- label sets */

void
metrics_labels_reset(struct metrics_labels *l)
{
	l->n = 0;
	l->len = 0;
	l->err = 0;
	l->hashed = false;
	l->version++;
}

void
metrics_labels_add(struct metrics_labels *l, const char *k, const char *v,
    size_t vmax)
{
	size_t kn = strlen(k), vn = strnlen(v, vmax);

	l->hashed = false;
	l->version++;
	if (vn > SG_LABEL_MAX - 1)
		vn = SG_LABEL_MAX - 1;
	if (l->err || kn >= KEY_MAX || l->n >= SG_MAX_LABELS ||
	    kn + vn + 2 > sizeof(l->buf) - l->len) {
		l->err = 1;
		return;
	}
	memcpy(l->buf + l->len, k, kn + 1);
	l->len += kn + 1;
	memcpy(l->buf + l->len, v, vn);
	l->len += vn;
	l->buf[l->len++] = '\0';
	l->n++;
}

static void
labels_add(struct metrics_labels *l, const char *k, const char *v)
{
	metrics_labels_add(l, k, v, SG_LABEL_MAX - 1);
}

/* ---- families and series */

static void
family_init(struct family *f, const char *prom, const char *otel,
    const char *unit, const char *help, uint8_t type,
    const struct sg_buckets *b, size_t max)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->hdr.prom_name, sizeof(f->hdr.prom_name), "%s", prom);
	snprintf(f->hdr.otel_name, sizeof(f->hdr.otel_name), "%s", otel);
	snprintf(f->hdr.unit, sizeof(f->hdr.unit), "%s", unit);
	snprintf(f->hdr.help, sizeof(f->hdr.help), "%s", help);
	f->hdr.type = type;
	if (type == SG_METRIC_HISTOGRAM && b != NULL) {
		f->hdr.nbounds = b->n;
		memcpy(f->hdr.bounds, b->b, b->n * sizeof(b->b[0]));
	}
	f->max = max;
}

static void
family_free(struct family *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->series[i].buckets != NULL ?
		    (void *)f->series[i].buckets : f->series[i].labels);
	free(f->series);
	free(f->slots);
	memset(f, 0, sizeof(*f));
}

static struct series *
family_find(struct family *f, uint64_t h, const struct metrics_labels *l)
{
	size_t mask, i;

	if (f->nslots == 0)
		return NULL;
	mask = f->nslots - 1;
	/* The load factor stays at most one half: an empty slot ends
	 * every probe. */
	for (i = h & mask;; i = (i + 1) & mask) {
		uint32_t s = f->slots[i];
		struct series *se;

		if (s == 0)
			return NULL;
		se = &f->series[s - 1];
		if (se->hash == h && se->nlabels == l->n &&
		    se->labels_len == l->len &&
		    memcmp(se->labels, l->buf, l->len) == 0)
			return se;
	}
}

static void
family_slot_put(struct family *f, uint64_t h, uint32_t idx)
{
	size_t mask = f->nslots - 1, i;

	for (i = h & mask; f->slots[i] != 0; i = (i + 1) & mask)
		;
	f->slots[i] = idx + 1;
}

/* Rebuild the slot table with nslots slots, a power of two. */
static int
family_rehash(struct family *f, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (slots == NULL)
		return -1;
	free(f->slots);
	f->slots = slots;
	f->nslots = nslots;
	for (size_t i = 0; i < f->n; i++)
		family_slot_put(f, f->series[i].hash, (uint32_t)i);
	return 0;
}

static int
family_grow(struct family *f)
{
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct series *ns;

		if (ncap > f->max)
			ncap = f->max;
		ns = reallocarray(f->series, ncap, sizeof(*ns));
		if (ns == NULL)
			return -1;
		f->series = ns;
		f->cap = ncap;
	}
	if ((f->n + 1) * 2 > f->nslots &&
	    family_rehash(f, f->nslots ? f->nslots * 2 : 16) < 0)
		return -1;
	return 0;
}

/* After expiry: arrays grown for a burst (a crowd of short-lived
 * processes) must not stay at their peak.  Each is halved while at most
 * a quarter of it is used, so that it does not grow again at once. */
static void
family_shrink(struct family *f)
{
	size_t ncap = f->cap, nslots = f->nslots;

	while (ncap > 8 && f->n <= ncap / 4)
		ncap /= 2;
	while (nslots > 16 && (f->n + 1) * 8 <= nslots)
		nslots /= 2;
	if (ncap < f->cap) {
		struct series *ns = reallocarray(f->series, ncap, sizeof(*ns));

		if (ns != NULL) {
			f->series = ns;
			f->cap = ncap;
		}
	}
	/* Without memory for the smaller table the larger one stays. */
	if (nslots < f->nslots)
		(void)family_rehash(f, nslots);
}

/* A series did not fit: the first refusal of an episode is logged, the
 * others only counted, in spyglass_metric_series_dropped_total. */
static void
family_refuse(struct family *f)
{
	if (!f->full)
		sg_log(SG_LOG_WARN, "metrics: %s reached its limit of %zu "
		    "series: new series are not counted until others expire "
		    "(spyglass_metric_series_dropped_total)",
		    f->hdr.prom_name, f->max);
	f->full = true;
	f->refused++;
}

/* The episode ends when a tenth of the family is free again: a family
 * that hovers at its limit makes one warning, not one a second. */
static void
family_check_room(struct family *f)
{
	if (!f->full || f->n * 10 > f->max * 9)
		return;
	sg_log(SG_LOG_INFO, "metrics: %s has room again (%zu of %zu series); "
	    "%llu observations of series it had no room for were not counted",
	    f->hdr.prom_name, f->n, f->max, (unsigned long long)f->refused);
	f->full = false;
	f->refused = 0;
}

static struct series *
family_add(struct sg_metrics *m, struct family *f, uint64_t h,
    const struct metrics_labels *l)
{
	struct series *se;
	size_t nb = 0;
	uint8_t *block;

	if (f->n >= f->max) {
		family_refuse(f);
		m->dropped++;
		return NULL;
	}
	if (family_grow(f) < 0) {
		sg_log(SG_LOG_WARN, "metrics: out of memory for a series "
		    "of %s", f->hdr.prom_name);
		m->dropped++;
		return NULL;
	}
	if (f->hdr.type == SG_METRIC_HISTOGRAM)
		nb = (size_t)f->hdr.nbounds + 1;
	/* One allocation per series: buckets first (aligned), labels after. */
	block = calloc(1, nb * sizeof(uint64_t) + l->len + 1);
	if (block == NULL) {
		m->dropped++;
		return NULL;
	}
	se = &f->series[f->n];
	memset(se, 0, sizeof(*se));
	se->hash = h;
	se->start_ns = m->now;
	se->buckets = nb ? (uint64_t *)(void *)block : NULL;
	se->labels = (char *)block + nb * sizeof(uint64_t);
	memcpy(se->labels, l->buf, l->len);
	se->nlabels = l->n;
	se->labels_len = (uint16_t)l->len;
	family_slot_put(f, h, (uint32_t)f->n);
	f->n++;
	return se;
}

static uint64_t
labels_hash(const struct sg_metrics *m, const struct metrics_labels *l)
{
	return siphash(m->key, l->buf, l->len);
}

/* The series for labels l (whose hash is h), created when missing,
 * updated now. */
static struct series *
family_get_h(struct sg_metrics *m, struct family *f,
    const struct metrics_labels *l, uint64_t h)
{
	struct series *se;

	if (l->err)
		return NULL;
	if ((se = family_find(f, h, l)) == NULL &&
	    (se = family_add(m, f, h, l)) == NULL)
		return NULL;
	se->updated_ns = m->now;
	return se;
}

static struct series *
family_get(struct sg_metrics *m, struct family *f,
    const struct metrics_labels *l)
{
	return family_get_h(m, f, l, labels_hash(m, l));
}

static size_t
family_slot_of(struct family *f, size_t idx)
{
	size_t mask = f->nslots - 1, i;

	for (i = f->series[idx].hash & mask; f->slots[i] != idx + 1;
	    i = (i + 1) & mask)
		;
	return i;
}

/* Remove series idx: backward-shift deletion keeps linear probing
 * correct without tombstones, then the last series fills the hole. */
static void
family_remove(struct family *f, size_t idx)
{
	size_t mask = f->nslots - 1, i, j, last = f->n - 1;
	struct series *se = &f->series[idx];

	f->moves++;
	i = family_slot_of(f, idx);
	f->slots[i] = 0;
	for (j = (i + 1) & mask; f->slots[j] != 0; j = (j + 1) & mask) {
		size_t home = f->series[f->slots[j] - 1].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			f->slots[i] = f->slots[j];
			f->slots[j] = 0;
			i = j;
		}
	}
	free(se->buckets != NULL ? (void *)se->buckets : se->labels);
	if (idx != last) {
		f->slots[family_slot_of(f, last)] = (uint32_t)idx + 1;
		*se = f->series[last];
	}
	f->n--;
}

static uint64_t
series_idle(const struct sg_metrics *m, const struct series *se)
{
	return se->live || m->now <= se->updated_ns ? 0 :
	    m->now - se->updated_ns;
}

/* Remove the series idle for longer than ttl (the last one moves into
 * a removed one's place, so the index only advances past kept ones). */
static size_t
family_expire(const struct sg_metrics *m, struct family *f, uint64_t ttl)
{
	size_t removed = 0;

	for (size_t i = 0; i < f->n;) {
		if (series_idle(m, &f->series[i]) > ttl) {
			family_remove(f, i);
			removed++;
		} else
			i++;
	}
	return removed;
}

static void
histogram_observe(const struct family *f, struct series *se, double v)
{
	size_t lo = 0, hi = f->hdr.nbounds;

	/* First bound >= v (Prometheus "le"), else the +Inf bucket. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v <= f->hdr.bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	se->buckets[lo]++;
	se->count++;
	se->sum += v;
}

/* ---- public interface */

static int
buckets_valid(const struct sg_buckets *b)
{
	if (b == NULL || b->n > SG_MAX_BOUNDS)
		return 0;
	for (uint16_t i = 0; i < b->n; i++) {
		if (!isfinite(b->b[i]))
			return 0;
		if (i > 0 && b->b[i] <= b->b[i - 1])
			return 0;
	}
	return 1;
}

static void
metrics_seed(struct sg_metrics *m)
{
	ssize_t n;

	do
		n = getrandom(m->key, sizeof(m->key), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(m->key)) {
		struct timespec ts;

		/* Weaker, but collisions then only cost probe length. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		m->key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)getpid();
		m->key[1] = (uint64_t)ts.tv_sec ^ (uintptr_t)m;
	}
}

struct sg_metrics *
metrics_new(const struct sg_buckets *duration, const struct sg_buckets *size,
    size_t max_series)
{
	struct sg_metrics *m;

	if (!buckets_valid(duration) || !buckets_valid(size) ||
	    max_series == 0 || max_series > SERIES_MAX_LIMIT) {
		sg_log(SG_LOG_ERR, "metrics: invalid buckets or series limit");
		errno = EINVAL;
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->max_series = max_series;
	m->duration = *duration;
	metrics_seed(m);
	m->start_ns = sg_clock_ns(CLOCK_REALTIME);
	m->start_mono = sg_clock_ns(CLOCK_MONOTONIC);
	m->now = m->start_mono;
	if (gethostname(m->hostname, sizeof(m->hostname)) != 0)
		m->hostname[0] = '\0';
	m->hostname[sizeof(m->hostname) - 1] = '\0';

	for (size_t i = 0; i < FAM_NFIXED; i++) {
		const struct fam_def *d = &fam_defs[i];

		family_init(&m->fam[i], d->prom, d->otel, d->unit, d->help,
		    d->type, d->size ? size : duration, max_series);
		m->fam[i].hdr.flags = d->flags;
		m->masks[i] = d->def;
	}
	/* Off until the configuration asks for them (metrics_select). */
	for (size_t i = 0; i < sizeof(proc_fams); i++)
		m->fam[proc_fams[i]].off = true;
	m->nfam = FAM_NFIXED;
	return m;
}

void
metrics_free(struct sg_metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfam; i++)
		family_free(&m->fam[i]);
	free(m);
}

void
metrics_set_time(struct sg_metrics *m, uint64_t mono_ns)
{
	if (m != NULL)
		m->now = mono_ns;
}

size_t
metrics_expire(struct sg_metrics *m, uint64_t ttl_ns)
{
	size_t total = 0;

	if (m == NULL)
		return 0;
	for (size_t i = 0; i < m->nfam; i++) {
		struct family *f = &m->fam[i];
		size_t removed = family_expire(m, f, ttl_ns);

		if (removed > 0)
			family_shrink(f);
		family_check_room(f);
		total += removed;
	}
	return total;
}


/* The series hit remembers, when it is still that of labels l. */
static struct series *
family_hit(struct family *f, const struct metrics_labels *l,
    const struct metrics_hit *hit)
{
	if (hit == NULL || !hit->valid || hit->labels_version != l->version ||
	    hit->family_moves != f->moves || hit->idx >= f->n)
		return NULL;
	return &f->series[hit->idx];
}

static void
observe(struct sg_metrics *m, struct family *f, const struct metrics_labels *l,
    uint64_t h, double v)
{
	struct series *se = family_get_h(m, f, l, h);

	if (se != NULL)
		histogram_observe(f, se, v);
}

/* The labels of span s that mask selects, in a fixed order.  A status
 * the sensor could not read has no label: it is not guessed. */
static void
labels_build(struct metrics_labels *l, const struct sg_span *s, uint32_t mask)
{
	char num[16];

	metrics_labels_reset(l);
	for (int a = 0; a < SG_ATTR_MAX; a++) {
		const char *v;

		if (!(mask & SG_ATTR_BIT(a)) ||
		    (v = spans_attr(s, a, num, sizeof(num))) == NULL)
			continue;
		labels_add(l, sg_attr_names[a], v);
	}
}

/* The attribute a span's target is, when a label. */
static int
target_attr(uint8_t app)
{
	switch (app) {
	case SG_APP_GRPC:
		return SG_ATTR_RPC_METHOD;
	case SG_APP_KAFKA:
		return SG_ATTR_MESSAGING_DESTINATION;
	default:
		return SG_ATTR_URL_PATH;
	}
}

/* strncmp(a, b, n) == 0, the call spared when either is empty: most of
 * a span's optional strings are empty in both (an HTTP span's
 * collection, namespace and error). */
static inline bool
str_same(const char *a, const char *b, size_t n)
{
	if (a[0] != b[0])
		return false;
	return a[0] == '\0' || strncmp(a, b, n) == 0;
}

/* Whether span s has the label sources of the last span whose labels
 * were built with mask: then it has the same labels, and their hash.
 * Only the addresses and ports the mask uses are compared (a server's
 * clients come from ever new ports). */
static inline __attribute__((always_inline)) bool
label_src_same(const struct label_src *a, const struct sg_span *s,
    uint32_t mask)
{
	bool server = s->kind == SG_SPAN_SERVER;

	if (a->kind != s->kind || a->mask != mask || a->app != s->app ||
	    a->flags != s->flags || a->status != s->status ||
	    !str_same(a->op, s->op, sizeof(a->op)) ||
	    ((mask & SG_ATTR_BIT(target_attr(s->app))) &&
	    !str_same(a->target, s->target, sizeof(a->target))) ||
	    !str_same(a->collection, s->collection, sizeof(a->collection)) ||
	    !str_same(a->db_namespace, s->db_namespace,
	    sizeof(a->db_namespace)) ||
	    !str_same(a->error, s->error, sizeof(a->error)) ||
	    (s->app != SG_APP_GRPC &&
	    !str_same(a->route, s->route, sizeof(a->route))) ||
	    !str_same(a->scheme, s->scheme, sizeof(a->scheme)) ||
	    !str_same(a->service_name, s->service_name,
	    sizeof(a->service_name)) ||
	    !str_same(a->service_namespace, s->service_namespace,
	    sizeof(a->service_namespace)) ||
	    !str_same(a->instance_id, s->instance_id,
	    sizeof(a->instance_id)))
		return false;
	if ((mask & SG_ATTR_BIT(SG_ATTR_SERVER_PORT)) &&
	    (server ? a->host_port != s->host_port :
	    a->peer_port != s->peer_port))
		return false;
	if ((mask & (SG_ATTR_BIT(SG_ATTR_SERVER_ADDRESS) |
	    SG_ATTR_BIT(SG_ATTR_CLIENT_ADDRESS))) &&
	    (!str_same(a->host_addr, s->host_addr, sizeof(a->host_addr)) ||
	    !str_same(a->peer_addr, s->peer_addr, sizeof(a->peer_addr))))
		return false;
	return true;
}

#define KEEP_STR(f) spans_copy_str(a->f, sizeof(a->f), s->f, sizeof(s->f))

static void
label_src_keep(struct label_src *a, const struct sg_span *s, uint32_t mask)
{
	a->mask = mask;
	a->kind = s->kind;
	a->app = s->app;
	a->flags = s->flags;
	a->status = s->status;
	a->peer_port = s->peer_port;
	a->host_port = s->host_port;
	KEEP_STR(op);
	KEEP_STR(target);
	KEEP_STR(route);
	KEEP_STR(scheme);
	KEEP_STR(service_name);
	KEEP_STR(service_namespace);
	KEEP_STR(instance_id);
	KEEP_STR(peer_addr);
	KEEP_STR(host_addr);
	KEEP_STR(collection);
	KEEP_STR(db_namespace);
	KEEP_STR(error);
}

#undef KEEP_STR

/* The slot holding span s's labels for mask, the last used first (a
 * run of spans alike costs one comparison), or NULL. */
static struct red_slot *
red_slot_find(struct sg_metrics *m, const struct sg_span *s, uint32_t mask)
{
	if (label_src_same(&m->red[m->red_last].src, s, mask))
		return &m->red[m->red_last];
	for (size_t k = 0; k < RED_SLOTS; k++)
		if (k != m->red_last && label_src_same(&m->red[k].src, s, mask)) {
			m->red_last = k;
			return &m->red[k];
		}
	return NULL;
}

/* The labels of span s for the families of mask, and their hash (the
 * three families of a side share one label set unless the selection
 * tells them apart).  Consecutive spans mostly have the same labels:
 * then the previous span's are used as they are, neither built again
 * nor hashed (building them and SipHash were the collector's top
 * symbols). */
static struct red_slot *
span_labels(struct sg_metrics *m, const struct sg_span *s, uint32_t mask)
{
	struct red_slot *r = red_slot_find(m, s, mask);

	if (r == NULL) {
		r = &m->red[m->red_next];
		m->red_last = m->red_next;
		m->red_next = (m->red_next + 1) % RED_SLOTS;
		r->src.kind = 0;   /* no valid labels until built */
		labels_build(&r->l, s, mask);
		r->hash = labels_hash(m, &r->l);
		if (r->l.err == 0)
			label_src_keep(&r->src, s, mask);
	}
	return r;
}

/* observe() with the slot's labels, through the series it remembers for
 * family fam (its k-th): a memo is good while neither the labels nor
 * the family's series have moved (family_hit). */
static void
observe_red(struct sg_metrics *m, struct red_slot *r, size_t k, uint8_t fam,
    double v)
{
	struct family *f = &m->fam[fam];
	struct series *se = NULL;

	if (r->fam[k] == fam)
		se = family_hit(f, &r->l, &r->hit[k]);
	if (se != NULL)
		se->updated_ns = m->now;
	else {
		if ((se = family_get_h(m, f, &r->l, r->hash)) == NULL)
			return;
		r->fam[k] = fam;
		r->hit[k] = (struct metrics_hit){ true, r->l.version, f->moves,
		    (size_t)(se - f->series) };
	}
	histogram_observe(f, se, v);
}

/* A size family: with the duration family's labels, or its own when the
 * selection tells them apart. */
static void
observe_other(struct sg_metrics *m, uint8_t fam, const struct sg_span *s,
    struct red_slot *r, size_t k, uint32_t mask, double v)
{
	const struct metrics_labels *l = &m->other_labels;

	if (fam == FAM_NONE)
		return;
	if (m->masks[fam] == mask) {
		observe_red(m, r, k, fam, v);
		return;
	}
	labels_build(&m->other_labels, s, m->masks[fam]);
	observe(m, &m->fam[fam], l, labels_hash(m, l), v);
}

void
metrics_record_span(struct sg_metrics *m, const struct sg_span *s)
{
	struct app_fams fams;
	struct red_slot *r;
	uint32_t mask;
	int client;

	if (m == NULL || s == NULL)
		return;
	if (s->kind != SG_SPAN_SERVER && s->kind != SG_SPAN_CLIENT)
		return;
	if (s->app == 0 || s->app >= SG_APP_MAX)
		return;
	client = s->kind == SG_SPAN_CLIENT;
	fams = app_families[s->app][client];
	if (semconv_messaging_system(s->app) != NULL)
		msg_family(&fams, s);
	if (fams.dur == FAM_NONE)
		return;
	mask = m->masks[fams.dur];
	r = span_labels(m, s, mask);
	observe_red(m, r, 0, fams.dur, spans_seconds(s));
	observe_other(m, fams.req, s, r, 1, mask, (double)s->req_size);
	observe_other(m, fams.resp, s, r, 2, mask, (double)s->resp_size);
}

/* The labels that say which service and instance a series is of. */
static void
service_labels(struct metrics_labels *l, const struct sg_proc_info *p,
    const char *pid)
{
	char inst[SG_NAME_MAX];

	if (strnlen(p->instance_id, sizeof(p->instance_id)) > 0)
		snprintf(inst, sizeof(inst), "%.*s",
		    (int)sizeof(p->instance_id) - 1, p->instance_id);
	else
		snprintf(inst, sizeof(inst), "%s", pid);
	metrics_labels_reset(l);
	metrics_labels_add(l, "service_name", p->service_name[0] != '\0' ?
	    p->service_name : "unknown_service", sizeof(p->service_name));
	metrics_labels_add(l, "service_namespace", p->service_namespace,
	    sizeof(p->service_namespace));
	labels_add(l, "target_instance", inst);
}

/* ---- process metrics (application_process) */

/* A process went away: its series age from now, as its target_info does,
 * and leave with the ttl. */
static void
proc_series_gone(struct sg_metrics *m, uint32_t pid)
{
	for (size_t i = 0; i < sizeof(proc_fams); i++) {
		struct family *f = &m->fam[proc_fams[i]];

		for (size_t j = 0; j < f->n; j++) {
			struct series *se = &f->series[j];

			if (se->pid != pid || !se->live)
				continue;
			se->live = false;
			se->updated_ns = m->now;
		}
	}
}

static const char *
path_base(const char *path, size_t max)
{
	size_t n = strnlen(path, max);

	while (n > 0 && path[n - 1] != '/')
		n--;
	return path + n;
}

/* The labels every series of process p has, Beyla's defaults among
 * them.  The command (comm) is the process's own choice of name:
 * the exporter makes it valid UTF-8 and escapes it. */
static void
proc_labels(struct metrics_labels *l, const struct sg_proc_info *p,
    const struct sg_pstat *ps)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%u", p->pid);
	service_labels(l, p, pid);
	labels_add(l, "process_pid", pid);
	metrics_labels_add(l, "process_executable_name", path_base(p->exe,
	    sizeof(p->exe)), sizeof(p->exe));
	metrics_labels_add(l, "process_executable_path", p->exe, sizeof(p->exe));
	metrics_labels_add(l, "process_command", ps->comm, sizeof(ps->comm));
}

/*
 * The series of family fam with labels base plus key=value, updated now
 * for process ps.  A series that held another process of the same pid
 * (a reused pid, within the ttl) starts again.  *prev, when not NULL, is
 * the previous sample's value and its time, or prev[1] 0 for none.
 */
static struct series *
proc_series(struct sg_metrics *m, int fam, const struct metrics_labels *base,
    const char *key, const char *value, const struct sg_pstat *ps,
    uint64_t sample_ns, double prev[2])
{
	struct metrics_labels *l = &m->other_labels;
	struct series *se;

	*l = *base;
	if (key != NULL)
		labels_add(l, key, value);
	if ((se = family_get(m, &m->fam[fam], l)) == NULL)
		return NULL;
	if (se->pid != ps->pid || se->pstart != ps->start_time) {
		/* Counting since the process started, when that is known
		 * and not later than now. */
		se->start_ns = ps->started_ns != 0 && ps->started_ns < m->now ?
		    ps->started_ns : m->now;
		se->sample_ns = 0;
		se->value = 0;
	}
	if (prev != NULL) {
		prev[0] = se->value;
		prev[1] = se->sample_ns < sample_ns ?
		    (double)(sample_ns - se->sample_ns) : 0;
		if (se->sample_ns == 0)
			prev[1] = 0;
	}
	se->pid = ps->pid;
	se->pstart = ps->start_time;
	se->sample_ns = sample_ns;
	se->live = true;
	return se;
}

static void
proc_set(struct sg_metrics *m, int fam, const struct metrics_labels *base,
    const char *key, const char *value, const struct sg_pstat *ps,
    uint64_t sample_ns, double v)
{
	struct series *se = proc_series(m, fam, base, key, value, ps,
	    sample_ns, NULL);

	if (se != NULL)
		se->value = v;
}

/* CPU time of one mode, and its utilisation since the previous sample:
 * none until there is one (the first sample has nothing to compare). */
static void
proc_cpu(struct sg_metrics *m, const struct metrics_labels *base,
    const char *mode, uint64_t us, const struct sg_pstat *ps,
    uint64_t sample_ns, unsigned ncpu)
{
	double prev[2], secs = (double)us / 1e6;
	struct series *se = proc_series(m, FAM_PROC_CPU_TIME, base, "cpu_mode",
	    mode, ps, sample_ns, prev);

	if (se == NULL)
		return;
	se->value = secs;
	if (prev[1] <= 0 || secs < prev[0])
		return;
	proc_set(m, FAM_PROC_CPU_UTIL, base, "cpu_mode", mode, ps, sample_ns,
	    (secs - prev[0]) / (prev[1] / 1e9 * ncpu));
}

void
metrics_record_process(struct sg_metrics *m, const struct sg_proc_info *p,
    const struct sg_pstat *ps, uint64_t sample_ns, unsigned ncpu,
    const uint64_t net[2])
{
	struct metrics_labels *base;

	if (m == NULL || p == NULL || ps == NULL || ncpu == 0 ||
	    m->fam[FAM_PROC_CPU_TIME].off)
		return;
	base = &m->scratch_labels;
	proc_labels(base, p, ps);
	proc_cpu(m, base, "user", ps->user_us, ps, sample_ns, ncpu);
	proc_cpu(m, base, "system", ps->system_us, ps, sample_ns, ncpu);
	proc_set(m, FAM_PROC_MEM, base, NULL, NULL, ps, sample_ns,
	    (double)ps->rss_bytes);
	proc_set(m, FAM_PROC_VIRT, base, NULL, NULL, ps, sample_ns,
	    (double)ps->vm_bytes);
	if (net != NULL) {
		proc_set(m, FAM_PROC_NET, base, "network_io_direction",
		    "receive", ps, sample_ns, (double)net[0]);
		proc_set(m, FAM_PROC_NET, base, "network_io_direction",
		    "transmit", ps, sample_ns, (double)net[1]);
	}
	/* Unreadable /proc/PID/io: no disk series rather than zeroes. */
	if (!(ps->flags & SG_PSTAT_IO))
		return;
	proc_set(m, FAM_PROC_DISK, base, "disk_io_direction", "read", ps,
	    sample_ns, (double)ps->io_read);
	proc_set(m, FAM_PROC_DISK, base, "disk_io_direction", "write", ps,
	    sample_ns, (double)ps->io_write);
}

bool
metrics_process_on(const struct sg_metrics *m)
{
	return m != NULL && !m->fam[FAM_PROC_CPU_TIME].off;
}

void
metrics_service_seen(struct sg_metrics *m, const struct sg_proc_info *p)
{
	struct family *f;
	struct metrics_labels *l;
	struct series *se;
	char pid[16];

	if (m == NULL || p == NULL)
		return;
	if (!p->present)
		proc_series_gone(m, p->pid);
	f = &m->fam[FAM_TARGET];
	/* One target_info per process: a re-exec may rename it, an exit
	 * lets it expire like the process's other series.  Both are rare,
	 * so a scan is cheap enough. */
	for (size_t i = 0; i < f->n; i++) {
		se = &f->series[i];
		if (se->pid != p->pid)
			continue;
		if (!p->present) {
			if (se->live)
				se->updated_ns = m->now;
			se->live = false;
			return;
		}
		family_remove(f, i);
		break;
	}
	if (!p->present)
		return;

	snprintf(pid, sizeof(pid), "%u", p->pid);
	l = &m->scratch_labels;
	service_labels(l, p, pid);
	labels_add(l, "telemetry_sdk_name", "spyglass");
	labels_add(l, "host_name", m->hostname);
	labels_add(l, "process_pid", pid);
	if ((se = family_get(m, f, l)) == NULL)
		return;
	se->pid = p->pid;
	se->live = true;
	se->value = 1;
}

void
metrics_select(struct sg_metrics *m, const struct sg_config *c)
{
	if (m == NULL || c == NULL)
		return;
	for (size_t i = 0; i < FAM_NFIXED; i++)
		m->masks[i] = sg_attr_mask(c, fam_defs[i].prom, fam_defs[i].otel,
		    fam_defs[i].avail, fam_defs[i].def);
	for (size_t i = 0; i < sizeof(proc_fams); i++)
		m->fam[proc_fams[i]].off = !(c->features &
		    (1u << SG_FEATURE_APPLICATION_PROCESS));
	for (size_t k = 0; k < RED_SLOTS; k++)   /* may be another set */
		m->red[k].src.kind = 0;
}

/* ---- families of other modules */

int
metrics_family_add(struct sg_metrics *m, const struct metrics_family_def *d)
{
	struct family *f;

	if (m == NULL || d == NULL || d->prom == NULL || d->otel == NULL ||
	    d->unit == NULL || d->help == NULL || m->nfam >= FAM_MAX ||
	    (d->type != SG_METRIC_COUNTER && d->type != SG_METRIC_HISTOGRAM))
		return -1;
	f = &m->fam[m->nfam];
	family_init(f, d->prom, d->otel, d->unit, d->help, d->type,
	    &m->duration, m->max_series);
	f->off = true;
	return (int)m->nfam++;
}

static struct family *
family_added(struct sg_metrics *m, int id)
{
	if (m == NULL || id < FAM_NFIXED || (size_t)id >= m->nfam)
		return NULL;
	return &m->fam[id];
}

void
metrics_family_enable(struct sg_metrics *m, int id, bool on)
{
	struct family *f = family_added(m, id);

	if (f != NULL)
		f->off = !on;
}

void
metrics_family_update(struct sg_metrics *m, int id, struct metrics_labels *l,
    double v, struct metrics_hit *hit)
{
	struct family *f = family_added(m, id);
	struct series *se;

	if (f == NULL || l == NULL || f->off)
		return;
	if ((se = family_hit(f, l, hit)) != NULL)
		se->updated_ns = m->now;
	else {
		/* several families of a module share one label set */
		if (!l->hashed) {
			l->hash = labels_hash(m, l);
			l->hashed = true;
		}
		if ((se = family_get_h(m, f, l, l->hash)) == NULL)
			return;
		if (hit != NULL)
			*hit = (struct metrics_hit){ true, l->version, f->moves,
			    (size_t)(se - f->series) };
	}
	if (f->hdr.type == SG_METRIC_HISTOGRAM)
		histogram_observe(f, se, v);
	else
		se->value += v;
}

void
metrics_deriver_attach(struct metrics_deriver *d, struct sg_metrics *m,
    const struct metrics_family_def *defs, size_t n)
{
	if (d == NULL)
		return;
	d->m = m;
	d->on = false;
	d->next = 0;
	for (size_t k = 0; k < METRICS_DERIVER_SLOTS; k++) {
		struct metrics_deriver_slot *sl = &d->slot[k];

		sl->valid = false;
		metrics_labels_reset(&sl->l);
		memset(sl->hit, 0, sizeof(sl->hit));
	}
	d->nfam = n < METRICS_EXTRA_MAX ? n : METRICS_EXTRA_MAX;
	for (size_t i = 0; i < d->nfam; i++)
		d->fam[i] = metrics_family_add(m, &defs[i]);
}

void
metrics_deriver_enable(struct metrics_deriver *d, bool on)
{
	if (d == NULL)
		return;
	d->on = on;
	for (size_t i = 0; i < d->nfam; i++)
		metrics_family_enable(d->m, d->fam[i], on);
}

size_t
metrics_deriver_claim(struct metrics_deriver *d)
{
	size_t k = d->next;

	d->next = (k + 1) % METRICS_DERIVER_SLOTS;
	d->slot[k].valid = false;
	return k;
}

void
metrics_deriver_update(struct metrics_deriver *d, size_t k, size_t i,
    double v)
{
	struct metrics_deriver_slot *sl;

	if (d == NULL || k >= METRICS_DERIVER_SLOTS || i >= d->nfam)
		return;
	sl = &d->slot[k];
	metrics_family_update(d->m, d->fam[i], &sl->l, v, &sl->hit[i]);
}

void
metrics_set_host(struct sg_metrics *m, const char *name)
{
	if (m != NULL && name != NULL && name[0] != '\0')
		snprintf(m->hostname, sizeof(m->hostname), "%s", name);
}

uint64_t
metrics_series_dropped(const struct sg_metrics *m)
{
	return m != NULL ? m->dropped : 0;
}

/* ---- snapshot */

static void
series_export(const struct sg_metrics *m, const struct family *f,
    const struct series *se, uint64_t now_unix_ns, struct sg_series *out)
{
	const char *p = se->labels;
	/* Monotonic to epoch as at creation, so a series' start does not
	 * move between snapshots when the wall clock is stepped. */
	uint64_t start = se->start_ns + (m->start_ns - m->start_mono);

	out->nlabels = se->nlabels;
	for (uint16_t i = 0; i < se->nlabels; i++) {
		snprintf(out->key[i], sizeof(out->key[i]), "%s", p);
		p += strlen(p) + 1;
		snprintf(out->value[i], sizeof(out->value[i]), "%s", p);
		p += strlen(p) + 1;
	}
	out->start_ns = start < now_unix_ns ? start : now_unix_ns;
	out->idle_ns = series_idle(m, se);
	out->value_f = se->value;
	out->count = se->count;
	out->sum = se->sum;
	if (se->buckets != NULL)
		memcpy(out->buckets, se->buckets,
		    ((size_t)f->hdr.nbounds + 1) * sizeof(uint64_t));
}

size_t
metrics_snapshot(struct sg_metrics *m, uint8_t *buf, size_t cap,
    uint64_t now_unix_ns, uint64_t ev_first, uint64_t ev_next)
{
	struct sg_snapshot_hdr h = { .now_ns = now_unix_ns,
		.ev_first = ev_first, .ev_next = ev_next };
	struct wire_w w;

	if (m == NULL || buf == NULL)
		return 0;
	for (size_t i = 0; i < m->nfam; i++)
		h.nfamilies += !m->fam[i].off;
	wire_w_init(&w, buf, cap);
	msg_put_snapshot_hdr(&w, &h);
	for (size_t i = 0; i < m->nfam && !w.err; i++) {
		struct family *f = &m->fam[i];

		if (f->off)
			continue;
		f->hdr.nseries = (uint32_t)f->n;
		msg_put_family(&w, &f->hdr);
		for (size_t j = 0; j < f->n && !w.err; j++) {
			series_export(m, f, &f->series[j], now_unix_ns,
			    &m->scratch_series);
			msg_put_series(&w, &f->hdr, &m->scratch_series);
		}
	}
	return w.err ? 0 : w.len;
}
