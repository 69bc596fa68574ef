/*
 * OTLP protobuf encoding (protobuf-c, from the .proto files in proto/):
 * spans as ExportTraceServiceRequest, metric snapshots as
 * ExportMetricsServiceRequest.  One ResourceSpans / ResourceMetrics per
 * instrumented service instance.
 */
#ifndef SG_OTLP_ENCODE_H
#define SG_OTLP_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "otlp_resource.h"

/* Encode n spans, as protobuf or (json) OTLP JSON.  *out is malloc'd
 * (caller frees).  Returns 0 or -1. */
int otlp_encode_traces(const struct sg_span *spans, size_t n,
    const struct otlp_resource_extra *x, bool json, uint8_t **out,
    size_t *outlen);

/* Encode an SG_MSG_METRICS payload, without the series idle for longer
 * than ttl_ns: histograms as OTLP Histogram with
 * explicit bounds and cumulative temporality, counters as cumulative
 * monotonic Sum, gauges as Gauge; dotted OTel names and units from the
 * snapshot; the series labels service_name, service_namespace and
 * target_instance become the resource (service.name, service.namespace,
 * service.instance.id), the others attributes with their dotted
 * semantic-convention names (http_request_method -> http.request.method,
 * http_response_status_code -> http.response.status_code (int), ...).
 * Returns 0 or -1 (malformed snapshot). */
int otlp_encode_metrics(const uint8_t *snap, size_t len,
    const struct otlp_resource_extra *x, uint64_t ttl_ns, bool json,
    uint8_t **out, size_t *outlen);

#endif
