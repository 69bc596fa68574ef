/*
 * RED aggregation: cumulative histograms keyed by label set, plus
 * target_info.  Bounded: at most max_series series per family; what does
 * not fit is counted (metrics_series_dropped, the self-metric
 * spyglass_metric_series_dropped_total) instead.  Series not updated for
 * a ttl are freed (metrics_expire), so the series of exited processes do
 * not accumulate.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

struct sg_metrics;

struct sg_metrics *metrics_new(const struct sg_buckets *duration,
    const struct sg_buckets *size, size_t max_series);
void metrics_free(struct sg_metrics *m);
/* The time the following updates are stamped with, CLOCK_MONOTONIC
 * nanoseconds: the caller reads the clock once per batch of messages
 * rather than once per span. */
void metrics_set_time(struct sg_metrics *m, uint64_t mono_ns);
/* Free the series idle for longer than ttl_ns; returns how many.  A
 * family that was full and has room again says so in the log. */
size_t metrics_expire(struct sg_metrics *m, uint64_t ttl_ns);
/* Count one finished span into its app's server or client histograms:
 * duration (seconds) and, for HTTP, request and response body sizes
 * (bytes). */
void metrics_record_span(struct sg_metrics *m, const struct sg_span *s);
/* A service is being instrumented (p->present): keep its target_info
 * series while it runs.  Gone: the series ages from now. */
void metrics_service_seen(struct sg_metrics *m, const struct sg_proc_info *p);
/* application_process: process p's resource use, sampled by the loader
 * at sample_ns (its CLOCK_MONOTONIC) on a machine of ncpu CPUs, and its
 * network bytes received and transmitted (NULL: none known).  Its
 * series live until metrics_service_seen says it is gone.  Nothing
 * while the feature is off (metrics_select). */
void metrics_record_process(struct sg_metrics *m, const struct sg_proc_info *p,
    const struct sg_pstat *ps, uint64_t sample_ns, unsigned ncpu,
    const uint64_t net[2]);
/* Whether application_process is on: process metrics are counted. */
bool metrics_process_on(const struct sg_metrics *m);
/* The labels of each family, from [attributes.select.*], and the
 * families of [metrics] features. */
void metrics_select(struct sg_metrics *m, const struct sg_config *c);
/* The host name of target_info (the loader's, see config.h host_name). */
void metrics_set_host(struct sg_metrics *m, const char *name);
/* Updates refused so far because a family was full. */
uint64_t metrics_series_dropped(const struct sg_metrics *m);
/* Encode the whole cumulative snapshot as an SG_MSG_METRICS payload,
 * with each series' idle time as of the last metrics_set_time, saying it
 * accounts for events ev_first up to ev_next (msg.h).
 * Returns the payload length, or 0 when it does not fit in cap. */
size_t metrics_snapshot(struct sg_metrics *m, uint8_t *buf, size_t cap,
    uint64_t now_unix_ns, uint64_t ev_first, uint64_t ev_next);


/* ---- Families of the modules that derive metrics of their own from
 * spans (spanmetrics.h, servicegraph.h): beside the RED families, with
 * the same series limit, expiry and snapshot.  Their labels are built
 * by the module. */

/* A label set: n x "key\0value\0", the form both hashed and compared;
 * hashed once for all the families it is used in (with the key of the
 * metrics object it was first used with). */
#define METRICS_LABELS_MAX (SG_MAX_LABELS * (64 + SG_LABEL_MAX))
struct metrics_labels {
	uint16_t n;
	size_t   len;
	int      err;            /* did not fit: no series is made of it */
	bool     hashed;         /* hash is the hash of buf */
	uint64_t hash;
	uint64_t version;        /* changes with every change of buf */
	char     buf[METRICS_LABELS_MAX];
};
void metrics_labels_reset(struct metrics_labels *l);
/* Append key=value; the value is read up to vmax bytes (fixed-size
 * fields may lack a terminator) and cut at SG_LABEL_MAX - 1 bytes. */
void metrics_labels_add(struct metrics_labels *l, const char *key,
    const char *value, size_t vmax);

/* At most this many families beside the RED ones. */
#define METRICS_EXTRA_MAX 8
struct metrics_family_def {
	const char *prom, *otel, *unit, *help;
	uint8_t     type;        /* SG_METRIC_COUNTER or _HISTOGRAM
	                          * (duration buckets) */
};
/* A new family, off (not in snapshots) until metrics_family_enable;
 * its id, or -1 when METRICS_EXTRA_MAX are there or d is invalid. */
int  metrics_family_add(struct sg_metrics *m,
    const struct metrics_family_def *d);
void metrics_family_enable(struct sg_metrics *m, int id, bool on);
/* Where the series of the last labels updated in a family is: found
 * again without a lookup while neither the labels nor the family's
 * series have moved. */
struct metrics_hit {
	bool     valid;
	uint64_t labels_version;
	uint64_t family_moves;
	size_t   idx;
};
/* The series of family id with labels l, created when missing (within
 * the limit), updated now: a histogram observes v, a counter adds v.
 * hit, when not NULL, remembers where it was for the next update. */
void metrics_family_update(struct sg_metrics *m, int id,
    struct metrics_labels *l, double v, struct metrics_hit *hit);

/* The source label of the derived metrics (Beyla's say "beyla"). */
#define METRICS_SOURCE "spyglass"

/* What a module deriving metrics from spans keeps: its families in one
 * metrics object, whether they are on, and the label sets of its last
 * spans, which it builds again only when what they are made of changes.
 * Several: a proxy's server and client spans alternate. */
#define METRICS_DERIVER_SLOTS 4
struct metrics_deriver_slot {
	bool                   valid;     /* l holds the labels of the
	                                   * module's source of this slot */
	struct metrics_labels  l;
	struct metrics_hit     hit[METRICS_EXTRA_MAX];
};
struct metrics_deriver {
	struct sg_metrics     *m;         /* not owned */
	int                    fam[METRICS_EXTRA_MAX];
	size_t                 nfam;
	bool                   on;
	struct metrics_deriver_slot slot[METRICS_DERIVER_SLOTS];
	size_t                 next;      /* the slot to reuse next */
};
/* Add the n families of defs to m, off; again for each new metrics
 * object (what was hashed with the last one's key is dropped). */
void metrics_deriver_attach(struct metrics_deriver *d, struct sg_metrics *m,
    const struct metrics_family_def *defs, size_t n);
void metrics_deriver_enable(struct metrics_deriver *d, bool on);
/* The slot whose labels to build anew (the oldest built), not valid
 * until the module says so. */
size_t metrics_deriver_claim(struct metrics_deriver *d);
/* metrics_family_update of the module's family i with the labels of
 * slot k. */
void metrics_deriver_update(struct metrics_deriver *d, size_t k, size_t i,
    double v);

#endif
