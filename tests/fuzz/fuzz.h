/*
 * What the fuzz targets share: reading the script of records an input
 * is, and reporting a broken invariant (an abort, which libFuzzer and
 * fuzz_main.c both report with the input).  FZ_NAME names the target.
 */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz_in {
	const uint8_t	*p;
	size_t		 n;
};

static inline void
fz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: invariant broken: %s\n", FZ_NAME, what);
		abort();
	}
}

/* The next byte, or -1 at the end. */
static inline int
fz_byte(struct fz_in *in)
{
	if (in->n == 0)
		return -1;
	in->n--;
	return *in->p++;
}

/* Up to want bytes (*got of them). */
static inline const uint8_t *
fz_take(struct fz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

static inline int
fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#ifdef SG_PROTO_H
#include "tracectx.h"

static inline int
fz_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* An exchange's trace context: valid (ids not zero, W3C), not valid, or
 * none (ids zero); sampled only with one. */
static inline void
fz_check_tctx(const struct sg_exchange *ex)
{
	int ctx = (ex->flags & SG_EX_TRACE_CTX) != 0;

	fz_check(!ctx || !(ex->flags & SG_EX_TRACE_INVALID),
	    "trace context valid and not");
	fz_check(ctx || !(ex->flags & SG_EX_TRACE_SAMPLED),
	    "sampled without a trace context");
	fz_check(ctx ? !fz_zero(ex->trace_id, sizeof(ex->trace_id)) &&
	    !fz_zero(ex->parent_span_id, sizeof(ex->parent_span_id)) :
	    fz_zero(ex->trace_id, sizeof(ex->trace_id)) &&
	    fz_zero(ex->parent_span_id, sizeof(ex->parent_span_id)),
	    "trace ids");
	fz_check((ex->tracestate_flags & ~(SG_EX_TSTATE_INVALID |
	    SG_EX_TSTATE_CUT)) == 0, "tracestate flags");
	fz_check(ctx || (ex->tracestate == NULL && ex->tracestate_flags == 0),
	    "tracestate without a trace context");
	fz_check(!(ex->tracestate_flags & SG_EX_TSTATE_INVALID) ||
	    ex->tracestate == NULL, "tracestate kept and not valid");
	fz_check((ex->tracestate == NULL) == (ex->tracestate_len == 0),
	    "tracestate length");
	fz_check(ex->tracestate_len <= TRACESTATE_MAX, "tracestate too long");
	for (size_t i = 0; i < ex->tracestate_len; i++)
		fz_check(ex->tracestate[i] >= 0x20 && ex->tracestate[i] < 0x7f,
		    "tracestate chars");
	fz_check(ex->tracestate_len == 0 || (ex->tracestate[0] != ',' &&
	    ex->tracestate[ex->tracestate_len - 1] != ',' &&
	    ex->tracestate[0] != ' ' &&
	    ex->tracestate[ex->tracestate_len - 1] != ' '), "tracestate ends");
}

/* Two exchanges say the same of their trace context. */
static inline int
fz_same_tctx(const struct sg_exchange *a, const struct sg_exchange *b)
{
	const uint8_t m = SG_EX_TRACE_CTX | SG_EX_TRACE_SAMPLED |
	    SG_EX_TRACE_INVALID;

	return (a->flags & m) == (b->flags & m) &&
	    memcmp(a->trace_id, b->trace_id, sizeof(a->trace_id)) == 0 &&
	    memcmp(a->parent_span_id, b->parent_span_id,
	    sizeof(a->parent_span_id)) == 0 &&
	    a->tracestate_flags == b->tracestate_flags &&
	    a->tracestate_len == b->tracestate_len &&
	    (a->tracestate_len == 0 || memcmp(a->tracestate, b->tracestate,
	    a->tracestate_len) == 0);
}
#endif

#endif
