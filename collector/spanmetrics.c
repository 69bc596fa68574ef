#include "spanmetrics.h"

#include <string.h>

#include "spans.h"
#include "spansem.h"

/* namespace, '/', name, NUL */
#define JOB_MAX (2 * SG_NAME_MAX + 2)

static const struct metrics_family_def spanmetrics_defs[SPANMETRICS_NFAM] = {
	[SPANMETRICS_LATENCY] = { "traces_spanmetrics_latency",
	    "traces_spanmetrics_latency", "s",
	    "Duration of service calls (client and server), in seconds, "
	    "in trace span metrics format", SG_METRIC_HISTOGRAM },
	[SPANMETRICS_CALLS] = { "traces_spanmetrics_calls_total",
	    "traces_spanmetrics_calls_total", "",
	    "Number of service calls in trace span metrics format",
	    SG_METRIC_COUNTER },
	[SPANMETRICS_SIZE] = { "traces_spanmetrics_size_total",
	    "traces_spanmetrics_size_total", "By",
	    "Size of service calls' requests, in bytes, in trace span "
	    "metrics format", SG_METRIC_COUNTER },
};

void
spanmetrics_attach(struct spanmetrics *sm, struct sg_metrics *m)
{
	if (sm != NULL)
		metrics_deriver_attach(&sm->d, m, spanmetrics_defs,
		    SPANMETRICS_NFAM);
}

void
spanmetrics_select(struct spanmetrics *sm, const struct sg_config *c)
{
	if (sm != NULL && c != NULL)
		metrics_deriver_enable(&sm->d,
		    (c->features & (1u << SG_FEATURE_APPLICATION_SPAN)) != 0);
}

/* Beyla's job: "namespace/name", or the name without a namespace.
 * Without snprintf: this is done for every span. */
static void
spanmetrics_job(char job[JOB_MAX], const struct sg_span *s)
{
	size_t nn = strnlen(s->service_name, sizeof(s->service_name));
	size_t ns = strnlen(s->service_namespace,
	    sizeof(s->service_namespace));
	size_t o = 0;

	if (ns > 0) {
		memcpy(job, s->service_namespace, ns);
		job[ns] = '/';
		o = ns + 1;
	}
	memcpy(job + o, s->service_name, nn);
	job[o + nn] = '\0';
}

void
spanmetrics_labels(struct metrics_labels *l, const struct sg_span *s)
{
	char name[SPANSEM_NAME_MAX], job[JOB_MAX];
	bool error = spansem_error(s);

	spansem_name(s, name, sizeof(name));
	spanmetrics_job(job, s);
	metrics_labels_reset(l);
	metrics_labels_add(l, "service_name", s->service_name,
	    sizeof(s->service_name));
	metrics_labels_add(l, "service_namespace", s->service_namespace,
	    sizeof(s->service_namespace));
	metrics_labels_add(l, "span_name", name, sizeof(name));
	metrics_labels_add(l, "span_kind",
	    spansem_kind_name(spansem_kind(s)), SG_LABEL_MAX);
	/* the exported span's status: an error, or not set (never OK) */
	metrics_labels_add(l, "status_code", error ? "STATUS_CODE_ERROR" :
	    "STATUS_CODE_UNSET", SG_LABEL_MAX);
	metrics_labels_add(l, "instance", s->instance_id,
	    sizeof(s->instance_id));
	metrics_labels_add(l, "job", job, sizeof(job));
	metrics_labels_add(l, "source", METRICS_SOURCE, SG_LABEL_MAX);
}

#define SAME(f) (strncmp(a->f, s->f, sizeof(a->f)) == 0)
#define KEEP(f) spans_copy_str(a->f, sizeof(a->f), s->f, sizeof(s->f))

static bool
src_same(const struct spanmetrics_src *a, const struct sg_span *s,
    bool error)
{
	return a->kind == s->kind && a->app == s->app && a->flags == s->flags &&
	    a->error == error && SAME(op) && SAME(route) && SAME(target) &&
	    SAME(collection) && SAME(service_name) &&
	    SAME(service_namespace) && SAME(instance_id);
}

static void
src_keep(struct spanmetrics_src *a, const struct sg_span *s, bool error)
{
	a->kind = s->kind;
	a->app = s->app;
	a->flags = s->flags;
	a->error = error;
	KEEP(op);
	KEEP(route);
	KEEP(target);
	KEEP(collection);
	KEEP(service_name);
	KEEP(service_namespace);
	KEEP(instance_id);
}

#undef SAME
#undef KEEP

/* The slot of span s's labels: one of the last spans' that has them,
 * else built anew in the oldest slot. */
static size_t
spanmetrics_slot(struct spanmetrics *sm, const struct sg_span *s)
{
	bool error = spansem_error(s);
	size_t k;

	for (k = 0; k < METRICS_DERIVER_SLOTS; k++)
		if (sm->d.slot[k].valid && src_same(&sm->src[k], s, error))
			return k;
	k = metrics_deriver_claim(&sm->d);
	spanmetrics_labels(&sm->d.slot[k].l, s);
	if (!sm->d.slot[k].l.err) {
		src_keep(&sm->src[k], s, error);
		sm->d.slot[k].valid = true;
	}
	return k;
}

void
spanmetrics_record(struct spanmetrics *sm, const struct sg_span *s)
{
	size_t k;

	if (sm == NULL || s == NULL || !sm->d.on)
		return;
	k = spanmetrics_slot(sm, s);
	metrics_deriver_update(&sm->d, k, SPANMETRICS_LATENCY,
	    spans_seconds(s));
	metrics_deriver_update(&sm->d, k, SPANMETRICS_CALLS, 1);
	metrics_deriver_update(&sm->d, k, SPANMETRICS_SIZE,
	    (double)s->req_size);
}
