/*
 * Trace sampling (OTEL_TRACES_SAMPLER): thins spans, never metrics.  A
 * server span whose request carried a valid W3C traceparent has a remote
 * parent: the parentbased_* samplers follow its sampled flag (as
 * OpenTelemetry's defaults do: remote parent sampled, always on; not
 * sampled, always off) and use their root sampler only for spans without
 * one.  The other samplers ignore the parent.
 */
#ifndef SG_SAMPLER_H
#define SG_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum sg_parent {
	SG_PARENT_NONE = 0,	/* a root span */
	SG_PARENT_SAMPLED,	/* remote parent, sampled flag set */
	SG_PARENT_NOT_SAMPLED,	/* remote parent, sampled flag clear */
};

bool sampler_keep(enum sg_sampler sampler, double ratio,
    const uint8_t trace_id[16], enum sg_parent parent);

#endif
