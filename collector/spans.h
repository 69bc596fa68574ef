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
#include "sampler.h"

/* Seed the id generator (getrandom once; no syscall per span). */
void spans_init(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, refreshed by the caller now and
 * then so that BPF timestamps become unix times. */
int64_t spans_clock_offset(void);
/* proc may be NULL (metadata not yet known): service falls back to
 * "unknown_service:<pid>"-style names as OpenTelemetry does.  Only a
 * span to be exported gets trace and span ids: those the connection's
 * trace context gives it (tracelink.h), else random, or for a server
 * span with the caller's traceparent (SG_EX_TRACE_CTX) its trace id,
 * and the caller's span id as parent_span_id. */
void spans_build(struct sg_span *out, const struct sg_conn *conn,
    const struct sg_exchange *ex, const struct sg_proc_info *proc,
    int64_t clock_offset_ns, bool exported);
/* What the span of ex descends from, as the sampler sees it. */
enum sg_parent spans_parent(const struct sg_conn *conn,
    const struct sg_exchange *ex);
/* The value of attribute a of span s (select_conf.h), as a metric label
 * or a filter sees it; buf (sz bytes) holds numbers.  NULL when the
 * attribute is not one of this kind of span's, or the sensor could not
 * read it. */
const char *spans_attr(const struct sg_span *s, int a, char *buf, size_t sz);
/* The span's duration in seconds (0 when its end is not after its
 * start). */
double spans_seconds(const struct sg_span *s);
/* Copy a possibly unterminated field of srcsz bytes into dst as a
 * string, cut to dstsz - 1 bytes; nothing past its NUL is written. */
void spans_copy_str(char *dst, size_t dstsz, const char *src, size_t srcsz);
/* Render a textual address for a family/16-byte address. */
void spans_format_addr(char *buf, size_t sz, uint16_t family,
    const uint8_t addr[16]);

#endif
