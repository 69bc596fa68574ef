/*
 * Where each OTLP signal goes, worked out from the configuration the way
 * OpenTelemetry SDKs do: a signal-specific endpoint is used as given; the
 * generic one gets /v1/traces or /v1/metrics appended for http/protobuf;
 * the protocol, when not set, follows the port (4317 gRPC, else HTTP).
 */
#ifndef SG_OTLP_CONF_H
#define SG_OTLP_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum sg_otlp_sig { SG_OTLP_TRACES = 0, SG_OTLP_METRICS = 1 };

/* The signal's name as OTLP spells it in paths and logs: "traces",
 * "metrics". */
const char *sg_otlp_sig_name(enum sg_otlp_sig sig);

struct sg_otlp_dest {
	bool     enabled;
	char     url[SG_URL_MAX + 16];
	bool     grpc;
	bool     json;               /* http/json rather than http/protobuf */
	bool     gzip;
	char     headers[2 * SG_HEADERS_MAX + 2];
	char     host[256];          /* from the URL */
	uint16_t port;
	const char *resolve;         /* points into the configuration */
	uint32_t max_queue_size;
};

/* Fill d for signal sig.  Returns 0, or -1 with a reason in err when the
 * endpoint is not a usable http:// or https:// URL. */
int sg_otlp_dest(const struct sg_config *c, enum sg_otlp_sig sig,
    struct sg_otlp_dest *d, char *err, size_t errsz);
/* Whether any signal goes over OTLP (the exporter then needs libcurl). */
bool sg_otlp_configured(const struct sg_config *c);
/* What the collector is told instead of the OTLP settings it must not
 * hold (config.h): whether spans are taken, and how long an idle series
 * is kept (the longer ttl of the metric exports that are on). */
void sg_config_derive(struct sg_config *c);

#endif
