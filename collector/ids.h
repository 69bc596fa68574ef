/*
 * Trace and span ids: xoshiro256** seeded once from getrandom().  Ids
 * must be unpredictable enough not to collide across hosts, but a
 * syscall per span would be too slow.  No allocation, no I/O after the
 * seed: the connection table draws them at request starts.
 */
#ifndef SG_IDS_H
#define SG_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seed the generator, once.  False when getrandom() failed and the seed
 * came from the clocks and the pid (ids still unlikely to collide). */
bool ids_seed(void);
/* n random bytes, never all zero: a zero id means "absent" in OTLP. */
void ids_random(uint8_t *id, size_t n);

#endif
