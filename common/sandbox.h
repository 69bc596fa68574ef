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
#define SG_ANY    (-1)
/* arg0_eq = SG_REFUSE: fail with EPERM instead of killing, for calls a
 * library makes whose failure it ignores (nng unlinks its socket file when
 * a listener closes; the next listener removes a stale one anyway). */
#define SG_REFUSE (-2)

/* Set PR_SET_NO_NEW_PRIVS and load the filter (with TSYNC): the base
 * rules below, a few argument-checked rules every child needs (clone only
 * for threads, no PROT_EXEC mappings, ioctl only TCGETS, tgkill only to
 * itself) and `rules`.  Syscalls not allowed kill the process (debug: a
 * SIGSYS handler reports them by name and exits with status 159). */
int sg_sandbox_apply(const struct sg_syscall_rule *rules, size_t n,
    bool debug);
/* The rules every child needs (memory, time, IPC, nng's threads, exit). */
extern const struct sg_syscall_rule sg_sandbox_base[];
extern const size_t sg_sandbox_base_len;

/* Per-role tables, in collector/ and exporter/. */
int sg_sandbox_collector(bool debug);
int sg_sandbox_exporter(bool debug);

/* After the filter is applied, try something it must refuse: "socket"
 * (an AF_INET socket), "open" (/etc/passwd) or "exec" (/bin/true).
 * Returns 0 when it was refused with an error, which happens only in debug
 * mode (the SIGSYS handler makes the call fail with EPERM instead of
 * exiting); without debug the process is killed by SIGSYS.  Returns -1
 * when the operation was allowed (an exec that is allowed never returns:
 * the process becomes /bin/true) or `what` is unknown. */
int sg_sandbox_selftest(const char *what);

#endif
