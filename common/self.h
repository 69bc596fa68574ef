/*
 * The sensor's own metrics: one table for the three processes.  Each
 * entry is one series (a family name and at most one label), owned by the
 * process that counts it.  Processes send their values as SG_MSG_STATS
 * ({ u16 n; n x { u16 id; u64 value } }); the exporter accepts an id only
 * from its owner and renders the families, for Prometheus and OTLP alike.
 */
#ifndef SG_SELF_H
#define SG_SELF_H

#include <stdint.h>

#include "msg.h"
#include "wire.h"

enum sg_self_source { SG_SELF_LOADER = 1, SG_SELF_COLLECTOR, SG_SELF_EXPORTER };

enum sg_self_id {
	SG_SELF_EVENTS_READ,
	SG_SELF_LOST_RINGBUF,
	SG_SELF_LOST_LOADER_IPC,
	SG_SELF_LOST_COLLECTOR_IPC,
	SG_SELF_LOST_COLLECTOR_EXIT,
	SG_SELF_LOST_COLLECTOR_START,
	SG_SELF_LOST_CHANNEL,
	SG_SELF_BAD_LOADER,
	SG_SELF_BAD_COLLECTOR,
	SG_SELF_EVENTS_UNSELECTED,
	SG_SELF_INSTRUMENTED,
	SG_SELF_PROC_MSGS_LOST,
	SG_SELF_RESTARTS_COLLECTOR,
	SG_SELF_RESTARTS_EXPORTER,
	SG_SELF_IPC_REJECTED_LOADER,
	SG_SELF_IPC_REJECTED_COLLECTOR,
	SG_SELF_IPC_REJECTED_EXPORTER,
	SG_SELF_TIMED_OUT,
	SG_SELF_CUT_OFF,
	SG_SELF_EVICTED,
	SG_SELF_CONNS_ACTIVE,
	SG_SELF_UNPARSED,
	SG_SELF_TLS_CIPHERTEXT,
	SG_SELF_TLS_UNBOUND,
	SG_SELF_TLS_FILES,
	SG_SELF_UNPAIRED,
	SG_SELF_REQ_DROPPED,
	SG_SELF_UNKNOWN_FIELDS,
	SG_SELF_SPANS,
	SG_SELF_SPANS_UNSAMPLED,
	SG_SELF_TRACE_CONTEXT_INVALID,
	SG_SELF_TRACE_STATE_INVALID,
	SG_SELF_TRACE_STATE_CUT,
	SG_SELF_TRACE_LINKS_THREAD,
	SG_SELF_TRACE_LINKS_PEER,
	SG_SELF_TRACE_LINKS_WIRE,	/* a family's series are adjacent */
	SG_SELF_TRACE_THREADS_FORGOTTEN,
	SG_SELF_PROPAGATED_HEADER,
	SG_SELF_PROPAGATED_TCPOPT,
	SG_SELF_PROPAGATION_DIFFERS,
	SG_SELF_PROPAGATION_UNUSED,
	SG_SELF_CONNS_UNINDEXED,
	SG_SELF_ROUTES_IGNORED_METRICS,
	SG_SELF_ROUTES_IGNORED_TRACES,
	SG_SELF_SELF_EXPORTED_METRICS,
	SG_SELF_SELF_EXPORTED_TRACES,
	SG_SELF_FILTERED,
	SG_SELF_SERIES_DROPPED,
	SG_SELF_OTLP_SENT_TRACES,
	SG_SELF_OTLP_SENT_METRICS,
	SG_SELF_OTLP_DROPPED_TRACES,
	SG_SELF_OTLP_DROPPED_METRICS,
	SG_SELF_OTLP_RETRIES_TRACES,
	SG_SELF_OTLP_RETRIES_METRICS,
	SG_SELF_OTLP_QUEUED_TRACES,
	SG_SELF_OTLP_QUEUED_METRICS,
	SG_SELF_MAX
};

struct sg_self_def {
	const char *name;        /* Prometheus family name */
	const char *label;       /* "" or key="value" */
	uint8_t     type;        /* enum sg_metric_type: counter or gauge */
	uint8_t     source;      /* enum sg_self_source */
	const char *help;
};

extern const struct sg_self_def sg_self[SG_SELF_MAX];

/* SG_MSG_STATS from values[SG_SELF_MAX]: the ids of source. */
void self_put_stats(struct wire_w *w, enum sg_self_source source,
    const uint64_t *values);
/* Apply an SG_MSG_STATS from source to values[SG_SELF_MAX]; -1 when
 * malformed or when it carries an id source does not own. */
int  self_get_stats(struct wire_r *r, enum sg_self_source source,
    uint64_t *values);

/* The families, in the snapshot format of SG_MSG_METRICS (msg.h): how
 * many there are, and each with its series from values[SG_SELF_MAX],
 * counting since start_ns (they never age). */
uint16_t self_nfamilies(void);
void self_put_families(struct wire_w *w, const uint64_t *values,
    uint64_t start_ns);

#endif
