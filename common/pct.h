/*
 * Pieces of the "key1=value1,key2=value2" lists OpenTelemetry uses in
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS (values
 * percent-encoded, as in W3C Baggage).
 */
#ifndef SG_PCT_H
#define SG_PCT_H

#include <stddef.h>

/* Narrow [*b, *e) to leave out blanks (space, tab) at both ends. */
void sg_trim_blanks(const char **b, const char **e);
/* Percent-decode [b, e) into out (always terminated).  Returns NULL, or
 * the reason it cannot: a bad %XX, a NUL, or too long for out. */
const char *sg_pct_decode(const char *b, const char *e, char *out,
    size_t outsz);

#endif
