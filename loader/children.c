/*
 * The two unprivileged children (see children.h).
 *
 * Everything the child needs between fork and exec (paths, argv, ids) is
 * computed in children_init(), because the child of a threaded process
 * may only make async-signal-safe calls: no malloc, no stdio, no sg_log.
 *
 * Times given by the caller (now_ms) must be CLOCK_MONOTONIC milliseconds;
 * how long a child ran is measured here with the same clock.
 */
#include "children.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "clock.h"
#include "log.h"

#define SG_BACKOFF_MIN_MS   100
#define SG_BACKOFF_MAX_MS   10000
#define SG_BACKOFF_RESET_MS 30000   /* a run this long was a good one */
#define SG_STOP_POLL_MS     20
#define SG_EXIT_EXEC        127     /* the child could not be started */
#define SG_EXIT_SECCOMP     159     /* sandbox_debug reported a syscall */
#define SG_CAP_MAX          64

struct sg_child_state {
	const char *name;
	char        path[PATH_MAX];
	char       *argv[12];
	pid_t       pid;          /* -1: not running */
	bool        otlp;         /* started with -O */
	bool        replacing;    /* stopped by children_restart() */
	uint64_t    started_ms;
	uint64_t    restart_at;   /* 0: no restart scheduled */
	uint32_t    backoff_ms;   /* delay before the next restart */
	uint64_t    restarts;
};

static struct sg_child_state sg_children[SG_CHILD_MAX] = {
	[SG_CHILD_COLLECTOR] = { .name = "collector", .pid = -1 },
	[SG_CHILD_EXPORTER] = { .name = "exporter", .pid = -1 },
};
static struct sg_children_opts sg_opts;
static char sg_runtime_dir[PATH_MAX];
static char sg_log_level[32];
static char sg_ca_file[PATH_MAX];
static bool sg_stopping;
static int sg_max_fd = 1024;   /* for kernels without close_range */

/* The command line, from sg_opts, whose strings are our copies. */
static void
sg_child_argv(struct sg_child_state *ch, enum sg_child which)
{
	int n = 0;

	ch->argv[n++] = ch->path;
	ch->argv[n++] = (char *)"-r";
	ch->argv[n++] = sg_runtime_dir;
	ch->argv[n++] = (char *)"-l";
	ch->argv[n++] = sg_log_level;
	if (sg_opts.sandbox_debug)
		ch->argv[n++] = (char *)"-S";
	/* The exporter loads libcurl and reads its CA bundle before its
	 * sandbox, and libcurl only when it is needed. */
	if (which == SG_CHILD_EXPORTER && sg_opts.otlp)
		ch->argv[n++] = (char *)"-O";
	if (which == SG_CHILD_EXPORTER && sg_ca_file[0] != '\0') {
		ch->argv[n++] = (char *)"-C";
		ch->argv[n++] = sg_ca_file;
	}
	ch->argv[n] = NULL;
}

void
children_init(const struct sg_children_opts *o)
{
	long max;

	sg_opts = *o;
	snprintf(sg_runtime_dir, sizeof(sg_runtime_dir), "%s", o->runtime_dir);
	snprintf(sg_log_level, sizeof(sg_log_level), "%s",
	    o->log_level ? o->log_level : "info");
	snprintf(sg_ca_file, sizeof(sg_ca_file), "%s",
	    o->ca_file ? o->ca_file : "");
	sg_opts.runtime_dir = sg_runtime_dir;
	sg_opts.log_level = sg_log_level;
	sg_opts.ca_file = sg_ca_file;
	for (int i = 0; i < SG_CHILD_MAX; i++) {
		struct sg_child_state *ch = &sg_children[i];

		if (snprintf(ch->path, sizeof(ch->path), "%s/spyglass-%s",
		    o->helper_dir, ch->name) >= (int)sizeof(ch->path))
			sg_log(SG_LOG_ERR, "children: helper path too long");
		sg_child_argv(ch, (enum sg_child)i);
		ch->backoff_ms = SG_BACKOFF_MIN_MS;
	}
	if ((max = sysconf(_SC_OPEN_MAX)) > 0)
		sg_max_fd = max > 65536 ? 65536 : (int)max;
	sg_stopping = false;
}

/* ---- in the child, between fork and exec: async-signal-safe only */

static _Noreturn void
sg_child_fail(const struct sg_child_state *ch, const char *what)
{
	char buf[256], num[16];
	size_t n = 0, k = 0;
	int e = errno;
	const char *parts[] = { "spyglass: ", ch->name, ": ", what,
		" failed, errno ", NULL };

	for (int i = 0; parts[i] != NULL; i++)
		for (const char *p = parts[i]; *p && n < sizeof(buf) - 20; p++)
			buf[n++] = *p;
	do
		num[k++] = (char)('0' + e % 10);
	while ((e /= 10) != 0 && k < sizeof(num));
	while (k > 0)
		buf[n++] = num[--k];
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
	_exit(SG_EXIT_EXEC);
}

/* While still root: nothing the child executes can gain capabilities.
 * Without CAP_SETPCAP (already dropped, or never held) there is nothing
 * to do: the loader emptied its own bounding set, and no_new_privs stops
 * file capabilities anyway. */
static void
sg_child_drop_bounding(void)
{
	for (int i = 0; i < SG_CAP_MAX; i++)
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno == EINVAL)
			break;
}

static void
sg_child_switch_user(const struct sg_child_state *ch)
{
	gid_t gid = sg_opts.gid;

	if (sg_opts.uid == 0) {
		errno = EPERM;
		sg_child_fail(ch, "refusing to run as root: switch user");
	}
	if (setgroups(1, &gid) < 0)
		sg_child_fail(ch, "setgroups");
	if (setresgid(gid, gid, gid) < 0)
		sg_child_fail(ch, "setresgid");
	if (setresuid(sg_opts.uid, sg_opts.uid, sg_opts.uid) < 0)
		sg_child_fail(ch, "setresuid");
}

static void
sg_child_reset_signals(void)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* Handlers are reset by exec, ignored signals (SIGPIPE) are not. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The collector's channel as its descriptors SG_CHAN_FD_MEM and _WAKE
 * (dup2 clears close-on-exec).  Both are first moved above those two, so
 * that neither move lands on the other's old number. */
static int
sg_child_pass_channel(void)
{
	int mem = fcntl(sg_opts.collector_fds[0], F_DUPFD, SG_CHAN_FD_WAKE + 1);
	int wake = fcntl(sg_opts.collector_fds[1], F_DUPFD, SG_CHAN_FD_WAKE + 1);

	if (mem < 0 || wake < 0 || dup2(mem, SG_CHAN_FD_MEM) < 0 ||
	    dup2(wake, SG_CHAN_FD_WAKE) < 0)
		return -1;
	return SG_CHAN_FD_WAKE + 1;
}

static void
sg_child_close_fds(unsigned from)
{
	int fd;

	/* stdin: the children read nothing from the loader's terminal */
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		if (fd != STDIN_FILENO) {
			(void)dup2(fd, STDIN_FILENO);
			(void)close(fd);
		}
	}
	/* BPF maps, the ring buffer, nng's sockets: none may leak. */
	if (syscall(SYS_close_range, from, ~0U, 0U) == 0)
		return;
	for (fd = (int)from; fd < sg_max_fd; fd++)
		(void)close(fd);
}

static _Noreturn void
sg_child_exec(const struct sg_child_state *ch, pid_t loader)
{
	extern char **environ;
	int first = 3;

	if (geteuid() == 0 || getuid() == 0) {
		sg_child_drop_bounding();
		sg_child_switch_user(ch);
	}
	/* Ambient capabilities would survive the exec. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		sg_child_fail(ch, "PR_CAP_AMBIENT_CLEAR_ALL");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sg_child_fail(ch, "PR_SET_NO_NEW_PRIVS");
	/* After the uid switch: changing credentials clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		sg_child_fail(ch, "PR_SET_PDEATHSIG");
	if (getppid() != loader)
		_exit(1);   /* the loader died before we could notice */
	if (ch == &sg_children[SG_CHILD_COLLECTOR]) {
		if ((first = sg_child_pass_channel()) < 0)
			sg_child_fail(ch, "the channel's descriptors");
	}
	sg_child_close_fds((unsigned)first);
	sg_child_reset_signals();
	execve(ch->path, ch->argv, environ);
	sg_child_fail(ch, ch->path);
}

/* ---- in the loader */

pid_t
children_spawn(enum sg_child which)
{
	struct sg_child_state *ch;
	sigset_t all, old;
	pid_t loader = getpid(), pid;
	int saved;

	if ((unsigned)which >= SG_CHILD_MAX)
		return -1;
	ch = &sg_children[which];
	if (ch->pid > 0)
		return ch->pid;
	/* No loader signal handler may run in the child before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		sg_child_exec(ch, loader);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		sg_log(SG_LOG_ERR, "children: fork %s: %s", ch->name,
		    strerror(saved));
		return -1;
	}
	ch->pid = pid;
	ch->otlp = sg_opts.otlp;
	ch->started_ms = sg_mono_ms();
	ch->restart_at = 0;
	sg_log(SG_LOG_INFO, "started %s (pid %d)", ch->name, (int)pid);
	return pid;
}

static void
sg_child_log_exit(const struct sg_child_state *ch, pid_t pid, int st,
    enum sg_log_level lvl)
{
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);

		sg_log(lvl, "%s (pid %d) exited with status %d%s", ch->name,
		    (int)pid, code,
		    code == SG_EXIT_SECCOMP ?
		    " (its seccomp filter refused a syscall, named above)" :
		    code == SG_EXIT_EXEC ? " (could not be started)" : "");
	} else if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);

		sg_log(lvl, "%s (pid %d) killed by signal %d (%s)%s%s",
		    ch->name, (int)pid, sig, strsignal(sig),
		    WCOREDUMP(st) ? ", core dumped" : "",
		    sig == SIGSYS ? ": its seccomp filter refused a syscall "
		    "(sandbox_debug = true names it)" : "");
	}
}

/* The child has gone: log it and, unless stopping, schedule a restart. */
static void
sg_child_gone(struct sg_child_state *ch, int st, uint64_t now_ms)
{
	pid_t pid = ch->pid;
	bool planned = ch->replacing;

	ch->pid = -1;
	ch->replacing = false;
	sg_child_log_exit(ch, pid, st, sg_stopping || planned ? SG_LOG_INFO :
	    SG_LOG_WARN);
	if (sg_stopping)
		return;
	/* Stopped by children_restart(): no failure, so no backoff. */
	if (planned && children_spawn((enum sg_child)(ch - sg_children)) > 0)
		return;
	if (sg_mono_ms() - ch->started_ms >= SG_BACKOFF_RESET_MS)
		ch->backoff_ms = SG_BACKOFF_MIN_MS;
	ch->restart_at = now_ms + ch->backoff_ms;
	if (ch->restart_at == 0)
		ch->restart_at = 1;
	sg_log(SG_LOG_INFO, "restarting %s in %u ms", ch->name,
	    ch->backoff_ms);
	ch->backoff_ms = ch->backoff_ms * 2 > SG_BACKOFF_MAX_MS ?
	    SG_BACKOFF_MAX_MS : ch->backoff_ms * 2;
}

/* Returns 1 when the child was reaped. */
static int
sg_child_reap(struct sg_child_state *ch, uint64_t now_ms)
{
	pid_t r;
	int st = 0;

	if (ch->pid <= 0)
		return 0;
	while ((r = waitpid(ch->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return 0;
	if (r < 0) {
		/* ECHILD: someone else reaped it (SIGCHLD ignored?) */
		sg_log(SG_LOG_WARN, "children: waitpid %s: %s", ch->name,
		    strerror(errno));
		st = 0;
	}
	sg_child_gone(ch, st, now_ms);
	return 1;
}

void
children_reap(uint64_t now_ms)
{
	for (int i = 0; i < SG_CHILD_MAX; i++)
		sg_child_reap(&sg_children[i], now_ms);
}

void
children_tick(uint64_t now_ms)
{
	for (int i = 0; i < SG_CHILD_MAX; i++) {
		struct sg_child_state *ch = &sg_children[i];

		if (sg_stopping || ch->restart_at == 0 || now_ms < ch->restart_at)
			continue;
		ch->restart_at = 0;
		ch->restarts++;
		if (children_spawn((enum sg_child)i) < 0) {
			ch->restart_at = now_ms + ch->backoff_ms;
			ch->backoff_ms = ch->backoff_ms * 2 > SG_BACKOFF_MAX_MS ?
			    SG_BACKOFF_MAX_MS : ch->backoff_ms * 2;
		}
	}
}


uint64_t
children_restarts(enum sg_child which)
{
	return (unsigned)which < SG_CHILD_MAX ?
	    sg_children[which].restarts : 0;
}

pid_t
children_pid(enum sg_child which)
{
	return (unsigned)which < SG_CHILD_MAX ? sg_children[which].pid : -1;
}

const char *
children_name(enum sg_child which)
{
	return (unsigned)which < SG_CHILD_MAX ? sg_children[which].name : "?";
}

bool
children_exporter_otlp(bool on)
{
	struct sg_child_state *ch = &sg_children[SG_CHILD_EXPORTER];

	sg_opts.otlp = on;
	sg_child_argv(ch, SG_CHILD_EXPORTER);
	return on && ch->pid > 0 && !ch->otlp;
}

void
children_restart(enum sg_child which)
{
	struct sg_child_state *ch;

	if ((unsigned)which >= SG_CHILD_MAX)
		return;
	ch = &sg_children[which];
	/* Not running: it will be started with the current options. */
	if (ch->pid <= 0 || ch->replacing)
		return;
	if (kill(ch->pid, SIGTERM) < 0) {
		sg_log(SG_LOG_WARN, "children: kill %s: %s", ch->name,
		    strerror(errno));
		return;
	}
	ch->replacing = true;
}

/* Send sig to every running child. */
static void
children_signal(int sig)
{
	for (int i = 0; i < SG_CHILD_MAX; i++)
		if (sg_children[i].pid > 0 && kill(sg_children[i].pid, sig) < 0)
			sg_log(SG_LOG_WARN, "children: kill %s: %s",
			    sg_children[i].name, strerror(errno));
}

static int
sg_children_running(void)
{
	int n = 0;

	for (int i = 0; i < SG_CHILD_MAX; i++)
		if (sg_children[i].pid > 0)
			n++;
	return n;
}

void
children_wait(enum sg_child which, int timeout_ms)
{
	struct timespec pause = { 0, SG_STOP_POLL_MS * 1000000L };
	uint64_t deadline = sg_mono_ms() + (uint64_t)(timeout_ms > 0 ?
	    timeout_ms : 0);

	sg_stopping = true;
	for (int i = 0; i < SG_CHILD_MAX; i++)
		sg_children[i].restart_at = 0;
	while (sg_children[which].pid > 0 && sg_mono_ms() < deadline) {
		children_reap(sg_mono_ms());
		if (sg_children[which].pid > 0)
			nanosleep(&pause, NULL);
	}
}

void
children_stop(int timeout_ms)
{
	struct timespec pause = { 0, SG_STOP_POLL_MS * 1000000L };
	uint64_t deadline;

	sg_stopping = true;
	for (int i = 0; i < SG_CHILD_MAX; i++)
		sg_children[i].restart_at = 0;
	children_signal(SIGTERM);
	deadline = sg_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		children_reap(sg_mono_ms());
		if (sg_children_running() == 0 || sg_mono_ms() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < SG_CHILD_MAX; i++) {
		struct sg_child_state *ch = &sg_children[i];
		int st = 0;

		if (ch->pid <= 0)
			continue;
		sg_log(SG_LOG_WARN, "%s (pid %d) did not stop in %d ms: "
		    "SIGKILL", ch->name, (int)ch->pid, timeout_ms);
		kill(ch->pid, SIGKILL);
		while (waitpid(ch->pid, &st, 0) < 0 && errno == EINTR)
			;
		sg_child_gone(ch, st, sg_mono_ms());
	}
}
