/*
 * [metrics] features = application_span: Beyla's span metrics, one
 * series per service, span name, kind and status, counted from every
 * span the RED metrics count (sampling does not thin them):
 *   traces_spanmetrics_latency      histogram, seconds
 *   traces_spanmetrics_calls_total  counter
 *   traces_spanmetrics_size_total   counter, request bytes
 * The name, kind and status are those the exported span carries
 * (spansem.h).  Their families live in metrics.c (bounds, expiry,
 * snapshot); this module decides their labels.
 */
#ifndef SG_SPANMETRICS_H
#define SG_SPANMETRICS_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "msg.h"

enum { SPANMETRICS_LATENCY = 0, SPANMETRICS_CALLS, SPANMETRICS_SIZE,
	SPANMETRICS_NFAM };

/* The span fields its labels are made of. */
struct spanmetrics_src {
	uint8_t kind, app, flags;
	bool    error;
	char    op[SG_METHOD_MAX];
	char    route[SG_PATH_MAX];
	char    target[SG_PATH_MAX];
	char    collection[SG_COLLECTION_MAX];
	char    service_name[SG_NAME_MAX];
	char    service_namespace[SG_NAME_MAX];
	char    instance_id[SG_NAME_MAX];
};

struct spanmetrics {
	struct metrics_deriver d;
	/* what the labels of each of d's slots were built from */
	struct spanmetrics_src src[METRICS_DERIVER_SLOTS];
};

/* Add the families to m (off), which the following calls count in; again
 * for each new metrics object. */
void spanmetrics_attach(struct spanmetrics *sm, struct sg_metrics *m);
/* On when c's features include application_span. */
void spanmetrics_select(struct spanmetrics *sm, const struct sg_config *c);
void spanmetrics_record(struct spanmetrics *sm, const struct sg_span *s);
/* The labels of span s: service_name, service_namespace, span_name,
 * span_kind, status_code, instance, job, source. */
void spanmetrics_labels(struct metrics_labels *l, const struct sg_span *s);

#endif
