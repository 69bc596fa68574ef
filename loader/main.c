/*
 * spyglass: the loader.  The only process with capabilities: it reads the
 * configuration, checks the machine, starts the two unprivileged
 * children, drops to the service user, loads BPF, selects processes and
 * drains the ring buffer towards the collector.  It never parses payload.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bpf_attach.h"
#include "chan.h"
#include "check.h"
#include "children.h"
#include "clock.h"
#include "config.h"
#include "discovery.h"
#include "drain.h"
#include "hooks.h"
#include "events.h"
#include "ipc.h"
#include "loader.h"
#include "log.h"
#include "msg.h"
#include "otlp_conf.h"
#include "preflight.h"
#include "privs.h"
#include "pstats.h"
#include "resolve.h"
#include "rundir.h"
#include "selection.h"
#include "self.h"
#include "services_conf.h"
#include "tls.h"

#define SG_DRAIN_TICK_MS  50     /* longest an event waits in the ring */
#define SG_STATS_TICK_MS  1000
/* The collector's channel: ~14,000 events of nginx's ~300 bytes, 70 ms of
 * the heaviest bench load, held while the collector is behind or being
 * restarted.  Its memory is given back once it has been idle a second. */
#define SG_CHAN_SIZE      (4u << 20)
#define SG_MAX_OVERRIDES  64

/* Where the configuration comes from, kept for SIGHUP. */
struct sg_sources {
	const char *file;           /* NULL: built-in defaults only */
	const char *overrides[SG_MAX_OVERRIDES];
	int         noverrides;
};

static struct {
	struct sg_config    cfg;
	struct sg_sources   src;
	struct sg_bpf       bpf;
	struct sg_drain    *drain;
	struct discovery   *disc;
	struct tls         *tls;      /* NULL: uprobes unusable */
	struct sg_chan      to_collector;
	nng_socket          to_exporter;
	nng_dialer          exporter_dialer;
	struct sg_ipc_peer  exporter;   /* pid: the child's */
	int                 exporter_connects;
	pid_t               collector;        /* the collector we know of */
	pid_t               collector_told;   /* the collector that knows all */
	uint64_t            proc_msgs_lost;
	uint64_t            self[SG_SELF_MAX];
	int                 lock_fd;
	volatile int        stopping;
} L = {
	.to_collector = { .memfd = -1, .wakefd = -1 },
	.exporter = { .name = "exporter" },
	.lock_fd = -1,
};

static void
sg_usage(FILE *f)
{
	fprintf(f,
	    "usage: spyglass [-c FILE] [-o [SECTION.]KEY=VALUE]... [-hV] "
	    "[run|check]\n"
	    "  -c FILE   configuration file (default %s/spyglass/spyglass.ini)\n"
	    "  -o K=V    override one key; beats the environment and the file\n"
	    "  -V        print the version\n"
	    "  check     validate the configuration, run the preflight checks,\n"
	    "            print the effective configuration and the findings\n",
	    SG_SYSCONFDIR);
}

/* defaults < file < environment < command line */
static int
sg_load_config(struct sg_config *c, const struct sg_sources *src)
{
	char err[SG_CONFIG_ERR_MAX];

	sg_config_defaults(c);
	if (src->file != NULL && sg_config_load_file(c, src->file, err,
	    sizeof(err)) < 0)
		goto fail;
	if (sg_config_load_env(c, err, sizeof(err)) < 0)
		goto fail;
	for (int i = 0; i < src->noverrides; i++)
		if (sg_config_set_arg(c, src->overrides[i], err,
		    sizeof(err)) < 0)
			goto fail;
	if (resolve_check_otlp(c, err, sizeof(err)) < 0 ||
	    sg_services_check(c, err, sizeof(err)) < 0)
		goto fail;
	sg_config_derive(c);
	resolve_host_name(c);
	return 0;
fail:
	sg_log(SG_LOG_ERR, "%s", err);
	return -1;
}

/* Everything for the collector goes through here: after the events
 * read so far, which it must see first. */
static int
sg_to_collector(uint16_t type, const void *payload, size_t len)
{
	if (L.drain != NULL)
		sg_drain_flush(L.drain);
	return sg_chan_send(&L.to_collector, type, payload, len);
}

/* A message for one child, by its channel. */
static int
sg_to_child(enum sg_child to, uint16_t type, const void *payload, size_t len)
{
	if (to == SG_CHILD_COLLECTOR)
		return sg_to_collector(type, payload, len);
	return sg_ipc_send(L.to_exporter, type, payload, len);
}

/* A process's metadata, or its departure, for the collector. */
static void
sg_send_proc(const struct sg_proc_info *p)
{
	uint8_t buf[1024];
	struct wire_w w;

	wire_w_init(&w, buf, sizeof(buf));
	msg_put_proc(&w, p);
	if (w.err || sg_to_collector(SG_MSG_PROC, buf, w.len) != 0)
		L.proc_msgs_lost++;
}

/* ---- messages to the children ---- */

/* Each child gets only the keys it needs (config.c). */
static int
sg_send_config(unsigned to)
{
	static uint8_t buf[32 << 10];
	struct wire_w w;

	wire_w_init(&w, buf, sizeof(buf));
	sg_config_encode(&L.cfg, &w, to);
	if (w.err || sg_to_child(to == SG_TO_COLLECTOR ? SG_CHILD_COLLECTOR :
	    SG_CHILD_EXPORTER, SG_MSG_CONFIG, buf, w.len) != 0) {
		sg_log(SG_LOG_WARN, "could not send the configuration to the "
		    "%s", to == SG_TO_COLLECTOR ? "collector" : "exporter");
		return -1;
	}
	return 0;
}

static void
sg_resend_proc(const struct sg_proc_info *p, void *ctx)
{
	(void)ctx;
	sg_send_proc(p);
}

/* Tell a child the pid of the other one, the only peer it may take. */
static int
sg_send_peer(enum sg_child to, pid_t other)
{
	uint8_t buf[8];
	struct wire_w w;

	if (other <= 0)
		return 0;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_peer(&w, (uint32_t)other);
	return sg_to_child(to, SG_MSG_PEER, buf, w.len) == 0 ? 0 : -1;
}

/*
 * A (re)started collector knows nothing: tell it everything, the
 * exporter's pid included; only then is the exporter given the
 * collector's (which makes it dial): the collector, told first, does not
 * turn it away.
 */
static int
sg_resync_collector(void)
{
	pid_t col = children_pid(SG_CHILD_COLLECTOR);

	if (sg_send_config(SG_TO_COLLECTOR) < 0 ||
	    sg_send_peer(SG_CHILD_COLLECTOR,
	    children_pid(SG_CHILD_EXPORTER)) < 0)
		return -1;
	selection_foreach(sg_resend_proc, NULL);
	L.collector_told = col;
	return sg_send_peer(SG_CHILD_EXPORTER, col);
}

static int
sg_resync_exporter(void)
{
	pid_t col = children_pid(SG_CHILD_COLLECTOR);

	if (sg_send_config(SG_TO_EXPORTER) < 0)
		return -1;
	return col == L.collector_told ? sg_send_peer(SG_CHILD_EXPORTER, col) :
	    0;
}

static void
sg_send_stats(void)
{
	struct sg_drain_stats ds;
	uint8_t buf[1024];
	struct wire_w w;

	sg_drain_stats(L.drain, &ds);
	L.self[SG_SELF_EVENTS_READ] = ds.events;
	L.self[SG_SELF_LOST_RINGBUF] = sg_bpf_stat(&L.bpf, SG_STAT_RB_FULL);
	L.self[SG_SELF_LOST_LOADER_IPC] = ds.lost_ipc;
	L.self[SG_SELF_BAD_LOADER] = ds.bad;
	L.self[SG_SELF_EVENTS_UNSELECTED] = ds.unselected;
	L.self[SG_SELF_INSTRUMENTED] = selection_count();
	L.self[SG_SELF_TLS_UNBOUND] = sg_bpf_stat(&L.bpf, SG_STAT_TLS_UNBOUND);
	L.self[SG_SELF_TLS_FILES] = tls_attached(L.tls);
	L.self[SG_SELF_PROC_MSGS_LOST] = L.proc_msgs_lost;
	L.self[SG_SELF_RESTARTS_COLLECTOR] =
	    children_restarts(SG_CHILD_COLLECTOR);
	L.self[SG_SELF_RESTARTS_EXPORTER] = children_restarts(SG_CHILD_EXPORTER);
	L.self[SG_SELF_IPC_REJECTED_LOADER] =
	    atomic_load(&L.exporter.rejected);
	wire_w_init(&w, buf, sizeof(buf));
	self_put_stats(&w, SG_SELF_LOADER, L.self);
	if (!w.err)
		(void)sg_ipc_send(L.to_exporter, SG_MSG_STATS, buf, w.len);
}

/*
 * [metrics] features = application_process: the resource use of every
 * selected process, from /proc, which only the loader may read.  Once a
 * second (the stats tick).
 */
static void
sg_send_pstats(void)
{
	if (L.cfg.features & (1u << SG_FEATURE_APPLICATION_PROCESS))
		L.proc_msgs_lost += pstats_round(sg_to_collector);
}

/* ---- discovery ---- */

/* TLS plaintext through uprobes, where the kernel and the capabilities
 * allow them; processes selected at exec may map the system's libssl
 * before the loader could look, so it is hooked up front for them. */
static int
sg_tls_start(const struct sg_preflight *pf)
{
	if (!L.cfg.ebpf.tls)
		return 0;
	if (!pf->hooks.uprobes) {
		sg_log(SG_LOG_WARN, "tls: %s: the plaintext of TLS connections "
		    "is not seen", pf->hooks.uprobes_why);
		return 0;
	}
	L.tls = tls_new(sg_bpf_object(&L.bpf), sg_config_selects_by_exe(&L.cfg));
	return L.tls != NULL ? 0 : -1;
}

static int
sg_discovery_start(void)
{
	L.disc = discovery_new(&L.cfg, selection_on_discovery, NULL);
	if (L.disc == NULL)
		return -1;
	selection_set_discovery(L.disc);
	discovery_ignore(L.disc, getpid());
	for (int i = 0; i < SG_CHILD_MAX; i++)
		if (children_pid(i) > 0)
			discovery_ignore(L.disc, children_pid(i));
	return 0;
}

/* After a reload the selection is worked out anew; processes that are no
 * longer selected are dropped. */
static void
sg_reselect(void)
{
	selection_unmark();
	discovery_free(L.disc);
	if (sg_discovery_start() < 0)
		sg_fatal("discovery: cannot restart after reload");
	selection_scan();
	selection_drop_unmarked();
}

static void
sg_reload(void)
{
	struct sg_config nc;

	sg_log(SG_LOG_INFO, "SIGHUP: reloading the configuration");
	if (sg_load_config(&nc, &L.src) < 0) {
		sg_log(SG_LOG_ERR, "reload failed; keeping the running "
		    "configuration");
		return;
	}
	/* As at start: a sensor told to watch nothing is misconfigured, so
	 * the running selection stays rather than silently going dark. */
	if (!sg_config_selects(&nc)) {
		sg_log(SG_LOG_ERR, "reload refused: %s; keeping the running "
		    "configuration", SG_NOTHING_SELECTED);
		return;
	}
	if (nc.ebpf.capture_size != L.cfg.ebpf.capture_size ||
	    nc.ebpf.http2_capture_size != L.cfg.ebpf.http2_capture_size ||
	    nc.ebpf.ringbuf_size != L.cfg.ebpf.ringbuf_size ||
	    nc.ebpf.syscall_hooks != L.cfg.ebpf.syscall_hooks ||
	    nc.ebpf.wakeup_len != L.cfg.ebpf.wakeup_len ||
	    strcmp(nc.runtime_dir, L.cfg.runtime_dir) != 0 ||
	    strcmp(nc.user, L.cfg.user) != 0 ||
	    strcmp(nc.otlp_ca_file, L.cfg.otlp_ca_file) != 0)
		sg_log(SG_LOG_WARN, "[ebpf] settings, runtime_dir, user and "
		    "otlp_ca_file take effect at the next start");
	L.cfg = nc;
	sg_log_set_level(L.cfg.log_level);
	resolve_otlp(&L.cfg);
	sg_reselect();
	/* Before the configuration goes out: the new exporter gets it when
	 * it connects. */
	if (children_exporter_otlp(sg_otlp_configured(&L.cfg))) {
		sg_log(SG_LOG_INFO, "OTLP export configured: restarting the "
		    "exporter to load libcurl");
		children_restart(SG_CHILD_EXPORTER);
	}
	(void)sg_send_config(SG_TO_COLLECTOR);
	(void)sg_send_config(SG_TO_EXPORTER);
}

/* ---- shutdown ---- */

/*
 * What was seen goes out before we go: the ring buffer to the collector,
 * our last stats, then a stop that follows them down the chain (the
 * collector passes it on after its last spans and snapshot; the exporter
 * sends everything and exits).  Bounded by shutdown_timeout; then the
 * children are ended, and what did not make it is logged by the exporter.
 */
static void
sg_shutdown(void)
{
	uint64_t deadline = sg_mono_ms() + L.cfg.shutdown_timeout_ms;
	enum sg_child first = children_pid(SG_CHILD_COLLECTOR) > 0 ?
	    SG_CHILD_COLLECTOR : SG_CHILD_EXPORTER;
	uint8_t buf[8];
	struct wire_w w;
	int64_t left;

	sg_log(SG_LOG_INFO, "stopping: delivering what was seen (at most "
	    "%u ms)", (unsigned)L.cfg.shutdown_timeout_ms);
	children_wait(SG_CHILD_EXPORTER, 0);   /* no restarts from now */
	sg_drain_take(L.drain);
	sg_send_stats();
	left = (int64_t)(deadline - sg_mono_ms());
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u32(&w, left > 0 ? (uint32_t)left : 0);
	if (sg_to_child(first, SG_MSG_STOP, buf, w.len) != 0)
		sg_log(SG_LOG_WARN, "stop: the %s did not take the stop",
		    children_name(first));
	left = (int64_t)(deadline - sg_mono_ms());
	children_wait(SG_CHILD_EXPORTER, left > 0 ? (int)left : 0);
	left = (int64_t)(deadline - sg_mono_ms());
	children_stop(left > 1000 ? (int)left : 1000);
}

/* ---- start-up ---- */

/* What we and the children made in the runtime directory. */
static void
sg_runtime_dir_clean(const char *dir)
{
	rundir_forget(dir, L.collector);
	rundir_forget(dir, atomic_load(&L.exporter.pid));
	rundir_unlock(dir, L.lock_fd);
	L.lock_fd = -1;
}

/* The helpers beside our own binary (a build tree), else the installed
 * ones. */
static void
sg_helper_dir(char *buf, size_t sz)
{
	char self[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;
	char *slash;

	if (L.cfg.helper_dir[0] != '\0') {
		snprintf(buf, sz, "%s", L.cfg.helper_dir);
		return;
	}
	snprintf(buf, sz, "%s", SG_LIBEXECDIR);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(probe, sizeof(probe), "%s/spyglass-collector", self);
	if (access(probe, X_OK) == 0)
		snprintf(buf, sz, "%s", self);
}

static int
sg_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	/* Blocked before any thread exists, so nng's threads inherit it. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
sg_on_signal(int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			L.stopping = 1;
			break;
		case SIGHUP:
			sg_reload();
			break;
		case SIGCHLD:
			children_reap(sg_mono_ms());
			break;
		}
	}
}

/*
 * The channels follow the children.  A restarted exporter has a new pid,
 * the only one its channel accepts, and the collector is told it; a new
 * connection is an exporter that must be told the current state.  A new
 * collector reads its channel on from where the last one stopped, and is
 * told the current state after what it finds there.
 */
static void
sg_check_children(void)
{
	pid_t col = children_pid(SG_CHILD_COLLECTOR);
	pid_t exp = children_pid(SG_CHILD_EXPORTER);
	pid_t was;
	int c;

	if (col != L.collector) {
		rundir_forget(L.cfg.runtime_dir, L.collector);
		L.collector = col;
	}
	if (exp != (was = atomic_load(&L.exporter.pid))) {
		rundir_forget(L.cfg.runtime_dir, was);
		if (sg_ipc_redial(L.to_exporter, &L.exporter_dialer,
		    L.cfg.runtime_dir, SG_IPC_EXPORTER, &L.exporter, exp) < 0)
			sg_log(SG_LOG_ERR, "cannot dial the exporter");
		if (exp > 0)
			(void)sg_send_peer(SG_CHILD_COLLECTOR, exp);
	}
	/* again on the next turn when the channel had no room */
	if (col > 0 && L.collector_told != col)
		(void)sg_resync_collector();
	if ((c = sg_ipc_connects(L.to_exporter)) != L.exporter_connects &&
	    sg_resync_exporter() == 0)
		L.exporter_connects = c;
}

/* The channel's memory back, after a second without events (the process
 * samples, each second, are far smaller than a page). */
static void
sg_trim_channel(void)
{
	static uint64_t batches;
	struct sg_drain_stats ds;

	sg_drain_stats(L.drain, &ds);
	if (ds.batches == batches)
		sg_chan_trim(&L.to_collector);
	batches = ds.batches;
}

static int
sg_main_loop(int sfd)
{
	uint64_t next_stats = 0, next_scan = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -1;
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = sg_drain_fd(L.drain);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);

	while (!L.stopping) {
		struct epoll_event out[4];
		uint64_t now;
		int n = epoll_wait(ep, out, 4, SG_DRAIN_TICK_MS);

		if (n < 0 && errno != EINTR)
			sg_fatal("epoll_wait: %s", strerror(errno));
		/* read only when pending: a read that finds nothing is a
		 * syscall on every tick */
		for (int i = 0; i < n; i++)
			if (out[i].data.fd == sfd)
				sg_on_signal(sfd);
		sg_check_children();
		sg_drain_take(L.drain);
		now = sg_mono_ms();
		children_tick(now);
		if (now >= next_scan) {
			selection_scan();
			tls_rescan(L.tls);
			next_scan = now + L.cfg.discovery.poll_interval_ms;
		}
		if (now >= next_stats) {
			sg_send_stats();
			sg_send_pstats();
			sg_trim_channel();
			next_stats = now + SG_STATS_TICK_MS;
		}
	}
	close(ep);
	return 0;
}

/* The configuration file this run read, or the one it would have read:
 * where an operator selects something. */
static const char *
sg_config_file_name(void)
{
	return L.src.file != NULL ? L.src.file :
	    SG_SYSCONFDIR "/spyglass/spyglass.ini";
}

static int
sg_run(void)
{
	struct sg_children_opts co = { 0 };
	struct sg_preflight pf;
	char user[64], err[256], helpers[PATH_MAX], how[512];
	enum sg_hooks plan[SG_HOOKS_KINDS];
	int nplan;
	uid_t uid;
	gid_t gid;
	int sfd;

	preflight_run(&L.cfg, &pf, true);
	if (pf.errors > 0) {
		preflight_print(stderr, &L.cfg, &pf);
		return SG_EXIT_PREFLIGHT;
	}
	if (!sg_config_selects(&L.cfg)) {
		/* Like Beyla: a sensor that would watch nothing is a
		 * configuration error, and status 2 stops systemd restarting
		 * it (RestartPreventExitStatus=2). */
		check_how_to_select(how, sizeof(how), sg_config_file_name());
		sg_log(SG_LOG_ERR, "%s", SG_NOTHING_SELECTED);
		sg_log(SG_LOG_ERR, "%s", how);
		return SG_EXIT_CONFIG;
	}
	if (privs_resolve_user(&L.cfg, &uid, &gid, user, sizeof(user), err,
	    sizeof(err)) < 0) {
		sg_log(SG_LOG_ERR, "%s", err);
		return SG_EXIT_CONFIG;
	}
	if (rundir_make(L.cfg.runtime_dir, uid, gid) < 0 ||
	    (L.lock_fd = rundir_lock(L.cfg.runtime_dir)) < 0)
		return SG_EXIT_RUNTIME;
	if ((sfd = sg_signalfd()) < 0)
		return SG_EXIT_RUNTIME;

	/* Children first: nng is not fork-safe and not initialised yet. */
	sg_helper_dir(helpers, sizeof(helpers));
	co.helper_dir = helpers;
	co.runtime_dir = L.cfg.runtime_dir;
	co.log_level = sg_log_level_name(L.cfg.log_level);
	co.sandbox_debug = L.cfg.sandbox_debug;
	co.ca_file = L.cfg.otlp_ca_file;
	co.otlp = sg_otlp_configured(&L.cfg);
	co.uid = uid;
	co.gid = gid;
	if (sg_chan_create(&L.to_collector, SG_CHAN_SIZE) < 0) {
		sg_log(SG_LOG_ERR, "the collector's channel: %s",
		    strerror(errno));
		return SG_EXIT_RUNTIME;
	}
	co.collector_fds[0] = L.to_collector.memfd;
	co.collector_fds[1] = L.to_collector.wakefd;
	children_init(&co);
	if (children_spawn(SG_CHILD_COLLECTOR) < 0 ||
	    children_spawn(SG_CHILD_EXPORTER) < 0) {
		children_stop(1000);
		sg_chan_close(&L.to_collector);
		return SG_EXIT_RUNTIME;
	}

	if (privs_drop(uid, gid, privs_needed(&L.cfg,
	    pf.hooks.uprobes_need_admin)) < 0) {
		children_stop(1000);
		sg_chan_close(&L.to_collector);
		return SG_EXIT_RUNTIME;
	}
	sg_log(SG_LOG_INFO, "running as %s", user);

	resolve_otlp(&L.cfg);
	nplan = sg_hooks_plan(L.cfg.ebpf.syscall_hooks, &pf.hooks, plan);
	if (L.cfg.ebpf.syscall_hooks != SG_HOOKS_AUTO &&
	    plan[0] != L.cfg.ebpf.syscall_hooks)
		sg_log(SG_LOG_WARN, "syscall_hooks = %s: %s: using %s",
		    sg_hooks_name(L.cfg.ebpf.syscall_hooks),
		    pf.hooks.why_not[L.cfg.ebpf.syscall_hooks],
		    sg_hooks_name(plan[0]));
	if (sg_bpf_open_load_attach(&L.bpf, &L.cfg, plan, nplan,
	    &pf.hooks) < 0)
		goto fail;
	if (sg_tls_start(&pf) < 0)
		goto fail;
	if (sg_ipc_socket(&L.to_exporter, SG_IPC_PUSH, &L.exporter) < 0)
		goto fail;
	if ((L.drain = sg_drain_new(&L.bpf, &L.to_collector)) == NULL)
		goto fail;
	if (selection_init(&L.bpf, L.tls, L.drain, sg_send_proc) < 0 ||
	    sg_discovery_start() < 0)
		goto fail;
	sg_check_children();   /* dials the exporter */

	sg_main_loop(sfd);
	sg_shutdown();
	sg_drain_free(L.drain);
	discovery_free(L.disc);
	sg_chan_close(&L.to_collector);
	nng_close(L.to_exporter);
	tls_free(L.tls);
	sg_bpf_close(&L.bpf);
	selection_free();
	close(sfd);
	sg_runtime_dir_clean(L.cfg.runtime_dir);
	return 0;
fail:
	children_stop(1000);
	selection_free();
	sg_drain_free(L.drain);
	sg_chan_close(&L.to_collector);
	tls_free(L.tls);
	sg_bpf_close(&L.bpf);
	sg_runtime_dir_clean(L.cfg.runtime_dir);
	return SG_EXIT_RUNTIME;
}

int
main(int argc, char **argv)
{
	static const char default_file[] = SG_SYSCONFDIR "/spyglass/spyglass.ini";
	const char *cmd = "run";
	int ch;

	sg_log_init("spyglass", SG_LOG_INFO);
	while ((ch = getopt(argc, argv, "c:o:hV")) != -1) {
		switch (ch) {
		case 'c':
			L.src.file = optarg;
			break;
		case 'o':
			if (L.src.noverrides == SG_MAX_OVERRIDES) {
				fprintf(stderr, "spyglass: too many -o\n");
				return SG_EXIT_CONFIG;
			}
			L.src.overrides[L.src.noverrides++] = optarg;
			break;
		case 'V':
			printf("spyglass %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			sg_usage(stdout);
			return 0;
		default:
			sg_usage(stderr);
			return SG_EXIT_CONFIG;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (optind < argc || (strcmp(cmd, "run") != 0 &&
	    strcmp(cmd, "check") != 0)) {
		sg_usage(stderr);
		return SG_EXIT_CONFIG;
	}
	if (L.src.file == NULL && access(default_file, F_OK) == 0)
		L.src.file = default_file;
	if (sg_load_config(&L.cfg, &L.src) < 0)
		return SG_EXIT_CONFIG;
	sg_log_set_level(L.cfg.log_level);
	if (L.src.file == NULL)
		sg_log(SG_LOG_INFO, "%s not found: using built-in defaults",
		    default_file);
	if (strcmp(cmd, "check") == 0)
		return check_run(&L.cfg, sg_config_file_name());
	return sg_run();
}
