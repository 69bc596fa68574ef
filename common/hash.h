/*
 * FNV-1a, 64 bits: for keys that no one outside chooses to collide (the
 * collector's metric series use SipHash with a secret key instead).
 */
#ifndef SG_HASH_H
#define SG_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
sg_fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

#endif
