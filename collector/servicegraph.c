#include "servicegraph.h"

#include <string.h>

#include "semconv.h"
#include "spans.h"
#include "spansem.h"

/* As spans name a process whose metadata is missing. */
#define UNKNOWN_SERVICE "unknown_service"

static const struct metrics_family_def servicegraph_defs[SERVICEGRAPH_NFAM] = {
	[SERVICEGRAPH_TOTAL] = { "traces_service_graph_request_total",
	    "traces_service_graph_request_total", "",
	    "Number of requests between two nodes, in trace service graph "
	    "metrics format", SG_METRIC_COUNTER },
	[SERVICEGRAPH_FAILED] = { "traces_service_graph_request_failed_total",
	    "traces_service_graph_request_failed_total", "",
	    "Number of failed requests between two nodes, in trace service "
	    "graph metrics format", SG_METRIC_COUNTER },
	[SERVICEGRAPH_SERVER] = { "traces_service_graph_request_server_seconds",
	    "traces_service_graph_request_server", "s",
	    "Duration of requests between two nodes as seen from the "
	    "server, in seconds, in trace service graph metrics format",
	    SG_METRIC_HISTOGRAM },
	[SERVICEGRAPH_CLIENT] = { "traces_service_graph_request_client_seconds",
	    "traces_service_graph_request_client", "s",
	    "Duration of requests between two nodes as seen from the "
	    "client, in seconds, in trace service graph metrics format",
	    SG_METRIC_HISTOGRAM },
};

void
servicegraph_attach(struct servicegraph *g, struct sg_metrics *m)
{
	if (g != NULL)
		metrics_deriver_attach(&g->d, m, servicegraph_defs,
		    SERVICEGRAPH_NFAM);
}

void
servicegraph_select(struct servicegraph *g, const struct sg_config *c)
{
	if (g == NULL || c == NULL)
		return;
	g->self_refs = c->allow_service_graph_self_references;
	metrics_deriver_enable(&g->d, (c->features &
	    (1u << SG_FEATURE_APPLICATION_SERVICE_GRAPH)) != 0);
}

bool
servicegraph_on(const struct servicegraph *g)
{
	return g != NULL && g->d.on;
}

static struct servicegraph_text
text(const char *s, size_t max)
{
	return (struct servicegraph_text){ s, max };
}

/* The other end: its service when followed, else its address. */
static void
peer_node(const struct sg_span *s, const struct servicegraph_peer *p,
    struct servicegraph_text *name, struct servicegraph_text *ns)
{
	if (p == NULL || !p->followed) {
		*name = text(s->peer_addr, sizeof(s->peer_addr));
		*ns = text("", 1);
	} else if (p->proc == NULL || p->proc->service_name[0] == '\0') {
		*name = text(UNKNOWN_SERVICE, sizeof(UNKNOWN_SERVICE));
		*ns = text(p->proc != NULL ? p->proc->service_namespace : "",
		    SG_NAME_MAX);
	} else {
		*name = text(p->proc->service_name,
		    sizeof(p->proc->service_name));
		*ns = text(p->proc->service_namespace,
		    sizeof(p->proc->service_namespace));
	}
}

static bool
text_eq(struct servicegraph_text a, struct servicegraph_text b)
{
	size_t an = strnlen(a.s, a.max), bn = strnlen(b.s, b.max);

	return an == bn && memcmp(a.s, b.s, an) == 0;
}

/* Tempo's: a database (followed or not), a messaging system, else a
 * node the sensor does not follow (a virtual node); unset between two
 * followed services. */
static const char *
connection_type(const struct sg_span *s, const struct servicegraph_peer *p)
{
	if (s->kind == SG_SPAN_CLIENT && semconv_db_system(s->app) != NULL)
		return "database";
	if (semconv_messaging_system(s->app) != NULL)
		return "messaging_system";
	return p == NULL || !p->followed ? "virtual_node" : NULL;
}

bool
servicegraph_edge(const struct sg_span *s,
    const struct servicegraph_peer *p, struct servicegraph_edge *e)
{
	struct servicegraph_text own = text(s->service_name,
	    sizeof(s->service_name)), own_ns = text(s->service_namespace,
	    sizeof(s->service_namespace)), other, other_ns;
	bool client = s->kind == SG_SPAN_CLIENT;

	if (s->kind != SG_SPAN_CLIENT && s->kind != SG_SPAN_SERVER)
		return false;
	memset(e, 0, sizeof(*e));
	peer_node(s, p, &other, &other_ns);
	e->client = client ? own : other;
	e->client_ns = client ? own_ns : other_ns;
	e->server = client ? other : own;
	e->server_ns = client ? other_ns : own_ns;
	e->connection_type = connection_type(s, p);
	/* both ends followed: the client's span counts the request */
	e->counted = client || p == NULL || !p->followed;
	e->failed = spansem_error(s);
	/* as Beyla: an unknown namespace of the other end matches */
	e->self = text_eq(own, other) && (text_eq(own_ns, other_ns) ||
	    other_ns.s[0] == '\0');
	return true;
}

void
servicegraph_labels(struct metrics_labels *l,
    const struct servicegraph_edge *e)
{
	metrics_labels_reset(l);
	metrics_labels_add(l, "client", e->client.s, e->client.max);
	metrics_labels_add(l, "client_service_namespace", e->client_ns.s,
	    e->client_ns.max);
	metrics_labels_add(l, "server", e->server.s, e->server.max);
	metrics_labels_add(l, "server_service_namespace", e->server_ns.s,
	    e->server_ns.max);
	/* Unset is no label: Prometheus does not tell empty from absent. */
	if (e->connection_type != NULL)
		metrics_labels_add(l, "connection_type", e->connection_type,
		    SG_LABEL_MAX);
	metrics_labels_add(l, "source", METRICS_SOURCE, SG_LABEL_MAX);
}

static bool
src_same(const struct servicegraph_src *a, const struct servicegraph_edge *e)
{
	return a->connection_type == e->connection_type &&
	    text_eq(text(a->client, sizeof(a->client)), e->client) &&
	    text_eq(text(a->server, sizeof(a->server)), e->server) &&
	    text_eq(text(a->client_ns, sizeof(a->client_ns)), e->client_ns) &&
	    text_eq(text(a->server_ns, sizeof(a->server_ns)), e->server_ns);
}

static void
text_keep(char *dst, size_t sz, struct servicegraph_text t)
{
	size_t n = strnlen(t.s, t.max);

	if (n >= sz)
		n = sz - 1;
	memcpy(dst, t.s, n);
	dst[n] = '\0';
}

static void
src_keep(struct servicegraph_src *a, const struct servicegraph_edge *e)
{
	text_keep(a->client, sizeof(a->client), e->client);
	text_keep(a->client_ns, sizeof(a->client_ns), e->client_ns);
	text_keep(a->server, sizeof(a->server), e->server);
	text_keep(a->server_ns, sizeof(a->server_ns), e->server_ns);
	a->connection_type = e->connection_type;
}

/* The slot of edge e's labels: one of the last spans' that has them,
 * else built anew in the oldest slot. */
static size_t
servicegraph_slot(struct servicegraph *g, const struct servicegraph_edge *e)
{
	size_t k;

	for (k = 0; k < METRICS_DERIVER_SLOTS; k++)
		if (g->d.slot[k].valid && src_same(&g->src[k], e))
			return k;
	k = metrics_deriver_claim(&g->d);
	servicegraph_labels(&g->d.slot[k].l, e);
	if (!g->d.slot[k].l.err) {
		src_keep(&g->src[k], e);
		g->d.slot[k].valid = true;
	}
	return k;
}

void
servicegraph_record(struct servicegraph *g, const struct sg_span *s,
    const struct servicegraph_peer *peer)
{
	struct servicegraph_edge e;
	size_t k;

	if (!servicegraph_on(g) || s == NULL ||
	    !servicegraph_edge(s, peer, &e) || (e.self && !g->self_refs))
		return;
	k = servicegraph_slot(g, &e);
	metrics_deriver_update(&g->d, k, s->kind == SG_SPAN_CLIENT ?
	    SERVICEGRAPH_CLIENT : SERVICEGRAPH_SERVER, spans_seconds(s));
	if (!e.counted)
		return;
	metrics_deriver_update(&g->d, k, SERVICEGRAPH_TOTAL, 1);
	if (e.failed)
		metrics_deriver_update(&g->d, k, SERVICEGRAPH_FAILED, 1);
}
