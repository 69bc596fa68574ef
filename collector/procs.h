/* Metadata of the selected processes, as sent by the loader. */
#ifndef SG_PROCS_H
#define SG_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define SG_PROCS_MAX 4096

void procs_update(const struct sg_proc_info *p);  /* add, replace or remove */
const struct sg_proc_info *procs_find(uint32_t pid);
/* exclude_otel_instrumented_services: what pid was seen exporting over
 * OTLP itself (PROCS_OTEL_*), with add added; 0 for an unknown pid. */
#define PROCS_OTEL_TRACES  0x01
#define PROCS_OTEL_METRICS 0x02
unsigned procs_otel(uint32_t pid, unsigned add);
/* application_process: TCP payload bytes pid moved through its sockets
 * as the I/O hooks reported them (dir: enum sg_dir), counted since the
 * collector first knew the process; false for an unknown pid. */
void procs_net_add(uint32_t pid, uint8_t dir, uint64_t len);
bool procs_net(uint32_t pid, uint64_t *rx, uint64_t *tx);
void procs_foreach(void (*fn)(const struct sg_proc_info *p, void *ctx),
    void *ctx);

#endif
