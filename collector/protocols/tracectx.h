/*
 * W3C Trace Context level 1: the `traceparent` and `tracestate` request
 * headers, as the HTTP/1.x and HTTP/2 parsers find them among a
 * request's fields.  The values come from the network: they are
 * validated strictly and, when not what the specification allows,
 * ignored (the span starts a trace of its own, or has no trace state)
 * and counted, never repaired.
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

/*
 * tracestate: a list of up to 32 "key=value" members, which the server
 * span carries on as its trace state.  The sensor keeps the first
 * TRACESTATE_MAX bytes' worth of whole members (the specification asks
 * that at least 512 be passed on); members past them are left out, as
 * the specification allows, and the request is counted as cut.
 */
#define TRACESTATE_MAX		512
#define TRACESTATE_MEMBERS	32
/* Parsers keep a tracestate among a request's names as a 16-bit length
 * (host order) and the members. */
#define TRACESTATE_HDR		2

enum tracestate_verdict {
	TRACESTATE_KEPT = 0,	/* every member is in buf */
	TRACESTATE_CUT,		/* members that did not fit are left out */
	TRACESTATE_INVALID,	/* not a tracestate: the caller drops all */
};

/*
 * Adds the members of one tracestate field value v (n bytes) to the *len
 * bytes kept in buf (room for TRACESTATE_MAX), after those of an earlier
 * field of the same request: HTTP lets a list be split across fields.
 * Empty members and the optional whitespace around commas are dropped.
 * partial: v is only the start of the value (whoever read it cut it
 * short), so its last member is left out.  *len is unchanged when the
 * verdict is TRACESTATE_INVALID.
 */
enum tracestate_verdict tracestate_append(char *buf, size_t *len,
    const char *v, size_t n, bool partial);

#endif
