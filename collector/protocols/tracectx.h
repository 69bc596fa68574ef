/*
 * W3C Trace Context level 1: the `traceparent` request header, as the
 * HTTP/1.x and HTTP/2 parsers find it among a request's fields.  The
 * value comes from the network: it is validated strictly and, when it is
 * not exactly what the specification allows, ignored (the span starts a
 * trace of its own) and counted, never repaired.  `tracestate` is not
 * kept: it may be 512 bytes per request, and nothing the sensor does
 * reads it.
 */
#ifndef SG_TRACECTX_H
#define SG_TRACECTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* trace-flags: the caller records the trace */
#define TRACECTX_SAMPLED	0x01

/* The caller's context, as the parsers keep it: bytes only, so that it
 * packs among a request's names (TRACECTX_LEN bytes). */
struct tracectx {
	uint8_t trace_id[16];
	uint8_t parent_id[8];		/* the caller's span */
	uint8_t flags;			/* trace-flags */
};

#define TRACECTX_LEN	sizeof(struct tracectx)

_Static_assert(sizeof(struct tracectx) == 25, "no padding: kept as bytes");

/*
 * Whether v (n bytes: the field value, without HTTP/1's optional
 * whitespace around it) is a valid traceparent; if so *out holds it.
 * Version 00: exactly "00-<32 hex>-<16 hex>-<2 hex>", lower-case hex,
 * ids not all zero.
 * Version ff is invalid; a later version is read by its first 55 bytes
 * when what follows them starts with '-' (the specification's rule for
 * versions this parser does not know).
 */
bool tracectx_parse(const char *v, size_t n, struct tracectx *out);

#endif
