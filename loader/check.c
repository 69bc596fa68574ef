/*
 * `spyglass check` (check.h).
 */
#include "check.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "loader.h"
#include "preflight.h"
#include "services_conf.h"
#include "tls.h"

/* The configuration checked, for discovery's callback. */
static struct {
	const struct sg_config *cfg;
} C;

void
check_how_to_select(char *buf, size_t sz, const char *file)
{
	snprintf(buf, sz, "to select something, set [discovery] open_port = "
	    "PORT or executable_name = REGEX, or add a [service.NAME] block, "
	    "in %s (or set BEYLA_OPEN_PORT or BEYLA_EXECUTABLE_NAME in the "
	    "environment, or pass -o discovery.open_port=PORT); under "
	    "systemd, then run: systemctl restart spyglass", file);
}

/* check: a process the configuration selects, by what, and how its TLS
 * would be seen. */
static void
sg_check_process(void *ctx, const struct sg_proc_info *info)
{
	const struct discovery *d = *(struct discovery *const *)ctx;
	const char *by = d != NULL ? discovery_selector(d, (pid_t)info->pid) :
	    NULL;

	if (!info->present)
		return;
	printf("process %u (%s) selected by %s as %s; ", info->pid, info->exe,
	    by != NULL ? by : "?", info->service_name);
	tls_describe_pid(stdout, (pid_t)info->pid);
	if (C.cfg->discovery.exclude_otel_instrumented_services &&
	    discovery_configures_otlp((pid_t)info->pid))
		printf("; its environment sets up an OTLP exporter: once it is "
		    "seen sending OTLP, the sensor leaves that signal of it out "
		    "(exclude_otel_instrumented_services)");
	putchar('\n');
}

/* check: every other running process, and why it is not selected. */
static void
sg_check_others(struct discovery *d)
{
	char exe[PATH_MAX];
	struct dirent *de;
	DIR *dir = opendir("/proc");

	printf("\n# other processes\n");
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		const char *why;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		why = discovery_explain(d, (pid_t)pid, exe, sizeof(exe));
		if (why != NULL && strcmp(why, "selected") != 0)
			printf("process %ld (%s): %s\n", pid, exe, why);
	}
	if (dir != NULL)
		closedir(dir);
}

static void
sg_check_processes(void)
{
	static struct discovery *d;

	d = discovery_new(C.cfg, sg_check_process, &d);
	printf("\n# processes selected now\n");
	if (d == NULL)
		return;
	discovery_ignore(d, getpid());
	(void)discovery_scan(d);
	sg_check_others(d);
	discovery_free(d);
}

int
check_run(const struct sg_config *cfg, const char *file)
{
	struct sg_preflight pf;
	char how[512];

	C.cfg = cfg;
	printf("# effective configuration\n");
	sg_config_dump(cfg, stdout);
	printf("\n# findings\n");
	preflight_run(cfg, &pf, false);
	preflight_print(stdout, cfg, &pf);
	if (!sg_config_selects(cfg)) {
		check_how_to_select(how, sizeof(how), file);
		printf("%-8s%s\n%-8s%s\n", "error", SG_NOTHING_SELECTED,
		    "error", how);
	}
	sg_check_processes();
	fflush(stdout);
	if (pf.errors > 0)
		return SG_EXIT_PREFLIGHT;
	return sg_config_selects(cfg) ? 0 : SG_EXIT_CONFIG;
}
