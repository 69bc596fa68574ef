#include "ids.h"

#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

static uint64_t ids_rng[4];
static bool     ids_seeded;
static bool     ids_strong;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
xoshiro_next(void)
{
	uint64_t *s = ids_rng;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

bool
ids_seed(void)
{
	uint64_t seed = 0;
	ssize_t n;

	if (ids_seeded)
		return ids_strong;
	do
		n = getrandom(&seed, sizeof(seed), 0);
	while (n < 0 && errno == EINTR);
	ids_strong = n == (ssize_t)sizeof(seed);
	/* Ids only need to be unlikely to collide, not secret: time and
	 * pid are an acceptable last resort. */
	if (!ids_strong)
		seed = sg_clock_ns(CLOCK_REALTIME) ^
		    (sg_clock_ns(CLOCK_MONOTONIC) << 21) ^ (uint64_t)getpid();
	/* splitmix64 expands one word into a state that is never all
	 * zero, which xoshiro requires. */
	for (int i = 0; i < 4; i++)
		ids_rng[i] = splitmix64(&seed);
	ids_seeded = true;
	return ids_strong;
}

void
ids_random(uint8_t *id, size_t n)
{
	bool zero;

	(void)ids_seed();
	do {
		zero = true;
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = xoshiro_next();
			size_t k = n - i < 8 ? n - i : 8;

			memcpy(id + i, &r, k);
		}
		for (size_t i = 0; i < n; i++)
			if (id[i] != 0)
				zero = false;
	} while (zero);
}
