#include "clock.h"

uint64_t
sg_clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
sg_mono_ms(void)
{
	return sg_clock_ns(CLOCK_MONOTONIC) / 1000000;
}
