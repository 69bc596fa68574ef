/*
 * The attributes every exported resource carries besides the sensor's
 * own: OTEL_RESOURCE_ATTRIBUTES ([otel] resource_attributes) and the
 * host's name.
 */
#ifndef SG_OTLP_RESOURCE_H
#define SG_OTLP_RESOURCE_H

#include <stddef.h>

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

#endif
