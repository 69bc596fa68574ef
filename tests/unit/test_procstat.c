/* /proc/PID/stat and /proc/PID/io parsing (common/procstat.c), from
 * fixture strings: what a process can put in its own comm included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "procstat.h"

/* Fields 3 on, as a 6.x kernel prints them: ppid 17666, utime 1234,
 * stime 567, start 3363791, vsize 3133440, rss 366 pages. */
#define STAT_TAIL " R 17666 17666 28169 0 -1 4194304 98 0 0 0 1234 567 " \
	"0 0 20 0 1 0 3363791 3133440 366 18446744073709551615 " \
	"94438155603968 94438155623849 140735825163712 0 0 0 0 0 0 0 0 0 " \
	"17 1 0 0 0 0 0 94438155639856 94438155641472 94439175135232 " \
	"140735825169021 140735825169041 140735825169041 140735825170411 0\n"

static int
parse_stat(const char *text, struct sg_procstat *st)
{
	memset(st, 0xa5, sizeof(*st));
	return procstat_parse_stat(text, strlen(text), st);
}

static void
assert_fields(const struct sg_procstat *st)
{
	assert_int_equal(st->ppid, 17666);
	assert_int_equal(st->utime, 1234);
	assert_int_equal(st->stime, 567);
	assert_int_equal(st->start_time, 3363791);
	assert_int_equal(st->vsize, 3133440);
	assert_int_equal(st->rss_pages, 366);
}

static void
test_stat_plain(void **state)
{
	struct sg_procstat st;

	(void)state;
	assert_int_equal(parse_stat("17668 (python3)" STAT_TAIL, &st), 0);
	assert_string_equal(st.comm, "python3");
	assert_fields(&st);
}

/* comm is the process's to choose (prctl PR_SET_NAME): spaces and
 * parentheses in it must not shift the fields. */
static void
test_stat_hostile_comm(void **state)
{
	static const char *const comms[] = { "a) (b", ") R 1 2 3 4 5 6",
		"x y z", "((()", ")", "(", "", "tab\tand\nnewline" };
	struct sg_procstat st;
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		snprintf(text, sizeof(text), "17668 (%s)" STAT_TAIL, comms[i]);
		assert_int_equal(parse_stat(text, &st), 0);
		assert_string_equal(st.comm, comms[i]);
		assert_fields(&st);
	}
}

/* A comm longer than the field is cut, the numbers still read. */
static void
test_stat_long_comm(void **state)
{
	struct sg_procstat st;
	char text[1024], comm[200];

	(void)state;
	memset(comm, 'c', sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = '\0';
	snprintf(text, sizeof(text), "1 (%s)" STAT_TAIL, comm);
	assert_int_equal(parse_stat(text, &st), 0);
	assert_int_equal(strlen(st.comm), SG_COMM_MAX - 1);
	assert_fields(&st);
}

/* The length bounds the parse: no terminator needed, and text cut
 * before field 24 is refused. */
static void
test_stat_bounded(void **state)
{
	const char *text = "17668 (cat)" STAT_TAIL;
	const char *rss = strstr(text, " 366 ");
	struct sg_procstat st;
	char buf[1024];
	size_t n;

	(void)state;
	n = strlen(text);
	memcpy(buf, text, n);
	memset(buf + n, '7', sizeof(buf) - n);
	assert_int_equal(procstat_parse_stat(buf, n, &st), 0);
	assert_fields(&st);
	/* Ends right after the rss digits: still whole. */
	n = (size_t)(rss - text) + 4;
	assert_int_equal(procstat_parse_stat(text, n, &st), 0);
	assert_int_equal(st.rss_pages, 366);
	/* Cut before its digits (the loader reads the file whole: a cut
	 * inside a number cannot be told from a shorter number). */
	for (size_t cut = 0; cut <= (size_t)(rss - text) + 1; cut++)
		assert_int_equal(procstat_parse_stat(text, cut, &st), -1);
	assert_int_equal(procstat_parse_stat(NULL, 10, &st), -1);
}

static void
test_stat_malformed(void **state)
{
	static const char *const bad[] = {
		"17668 cat R 1 2",                           /* no parentheses */
		"17668 (cat" STAT_TAIL,                      /* no ')' */
		"17668 )cat(" STAT_TAIL,                     /* wrong order */
		"17668 (cat)R 17666 1 2",                    /* no space */
		"17668 (cat) R -1 17666 28169 0 -1 4194304 98 0 0 0 1234 567 "
		"0 0 20 0 1 0 3363791 3133440 366 1\n",      /* ppid -1 */
		"17668 (cat) R 17666 17666 28169 0 -1 4194304 98 0 0 0 12x4 567 "
		"0 0 20 0 1 0 3363791 3133440 366 1\n",      /* not a number */
		"17668 (cat) R 17666 17666 28169 0 -1 4194304 98 0 0 0 "
		"99999999999999999999 567 0 0 20 0 1 0 1 1 1 1\n", /* overflow */
		"17668 (cat) R 99999999999 17666 28169 0 -1 4194304 98 0 0 0 1 "
		"1 0 0 20 0 1 0 1 1 1 1\n",                  /* ppid > u32 */
		"17668 (cat) R 17666  17666 28169 0 -1 4194304 98 0 0 0 1 1 0 0 "
		"20 0 1 0 1 1 1 1\n",                        /* empty field */
	};
	struct sg_procstat st;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_stat(bad[i], &st) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void
test_io(void **state)
{
	static const char io[] = "rchar: 6976\nwchar: 0\nsyscr: 10\n"
	    "syscw: 0\nread_bytes: 4096\nwrite_bytes: 18446744073709551615\n"
	    "cancelled_write_bytes: 0\n";
	struct sg_procio p;

	(void)state;
	assert_int_equal(procstat_parse_io(io, strlen(io), &p), 0);
	assert_int_equal(p.read_bytes, 4096);
	assert_true(p.write_bytes == UINT64_MAX);
	/* No trailing newline, other order, unknown keys. */
	assert_int_equal(procstat_parse_io("write_bytes: 1\nnew_key: x\n"
	    "read_bytes: 2", 39, &p), 0);
	assert_int_equal(p.read_bytes, 2);
	assert_int_equal(p.write_bytes, 1);
}

static void
test_io_malformed(void **state)
{
	static const char *const bad[] = {
		"", "rchar: 1\n", "read_bytes: 1\n",
		"read_bytes: 1\nwrite_bytes:\n",
		"read_bytes: 1\nwrite_bytes: 2x\n",
		"read_bytes: 1\nwrite_bytes: -2\n",
		"read_bytes: 1\nwrite_bytes: 2 3\n",
		"read_bytes: 1\nread_bytes: 1\nwrite_bytes: 2\n",
		"read_bytes: 1\nwrite_bytes: 18446744073709551616\n",
		"cancelled_write_bytes: 1\nread_bytes: 1\n",
	};
	struct sg_procio p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (procstat_parse_io(bad[i], strlen(bad[i]), &p) != -1)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(procstat_parse_io(NULL, 0, &p), -1);
}

/* This very process, as the loader reads others. */
static void
test_self(void **state)
{
	struct sg_procstat st;
	char buf[1024];
	size_t n;
	FILE *f;

	(void)state;
	if ((f = fopen("/proc/self/stat", "r")) == NULL)
		skip();
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(procstat_parse_stat(buf, n, &st), 0);
	assert_true(st.vsize > 0);
	assert_true(st.rss_pages > 0);
	assert_true(st.start_time > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_plain),
		cmocka_unit_test(test_stat_hostile_comm),
		cmocka_unit_test(test_stat_long_comm),
		cmocka_unit_test(test_stat_bounded),
		cmocka_unit_test(test_stat_malformed),
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_io_malformed),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
