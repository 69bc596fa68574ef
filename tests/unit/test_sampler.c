/* Trace samplers: fixed verdicts, and traceidratio's ratio and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sampler.h"

#define NONE		SG_PARENT_NONE
#define SAMPLED		SG_PARENT_SAMPLED
#define NOT_SAMPLED	SG_PARENT_NOT_SAMPLED

static void
random_id(uint64_t *state, uint8_t id[16])
{
	for (int i = 0; i < 16; i++) {
		/* splitmix64: reproducible ids for the test */
		uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		id[i] = (uint8_t)(z ^ (z >> 31));
	}
}

static void
test_fixed(void **state)
{
	uint8_t id[16];
	uint64_t seed = 1;

	(void)state;
	random_id(&seed, id);
	assert_true(sampler_keep(SG_SAMPLER_ALWAYS_ON, 0, id, NONE));
	assert_true(sampler_keep(SG_SAMPLER_PB_ALWAYS_ON, 0, id, NONE));
	assert_false(sampler_keep(SG_SAMPLER_ALWAYS_OFF, 1, id, NONE));
	assert_false(sampler_keep(SG_SAMPLER_PB_ALWAYS_OFF, 1, id, NONE));
	assert_true(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 1, id, NONE));
	assert_false(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0, id, NONE));
}

static unsigned
count_kept(enum sg_sampler s, double ratio, unsigned n)
{
	uint64_t seed = 42;
	unsigned kept = 0;
	uint8_t id[16];

	for (unsigned i = 0; i < n; i++) {
		random_id(&seed, id);
		kept += sampler_keep(s, ratio, id, NONE);
	}
	return kept;
}

static void
test_ratio(void **state)
{
	unsigned k;

	(void)state;
	/* 100000 draws: 3 standard deviations are under 0.5 % of n. */
	k = count_kept(SG_SAMPLER_TRACEIDRATIO, 0.25, 100000);
	assert_in_range(k, 24500, 25500);
	k = count_kept(SG_SAMPLER_PB_TRACEIDRATIO, 0.1, 100000);
	assert_in_range(k, 9700, 10300);
}

static void
test_deterministic(void **state)
{
	uint8_t id[16];

	(void)state;
	memset(id, 0, sizeof(id));
	id[8] = 0x3f;            /* just under 0.25 * 2^64 */
	memset(id + 9, 0xff, 7);
	assert_true(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0.25, id, NONE));
	assert_true(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0.25, id, NONE));
	id[8] = 0x40;            /* exactly 0.25 * 2^64: out */
	memset(id + 9, 0, 7);
	assert_false(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0.25, id, NONE));
}

/* A remote parent: parentbased_* follow its sampled flag whatever their
 * root sampler says; the others do not look at it. */
static void
test_parent(void **state)
{
	uint8_t id[16];

	(void)state;
	memset(id, 0xff, sizeof(id));	/* traceidratio's "no" for < 1 */
	assert_true(sampler_keep(SG_SAMPLER_PB_ALWAYS_ON, 0, id, SAMPLED));
	assert_false(sampler_keep(SG_SAMPLER_PB_ALWAYS_ON, 0, id, NOT_SAMPLED));
	assert_true(sampler_keep(SG_SAMPLER_PB_ALWAYS_OFF, 0, id, SAMPLED));
	assert_false(sampler_keep(SG_SAMPLER_PB_ALWAYS_OFF, 0, id,
	    NOT_SAMPLED));
	assert_false(sampler_keep(SG_SAMPLER_PB_TRACEIDRATIO, 0.5, id, NONE));
	assert_true(sampler_keep(SG_SAMPLER_PB_TRACEIDRATIO, 0.5, id, SAMPLED));
	assert_false(sampler_keep(SG_SAMPLER_PB_TRACEIDRATIO, 0.5, id,
	    NOT_SAMPLED));
	memset(id, 0, sizeof(id));
	id[15] = 1;			/* traceidratio's "yes" */
	assert_true(sampler_keep(SG_SAMPLER_PB_TRACEIDRATIO, 0.5, id, NONE));
	assert_false(sampler_keep(SG_SAMPLER_PB_TRACEIDRATIO, 0.5, id,
	    NOT_SAMPLED));
	/* not parent-based: the parent changes nothing */
	assert_true(sampler_keep(SG_SAMPLER_ALWAYS_ON, 0, id, NOT_SAMPLED));
	assert_false(sampler_keep(SG_SAMPLER_ALWAYS_OFF, 0, id, SAMPLED));
	assert_true(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0.5, id,
	    NOT_SAMPLED));
	memset(id, 0xff, sizeof(id));
	assert_false(sampler_keep(SG_SAMPLER_TRACEIDRATIO, 0.5, id, SAMPLED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
