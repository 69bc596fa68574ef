/*
 * spyglass-exporter: the only process with network sockets.  Serves the
 * Prometheus endpoint from the collector's latest snapshot and the
 * sensor's own metrics, prints spans and sends OTLP.  Two channels in:
 * the loader's (its configuration, the loader's stats, the collector's
 * pid) and the collector's (spans, snapshots, its stats).  No
 * capabilities, unprivileged uid, seccomp allowlist.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "msg.h"
#include "otlp.h"
#include "otlp_send.h"
#include "clock.h"
#include "printer.h"
#include "prom.h"
#include "sandbox.h"
#include "self.h"
#include "snapshot.h"

#define SG_MAX_POLLFDS 32
#define SG_PUBLISH_MS  1000   /* the served snapshot's age at most */

static struct {
	struct sg_config    cfg;
	bool                configured;
	struct prom_server *prom;
	nng_socket          from_loader, from_collector;
	nng_dialer          to_collector;   /* of the collector we know */
	struct sg_ipc_peer  loader, collector;
	const char         *runtime_dir;
	int                 collectorfd;
	uint64_t            self[SG_SELF_MAX];
	bool                dirty;          /* the served snapshot is old */
	uint64_t            published_ms;   /* when it was made */
	size_t              trim_len;       /* largest since the last trim */
} E = {
	.loader = { .name = "loader" },
	.collector = { .name = "collector" },
};

/* (Re)open the endpoint when its address changed. */
static void
sg_apply_prom(const struct sg_config *nc)
{
	if (E.configured && E.prom != NULL &&
	    strcmp(nc->prom.address, E.cfg.prom.address) == 0 &&
	    nc->prom.port == E.cfg.prom.port &&
	    strcmp(nc->prom.path, E.cfg.prom.path) == 0)
		return;
	prom_free(E.prom);
	E.prom = NULL;
	if (nc->prom.port == 0)
		return;
	E.prom = prom_new(nc->prom.address, nc->prom.port, nc->prom.path);
	if (E.prom == NULL)
		sg_fatal("cannot serve metrics on %s:%u", nc->prom.address,
		    nc->prom.port);
	sg_log(SG_LOG_INFO, "serving metrics on http://%s:%u%s",
	    nc->prom.address, nc->prom.port, nc->prom.path);
}

static int
sg_on_config(const struct sg_msg *m, void *ctx)
{
	struct sg_config nc;
	char err[SG_CONFIG_ERR_MAX];

	(void)ctx;
	sg_config_defaults(&nc);
	if (sg_config_decode(&nc, m->payload, m->size, "loader", err,
	    sizeof(err)) < 0)
		sg_fatal("configuration refused: %s", err);
	sg_log_set_level(nc.log_level);
	sg_apply_prom(&nc);
	prom_set_ttl(E.prom, (uint64_t)nc.prom.ttl_ms * 1000000u);
	otlp_configure(&nc);
	E.cfg = nc;
	E.configured = true;
	E.dirty = true;
	return 0;
}

/* The collector's pid: the only process whose output we take. */
static int
sg_on_peer(const struct sg_msg *m, void *ctx)
{
	uint32_t pid;

	(void)ctx;
	if (msg_get_peer(m->payload, m->size, &pid) < 0)
		sg_fatal("malformed peer message");
	if ((int)pid == atomic_load(&E.collector.pid))
		return 0;
	/* A new collector: it counts from zero, and its endpoint is named
	 * after it (ipc.h). */
	if (atomic_load(&E.collector.pid) > 0) {
		snapshot_collector_gone(E.self);
		E.dirty = true;
	}
	if (sg_ipc_redial(E.from_collector, &E.to_collector, E.runtime_dir,
	    SG_IPC_SPANS, &E.collector, (pid_t)pid) < 0)
		sg_fatal("cannot dial the collector");
	return 0;
}

/* ctx: the sender (enum sg_self_source), which the channel says. */
static int
sg_on_stats(const struct sg_msg *m, void *ctx)
{
	struct wire_r r;

	/* As in sg_on_metrics: a replaced collector's last words. */
	if (*(const enum sg_self_source *)ctx == SG_SELF_COLLECTOR &&
	    sg_ipc_msg_pid(m) != atomic_load(&E.collector.pid))
		return 0;
	wire_r_init(&r, m->payload, m->size);
	/* Served with the next snapshot: the collector's come each second,
	 * right after its stats, and sg_publish runs at least as often. */
	if (self_get_stats(&r, *(const enum sg_self_source *)ctx, E.self) < 0)
		sg_fatal("malformed stats message");
	return 0;
}

static int
sg_on_spans(const struct sg_msg *m, void *ctx)
{
	struct sg_span s;
	struct wire_r r;
	uint32_t n;

	(void)ctx;
	wire_r_init(&r, m->payload, m->size);
	n = wire_get_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		if (msg_get_span(&r, &s) < 0)
			sg_fatal("malformed span %u of %u", i, n);
		printer_span(stdout, E.cfg.trace_printer, &s);
		otlp_span(&s);
	}
	if (!wire_r_done(&r))
		sg_fatal("span batch: trailing bytes");
	printer_batch(stdout, E.cfg.trace_printer, n);
	return 0;
}

static int
sg_on_metrics(const struct sg_msg *m, void *ctx)
{
	(void)ctx;
	/* The last words of a collector the loader has replaced since: its
	 * counts were taken over already (snapshot_collector_gone). */
	if (sg_ipc_msg_pid(m) != atomic_load(&E.collector.pid))
		return 0;
	if (snapshot_collector(m->payload, m->size) < 0)
		sg_fatal("malformed metric snapshot");
	E.dirty = true;
	return 0;
}

static void sg_publish(void);

/*
 * The sensor stops (from the collector after its last spans and snapshot,
 * or from the loader when there is no collector): serve and send what we
 * have, within the time left, and exit.  No nng_close: closing a socket
 * with a dialer was seen to hang in nng 1.5.2.
 */
static int
sg_on_stop(const struct sg_msg *m, void *ctx)
{
	struct wire_r r;
	uint32_t ms;

	(void)ctx;
	wire_r_init(&r, m->payload, m->size);
	ms = wire_get_u32(&r);
	if (!wire_r_done(&r))
		sg_fatal("malformed stop message");
	sg_publish();
	otlp_finish(sg_mono_ms() + ms);
	fflush(stdout);
	sg_log(SG_LOG_DEBUG, "stopped");
	_exit(0);
}

/* What each channel may carry; anything else is fatal. */
static const struct sg_dispatch sg_from_loader[] = {
	{ SG_MSG_CONFIG,  2, sg_on_config },
	{ SG_MSG_STATS,   2, sg_on_stats },
	{ SG_MSG_PEER,    4, sg_on_peer },
	{ SG_MSG_STOP,    4, sg_on_stop },
};
static const struct sg_dispatch sg_from_collector[] = {
	{ SG_MSG_SPANS,   4, sg_on_spans },
	{ SG_MSG_METRICS, 28, sg_on_metrics },
	{ SG_MSG_STATS,   2, sg_on_stats },
	{ SG_MSG_STOP,    4, sg_on_stop },
};

/* Take every message waiting on s, without blocking. */
static void
sg_receive_all(nng_socket s, const struct sg_dispatch *table, size_t n,
    enum sg_self_source source)
{
	struct sg_msg m;

	while (sg_ipc_recv(s, &m) == 0) {
		sg_ipc_dispatch(table, n, &m, &source);
		sg_ipc_msg_free(&m);
	}
}

/* What Prometheus and OTLP get: rebuilt when something changed. */
static void
sg_publish(void)
{
	uint8_t *snap;
	size_t len;

	otlp_self_stats(E.self);
	E.self[SG_SELF_IPC_REJECTED_EXPORTER] =
	    atomic_load(&E.loader.rejected) + atomic_load(&E.collector.rejected);
	if ((snap = snapshot_build(E.self, sg_clock_ns(CLOCK_REALTIME),
	    &len)) == NULL)
		return;   /* out of memory: the previous one stays */
	if (E.prom != NULL)
		prom_set_snapshot(E.prom, snap, len);
	otlp_snapshot(snap, len);
	free(snap);
	/* Series that expired (a crowd of short-lived processes gone) were
	 * small blocks all over the heap, of which glibc gives back only
	 * the top by itself: trim once the snapshot has shrunk by half. */
	if (len > E.trim_len) {
		E.trim_len = len;
	} else if (len < E.trim_len / 2) {
		malloc_trim(0);
		E.trim_len = len;
	}
	E.dirty = false;
	E.published_ms = sg_mono_ms();
}

int
main(int argc, char **argv)
{
	struct sg_child_args args;
	struct pollfd fds[SG_MAX_POLLFDS];
	int loaderfd;

	sg_child_args_parse(argc, argv, "spyglass-exporter", &args);
	sg_log_init("spyglass-exporter", args.level);
	sg_config_defaults(&E.cfg);

	/* The loader started us; the collector is dialed once the loader
	 * names it (sg_on_peer). */
	E.runtime_dir = args.runtime_dir;
	atomic_store(&E.loader.pid, (int)getppid());
	if (sg_ipc_listen(&E.from_loader, SG_IPC_PULL, args.runtime_dir,
	    SG_IPC_EXPORTER, &E.loader) < 0 ||
	    sg_ipc_socket(&E.from_collector, SG_IPC_PULL, &E.collector) < 0)
		return 1;
	if (nng_socket_get_int(E.from_loader, NNG_OPT_RECVFD, &loaderfd) != 0 ||
	    nng_socket_get_int(E.from_collector, NNG_OPT_RECVFD,
	    &E.collectorfd) != 0)
		sg_fatal("nng: no receive fd");
	/* libcurl, TLS and the CA bundle are loaded while files can still
	 * be opened, and only for OTLP: they are most of our memory. */
	if (args.otlp && otlp_send_global_init(args.ca_file) < 0)
		sg_fatal("cannot initialise the OTLP sender");
	if (sg_sandbox_exporter(args.sandbox_debug) < 0)
		sg_fatal("cannot apply the seccomp filter");
	if (args.selftest != NULL)
		return sg_sandbox_selftest(args.selftest) == 0 ? 0 : 1;

	E.dirty = true;
	for (;;) {
		struct prom_server *polled;
		int n = 2, timeout;

		/* Also without a collector, whose snapshots make it dirty:
		 * the loader's counts and ours go on. */
		if (E.dirty || sg_mono_ms() >= E.published_ms + SG_PUBLISH_MS)
			sg_publish();
		polled = E.prom;
		fds[0] = (struct pollfd){ .fd = loaderfd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = E.collectorfd, .events = POLLIN };
		if (E.prom != NULL)
			n += prom_pollfds(E.prom, fds + 2, SG_MAX_POLLFDS - 2);
		timeout = otlp_tick();
		if (timeout > SG_PUBLISH_MS)
			timeout = SG_PUBLISH_MS;
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			sg_fatal("poll: %s", strerror(errno));
		if (fds[0].revents & POLLIN)
			sg_receive_all(E.from_loader, sg_from_loader,
			    sizeof(sg_from_loader) / sizeof(sg_from_loader[0]),
			    SG_SELF_LOADER);
		if (fds[1].revents & POLLIN)
			sg_receive_all(E.from_collector, sg_from_collector,
			    sizeof(sg_from_collector) /
			    sizeof(sg_from_collector[0]), SG_SELF_COLLECTOR);
		/* A new configuration may have replaced the endpoint. */
		if (polled != NULL && polled == E.prom && n > 2)
			prom_service(E.prom, fds + 2, n - 2);
	}
}
