/*
 * OTLP/HTTP's JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) of a
 * message built for protobuf: the same message, walked through its
 * protobuf-c descriptors and written as the protobuf JSON mapping with
 * OTLP's exceptions (trace and span ids as hex, not base64).
 */
#ifndef SG_OTLP_JSON_H
#define SG_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* *out is malloc'd (the caller frees).  Returns 0 or -1. */
int otlp_json_pack(const ProtobufCMessage *m, uint8_t **out, size_t *outlen);

#endif
