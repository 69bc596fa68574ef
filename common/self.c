#include "self.h"

#include <stdio.h>
#include <string.h>

#define C SG_METRIC_COUNTER
#define G SG_METRIC_GAUGE
#define L SG_SELF_LOADER
#define O SG_SELF_COLLECTOR
#define E SG_SELF_EXPORTER

/* Series of one family are adjacent: the exporter renders them as one. */
const struct sg_self_def sg_self[SG_SELF_MAX] = {
	[SG_SELF_EVENTS_READ] = { "spyglass_events_read_total", "", C, L,
	    "Events read from the BPF ring buffer" },
	[SG_SELF_LOST_RINGBUF] = { "spyglass_events_lost_total",
	    "stage=\"ringbuf\"", C, L, "Events lost, by stage" },
	[SG_SELF_LOST_LOADER_IPC] = { "spyglass_events_lost_total",
	    "stage=\"loader_ipc\"", C, L, "" },
	[SG_SELF_LOST_COLLECTOR_IPC] = { "spyglass_events_lost_total",
	    "stage=\"collector_ipc\"", C, O, "" },
	[SG_SELF_LOST_COLLECTOR_EXIT] = { "spyglass_events_lost_total",
	    "stage=\"collector_exit\"", C, E, "" },
	[SG_SELF_LOST_COLLECTOR_START] = { "spyglass_events_lost_total",
	    "stage=\"collector_start\"", C, O, "" },
	[SG_SELF_LOST_CHANNEL] = { "spyglass_events_lost_total",
	    "stage=\"channel\"", C, O, "" },
	[SG_SELF_BAD_LOADER] = { "spyglass_bad_events_total",
	    "stage=\"loader\"", C, L, "Malformed events refused, by stage" },
	[SG_SELF_BAD_COLLECTOR] = { "spyglass_bad_events_total",
	    "stage=\"collector\"", C, O, "" },
	[SG_SELF_EVENTS_UNSELECTED] = { "spyglass_events_unselected_total", "",
	    C, L, "Events of processes traced from their exec while the "
	    "loader matched them, then not selected" },
	[SG_SELF_INSTRUMENTED] = { "spyglass_instrumented_processes", "", G, L,
	    "Processes instrumented now" },
	[SG_SELF_PROC_MSGS_LOST] = { "spyglass_process_messages_lost_total", "",
	    C, L, "Process metadata messages the collector could not take" },
	[SG_SELF_RESTARTS_COLLECTOR] = { "spyglass_child_restarts_total",
	    "child=\"collector\"", C, L, "Children restarted after dying" },
	[SG_SELF_RESTARTS_EXPORTER] = { "spyglass_child_restarts_total",
	    "child=\"exporter\"", C, L, "" },
	[SG_SELF_IPC_REJECTED_LOADER] = { "spyglass_ipc_peers_rejected_total",
	    "process=\"loader\"", C, L,
	    "IPC connections refused: not the process the channel is for" },
	[SG_SELF_IPC_REJECTED_COLLECTOR] = { "spyglass_ipc_peers_rejected_total",
	    "process=\"collector\"", C, O, "" },
	[SG_SELF_IPC_REJECTED_EXPORTER] = { "spyglass_ipc_peers_rejected_total",
	    "process=\"exporter\"", C, E, "" },
	[SG_SELF_TIMED_OUT] = { "spyglass_requests_timed_out_total", "",
	    C, O, "Requests without a response within their protocol's timeout "
	    "(http_request_timeout, grpc_request_timeout), or ended by their "
	    "connection's close" },
	[SG_SELF_CUT_OFF] = { "spyglass_requests_cut_off_total", "", C, O,
	    "Requests still waiting for their response when the sensor "
	    "stopped" },
	[SG_SELF_EVICTED] = { "spyglass_connections_evicted_total", "", C, O,
	    "Connections dropped from a full connection table" },
	[SG_SELF_CONNS_ACTIVE] = { "spyglass_connections_active", "", G, O,
	    "Connections followed now" },
	[SG_SELF_UNPARSED] = { "spyglass_unparsed_bytes_total", "", C, O,
	    "Bytes on instrumented connections that no parser could read" },
	[SG_SELF_TLS_CIPHERTEXT] = { "spyglass_tls_ciphertext_bytes_total", "",
	    C, O, "TLS records seen on sockets (handshakes, and the traffic "
	    "of TLS libraries the sensor does not hook): not parsed" },
	[SG_SELF_TLS_UNBOUND] = { "spyglass_tls_unbound_calls_total", "", C, L,
	    "TLS reads and writes not reported: their connection was not "
	    "known yet (a call before the library's first socket I/O for it)" },
	[SG_SELF_TLS_FILES] = { "spyglass_tls_files_hooked", "", G, L,
	    "Files (libssl, or executables linking OpenSSL) with uprobes "
	    "attached" },
	[SG_SELF_UNPAIRED] = { "spyglass_responses_unpaired_total", "",
	    C, O, "Responses to requests the sensor did not see (past the "
	    "capture, or timed out), in every protocol" },
	[SG_SELF_REQ_DROPPED] = { "spyglass_requests_dropped_total", "",
	    C, O, "Requests seen while their connection had as many awaiting "
	    "responses as the sensor keeps, in every protocol" },
	[SG_SELF_UNKNOWN_FIELDS] = { "spyglass_fields_unknown_total", "", C, O,
	    "Methods, paths and statuses the sensor could not read (HTTP/2 "
	    "header references to table entries it never saw): reported as "
	    "unknown, never guessed" },
	[SG_SELF_SPANS] = { "spyglass_spans_total", "", C, O,
	    "Spans produced" },
	[SG_SELF_SPANS_UNSAMPLED] = { "spyglass_spans_unsampled_total", "", C, O,
	    "Spans left out by the trace sampler" },
	[SG_SELF_TRACE_CONTEXT_INVALID] = {
	    "spyglass_trace_context_invalid_total", "", C, O,
	    "Requests whose W3C traceparent was not valid (or sent twice): "
	    "ignored, their spans start traces of their own" },
	[SG_SELF_TRACE_STATE_INVALID] = {
	    "spyglass_trace_state_dropped_total", "reason=\"invalid\"", C, O,
	    "Requests whose W3C tracestate was not kept whole: not valid "
	    "(none kept), or members past 512 bytes or past what the sensor "
	    "saw of the request left out (cut)" },
	[SG_SELF_TRACE_STATE_CUT] = { "spyglass_trace_state_dropped_total",
	    "reason=\"cut\"", C, O, "" },
	[SG_SELF_TRACE_LINKS_THREAD] = { "spyglass_trace_links_total",
	    "via=\"thread\"", C, O, "Requests linked by the sensor, without a "
	    "header: client calls to the server request their thread served "
	    "(thread), servers to their caller's client span on this host "
	    "(peer)" },
	[SG_SELF_TRACE_LINKS_PEER] = { "spyglass_trace_links_total",
	    "via=\"peer\"", C, O, "" },
	[SG_SELF_TRACE_LINKS_WIRE] = { "spyglass_trace_links_total",
	    "via=\"tcp_option\"", C, O, "" },
	[SG_SELF_PROPAGATED_HEADER] = { "spyglass_trace_propagated_total",
	    "via=\"header\"", C, O, "Client requests the sensor gave its "
	    "trace context on the wire ([ebpf] context_propagation): a "
	    "traceparent header, or a TCP option" },
	[SG_SELF_PROPAGATED_TCPOPT] = { "spyglass_trace_propagated_total",
	    "via=\"tcp_option\"", C, O, "" },
	[SG_SELF_PROPAGATION_DIFFERS] = {
	    "spyglass_trace_propagation_mismatch_total", "", C, O,
	    "Requests whose trace the kernel saw otherwise than the collector "
	    "(a traceparent past the first 256 bytes, or HTTP/2's): the ids on "
	    "the wire are kept, the link to the parent is lost" },
	[SG_SELF_PROPAGATION_UNUSED] = {
	    "spyglass_trace_propagation_unmatched_total", "", C, O,
	    "Trace contexts the kernel reported that no request took" },
	[SG_SELF_CONNS_UNINDEXED] = { "spyglass_connections_unindexed_total",
	    "", C, O, "Connections left out of the address index (its window "
	    "full): their other end on this host, if followed, is not found" },
	[SG_SELF_TRACE_THREADS_FORGOTTEN] = {
	    "spyglass_trace_threads_forgotten_total", "", C, O,
	    "Threads serving a request forgotten for want of room: their "
	    "client calls start traces of their own" },
	[SG_SELF_ROUTES_IGNORED_METRICS] = { "spyglass_routes_ignored_total",
	    "signal=\"metrics\"", C, O, "Requests left out by [routes] "
	    "ignored_patterns, by signal" },
	[SG_SELF_ROUTES_IGNORED_TRACES] = { "spyglass_routes_ignored_total",
	    "signal=\"traces\"", C, O, "" },
	[SG_SELF_SELF_EXPORTED_METRICS] = { "spyglass_otel_instrumented_skipped_total",
	    "signal=\"metrics\"", C, O, "Requests of processes that export "
	    "that signal over OTLP themselves, left out of it "
	    "(exclude_otel_instrumented_services)" },
	[SG_SELF_SELF_EXPORTED_TRACES] = { "spyglass_otel_instrumented_skipped_total",
	    "signal=\"traces\"", C, O, "" },
	[SG_SELF_FILTERED] = { "spyglass_requests_filtered_total", "", C, O,
	    "Requests dropped by [filter.application.*] before they were "
	    "counted or traced" },
	[SG_SELF_SERIES_DROPPED] = { "spyglass_metric_series_dropped_total", "",
	    C, O, "Updates refused because a family reached its series cap" },
	[SG_SELF_OTLP_SENT_TRACES] = { "spyglass_otlp_sent_items_total",
	    "signal=\"traces\"", C, E,
	    "Spans and metric snapshots delivered to the OTLP receiver" },
	[SG_SELF_OTLP_SENT_METRICS] = { "spyglass_otlp_sent_items_total",
	    "signal=\"metrics\"", C, E, "" },
	[SG_SELF_OTLP_DROPPED_TRACES] = { "spyglass_otlp_dropped_items_total",
	    "signal=\"traces\"", C, E, "Spans and metric snapshots dropped: "
	    "queue full, refused or not encodable" },
	[SG_SELF_OTLP_DROPPED_METRICS] = { "spyglass_otlp_dropped_items_total",
	    "signal=\"metrics\"", C, E, "" },
	[SG_SELF_OTLP_RETRIES_TRACES] = { "spyglass_otlp_retries_total",
	    "signal=\"traces\"", C, E,
	    "OTLP requests that failed and will be retried" },
	[SG_SELF_OTLP_RETRIES_METRICS] = { "spyglass_otlp_retries_total",
	    "signal=\"metrics\"", C, E, "" },
	[SG_SELF_OTLP_QUEUED_TRACES] = { "spyglass_otlp_queued_items",
	    "signal=\"traces\"", G, E,
	    "Spans and metric snapshots waiting to be delivered" },
	[SG_SELF_OTLP_QUEUED_METRICS] = { "spyglass_otlp_queued_items",
	    "signal=\"metrics\"", G, E, "" },
};

void
self_put_stats(struct wire_w *w, enum sg_self_source source,
    const uint64_t *values)
{
	uint16_t n = 0;

	for (int i = 0; i < SG_SELF_MAX; i++)
		n += sg_self[i].source == source;
	wire_put_u16(w, n);
	for (int i = 0; i < SG_SELF_MAX; i++)
		if (sg_self[i].source == source) {
			wire_put_u16(w, (uint16_t)i);
			wire_put_u64(w, values[i]);
		}
}

int
self_get_stats(struct wire_r *r, enum sg_self_source source, uint64_t *values)
{
	uint16_t n = wire_get_u16(r);

	for (uint16_t i = 0; i < n && !r->err; i++) {
		uint16_t id = wire_get_u16(r);
		uint64_t v = wire_get_u64(r);

		if (r->err)
			break;
		if (id >= SG_SELF_MAX || sg_self[id].source != source)
			return -1;
		values[id] = v;
	}
	return wire_r_done(r) ? 0 : -1;
}

/* Whether entry i starts a family (its name differs from the previous). */
static int
self_family_start(int i)
{
	return i == 0 || strcmp(sg_self[i].name, sg_self[i - 1].name) != 0;
}

uint16_t
self_nfamilies(void)
{
	uint16_t n = 0;

	for (int i = 0; i < SG_SELF_MAX; i++)
		n += self_family_start(i);
	return n;
}

void
self_put_families(struct wire_w *w, const uint64_t *values, uint64_t start_ns)
{
	struct sg_family_hdr f;
	struct sg_series se;

	for (int i = 0; i < SG_SELF_MAX; ) {
		int end = i + 1;

		while (end < SG_SELF_MAX && !self_family_start(end))
			end++;
		memset(&f, 0, sizeof(f));
		snprintf(f.prom_name, sizeof(f.prom_name), "%s", sg_self[i].name);
		snprintf(f.otel_name, sizeof(f.otel_name), "%s", sg_self[i].name);
		snprintf(f.help, sizeof(f.help), "%s", sg_self[i].help);
		f.type = sg_self[i].type;
		f.nseries = (uint32_t)(end - i);
		msg_put_family(w, &f);
		for (; i < end; i++) {
			const char *eq = strchr(sg_self[i].label, '=');

			memset(&se, 0, sizeof(se));
			if (eq != NULL) {
				se.nlabels = 1;
				snprintf(se.key[0], sizeof(se.key[0]), "%.*s",
				    (int)(eq - sg_self[i].label), sg_self[i].label);
				/* the value without its quotes */
				snprintf(se.value[0], sizeof(se.value[0]), "%.*s",
				    (int)strlen(eq + 2) - 1, eq + 2);
			}
			se.value_f = (double)values[i];
			se.start_ns = start_ns;   /* idle_ns 0: they never age */
			msg_put_series(w, &f, &se);
		}
	}
}
