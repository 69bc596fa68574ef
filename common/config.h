/*
 * Configuration: one table (config.c) names every key with its section,
 * type, default, bounds and environment names.  Sources apply in order
 * defaults < file < environment < command line; each value is checked
 * when it is set and an error names where it came from (FILE:LINE, the
 * environment variable, or the command line) and the key.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "msg.h"
#include "wire.h"
#include "events.h"
#include "portset.h"

#define SG_REGEX_MAX 512
#define SG_CAPTURE_MAX_BYTES SG_CAPTURE_MAX

enum sg_trace_printer { SG_PRINTER_DISABLED = 0, SG_PRINTER_TEXT,
	SG_PRINTER_JSON, SG_PRINTER_COUNTER, SG_PRINTER_JSON_INDENT };
/* The kernel hooks that observe socket I/O (loader/hooks.h). */
/* [ebpf] context_propagation: the modes Beyla names */
enum sg_propagation {
	SG_PROPAGATION_DISABLED = 0,
	SG_PROPAGATION_ALL,       /* headers and ip */
	SG_PROPAGATION_HEADERS,   /* traceparent in outgoing HTTP/1 requests */
	SG_PROPAGATION_IP,        /* a TCP header option, any protocol */
};

enum sg_hooks { SG_HOOKS_AUTO = 0, SG_HOOKS_TRACEPOINT, SG_HOOKS_RAW,
	SG_HOOKS_SOCKET, SG_HOOKS_FENTRY, SG_HOOKS_KPROBE };
/* Their names in the configuration, by value. */
extern const char *const sg_hooks_names[];
/* OTLP protocol and compression: INHERIT takes the top-level otlp_* key;
 * AUTO infers the protocol from the port (4317 gRPC, else HTTP). */
enum sg_otlp_protocol { SG_OTLP_INHERIT = 0, SG_OTLP_AUTO, SG_OTLP_HTTP,
	SG_OTLP_GRPC, SG_OTLP_HTTP_JSON };
enum sg_otlp_compression { SG_OTLP_COMP_INHERIT = 0, SG_OTLP_COMP_NONE,
	SG_OTLP_COMP_GZIP };
enum sg_sampler { SG_SAMPLER_ALWAYS_ON = 0, SG_SAMPLER_ALWAYS_OFF,
	SG_SAMPLER_TRACEIDRATIO, SG_SAMPLER_PB_ALWAYS_ON,
	SG_SAMPLER_PB_ALWAYS_OFF, SG_SAMPLER_PB_TRACEIDRATIO };

/* [routes] (common/routes.h) */
enum sg_route_unmatched {
	SG_UNMATCHED_HEURISTIC = 0, SG_UNMATCHED_PATH, SG_UNMATCHED_UNSET,
	SG_UNMATCHED_WILDCARD, SG_UNMATCHED_LOW_CARDINALITY,
};
enum sg_route_ignore {
	SG_IGNORE_ALL = 0, SG_IGNORE_METRICS, SG_IGNORE_TRACES,
};
#define SG_ROUTES_LIST_MAX 1024

/* A [service.LABEL] block (or [exclude_service.LABEL]): a process
 * matches it when it matches every selector the block sets. */
#define SG_SERVICES_MAX 16
#define SG_SERVICE_LABEL_MAX 48
struct sg_service_sel {
	char              label[SG_SERVICE_LABEL_MAX];
	bool              exclude;
	char              name[SG_NAME_MAX];        /* "": the usual sources */
	char              namespace_[SG_NAME_MAX];
	struct sg_portset open_ports;
	char              exe_path[SG_REGEX_MAX];
};

/* [attributes.select.FAMILY] (FAMILY may hold * globs): which labels
 * a metric family has; [filter.application.ATTRIBUTE]: which requests
 * count at all (select_conf.h). */
#define SG_SELECTS_MAX 16
#define SG_GLOBS_MAX   256
struct sg_attr_select {
	char family[64];
	char include[SG_GLOBS_MAX];   /* "": the defaults */
	char exclude[SG_GLOBS_MAX];
};
#define SG_FILTERS_MAX 16
struct sg_attr_filter {
	char attr[64];
	char match[SG_GLOBS_MAX];     /* "": anything */
	char not_match[SG_GLOBS_MAX];
};

#define SG_URL_MAX     512
#define SG_HEADERS_MAX 1024

/* One OTLP signal's destination. */
struct sg_otlp_signal {
	char                     endpoint[SG_URL_MAX];
	enum sg_otlp_protocol    protocol;
	char                     headers[SG_HEADERS_MAX];
	enum sg_otlp_compression compression;
	char                     resolve[320];  /* host:port:address */
	uint32_t                 max_queue_size;
};

/* [metrics] instrumentations: what is parsed, counted and traced. */
/* [metrics] features, Beyla's; all but network are built: asking for it
 * is an error, not a silent no. */
enum sg_feature {
	SG_FEATURE_APPLICATION = 0, SG_FEATURE_APPLICATION_SPAN,
	SG_FEATURE_APPLICATION_SERVICE_GRAPH, SG_FEATURE_APPLICATION_PROCESS,
	SG_FEATURE_NETWORK,
};
#define SG_FEATURES_BUILT (1u << SG_FEATURE_APPLICATION | \
	1u << SG_FEATURE_APPLICATION_SPAN | \
	1u << SG_FEATURE_APPLICATION_SERVICE_GRAPH | \
	1u << SG_FEATURE_APPLICATION_PROCESS)

enum sg_instr {
	SG_INSTR_HTTP = 0, SG_INSTR_GRPC, SG_INSTR_SQL, SG_INSTR_REDIS,
	SG_INSTR_KAFKA, SG_INSTR_MEMCACHED,
};
extern const char *const sg_instr_names[];

struct sg_buckets {
	uint16_t n;
	double   b[SG_MAX_BOUNDS];
};

struct sg_config {
	enum sg_log_level     log_level;
	enum sg_trace_printer trace_printer;
	bool                  enforce_sys_caps;
	bool                  sandbox_debug;
	uint32_t              shutdown_timeout_ms;
	char                  service_name[SG_NAME_MAX];
	char                  service_namespace[SG_NAME_MAX];
	char                  runtime_dir[256];
	char                  user[64];
	char                  helper_dir[256];

	struct {
		struct sg_portset open_port;
		char     executable_name[SG_REGEX_MAX];
		/* [service.LABEL] and [exclude_service.LABEL] blocks
		 * (services_conf.h), in the order first seen */
		struct sg_service_sel services[SG_SERVICES_MAX];
		unsigned nservices;
		char     exclude_exe[SG_REGEX_MAX];
		bool     exclude_otel_instrumented_services;
		bool     skip_go_specific_tracers;
		uint32_t poll_interval_ms;
	} discovery;

	struct {
		char     address[64];
		uint16_t port;                /* 0: endpoint disabled */
		char     path[128];
		struct sg_buckets duration_histogram;
		struct sg_buckets size_histogram;
		uint32_t ttl_ms;              /* idle series left out after */
	} prom;

	uint32_t              instrumentations;   /* 1 << enum sg_instr */
	uint32_t              features;           /* 1 << enum sg_feature */
	bool                  allow_service_graph_self_references;

	struct {
		struct sg_attr_select select[SG_SELECTS_MAX];
		unsigned              nselect;
		struct sg_attr_filter filter[SG_FILTERS_MAX];
		unsigned              nfilter;
		bool                  dns;
		char                  override_hostname[64];
	} attributes;

	struct {
		char                    patterns[SG_ROUTES_LIST_MAX];
		char                    ignored_patterns[SG_ROUTES_LIST_MAX];
		enum sg_route_ignore    ignore_mode;
		enum sg_route_unmatched unmatched;
		char                    wildcard_char[2];
		uint32_t                max_path_segment_cardinality;
	} routes;

	struct {
		uint32_t      wakeup_len;
		uint32_t      http_request_timeout_ms;
		uint32_t      grpc_request_timeout_ms;	/* 0: none */
		uint32_t      capture_size;
		uint32_t      http2_capture_size;
		uint32_t      ringbuf_size;
		enum sg_hooks syscall_hooks;
		bool          tls;
		bool          track_request_headers;
		bool          enable_context_propagation;
		enum sg_propagation context_propagation;
		char          propagation_cgroup[256];
		bool          high_request_volume;
		bool          heuristic_sql_detect;
	} ebpf;

	/* OTLP: top-level defaults for both signals (OTEL_EXPORTER_OTLP_*) */
	char                     otlp_endpoint[SG_URL_MAX];
	enum sg_otlp_protocol    otlp_protocol;
	char                     otlp_headers[SG_HEADERS_MAX];
	enum sg_otlp_compression otlp_compression;
	char                     otlp_ca_file[256];
	bool                     otlp_insecure;
	char                     resource_attributes[SG_HEADERS_MAX];

	struct {
		struct sg_otlp_signal s;
		uint32_t         batch_size;
		uint32_t         batch_timeout_ms;
		enum sg_sampler  sampler;
		double           sampler_arg;
	} traces;

	struct {
		struct sg_otlp_signal s;
		uint32_t         interval_ms;
		uint32_t         ttl_ms;      /* idle series left out after */
	} metrics;

	/* Derived by the loader for the collector (sg_config_derive), not
	 * keys: whether anything takes spans (a printer, an OTLP traces
	 * endpoint), and how long its idle series are kept. */
	bool                     export_spans;
	uint32_t                 series_ttl_ms;
	/* The host part of instance ids and the host name of target_info
	 * and resources ([attributes.instance_id]): resolved by the loader,
	 * whose children may not look it up. */
	char                     host_name[64];
};

#define SG_CONFIG_ERR_MAX 512

/* Fill every key with its default. */
void sg_config_defaults(struct sg_config *c);
/* Apply an INI file.  Returns 0, or -1 with err set ("FILE:LINE: ..."). */
int  sg_config_load_file(struct sg_config *c, const char *path,
    char *err, size_t errsz);
/* Apply INI text (origin names it in errors, like a file name). */
int  sg_config_load_string(struct sg_config *c, const char *text,
    const char *origin, char *err, size_t errsz);
/* Apply SPYGLASS_* and the seeds' environment names (BEYLA_*, OTEL_*). */
int  sg_config_load_env(struct sg_config *c, char *err, size_t errsz);
/* Apply one "section.key=value" (or "key=value" for top-level keys). */
int  sg_config_set_arg(struct sg_config *c, const char *arg,
    char *err, size_t errsz);
/* Set one key; origin is for the error message. */
int  sg_config_set(struct sg_config *c, const char *section, const char *key,
    const char *value, const char *origin, char *err, size_t errsz);
/* The configuration as key/value pairs for SG_MSG_CONFIG:
 *   u16 n; n x { str section; str key; str value }
 * only the keys the children in `to` need (SG_TO_*), and for the
 * collector the derived export_spans.  Decoding applies each pair with
 * sg_config_set. */
#define SG_TO_COLLECTOR 1u
#define SG_TO_EXPORTER  2u
#define SG_TO_LOADER    4u   /* the keys only the loader needs */
#define SG_TO_ALL       7u
void sg_config_encode(const struct sg_config *c, struct wire_w *w,
    unsigned to);
int  sg_config_decode(struct sg_config *c, const void *buf, size_t len,
    const char *origin, char *err, size_t errsz);
/* Write the effective configuration as INI text that loads back (as long
 * as no line exceeds the INI reader's limit). */
void sg_config_dump(const struct sg_config *c, FILE *f);
/* Describe every key (section, key, type, default, env) for docs/tests. */
void sg_config_describe(FILE *f);
/* Keys accepted for compatibility that have no effect yet: writes their
 * names to f when set to a non-default value.  Returns how many. */
/* One line per BEYLA_*, OTEL_* or SPYGLASS_* variable in the
 * environment that no key reads (a typo, or a Beyla setting spyglass
 * does not have); how many. */
int  sg_config_report_unknown_env(FILE *f);
int  sg_config_report_inert(const struct sg_config *c, FILE *f);

/* The propagation mode in effect: context_propagation, else all when
 * enable_context_propagation is true. */
enum sg_propagation sg_config_propagation(const struct sg_config *c);

#endif
