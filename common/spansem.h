/*
 * What a span is called, what kind it is and whether it failed, as the
 * exported span says it (OTLP) and as the span metrics label it: one
 * definition, so the two cannot disagree.
 */
#ifndef SG_SPANSEM_H
#define SG_SPANSEM_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"

/* The longest name: a method or operation, a space, a path or topic. */
#define SPANSEM_NAME_MAX (SG_METHOD_MAX + 1 + SG_PATH_MAX + 1)

enum spansem_kind {
	SPANSEM_KIND_UNSPECIFIED = 0, SPANSEM_KIND_SERVER, SPANSEM_KIND_CLIENT,
	SPANSEM_KIND_PRODUCER, SPANSEM_KIND_CONSUMER,
};

/* The span's name into buf (sz bytes, at least SPANSEM_NAME_MAX to hold
 * any): "GET /users/{id}" (the method alone without a route, "HTTP" for
 * a method outside the known set), "package.Service/Method" ("grpc"),
 * "SELECT users" (the operation, the system without one), "publish
 * orders".  The bytes are the span's own, not made valid UTF-8.
 * Returns the length. */
size_t spansem_name(const struct sg_span *s, char *buf, size_t sz);
/* A Kafka client span publishes (a producer's) rather than fetches. */
bool spansem_publishes(const struct sg_span *s);
enum spansem_kind spansem_kind(const struct sg_span *s);
/* "SPAN_KIND_SERVER", ... as the span metrics label the kind. */
const char *spansem_kind_name(enum spansem_kind k);
/* Whether the span's status is an error: HTTP 5xx on a server, 4xx too
 * on a client; a gRPC status by semconv_grpc_server_error on a server,
 * any but OK on a client; an error for databases and messaging.  A
 * status the sensor could not read is not one. */
bool spansem_error(const struct sg_span *s);

#endif
