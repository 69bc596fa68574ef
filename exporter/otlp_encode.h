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

#define OTLP_MAX_EXTRA_ATTRS 16

/* Attributes added to every resource: OTEL_RESOURCE_ATTRIBUTES and the
 * host.  Values here override nothing the sensor derives per process
 * (service.name etc.) except where OpenTelemetry says the environment
 * wins: service.name given in OTEL_RESOURCE_ATTRIBUTES applies only when
 * the process has no name of its own. */
struct otlp_resource_extra {
	char   host_name[128];
	size_t n;
	struct { char key[64]; char value[256]; } attr[OTLP_MAX_EXTRA_ATTRS];
};

/* Parse "k1=v1,k2=v2" (OTEL_RESOURCE_ATTRIBUTES syntax, values may be
 * percent-encoded).  Returns 0 or -1 with a reason in err. */
int otlp_resource_extra_parse(struct otlp_resource_extra *x, const char *s,
    char *err, size_t errsz);

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
