/*
 * Discovery against the real /proc.  Every test selects only processes
 * it started: listeners on 127.0.0.1 on an unusual port (28000-28999),
 * sleeps with an unusual argument, copies of sleep under odd names.
 * The listeners are this binary run again with --listen, so that their
 * environment (OTEL_SERVICE_NAME) is what /proc/PID/environ shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "config.h"
#include "discovery.h"
#include "services_conf.h"

#define MAX_EVENTS 256

struct recorder {
	size_t              n;
	struct sg_proc_info ev[MAX_EVENTS];
};

static struct recorder rec;
static char self_exe[PATH_MAX];
static const char *self_name;
static char tmpdir[64];

/* What a test started, cleaned up by teardown() even when it fails. */
static pid_t spawned[32];
static size_t nspawned;
static struct discovery *cur;

static void
record(void *ctx, const struct sg_proc_info *info)
{
	struct recorder *r = ctx;

	if (r->n < MAX_EVENTS)
		r->ev[r->n++] = *info;
}

/* The last event about pid with the given presence, or NULL. */
static const struct sg_proc_info *
event_for(pid_t pid, int present)
{
	for (size_t i = rec.n; i > 0; i--)
		if (rec.ev[i - 1].pid == (uint32_t)pid &&
		    rec.ev[i - 1].present == present)
			return &rec.ev[i - 1];
	return NULL;
}

static size_t
events_about(pid_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < rec.n; i++)
		n += rec.ev[i].pid == (uint32_t)pid;
	return n;
}

/* ---- helper processes */

/*
 * Child side of --listen PORT FD MODE: listen on 127.0.0.1:PORT and, for
 * MODE "share", fork a worker that keeps the socket (nginx-like) or, for
 * "close", one that closes it.  Reports "pid worker" or "err" on FD.
 * MODE "late" first reports "pid" and listens only on SIGUSR1.  MODE
 * "leaderless" reports from a second thread once the main one has left
 * (pthread_exit): its /proc/PID then shows no exe, fds or environment.
 */
struct leaderless {
	pid_t tgid;
	int   fd;
	char  msg[64];
};

/* The state letter of a /proc stat file; -1 when it cannot be read. */
static int
stat_state(const char *path)
{
	char buf[512], *rp;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((rp = strrchr(buf, ')')) == NULL || rp[1] != ' ')
		return -1;
	return (unsigned char)rp[2];
}

static void *
leaderless_thread(void *arg)
{
	struct leaderless *l = arg;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)l->tgid,
	    (int)l->tgid);
	for (int i = 0; i < 500 && stat_state(path) != 'Z'; i++)
		usleep(10000);
	(void)!write(l->fd, l->msg, strlen(l->msg));
	close(l->fd);
	while (pause() != 0 || errno == EINTR)
		continue;
	return NULL;
}

static int
listener_main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1, s, fd;
	pid_t worker = 0;
	char msg[64];

	if (argc < 5)
		return 2;
	fd = atoi(argv[3]);
	if (strcmp(argv[4], "late") == 0) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		snprintf(msg, sizeof(msg), "%d", (int)getpid());
		(void)!write(fd, msg, strlen(msg));
		if (sigwait(&set, &sig) != 0)
			return 1;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(s, 4) < 0) {
		(void)!write(fd, "err", 3);
		return 1;
	}
	if (strcmp(argv[4], "share") == 0 || strcmp(argv[4], "close") == 0) {
		if ((worker = fork()) < 0)
			return 1;
		if (worker > 0) {
			close(fd);
			for (;;)
				pause();
		}
		/* The worker reports, once it has closed the socket. */
		if (strcmp(argv[4], "close") == 0)
			close(s);
		worker = getpid();
	}
	snprintf(msg, sizeof(msg), "%d %d", worker ? (int)getppid() :
	    (int)getpid(), (int)worker);
	if (strcmp(argv[4], "leaderless") == 0) {
		static struct leaderless l;
		pthread_t t;

		l.tgid = getpid();
		l.fd = fd;
		memcpy(l.msg, msg, sizeof(l.msg));
		if (pthread_create(&t, NULL, leaderless_thread, &l) != 0)
			return 1;
		pthread_exit(NULL);
	}
	(void)!write(fd, msg, strlen(msg));
	close(fd);
	for (;;)
		pause();
}

/* Child side of --wait-exec FD ARG: wait for a byte on FD, then become
 * `sleep ARG`. */
static int
wait_exec_main(int argc, char **argv)
{
	char c;

	if (argc < 4)
		return 2;
	if (read(atoi(argv[2]), &c, 1) != 1)
		return 1;
	execlp("sleep", "sleep", argv[3], (char *)NULL);
	return 127;
}

/*
 * "29.<pid><n>": a sleep argument no other process has, not even another
 * copy of this test running at the same time; ure() is the regex that
 * matches exactly "argv0 <that argument>".
 */
static const char *
uarg(int n)
{
	static char buf[8][32];
	static unsigned i;
	char *b = buf[i++ % 8];

	snprintf(b, sizeof(buf[0]), "29.%d%d", (int)getpid(), n);
	return b;
}

static const char *
ure(const char *argv0, int n)
{
	static char buf[8][64];
	static unsigned i;
	char *b = buf[i++ % 8];

	snprintf(b, sizeof(buf[0]), "^%s 29\\.%d%d$", argv0, (int)getpid(), n);
	return b;
}

/* A small environment for children, keeping the sanitizers' options. */
static void
child_env(char **envp, size_t max, const char *extra1, const char *extra2)
{
	static const char *const keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS",
		"LSAN_OPTIONS" };
	static char kept[3][512];
	size_t n = 0;

	envp[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	for (size_t i = 0; i < 3 && n < max - 3; i++) {
		const char *v = getenv(keep[i]);

		if (v == NULL)
			continue;
		snprintf(kept[i], sizeof(kept[i]), "%s=%s", keep[i], v);
		envp[n++] = kept[i];
	}
	if (extra1 != NULL)
		envp[n++] = (char *)extra1;
	if (extra2 != NULL)
		envp[n++] = (char *)extra2;
	envp[n] = NULL;
}

static pid_t
spawn(const char *path, char *const argv[], const char *env1,
    const char *env2, int keep_fd)
{
	char *envp[8];
	pid_t pid;

	child_env(envp, 8, env1, env2);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		for (int fd = 3; fd < 64; fd++)
			if (fd != keep_fd)
				close(fd);
		execve(path, argv, envp);
		_exit(127);
	}
	if (nspawned < sizeof(spawned) / sizeof(spawned[0]))
		spawned[nspawned++] = pid;
	return pid;
}

static int
read_timeout(int fd, char *buf, size_t sz, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	if ((n = read(fd, buf, sz - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

struct listener {
	pid_t    pid;
	pid_t    worker;
	uint16_t port;
};

/* Start this binary as a listener on a free port in 28000-28999. */
static int
spawn_listener(struct listener *l, const char *mode, const char *env1,
    const char *env2)
{
	static unsigned next;
	char port[16], fdnum[16], buf[64];
	int p[2];

	if (next == 0)
		next = (unsigned)getpid() % 1000;
	for (int tries = 0; tries < 50; tries++) {
		char *argv[] = { "test_discovery", "--listen", port, fdnum,
			(char *)mode, NULL };
		int status, pid, worker;

		l->port = (uint16_t)(28000 + next++ % 1000);
		if (pipe(p) < 0)
			return -1;
		snprintf(port, sizeof(port), "%u", l->port);
		snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
		l->pid = spawn(self_exe, argv, env1, env2, p[1]);
		close(p[1]);
		if (l->pid > 0 && read_timeout(p[0], buf, sizeof(buf),
		    5000) == 0 && sscanf(buf, "%d %d", &pid, &worker) == 2) {
			close(p[0]);
			l->worker = worker;
			if (worker > 0 && nspawned < sizeof(spawned) /
			    sizeof(spawned[0]))
				spawned[nspawned++] = worker;
			return 0;
		}
		close(p[0]);
		if (l->pid > 0) {
			kill(l->pid, SIGKILL);
			waitpid(l->pid, &status, 0);
		}
	}
	return -1;
}

/* Kill and reap: afterwards the pid is gone from /proc, or at least
 * dead (a worker whose parent lives stays a zombie until that parent
 * dies and we, the subreaper, reap it). */
static void
reap(pid_t pid)
{
	char path[64];
	int status, st;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == EINTR)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		for (int i = 0; i < 500; i++) {
			if ((st = stat_state(path)) == -1 || st == 'Z')
				return;
			usleep(10000);
		}
		fail_msg("pid %d does not die", (int)pid);
	}
}

static void
stop_listener(struct listener *l)
{
	reap(l->pid);
	reap(l->worker);
}

static pid_t
spawn_sleep(const char *path, const char *argv0, const char *arg)
{
	char *argv[] = { (char *)argv0, (char *)arg, NULL };

	return spawn(path, argv, NULL, NULL, -1);
}

/*
 * Wait until the child has exec'd path.  exec switches /proc/PID/exe
 * and the memory first and sets up the arguments after, so an empty
 * command line means "not finished yet".
 */
static void
wait_exe(pid_t pid, const char *path)
{
	char proc[64], cmd[64], exe[PATH_MAX], want[PATH_MAX], c;
	ssize_t n;
	int fd;

	if (realpath(path, want) == NULL)
		snprintf(want, sizeof(want), "%s", path);
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)pid);
	snprintf(cmd, sizeof(cmd), "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 500; i++) {
		if ((n = readlink(proc, exe, sizeof(exe) - 1)) > 0) {
			exe[n] = '\0';
			if (strcmp(exe, want) == 0 &&
			    (fd = open(cmd, O_RDONLY)) >= 0) {
				n = read(fd, &c, 1);
				close(fd);
				if (n == 1)
					return;
			}
		}
		usleep(10000);
	}
	fail_msg("pid %d never exec'd %s", (int)pid, path);
}

/* Wait until the child's command line contains s (it has exec'd). */
static void
wait_cmdline(pid_t pid, const char *s)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 500; i++) {
		if ((fd = open(path, O_RDONLY)) >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			for (ssize_t j = 0; j < n; j++)
				if (buf[j] == '\0')
					buf[j] = ' ';
			buf[n > 0 ? n : 0] = '\0';
			if (strstr(buf, s) != NULL)
				return;
		}
		usleep(10000);
	}
	fail_msg("pid %d never ran \"%s\"", (int)pid, s);
}

static const char *
sleep_path(void)
{
	static char path[PATH_MAX];

	if (path[0] == '\0' && realpath("/usr/bin/sleep", path) == NULL &&
	    realpath("/bin/sleep", path) == NULL)
		fail_msg("no sleep binary");
	return path;
}

/* A copy of sleep at tmpdir/name (an executable path no one else has). */
static const char *
sleep_copy(const char *name)
{
	static char path[PATH_MAX];
	char buf[65536];
	ssize_t n;
	int in, out;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_true((in = open(sleep_path(), O_RDONLY)) >= 0);
	assert_true((out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755)) >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	return path;
}

/* ---- configuration */

static void
config(struct sg_config *c, const char *ports, const char *exe_re,
    const char *exclude)
{
	char err[SG_CONFIG_ERR_MAX];

	sg_config_defaults(c);
	if (ports != NULL && sg_config_set(c, "discovery", "open_port", ports,
	    "test", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (exe_re != NULL && sg_config_set(c, "discovery", "executable_name",
	    exe_re, "test", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (exclude != NULL && sg_config_set(c, "discovery", "exclude_exe",
	    exclude, "test", err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static struct discovery *
new_discovery(const struct sg_config *c)
{
	struct discovery *d;

	rec.n = 0;
	discovery_free(cur);
	assert_non_null(d = discovery_new(c, record, &rec));
	return cur = d;
}

static void
hostname_pid(char *buf, size_t sz, pid_t pid)
{
	char host[64];

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, sz, "%s:%d", host, (int)pid);
}

/* Start time as the current discovery reads it. */
static uint64_t
start_time_of(pid_t pid)
{
	struct sg_proc_info info;

	assert_int_equal(discovery_describe(cur, pid, &info), 0);
	return info.start_time;
}

/* ---- tests */

static void
test_nothing_configured(void **state)
{
	struct sg_config c;
	struct discovery *d;

	(void)state;
	config(&c, NULL, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_int_equal(rec.n, 0);
	discovery_free(d);
	cur = NULL;
}

static void
test_open_port(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16], inst[128];

	(void)state;
	assert_int_equal(spawn_listener(&l, "none", NULL, NULL), 0);
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_int_equal(rec.n, 1);
	assert_non_null(e = event_for(l.pid, 1));
	assert_string_equal(e->service_name, self_name);
	assert_string_equal(e->service_namespace, "");
	assert_string_equal(e->exe, self_exe);
	hostname_pid(inst, sizeof(inst), l.pid);
	assert_string_equal(e->instance_id, inst);
	assert_int_equal(e->start_time, start_time_of(l.pid));
	assert_true(e->start_time > 0);

	/* A second scan changes nothing. */
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(rec.n, 1);

	stop_listener(&l);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_int_equal(rec.n, 2);
	assert_non_null(e = event_for(l.pid, 0));
	assert_string_equal(e->service_name, self_name);
	discovery_free(d);
	cur = NULL;
}

/* A process whose main thread has left is selected by its listener,
 * named by its environment and kept across scans while it lives. */
static void
test_open_port_leaderless(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16];

	(void)state;
	assert_int_equal(spawn_listener(&l, "leaderless",
	    "OTEL_SERVICE_NAME=leaderless", NULL), 0);
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(e = event_for(l.pid, 1));
	assert_string_equal(e->service_name, "leaderless");
	assert_string_equal(e->exe, self_exe);
	assert_int_equal(e->start_time, start_time_of(l.pid));

	for (int i = 0; i < 3; i++)
		assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_int_equal(rec.n, 1);

	stop_listener(&l);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_non_null(event_for(l.pid, 0));
	discovery_free(d);
	cur = NULL;
}

static void
test_open_port_service_env(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16], err[SG_CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(spawn_listener(&l, "none",
	    "OTEL_SERVICE_NAME=sg-disc-svc",
	    "OTEL_SERVICE_NAMESPACE=sg-disc-ns"), 0);
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, NULL, NULL);
	/* The process's own name beats the configured one. */
	assert_int_equal(sg_config_set(&c, "", "service_name", "configured",
	    "test", err, sizeof(err)), 0);
	assert_int_equal(sg_config_set(&c, "", "service_namespace", "cfg-ns",
	    "test", err, sizeof(err)), 0);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_non_null(e = event_for(l.pid, 1));
	assert_string_equal(e->service_name, "sg-disc-svc");
	assert_string_equal(e->service_namespace, "sg-disc-ns");
	discovery_free(d);
	cur = NULL;
	stop_listener(&l);
}

static void
test_open_port_service_config(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16], range[32], err[SG_CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(spawn_listener(&l, "none",
	    "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=x, "
	    "service.namespace=ra-ns", NULL), 0);
	snprintf(port, sizeof(port), "%u", l.port);
	/* A range around the port, written as users do. */
	snprintf(range, sizeof(range), "1, %u-%u", l.port - 1, l.port + 1);
	config(&c, range, NULL, NULL);
	assert_int_equal(sg_config_set(&c, "", "service_name", "configured",
	    "test", err, sizeof(err)), 0);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_non_null(e = event_for(l.pid, 1));
	assert_string_equal(e->service_name, "configured");
	assert_string_equal(e->service_namespace, "ra-ns");
	discovery_free(d);
	cur = NULL;
	stop_listener(&l);
}

/* Master and worker share the listening socket: both are selected. */
static void
test_open_port_shared_socket(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	char port[16];

	(void)state;
	assert_int_equal(spawn_listener(&l, "share", NULL, NULL), 0);
	assert_true(l.worker > 0);
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 2);
	assert_non_null(event_for(l.pid, 1));
	assert_non_null(event_for(l.worker, 1));

	/* The worker dies first, then the master. */
	reap(l.worker);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(event_for(l.worker, 0));
	assert_null(event_for(l.pid, 0));
	reap(l.pid);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_non_null(event_for(l.pid, 0));
	discovery_free(d);
	cur = NULL;
}

/* A port no one listens on selects nothing, even with listeners near. */
static void
test_open_port_other_port(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	char port[16];

	(void)state;
	assert_int_equal(spawn_listener(&l, "none", NULL, NULL), 0);
	snprintf(port, sizeof(port), "%u", l.port == 28999 ? 28998 :
	    l.port + 1);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_null(event_for(l.pid, 1));
	discovery_free(d);
	cur = NULL;
	stop_listener(&l);
}

/* A free port in our range, found by binding it ourselves. */
static uint16_t
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint16_t port;
	int s;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (unsigned i = 0; i < 1000; i++) {
		port = (uint16_t)(28000 + ((unsigned)getpid() + 500 + i) % 1000);
		sin.sin_port = htons(port);
		assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(s);
			return port;
		}
		close(s);
	}
	fail_msg("no free port in 28000-28999");
	return 0;
}

/*
 * A process the first scan saw without a listener starts listening: the
 * next scan finds it (its namespace has a listener the last scan did
 * not see, so the fd tables there are read again).
 */
static void
test_open_port_late_listener(void **state)
{
	struct sg_config c;
	struct discovery *d;
	char port[16], fdnum[16], buf[64];
	char *argv[] = { "test_discovery", "--listen", port, fdnum, "late",
		NULL };
	int p[2];
	pid_t pid;

	(void)state;
	snprintf(port, sizeof(port), "%u", free_port());
	assert_int_equal(pipe(p), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
	pid = spawn(self_exe, argv, NULL, NULL, p[1]);
	close(p[1]);
	assert_int_equal(read_timeout(p[0], buf, sizeof(buf), 5000), 0);
	assert_int_equal(atoi(buf), pid);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);

	assert_int_equal(kill(pid, SIGUSR1), 0);
	assert_int_equal(read_timeout(p[0], buf, sizeof(buf), 5000), 0);
	close(p[0]);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(event_for(pid, 1));
	discovery_free(d);
	cur = NULL;
}

static void
test_executable_name_cmdline(void **state)
{
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	pid_t pid;

	(void)state;
	pid = spawn_sleep(sleep_path(), "sleep", uarg(42));
	assert_true(pid > 0);
	wait_exe(pid, sleep_path());
	config(&c, NULL, ure("sleep", 42), NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(e = event_for(pid, 1));
	assert_string_equal(e->service_name, "sleep");
	assert_string_equal(e->exe, sleep_path());
	reap(pid);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_non_null(event_for(pid, 0));
	discovery_free(d);
	cur = NULL;
}

/* The regex matches the executable's path, not its command line. */
static void
test_executable_name_path(void **state)
{
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	const char *path = sleep_copy("sg-disc-sleeper");
	char re[PATH_MAX + 4];
	pid_t pid;

	(void)state;
	pid = spawn_sleep(path, "zzz", uarg(43));
	assert_true(pid > 0);
	wait_exe(pid, path);
	snprintf(re, sizeof(re), "^%s$", path);
	config(&c, NULL, re, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(e = event_for(pid, 1));
	assert_string_equal(e->service_name, "sg-disc-sleeper");
	discovery_free(d);
	cur = NULL;
	reap(pid);
}

/* Either criterion selects when both are configured. */
static void
test_port_or_name(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	char port[16];
	pid_t pid;

	(void)state;
	assert_int_equal(spawn_listener(&l, "none", NULL, NULL), 0);
	pid = spawn_sleep(sleep_path(), "sleep", uarg(44));
	wait_exe(pid, sleep_path());
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, ure("sleep", 44), NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 2);
	assert_non_null(event_for(l.pid, 1));
	assert_non_null(event_for(pid, 1));
	discovery_free(d);
	cur = NULL;
	reap(pid);
	stop_listener(&l);
}

static void
test_exclude(void **state)
{
	struct sg_config c;
	struct discovery *d;
	const char *path;
	pid_t a, b;

	(void)state;
	/* exclude_exe applies to the path even when the command line is
	 * what matched. */
	a = spawn_sleep(sleep_path(), "sleep", uarg(45));
	wait_exe(a, sleep_path());
	config(&c, NULL, ure("sleep", 45), "(^|/)sleep$");
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	assert_int_equal(rec.n, 0);
	discovery_free(d);
	cur = NULL;

	/* The default excludes spyglass itself (and beyla, alloy, otelcol). */
	path = sleep_copy("spyglass-collector");
	b = spawn_sleep(path, "sg-excl", uarg(46));
	wait_exe(b, path);
	config(&c, NULL, ure("sg-excl", 46), NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	discovery_free(d);
	cur = NULL;
	/* ... unless exclude_exe is emptied. */
	config(&c, NULL, ure("sg-excl", 46), "");
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(event_for(b, 1));
	discovery_free(d);
	cur = NULL;
	reap(a);
	reap(b);
}

/* discovery_ignore and the calling process are never selected. */
static void
test_ignore_and_self(void **state)
{
	struct sg_config c;
	struct discovery *d;
	char re[PATH_MAX + 8];
	pid_t pid;

	(void)state;
	pid = spawn_sleep(sleep_path(), "sleep", uarg(47));
	wait_exe(pid, sleep_path());
	config(&c, NULL, ure("sleep", 47), NULL);
	d = new_discovery(&c);
	discovery_ignore(d, pid);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);
	discovery_free(d);
	cur = NULL;

	/* Ignoring a selected process deselects it. */
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	discovery_ignore(d, pid);
	assert_int_equal(discovery_count(d), 0);
	assert_non_null(event_for(pid, 0));
	discovery_free(d);
	cur = NULL;
	reap(pid);

	/* Our own command line matches; we are still not selected.  (Other
	 * copies of this test running elsewhere might be.) */
	snprintf(re, sizeof(re), "--no-such-flag|%s", self_name);
	config(&c, NULL, re, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(events_about(getpid()), 0);
	discovery_free(d);
	cur = NULL;
}

/* A process started after the scan is caught by its exec event. */
static void
test_on_exec(void **state)
{
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char args[64];
	pid_t pid, gone;

	(void)state;
	config(&c, NULL, ure("sleep", 51), NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	pid = spawn_sleep(sleep_path(), "sleep", uarg(51));
	wait_exe(pid, sleep_path());
	discovery_on_exec(d, pid, NULL, NULL);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(e = event_for(pid, 1));
	assert_string_equal(e->service_name, "sleep");
	/* A second exec event for the same image changes nothing. */
	discovery_on_exec(d, pid, "", "");
	assert_int_equal(rec.n, 1);
	discovery_on_exit(d, pid);
	assert_int_equal(discovery_count(d), 0);
	assert_non_null(event_for(pid, 0));
	reap(pid);

	/* Not matching: nothing happens. */
	pid = spawn_sleep(sleep_path(), "sleep", uarg(52));
	wait_exe(pid, sleep_path());
	rec.n = 0;
	discovery_on_exec(d, pid, NULL, NULL);
	assert_int_equal(rec.n, 0);
	reap(pid);

	/* Gone before the loader looked: the event's exe and args decide. */
	gone = spawn_sleep(sleep_path(), "sleep", "0");
	reap(gone);
	snprintf(args, sizeof(args), "sleep %s", uarg(51));
	discovery_on_exec(d, gone, "/usr/bin/sleep", args);
	assert_non_null(e = event_for(gone, 1));
	assert_string_equal(e->service_name, "sleep");
	assert_string_equal(e->exe, "/usr/bin/sleep");
	discovery_on_exit(d, gone);
	assert_non_null(event_for(gone, 0));
	assert_int_equal(discovery_count(d), 0);
	/* ... and the default exclusion still applies to them. */
	rec.n = 0;
	discovery_on_exec(d, gone, "/opt/x/spyglass", args);
	assert_int_equal(rec.n, 0);
	discovery_free(d);
	cur = NULL;
}

/* A selected process that execs something that does not match is
 * deselected. */
static void
test_on_exec_deselects(void **state)
{
	struct sg_config c;
	struct discovery *d;
	char fdnum[16];
	char *argv[] = { "test_discovery", "--wait-exec", fdnum,
		(char *)uarg(62), NULL };
	char re[64];
	int p[2];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", p[0]);
	pid = spawn(self_exe, argv, NULL, NULL, p[0]);
	close(p[0]);
	snprintf(re, sizeof(re), "--wait-exec [0-9]+ %s$", argv[3]);
	wait_cmdline(pid, argv[3]);
	config(&c, NULL, re, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_non_null(event_for(pid, 1));
	assert_int_equal(write(p[1], "x", 1), 1);
	close(p[1]);
	wait_exe(pid, sleep_path());
	discovery_on_exec(d, pid, NULL, NULL);
	assert_non_null(event_for(pid, 0));
	assert_int_equal(discovery_count(d), 0);
	discovery_free(d);
	cur = NULL;
	reap(pid);
}

/* A child forked by a selected process is selected with its parent's
 * names and its own pid, instance and start time; the scan keeps it
 * although it does not match by itself. */
static void
test_on_fork(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16], inst[128];

	(void)state;
	assert_int_equal(spawn_listener(&l, "close",
	    "OTEL_SERVICE_NAME=sg-disc-fork", NULL), 0);
	assert_true(l.worker > 0);
	snprintf(port, sizeof(port), "%u", l.port);
	config(&c, port, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_non_null(event_for(l.pid, 1));
	assert_null(event_for(l.worker, 1));

	discovery_on_fork(d, l.pid, l.worker);
	assert_int_equal(discovery_count(d), 2);
	assert_non_null(e = event_for(l.worker, 1));
	assert_string_equal(e->service_name, "sg-disc-fork");
	hostname_pid(inst, sizeof(inst), l.worker);
	assert_string_equal(e->instance_id, inst);
	assert_int_equal(e->start_time, start_time_of(l.worker));
	assert_string_equal(e->exe, self_exe);

	rec.n = 0;
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 2);
	assert_int_equal(rec.n, 0);

	/* Forks of unselected processes and repeated events: nothing. */
	discovery_on_fork(d, l.pid, l.worker);
	discovery_on_fork(d, 999999999, l.worker);
	/* The calling process is never selected, even as a child. */
	discovery_on_fork(d, l.pid, getpid());
	assert_int_equal(rec.n, 0);

	discovery_on_exit(d, l.worker);
	assert_non_null(event_for(l.worker, 0));
	assert_int_equal(discovery_count(d), 1);
	discovery_on_exit(d, l.worker);
	assert_int_equal(rec.n, 1);
	discovery_free(d);
	cur = NULL;
	stop_listener(&l);
}

static void
test_describe(void **state)
{
	struct sg_config c;
	struct discovery *d;
	struct sg_proc_info info;
	char inst[128];
	pid_t pid;

	(void)state;
	config(&c, NULL, NULL, NULL);
	d = new_discovery(&c);
	assert_int_equal(discovery_describe(d, getpid(), &info), 0);
	assert_int_equal(info.pid, getpid());
	assert_int_equal(info.present, 1);
	assert_string_equal(info.exe, self_exe);
	hostname_pid(inst, sizeof(inst), getpid());
	assert_string_equal(info.instance_id, inst);
	assert_true(info.start_time > 0);
	assert_int_equal(discovery_count(d), 0);

	pid = spawn_sleep(sleep_path(), "sleep", "0");
	reap(pid);
	assert_int_equal(discovery_describe(d, pid, &info), -1);
	discovery_free(d);
	cur = NULL;
}

/* ---- main */

static int
setup_all(void **state)
{
	ssize_t n;

	(void)state;
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) <= 0)
		return -1;
	self_exe[n] = '\0';
	self_name = strrchr(self_exe, '/') + 1;
	/* Orphaned workers come back to us, so reap() really removes them
	 * from /proc. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sg-disc-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	sg_log_init("test_discovery", SG_LOG_WARN);
	return 0;
}

/* Kill and reap whatever the test started, and its discovery. */
static int
teardown(void **state)
{
	int status;

	(void)state;
	discovery_free(cur);
	cur = NULL;
	for (size_t i = 0; i < nspawned; i++)
		kill(spawned[i], SIGKILL);
	nspawned = 0;
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	return 0;
}

static int
teardown_all(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/sg-disc-sleeper", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/spyglass-collector", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/* Set one key of a service block, "service.LABEL" or
 * "exclude_service.LABEL". */
static void
block(struct sg_config *c, const char *section, const char *key,
    const char *value)
{
	char err[SG_CONFIG_ERR_MAX];

	if (sg_config_set(c, section, key, value, "test", err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* The selectors of one block are AND-ed: a process that matches only
 * one of them is not selected; blocks are OR-ed, and the first that
 * matches names the service. */
static void
test_service_blocks(void **state)
{
	struct listener l = { 0 };
	struct sg_config c;
	struct discovery *d;
	const struct sg_proc_info *e;
	char port[16];
	pid_t pid;

	(void)state;
	assert_int_equal(spawn_listener(&l, "none", NULL, NULL), 0);
	pid = spawn_sleep(sleep_path(), "sleep", uarg(47));
	wait_exe(pid, sleep_path());
	snprintf(port, sizeof(port), "%u", l.port);

	/* the port, but not the executable: nothing */
	config(&c, NULL, NULL, NULL);
	block(&c, "service.a", "open_ports", port);
	block(&c, "service.a", "exe_path", "no-such-program$");
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 0);

	/* both: selected, named and namespaced by the block, which wins
	 * over the global service_name */
	config(&c, NULL, NULL, NULL);
	block(&c, "service.a", "open_ports", port);
	block(&c, "service.a", "exe_path", self_name);
	block(&c, "service.a", "name", "alpha");
	block(&c, "service.a", "namespace", "shop");
	block(&c, "service.b", "exe_path", ure("sleep", 47));
	block(&c, "service.b", "name", "beta");
	/* a later block that matches the listener too names nothing */
	block(&c, "service.c", "open_ports", port);
	block(&c, "service.c", "name", "gamma");
	block(&c, "", "service_name", "global");
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 2);
	assert_non_null(e = event_for(l.pid, 1));
	assert_string_equal(e->service_name, "alpha");
	assert_string_equal(e->service_namespace, "shop");
	assert_string_equal(discovery_selector(d, l.pid), "[service.a]");
	assert_non_null(e = event_for(pid, 1));
	assert_string_equal(e->service_name, "beta");
	assert_string_equal(discovery_selector(d, pid), "[service.b]");

	/* an exclude block wins over them all */
	block(&c, "exclude_service.x", "exe_path", ure("sleep", 47));
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 1);
	assert_null(event_for(pid, 1));
	assert_null(discovery_selector(d, pid));

	/* the global keys still select, OR-ed, after the blocks */
	config(&c, port, NULL, NULL);
	block(&c, "service.b", "exe_path", ure("sleep", 47));
	d = new_discovery(&c);
	assert_int_equal(discovery_scan(d), 0);
	assert_int_equal(discovery_count(d), 2);
	assert_string_equal(discovery_selector(d, l.pid),
	    "[discovery] open_port/executable_name");
	discovery_free(d);
	cur = NULL;
	reap(pid);
	stop_listener(&l);
}

/* Malformed blocks are refused with where they are. */
static void
test_service_block_errors(void **state)
{
	char err[SG_CONFIG_ERR_MAX];
	struct sg_config c;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set(&c, "service.a", "open_ports", "99999",
	    "f.ini:3", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f.ini:3: [service.a] open_ports"));
	assert_int_equal(sg_config_set(&c, "service.a", "exe_path", "(",
	    "f.ini:4", err, sizeof(err)), -1);
	assert_int_equal(sg_config_set(&c, "service.a", "colour", "red",
	    "f.ini:5", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key"));
	assert_int_equal(sg_config_set(&c, "service.a b", "name", "x",
	    "f.ini:6", err, sizeof(err)), -1);
	/* from the command line: -o service.web.open_ports=8080 */
	assert_int_equal(sg_config_set_arg(&c, "service.web.open_ports=8080",
	    err, sizeof(err)), 0);
	assert_int_equal(c.discovery.nservices, 2);
	assert_int_equal(sg_services_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[service.a]: no selector"));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_nothing_configured, teardown),
		cmocka_unit_test_teardown(test_open_port, teardown),
		cmocka_unit_test_teardown(test_open_port_leaderless, teardown),
		cmocka_unit_test_teardown(test_open_port_service_env, teardown),
		cmocka_unit_test_teardown(test_open_port_service_config, teardown),
		cmocka_unit_test_teardown(test_open_port_shared_socket, teardown),
		cmocka_unit_test_teardown(test_open_port_other_port, teardown),
		cmocka_unit_test_teardown(test_open_port_late_listener, teardown),
		cmocka_unit_test_teardown(test_executable_name_cmdline, teardown),
		cmocka_unit_test_teardown(test_executable_name_path, teardown),
		cmocka_unit_test_teardown(test_port_or_name, teardown),
		cmocka_unit_test_teardown(test_exclude, teardown),
		cmocka_unit_test_teardown(test_service_blocks, teardown),
		cmocka_unit_test(test_service_block_errors),
		cmocka_unit_test_teardown(test_ignore_and_self, teardown),
		cmocka_unit_test_teardown(test_on_exec, teardown),
		cmocka_unit_test_teardown(test_on_exec_deselects, teardown),
		cmocka_unit_test_teardown(test_on_fork, teardown),
		cmocka_unit_test_teardown(test_describe, teardown),
	};

	if (argc > 1 && strcmp(argv[1], "--listen") == 0)
		return listener_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--wait-exec") == 0)
		return wait_exec_main(argc, argv);
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
