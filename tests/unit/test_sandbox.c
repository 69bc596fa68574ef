/*
 * The seccomp tables against the real thing: this program re-executes
 * itself as a fake collector and exporter that open their nng sockets the
 * way the children do (common/ipc.c: both listen for the loader, the
 * exporter dials the collector, every peer authenticated by pid), apply
 * their filter and then move messages, reconnect across an exporter
 * restart and shut down cleanly; this program plays the loader.
 * A syscall missing from a table shows as exit status 159 (debug filter)
 * or death by SIGSYS.  Then the selftests: forbidden operations must kill
 * (or, in debug mode, fail), threads must work and fork must not.
 *
 * Exit 0 when every case passes, 1 otherwise, 77 when seccomp is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "msg.h"
#include "sandbox.h"
#include "wire.h"

#define NMSG      20     /* loader -> collector -> exporter */
#define FIRST     5      /* the first exporter exits after this many */
#define STOP_TYPE SG_MSG_CONFIG
#define DATA_TYPE SG_MSG_SPANS
/* The stand-in collector's socket: the real one takes the loader's
 * messages from shared memory (chan.h, test_chan), the sandbox's rules
 * for accepting a pipe are what this exercises. */
#define TEST_COLLECTOR_BASE "collector"

static const char *self_exe = "/proc/self/exe";
static int failures;

/* ---- the children */

static int
apply(const char *role, bool debug)
{
	if (strcmp(role, "collector") == 0)
		return sg_sandbox_collector(debug);
	return sg_sandbox_exporter(debug);
}

/* What the Prometheus endpoint will do: listen, accept, talk. */
static int
exporter_tcp(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char buf[8] = "";
	int one = 1, l, c, a;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) < 0 ||
	    (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (a = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0 ||
	    write(c, "ping", 4) != 4) {
		sg_log(SG_LOG_ERR, "tcp: %s", strerror(errno));
		return -1;
	}
	fcntl(a, F_SETFL, 0);
	if (read(a, buf, 4) != 4 || memcmp(buf, "ping", 4) != 0)
		return -1;
	close(a);
	close(c);
	close(l);
	return 0;
}

/* One message, waiting at most ms for it, the way the children do:
 * poll on the socket's receive descriptor, then take it. */
static int
recv_wait(nng_socket s, struct sg_msg *m, int ms)
{
	struct pollfd pfd = { .events = POLLIN };
	int rv;

	if (nng_socket_get_int(s, NNG_OPT_RECVFD, &pfd.fd) != 0)
		return -1;
	for (int waited = 0; waited <= ms; waited += 100) {
		if ((rv = sg_ipc_recv(s, m)) != NNG_ETIMEDOUT)
			return rv;
		(void)poll(&pfd, 1, 100);
	}
	return NNG_ETIMEDOUT;
}

/* The pid of the other child, from the loader's SG_MSG_PEER. */
static int
peer_of(const struct sg_msg *m)
{
	uint32_t pid;

	return msg_get_peer(m->payload, m->size, &pid) == 0 ? (int)pid : -1;
}

static int
run_exporter(const char *dir, bool debug, int want)
{
	struct sg_ipc_peer loader = { .name = "loader" };
	struct sg_ipc_peer collector = { .name = "collector" };
	nng_socket from_loader, in;
	nng_dialer d = NNG_DIALER_INITIALIZER;
	struct sg_msg m;
	int got = 0, rv;

	atomic_store(&loader.pid, getppid());
	if (sg_ipc_listen(&from_loader, SG_IPC_PULL, dir, SG_IPC_EXPORTER,
	    &loader) < 0 ||
	    sg_ipc_socket(&in, SG_IPC_PULL, &collector) < 0 ||
	    sg_sandbox_exporter(debug) < 0)
		return 2;
	if (exporter_tcp() < 0)
		return 3;
	/* stdio after the filter: fstat and, on a terminal, TCGETS */
	printf("exporter: sandboxed, waiting for the collector's pid\n");
	fflush(stdout);
	if (recv_wait(from_loader, &m, 10000) != 0 || m.type != SG_MSG_PEER)
		return 4;
	/* as the exporter does: the collector is dialed once it is known */
	if (sg_ipc_redial(in, &d, dir, SG_IPC_SPANS, &collector,
	    peer_of(&m)) < 0)
		return 2;
	sg_ipc_msg_free(&m);
	for (;;) {
		if ((rv = recv_wait(in, &m, 10000)) != 0) {
			sg_log(SG_LOG_ERR, "exporter: recv: %d", rv);
			return 4;
		}
		bool stop = m.type == STOP_TYPE;
		sg_ipc_msg_free(&m);
		if (stop || (want > 0 && ++got == want))
			break;
	}
	/* Exit without nng_close: closing the dialer's socket was seen to
	 * hang in nng 1.5.2 (the exporter's shutdown does the same). */
	return 0;
}

static int
send_retry(nng_socket s, uint16_t type, const void *p, size_t len)
{
	int rv;

	for (int i = 0; i < 1000; i++) {
		if ((rv = sg_ipc_send(s, type, p, len)) == 0)
			return 0;
		if (rv < 0)
			return -1;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int
run_collector(const char *dir, bool debug)
{
	struct sg_ipc_peer loader = { .name = "loader" };
	struct sg_ipc_peer exporter = { .name = "exporter" };
	nng_socket in, out;
	struct sg_msg m;
	int rv;

	atomic_store(&loader.pid, getppid());
	if (sg_ipc_listen(&in, SG_IPC_PULL, dir, TEST_COLLECTOR_BASE,
	    &loader) < 0 ||
	    sg_ipc_listen(&out, SG_IPC_PUSH, dir, SG_IPC_SPANS,
	    &exporter) < 0 ||
	    sg_sandbox_collector(debug) < 0)
		return 2;
	for (;;) {
		if ((rv = recv_wait(in, &m, 10000)) != 0) {
			sg_log(SG_LOG_ERR, "collector: recv: %d", rv);
			return 4;
		}
		if (m.type == SG_MSG_PEER) {
			atomic_store(&exporter.pid, peer_of(&m));
			sg_ipc_msg_free(&m);
			continue;
		}
		bool stop = m.type == STOP_TYPE;
		rv = send_retry(out, m.type, m.payload, m.size);
		/* PUSH may hand a message to the pipe of an exporter that is
		 * exiting; the stop is repeated so the live one gets it. */
		for (int i = 0; stop && rv == 0 && i < 3; i++) {
			struct timespec gap = { 0, 50 * 1000000 };
			nanosleep(&gap, NULL);
			rv = send_retry(out, m.type, m.payload, m.size);
		}
		sg_ipc_msg_free(&m);
		if (rv < 0)
			return 5;
		if (stop)
			break;
	}
	/* Messages queue in the PUSH socket until an exporter is connected:
	 * wait for the second one (the first counts too), then let the
	 * stop message leave before the pipes go. */
	struct timespec ts = { 0, 20 * 1000000 };
	for (int i = 0; i < 500 && sg_ipc_connects(out) < 2; i++)
		nanosleep(&ts, NULL);
	ts.tv_nsec = 200 * 1000000;
	nanosleep(&ts, NULL);
	nng_close(in);
	nng_close(out);
	return 0;
}

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int
run_case(const char *what, const char *role, bool debug)
{
	if (apply(role, debug) < 0)
		return 2;
	if (strcmp(what, "threads") == 0) {
		pthread_t t;
		int v = 0;

		if (pthread_create(&t, NULL, thread_main, &v) != 0 ||
		    pthread_join(t, NULL) != 0 || v != 42)
			return 3;
		return 0;
	}
	if (strcmp(what, "fork") == 0) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		return 3;
	}
	if (strcmp(what, "getcwd") == 0) {
		char buf[64];

		syscall(SYS_getcwd, buf, sizeof(buf));
		return 3;
	}
	if (strcmp(what, "abort") == 0)
		abort();
	if (strcmp(what, "qsort") == 0) {
		/* large enough for glibc to ask for the physical memory size */
		static int v[4096];

		for (int i = 0; i < 4096; i++)
			v[i] = (i * 7919) % 4096;
		qsort(v, 4096, sizeof(v[0]), cmp_int);
		return v[0] == 0 && v[4095] == 4095 ? 0 : 3;
	}
	return sg_sandbox_selftest(what) == 0 ? 0 : 3;
}

static int
child_main(int argc, char **argv)
{
	bool debug = strcmp(argv[3], "debug") == 0;

	sg_log_init("spyglass-test", SG_LOG_INFO);
	if (strcmp(argv[1], "exporter") == 0)
		return run_exporter(argv[2], debug, argc > 4 ? atoi(argv[4]) : 0);
	if (strcmp(argv[1], "collector") == 0)
		return run_collector(argv[2], debug);
	return run_case(argv[1], argv[2], debug);
}

/* ---- the parent */

/* Start this program as a child; its stderr goes to errfile. */
static pid_t
spawn(const char *errfile, const char *a1, const char *a2, const char *a3,
    const char *a4)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	int fd = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0)
		dup2(fd, STDERR_FILENO);
	execl(self_exe, "spyglass-test", a1, a2, a3, a4, (char *)NULL);
	_exit(127);
}

static int
wait_for(pid_t pid, int timeout_ms)
{
	int st;

	for (int t = 0; t < timeout_ms; t += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static const char *
describe(int st, char *buf, size_t sz)
{
	if (st == -1)
		snprintf(buf, sz, "timed out");
	else if (WIFEXITED(st))
		snprintf(buf, sz, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sz, "signal %d%s", WTERMSIG(st),
		    WTERMSIG(st) == SIGSYS ? " (SIGSYS)" : "");
	else
		snprintf(buf, sz, "status %#x", st);
	return buf;
}

static bool
file_has(const char *path, const char *needle)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

static void
dump(const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

static void
check(const char *name, bool ok, const char *why, const char *errfile)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, why ? ": " : "",
	    why ? why : "");
	if (!ok) {
		failures++;
		if (errfile)
			dump(errfile);
	}
}

static bool
is_exit(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static bool
is_sigsys(int st)
{
	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

/* As the loader: tell the child on s the pid of the other one, once its
 * n-th connection is up (a message sent earlier could go to the pipe of
 * the child it replaces). */
static void
send_peer(nng_socket s, int n, pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000000 };
	uint8_t buf[8];
	struct wire_w w;

	for (int i = 0; i < 1000 && sg_ipc_connects(s) < n; i++)
		nanosleep(&ts, NULL);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_peer(&w, (uint32_t)pid);
	send_retry(s, SG_MSG_PEER, buf, w.len);
}

/* loader -> collector -> exporter, with an exporter restart halfway. */
static void
pipeline(const char *dir, const char *mode)
{
	char errfile[PATH_MAX], name[64], d1[64], d2[64], d3[64], first[16];
	struct sg_ipc_peer col = { .name = "collector" };
	struct sg_ipc_peer exp = { .name = "exporter" };
	nng_socket to_col, to_exp;
	nng_dialer dc = NNG_DIALER_INITIALIZER, de = NNG_DIALER_INITIALIZER;
	pid_t e1, e2 = -1, c;
	int st1 = -1, st2, stc;
	uint32_t v;

	snprintf(errfile, sizeof(errfile), "%s/pipeline-%s.err", dir, mode);
	snprintf(first, sizeof(first), "%d", FIRST);
	e1 = spawn(errfile, "exporter", dir, mode, first);
	c = spawn(errfile, "collector", dir, mode, NULL);
	if (sg_ipc_socket(&to_col, SG_IPC_PUSH, &col) < 0 ||
	    sg_ipc_socket(&to_exp, SG_IPC_PUSH, &exp) < 0 ||
	    sg_ipc_redial(to_col, &dc, dir, TEST_COLLECTOR_BASE, &col, c) < 0 ||
	    sg_ipc_redial(to_exp, &de, dir, SG_IPC_EXPORTER, &exp, e1) < 0) {
		check("pipeline dial", false, NULL, NULL);
		return;
	}
	send_peer(to_col, 1, e1);
	send_peer(to_exp, 1, c);
	for (v = 0; v < NMSG; v++) {
		if (v == FIRST + 5) {
			/* the first exporter has gone: start another one */
			st1 = wait_for(e1, 10000);
			e2 = spawn(errfile, "exporter", dir, mode, "0");
			sg_ipc_redial(to_exp, &de, dir, SG_IPC_EXPORTER, &exp, e2);
			send_peer(to_col, 1, e2);
			send_peer(to_exp, 2, c);
		}
		send_retry(to_col, DATA_TYPE, &v, sizeof(v));
	}
	send_retry(to_col, STOP_TYPE, "", 0);
	stc = wait_for(c, 15000);
	st2 = wait_for(e2, 15000);
	nng_close(to_col);
	nng_close(to_exp);
	snprintf(name, sizeof(name), "pipeline %s: first exporter", mode);
	check(name, is_exit(st1, 0), describe(st1, d1, sizeof(d1)), errfile);
	snprintf(name, sizeof(name), "pipeline %s: collector", mode);
	check(name, is_exit(stc, 0), describe(stc, d2, sizeof(d2)), errfile);
	snprintf(name, sizeof(name), "pipeline %s: second exporter", mode);
	check(name, is_exit(st2, 0), describe(st2, d3, sizeof(d3)), errfile);
}

enum expect { EXP_OK, EXP_KILLED, EXP_DEBUG_EXIT, EXP_ALLOWED, EXP_ABORT };

static void
one_case(const char *dir, const char *what, const char *role,
    const char *mode, enum expect exp, const char *msg)
{
	char errfile[PATH_MAX], name[96], d[64];
	int st;
	bool ok;

	snprintf(errfile, sizeof(errfile), "%s/%s-%s-%s.err", dir, what, role,
	    mode);
	st = wait_for(spawn(errfile, what, role, mode, NULL), 10000);
	switch (exp) {
	case EXP_OK:
		ok = is_exit(st, 0);
		break;
	case EXP_KILLED:
		ok = is_sigsys(st);
		break;
	case EXP_DEBUG_EXIT:
		ok = is_exit(st, 159);
		break;
	case EXP_ABORT:
		ok = st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
		break;
	default:
		ok = is_exit(st, 3);
		break;
	}
	if (ok && msg != NULL && !file_has(errfile, msg))
		ok = false;
	snprintf(name, sizeof(name), "%s %s %s", what, role, mode);
	check(name, ok, describe(st, d, sizeof(d)), errfile);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer) || \
    __has_feature(thread_sanitizer)
#define SG_SANITIZED 1
#endif
#endif
#ifndef SG_SANITIZED
#define SG_SANITIZED 0
#endif

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/sg-sandbox-test.XXXXXX";
	char cmd[PATH_MAX + 16];

	if (argc >= 4)
		return child_main(argc, argv);
	/* The sanitizer runtimes make system calls of their own (prctl,
	 * and LeakSanitizer's tracer at exit) that the production filters
	 * rightly refuse, and ThreadSanitizer's fork hangs when the filter
	 * makes fork fail; the filters are tested in the plain build. */
	if (SG_SANITIZED) {
		printf("skip: sanitizer build\n");
		return 77;
	}
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL) {
		printf("skip: no seccomp\n");
		return 77;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	sg_log_init("test_sandbox", SG_LOG_INFO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	/* before nng exists in this process (the pipeline starts it) */
	one_case(dir, "socket", "collector", "kill", EXP_KILLED, NULL);
	one_case(dir, "open", "collector", "kill", EXP_KILLED, NULL);
	one_case(dir, "exec", "collector", "kill", EXP_KILLED, NULL);
	one_case(dir, "socket", "exporter", "kill", EXP_ALLOWED, NULL);
	one_case(dir, "open", "exporter", "kill", EXP_KILLED, NULL);
	one_case(dir, "exec", "exporter", "kill", EXP_KILLED, NULL);
	one_case(dir, "socket", "collector", "debug", EXP_OK,
	    "seccomp refused syscall socket (");
	one_case(dir, "open", "collector", "debug", EXP_OK,
	    "seccomp refused syscall openat (");
	one_case(dir, "exec", "exporter", "debug", EXP_OK,
	    "seccomp refused syscall execve (");
	one_case(dir, "getcwd", "collector", "kill", EXP_KILLED, NULL);
	one_case(dir, "getcwd", "collector", "debug", EXP_DEBUG_EXIT,
	    "spyglass-test: seccomp refused syscall getcwd (");
	one_case(dir, "threads", "collector", "kill", EXP_OK, NULL);
	one_case(dir, "fork", "collector", "kill", EXP_KILLED, NULL);
	one_case(dir, "fork", "exporter", "debug", EXP_DEBUG_EXIT,
	    "seccomp refused syscall clone (");
	one_case(dir, "abort", "collector", "kill", EXP_ABORT, NULL);
	one_case(dir, "qsort", "collector", "kill", EXP_OK, NULL);
	one_case(dir, "threads", "exporter", "debug", EXP_OK, NULL);

	pipeline(dir, "debug");
	pipeline(dir, "kill");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("%d failure%s%s%s\n", failures, failures == 1 ? "" : "s",
	    failures ? ", logs in " : "", failures ? dir : "");
	return failures ? 1 : 0;
}
