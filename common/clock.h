/*
 * Clock readings as plain integers, for timeouts and timestamps.
 */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds of clock id (CLOCK_MONOTONIC, CLOCK_REALTIME); 0 on error. */
uint64_t sg_clock_ns(clockid_t id);
/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t sg_mono_ms(void);

#endif
