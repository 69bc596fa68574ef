/*
 * The I/O hooks: which kinds this kernel offers (probed once at start),
 * the order in which to try them (the configured kind first, then the
 * cheapest), and which BPF programs each kind loads.  bpf_attach.c loads
 * the first kind of the plan that loads and attaches.
 *
 * Cheapest first, as measured (bench/RESULTS.md, "I/O hooks"): socket
 * tracepoints, fentry, raw syscall tracepoints, kprobes (a kprobe and a
 * kretprobe per send and receive, of every process, cost more than the
 * raw tracepoints' early return); kprobes stay as the last resort.
 * Per-syscall tracepoints cost as much as the raw ones and need tracefs:
 * only when configured.
 */
#ifndef SG_HOOKS_H
#define SG_HOOKS_H

#include <stdbool.h>

#include "config.h"

#define SG_HOOKS_KINDS (SG_HOOKS_KPROBE + 1)   /* enum sg_hooks values */

struct sg_hooks_probe {
	bool usable[SG_HOOKS_KINDS];       /* by enum sg_hooks; not AUTO */
	char why_not[SG_HOOKS_KINDS][160]; /* when not usable */
	bool sendpage;                     /* tcp_sendpage exists (< 6.5) */
	bool atomics;                      /* BPF atomic or/and (5.12+) */
	bool loop_helper;                  /* bpf_loop (5.17+): a verifier that
	                                    * takes the full capture */
	bool uprobes;                      /* uprobes can be attached: TLS
	                                    * plaintext from OpenSSL */
	bool uprobes_need_admin;           /* ...with cap_sys_admin only */
	char uprobes_why[200];             /* when not */
};

/* Probe every kind: the kernel's BTF (parsed once), a trial fexit
 * program, the kprobe PMU, tracefs (its finding comes from preflight);
 * and BPF atomics, which the process programs use where they exist.
 * perf_paranoid: kernel.perf_event_paranoid (-1 unknown); above 2 (a
 * Debian and Ubuntu patch) opening a perf event, which attaching a
 * kprobe or a syscall tracepoint takes, needs cap_sys_admin. */
void sg_hooks_probe(struct sg_hooks_probe *p, bool tracefs,
    const char *tracefs_why, int perf_paranoid);
/* The kinds to try, in order, for the configured kind: it first when
 * usable, then the usable ones cheapest first.  Returns how many (at
 * least raw, which every supported kernel has). */
int sg_hooks_plan(enum sg_hooks configured, const struct sg_hooks_probe *p,
    enum sg_hooks plan[SG_HOOKS_KINDS]);
/* The configuration value's name (socket, fentry, ...). */
const char *sg_hooks_name(enum sg_hooks h);
/* What it hooks, for messages. */
const char *sg_hooks_describe(enum sg_hooks h);
/* Whether kind h can carry trace context propagation: its
 * inet_sock_set_state program marks client sockets in the socket storage
 * the sockops program reads (socket and fentry kinds). */
bool sg_hooks_propagate(enum sg_hooks h);
/* Whether sockops programs may ask for the current thread (6.10+). */
bool sg_hooks_sockops_thread(void);
/* Whether the BPF program of that name belongs to kind h here. */
bool sg_hooks_program_wanted(const char *prog, enum sg_hooks h,
    const struct sg_hooks_probe *p);

#endif
