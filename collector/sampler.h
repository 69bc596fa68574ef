/*
 * Trace sampling (OTEL_TRACES_SAMPLER): thins spans, never metrics.  The
 * sensor has no incoming trace context yet, so every span is a root and
 * the parentbased_* samplers use their root sampler.
 */
#ifndef SG_SAMPLER_H
#define SG_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

bool sampler_keep(enum sg_sampler sampler, double ratio,
    const uint8_t trace_id[16]);

#endif
