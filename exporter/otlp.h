/*
 * The exporter's OTLP side: batches spans by size and time, sends the
 * latest metric snapshot every interval, and counts deliveries (the
 * spyglass_otlp_* self-metrics).
 */
#ifndef SG_OTLP_H
#define SG_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

/* (Re)configure; senders are replaced only when their target changed. */
void otlp_configure(const struct sg_config *c);
void otlp_span(const struct sg_span *s);
void otlp_snapshot(const uint8_t *snap, size_t len);
/* Send what is due; returns milliseconds until the next deadline. */
int  otlp_tick(void);
/* The spyglass_otlp_* counters into self[SG_SELF_MAX] (self.h). */
void otlp_self_stats(uint64_t *self);
void otlp_shutdown(void);
/* The sensor stops: send the batched spans and the latest snapshot, and
 * wait until both are delivered or deadline_ms (CLOCK_MONOTONIC) passes;
 * what is left is logged with its count, dropped and counted. */
void otlp_finish(uint64_t deadline_ms);

#endif
