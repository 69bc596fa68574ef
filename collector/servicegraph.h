/*
 * [metrics] features = application_service_graph: Beyla's (and Tempo's)
 * service graph, an edge per client and server:
 *   traces_service_graph_request_total           counter
 *   traces_service_graph_request_failed_total    counter
 *   traces_service_graph_request_server_seconds  histogram
 *   traces_service_graph_request_client_seconds  histogram
 * labelled client, client_service_namespace, server,
 * server_service_namespace, connection_type (when set) and source.
 *
 * A client span's edge goes from its own service to the other end; a
 * server span's from the other end to its own service.  The other end
 * is named by its service when the sensor follows it too (both ends on
 * this host), else by its address.  A request whose two ends are both
 * followed makes two spans and is counted once in request_total and
 * failed_total: by its client span.  A server span counts there only
 * when its client is not followed.  Each side's duration goes to its own
 * histogram.  An edge from a service to itself is left out unless
 * [metrics] allow_service_graph_self_references.
 */
#ifndef SG_SERVICEGRAPH_H
#define SG_SERVICEGRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "msg.h"

enum { SERVICEGRAPH_TOTAL = 0, SERVICEGRAPH_FAILED, SERVICEGRAPH_SERVER,
	SERVICEGRAPH_CLIENT, SERVICEGRAPH_NFAM };

/* The other end of a span's connection. */
struct servicegraph_peer {
	bool                        followed;  /* a connection the sensor
	                                        * follows too */
	const struct sg_proc_info  *proc;      /* its process; NULL: not
	                                        * known (yet) */
};

/* A text and the size of the field it is in (it may fill it). */
struct servicegraph_text {
	const char *s;
	size_t      max;
};

/* What one span makes of the graph. */
struct servicegraph_edge {
	struct servicegraph_text client, client_ns, server, server_ns;
	const char *connection_type;   /* NULL: not set */
	bool        counted;           /* in request_total, failed_total */
	bool        failed;
	bool        self;              /* client and server are one service */
};

/* An edge, as some slot's labels were built from it. */
struct servicegraph_src {
	char        client[SG_NAME_MAX], client_ns[SG_NAME_MAX];
	char        server[SG_NAME_MAX], server_ns[SG_NAME_MAX];
	const char *connection_type;
};

struct servicegraph {
	struct metrics_deriver   d;
	bool                     self_refs;
	/* the edges the labels of each of d's slots were built from */
	struct servicegraph_src  src[METRICS_DERIVER_SLOTS];
};

void servicegraph_attach(struct servicegraph *g, struct sg_metrics *m);
void servicegraph_select(struct servicegraph *g, const struct sg_config *c);
/* Whether spans are to be recorded: the caller looks the peer up only
 * then. */
bool servicegraph_on(const struct servicegraph *g);
void servicegraph_record(struct servicegraph *g, const struct sg_span *s,
    const struct servicegraph_peer *peer);
/* The edge of span s; false for a span of no kind the graph knows. */
bool servicegraph_edge(const struct sg_span *s,
    const struct servicegraph_peer *peer, struct servicegraph_edge *e);
void servicegraph_labels(struct metrics_labels *l,
    const struct servicegraph_edge *e);

#endif
