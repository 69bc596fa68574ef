/*
 * RED aggregation: cumulative histograms keyed by label set, plus
 * target_info.  Bounded: at most max_series series per family; what does
 * not fit is counted (metrics_series_dropped, the self-metric
 * spyglass_metric_series_dropped_total) instead.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

struct sg_metrics;

struct sg_metrics *metrics_new(const struct sg_buckets *duration,
    const struct sg_buckets *size, size_t max_series);
void metrics_free(struct sg_metrics *m);
/* Count one finished span into the http server/client histograms:
 * duration (seconds), request and response body sizes (bytes). */
void metrics_record_span(struct sg_metrics *m, const struct sg_span *s);
/* A service is being instrumented: keep its target_info series. */
void metrics_service_seen(struct sg_metrics *m, const struct sg_proc_info *p);
/* Updates refused so far because a family was full. */
uint64_t metrics_series_dropped(const struct sg_metrics *m);
/* Encode the whole cumulative snapshot as an SG_MSG_METRICS payload.
 * Returns the payload length, or 0 when it does not fit in cap. */
size_t metrics_snapshot(struct sg_metrics *m, uint8_t *buf, size_t cap,
    uint64_t now_unix_ns);

#endif
