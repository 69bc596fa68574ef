/*
 * Facts from the OpenTelemetry semantic conventions that both the
 * collector (metric labels) and the exporter (span attributes and status)
 * need, so that the two cannot disagree.
 */
#ifndef SG_SEMCONV_H
#define SG_SEMCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The method as the conventions know it ("GET", ... "PATCH"), or NULL
 * for any other: such a method is reported as "_OTHER", since it comes
 * off the wire and must not create series at will.  m is read up to max
 * bytes, terminated or not. */
const char *semconv_http_method(const char *m, size_t max);

/* gRPC status codes a server span reports as errors (the others are the
 * caller's doing); every code but OK is an error on a client span. */
bool semconv_grpc_server_error(uint32_t code);

/* "/package.Service/Method" split into its service and method; false
 * when target is not of that form (then neither is set). */
bool semconv_grpc_split(const char *target, size_t max, const char **service,
    size_t *service_len, const char **method, size_t *method_len);

/* db.system.name of a database app (enum sg_app): "postgresql",
 * "mysql", "redis", "memcached"; NULL for the others. */
const char *semconv_db_system(uint8_t app);
/* messaging.system of a messaging app: "kafka"; NULL for the others. */
const char *semconv_messaging_system(uint8_t app);
/* Whether an app's statements are SQL (their text loses its literals). */
bool semconv_app_is_sql(uint8_t app);

#endif
