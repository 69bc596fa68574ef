/*
 * /proc/PID/stat and /proc/PID/io parsing (procstat.h).  Every read is
 * bounded by len: the input need not be terminated, and a number that
 * does not fit in 64 bits is refused rather than wrapped.
 */
#include "procstat.h"

#include <string.h>

/* The decimal number at text[*at..len), which must end at a space, a
 * newline or the end; *at moves past it. */
static int
ps_number(const char *text, size_t len, size_t *at, uint64_t *v)
{
	size_t i = *at;
	uint64_t n = 0;

	if (i >= len || text[i] < '0' || text[i] > '9')
		return -1;
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned d = (unsigned)(text[i] - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (i < len && text[i] != ' ' && text[i] != '\n')
		return -1;
	*v = n;
	*at = i;
	return 0;
}

/* Past the field at *at and the one space after it; -1 at the end or
 * for an empty field (two spaces would shift every field after). */
static int
ps_skip(const char *text, size_t len, size_t *at)
{
	size_t i = *at;

	while (i < len && text[i] != ' ' && text[i] != '\n')
		i++;
	if (i == *at || i >= len || text[i] != ' ')
		return -1;
	*at = i + 1;
	return 0;
}

/* Where each wanted field of stat goes, in field order. */
struct ps_field {
	int       n;
	uint64_t *v;
};

int
procstat_parse_stat(const char *text, size_t len, struct sg_procstat *st)
{
	uint64_t ppid = 0;
	const struct ps_field want[] = {
		{ 4, &ppid }, { 14, &st->utime }, { 15, &st->stime },
		{ 22, &st->start_time }, { 23, &st->vsize },
		{ 24, &st->rss_pages },
	};
	const char *lp, *rp = NULL;
	size_t at, w = 0, n;
	int field;

	if (text == NULL || len == 0 ||
	    (lp = memchr(text, '(', len)) == NULL)
		return -1;
	/* The last ')' ends comm, whatever comm holds. */
	for (size_t i = len; i > (size_t)(lp - text) + 1; i--)
		if (text[i - 1] == ')') {
			rp = text + i - 1;
			break;
		}
	if (rp == NULL)
		return -1;
	n = (size_t)(rp - lp - 1);
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, lp + 1, n);
	st->comm[n] = '\0';
	/* ") S 1 ...": field 3 starts two bytes after the ')'. */
	at = (size_t)(rp - text) + 1;
	if (at >= len || text[at] != ' ')
		return -1;
	at++;
	for (field = 3; w < sizeof(want) / sizeof(want[0]); field++) {
		if (field == want[w].n) {
			if (ps_number(text, len, &at, want[w].v) < 0)
				return -1;
			w++;
			if (w == sizeof(want) / sizeof(want[0]))
				break;
			if (at >= len || text[at] != ' ')
				return -1;
			at++;
			continue;
		}
		if (ps_skip(text, len, &at) < 0)
			return -1;
	}
	if (ppid > UINT32_MAX)
		return -1;
	st->ppid = (uint32_t)ppid;
	return 0;
}

/* "key: value\n" lines; unknown keys are passed over (newer kernels
 * may add some). */
int
procstat_parse_io(const char *text, size_t len, struct sg_procio *io)
{
	static const char rk[] = "read_bytes:", wk[] = "write_bytes:";
	int have_r = 0, have_w = 0;
	size_t at = 0;

	if (text == NULL)
		return -1;
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		uint64_t *dst = NULL;
		size_t kl = 0;
		int *seen = NULL;

		if (end - at > sizeof(rk) - 1 &&
		    memcmp(text + at, rk, sizeof(rk) - 1) == 0) {
			dst = &io->read_bytes, kl = sizeof(rk) - 1;
			seen = &have_r;
		} else if (end - at > sizeof(wk) - 1 &&
		    memcmp(text + at, wk, sizeof(wk) - 1) == 0) {
			dst = &io->write_bytes, kl = sizeof(wk) - 1;
			seen = &have_w;
		}
		if (dst != NULL) {
			size_t v = at + kl;

			while (v < end && text[v] == ' ')
				v++;
			if ((*seen)++ || ps_number(text, end, &v, dst) < 0 ||
			    v != end)
				return -1;
		}
		at = end + 1;
	}
	return have_r && have_w ? 0 : -1;
}
