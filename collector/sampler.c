#include "sampler.h"

/*
 * traceidratio: deterministic in the trace id, as the specification asks,
 * so that every span of a trace gets the same verdict.  The last 8 bytes
 * (random in W3C trace ids) are read big-endian and compared with
 * ratio * 2^64.
 */
static bool
sampler_ratio(double ratio, const uint8_t id[16])
{
	uint64_t v = 0, bound;

	if (ratio >= 1.0)
		return true;
	if (ratio <= 0.0)
		return false;
	/* Compared as integers: a double cannot hold 64-bit ids exactly. */
	bound = (uint64_t)(ratio * 18446744073709551616.0);
	for (int i = 8; i < 16; i++)
		v = v << 8 | id[i];
	return v < bound;
}

static bool
sampler_parent_based(enum sg_sampler sampler)
{
	return sampler == SG_SAMPLER_PB_ALWAYS_ON ||
	    sampler == SG_SAMPLER_PB_ALWAYS_OFF ||
	    sampler == SG_SAMPLER_PB_TRACEIDRATIO;
}

bool
sampler_keep(enum sg_sampler sampler, double ratio, const uint8_t trace_id[16],
    enum sg_parent parent)
{
	/* The caller decided for the whole trace: its verdict stands, so
	 * that a trace is not left with holes. */
	if (parent != SG_PARENT_NONE && sampler_parent_based(sampler))
		return parent == SG_PARENT_SAMPLED;
	switch (sampler) {
	case SG_SAMPLER_ALWAYS_ON:
	case SG_SAMPLER_PB_ALWAYS_ON:
		return true;
	case SG_SAMPLER_ALWAYS_OFF:
	case SG_SAMPLER_PB_ALWAYS_OFF:
		return false;
	case SG_SAMPLER_TRACEIDRATIO:
	case SG_SAMPLER_PB_TRACEIDRATIO:
		return sampler_ratio(ratio, trace_id);
	}
	return true;
}
