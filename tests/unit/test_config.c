/*
 * The configuration loader: defaults, INI files of every type, every
 * error (which must name FILE:LINE and the key), the environment and
 * command line and their precedence, and dump -> load round trips.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "select_conf.h"

extern char **environ;

static char tmpdir[64];
static char path[128];         /* the current temporary INI file */

/* ---- helpers */

static const char *
write_ini(const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
load_ok(struct sg_config *c, const char *text)
{
	char err[SG_CONFIG_ERR_MAX] = "";

	write_ini(text);
	if (sg_config_load_file(c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/*
 * The text must fail to load with an error that starts "PATH:LINE: ",
 * names the key ("[section] key", or "key" at top level) and contains
 * the reason.
 */
static void
load_bad(const char *text, int line, const char *key, const char *why)
{
	char err[SG_CONFIG_ERR_MAX] = "", want[256];
	struct sg_config c;

	sg_config_defaults(&c);
	write_ini(text);
	if (sg_config_load_file(&c, path, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", text);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, want);
	if (key != NULL) {
		snprintf(want, sizeof(want), ": %s: ", key);
		if (strstr(err, want) == NULL)
			fail_msg("\"%s\" does not name \"%s\"", err, key);
	}
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, why);
}

static void
set_ok(struct sg_config *c, const char *section, const char *key,
    const char *value)
{
	char err[SG_CONFIG_ERR_MAX];

	if (sg_config_set(c, section, key, value, "test", err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* Remove every variable the loader looks at, so that the environment
 * the tests run in does not leak in. */
static void
clear_env(void)
{
	static const char *const prefixes[] = { "SPYGLASS_", "BEYLA_",
		"OTEL_" };
	char name[256];
	int again = 1;

	while (again) {
		again = 0;
		for (char **e = environ; *e != NULL; e++) {
			size_t n = strcspn(*e, "=");

			for (size_t i = 0; i < 3; i++) {
				if (strncmp(*e, prefixes[i],
				    strlen(prefixes[i])) != 0 ||
				    n >= sizeof(name))
					continue;
				memcpy(name, *e, n);
				name[n] = '\0';
				unsetenv(name);
				again = 1;  /* environ changed under us */
				break;
			}
			if (again)
				break;
		}
	}
}

static char *
dump(const struct sg_config *c)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	assert_non_null(f);
	sg_config_dump(c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(s);
	return s;
}

/* ---- defaults */

static void
test_defaults(void **state)
{
	struct sg_config c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	sg_config_defaults(&c);
	assert_int_equal(c.log_level, SG_LOG_INFO);
	assert_int_equal(c.trace_printer, SG_PRINTER_DISABLED);
	assert_false(c.enforce_sys_caps);
	assert_false(c.sandbox_debug);
	assert_string_equal(c.service_name, "");
	assert_string_equal(c.service_namespace, "");
	assert_string_equal(c.runtime_dir, "/run/spyglass");
	assert_string_equal(c.user, "");
	assert_string_equal(c.helper_dir, "");

	assert_int_equal(c.discovery.open_port.n, 0);
	assert_string_equal(c.discovery.executable_name, "");
	assert_string_equal(c.discovery.exclude_exe,
	    "(^|/)(spyglass[^/]*|beyla|alloy|otelcol[^/]*)$");
	assert_true(c.discovery.exclude_otel_instrumented_services);
	assert_false(c.discovery.skip_go_specific_tracers);
	assert_int_equal(c.discovery.poll_interval_ms, 5000);

	assert_string_equal(c.prom.address, "127.0.0.1");
	assert_int_equal(c.prom.port, 9400);
	assert_string_equal(c.prom.path, "/metrics");
	{
		static const double dur[] = { 0, 0.005, 0.01, 0.025, 0.05,
			0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10 };
		static const double size[] = { 0, 32, 64, 128, 256, 512, 1024,
			2048, 4096, 8192 };

		assert_int_equal(c.prom.duration_histogram.n, 15);
		for (size_t i = 0; i < 15; i++)
			assert_true(c.prom.duration_histogram.b[i] == dur[i]);
		assert_int_equal(c.prom.size_histogram.n, 10);
		for (size_t i = 0; i < 10; i++)
			assert_true(c.prom.size_histogram.b[i] == size[i]);
	}
	assert_int_equal(c.prom.ttl_ms, 300000);
	assert_int_equal(c.metrics.ttl_ms, 300000);

	assert_int_equal(c.ebpf.wakeup_len, 4096);
	assert_int_equal(c.ebpf.http_request_timeout_ms, 30000);
	assert_int_equal(c.ebpf.capture_size, 256);
	assert_int_equal(c.ebpf.ringbuf_size, 1 << 20);
	assert_int_equal(c.ebpf.syscall_hooks, SG_HOOKS_AUTO);
	assert_false(c.ebpf.track_request_headers);
	assert_false(c.ebpf.enable_context_propagation);
	assert_int_equal(sg_config_propagation(&c), SG_PROPAGATION_DISABLED);
	assert_string_equal(c.ebpf.propagation_cgroup, "");
	assert_false(c.ebpf.high_request_volume);
	assert_false(c.ebpf.heuristic_sql_detect);
}

/*
 * Every key sg_config_describe lists (so also keys added after this test
 * was written): setting it to its documented default changes nothing,
 * and the dump shows it in its section.
 */
static void
test_describe_matches_defaults(void **state)
{
	struct sg_config c, d;
	char *text = NULL, *line, *save, *before, *after;
	size_t len = 0, nkeys = 0;
	FILE *f;

	(void)state;
	assert_non_null(f = open_memstream(&text, &len));
	sg_config_describe(f);
	assert_int_equal(fclose(f), 0);
	sg_config_defaults(&c);
	before = dump(&c);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *name = line, *type, *def, *env, *dot, want[160];
		char err[SG_CONFIG_ERR_MAX];

		assert_non_null(type = strchr(name, '\t'));
		*type++ = '\0';
		assert_non_null(def = strchr(type, '\t'));
		*def++ = '\0';
		assert_non_null(env = strchr(def, '\t'));
		*env++ = '\0';
		/* The SPYGLASS_ name is always listed first. */
		assert_int_equal(strncmp(env, "SPYGLASS_", 9), 0);
		d = c;
		if ((dot = strrchr(name, '.')) != NULL) {
			*dot = '\0';
			assert_int_equal(sg_config_set(&d, name, dot + 1, def,
			    "describe", err, sizeof(err)), 0);
			snprintf(want, sizeof(want), "\n[%s]\n", name);
			assert_non_null(strstr(before, want));
			snprintf(want, sizeof(want), "\n%s = ", dot + 1);
		} else {
			assert_int_equal(sg_config_set(&d, "", name, def,
			    "describe", err, sizeof(err)), 0);
			snprintf(want, sizeof(want), "%s = ", name);
		}
		assert_non_null(strstr(before, want));
		after = dump(&d);
		assert_string_equal(after, before);
		free(after);
		nkeys++;
	}
	/* ... and the dump has exactly one line per described key. */
	for (char *p = before; (p = strstr(p, " = ")) != NULL; p++)
		nkeys--;
	assert_int_equal(nkeys, 0);
	free(before);
	free(text);
}

/* ---- files */

static void
test_load_every_type(void **state)
{
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	load_ok(&c,
	    "; a comment\n"
	    "# another\n"
	    "log_level = warning\n"
	    "trace_printer = JSON\n"
	    "enforce_sys_caps = yes\n"
	    "sandbox_debug = On\n"
	    "service_name = my service\n"
	    "service_namespace = shop\n"
	    "runtime_dir = /tmp/sg run\n"
	    "\n"
	    "[discovery]\n"
	    "open_port = 80, 443,8000-8999\n"
	    "executable_name = (python|node)[0-9.]*$\n"
	    "exclude_exe = ^/usr/sbin/\n"
	    "exclude_otel_instrumented_services = 0\n"
	    "skip_go_specific_tracers = TRUE\n"
	    "poll_interval = 1.5s\n"
	    "\n"
	    "[prometheus_export]\n"
	    "address = ::1\n"
	    "port = 0\n"
	    "path = /m\n"
	    "duration_histogram = [0.1, 1, 10]\n"
	    "size_histogram = 1e3,1e6\n"
	    "\n"
	    "[ebpf]\n"
	    "wakeup_len = 0\n"
	    "http_request_timeout = 2m\n"
	    "capture_size = 1k\n"
	    "ringbuf_size = 1G\n"
	    "syscall_hooks = raw\n"
	    "track_request_headers = true\n");
	assert_int_equal(c.log_level, SG_LOG_WARN);
	assert_int_equal(c.trace_printer, SG_PRINTER_JSON);
	assert_true(c.enforce_sys_caps);
	assert_true(c.sandbox_debug);
	assert_string_equal(c.service_name, "my service");
	assert_string_equal(c.service_namespace, "shop");
	assert_string_equal(c.runtime_dir, "/tmp/sg run");
	assert_int_equal(c.discovery.open_port.n, 3);
	assert_true(sg_portset_contains(&c.discovery.open_port, 8500));
	assert_string_equal(c.discovery.executable_name, "(python|node)[0-9.]*$");
	assert_string_equal(c.discovery.exclude_exe, "^/usr/sbin/");
	assert_false(c.discovery.exclude_otel_instrumented_services);
	assert_true(c.discovery.skip_go_specific_tracers);
	assert_int_equal(c.discovery.poll_interval_ms, 1500);
	assert_string_equal(c.prom.address, "::1");
	assert_int_equal(c.prom.port, 0);
	assert_string_equal(c.prom.path, "/m");
	assert_int_equal(c.prom.duration_histogram.n, 3);
	assert_true(c.prom.duration_histogram.b[0] == 0.1);
	assert_true(c.prom.duration_histogram.b[2] == 10);
	assert_int_equal(c.prom.size_histogram.n, 2);
	assert_true(c.prom.size_histogram.b[1] == 1e6);
	assert_int_equal(c.ebpf.wakeup_len, 0);
	assert_int_equal(c.ebpf.http_request_timeout_ms, 120000);
	assert_int_equal(c.ebpf.capture_size, 1024);
	assert_int_equal(c.ebpf.ringbuf_size, 1u << 30);
	assert_int_equal(c.ebpf.syscall_hooks, SG_HOOKS_RAW);
	assert_true(c.ebpf.track_request_headers);
	/* Keys the file did not name keep their values. */
	assert_string_equal(c.user, "");
	assert_false(c.ebpf.heuristic_sql_detect);
}

/* Units and spellings of durations, sizes and booleans. */
static void
test_units(void **state)
{
	static const struct { const char *v; uint32_t ms; } dur[] = {
		{ "100ms", 100 }, { "2", 2000 }, { "2s", 2000 }, { "0.5",
		500 }, { "1m", 60000 }, { "1h", 3600000 }, { "250 ms", 250 },
		{ "1.5S", 1500 },
	};
	static const struct { const char *v; uint32_t n; } size[] = {
		{ "65536", 65536 }, { "64k", 65536 }, { "64KB", 65536 },
		{ "64KiB", 65536 }, { "1m", 1 << 20 }, { "2MiB", 2 << 20 },
		{ "1g", 1u << 30 }, { "128 k", 128 << 10 }, { "0.5M", 1 << 19 },
	};
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE" };
	static const char *const no[] = { "false", "no", "off", "0", "No" };
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
		set_ok(&c, "discovery", "poll_interval", dur[i].v);
		assert_int_equal(c.discovery.poll_interval_ms, dur[i].ms);
	}
	for (size_t i = 0; i < sizeof(size) / sizeof(size[0]); i++) {
		set_ok(&c, "ebpf", "ringbuf_size", size[i].v);
		assert_int_equal(c.ebpf.ringbuf_size, size[i].n);
	}
	for (size_t i = 0; i < 5; i++) {
		set_ok(&c, "ebpf", "high_request_volume", yes[i]);
		assert_true(c.ebpf.high_request_volume);
		set_ok(&c, "ebpf", "high_request_volume", no[i]);
		assert_false(c.ebpf.high_request_volume);
	}
	/* Bounds are inclusive. */
	set_ok(&c, "prometheus_export", "port", "65535");
	assert_int_equal(c.prom.port, 65535);
	set_ok(&c, "ebpf", "capture_size", "64");
	set_ok(&c, "ebpf", "capture_size", "1024");
	assert_int_equal(c.ebpf.capture_size, 1024);
	set_ok(&c, "discovery", "poll_interval", "100ms");
	set_ok(&c, "discovery", "poll_interval", "1h");
	set_ok(&c, "ebpf", "wakeup_len", "100000");
}

/* Sections and keys ignore case; syntax details follow inih. */
static void
test_syntax(void **state)
{
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	load_ok(&c,
	    "\xef\xbb\xbf" "Log_Level = debug\r\n"
	    "   [ Discovery ]   ; trailing comment\r\n"
	    "  OPEN_PORT=8080   ; the app\r\n"
	    "executable_name = a;b\n"
	    "[prometheus_export]\n"
	    "path = /x # not a comment\n"
	    "address =\n"
	    "[ebpf]\n"
	    "; wakeup_len = 5\n"
	    "\t# capture_size = 5\n"
	    "wakeup_len = 7");       /* no final newline */
	assert_int_equal(c.log_level, SG_LOG_DEBUG);
	assert_int_equal(c.discovery.open_port.n, 1);
	assert_int_equal(c.discovery.open_port.r[0].lo, 8080);
	assert_string_equal(c.discovery.executable_name, "a;b");
	assert_string_equal(c.prom.path, "/x # not a comment");
	assert_string_equal(c.prom.address, "");
	assert_int_equal(c.ebpf.wakeup_len, 7);
	assert_int_equal(c.ebpf.capture_size, 256);

	/* An empty file changes nothing. */
	sg_config_defaults(&c);
	load_ok(&c, "");
	assert_int_equal(c.prom.port, 9400);
}

/* The installed example configuration loads. */
static void
test_shipped_ini(void **state)
{
	char ini[4096], err[SG_CONFIG_ERR_MAX];
	const char *top = getenv("top_srcdir");
	struct sg_config c;

	(void)state;
	if (top != NULL)
		snprintf(ini, sizeof(ini), "%s/etc/spyglass.ini", top);
	else
		snprintf(ini, sizeof(ini), "%.*s/../../etc/spyglass.ini",
		    (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__);
	if (access(ini, R_OK) != 0 || strchr(__FILE__, '/') == NULL)
		skip();
	sg_config_defaults(&c);
	if (sg_config_load_file(&c, ini, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* ---- errors */

static void
test_error_unknown(void **state)
{
	(void)state;
	load_bad("[discovery]\nnope = 1\n", 2, "[discovery] nope",
	    "unknown key");
	load_bad("nope = 1\n", 1, "nope", "unknown key");
	/* An unknown section names itself. */
	load_bad("[nosuch]\nport = 1\n", 2, "[nosuch] port", "unknown key");
	/* A key in the wrong section. */
	load_bad("[ebpf]\nport = 1\n", 2, "[ebpf] port", "unknown key");
	load_bad("port = 1\n", 1, "port", "unknown key");
}

/* Whether the dump of c holds text. */
static bool
dump_has(const struct sg_config *c, const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool has;

	assert_non_null(f);
	sg_config_dump(c, f);
	fclose(f);
	has = strstr(buf, text) != NULL;
	free(buf);
	return has;
}

/* A list of names is a bit set; "*" is all of them, and is how the set
 * of all is written back. */
static void
test_instrumentations(void **state)
{
	struct sg_config c;
	char err[SG_CONFIG_ERR_MAX];

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(c.instrumentations, (1u << (SG_INSTR_MEMCACHED + 1)) - 1);
	assert_int_equal(sg_config_load_string(&c,
	    "[metrics]\ninstrumentations = GRPC http\n", "t", err,
	    sizeof(err)), 0);
	assert_int_equal(c.instrumentations,
	    (1u << SG_INSTR_HTTP) | (1u << SG_INSTR_GRPC));
	assert_true(dump_has(&c, "\ninstrumentations = http,grpc\n"));
	assert_int_equal(sg_config_load_string(&c,
	    "[metrics]\ninstrumentations = redis,*\n", "t", err,
	    sizeof(err)), 0);
	assert_true(dump_has(&c, "\ninstrumentations = *\n"));
}

static void
test_error_values(void **state)
{
	(void)state;
	load_bad("[ebpf]\ntrack_request_headers = maybe\n", 2,
	    "[ebpf] track_request_headers", "\"maybe\" is not a boolean");
	load_bad("enforce_sys_caps = 2\n", 1, "enforce_sys_caps",
	    "is not a boolean");
	load_bad("[ebpf]\ncontext_propagation = tc\n", 2,
	    "[ebpf] context_propagation", "\"tc\" is not one of the allowed");
	load_bad("[ebpf]\nwakeup_len = 12abc\n", 2, "[ebpf] wakeup_len",
	    "\"12abc\" is not a valid integer");
	load_bad("[ebpf]\nwakeup_len = -1\n", 2, "[ebpf] wakeup_len",
	    "is not a valid integer");
	load_bad("[ebpf]\nwakeup_len =\n", 2, "[ebpf] wakeup_len",
	    "is not a valid integer");
	load_bad("[ebpf]\nwakeup_len = 100001\n", 2, "[ebpf] wakeup_len",
	    "100001 out of range 0-100000");
	load_bad("[ebpf]\nwakeup_len = 99999999999999999999999\n", 2,
	    "[ebpf] wakeup_len", "is not a valid integer");
	load_bad("[prometheus_export]\nport = 70000\n", 2,
	    "[prometheus_export] port", "70000 out of range 0-65535");
	load_bad("[discovery]\npoll_interval = 5 parsecs\n", 2,
	    "[discovery] poll_interval", "is not a valid duration");
	load_bad("[discovery]\npoll_interval = -5s\n", 2,
	    "[discovery] poll_interval", "is not a valid duration");
	load_bad("[discovery]\npoll_interval = 50ms\n", 2,
	    "[discovery] poll_interval", "50ms out of range 100ms-3600000ms");
	load_bad("[discovery]\npoll_interval = 2h\n", 2,
	    "[discovery] poll_interval", "out of range");
	load_bad("[metrics]\ninstrumentations = http, bogus\n", 2,
	    "[metrics] instrumentations", "\"bogus\" is not one of the allowed");
	load_bad("[metrics]\ninstrumentations = ,\n", 2,
	    "[metrics] instrumentations", "empty list");
	load_bad("[ebpf]\ncapture_size = 12q\n", 2, "[ebpf] capture_size",
	    "\"12q\" is not a valid size");
	load_bad("[ebpf]\ncapture_size = 2k\n", 2, "[ebpf] capture_size",
	    "2k out of range 64-1024");
	load_bad("[ebpf]\nringbuf_size = 2g\n", 2, "[ebpf] ringbuf_size",
	    "out of range");
	load_bad("[discovery]\nexecutable_name = (unclosed\n", 2,
	    "[discovery] executable_name", "bad regular expression");
	load_bad("[discovery]\nexclude_exe = a{2,1}\n", 2,
	    "[discovery] exclude_exe", "bad regular expression");
	load_bad("trace_printer = xml\n", 1, "trace_printer",
	    "\"xml\" is not one of the allowed values");
	load_bad("[ebpf]\nsyscall_hooks = uprobe\n", 2, "[ebpf] syscall_hooks",
	    "is not one of the allowed values");
	load_bad("log_level = verbose\n", 1, "log_level", "is not a log level");
}

static void
test_error_ports(void **state)
{
	(void)state;
	load_bad("[discovery]\nopen_port = 9000-8000\n", 2,
	    "[discovery] open_port", "range 9000-8000 is reversed");
	load_bad("[discovery]\nopen_port = 0\n", 2, "[discovery] open_port",
	    "out of range 1-65535");
	load_bad("[discovery]\nopen_port = 80,65536\n", 2,
	    "[discovery] open_port", "port 65536 out of range");
	load_bad("[discovery]\nopen_port = http\n", 2, "[discovery] open_port",
	    "expected a port number");
	load_bad("[discovery]\nopen_port = 80 443\n", 2,
	    "[discovery] open_port", "unexpected");
}

static void
test_error_buckets(void **state)
{
	(void)state;
	load_bad("[prometheus_export]\nduration_histogram = 1,0.5\n", 2,
	    "[prometheus_export] duration_histogram",
	    "bounds must increase (0.5 after 1)");
	load_bad("[prometheus_export]\nsize_histogram = 1,2,2\n", 2,
	    "[prometheus_export] size_histogram", "bounds must increase");
	load_bad("[prometheus_export]\nsize_histogram = 1,x\n", 2,
	    "[prometheus_export] size_histogram", "not a number at \"x\"");
	load_bad("[prometheus_export]\nsize_histogram = []\n", 2,
	    "[prometheus_export] size_histogram", "at least one bound");
	load_bad("[prometheus_export]\nsize_histogram = 1;2\n", 2,
	    "[prometheus_export] size_histogram", "unexpected");
	load_bad("[prometheus_export]\nsize_histogram = "
	    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
	    "25,26,27,28,29,30,31,32,33\n", 2,
	    "[prometheus_export] size_histogram", "more than 32 bounds");
}

static void
test_error_strings(void **state)
{
	char text[1024];

	(void)state;
	/* Values longer than a file line can hold come from the environment
	 * or the command line. */
	{
		char err[SG_CONFIG_ERR_MAX];
		struct sg_config c;

		sg_config_defaults(&c);
		snprintf(text, sizeof(text), "runtime_dir=/%0300d", 0);
		assert_int_equal(sg_config_set_arg(&c, text, err, sizeof(err)), -1);
		assert_string_equal(err, "command line: runtime_dir: value "
		    "longer than 255 bytes");
		snprintf(text, sizeof(text), "discovery.executable_name=%0600d", 0);
		assert_int_equal(sg_config_set_arg(&c, text, err, sizeof(err)), -1);
		assert_string_equal(err, "command line: [discovery] "
		    "executable_name: expression longer than 511 bytes");
	}
}

static void
test_error_syntax(void **state)
{
	(void)state;
	load_bad("[discovery\nopen_port = 80\n", 1, NULL, "syntax error");
	load_bad("log_level = info\njust some words\n", 2, NULL,
	    "syntax error");
	load_bad("[ebpf]\n= 5\n", 2, NULL, "syntax error");
	load_bad("[ebpf] wakeup_len = 5\n", 1, NULL, "syntax error");
}

/* Line numbers count comments, blank lines, CRLF and very long lines. */
static void
test_error_line_numbers(void **state)
{
	char text[2048];

	(void)state;
	load_bad("; one\n"
	    "# two\n"
	    "\n"
	    "log_level = info\n"
	    "   \n"
	    "[discovery]\n"
	    "; seven\n"
	    "open_port = 80\n"
	    "\n"
	    "poll_interval = soon\n", 10, "[discovery] poll_interval",
	    "not a valid duration");
	load_bad("\r\n\r\n[ebpf]\r\nwakeup_len = x\r\n", 4,
	    "[ebpf] wakeup_len", "not a valid integer");
	/* A line longer than the INI reader's 200-byte buffer is refused
	 * where it is, not split into two lines. */
	snprintf(text, sizeof(text), "[discovery]\nexecutable_name = "
	    "%0400d\nopen_port = 0\n", 7);
	load_bad(text, 2, NULL, "line longer than 198 bytes");
	/* An indented line is a key of its own, not a continuation. */
	load_bad("[discovery]\nopen_port = 80\n   poll_interval = x\n", 3,
	    "[discovery] poll_interval", "not a valid duration");
	/* The first error is the one reported. */
	load_bad("[ebpf]\nwakeup_len = 1\nwakeup_len = x\n[\nbad\n", 3,
	    "[ebpf] wakeup_len", "not a valid integer");
	load_bad("[ebpf]\nwhat\nwakeup_len = x\n", 2, NULL, "syntax error");
}

static void
test_error_file_and_string(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_load_file(&c, "/nonexistent/spyglass.ini",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/spyglass.ini: "
	    "No such file or directory");
	/* Strings name their origin the same way. */
	assert_int_equal(sg_config_load_string(&c, "[ebpf]\n\ncapture_size = 9",
	    "collector config", err, sizeof(err)), -1);
	assert_string_equal(err, "collector config:3: [ebpf] capture_size: "
	    "9 out of range 64-1024");
	assert_int_equal(sg_config_load_string(&c, "", "empty", err,
	    sizeof(err)), 0);
	/* A short error buffer is truncated, not overrun. */
	err[10] = 'z';
	assert_int_equal(sg_config_load_string(&c, "x = 1", "o", err, 10), -1);
	assert_int_equal(strlen(err), 9);
	assert_int_equal(err[10], 'z');
}

/* ---- environment and command line */

static void
test_env(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	clear_env();
	sg_config_defaults(&c);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.prom.port, 9400);

	setenv("SPYGLASS_DISCOVERY_OPEN_PORT", "8080-8081", 1);
	setenv("SPYGLASS_LOG_LEVEL", "debug", 1);
	setenv("BEYLA_PROMETHEUS_PORT", "9999", 1);
	setenv("OTEL_SERVICE_NAME", "from-otel", 1);
	setenv("SPYGLASS_EBPF_RINGBUF_SIZE", "8M", 1);
	setenv("OTEL_SERVICE_NAMESPACE", "ns", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.discovery.open_port.n, 1);
	assert_int_equal(c.discovery.open_port.r[0].hi, 8081);
	assert_int_equal(c.log_level, SG_LOG_DEBUG);
	assert_int_equal(c.prom.port, 9999);
	assert_string_equal(c.service_name, "from-otel");
	assert_string_equal(c.service_namespace, "ns");
	assert_int_equal(c.ebpf.ringbuf_size, 8 << 20);
	clear_env();

	/* The seeds' names alone. */
	sg_config_defaults(&c);
	setenv("BEYLA_OPEN_PORT", "80,443", 1);
	setenv("BEYLA_EXECUTABLE_NAME", "nginx", 1);
	setenv("BEYLA_LOG_LEVEL", "error", 1);
	setenv("BEYLA_TRACE_PRINTER", "text", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.discovery.open_port.n, 2);
	assert_string_equal(c.discovery.executable_name, "nginx");
	assert_int_equal(c.log_level, SG_LOG_ERR);
	assert_int_equal(c.trace_printer, SG_PRINTER_TEXT);
	clear_env();
}

static void
test_env_precedence(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	clear_env();
	/* SPYGLASS_* beats BEYLA_* whatever the order they were set in. */
	sg_config_defaults(&c);
	setenv("SPYGLASS_DISCOVERY_OPEN_PORT", "1111", 1);
	setenv("BEYLA_OPEN_PORT", "2222", 1);
	setenv("BEYLA_PROMETHEUS_PORT", "3333", 1);
	setenv("SPYGLASS_PROMETHEUS_EXPORT_PORT", "4444", 1);
	setenv("BEYLA_LOG_LEVEL", "error", 1);
	setenv("SPYGLASS_LOG_LEVEL", "warn", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.discovery.open_port.r[0].lo, 1111);
	assert_int_equal(c.prom.port, 4444);
	assert_int_equal(c.log_level, SG_LOG_WARN);

	/* Environment beats the file; the command line beats both. */
	sg_config_defaults(&c);
	load_ok(&c, "log_level = debug\nservice_name = file\n"
	    "[prometheus_export]\nport = 5555\npath = /file\n"
	    "[discovery]\nopen_port = 5555\n");
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.prom.port, 4444);
	assert_string_equal(c.prom.path, "/file");      /* no env for it */
	assert_int_equal(c.discovery.open_port.r[0].lo, 1111);
	assert_int_equal(sg_config_set_arg(&c, "prometheus_export.port=6666",
	    err, sizeof(err)), 0);
	assert_int_equal(sg_config_set_arg(&c, "log_level=error", err,
	    sizeof(err)), 0);
	assert_int_equal(c.prom.port, 6666);
	assert_int_equal(c.log_level, SG_LOG_ERR);
	assert_string_equal(c.service_name, "file");
	setenv("OTEL_SERVICE_NAME", "env", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.service_name, "env");
	assert_int_equal(sg_config_set_arg(&c, "service_name=arg", err,
	    sizeof(err)), 0);
	assert_string_equal(c.service_name, "arg");
	clear_env();
}

static void
test_env_errors(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	clear_env();
	sg_config_defaults(&c);
	setenv("BEYLA_PROMETHEUS_PORT", "70000", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "environment BEYLA_PROMETHEUS_PORT: "
	    "[prometheus_export] port: 70000 out of range 0-65535");
	clear_env();
	setenv("SPYGLASS_DISCOVERY_OPEN_PORT", "0", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "environment SPYGLASS_DISCOVERY_OPEN_PORT: "
	    "[discovery] open_port: "));
	clear_env();
	setenv("SPYGLASS_LOG_LEVEL", "loud", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "environment SPYGLASS_LOG_LEVEL: "
	    "log_level: \"loud\" is not a log level"));
	clear_env();
}

/* The two ttls: their own keys, Beyla's variables, the same bounds. */
static void
test_ttl(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	clear_env();
	sg_config_defaults(&c);
	load_ok(&c, "[prometheus_export]\nttl = 3s\n"
	    "[otel_metrics_export]\nttl = 10m\n");
	assert_int_equal(c.prom.ttl_ms, 3000);
	assert_int_equal(c.metrics.ttl_ms, 600000);

	/* A bare number is seconds, as in Beyla's variables. */
	setenv("BEYLA_PROMETHEUS_TTL", "90", 1);
	setenv("BEYLA_OTEL_METRICS_TTL", "2m", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.prom.ttl_ms, 90000);
	assert_int_equal(c.metrics.ttl_ms, 120000);
	setenv("SPYGLASS_PROMETHEUS_EXPORT_TTL", "1h", 1);
	setenv("SPYGLASS_OTEL_METRICS_EXPORT_TTL", "1s", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.prom.ttl_ms, 3600000);
	assert_int_equal(c.metrics.ttl_ms, 1000);
	clear_env();
	setenv("BEYLA_OTEL_METRICS_TTL", "0", 1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "environment BEYLA_OTEL_METRICS_TTL: "
	    "[otel_metrics_export] ttl: 0 out of range 1000ms-604800000ms");
	clear_env();

	assert_int_equal(sg_config_set_arg(&c, "prometheus_export.ttl=168h",
	    err, sizeof(err)), 0);
	assert_int_equal(c.prom.ttl_ms, 604800000);
	load_bad("[prometheus_export]\nttl = 999ms\n", 2,
	    "[prometheus_export] ttl", "999ms out of range 1000ms-604800000ms");
	load_bad("[prometheus_export]\nttl = 169h\n", 2,
	    "[prometheus_export] ttl", "out of range");
	load_bad("[otel_metrics_export]\nttl = forever\n", 2,
	    "[otel_metrics_export] ttl", "is not a valid duration");
}

static void
test_set_arg(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set_arg(&c, "discovery.open_port=80,443",
	    err, sizeof(err)), 0);
	assert_int_equal(c.discovery.open_port.n, 2);
	/* '=' and '.' in the value are the value's. */
	assert_int_equal(sg_config_set_arg(&c,
	    "discovery.executable_name=a=b\\.c", err, sizeof(err)), 0);
	assert_string_equal(c.discovery.executable_name, "a=b\\.c");
	assert_int_equal(sg_config_set_arg(&c, "service_name=a.b", err,
	    sizeof(err)), 0);
	assert_string_equal(c.service_name, "a.b");
	assert_int_equal(sg_config_set_arg(&c, "EBPF.Capture_Size=512", err,
	    sizeof(err)), 0);
	assert_int_equal(c.ebpf.capture_size, 512);

	assert_int_equal(sg_config_set_arg(&c, "log_level", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "command line: \"log_level\": expected "
	    "[section.]key=value");
	assert_int_equal(sg_config_set_arg(&c, "nosuch.key=1", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "command line: [nosuch] key: unknown key");
	assert_int_equal(sg_config_set_arg(&c, "prometheus_export.port=x",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "command line: [prometheus_export] port: "
	    "\"x\" is not a valid integer");
}

/* ---- dump and reload */

/* Encode for IPC, decode into fresh defaults, dump both: the same text,
 * and the fields that matter compared one by one. */
static void
assert_round_trip(const struct sg_config *a)
{
	char err[SG_CONFIG_ERR_MAX], *t1, *t2;
	static uint8_t buf[64 << 10];
	struct sg_config b;
	struct wire_w w;

	wire_w_init(&w, buf, sizeof(buf));
	sg_config_encode(a, &w, SG_TO_ALL);
	assert_false(w.err);
	t1 = dump(a);
	sg_config_defaults(&b);
	if (sg_config_decode(&b, buf, w.len, "ipc", err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, t1);
	t2 = dump(&b);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);

	assert_int_equal(b.log_level, a->log_level);
	assert_int_equal(b.trace_printer, a->trace_printer);
	assert_int_equal(b.enforce_sys_caps, a->enforce_sys_caps);
	assert_string_equal(b.service_name, a->service_name);
	assert_string_equal(b.service_namespace, a->service_namespace);
	assert_string_equal(b.runtime_dir, a->runtime_dir);
	assert_int_equal(b.discovery.open_port.n, a->discovery.open_port.n);
	for (size_t i = 0; i < a->discovery.open_port.n; i++) {
		assert_int_equal(b.discovery.open_port.r[i].lo,
		    a->discovery.open_port.r[i].lo);
		assert_int_equal(b.discovery.open_port.r[i].hi,
		    a->discovery.open_port.r[i].hi);
	}
	assert_string_equal(b.discovery.executable_name,
	    a->discovery.executable_name);
	assert_string_equal(b.discovery.exclude_exe, a->discovery.exclude_exe);
	assert_int_equal(b.discovery.poll_interval_ms,
	    a->discovery.poll_interval_ms);
	assert_int_equal(b.prom.port, a->prom.port);
	assert_string_equal(b.prom.address, a->prom.address);
	assert_int_equal(b.prom.duration_histogram.n,
	    a->prom.duration_histogram.n);
	assert_memory_equal(b.prom.duration_histogram.b,
	    a->prom.duration_histogram.b,
	    a->prom.duration_histogram.n * sizeof(double));
	assert_int_equal(b.prom.size_histogram.n, a->prom.size_histogram.n);
	assert_memory_equal(b.prom.size_histogram.b, a->prom.size_histogram.b,
	    a->prom.size_histogram.n * sizeof(double));
	assert_int_equal(b.prom.ttl_ms, a->prom.ttl_ms);
	assert_int_equal(b.metrics.ttl_ms, a->metrics.ttl_ms);
	assert_int_equal(b.ebpf.wakeup_len, a->ebpf.wakeup_len);
	assert_int_equal(b.ebpf.http_request_timeout_ms,
	    a->ebpf.http_request_timeout_ms);
	assert_int_equal(b.ebpf.capture_size, a->ebpf.capture_size);
	assert_int_equal(b.ebpf.ringbuf_size, a->ebpf.ringbuf_size);
	assert_int_equal(b.ebpf.syscall_hooks, a->ebpf.syscall_hooks);
	assert_int_equal(b.ebpf.heuristic_sql_detect,
	    a->ebpf.heuristic_sql_detect);
}

static void
test_dump_round_trip(void **state)
{
	char ports[1024], re[SG_REGEX_MAX], bounds[1024];
	struct sg_config c;
	size_t off = 0;

	(void)state;
	sg_config_defaults(&c);
	assert_round_trip(&c);

	set_ok(&c, "", "log_level", "debug");
	set_ok(&c, "", "trace_printer", "json");
	set_ok(&c, "", "enforce_sys_caps", "true");
	set_ok(&c, "", "service_name", "svc with spaces");
	set_ok(&c, "", "service_namespace", "ns");
	set_ok(&c, "", "runtime_dir", "/run/x");
	set_ok(&c, "discovery", "executable_name", "^/usr/(s?bin)/nginx$");
	set_ok(&c, "discovery", "exclude_exe", "");
	set_ok(&c, "discovery", "poll_interval", "0.25s");
	set_ok(&c, "prometheus_export", "port", "0");
	set_ok(&c, "prometheus_export", "address", "");
	set_ok(&c, "prometheus_export", "ttl", "1.5s");
	set_ok(&c, "otel_metrics_export", "ttl", "168h");
	set_ok(&c, "ebpf", "http_request_timeout", "1h");
	set_ok(&c, "ebpf", "ringbuf_size", "1g");
	set_ok(&c, "ebpf", "syscall_hooks", "tracepoint");
	set_ok(&c, "ebpf", "heuristic_sql_detect", "on");
	assert_round_trip(&c);

	/* The longest values: 64 port ranges, a 511-byte regex, 32 bounds
	 * that need all 17 digits.  Dump lines run to several hundred
	 * bytes. */
	for (int i = 0; i < SG_PORTSET_MAX; i++)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off,
		    "%s%d-%d", i ? "," : "", 10000 + i * 100, 10050 + i * 100);
	set_ok(&c, "discovery", "open_port", ports);
	memset(re, 0, sizeof(re));
	for (size_t i = 0; i < sizeof(re) - 1; i++)
		re[i] = "abc|d"[i % 5];
	re[sizeof(re) - 2] = 'z';
	set_ok(&c, "discovery", "executable_name", re);
	off = 0;
	for (int i = 0; i < SG_MAX_BOUNDS; i++)
		off += (size_t)snprintf(bounds + off, sizeof(bounds) - off,
		    "%s%.17g", i ? "," : "", (i + 1) / 3.0 + i * 1e-9);
	set_ok(&c, "prometheus_export", "duration_histogram", bounds);
	set_ok(&c, "prometheus_export", "size_histogram", "-1,0,1e300");
	assert_int_equal(c.prom.duration_histogram.n, SG_MAX_BOUNDS);
	assert_round_trip(&c);
}

/* Dumped text names every section once and ends each line with a
 * newline. */
static void
test_dump_shape(void **state)
{
	struct sg_config c;
	char *t;

	(void)state;
	sg_config_defaults(&c);
	t = dump(&c);
	assert_int_equal(strncmp(t, "log_level = info\n", 17), 0);
	assert_non_null(strstr(t, "\n[discovery]\n"));
	assert_non_null(strstr(t, "\n[prometheus_export]\n"));
	assert_non_null(strstr(t, "\n[ebpf]\n"));
	assert_null(strstr(strstr(t, "\n[discovery]\n") + 1, "\n[discovery]\n"));
	assert_non_null(strstr(t, "\npoll_interval = 5000ms\n"));
	assert_non_null(strstr(t, "\nringbuf_size = 1048576\n"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
}

static void
test_report_inert(void **state)
{
	struct sg_config c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	sg_config_defaults(&c);
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(sg_config_report_inert(&c, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text, "");
	free(text);

	/* Keys that work do not count; inert keys set to their default do
	 * not either. */
	set_ok(&c, "prometheus_export", "port", "1");
	set_ok(&c, "ebpf", "track_request_headers", "false");
	set_ok(&c, "discovery", "exclude_otel_instrumented_services", "false");
	set_ok(&c, "ebpf", "heuristic_sql_detect", "true");
	set_ok(&c, "ebpf", "enable_context_propagation", "true");
	set_ok(&c, "ebpf", "high_request_volume", "true");
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(sg_config_report_inert(&c, f), 1);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text,
	    "[ebpf] high_request_volume = true is accepted but has no "
	    "effect yet\n");
	free(text);
}

/* context_propagation names the mode; enable_context_propagation alone
 * means all (Beyla's boolean); the mode wins over it. */
static void
test_propagation_mode(void **state)
{
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	set_ok(&c, "ebpf", "enable_context_propagation", "true");
	assert_int_equal(sg_config_propagation(&c), SG_PROPAGATION_ALL);
	set_ok(&c, "ebpf", "context_propagation", "headers");
	assert_int_equal(sg_config_propagation(&c), SG_PROPAGATION_HEADERS);
	set_ok(&c, "ebpf", "context_propagation", "ip");
	assert_int_equal(sg_config_propagation(&c), SG_PROPAGATION_IP);
	set_ok(&c, "ebpf", "enable_context_propagation", "false");
	set_ok(&c, "ebpf", "context_propagation", "disabled");
	assert_int_equal(sg_config_propagation(&c), SG_PROPAGATION_DISABLED);
}

/* BEYLA_*, OTEL_* and SPYGLASS_* variables no key reads are named. */
static void
test_report_unknown_env(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	setenv("BEYLA_NO_SUCH_SETTING", "1", 1);
	setenv("SPYGLASS_ROUTES_PATERNS", "/a", 1);
	setenv("OTEL_SERVICE_NAME", "known", 1);
	setenv("BEYLA_OPEN_PORT", "80", 1);
	assert_non_null(f = open_memstream(&text, &len));
	assert_int_equal(sg_config_report_unknown_env(f), 2);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "environment variable BEYLA_NO_SUCH_SETTING "
	    "is not a setting spyglass knows: ignored\n"));
	assert_non_null(strstr(text, "SPYGLASS_ROUTES_PATERNS"));
	assert_null(strstr(text, "OTEL_SERVICE_NAME"));
	free(text);
	unsetenv("BEYLA_NO_SUCH_SETTING");
	unsetenv("SPYGLASS_ROUTES_PATERNS");
	unsetenv("OTEL_SERVICE_NAME");
	unsetenv("BEYLA_OPEN_PORT");
}

/* c as the collector gets it: encoded for it, decoded into d. */
static void
to_collector(const struct sg_config *c, struct sg_config *d)
{
	static uint8_t buf[64 << 10];
	char err[SG_CONFIG_ERR_MAX];
	struct wire_w w;

	wire_w_init(&w, buf, sizeof(buf));
	sg_config_encode(c, &w, SG_TO_COLLECTOR);
	assert_false(w.err);
	sg_config_defaults(d);
	if (sg_config_decode(d, buf, w.len, "loader", err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* [metrics] features: all of Beyla's but network, which is refused,
 * named; allow_service_graph_self_references, off by default, from
 * either of Beyla's variables, reaches the collector. */
static void
test_features(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c, d;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(c.features, 1u << SG_FEATURE_APPLICATION);
	assert_false(c.allow_service_graph_self_references);
	assert_int_equal(sg_config_set(&c, "metrics", "features",
	    "application,network", "f.ini:2", err, sizeof(err)), -1);
	assert_string_equal(err, "f.ini:2: [metrics] features: "
	    "\"network\" is not built yet");
	assert_int_equal(sg_config_set(&c, "metrics", "features",
	    "application, application_process", "f.ini:2", err, sizeof(err)),
	    0);
	assert_int_equal(c.features, 1u << SG_FEATURE_APPLICATION |
	    1u << SG_FEATURE_APPLICATION_PROCESS);
	assert_int_equal(sg_config_set(&c, "metrics", "features",
	    "application_span,application_service_graph", "f.ini:2", err,
	    sizeof(err)), 0);
	assert_int_equal(c.features, 1u << SG_FEATURE_APPLICATION_SPAN |
	    1u << SG_FEATURE_APPLICATION_SERVICE_GRAPH);
	setenv("BEYLA_PROMETHEUS_ALLOW_SERVICE_GRAPH_SELF_REFERENCES", "true",
	    1);
	assert_int_equal(sg_config_load_env(&c, err, sizeof(err)), 0);
	unsetenv("BEYLA_PROMETHEUS_ALLOW_SERVICE_GRAPH_SELF_REFERENCES");
	assert_true(c.allow_service_graph_self_references);
	to_collector(&c, &d);
	assert_true(d.allow_service_graph_self_references);
	assert_int_equal(d.features, c.features);
	assert_int_equal(sg_config_set(&c, "metrics", "features", "frobs",
	    "f.ini:3", err, sizeof(err)), -1);
	assert_int_equal(sg_config_set(&c, "", "otlp_endpoint", "tempo:4317",
	    "f.ini:4", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no scheme: write http://tempo:4317"));
}

/* [attributes.select.*] and [filter.application.*]: parsed, checked,
 * sent to the collector; [filter.network.*] refused. */
static void
test_select_filter_blocks(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c, d;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set_arg(&c,
	    "attributes.select.http_*.exclude=server_port", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set(&c, "filter.application.url_path",
	    "not_match", "/health*", "f.ini:9", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set(&c, "filter.application.colour",
	    "match", "red", "f.ini:10", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f.ini:10: [filter.application.colour]: "
	    "no such attribute"));
	assert_int_equal(sg_config_set(&c, "filter.network.src_port",
	    "match", "80", "f.ini:11", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "network metrics are not built"));
	assert_int_equal(sg_config_set(&c, "attributes.select.x", "colour",
	    "red", "f.ini:12", err, sizeof(err)), -1);
	assert_int_equal(sg_config_set_arg(&c,
	    "attributes.instance_id.override_hostname=web7", err,
	    sizeof(err)), 0);
	assert_string_equal(c.attributes.override_hostname, "web7");

	to_collector(&c, &d);
	assert_int_equal(d.attributes.nselect, 1);
	assert_string_equal(d.attributes.select[0].family, "http_*");
	assert_string_equal(d.attributes.select[0].exclude, "server_port");
	assert_int_equal(d.attributes.nfilter, 1);
	assert_string_equal(d.attributes.filter[0].not_match, "/health*");
	assert_true(sg_globs_match("/health*, /ready", "/healthz"));
	assert_false(sg_globs_match("/health*, /ready", "/api"));
	assert_true(sg_globs_match("http.route", "http_route"));
}

/* ---- main */

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sg-config-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/spyglass.ini", tmpdir);
	if ((fd = creat(path, 0600)) < 0)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/* Each child gets only its keys: the collector, which parses attacker
 * bytes, no OTLP endpoint, header or certificate, but whether spans are
 * taken and how long series live; the exporter no discovery. */
static bool
message_has(const uint8_t *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return true;
	return false;
}

static void
test_encode_per_child(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	static uint8_t buf[64 << 10];
	struct sg_config c, d;
	struct wire_w w;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set_arg(&c,
	    "otlp_endpoint=https://secret.example:4318", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set_arg(&c,
	    "otlp_headers=Authorization=Bearer%20token", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set_arg(&c, "otlp_ca_file=/etc/ca.pem", err,
	    sizeof(err)), 0);
	assert_int_equal(sg_config_set_arg(&c, "discovery.open_port=8080", err,
	    sizeof(err)), 0);
	c.export_spans = true;
	c.series_ttl_ms = 123000;

	wire_w_init(&w, buf, sizeof(buf));
	sg_config_encode(&c, &w, SG_TO_COLLECTOR);
	assert_false(w.err);
	assert_false(message_has(buf, w.len, "secret.example"));
	assert_false(message_has(buf, w.len, "token"));
	assert_false(message_has(buf, w.len, "otlp_"));
	assert_false(message_has(buf, w.len, "/etc/ca.pem"));
	assert_false(message_has(buf, w.len, "open_port"));
	sg_config_defaults(&d);
	assert_int_equal(sg_config_decode(&d, buf, w.len, "loader", err,
	    sizeof(err)), 0);
	assert_true(d.export_spans);
	assert_int_equal(d.series_ttl_ms, 123000);
	assert_string_equal(d.otlp_endpoint, "");

	wire_w_init(&w, buf, sizeof(buf));
	sg_config_encode(&c, &w, SG_TO_EXPORTER);
	assert_false(w.err);
	assert_true(message_has(buf, w.len, "secret.example"));
	assert_false(message_has(buf, w.len, "open_port"));
	assert_false(message_has(buf, w.len, "_export_spans"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_describe_matches_defaults),
		cmocka_unit_test(test_load_every_type),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_shipped_ini),
		cmocka_unit_test(test_error_unknown),
		cmocka_unit_test(test_instrumentations),
		cmocka_unit_test(test_error_values),
		cmocka_unit_test(test_error_ports),
		cmocka_unit_test(test_error_buckets),
		cmocka_unit_test(test_error_strings),
		cmocka_unit_test(test_error_syntax),
		cmocka_unit_test(test_error_line_numbers),
		cmocka_unit_test(test_error_file_and_string),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_precedence),
		cmocka_unit_test(test_env_errors),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_set_arg),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_dump_shape),
		cmocka_unit_test(test_report_inert),
		cmocka_unit_test(test_propagation_mode),
		cmocka_unit_test(test_report_unknown_env),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_select_filter_blocks),
		cmocka_unit_test(test_encode_per_child),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
