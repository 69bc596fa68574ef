/*
 * What the tests that hold a parser's one-pass way to its general one
 * share: a repeatable random source, bounded appends to the stream being
 * made, and the comparison of two exchanges.  Include after cmocka.h.
 */
#ifndef SG_TEST_DIFFTEST_H
#define SG_TEST_DIFFTEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

static uint32_t diff_seed = 12345;

/* 0..n-1, the same sequence on every run. */
static uint32_t
diff_rand(uint32_t n)
{
	diff_seed = diff_seed * 1103515245u + 12345u;
	return (diff_seed >> 8) % n;
}

/* s (n bytes) at buf + at when it fits in size; the new end. */
static size_t
diff_put(char *buf, size_t at, size_t size, const char *s, size_t n)
{
	if (at + n > size)
		return at;
	memcpy(buf + at, s, n);
	return at + n;
}

/* Hands bytes to both ways and compares what they made. */
typedef void diff_step_fn(uint8_t dir, const char *p, size_t len,
    size_t cap);

/* A stream's buf[0, n), one byte damaged one time in ten, in reads (or
 * writes) of random sizes, each with a random capture of it. */
static void
diff_stream(char *buf, size_t n, uint8_t dir, diff_step_fn *step)
{
	size_t off, k, cap;

	if (n > 0 && diff_rand(10) == 0)
		buf[diff_rand((uint32_t)n)] = (char)diff_rand(256);
	for (off = 0; off < n; off += k) {
		k = diff_rand(3) == 0 ? 1 + diff_rand((uint32_t)(n - off)) :
		    n - off;
		cap = diff_rand(4) == 0 ? diff_rand((uint32_t)k + 1) : k;
		step(dir, buf + off, k, cap);
	}
}

/* Every field both ways fill. */
static void
diff_exchange_equal(const struct sg_exchange *x, const struct sg_exchange *y)
{
	assert_string_equal(x->op, y->op);
	assert_string_equal(x->target, y->target);
	assert_string_equal(x->version, y->version);
	assert_string_equal(x->error, y->error);
	assert_int_equal(x->status, y->status);
	assert_int_equal(x->flags, y->flags);
	assert_int_equal(x->role, y->role);
	assert_int_equal(x->start_ns, y->start_ns);
	assert_int_equal(x->end_ns, y->end_ns);
	assert_int_equal(x->req_size, y->req_size);
	assert_int_equal(x->resp_size, y->resp_size);
	assert_memory_equal(x->trace_id, y->trace_id, sizeof(x->trace_id));
	assert_int_equal(x->tracestate_len, y->tracestate_len);
	if (x->tracestate_len > 0)
		assert_memory_equal(x->tracestate, y->tracestate,
		    x->tracestate_len);
}

/* The exchanges each way emitted since the last look, and the parser's
 * counters, the same. */
static void
diff_results_equal(const struct sg_exchange *xa, int na,
    const struct sg_exchange *xb, int nb, const struct sg_proto_ops *ops,
    const void *sa, const void *sb)
{
	struct sg_proto_counters ka, kb;

	assert_int_equal(na, nb);
	for (int i = 0; i < na; i++)
		diff_exchange_equal(&xa[i], &xb[i]);
	ops->counters(sa, &ka);
	ops->counters(sb, &kb);
	assert_int_equal(ka.unparsed, kb.unparsed);
	assert_int_equal(ka.unpaired, kb.unpaired);
	assert_int_equal(ka.dropped, kb.dropped);
	assert_int_equal(ka.unknown, kb.unknown);
}

#endif
