/* The trace printer: one line per span on standard output. */
#ifndef SG_PRINTER_H
#define SG_PRINTER_H

#include <stdio.h>

#include "config.h"
#include "msg.h"

void printer_span(FILE *f, enum sg_trace_printer mode, const struct sg_span *s);
/* After a batch of n spans: the counter mode's line. */
void printer_batch(FILE *f, enum sg_trace_printer mode, uint32_t n);

#endif
