/*
 * The metric snapshot the exporter serves, to Prometheus and OTLP alike:
 * the collector's latest cumulative snapshot, continued across collector
 * restarts (a restarted collector counts from zero; what its predecessor
 * had counted is added back, so no counter goes down and OTLP keeps its
 * start time), followed by the sensor's own metrics (self.h).
 */
#ifndef SG_EXPORTER_SNAPSHOT_H
#define SG_EXPORTER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/* Take an SG_MSG_METRICS payload from the collector; -1 when malformed
 * (nothing changes). */
int  snapshot_collector(const uint8_t *payload, size_t len);
/* The collector was replaced (the loader names another): its last counts,
 * and its own counters in self[SG_SELF_MAX] (zeroed), become the base of
 * its successor's.  The events it took but had not counted in its last
 * snapshot are found lost once a successor says where it began (msg.h),
 * and served in spyglass_events_lost_total{stage="collector_exit"}. */
void snapshot_collector_gone(uint64_t *self);
/* The snapshot to serve now, with self[SG_SELF_MAX]; a malloc'd SG_MSG_METRICS
 * payload and its length, or NULL when out of memory. */
uint8_t *snapshot_build(const uint64_t *self, uint64_t now_ns, size_t *len);
/* How many collectors' counts are carried in the base. */
unsigned snapshot_generations(void);
void snapshot_free(void);

#endif
