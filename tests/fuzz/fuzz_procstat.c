/*
 * Fuzz target for the /proc parsers (common/procstat.c): the loader reads
 * /proc/PID/stat and /proc/PID/io of processes it does not control, and a
 * process names itself (comm may hold any byte but NUL, ") (" included).
 *
 * Each input is parsed three ways: as a whole stat file, as a whole io
 * file, and as the comm of an otherwise well-formed stat line, which must
 * then parse with every field right whatever the comm holds.  Checked:
 * comm is terminated and bounded; nothing reads past the length (ASan
 * sees the input's own allocation, unterminated).
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#define FZ_NAME "fuzz_procstat"
#include "fuzz.h"
#include "procstat.h"

#define FZ_TAIL " S 4321 1 1 0 -1 4194560 1 0 0 0 7 8 0 0 20 0 1 0 " \
	"99 4096 3 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 " \
	"0 0 0 0 0 0 0 0 0 0\n"
#define FZ_COMM_IN 2048

static void
fz_comm_ok(const struct sg_procstat *st)
{
	fz_check(strnlen(st->comm, sizeof(st->comm)) < sizeof(st->comm),
	    "comm not terminated");
}

static void
fz_wrapped(const uint8_t *data, size_t size)
{
	static char buf[FZ_COMM_IN + 256];
	struct sg_procstat st;
	size_t n = 0;

	if (size > FZ_COMM_IN)
		size = FZ_COMM_IN;
	memcpy(buf, "1 (", 3);
	n = 3;
	memcpy(buf + n, data, size);
	n += size;
	buf[n++] = ')';
	memcpy(buf + n, FZ_TAIL, sizeof(FZ_TAIL) - 1);
	n += sizeof(FZ_TAIL) - 1;
	fz_check(procstat_parse_stat(buf, n, &st) == 0,
	    "a well-formed line refused for its comm");
	fz_comm_ok(&st);
	fz_check(st.ppid == 4321 && st.utime == 7 && st.stime == 8 &&
	    st.start_time == 99 && st.vsize == 4096 && st.rss_pages == 3,
	    "comm shifted the fields");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_procstat st;
	struct sg_procio io;

	if (procstat_parse_stat((const char *)data, size, &st) == 0)
		fz_comm_ok(&st);
	(void)procstat_parse_io((const char *)data, size, &io);
	fz_wrapped(data, size);
	return 0;
}
