/*
 * seccomp allowlists for the unprivileged children (see sandbox.h).
 *
 * The children apply their filter right after opening their IPC sockets,
 * when nng has already started its threads, so the filter is loaded with
 * TSYNC: every thread of the process gets it, or loading fails.  The lists
 * were found by running the children's IPC pattern under the debug filter
 * and strace -f (tests/unit/test_sandbox.c keeps that honest).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"

/* Exit status of a child stopped by the debug filter (128 + SIGSYS). */
#define SG_SANDBOX_DEBUG_EXIT 159
/* Syscall numbers whose names are looked up before the filter is loaded,
 * so the SIGSYS handler can print them without calling libseccomp. */
#define SG_SANDBOX_NAMES 512

const struct sg_syscall_rule sg_sandbox_base[] = {
	/* I/O on descriptors that are already open: stderr logging, stdout
	 * (trace printer), nng's ipc pipes (readv in, sendmsg out) */
	{ SCMP_SYS(read), SG_ANY },
	{ SCMP_SYS(write), SG_ANY },
	{ SCMP_SYS(readv), SG_ANY },
	{ SCMP_SYS(writev), SG_ANY },
	{ SCMP_SYS(recvmsg), SG_ANY },
	{ SCMP_SYS(sendmsg), SG_ANY },
	{ SCMP_SYS(close), SG_ANY },
	/* stdio may seek a stream it flushes */
	{ SCMP_SYS(lseek), SG_ANY },
	/* nng's poller thread: epoll plus a wake-up descriptor (an eventfd,
	 * or a pipe).  arm64 has only epoll_pwait and ppoll. */
	{ SCMP_SYS(epoll_create1), SG_ANY },
	{ SCMP_SYS(epoll_ctl), SG_ANY },
	{ SCMP_SYS(epoll_wait), SG_ANY },
	{ SCMP_SYS(epoll_pwait), SG_ANY },
	{ SCMP_SYS(eventfd2), SG_ANY },
	{ SCMP_SYS(pipe2), SG_ANY },
	{ SCMP_SYS(poll), SG_ANY },
	{ SCMP_SYS(ppoll), SG_ANY },
	/* nng makes its descriptors non-blocking (F_GETFL/F_SETFL) */
	{ SCMP_SYS(fcntl), SG_ANY },
	/* sockets that exist: SO_ERROR after a connect in progress,
	 * SO_PEERCRED (the peer uid check in ipc.c), buffer sizes; shutdown
	 * when nng closes a pipe */
	{ SCMP_SYS(getsockopt), SG_ANY },
	{ SCMP_SYS(setsockopt), SG_ANY },
	{ SCMP_SYS(getsockname), SG_ANY },
	{ SCMP_SYS(getpeername), SG_ANY },
	{ SCMP_SYS(shutdown), SG_ANY },
	/* locks, condition variables, timers (clock_gettime and
	 * gettimeofday are usually served by the vDSO, not always) */
	{ SCMP_SYS(futex), SG_ANY },
	{ SCMP_SYS(nanosleep), SG_ANY },
	{ SCMP_SYS(clock_nanosleep), SG_ANY },
	{ SCMP_SYS(clock_gettime), SG_ANY },
	{ SCMP_SYS(clock_getres), SG_ANY },
	{ SCMP_SYS(gettimeofday), SG_ANY },
	{ SCMP_SYS(sched_yield), SG_ANY },
	{ SCMP_SYS(sched_getaffinity), SG_ANY },
	/* the kernel restarts a sleep interrupted by a signal with this */
	{ SCMP_SYS(restart_syscall), SG_ANY },
	/* who am I: logging (getpid), the peer uid check (geteuid), a
	 * child noticing that the loader is gone (getppid) */
	{ SCMP_SYS(getpid), SG_ANY },
	{ SCMP_SYS(gettid), SG_ANY },
	{ SCMP_SYS(getppid), SG_ANY },
	{ SCMP_SYS(getuid), SG_ANY },
	{ SCMP_SYS(geteuid), SG_ANY },
	{ SCMP_SYS(getgid), SG_ANY },
	{ SCMP_SYS(getegid), SG_ANY },
	/* gethostname() is uname(2) (host.name resource attribute) */
	{ SCMP_SYS(uname), SG_ANY },
	/* glibc's qsort() sizes its buffer by physical memory */
	{ SCMP_SYS(sysinfo), SG_ANY },
	/* malloc and thread stacks (mmap and mprotect are argument-checked
	 * in sg_sandbox_add_checked) */
	{ SCMP_SYS(munmap), SG_ANY },
	{ SCMP_SYS(mremap), SG_ANY },
	{ SCMP_SYS(brk), SG_ANY },
	{ SCMP_SYS(madvise), SG_ANY },
	/* signal handling (SIGTERM, SIGHUP, the debug SIGSYS handler) */
	{ SCMP_SYS(rt_sigaction), SG_ANY },
	{ SCMP_SYS(rt_sigprocmask), SG_ANY },
	{ SCMP_SYS(rt_sigreturn), SG_ANY },
	{ SCMP_SYS(sigaltstack), SG_ANY },
	/* thread start-up and exit (clone is argument-checked); nng names
	 * each thread from the thread itself, which may run after the filter
	 * is loaded */
	{ SCMP_SYS(set_robust_list), SG_ANY },
	{ SCMP_SYS(rseq), SG_ANY },
	{ SCMP_SYS(prctl), PR_SET_NAME },
	{ SCMP_SYS(exit), SG_ANY },
	{ SCMP_SYS(exit_group), SG_ANY },
	/* nng's random pipe ids and sequence numbers */
	{ SCMP_SYS(getrandom), SG_ANY },
	/* stdio's first write on a stream asks whether it is a terminal:
	 * fstat (newfstatat with AT_EMPTY_PATH), then TCGETS below */
	{ SCMP_SYS(fstat), SG_ANY },
	{ SCMP_SYS(newfstatat), SG_ANY },
};
const size_t sg_sandbox_base_len =
    sizeof(sg_sandbox_base) / sizeof(sg_sandbox_base[0]);

/* What the SIGSYS handler may use: nothing it has to compute. */
static const char *sg_sandbox_names[SG_SANDBOX_NAMES];
static char sg_sandbox_prog[64] = "spyglass";
static volatile sig_atomic_t sg_sandbox_in_selftest;

static size_t
sg_sandbox_cat(char *buf, size_t len, size_t sz, const char *s)
{
	while (*s != '\0' && len < sz)
		buf[len++] = *s++;
	return len;
}

static size_t
sg_sandbox_num(char *buf, size_t len, size_t sz, long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0 && n < sizeof(tmp));
	if (v < 0 && len < sz)
		buf[len++] = '-';
	while (n > 0 && len < sz)
		buf[len++] = tmp[--n];
	return len;
}

/* Make the refused syscall return -err to its caller instead of exiting.
 * Only the selftest wants that; false where we do not know the ABI. */
static bool
sg_sandbox_set_return(void *uctx, long err)
{
	ucontext_t *uc = uctx;

#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -err;
	return true;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-err;
	return true;
#else
	(void)uc;
	(void)err;
	return false;
#endif
}

/* Debug mode: name the refused syscall, then exit.  Async-signal-safe:
 * only write(2) and _exit(2), and tables filled before the filter. */
static void
sg_sandbox_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char buf[160];
	size_t n = 0, sz = sizeof(buf) - 1;
	int nr = si->si_syscall;
	const char *name = "?";
	int saved = errno;

	(void)sig;
	if (nr >= 0 && nr < SG_SANDBOX_NAMES && sg_sandbox_names[nr] != NULL)
		name = sg_sandbox_names[nr];
	n = sg_sandbox_cat(buf, n, sz, sg_sandbox_prog);
	n = sg_sandbox_cat(buf, n, sz, ": seccomp refused syscall ");
	n = sg_sandbox_cat(buf, n, sz, name);
	n = sg_sandbox_cat(buf, n, sz, " (");
	n = sg_sandbox_num(buf, n, sz, nr);
	n = sg_sandbox_cat(buf, n, sz, ")\n");
	(void)!write(STDERR_FILENO, buf, n);
	if (sg_sandbox_in_selftest && sg_sandbox_set_return(uctx, EPERM)) {
		errno = saved;
		return;
	}
	_exit(SG_SANDBOX_DEBUG_EXIT);
}

/* Look the names up now: libseccomp's resolver allocates, which the
 * handler must not do.  The strings are kept for the process lifetime. */
static void
sg_sandbox_resolve_names(void)
{
	for (int nr = 0; nr < SG_SANDBOX_NAMES; nr++)
		if (sg_sandbox_names[nr] == NULL)
			sg_sandbox_names[nr] =
			    seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

static int
sg_sandbox_debug_handler(void)
{
	struct sigaction sa;
	sigset_t set;

	strncpy(sg_sandbox_prog, program_invocation_short_name,
	    sizeof(sg_sandbox_prog) - 1);
	sg_sandbox_resolve_names();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sg_sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		sg_log(SG_LOG_ERR, "sandbox: sigaction SIGSYS: %s",
		    strerror(errno));
		return -1;
	}
	/* A thread that blocks SIGSYS dies without the report (the kernel
	 * forces the default action); this one at least does not. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

static int
sg_sandbox_add(scmp_filter_ctx ctx, uint32_t action, int nr,
    unsigned int argc, const struct scmp_arg_cmp *cmp)
{
	int rc = seccomp_rule_add_array(ctx, action, nr, argc, cmp);

	if (rc == 0)
		return 0;
	/* SCMP_SYS() of a syscall this architecture does not have (poll,
	 * epoll_wait on arm64) is a negative pseudo number: nothing to allow. */
	if (nr < 0)
		return 0;
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sg_log(SG_LOG_ERR, "sandbox: rule for %s (%d): %s",
	    name ? name : "?", nr, strerror(-rc));
	free(name);
	return -1;
}

static int
sg_sandbox_add_table(scmp_filter_ctx ctx, const struct sg_syscall_rule *r,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* datum_b given although unused: clang warns otherwise. */
		struct scmp_arg_cmp eq = SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)r[i].arg0_eq, 0);
		uint32_t action = r[i].arg0_eq == SG_REFUSE ?
		    SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_ALLOW;

		if (sg_sandbox_add(ctx, action, r[i].nr,
		    r[i].arg0_eq >= 0 ? 1 : 0, &eq) < 0)
			return -1;
	}
	return 0;
}

/* Rules that look at arguments the table cannot express. */
static int
sg_sandbox_add_checked(scmp_filter_ctx ctx)
{
	/* Threads only (nng and libcurl start them): a fork or vfork would
	 * be a new process outside any supervision. */
	struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ,
	    CLONE_THREAD, CLONE_THREAD);
	/* No executable mappings: nothing is dlopen()ed after start-up and a
	 * payload cannot be turned into code. */
	struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	/* isatty() from stdio; no other ioctl. */
	struct scmp_arg_cmp tcgets = SCMP_A1(SCMP_CMP_EQ, TCGETS, 0);
	/* abort() and raise() signal this process; kill() of anything else
	 * (the loader runs as the same uid) is refused. */
	struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ,
	    (scmp_datum_t)getpid(), 0);

	if (sg_sandbox_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    &thread) < 0 ||
	    /* clone3 passes its flags in memory that seccomp cannot read:
	     * ENOSYS makes glibc fall back to clone, checked above. */
	    sg_sandbox_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0,
	    NULL) < 0 ||
	    sg_sandbox_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    &noexec) < 0 ||
	    sg_sandbox_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    &noexec) < 0 ||
	    sg_sandbox_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
	    &tcgets) < 0 ||
	    sg_sandbox_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    &self) < 0)
		return -1;
	return 0;
}

static int
sg_sandbox_attrs(scmp_filter_ctx ctx)
{
	int rc;

	/* Another ABI (int 0x80, x32) would bypass the table. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0 ||
	    /* nng's threads exist already. */
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		sg_log(SG_LOG_ERR, "sandbox: seccomp_attr_set: %s",
		    strerror(-rc));
		return -1;
	}
	/* A binary tree instead of a linear list: read/write are checked on
	 * every call.  Best effort. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	return 0;
}

int
sg_sandbox_apply(const struct sg_syscall_rule *rules, size_t n, bool debug)
{
	scmp_filter_ctx ctx;
	int rc;

	/* Also needed to load a filter without CAP_SYS_ADMIN; TSYNC gives it
	 * to the other threads. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		sg_log(SG_LOG_ERR, "sandbox: PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		return -1;
	}
	/* The service user may be shared (nobody): no other process of that
	 * uid may ptrace us or read our memory, and no core dump spills the
	 * payloads we hold. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		sg_log(SG_LOG_ERR, "sandbox: PR_SET_DUMPABLE: %s",
		    strerror(errno));
		return -1;
	}
	/* The first gmtime_r() (sg_log's timestamp) reads /etc/localtime;
	 * do it now, while files can still be opened. */
	tzset();
	ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		sg_log(SG_LOG_ERR, "sandbox: seccomp_init failed");
		return -1;
	}
	if (sg_sandbox_attrs(ctx) < 0 ||
	    sg_sandbox_add_table(ctx, sg_sandbox_base, sg_sandbox_base_len) < 0 ||
	    sg_sandbox_add_checked(ctx) < 0 ||
	    sg_sandbox_add_table(ctx, rules, n) < 0 ||
	    (debug && sg_sandbox_debug_handler() < 0)) {
		seccomp_release(ctx);
		return -1;
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		sg_log(SG_LOG_ERR, "sandbox: seccomp_load: %s", strerror(-rc));
		return -1;
	}
	sg_log(SG_LOG_DEBUG, "sandbox: seccomp filter loaded (%s)",
	    debug ? "debug: refused syscalls are reported" : "kill on refusal");
	return 0;
}

static int
sg_sandbox_try(const char *what)
{
	if (strcmp(what, "socket") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(what, "open") == 0)
		return open("/etc/passwd", O_RDONLY);
	if (strcmp(what, "exec") == 0) {
		char *const argv[] = { (char *)"true", NULL };
		char *const envp[] = { NULL };

		return execve("/bin/true", argv, envp);
	}
	errno = EINVAL;
	return -2;
}

int
sg_sandbox_selftest(const char *what)
{
	int fd, saved;

	sg_sandbox_in_selftest = 1;
	fd = sg_sandbox_try(what);
	saved = errno;
	sg_sandbox_in_selftest = 0;
	if (fd == -2) {
		sg_log(SG_LOG_ERR, "sandbox selftest: unknown operation %s",
		    what);
		return -1;
	}
	if (fd >= 0) {
		close(fd);
		sg_log(SG_LOG_ERR, "sandbox selftest: %s was allowed", what);
		return -1;
	}
	/* EPERM is what the debug handler answers; anything else means the
	 * filter let the call through and it failed on its own. */
	if (saved != EPERM) {
		sg_log(SG_LOG_ERR, "sandbox selftest: %s was not refused by "
		    "the filter (failed with %s)", what, strerror(saved));
		return -1;
	}
	sg_log(SG_LOG_INFO, "sandbox selftest: %s refused: %s", what,
	    strerror(saved));
	return 0;
}
