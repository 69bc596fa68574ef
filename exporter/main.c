/*
 * spyglass-exporter: the only process with network sockets.  Serves the
 * Prometheus endpoint from the collector's latest snapshot and prints
 * spans.  No capabilities, unprivileged uid, seccomp allowlist.
 */
#include <errno.h>
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
#include "printer.h"
#include "prom.h"
#include "sandbox.h"

#define SG_MAX_POLLFDS 32

static struct {
	struct sg_config    cfg;
	bool                configured;
	struct prom_server *prom;
	nng_socket          in;
	uint64_t            bad_spans;
} E;

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
	if (sg_config_decode(&nc, m->payload, m->size, "collector", err,
	    sizeof(err)) < 0)
		sg_fatal("configuration refused: %s", err);
	sg_log_set_level(nc.log_level);
	sg_apply_prom(&nc);
	prom_set_ttl(E.prom, (uint64_t)nc.prom.ttl_ms * 1000000u);
	otlp_configure(&nc);
	E.cfg = nc;
	E.configured = true;
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
	return 0;
}

static int
sg_on_metrics(const struct sg_msg *m, void *ctx)
{
	(void)ctx;
	if (E.prom != NULL)
		prom_set_snapshot(E.prom, m->payload, m->size);
	otlp_snapshot(m->payload, m->size);
	return 0;
}

static const struct sg_dispatch sg_exporter_dispatch[] = {
	{ SG_MSG_CONFIG,  2, sg_on_config },
	{ SG_MSG_SPANS,   4, sg_on_spans },
	{ SG_MSG_METRICS, 12, sg_on_metrics },
};

/* Take every message that is waiting, without blocking. */
static void
sg_receive_all(void)
{
	struct sg_msg m;

	while (sg_ipc_recv(E.in, &m, 0) == 0) {
		sg_ipc_dispatch(sg_exporter_dispatch,
		    sizeof(sg_exporter_dispatch) / sizeof(sg_exporter_dispatch[0]),
		    &m, NULL);
		sg_ipc_msg_free(&m);
	}
}

int
main(int argc, char **argv)
{
	struct sg_child_args args;
	struct pollfd fds[SG_MAX_POLLFDS];
	int recvfd;

	sg_child_args_parse(argc, argv, "spyglass-exporter", &args);
	sg_log_init("spyglass-exporter", args.level);
	sg_config_defaults(&E.cfg);

	if (sg_ipc_listen(&E.in, SG_IPC_PULL, args.runtime_dir,
	    SG_IPC_EXPORT_SOCK) < 0)
		return 1;
	if (nng_socket_get_int(E.in, NNG_OPT_RECVFD, &recvfd) != 0)
		sg_fatal("nng: no receive fd");
	/* libcurl, TLS and the CA bundle are loaded while files can still
	 * be opened, and only for OTLP: they are most of our memory. */
	if (args.otlp && otlp_send_global_init(args.ca_file) < 0)
		sg_fatal("cannot initialise the OTLP sender");
	if (sg_sandbox_exporter(args.sandbox_debug) < 0)
		sg_fatal("cannot apply the seccomp filter");
	if (args.selftest != NULL)
		return sg_sandbox_selftest(args.selftest) == 0 ? 0 : 1;

	for (;;) {
		struct prom_server *polled = E.prom;
		int n = 1;

		fds[0].fd = recvfd;
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		if (E.prom != NULL)
			n += prom_pollfds(E.prom, fds + 1, SG_MAX_POLLFDS - 1);
		if (poll(fds, (nfds_t)n, otlp_tick()) < 0 && errno != EINTR)
			sg_fatal("poll: %s", strerror(errno));
		if (fds[0].revents & POLLIN)
			sg_receive_all();
		if (E.prom != NULL)
			prom_set_extra(E.prom, otlp_stats_text());
		/* A new configuration may have replaced the endpoint. */
		if (polled != NULL && polled == E.prom && n > 1)
			prom_service(E.prom, fds + 1, n - 1);
	}
}
