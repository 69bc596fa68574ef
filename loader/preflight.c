/*
 * Start-up checks (see preflight.h).  preflight_run() only gathers facts;
 * one function, preflight_report(), turns them into findings, both to
 * count errors and warnings and to print them, so the two cannot drift.
 */
#include "preflight.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include "hooks.h"
#include "privs.h"

#define SG_BTF_PATH       "/sys/kernel/btf/vmlinux"
#define SG_TRACEFS        "/sys/kernel/tracing"
#define SG_TRACEFS_DEBUG  "/sys/kernel/debug/tracing"
#define SG_PORT_START     "/proc/sys/net/ipv4/ip_unprivileged_port_start"
#define SG_PERF_PARANOID  "/proc/sys/kernel/perf_event_paranoid"
/* CAP_BPF, CAP_PERFMON and the BPF ring buffer arrived in 5.8. */
#define SG_KERNEL_MIN_MAJOR 5
#define SG_KERNEL_MIN_MINOR 8

static bool
pf_has_syscalls(const char *tracefs)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/events/syscalls", tracefs);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
pf_find_tracefs(struct sg_preflight *p)
{
	const char *where[] = { SG_TRACEFS, SG_TRACEFS_DEBUG };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (pf_has_syscalls(where[i])) {
			snprintf(p->tracefs_path, sizeof(p->tracefs_path), "%s",
			    where[i]);
			return true;
		}
	return false;
}

/* Mount tracefs where current kernels expect it, as systemd would. */
static void
pf_mount_tracefs(struct sg_preflight *p)
{
	if (mount("nodev", SG_TRACEFS, "tracefs",
	    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		p->tracefs_err = errno;
		return;
	}
	p->tracefs = pf_find_tracefs(p);
	if (p->tracefs) {
		p->tracefs_mounted = true;
		return;
	}
	/* Mounted, but no syscall tracepoints in this kernel: useless. */
	p->tracefs_err = ENOENT;
	(void)umount2(SG_TRACEFS, MNT_DETACH);
}

static void
pf_check_tracefs(const struct sg_config *c, struct sg_preflight *p,
    bool may_mount)
{
	p->tracefs = pf_find_tracefs(p);
	/* Only per-syscall tracepoints need tracefs (see config.c), and
	 * they are no use where their perf events need cap_sys_admin. */
	if (p->tracefs || c->ebpf.syscall_hooks != SG_HOOKS_TRACEPOINT ||
	    p->perf_paranoid > 2)
		return;
	if ((privs_held() & SG_CAPBIT(CAP_SYS_ADMIN)) == 0) {
		p->tracefs_err = EPERM;
		return;
	}
	if (!may_mount) {   /* check: say what a start would do */
		p->tracefs_mountable = true;
		return;
	}
	pf_mount_tracefs(p);
}

/* Why there are no syscall tracepoints, for the hooks' report. */
static void
pf_tracefs_why(const struct sg_preflight *p, char *buf, size_t sz)
{
	if (p->perf_paranoid > 2)
		/* Debian's and Ubuntu's level 3 asks for cap_sys_admin
		 * (not cap_perfmon) to open a tracepoint's perf event. */
		snprintf(buf, sz, "kernel.perf_event_paranoid is %d: perf "
		    "events of syscall tracepoints need cap_sys_admin, which "
		    "spyglass does not keep", p->perf_paranoid);
	else if (p->tracefs_err == EPERM)
		snprintf(buf, sz, "tracefs is not mounted at %s, and mounting "
		    "it needs cap_sys_admin", SG_TRACEFS);
	else if (p->tracefs_err != 0)
		snprintf(buf, sz, "tracefs is not mounted at %s, and mounting "
		    "it failed: %s", SG_TRACEFS, strerror(p->tracefs_err));
	else
		snprintf(buf, sz, "no syscall tracepoints in %s or %s",
		    SG_TRACEFS, SG_TRACEFS_DEBUG);
}

static void
pf_check_bpf(struct sg_preflight *p)
{
	/* No name: libbpf would probe name support by loading a program. */
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(int),
	    sizeof(int), 1, NULL);

	if (fd < 0) {
		p->bpf_err = errno ? errno : -fd;
		return;
	}
	close(fd);
	p->bpf = true;
}

static int
pf_read_int(const char *path)
{
	char buf[32];
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL)
		v = atoi(buf);
	fclose(f);
	return v;
}

/* The report of keys set without effect, and of environment variables
 * no key reads, as text (malloc'd), or NULL. */
static char *
pf_inert_text(const struct sg_config *c, int *n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	*n = 0;
	if (f == NULL)
		return NULL;
	*n = sg_config_report_inert(c, f);
	*n += sg_config_report_unknown_env(f);
	fclose(f);
	return text;
}

struct pf_out {
	FILE *f;       /* NULL: count only */
	int   errors;
	int   warnings;
};

static void
pf(struct pf_out *o, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pf(struct pf_out *o, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "error") == 0)
		o->errors++;
	else if (strcmp(level, "warning") == 0)
		o->warnings++;
	if (o->f == NULL)
		return;
	fprintf(o->f, "%-8s", level);
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
}

static void
pf_report_kernel(struct pf_out *o, const struct sg_preflight *p)
{
	int major = 0, minor = 0;

	if (sscanf(p->kernel, "%d.%d", &major, &minor) == 2 &&
	    (major < SG_KERNEL_MIN_MAJOR ||
	    (major == SG_KERNEL_MIN_MAJOR && minor < SG_KERNEL_MIN_MINOR)))
		pf(o, "error", "kernel %s: %d.%d or later is required (CAP_BPF, "
		    "BPF ring buffer)", p->kernel, SG_KERNEL_MIN_MAJOR,
		    SG_KERNEL_MIN_MINOR);
	else
		pf(o, "ok", "kernel %s", p->kernel);
	if (p->btf)
		pf(o, "ok", "BTF %s", SG_BTF_PATH);
	else
		pf(o, "error", "BTF %s not readable: a kernel built with "
		    "CONFIG_DEBUG_INFO_BTF is required", SG_BTF_PATH);
	if (p->bpf)
		pf(o, "ok", "bpf() usable");
	else
		pf(o, "error", "bpf() unusable: creating a map failed: %s",
		    strerror(p->bpf_err));
}

static void
pf_report_hooks(struct pf_out *o, const struct sg_config *c,
    const struct sg_preflight *p)
{
	enum sg_hooks plan[SG_HOOKS_KINDS], want = c->ebpf.syscall_hooks;
	char offered[128] = "";
	int n = sg_hooks_plan(want, &p->hooks, plan);

	if (want == SG_HOOKS_AUTO)
		pf(o, "ok", "I/O hooks: %s (the cheapest this kernel offers)",
		    sg_hooks_describe(plan[0]));
	else if (plan[0] == want)
		pf(o, "ok", "I/O hooks: %s (syscall_hooks = %s)",
		    sg_hooks_describe(plan[0]), sg_hooks_name(want));
	else
		pf(o, "warning", "syscall_hooks = %s: %s: %s will be used "
		    "instead", sg_hooks_name(want), p->hooks.why_not[want],
		    sg_hooks_describe(plan[0]));
	if (plan[0] == SG_HOOKS_TRACEPOINT && p->tracefs_mounted)
		pf(o, "ok", "tracefs mounted by spyglass at %s",
		    p->tracefs_path);
	if (plan[0] == SG_HOOKS_TRACEPOINT && p->tracefs_mountable)
		pf(o, "ok", "tracefs is not mounted: spyglass will mount it "
		    "at %s when it starts", SG_TRACEFS);
	for (int i = 0; i < n; i++)
		snprintf(offered + strlen(offered), sizeof(offered) -
		    strlen(offered), "%s%s", i > 0 ? ", " : "",
		    sg_hooks_name(plan[i]));
	pf(o, "ok", "hooks this kernel offers, in the order they would be "
	    "tried: %s", offered);
	for (int h = SG_HOOKS_TRACEPOINT; h < SG_HOOKS_KINDS; h++)
		if (!p->hooks.usable[h])
			pf(o, "info", "hooks %s not offered: %s",
			    sg_hooks_name(h), p->hooks.why_not[h]);
	if (!c->ebpf.tls)
		pf(o, "ok", "TLS: off (ebpf.tls = false): no uprobes");
	else if (p->hooks.uprobes)
		pf(o, "ok", "TLS: uprobes on OpenSSL's SSL_read/SSL_write (and "
		    "_ex forms, or the inner functions both forms call) in the "
		    "libssl or executable a selected process maps; this kernel "
		    "asks %s for them",
		    p->hooks.uprobes_need_admin ? "cap_sys_admin (kept)" :
		    "cap_perfmon");
	else if (c->enforce_sys_caps)
		pf(o, "error", "TLS: %s (enforce_sys_caps = true)",
		    p->hooks.uprobes_why);
	else
		pf(o, "warning", "TLS plaintext will not be seen: %s",
		    p->hooks.uprobes_why);
	if (!p->hooks.atomics)
		pf(o, "info", "no BPF atomics (Linux 5.12+): every hook looks "
		    "processes up in the pid map, without the bitmap in front");
}

int
preflight_cgroup2(const struct sg_config *c, char *out, size_t n)
{
	char dev[64], dir[256], type[32];
	int found = -1;
	FILE *f;

	if (c->ebpf.propagation_cgroup[0] != '\0') {
		snprintf(out, n, "%s", c->ebpf.propagation_cgroup);
		return 0;
	}
	if ((f = fopen("/proc/self/mounts", "re")) == NULL)
		return -1;
	while (fscanf(f, "%63s %255s %31s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(out, n, "%s", dir);
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

/* What propagation asks of the kernel: a cgroup v2 directory for the
 * sockops program, and the socket or fentry hooks, whose inet_sock_set_state
 * program marks the client sockets of selected processes in their
 * socket storage, where sockops reads it. */
static void
pf_report_propagation(struct pf_out *o, const struct sg_config *c,
    const struct sg_preflight *p)
{
	enum sg_propagation m = sg_config_propagation(c);
	enum sg_hooks plan[SG_HOOKS_KINDS];
	char cg[256];
	struct statfs fs;

	if (m == SG_PROPAGATION_DISABLED) {
		pf(o, "ok", "context propagation: disabled");
		return;
	}
	if (preflight_cgroup2(c, cg, sizeof(cg)) != 0) {
		pf(o, "error", "context propagation: no cgroup v2 mounted (see "
		    "/proc/self/mounts); set [ebpf] propagation_cgroup");
		return;
	}
	if (statfs(cg, &fs) != 0) {
		pf(o, "error", "context propagation: cgroup %s: %s", cg,
		    strerror(errno));
		return;
	}
	if (fs.f_type != CGROUP2_SUPER_MAGIC) {
		pf(o, "error", "context propagation: %s is not a cgroup v2 "
		    "directory (propagation_cgroup)", cg);
		return;
	}
	sg_hooks_plan(c->ebpf.syscall_hooks, &p->hooks, plan);
	if (!sg_hooks_propagate(plan[0]))
		pf(o, "warning", "context propagation: needs the socket or "
		    "fentry hooks, and %s will be used: no context will be "
		    "propagated", sg_hooks_name(plan[0]));
	else if (m != SG_PROPAGATION_HEADERS && !sg_hooks_sockops_thread())
		pf(o, "info", "context propagation: sockops programs cannot "
		    "tell the writing thread on this kernel (6.10+): an sk_msg "
		    "program will draw the TCP option's context (the client "
		    "connections then go through the sockmap's send path)");
	if (sg_hooks_propagate(plan[0]))
		pf(o, "ok", "context propagation: %s%s%s; sockops on %s "
		    "(cap_net_admin)",
		    m != SG_PROPAGATION_IP ? "traceparent in HTTP/1 requests "
		    "(sk_msg)" : "",
		    m == SG_PROPAGATION_ALL ? ", " : "",
		    m != SG_PROPAGATION_HEADERS ? "TCP header option "
		    "(sockops)" : "", cg);
}

static void
pf_report_caps(struct pf_out *o, const struct sg_config *c,
    const struct sg_preflight *p)
{
	uint64_t missing = p->caps_needed & ~p->caps_held;
	char buf[512];

	if (missing == 0) {
		privs_format(p->caps_needed, buf, sizeof(buf));
		pf(o, "ok", "capabilities %s", buf);
		return;
	}
	privs_format(missing, buf, sizeof(buf));
	if (c->enforce_sys_caps)
		pf(o, "error", "missing capabilities: %s (enforce_sys_caps = "
		    "true)", buf);
	else
		pf(o, "warning", "missing capabilities: %s: the sensor will "
		    "likely fail (enforce_sys_caps = false)", buf);
}

static void
pf_report_config(struct pf_out *o, const struct sg_config *c,
    const struct sg_preflight *p)
{
	char *text, *line, *save = NULL;
	int n;

	/* The exporter runs with no capabilities at all. */
	if (c->prom.port != 0 && p->port_start > 0 &&
	    c->prom.port < p->port_start)
		pf(o, "warning", "prometheus_export.port = %u is below "
		    "net.ipv4.ip_unprivileged_port_start (%d): the unprivileged "
		    "exporter cannot bind it", (unsigned)c->prom.port,
		    p->port_start);
	if ((text = pf_inert_text(c, &n)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		pf(o, "warning", "%s", line);
	free(text);
}

static void
preflight_report(struct pf_out *o, const struct sg_config *c,
    const struct sg_preflight *p)
{
	pf_report_kernel(o, p);
	pf_report_hooks(o, c, p);
	pf_report_propagation(o, c, p);
	pf_report_caps(o, c, p);
	pf_report_config(o, c, p);
}

void
preflight_run(const struct sg_config *c, struct sg_preflight *p,
    bool may_mount)
{
	struct pf_out count = { .f = NULL };
	struct utsname u;
	char why[160];

	memset(p, 0, sizeof(*p));
	if (uname(&u) == 0)
		snprintf(p->kernel, sizeof(p->kernel), "%s", u.release);
	else
		snprintf(p->kernel, sizeof(p->kernel), "unknown");
	p->btf = access(SG_BTF_PATH, R_OK) == 0;
	pf_check_bpf(p);
	p->perf_paranoid = pf_read_int(SG_PERF_PARANOID);
	pf_check_tracefs(c, p, may_mount);
	pf_tracefs_why(p, why, sizeof(why));
	sg_hooks_probe(&p->hooks, (p->tracefs || p->tracefs_mountable) &&
	    p->perf_paranoid <= 2, why, p->perf_paranoid);
	p->caps_held = privs_held();
	p->caps_needed = privs_needed(c, p->hooks.uprobes_need_admin);
	if (p->tracefs_mounted)
		p->caps_needed |= SG_CAPBIT(CAP_SYS_ADMIN);
	p->port_start = pf_read_int(SG_PORT_START);
	free(pf_inert_text(c, &p->inert));
	preflight_report(&count, c, p);
	p->errors = count.errors;
	p->warnings = count.warnings;
}

void
preflight_print(FILE *f, const struct sg_config *c,
    const struct sg_preflight *p)
{
	struct pf_out out = { .f = f };

	preflight_report(&out, c, p);
}
