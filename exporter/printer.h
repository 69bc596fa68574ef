/* The trace printer: one line per span on standard output. */
#ifndef SG_PRINTER_H
#define SG_PRINTER_H

#include <stdio.h>

#include "config.h"
#include "msg.h"

void printer_span(FILE *f, enum sg_trace_printer mode, const struct sg_span *s);

#endif
