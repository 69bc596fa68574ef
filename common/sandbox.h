/*
 * seccomp allowlists for the unprivileged children (chrony's sys_linux.c
 * style: a table per process, applied with libseccomp, kill by default).
 * With debug set, a refused syscall is reported by name on stderr (SIGSYS
 * handler) before the process exits, instead of dying silently.
 */
#ifndef SG_SANDBOX_H
#define SG_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

struct sg_syscall_rule {
	int nr;              /* syscall number (SCMP_SYS(...)) */
	int arg0_eq;         /* >= 0: allow only when arg0 equals this */
};
#define SG_ANY (-1)

/* Set PR_SET_NO_NEW_PRIVS and load the filter (with TSYNC).  Syscalls not
 * in the table kill the process (debug: SIGSYS reports them). */
int sg_sandbox_apply(const struct sg_syscall_rule *rules, size_t n,
    bool debug);
/* The rules every child needs (memory, time, IPC, nng's threads, exit). */
extern const struct sg_syscall_rule sg_sandbox_base[];
extern const size_t sg_sandbox_base_len;

/* Per-role tables, in collector/ and exporter/. */
int sg_sandbox_collector(bool debug);
int sg_sandbox_exporter(bool debug);

#endif
