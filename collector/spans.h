/*
 * From an HTTP exchange on a connection to a span: wall-clock times,
 * random trace and span ids, addresses as text, service identity.
 */
#ifndef SG_SPANS_H
#define SG_SPANS_H

#include <stdint.h>

#include "conns.h"
#include "http1.h"
#include "msg.h"

/* Seed the id generator (getrandom once; no syscall per span). */
void spans_init(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, refreshed by the caller now and
 * then so that BPF timestamps become unix times. */
int64_t spans_clock_offset(void);
/* proc may be NULL (metadata not yet known): service falls back to
 * "unknown_service:<pid>"-style names as OpenTelemetry does.  The span
 * has no ids and no textual addresses yet: the metrics of server spans
 * need neither. */
void spans_build(struct sg_span *out, const struct sg_conn *conn,
    const struct http1_exchange *ex, const struct sg_proc_info *proc,
    int64_t clock_offset_ns);
/* Give a built span its textual host and peer addresses. */
void spans_add_addrs(struct sg_span *s, const struct sg_conn *conn);
/* Give a built span its random trace and span ids. */
void spans_new_ids(struct sg_span *s);
/* Render a textual address for a family/16-byte address. */
void spans_format_addr(char *buf, size_t sz, uint16_t family,
    const uint8_t addr[16]);

#endif
