/* Metadata of the selected processes, as sent by the loader. */
#ifndef SG_PROCS_H
#define SG_PROCS_H

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
void procs_foreach(void (*fn)(const struct sg_proc_info *p, void *ctx),
    void *ctx);

#endif
