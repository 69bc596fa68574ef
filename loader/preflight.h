/*
 * Start-up checks: kernel, BTF, bpf() usable, tracefs (mounted when
 * missing and allowed), capabilities held versus needed.  `spyglass check`
 * prints the findings; the loader refuses to start on an error.
 */
#ifndef SG_PREFLIGHT_H
#define SG_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "hooks.h"

struct sg_preflight {
	char     kernel[128];
	bool     btf;              /* /sys/kernel/btf/vmlinux readable */
	bool     bpf;              /* a trivial map could be created */
	bool     tracefs;          /* syscall tracepoints available */
	bool     tracefs_mounted;  /* we mounted it */
	bool     tracefs_mountable;/* check only: a start would mount it */
	char     tracefs_path[64];
	struct sg_hooks_probe hooks;  /* the I/O hooks this kernel offers */
	uint64_t caps_held;
	uint64_t caps_needed;      /* start-up and run time */
	int      bpf_err;          /* errno when !bpf */
	int      tracefs_err;      /* errno of a failed tracefs mount */
	int      inert;            /* keys set that have no effect yet */
	int      perf_paranoid;    /* kernel.perf_event_paranoid, -1 unknown */
	int      port_start;       /* net.ipv4.ip_unprivileged_port_start,
	                            * -1 unknown */
	int      errors;
	int      warnings;
};

/* Run every check; may_mount allows mounting tracefs. */
void preflight_run(const struct sg_config *c, struct sg_preflight *p,
    bool may_mount);
/* One line per finding: "ok", "warning" or "error" and what. */
void preflight_print(FILE *f, const struct sg_config *c,
    const struct sg_preflight *p);

/* The cgroup v2 directory propagation attaches to: propagation_cgroup,
 * else where cgroup2 is mounted (/proc/self/mounts).  -1 when none. */
int  preflight_cgroup2(const struct sg_config *c, char *out, size_t n);

#endif
