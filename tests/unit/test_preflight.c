/*
 * Preflight's verdicts, from a forged finding: a kernel older than the
 * oldest supported is an error that names the version and what it lacks
 * (the loader refuses to start on any error); the oldest and later ones
 * pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "preflight.h"

/* The kernel line preflight prints for a kernel release. */
static void
kernel_line(const char *release, char *line, size_t size)
{
	struct sg_config c;
	struct sg_preflight p;
	FILE *f = tmpfile();

	assert_non_null(f);
	sg_config_defaults(&c);
	memset(&p, 0, sizeof(p));
	snprintf(p.kernel, sizeof(p.kernel), "%s", release);
	p.btf = true;
	p.bpf = true;
	p.hooks.usable[SG_HOOKS_RAW] = true;
	preflight_print(f, &c, &p);
	rewind(f);
	line[0] = '\0';
	while (fgets(line, (int)size, f) != NULL)
		if (strstr(line, "kernel ") != NULL)
			break;
	fclose(f);
}

static void
test_kernel_versions(void **state)
{
	char line[256];

	(void)state;
	kernel_line("5.4.0-150-generic", line, sizeof(line));
	assert_string_equal(line, "error   kernel 5.4.0-150-generic: 5.8 or "
	    "later is required (CAP_BPF, BPF ring buffer)\n");
	kernel_line("4.19.0-27-amd64", line, sizeof(line));
	assert_non_null(strstr(line, "error   kernel 4.19.0-27-amd64: 5.8"));
	kernel_line("5.8.0", line, sizeof(line));
	assert_string_equal(line, "ok      kernel 5.8.0\n");
	kernel_line("6.1.0-56-cloud-amd64", line, sizeof(line));
	assert_string_equal(line, "ok      kernel 6.1.0-56-cloud-amd64\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
