#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "routes.h"
#include "select_conf.h"
#include "services_conf.h"

enum sg_key_type {
	SG_T_BOOL, SG_T_UINT, SG_T_DURATION, SG_T_SIZE, SG_T_STRING,
	SG_T_REGEX, SG_T_ENUM, SG_T_PORTS, SG_T_BUCKETS, SG_T_LOGLEVEL,
	SG_T_RATIO, SG_T_URL, SG_T_FLAGS, SG_T_PATTERNS, SG_T_FEATURES,
};

struct sg_key {
	const char       *section;   /* "" for top-level keys */
	const char       *key;
	enum sg_key_type  type;
	size_t            off;
	size_t            size;      /* strings: buffer size; uints: 1, 2 or 4 */
	uint64_t          min, max;  /* uint/duration(ms)/size bounds */
	const char       *defval;
	const char       *env[3];    /* seeds' names beside SPYGLASS_* */
	/* SG_T_ENUM: value names by index; SG_T_FLAGS: by bit */
	const char *const *names;
	bool              inert;     /* accepted, no effect yet */
	const char       *help;
};

#define OFF(f) offsetof(struct sg_config, f), sizeof(((struct sg_config *)0)->f)

static const char *const printer_names[] = { "disabled", "text", "json",
	"counter", "json_indent", NULL };
const char *const sg_hooks_names[] = { "auto", "tracepoint", "raw",
	"socket", "fentry", "kprobe", NULL };
static const char *const otlp_protocol_names[] = { "", "auto",
	"http/protobuf", "grpc", "http/json", NULL };
static const char *const otlp_top_protocol_names[] = { "auto", "auto",
	"http/protobuf", "grpc", "http/json", NULL };
static const char *const otlp_compression_names[] = { "", "none", "gzip",
	NULL };
static const char *const otlp_top_compression_names[] = { "none", "none",
	"gzip", NULL };
/* [metrics] features, by bit (enum sg_feature) */
static const char *const sg_feature_names[] = { "application",
	"application_span", "application_service_graph",
	"application_process", "network", NULL };
/* [metrics] instrumentations, by bit (enum sg_instr) */
const char *const sg_instr_names[] = { "http", "grpc", "sql", "redis",
	"kafka", "memcached", NULL };
static const char *const route_unmatched_names[] = { "heuristic", "path",
	"unset", "wildcard", "low-cardinality", NULL };
static const char *const route_ignore_names[] = { "all", "metrics",
	"traces", NULL };
static const char *const propagation_names[] = { "disabled", "all",
	"headers", "ip", NULL };
static const char *const sampler_names[] = { "always_on", "always_off",
	"traceidratio", "parentbased_always_on", "parentbased_always_off",
	"parentbased_traceidratio", NULL };

static const struct sg_key sg_keys[] = {
	{ "", "log_level", SG_T_LOGLEVEL, OFF(log_level), 0, 0, "info",
	  { "BEYLA_LOG_LEVEL" }, NULL, false,
	  "debug, info, warn or error" },
	{ "", "trace_printer", SG_T_ENUM, OFF(trace_printer), 0, 0, "disabled",
	  { "BEYLA_TRACE_PRINTER" }, printer_names, false,
	  "print spans on standard output: disabled; text (a line each); "
	  "json (an object a line); json_indent (each object indented over "
	  "several lines); counter (a line per batch: how many)" },
	{ "", "enforce_sys_caps", SG_T_BOOL, OFF(enforce_sys_caps), 0, 0, "false",
	  { "BEYLA_ENFORCE_SYS_CAPS" }, NULL, false,
	  "abort at start when a needed capability is missing" },
	{ "", "service_name", SG_T_STRING, OFF(service_name), 0, 0, "",
	  { "OTEL_SERVICE_NAME" }, NULL, false,
	  "service name for every instrumented process (default: executable name)" },
	{ "", "service_namespace", SG_T_STRING, OFF(service_namespace), 0, 0, "",
	  { "BEYLA_SERVICE_NAMESPACE", "OTEL_SERVICE_NAMESPACE" }, NULL, false,
	  "service namespace for every instrumented process" },
	{ "", "runtime_dir", SG_T_STRING, OFF(runtime_dir), 0, 0, "/run/spyglass",
	  { NULL }, NULL, false, "directory for the IPC sockets" },
	{ "", "user", SG_T_STRING, OFF(user), 0, 0, "",
	  { NULL }, NULL, false,
	  "unprivileged user to run as when started as root (default: "
	  SG_SERVICE_USER " if it exists, else nobody)" },
	{ "", "helper_dir", SG_T_STRING, OFF(helper_dir), 0, 0, "",
	  { NULL }, NULL, false,
	  "where spyglass-collector and spyglass-exporter live (default: beside "
	  "the spyglass binary when found there, else the installed libexec dir)" },
	{ "", "shutdown_timeout", SG_T_DURATION, OFF(shutdown_timeout_ms), 100,
	  600000, "5s", { NULL }, NULL, false,
	  "on SIGTERM, how long to deliver what was seen (the ring buffer, "
	  "finished exchanges, batched spans, a last metric export) before "
	  "exiting anyway" },
	{ "", "sandbox_debug", SG_T_BOOL, OFF(sandbox_debug), 0, 0, "false",
	  { NULL }, NULL, false,
	  "report a syscall refused by the seccomp filter instead of killing silently" },

	/* ---- OTLP, both signals */
	{ "", "otlp_endpoint", SG_T_URL, OFF(otlp_endpoint), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_ENDPOINT" }, NULL, false,
	  "base URL of an OTLP receiver for traces and metrics; /v1/traces and "
	  "/v1/metrics are appended for http/protobuf" },
	{ "", "otlp_protocol", SG_T_ENUM, OFF(otlp_protocol), 0, 0, "auto",
	  { "OTEL_EXPORTER_OTLP_PROTOCOL" }, otlp_top_protocol_names, false,
	  "http/protobuf, grpc, or auto (grpc for port 4317, else http/protobuf)" },
	{ "", "otlp_headers", SG_T_STRING, OFF(otlp_headers), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_HEADERS" }, NULL, false,
	  "extra request headers: key1=value1,key2=value2 (values "
	  "percent-encoded)" },
	{ "", "otlp_compression", SG_T_ENUM, OFF(otlp_compression), 0, 0, "none",
	  { "OTEL_EXPORTER_OTLP_COMPRESSION" }, otlp_top_compression_names, false,
	  "none or gzip" },
	{ "", "otlp_ca_file", SG_T_STRING, OFF(otlp_ca_file), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_CERTIFICATE" }, NULL, false,
	  "PEM file of the CAs that sign the receiver's certificate (default: "
	  "the system's)" },
	{ "", "otlp_insecure", SG_T_BOOL, OFF(otlp_insecure), 0, 0, "false",
	  { "OTEL_EXPORTER_OTLP_INSECURE" }, NULL, false,
	  "do not verify the receiver's TLS certificate" },
	{ "", "resource_attributes", SG_T_STRING, OFF(resource_attributes), 0, 0,
	  "", { "OTEL_RESOURCE_ATTRIBUTES" }, NULL, false,
	  "extra resource attributes: key1=value1,key2=value2" },

	{ "discovery", "open_port", SG_T_PORTS, OFF(discovery.open_port), 0, 0, "",
	  { "BEYLA_OPEN_PORT" }, NULL, false,
	  "instrument processes listening on these ports: 80,443,8000-8999" },
	{ "discovery", "executable_name", SG_T_REGEX, OFF(discovery.executable_name), 0, 0, "",
	  { "BEYLA_EXECUTABLE_NAME" }, NULL, false,
	  "instrument processes whose executable path or command line matches "
	  "this extended regular expression" },
	{ "discovery", "exclude_exe", SG_T_REGEX, OFF(discovery.exclude_exe), 0, 0,
	  "(^|/)(spyglass[^/]*|beyla|alloy|otelcol[^/]*)$",
	  { NULL }, NULL, false,
	  "never instrument executables matching this (default_exclude_services)" },
	{ "discovery", "default_exclude_services", SG_T_REGEX,
	  OFF(discovery.exclude_exe), 0, 0,
	  "(^|/)(spyglass[^/]*|beyla|alloy|otelcol[^/]*)$",
	  { NULL }, NULL, false,
	  "Beyla's name of exclude_exe (its exe_path): the same setting" },
	{ "discovery", "exclude_otel_instrumented_services", SG_T_BOOL,
	  OFF(discovery.exclude_otel_instrumented_services), 0, 0, "true",
	  { "BEYLA_EXCLUDE_OTEL_INSTRUMENTED_SERVICES" }, NULL, false,
	  "a process seen sending OTLP itself (a successful call to "
	  "/v1/traces, /v1/metrics or the OTLP gRPC Export methods) is left "
	  "out of the signal it sends: its spans, or its metrics; logged "
	  "and counted in spyglass_otel_instrumented_skipped_total" },
	{ "discovery", "skip_go_specific_tracers", SG_T_BOOL,
	  OFF(discovery.skip_go_specific_tracers), 0, 0, "false",
	  { "BEYLA_SKIP_GO_SPECIFIC_TRACERS" }, NULL, true,
	  "use only the language-independent tracers for Go programs" },
	{ "discovery", "poll_interval", SG_T_DURATION,
	  OFF(discovery.poll_interval_ms), 100, 3600000, "5s",
	  { "BEYLA_DISCOVERY_POLL_INTERVAL" }, NULL, false,
	  "how often listening sockets and processes are rescanned" },

	{ "prometheus_export", "address", SG_T_STRING, OFF(prom.address), 0, 0,
	  "127.0.0.1", { NULL }, NULL, false,
	  "address the /metrics endpoint listens on" },
	{ "prometheus_export", "port", SG_T_UINT, OFF(prom.port), 0, 65535, "9400",
	  { "BEYLA_PROMETHEUS_PORT" }, NULL, false,
	  "port of the /metrics endpoint; 0 disables it" },
	{ "prometheus_export", "path", SG_T_STRING, OFF(prom.path), 0, 0, "/metrics",
	  { "BEYLA_PROMETHEUS_PATH" }, NULL, false,
	  "HTTP path of the metrics endpoint" },
	{ "prometheus_export", "duration_histogram", SG_T_BUCKETS,
	  OFF(prom.duration_histogram), 0, 0,
	  "0,0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10",
	  { NULL }, NULL, false, "bucket bounds of duration histograms, seconds" },
	{ "prometheus_export", "size_histogram", SG_T_BUCKETS,
	  OFF(prom.size_histogram), 0, 0,
	  "0,32,64,128,256,512,1024,2048,4096,8192",
	  { NULL }, NULL, false, "bucket bounds of body size histograms, bytes" },
	{ "prometheus_export", "ttl", SG_T_DURATION, OFF(prom.ttl_ms),
	  1000, 604800000, "5m", { "BEYLA_PROMETHEUS_TTL" }, NULL, false,
	  "a series not updated for this long is left out (the series of an "
	  "exited process, target_info too, go this long after its exit)" },

	{ "metrics", "features", SG_T_FEATURES, OFF(features), 0, 0,
	  "application", { "BEYLA_OTEL_METRICS_FEATURES",
	  "BEYLA_PROMETHEUS_FEATURES" }, sg_feature_names, false,
	  "the metric groups to produce: application (the RED metrics of "
	  "HTTP and gRPC), application_span (span metrics: "
	  "traces_spanmetrics_*), application_service_graph (service graph "
	  "metrics: traces_service_graph_*), application_process (CPU time "
	  "and utilisation, memory and disk I/O of each instrumented "
	  "process, from /proc); network is Beyla's, not built yet, and "
	  "refused" },
	{ "metrics", "allow_service_graph_self_references", SG_T_BOOL,
	  OFF(allow_service_graph_self_references), 0, 0, "false",
	  { "BEYLA_OTEL_ALLOW_SERVICE_GRAPH_SELF_REFERENCES",
	  "BEYLA_PROMETHEUS_ALLOW_SERVICE_GRAPH_SELF_REFERENCES" }, NULL, false,
	  "application_service_graph: count the edges from a service to "
	  "itself too (they add series and tell little)" },
	{ "metrics", "instrumentations", SG_T_FLAGS, OFF(instrumentations),
	  0, 0, "*", { NULL }, sg_instr_names, false,
	  "what is parsed, counted and traced: * or a list of http (HTTP/1 "
	  "and HTTP/2), grpc, sql (PostgreSQL and MySQL/MariaDB), redis, "
	  "kafka, memcached" },

	{ "attributes.instance_id", "dns", SG_T_BOOL, OFF(attributes.dns), 0,
	  0, "true", { "BEYLA_HOSTNAME_DNS_RESOLUTION" }, NULL, false,
	  "the host part of instance ids (host:pid) and the host name of "
	  "target_info and resources: the host's fully qualified name, "
	  "looked up (in /etc/hosts or DNS) at start; false: its name as "
	  "gethostname() gives it" },
	{ "attributes.instance_id", "override_hostname", SG_T_STRING,
	  OFF(attributes.override_hostname), 0, 0, "",
	  { "BEYLA_HOSTNAME" }, NULL, false,
	  "use this name for the host instead" },
	{ "routes", "patterns", SG_T_PATTERNS, OFF(routes.patterns), 0, 0, "",
	  { NULL }, NULL, false,
	  "URL path patterns naming the http_route of the requests they "
	  "match, separated by commas or spaces: /users/{id} or /users/:id "
	  "(a parameter stands for one path segment); the first that matches "
	  "wins, and its text is the route" },
	{ "routes", "ignored_patterns", SG_T_PATTERNS,
	  OFF(routes.ignored_patterns), 0, 0, "", { NULL }, NULL, false,
	  "patterns of requests left out of metrics, traces or both "
	  "(ignore_mode); counted in spyglass_routes_ignored_total" },
	{ "routes", "ignore_mode", SG_T_ENUM, OFF(routes.ignore_mode), 0, 0,
	  "all", { NULL }, route_ignore_names, false,
	  "what an ignored request is left out of: all (metrics and traces), "
	  "metrics, traces" },
	{ "routes", "unmatched", SG_T_ENUM, OFF(routes.unmatched), 0, 0,
	  "heuristic", { NULL }, route_unmatched_names, false,
	  "the route of a request no pattern matches. heuristic: the path with "
	  "its segments that look like identifiers (numbers, UUIDs, hex "
	  "tokens, strings that are no word) replaced by wildcard_char; "
	  "low-cardinality: the heuristic, and no more than "
	  "max_path_segment_cardinality distinct segments after one prefix "
	  "per service, the others replaced by wildcard_char; path: the path "
	  "itself (unbounded); wildcard: /**; unset: no route" },
	{ "routes", "wildcard_char", SG_T_STRING, OFF(routes.wildcard_char), 0,
	  0, "*", { NULL }, NULL, false,
	  "the character that stands for the segments the heuristic replaces" },
	{ "routes", "max_path_segment_cardinality", SG_T_UINT,
	  OFF(routes.max_path_segment_cardinality), 0, 100000, "10",
	  { NULL }, NULL, false,
	  "low-cardinality: distinct segments kept after one prefix, per "
	  "service; 0: no cap" },

	{ "ebpf", "wakeup_len", SG_T_UINT, OFF(ebpf.wakeup_len), 0, 100000, "4096",
	  { "BEYLA_BPF_WAKEUP_LEN" }, NULL, false,
	  "events the ring buffer accumulates before waking the loader "
	  "(it also drains every 50 ms; at most a quarter of ringbuf_size "
	  "is waited for); 0 or 1 wakes on every event" },
	{ "ebpf", "http_request_timeout", SG_T_DURATION,
	  OFF(ebpf.http_request_timeout_ms), 100, 3600000, "30s",
	  { "BEYLA_BPF_HTTP_REQUEST_TIMEOUT" }, NULL, false,
	  "a request without a response after this long ends as a timeout" },
	{ "ebpf", "grpc_request_timeout", SG_T_DURATION,
	  OFF(ebpf.grpc_request_timeout_ms), 0, 86400000, "0",
	  { NULL }, NULL, false,
	  "a gRPC call with no frame for this long ends as a timeout; 0: "
	  "none (a call ends with its trailers, a reset or its connection; "
	  "streams may rightly be idle for long)" },
	{ "ebpf", "capture_size", SG_T_SIZE, OFF(ebpf.capture_size), 64,
	  SG_CAPTURE_MAX_BYTES, "256", { NULL }, NULL, false,
	  "payload bytes copied per read or write (64-1024)" },
	{ "ebpf", "http2_capture_size", SG_T_SIZE, OFF(ebpf.http2_capture_size),
	  64, SG_CAPTURE_MAX_BYTES, "1k", { NULL }, NULL, false,
	  "payload bytes copied per read or write on a connection once it "
	  "was seen to carry HTTP/2 frames or Redis command arrays (header "
	  "blocks follow data frames within one write; pipelined commands "
	  "share one; 64-1024)" },
	{ "ebpf", "ringbuf_size", SG_T_SIZE, OFF(ebpf.ringbuf_size), 65536,
	  1u << 30, "1M", { NULL }, NULL, false,
	  "ring buffer size; rounded up to a power of two" },
	{ "ebpf", "syscall_hooks", SG_T_ENUM, OFF(ebpf.syscall_hooks), 0, 0, "auto",
	  { NULL }, sg_hooks_names, false,
	  "which hooks observe socket I/O. auto: the cheapest the kernel "
	  "offers, in this order: socket, fentry, raw, kprobe; socket: "
	  "tracepoints sock_send_length, sock_recv_length and "
	  "inet_sock_set_state (6.3+; no syscall hooks: other processes pay "
	  "nothing); fentry: fexit programs on tcp_sendmsg, tcp_recvmsg and "
	  "tcp_sendpage (5.17+ with BPF trampolines); kprobe: kprobes on the "
	  "same functions; raw: raw tracepoints sys_enter/sys_exit (every "
	  "kernel; no tracefs needed); tracepoint: one tracepoint per syscall "
	  "(needs tracefs, mounted when missing; stopping takes ~2.5 s, 80 ms "
	  "per tracepoint). A kind the kernel lacks falls back to the next "
	  "in the auto order" },
	{ "ebpf", "tls", SG_T_BOOL, OFF(ebpf.tls), 0, 0, "true",
	  { NULL }, NULL, false,
	  "read the plaintext of TLS connections through uprobes on OpenSSL "
	  "(SSL_read, SSL_write) in the libssl or executable a selected "
	  "process maps. Kernels with the 2025 hardening of uprobe perf "
	  "events ask cap_sys_admin for them: the loader then keeps it; "
	  "false: no uprobes, and cap_sys_admin is not kept" },
	{ "ebpf", "track_request_headers", SG_T_BOOL,
	  OFF(ebpf.track_request_headers), 0, 0, "false",
	  { "BEYLA_BPF_TRACK_REQUEST_HEADERS" }, NULL, false,
	  "accepted; true and false alike: the W3C traceparent of incoming "
	  "HTTP/1.x and HTTP/2 requests (gRPC included) is always read "
	  "where it is within the captured bytes, as it costs nothing" },
	{ "ebpf", "enable_context_propagation", SG_T_BOOL,
	  OFF(ebpf.enable_context_propagation), 0, 0, "false",
	  { "BEYLA_BPF_ENABLE_CONTEXT_PROPAGATION" }, NULL, false,
	  "true: context_propagation all, unless context_propagation "
	  "names a mode" },
	{ "ebpf", "context_propagation", SG_T_ENUM,
	  OFF(ebpf.context_propagation), 0, 0, "disabled",
	  { "BEYLA_BPF_CONTEXT_PROPAGATION" }, propagation_names, false,
	  "make the next instrumented hop continue the trace. headers: a "
	  "traceparent header in each HTTP/1 request selected processes "
	  "write in plaintext (sk_msg); ip: the context in a TCP header "
	  "option of their client connections' packets, read by a sensor "
	  "on the other end (any protocol, TLS included; sockops); all: "
	  "both; disabled. Needs cap_net_admin, cgroup v2 and the socket "
	  "or fentry hooks" },
	{ "ebpf", "propagation_cgroup", SG_T_STRING,
	  OFF(ebpf.propagation_cgroup), 0, 0, "",
	  { NULL }, NULL, false,
	  "the cgroup v2 directory the sockops program is attached to: "
	  "connections of selected processes below it are propagated "
	  "(the program leaves all others as they are); empty: the cgroup "
	  "v2 root, where it is mounted (/sys/fs/cgroup, or "
	  "/sys/fs/cgroup/unified on a hybrid host)" },
	{ "ebpf", "high_request_volume", SG_T_BOOL,
	  OFF(ebpf.high_request_volume), 0, 0, "false",
	  { "BEYLA_BPF_HIGH_REQUEST_VOLUME" }, NULL, true,
	  "send request information as soon as the response is seen" },
	{ "ebpf", "heuristic_sql_detect", SG_T_BOOL,
	  OFF(ebpf.heuristic_sql_detect), 0, 0, "false",
	  { "BEYLA_HEURISTIC_SQL_DETECT" }, NULL, false,
	  "recognise PostgreSQL and MySQL traffic on any port, by the "
	  "framing of their messages and an SQL statement keyword; false: "
	  "only on ports 5432 and 3306 and on connections whose start was "
	  "seen" },

	/* ---- OTLP traces */
	{ "otel_traces_export", "endpoint", SG_T_URL, OFF(traces.s.endpoint),
	  0, 0, "", { "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" }, NULL, false,
	  "URL spans are sent to, used as given (default: otlp_endpoint)" },
	{ "otel_traces_export", "protocol", SG_T_ENUM, OFF(traces.s.protocol),
	  0, 0, "", { "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" },
	  otlp_protocol_names, false,
	  "http/protobuf, grpc or auto (empty: otlp_protocol)" },
	{ "otel_traces_export", "headers", SG_T_STRING, OFF(traces.s.headers),
	  0, 0, "", { "OTEL_EXPORTER_OTLP_TRACES_HEADERS" }, NULL, false,
	  "extra headers for spans (added to otlp_headers)" },
	{ "otel_traces_export", "compression", SG_T_ENUM,
	  OFF(traces.s.compression), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION" }, otlp_compression_names,
	  false, "none or gzip (empty: otlp_compression)" },
	{ "otel_traces_export", "resolve", SG_T_STRING, OFF(traces.s.resolve),
	  0, 0, "", { NULL }, NULL, false,
	  "host:port:address to connect to instead of resolving the endpoint's "
	  "name (default: resolved by spyglass at start and on SIGHUP)" },
	{ "otel_traces_export", "max_queue_size", SG_T_UINT,
	  OFF(traces.s.max_queue_size), 1, 10000000, "65536",
	  { "BEYLA_OTEL_TRACES_MAX_QUEUE_SIZE" }, NULL, false,
	  "spans kept while the receiver is unreachable; beyond, the oldest "
	  "are dropped and counted" },
	{ "otel_traces_export", "batch_size", SG_T_UINT, OFF(traces.batch_size),
	  1, 65536, "512", { "BEYLA_OTEL_TRACES_BATCH_SIZE" }, NULL, false,
	  "spans per request at most" },
	{ "otel_traces_export", "batch_timeout", SG_T_DURATION,
	  OFF(traces.batch_timeout_ms), 1, 60000, "1s",
	  { "BEYLA_OTEL_TRACES_BATCH_TIMEOUT" }, NULL, false,
	  "longest a span waits for its batch to fill" },
	{ "otel_traces_export", "sampler", SG_T_ENUM, OFF(traces.sampler), 0, 0,
	  "parentbased_always_on", { "OTEL_TRACES_SAMPLER" }, sampler_names,
	  false, "always_on, always_off, traceidratio, parentbased_always_on, "
	  "parentbased_always_off or parentbased_traceidratio; thins spans, "
	  "never metrics" },
	{ "otel_traces_export", "sampler_arg", SG_T_RATIO,
	  OFF(traces.sampler_arg), 0, 0, "1", { "OTEL_TRACES_SAMPLER_ARG" },
	  NULL, false, "ratio (0 to 1) of the traceidratio samplers" },

	/* ---- OTLP metrics */
	{ "otel_metrics_export", "endpoint", SG_T_URL,
	  OFF(metrics.s.endpoint), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" }, NULL, false,
	  "URL metrics are sent to, used as given (default: otlp_endpoint)" },
	{ "otel_metrics_export", "protocol", SG_T_ENUM, OFF(metrics.s.protocol),
	  0, 0, "", { "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" },
	  otlp_protocol_names, false,
	  "http/protobuf, grpc or auto (empty: otlp_protocol)" },
	{ "otel_metrics_export", "headers", SG_T_STRING, OFF(metrics.s.headers),
	  0, 0, "", { "OTEL_EXPORTER_OTLP_METRICS_HEADERS" }, NULL, false,
	  "extra headers for metrics (added to otlp_headers)" },
	{ "otel_metrics_export", "compression", SG_T_ENUM,
	  OFF(metrics.s.compression), 0, 0, "",
	  { "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION" }, otlp_compression_names,
	  false, "none or gzip (empty: otlp_compression)" },
	{ "otel_metrics_export", "resolve", SG_T_STRING, OFF(metrics.s.resolve),
	  0, 0, "", { NULL }, NULL, false,
	  "host:port:address to connect to instead of resolving the endpoint's "
	  "name (default: resolved by spyglass at start and on SIGHUP)" },
	{ "otel_metrics_export", "max_queue_size", SG_T_UINT,
	  OFF(metrics.s.max_queue_size), 1, 10000000, "1000",
	  { NULL }, NULL, false,
	  "metric snapshots (one per interval) kept while the receiver is "
	  "unreachable; each is cumulative, so dropping old ones loses no "
	  "counts" },
	{ "otel_metrics_export", "interval", SG_T_DURATION,
	  OFF(metrics.interval_ms), 100, 3600000, "60s",
	  { "OTEL_METRIC_EXPORT_INTERVAL", "BEYLA_METRICS_INTERVAL" }, NULL,
	  false, "how often metrics are sent" },
	{ "otel_metrics_export", "ttl", SG_T_DURATION, OFF(metrics.ttl_ms),
	  1000, 604800000, "5m", { "BEYLA_OTEL_METRICS_TTL" }, NULL, false,
	  "a series not updated for this long is no longer sent (the series "
	  "of an exited process go this long after its exit)" },
};
#define SG_NKEYS (sizeof(sg_keys) / sizeof(sg_keys[0]))

static const char *const sg_key_type_names[] = {
	"bool", "integer", "duration", "size", "string", "regex", "enum",
	"port list", "number list", "log level", "ratio", "URL", "list",
	"pattern list", "list",
};

/* All the bits names has. */
static uint32_t
sg_flags_all(const char *const *names)
{
	uint32_t all = 0;

	for (size_t i = 0; names[i] != NULL; i++)
		all |= 1u << i;
	return all;
}

/* "*" or names separated by commas or blanks, into a bit set. */
static int
sg_parse_flags(const char *value, const char *const *names, uint32_t *out,
    char *why, size_t whysz)
{
	char buf[256], *save = NULL, *tok;
	uint32_t v = 0;

	if (strlen(value) >= sizeof(buf)) {
		snprintf(why, whysz, "list longer than %zu bytes",
		    sizeof(buf) - 1);
		return -1;
	}
	memcpy(buf, value, strlen(value) + 1);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		size_t i;

		if (strcmp(tok, "*") == 0) {
			v |= sg_flags_all(names);
			continue;
		}
		for (i = 0; names[i] != NULL; i++)
			if (strcasecmp(tok, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			snprintf(why, whysz, "\"%s\" is not one of the allowed "
			    "values", tok);
			return -1;
		}
		v |= 1u << i;
	}
	if (v == 0) {
		snprintf(why, whysz, "empty list (\"*\" means all)");
		return -1;
	}
	*out = v;
	return 0;
}

static void
sg_format_flags(uint32_t v, const char *const *names, char *buf, size_t sz)
{
	size_t off = 0;

	buf[0] = '\0';
	if (v == sg_flags_all(names)) {
		snprintf(buf, sz, "*");
		return;
	}
	for (size_t i = 0; names[i] != NULL && off < sz; i++) {
		int n;

		if (!(v & (1u << i)))
			continue;
		n = snprintf(buf + off, sz - off, "%s%s", off ? "," : "",
		    names[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int
sg_config_error(char *err, size_t errsz, const char *origin,
    const struct sg_key *k, const char *section, const char *key,
    const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (k != NULL)
		section = k->section, key = k->key;
	if (section != NULL && *section)
		snprintf(err, errsz, "%s: [%s] %s: %s", origin, section, key, why);
	else
		snprintf(err, errsz, "%s: %s: %s", origin, key ? key : "", why);
	return -1;
}

static const struct sg_key *
sg_config_find(const char *section, const char *key)
{
	if (section == NULL)
		section = "";
	for (size_t i = 0; i < SG_NKEYS; i++)
		if (strcasecmp(sg_keys[i].section, section) == 0 &&
		    strcasecmp(sg_keys[i].key, key) == 0)
			return &sg_keys[i];
	return NULL;
}

static int
sg_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* Unsigned number with an optional unit suffix from units[]. */
static int
sg_parse_scaled(const char *v, const char *const *units,
    const uint64_t *scale, uint64_t defscale, uint64_t *out)
{
	char *end;
	double d;

	while (isspace((unsigned char)*v))
		v++;
	if (!isdigit((unsigned char)*v) && *v != '.')
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || !isfinite(d) || d < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '\0') {
		d *= (double)defscale;
	} else {
		size_t i;
		for (i = 0; units[i] != NULL; i++)
			if (strcasecmp(end, units[i]) == 0)
				break;
		if (units[i] == NULL)
			return -1;
		d *= (double)scale[i];
	}
	if (d > 1.8e19)
		return -1;
	*out = (uint64_t)(d + 0.5);
	return 0;
}

static int
sg_parse_duration_ms(const char *v, uint64_t *out)
{
	static const char *const units[] = { "ms", "s", "m", "h", NULL };
	static const uint64_t scale[] = { 1, 1000, 60000, 3600000 };

	/* A bare number is seconds, as in Beyla's environment variables. */
	return sg_parse_scaled(v, units, scale, 1000, out);
}

static int
sg_parse_size(const char *v, uint64_t *out)
{
	static const char *const units[] = { "b", "k", "kb", "kib", "m", "mb",
		"mib", "g", "gb", "gib", NULL };
	static const uint64_t scale[] = { 1, 1024, 1024, 1024, 1 << 20,
		1 << 20, 1 << 20, 1u << 30, 1u << 30, 1u << 30 };

	return sg_parse_scaled(v, units, scale, 1, out);
}

static int
sg_parse_buckets(const char *v, struct sg_buckets *b, char *why, size_t whysz)
{
	const char *p = v;

	b->n = 0;
	while (*p) {
		char *end;
		double d;

		while (isspace((unsigned char)*p) || *p == '[')
			p++;
		if (*p == '\0' || *p == ']')
			break;
		errno = 0;
		d = strtod(p, &end);
		if (end == p || errno != 0 || !isfinite(d)) {
			snprintf(why, whysz, "not a number at \"%.20s\"", p);
			return -1;
		}
		if (b->n > 0 && d <= b->b[b->n - 1]) {
			snprintf(why, whysz, "bounds must increase (%g after %g)",
			    d, b->b[b->n - 1]);
			return -1;
		}
		if (b->n == SG_MAX_BOUNDS) {
			snprintf(why, whysz, "more than %d bounds", SG_MAX_BOUNDS);
			return -1;
		}
		b->b[b->n++] = d;
		p = end;
		while (isspace((unsigned char)*p) || *p == ']')
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0') {
			snprintf(why, whysz, "unexpected \"%.20s\"", p);
			return -1;
		}
	}
	if (b->n == 0) {
		snprintf(why, whysz, "at least one bound is needed");
		return -1;
	}
	return 0;
}

static void
sg_store_uint(void *field, size_t size, uint64_t v)
{
	if (size == 1)
		*(uint8_t *)field = (uint8_t)v;
	else if (size == 2)
		*(uint16_t *)field = (uint16_t)v;
	else
		*(uint32_t *)field = (uint32_t)v;
}

/* A string value into its field, when it fits. */
static int
sg_config_copy(void *field, const struct sg_key *k, const char *value,
    const char *origin, char *err, size_t errsz)
{
	if (strlen(value) >= k->size)
		return sg_config_error(err, errsz, origin, k, NULL, NULL,
		    "value longer than %zu bytes", k->size - 1);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

static int
sg_config_apply(struct sg_config *c, const struct sg_key *k, const char *value,
    const char *origin, char *err, size_t errsz)
{
	void *field = (char *)c + k->off;
	char why[256];
	uint64_t u;
	regex_t re;
	int rc;

	switch (k->type) {
	case SG_T_BOOL:
		if (sg_parse_bool(value, field) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not a boolean (true or false)", value);
		return 0;
	case SG_T_UINT:
	case SG_T_DURATION:
	case SG_T_SIZE: {
		char *end;
		if (k->type == SG_T_DURATION)
			rc = sg_parse_duration_ms(value, &u);
		else if (k->type == SG_T_SIZE)
			rc = sg_parse_size(value, &u);
		else {
			errno = 0;
			rc = (!isdigit((unsigned char)*value)) ? -1 : 0;
			u = strtoull(value, &end, 10);
			if (errno != 0 || *end != '\0')
				rc = -1;
		}
		if (rc < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not a valid %s", value,
			    sg_key_type_names[k->type]);
		if (u < k->min || u > k->max) {
			if (k->type == SG_T_DURATION)
				return sg_config_error(err, errsz, origin, k, NULL,
				    NULL, "%s out of range %llums-%llums", value,
				    (unsigned long long)k->min,
				    (unsigned long long)k->max);
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s out of range %llu-%llu", value,
			    (unsigned long long)k->min, (unsigned long long)k->max);
		}
		sg_store_uint(field, k->size, u);
		return 0;
	}
	case SG_T_REGEX:
		if (strlen(value) >= k->size)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "expression longer than %zu bytes", k->size - 1);
		if (*value && (rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, &re, why, sizeof(why));
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "bad regular expression \"%s\": %s", value, why);
		}
		if (*value)
			regfree(&re);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case SG_T_ENUM:
		for (size_t i = 0; k->names[i] != NULL; i++)
			if (strcasecmp(value, k->names[i]) == 0) {
				*(int *)field = (int)i;
				return 0;
			}
		return sg_config_error(err, errsz, origin, k, NULL, NULL,
		    "\"%s\" is not one of the allowed values", value);
	case SG_T_LOGLEVEL:
		if (sg_log_level_parse(value, field) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not a log level (debug, info, warn, error)",
			    value);
		return 0;
	case SG_T_PORTS:
		if (sg_portset_parse(value, field, why, sizeof(why)) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s", why);
		return 0;
	case SG_T_URL:
		/* "tempo:4317": a host and port without a scheme, which
		 * Beyla refuses too (it must know http from https) */
		if (*value != '\0' && strstr(value, "://") == NULL)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" has no scheme: write http://%s (or https://)",
			    value, value);
		if (*value != '\0' && strncasecmp(value, "http://", 7) != 0 &&
		    strncasecmp(value, "https://", 8) != 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not an http:// or https:// URL", value);
		if (*value != '\0' && value[strcspn(value, ":") + 3] == '\0')
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" has no host", value);
		/* FALLTHROUGH */
	case SG_T_STRING:
		return sg_config_copy(field, k, value, origin, err, errsz);
	case SG_T_PATTERNS: {
		char why[256];

		if (routes_check(value, why, sizeof(why)) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s", why);
		return sg_config_copy(field, k, value, origin, err, errsz);
	}
	case SG_T_RATIO: {
		char *end;
		double d;

		errno = 0;
		d = strtod(value, &end);
		if (end == value || *end != '\0' || errno != 0 || !(d >= 0 && d <= 1))
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not a ratio between 0 and 1", value);
		*(double *)field = d;
		return 0;
	}
	case SG_T_FLAGS:
		if (sg_parse_flags(value, k->names, field, why, sizeof(why)) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s", why);
		return 0;
	case SG_T_FEATURES: {
		uint32_t v, missing;

		if (sg_parse_flags(value, k->names, &v, why, sizeof(why)) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s", why);
		if ((missing = v & ~SG_FEATURES_BUILT) != 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "\"%s\" is not built yet",
			    k->names[__builtin_ctz(missing)]);
		*(uint32_t *)field = v;
		return 0;
	}
	case SG_T_BUCKETS:
		if (sg_parse_buckets(value, field, why, sizeof(why)) < 0)
			return sg_config_error(err, errsz, origin, k, NULL, NULL,
			    "%s", why);
		return 0;
	}
	return -1;
}

int
sg_config_set(struct sg_config *c, const char *section, const char *key,
    const char *value, const char *origin, char *err, size_t errsz)
{
	const struct sg_key *k;
	int rc = sg_services_set(c, section, key, value, origin, err, errsz);

	if (rc <= 0)
		return rc;   /* a service block's */
	if ((rc = sg_select_set(c, section, key, value, origin, err,
	    errsz)) <= 0)
		return rc;   /* an attribute selection or filter block's */
	if ((k = sg_config_find(section, key)) == NULL)
		return sg_config_error(err, errsz, origin, NULL, section, key,
		    "unknown key");
	return sg_config_apply(c, k, value, origin, err, errsz);
}

void
sg_config_defaults(struct sg_config *c)
{
	char err[SG_CONFIG_ERR_MAX];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < SG_NKEYS; i++)
		if (sg_config_apply(c, &sg_keys[i], sg_keys[i].defval, "default",
		    err, sizeof(err)) < 0)
			sg_fatal("config: bad built-in default: %s", err);
}

/*
 * INI files are read with inih.  Debian's libinih is built with a 200-byte
 * line buffer and with continuation lines, so inih reads through
 * sg_ini_read below, which: counts lines (the library's handler gets no
 * line number); refuses a line that does not fit instead of letting its
 * tail parse as a line of its own; and removes leading blanks, so an
 * indented line is never taken as a continuation.  The first error stops
 * the parse.  Between processes the configuration travels as key/value
 * pairs (sg_config_encode), so no line limit applies there.
 */
struct sg_ini_ctx {
	struct sg_config *c;
	const char       *origin;
	char             *err;
	size_t            errsz;
	int               failed;       /* an error is in err */
	int               fail_line;
	int               lineno;
	FILE             *file;         /* the source: a file ... */
	const char       *text;         /* ... or a string */
};

static int
sg_ini_fail(struct sg_ini_ctx *ctx, const char *why)
{
	snprintf(ctx->err, ctx->errsz, "%s:%d: %s", ctx->origin, ctx->lineno,
	    why);
	ctx->failed = 1;
	ctx->fail_line = ctx->lineno;
	return -1;
}

/* Next line of the string source into buf, like fgets. */
static char *
sg_ini_next_text_line(struct sg_ini_ctx *ctx, char *buf, int size)
{
	const char *nl;
	size_t n;

	if (*ctx->text == '\0')
		return NULL;
	nl = strchr(ctx->text, '\n');
	n = nl ? (size_t)(nl - ctx->text) + 1 : strlen(ctx->text);
	if (n > (size_t)size - 1)
		n = (size_t)size - 1;
	memcpy(buf, ctx->text, n);
	buf[n] = '\0';
	ctx->text += n;
	return buf;
}

static char *
sg_ini_read(char *buf, int size, void *stream)
{
	struct sg_ini_ctx *ctx = stream;
	size_t len, lead;
	char *line;

	if (ctx->failed || size < 2)
		return NULL;
	line = ctx->file ? fgets(buf, size, ctx->file) :
	    sg_ini_next_text_line(ctx, buf, size);
	if (line == NULL)
		return NULL;
	ctx->lineno++;
	len = strlen(line);
	if (len == (size_t)size - 1 && line[len - 1] != '\n' &&
	    !(ctx->file ? feof(ctx->file) : *ctx->text == '\0')) {
		char why[64];

		snprintf(why, sizeof(why), "line longer than %d bytes",
		    size - 2);
		sg_ini_fail(ctx, why);
		return NULL;
	}
	lead = strspn(line, " \t");
	memmove(line, line + lead, len - lead + 1);
	/* inih ignores whatever follows "]"; a key there is a mistake. */
	if (line[0] == '[') {
		const char *rest = strchr(line, ']');

		if (rest != NULL) {
			rest += 1 + strspn(rest + 1, " \t\r\n");
			if (*rest != '\0' && *rest != ';' && *rest != '#') {
				sg_ini_fail(ctx, "syntax error: text after "
				    "[section]");
				return NULL;
			}
		}
	}
	return line;
}

static int
sg_ini_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct sg_ini_ctx *ctx = user;
	char where[320], sect[64];
	size_t n;

	if (ctx->failed)
		return 0;
	if (*key == '\0') {
		sg_ini_fail(ctx, "syntax error: expected key = value or "
		    "[section]");
		return 0;
	}
	/* inih keeps the blanks inside "[ discovery ]". */
	section += strspn(section, " \t");
	n = strlen(section);
	while (n > 0 && (section[n - 1] == ' ' || section[n - 1] == '\t'))
		n--;
	snprintf(sect, sizeof(sect), "%.*s", (int)n, section);
	snprintf(where, sizeof(where), "%s:%d", ctx->origin, ctx->lineno);
	if (sg_config_set(ctx->c, sect, key, value, where, ctx->err,
	    ctx->errsz) < 0) {
		ctx->failed = 1;
		ctx->fail_line = ctx->lineno;
		return 0;
	}
	return 1;
}

static int
sg_ini_parse(struct sg_ini_ctx *ctx)
{
	int rc = ini_parse_stream(sg_ini_read, ctx, sg_ini_handler, ctx);

	/* inih goes on after a syntax error (and reports its line at the
	 * end); whichever error came first is the one reported. */
	if (ctx->failed && (rc <= 0 || ctx->fail_line <= rc))
		return -1;
	if (rc > 0) {
		ctx->lineno = rc;
		return sg_ini_fail(ctx, "syntax error: expected key = value "
		    "or [section]");
	}
	if (rc < 0) {
		snprintf(ctx->err, ctx->errsz, "%s: %s", ctx->origin,
		    rc == -1 ? strerror(errno) : "out of memory");
		return -1;
	}
	return 0;
}

int
sg_config_load_file(struct sg_config *c, const char *path, char *err,
    size_t errsz)
{
	struct sg_ini_ctx ctx = { .c = c, .origin = path, .err = err,
		.errsz = errsz };
	int rc;

	if ((ctx.file = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = sg_ini_parse(&ctx);
	if (rc == 0 && ferror(ctx.file)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(ctx.file);
	return rc;
}

int
sg_config_load_string(struct sg_config *c, const char *text,
    const char *origin, char *err, size_t errsz)
{
	struct sg_ini_ctx ctx = { .c = c, .origin = origin, .err = err,
		.errsz = errsz, .text = text };

	return sg_ini_parse(&ctx);
}

/* SPYGLASS_<SECTION>_<KEY>, or SPYGLASS_<KEY> for top-level keys. */
static void
sg_config_env_name(const struct sg_key *k, char *buf, size_t sz)
{
	size_t n;

	if (*k->section)
		snprintf(buf, sz, "SPYGLASS_%s_%s", k->section, k->key);
	else
		snprintf(buf, sz, "SPYGLASS_%s", k->key);
	for (n = 0; buf[n]; n++)
		buf[n] = buf[n] == '.' ? '_' :
		    (char)toupper((unsigned char)buf[n]);
}

int
sg_config_load_env(struct sg_config *c, char *err, size_t errsz)
{
	char name[128], origin[160];
	const char *v;

	for (size_t i = 0; i < SG_NKEYS; i++) {
		const struct sg_key *k = &sg_keys[i];

		/* The seeds' names first, so that SPYGLASS_* wins.  As in
		 * OpenTelemetry, an empty variable counts as unset. */
		for (size_t j = 0; j < 3 && k->env[j] != NULL; j++) {
			char scaled[64];

			if ((v = getenv(k->env[j])) == NULL || *v == '\0')
				continue;
			/* OpenTelemetry gives this one in milliseconds. */
			if (strcmp(k->env[j], "OTEL_METRIC_EXPORT_INTERVAL") == 0 &&
			    strspn(v, "0123456789") == strlen(v) &&
			    strlen(v) < 32) {
				snprintf(scaled, sizeof(scaled), "%sms", v);
				v = scaled;
			}
			snprintf(origin, sizeof(origin), "environment %s",
			    k->env[j]);
			if (sg_config_apply(c, k, v, origin, err, errsz) < 0)
				return -1;
		}
		sg_config_env_name(k, name, sizeof(name));
		if ((v = getenv(name)) == NULL)
			continue;
		snprintf(origin, sizeof(origin), "environment %s", name);
		if (sg_config_apply(c, k, v, origin, err, errsz) < 0)
			return -1;
	}
	return 0;
}

int
sg_config_set_arg(struct sg_config *c, const char *arg, char *err,
    size_t errsz)
{
	char section[128] = "", key[128];
	const char *eq = strchr(arg, '='), *dot;
	size_t n;

	if (eq == NULL) {
		snprintf(err, errsz, "command line: \"%s\": expected "
		    "[section.]key=value", arg);
		return -1;
	}
	/* The last dot: sections may have dots (service.web,
	 * attributes.select.http_*), keys never do. */
	dot = memrchr(arg, '.', (size_t)(eq - arg));
	if (dot != NULL) {
		n = (size_t)(dot - arg);
		if (n >= sizeof(section))
			n = sizeof(section) - 1;
		memcpy(section, arg, n);
		section[n] = '\0';
		arg = dot + 1;
	}
	n = (size_t)(eq - arg);
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	memcpy(key, arg, n);
	key[n] = '\0';
	return sg_config_set(c, section, key, eq + 1, "command line", err, errsz);
}

static void
sg_config_format(const struct sg_config *c, const struct sg_key *k,
    char *buf, size_t sz)
{
	const void *field = (const char *)c + k->off;
	uint64_t u = 0;

	switch (k->type) {
	case SG_T_BOOL:
		snprintf(buf, sz, "%s", *(const bool *)field ? "true" : "false");
		break;
	case SG_T_UINT:
	case SG_T_DURATION:
	case SG_T_SIZE:
		if (k->size == 1)
			u = *(const uint8_t *)field;
		else if (k->size == 2)
			u = *(const uint16_t *)field;
		else
			u = *(const uint32_t *)field;
		snprintf(buf, sz, k->type == SG_T_DURATION ? "%llums" : "%llu",
		    (unsigned long long)u);
		break;
	case SG_T_STRING:
	case SG_T_PATTERNS:
	case SG_T_URL:
	case SG_T_REGEX:
		snprintf(buf, sz, "%s", (const char *)field);
		break;
	case SG_T_ENUM:
		snprintf(buf, sz, "%s", k->names[*(const int *)field]);
		break;
	case SG_T_LOGLEVEL:
		snprintf(buf, sz, "%s",
		    sg_log_level_name(*(const enum sg_log_level *)field));
		break;
	case SG_T_PORTS:
		sg_portset_format(field, buf, sz);
		break;
	case SG_T_RATIO:
		snprintf(buf, sz, "%.17g", *(const double *)field);
		break;
	case SG_T_FLAGS:
	case SG_T_FEATURES:
		sg_format_flags(*(const uint32_t *)field, k->names, buf, sz);
		break;
	case SG_T_BUCKETS: {
		const struct sg_buckets *b = field;
		size_t off = 0;
		buf[0] = '\0';
		for (uint16_t i = 0; i < b->n && off < sz; i++) {
			/* %.15g reads well (0.005); %.17g when that would
			 * not load back to the same double. */
			char num[32];
			snprintf(num, sizeof(num), "%.15g", b->b[i]);
			if (strtod(num, NULL) != b->b[i])
				snprintf(num, sizeof(num), "%.17g", b->b[i]);
			int n = snprintf(buf + off, sz - off, "%s%s",
			    i ? "," : "", num);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		break;
	}
	}
}

/*
 * Which processes need a key (SG_TO_*; by default the loader alone).  The
 * first rule whose section matches and whose key is a prefix of the key
 * decides.  The collector parses attacker bytes: it gets no endpoint, no
 * header, no certificate, and whether to build spans comes to it as the
 * derived _export_spans and _series_ttl_ms (sg_config_derive).
 */
static unsigned
sg_key_audience(const struct sg_key *k)
{
	static const struct {
		const char *section, *prefix;
		unsigned    to;
	} rules[] = {
		{ "", "log_level", SG_TO_COLLECTOR | SG_TO_EXPORTER },
		{ "", "trace_printer", SG_TO_EXPORTER },
		{ "", "otlp_", SG_TO_EXPORTER },
		{ "", "resource_attributes", SG_TO_EXPORTER },
		{ "prometheus_export", "duration_histogram", SG_TO_COLLECTOR },
		{ "prometheus_export", "size_histogram", SG_TO_COLLECTOR },
		{ "prometheus_export", "", SG_TO_EXPORTER },
		{ "ebpf", "http_request_timeout", SG_TO_COLLECTOR },
		{ "ebpf", "grpc_request_timeout", SG_TO_COLLECTOR },
		{ "ebpf", "heuristic_sql_detect", SG_TO_COLLECTOR },
		{ "metrics", "instrumentations", SG_TO_COLLECTOR },
		{ "metrics", "features", SG_TO_COLLECTOR },
		{ "metrics", "allow_service_graph_self_references",
		  SG_TO_COLLECTOR },
		{ "routes", "", SG_TO_COLLECTOR },
		{ "discovery", "exclude_otel_instrumented_services",
		  SG_TO_COLLECTOR },
		{ "otel_traces_export", "sampler", SG_TO_COLLECTOR },
		{ "otel_traces_export", "", SG_TO_EXPORTER },
		{ "otel_metrics_export", "", SG_TO_EXPORTER },
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].section, k->section) == 0 &&
		    strncmp(rules[i].prefix, k->key,
		    strlen(rules[i].prefix)) == 0)
			return rules[i].to;
	return SG_TO_LOADER;
}

#define SG_EXPORT_SPANS_KEY "_export_spans"
#define SG_SERIES_TTL_KEY   "_series_ttl_ms"
#define SG_HOST_NAME_KEY    "_host_name"

void
sg_config_encode(const struct sg_config *c, struct wire_w *w, unsigned to)
{
	char val[1024];
	uint16_t n = 0;

	for (size_t i = 0; i < SG_NKEYS; i++)
		n += (sg_key_audience(&sg_keys[i]) & to) != 0;
	if (to & SG_TO_COLLECTOR)
		n += 2 + sg_select_count(c);
	if (to & (SG_TO_COLLECTOR | SG_TO_EXPORTER))
		n++;
	wire_put_u16(w, n);
	for (size_t i = 0; i < SG_NKEYS; i++) {
		if ((sg_key_audience(&sg_keys[i]) & to) == 0)
			continue;
		sg_config_format(c, &sg_keys[i], val, sizeof(val));
		wire_put_str(w, sg_keys[i].section);
		wire_put_str(w, sg_keys[i].key);
		wire_put_str(w, val);
	}
	if (to & SG_TO_COLLECTOR) {
		wire_put_str(w, "");
		wire_put_str(w, SG_EXPORT_SPANS_KEY);
		wire_put_str(w, c->export_spans ? "true" : "false");
		snprintf(val, sizeof(val), "%u", (unsigned)c->series_ttl_ms);
		wire_put_str(w, "");
		wire_put_str(w, SG_SERIES_TTL_KEY);
		wire_put_str(w, val);
		sg_select_encode(c, w);
	}
	if (to & (SG_TO_COLLECTOR | SG_TO_EXPORTER)) {
		wire_put_str(w, "");
		wire_put_str(w, SG_HOST_NAME_KEY);
		wire_put_str(w, c->host_name);
	}
}

int
sg_config_decode(struct sg_config *c, const void *buf, size_t len,
    const char *origin, char *err, size_t errsz)
{
	char section[128], key[64], val[1024];
	struct wire_r r;
	uint16_t n;

	wire_r_init(&r, buf, len);
	n = wire_get_u16(&r);
	for (uint16_t i = 0; i < n && !r.err; i++) {
		wire_get_str(&r, section, sizeof(section));
		wire_get_str(&r, key, sizeof(key));
		wire_get_str(&r, val, sizeof(val));
		if (r.err)
			break;
		if (section[0] == '\0' && strcmp(key, SG_EXPORT_SPANS_KEY) == 0) {
			c->export_spans = strcmp(val, "true") == 0;
			continue;
		}
		if (section[0] == '\0' && strcmp(key, SG_SERIES_TTL_KEY) == 0) {
			c->series_ttl_ms = (uint32_t)strtoul(val, NULL, 10);
			continue;
		}
		if (section[0] == '\0' && strcmp(key, SG_HOST_NAME_KEY) == 0) {
			size_t hn = strnlen(val, sizeof(c->host_name) - 1);

			memcpy(c->host_name, val, hn);
			c->host_name[hn] = '\0';
			continue;
		}
		if (sg_config_set(c, section, key, val, origin, err,
		    errsz) < 0)
			return -1;
	}
	if (!wire_r_done(&r)) {
		snprintf(err, errsz, "%s: malformed configuration message",
		    origin);
		return -1;
	}
	return 0;
}

void
sg_config_dump(const struct sg_config *c, FILE *f)
{
	const char *section = NULL;
	char val[1024];

	for (size_t i = 0; i < SG_NKEYS; i++) {
		const struct sg_key *k = &sg_keys[i];

		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			if (*section)
				fprintf(f, "\n[%s]\n", section);
		}
		sg_config_format(c, k, val, sizeof(val));
		fprintf(f, "%s = %s\n", k->key, val);
	}
	sg_services_dump(c, f);
	sg_select_dump(c, f);
}


void
sg_config_describe(FILE *f)
{
	char env[128];

	for (size_t i = 0; i < SG_NKEYS; i++) {
		const struct sg_key *k = &sg_keys[i];

		sg_config_env_name(k, env, sizeof(env));
		fprintf(f, "%s%s%s\t%s\t%s\t%s", k->section,
		    *k->section ? "." : "", k->key, sg_key_type_names[k->type],
		    k->defval, env);
		for (size_t j = 0; j < 3 && k->env[j] != NULL; j++)
			fprintf(f, ",%s", k->env[j]);
		fprintf(f, "\t%s%s\n", k->help, k->inert ? " (no effect yet)" : "");
	}
}

/* Whether name is an environment variable some key reads. */
static bool
sg_config_env_known(const char *name, size_t len)
{
	char own[128];

	for (size_t i = 0; i < SG_NKEYS; i++) {
		const struct sg_key *k = &sg_keys[i];

		for (size_t j = 0; j < 3 && k->env[j] != NULL; j++)
			if (strlen(k->env[j]) == len &&
			    strncmp(k->env[j], name, len) == 0)
				return true;
		sg_config_env_name(k, own, sizeof(own));
		if (strlen(own) == len && strncmp(own, name, len) == 0)
			return true;
	}
	return false;
}

int
sg_config_report_unknown_env(FILE *f)
{
	static const char *const prefixes[] = { "BEYLA_", "OTEL_",
		"SPYGLASS_" };
	extern char **environ;
	int n = 0;

	for (char **e = environ; e != NULL && *e != NULL; e++) {
		size_t len = strcspn(*e, "=");

		for (size_t p = 0; p < 3; p++) {
			if (strncmp(*e, prefixes[p], strlen(prefixes[p])) != 0)
				continue;
			if (!sg_config_env_known(*e, len)) {
				fprintf(f, "environment variable %.*s is not a "
				    "setting spyglass knows: ignored\n",
				    (int)(len > 100 ? 100 : len), *e);
				n++;
			}
			break;
		}
	}
	return n;
}

int
sg_config_report_inert(const struct sg_config *c, FILE *f)
{
	struct sg_config d;
	char a[64], b[64];
	int n = 0;

	sg_config_defaults(&d);
	for (size_t i = 0; i < SG_NKEYS; i++) {
		const struct sg_key *k = &sg_keys[i];

		if (!k->inert)
			continue;
		sg_config_format(c, k, a, sizeof(a));
		sg_config_format(&d, k, b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		fprintf(f, "[%s] %s = %s is accepted but has no effect yet\n",
		    k->section, k->key, a);
		n++;
	}
	return n;
}

enum sg_propagation
sg_config_propagation(const struct sg_config *c)
{
	if (c->ebpf.context_propagation != SG_PROPAGATION_DISABLED)
		return c->ebpf.context_propagation;
	return c->ebpf.enable_context_propagation ? SG_PROPAGATION_ALL :
	    SG_PROPAGATION_DISABLED;
}
