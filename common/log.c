#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *sg_log_role = "spyglass";
static enum sg_log_level sg_log_min = SG_LOG_INFO;
static const char *const sg_log_names[] = { "debug", "info", "warn", "error" };

void
sg_log_init(const char *role, enum sg_log_level level)
{
	sg_log_role = role;
	sg_log_min = level;
}

void sg_log_set_level(enum sg_log_level level) { sg_log_min = level; }
enum sg_log_level sg_log_get_level(void) { return sg_log_min; }

const char *
sg_log_level_name(enum sg_log_level level)
{
	return level <= SG_LOG_ERR ? sg_log_names[level] : "?";
}

int
sg_log_level_parse(const char *s, enum sg_log_level *out)
{
	static const struct { const char *name; enum sg_log_level level; } map[] = {
		{ "debug", SG_LOG_DEBUG }, { "info", SG_LOG_INFO },
		{ "warn", SG_LOG_WARN }, { "warning", SG_LOG_WARN },
		{ "error", SG_LOG_ERR },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].level;
			return 0;
		}
	return -1;
}

static void
sg_log_write(enum sg_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, sg_log_role,
	    (int)getpid(), sg_log_level_name(level));
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line so the three processes do not interleave. */
	n = (int)strlen(line);
	if ((size_t)n < sizeof(line) - 1)
		line[n++] = '\n';
	else
		line[sizeof(line) - 2] = '\n', n = sizeof(line) - 1;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
sg_log(enum sg_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < sg_log_min)
		return;
	va_start(ap, fmt);
	sg_log_write(level, fmt, ap);
	va_end(ap);
}

void
sg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_log_write(SG_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
