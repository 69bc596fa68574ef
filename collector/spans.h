/*
 * From an exchange on a connection to a span: wall-clock times,
 * random trace and span ids, addresses as text, service identity.
 */
#ifndef SG_SPANS_H
#define SG_SPANS_H

#include <stdbool.h>
#include <stdint.h>

#include "conns.h"
#include "msg.h"
#include "proto.h"

/* Seed the id generator (getrandom once; no syscall per span). */
void spans_init(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, refreshed by the caller now and
 * then so that BPF timestamps become unix times. */
int64_t spans_clock_offset(void);
/* proc may be NULL (metadata not yet known): service falls back to
 * "unknown_service:<pid>"-style names as OpenTelemetry does.  Only a
 * span to be exported gets trace and span ids and textual addresses; the
 * metrics need neither, except the server's address of a client span. */
void spans_build(struct sg_span *out, const struct sg_conn *conn,
    const struct sg_exchange *ex, const struct sg_proc_info *proc,
    int64_t clock_offset_ns, bool exported);
/* Render a textual address for a family/16-byte address. */
void spans_format_addr(char *buf, size_t sz, uint16_t family,
    const uint8_t addr[16]);

#endif
