/* Port lists as users write them: "80,443,8000-8999". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portset.h"

static void
parse_ok(const char *s, struct sg_portset *ps)
{
	char err[128] = "";

	if (sg_portset_parse(s, ps, err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", s, err);
}

/* Parse must fail with a reason containing want. */
static void
parse_bad(const char *s, const char *want)
{
	struct sg_portset ps;
	char err[128] = "";

	if (sg_portset_parse(s, &ps, err, sizeof(err)) != -1)
		fail_msg("\"%s\" was accepted", s);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", s, err, want);
}

static void
test_single_and_list(void **state)
{
	struct sg_portset ps;

	(void)state;
	parse_ok("80", &ps);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.r[0].lo, 80);
	assert_int_equal(ps.r[0].hi, 80);

	parse_ok("80,443,8080", &ps);
	assert_int_equal(ps.n, 3);
	assert_int_equal(ps.r[1].lo, 443);
	assert_int_equal(ps.r[2].hi, 8080);
	assert_true(sg_portset_contains(&ps, 80));
	assert_true(sg_portset_contains(&ps, 443));
	assert_true(sg_portset_contains(&ps, 8080));
	assert_false(sg_portset_contains(&ps, 81));
	assert_false(sg_portset_contains(&ps, 0));
	assert_false(sg_portset_contains(&ps, 65535));
}

static void
test_ranges(void **state)
{
	struct sg_portset ps;

	(void)state;
	parse_ok("8000-8999", &ps);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.r[0].lo, 8000);
	assert_int_equal(ps.r[0].hi, 8999);
	assert_false(sg_portset_contains(&ps, 7999));
	assert_true(sg_portset_contains(&ps, 8000));
	assert_true(sg_portset_contains(&ps, 8500));
	assert_true(sg_portset_contains(&ps, 8999));
	assert_false(sg_portset_contains(&ps, 9000));

	/* Edges of the port space, and a one-port range. */
	parse_ok("1-65535", &ps);
	assert_true(sg_portset_contains(&ps, 1));
	assert_true(sg_portset_contains(&ps, 65535));
	assert_false(sg_portset_contains(&ps, 0));
	parse_ok("443-443", &ps);
	assert_true(sg_portset_contains(&ps, 443));
	assert_false(sg_portset_contains(&ps, 444));

	parse_ok("80,443,8000-8999,9090", &ps);
	assert_int_equal(ps.n, 4);
	assert_true(sg_portset_contains(&ps, 8123));
	assert_true(sg_portset_contains(&ps, 9090));
	assert_false(sg_portset_contains(&ps, 9000));
}

static void
test_spaces(void **state)
{
	struct sg_portset ps;

	(void)state;
	parse_ok(" 80 , 443 ,\t8000 - 8999 ", &ps);
	assert_int_equal(ps.n, 3);
	assert_int_equal(ps.r[0].lo, 80);
	assert_int_equal(ps.r[1].lo, 443);
	assert_int_equal(ps.r[2].lo, 8000);
	assert_int_equal(ps.r[2].hi, 8999);
}

/* Nothing (or only blanks) selects no port at all. */
static void
test_empty(void **state)
{
	struct sg_portset ps;
	char buf[16];

	(void)state;
	ps.n = 5;
	parse_ok("", &ps);
	assert_int_equal(ps.n, 0);
	parse_ok("   ", &ps);
	assert_int_equal(ps.n, 0);
	assert_false(sg_portset_contains(&ps, 80));
	sg_portset_format(&ps, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void
test_errors(void **state)
{
	(void)state;
	parse_bad("0", "out of range 1-65535");
	parse_bad("65536", "port 65536 out of range");
	parse_bad("99999999999999999999", "out of range");
	parse_bad("100-0", "out of range");
	parse_bad("9000-8000", "range 9000-8000 is reversed");
	parse_bad("http", "expected a port number at \"http\"");
	parse_bad("-80", "expected a port number");
	parse_bad("80-", "expected a port number");
	parse_bad("80,", "expected a port number");
	parse_bad(",80", "expected a port number");
	parse_bad("80,,443", "expected a port number");
	parse_bad("80;443", "unexpected \";443\"");
	parse_bad("80 443", "unexpected \"443\"");
	parse_bad("80-90-100", "unexpected \"-100\"");
	parse_bad("80x", "unexpected \"x\"");
	parse_bad("+80", "expected a port number");
	parse_bad("8.0", "unexpected \".0\"");
}

static void
test_too_many(void **state)
{
	struct sg_portset ps;
	char s[SG_PORTSET_MAX * 8 + 16], err[128];
	size_t off = 0;

	(void)state;
	for (int i = 0; i < SG_PORTSET_MAX; i++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "%s%d",
		    i ? "," : "", 1000 + i);
	parse_ok(s, &ps);
	assert_int_equal(ps.n, SG_PORTSET_MAX);
	assert_true(sg_portset_contains(&ps, 1000 + SG_PORTSET_MAX - 1));
	snprintf(s + off, sizeof(s) - off, ",2000");
	assert_int_equal(sg_portset_parse(s, &ps, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 64 port ranges"));
}

/* A small err buffer is never overrun; errsz 0 writes nothing. */
static void
test_error_buffer(void **state)
{
	struct sg_portset ps;
	char err[8];

	(void)state;
	memset(err, 'z', sizeof(err));
	assert_int_equal(sg_portset_parse("abc", &ps, err, 4), -1);
	assert_int_equal(err[3], '\0');
	assert_int_equal(err[4], 'z');
	assert_int_equal(sg_portset_parse("abc", &ps, err, 0), -1);
}

static void
round_trip(const char *in, const char *canonical)
{
	struct sg_portset a, b;
	char buf[1024];

	parse_ok(in, &a);
	sg_portset_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, canonical);
	parse_ok(buf, &b);
	assert_int_equal(b.n, a.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(b.r[i].lo, a.r[i].lo);
		assert_int_equal(b.r[i].hi, a.r[i].hi);
	}
}

static void
test_format(void **state)
{
	struct sg_portset ps;
	char buf[8], s[SG_PORTSET_MAX * 14], big[1024];
	size_t off = 0;

	(void)state;
	round_trip("80", "80");
	round_trip("80,443,8000-8999", "80,443,8000-8999");
	round_trip(" 1 - 65535 ", "1-65535");
	round_trip("443-443", "443");   /* a one-port range is one port */
	round_trip("9000,80", "9000,80");  /* order is kept */

	/* All 64 widest ranges fit the dump's buffer. */
	for (int i = 0; i < SG_PORTSET_MAX; i++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "%s%d-%d",
		    i ? "," : "", 10000 + i * 10, 10005 + i * 10);
	round_trip(s, s);

	/* Truncation stays inside the buffer and terminated. */
	parse_ok("80,443,8000-8999", &ps);
	memset(buf, 'z', sizeof(buf));
	sg_portset_format(&ps, buf, sizeof(buf));
	assert_true(memchr(buf, '\0', sizeof(buf)) != NULL);
	assert_int_equal(strncmp(buf, "80,443,", 7), 0);
	sg_portset_format(&ps, big, 0);   /* no room at all: no write */
	sg_portset_format(&ps, big, 1);
	assert_string_equal(big, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_and_list),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_spaces),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
