/*
 * Payloads of the IPC messages (see ipc.h for the framing), encoded with
 * wire.h.  One encoder and one decoder per message so that the sender and
 * the receiver cannot disagree.
 */
#ifndef SG_MSG_H
#define SG_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SG_NAME_MAX    128   /* service name, namespace, instance id */
#define SG_PATH_MAX    256   /* url path kept for spans */
#define SG_METHOD_MAX  16
#define SG_ADDR_MAX    48    /* textual IPv4/IPv6 address */
#define SG_EXE_MAX     256

/* SG_MSG_PROC: a selected process appeared or went away. */
struct sg_proc_info {
	uint32_t pid;
	uint8_t  present;                 /* 0: gone, forget it */
	uint64_t start_time;              /* /proc/PID/stat field 22, ticks */
	char     service_name[SG_NAME_MAX];
	char     service_namespace[SG_NAME_MAX];
	char     instance_id[SG_NAME_MAX]; /* host:pid */
	char     exe[SG_EXE_MAX];
};
void msg_put_proc(struct wire_w *w, const struct sg_proc_info *p);
int  msg_get_proc(struct wire_r *r, struct sg_proc_info *p);

/*
 * SG_MSG_PSTATS: resource use of selected processes, sampled from /proc
 * by the loader ([metrics] features = application_process):
 *   u64 sample_ns (the loader's CLOCK_MONOTONIC); u16 ncpu; u32 n;
 *   n x pstat
 * ncpu is the CPUs online, by which utilisation is divided (as Beyla
 * does).  What the loader could not read is flagged absent, not zero.
 */
#define SG_PSTAT_IO     0x01   /* io_read and io_write were readable */
#define SG_PSTAT_FLAGS  0x01
#define SG_PSTAT_COMM_MAX 64
struct sg_pstat {
	uint32_t pid;
	uint64_t start_time;              /* as sg_proc_info's: a reused pid
	                                   * is another process */
	uint8_t  flags;                   /* SG_PSTAT_* */
	uint64_t started_ns;              /* its start, on the loader's
	                                   * CLOCK_MONOTONIC (0: before it) */
	uint64_t user_us;                 /* CPU time in user mode */
	uint64_t system_us;               /* ... in kernel mode */
	uint64_t rss_bytes;               /* resident set */
	uint64_t vm_bytes;                /* virtual size */
	uint64_t io_read;                 /* storage bytes, read_bytes */
	uint64_t io_write;                /* ... write_bytes */
	char     comm[SG_PSTAT_COMM_MAX]; /* the process's own name */
};
struct sg_pstats_hdr {
	uint64_t sample_ns;
	uint16_t ncpu;
	uint32_t n;
};
void msg_put_pstats_hdr(struct wire_w *w, const struct sg_pstats_hdr *h);
/* Refuses ncpu 0 and a count the payload cannot hold. */
int  msg_get_pstats_hdr(struct wire_r *r, struct sg_pstats_hdr *h);
void msg_put_pstat(struct wire_w *w, const struct sg_pstat *p);
/* Refuses pid 0 and unknown flags. */
int  msg_get_pstat(struct wire_r *r, struct sg_pstat *p);

/* SG_MSG_STATS: the sender's self-metrics (self.h). */

/* SG_MSG_PEER: { u32 pid } of the other child, from the loader. */
void msg_put_peer(struct wire_w *w, uint32_t pid);
int  msg_get_peer(const void *payload, size_t size, uint32_t *pid);

/* SG_MSG_SPANS: { u32 n; n x span } */
enum sg_span_kind { SG_SPAN_SERVER = 1, SG_SPAN_CLIENT = 2 };

/* What an exchange is: this chooses its metric families and the semantic
 * conventions of its span (one wire protocol may carry several: HTTP/2
 * carries HTTP and gRPC). */
enum sg_app {
	SG_APP_HTTP = 1,
	SG_APP_GRPC,
	SG_APP_POSTGRESQL,	/* db.system.name postgresql */
	SG_APP_MYSQL,		/* mysql (MariaDB speaks it too) */
	SG_APP_REDIS,
	SG_APP_MEMCACHED,
	SG_APP_KAFKA,		/* messaging.system kafka */
	SG_APP_MAX
};

/* Fields of database and messaging exchanges and spans. */
#define SG_COLLECTION_MAX 64	/* db.collection.name, a table */
#define SG_DBNAME_MAX     64	/* db.namespace: the database */
#define SG_TRACESTATE_MAX 513	/* W3C tracestate: the 512 bytes its
				 * specification asks to be passed on */
#define SG_ERROR_MAX      24	/* error.type: SQLSTATE, error code or
				 * Redis error prefix */

/* sg_span.flags: what the sensor could not read is said, never guessed. */
#define SG_SPAN_STATUS_UNKNOWN	0x01
#define SG_SPAN_OP_UNKNOWN	0x02
#define SG_SPAN_TARGET_UNKNOWN	0x04
#define SG_SPAN_FLAGS		0x07

/* Whether a trace or span id is absent: W3C and OTLP take all zero for
 * none. */
static inline bool
sg_id_absent(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i] != 0)
			return false;
	return true;
}

struct sg_span {
	uint8_t  kind;                    /* enum sg_span_kind */
	uint8_t  app;                     /* enum sg_app */
	uint8_t  flags;                   /* SG_SPAN_* */
	uint64_t start_ns;                /* unix epoch nanoseconds */
	uint64_t end_ns;
	uint8_t  trace_id[16];
	uint8_t  span_id[8];
	uint8_t  parent_span_id[8];       /* zero: root span */
	uint32_t pid;
	char     service_name[SG_NAME_MAX];
	char     service_namespace[SG_NAME_MAX];
	char     instance_id[SG_NAME_MAX];
	char     exe[SG_EXE_MAX];         /* executable path, "" unknown */
	/* HTTP: the method.  gRPC: "". */
	char     op[SG_METHOD_MAX];
	/* HTTP: the path, without the query.  gRPC: "/package.Service/Method". */
	char     target[SG_PATH_MAX];
	char     route[SG_PATH_MAX];      /* "" until routes are configured */
	uint32_t status;                  /* HTTP status code; gRPC status */
	char     scheme[8];               /* "http" */
	char     protocol_version[8];     /* "1.1", "2" */
	char     peer_addr[SG_ADDR_MAX];  /* the other side */
	uint16_t peer_port;
	char     host_addr[SG_ADDR_MAX];  /* this process's side */
	uint16_t host_port;
	uint64_t req_size;                /* HTTP body, gRPC messages: bytes */
	uint64_t resp_size;
	/* Databases and messaging (proto.h's sg_exchange says what op and
	 * target hold for them; target's literals are replaced by "?"). */
	char     collection[SG_COLLECTION_MAX];
	char     db_namespace[SG_DBNAME_MAX];
	char     error[SG_ERROR_MAX];     /* "": no error */
	/* W3C tracestate of the caller, which a server span continuing its
	 * trace carries on ("" none).  Strings end at their NUL: what lies
	 * past it is not cleared when a span is built, and nothing reads it. */
	char     trace_state[SG_TRACESTATE_MAX];
};
void msg_put_span(struct wire_w *w, const struct sg_span *s);
int  msg_get_span(struct wire_r *r, struct sg_span *s);

/*
 * SG_MSG_METRICS: a complete cumulative snapshot, OTLP-shaped:
 *   u16 version (SG_SNAPSHOT_VERSION); u64 time_unix_ns; u64 ev_first;
 *   u64 ev_next; u16 nfamilies;
 *   family: str prom_name; str otel_name; str unit; str help; u8 type;
 *           u8 flags; u16 nbounds; f64 bounds[nbounds]; u32 nseries;
 *   series: u16 nlabels; nlabels x { str key; str value };
 *           u64 start_unix_ns; u64 idle_ns;
 *           counter/gauge: f64 value
 *           histogram:     u64 count; f64 sum; u64 buckets[nbounds + 1]
 * Histogram buckets are per bucket (not cumulative); the last is +Inf.
 * Label keys are Prometheus spellings (http_request_method); the exporter
 * derives OTLP attribute names from them.  start_unix_ns is when the
 * series began counting (at most time_unix_ns): a series that expired
 * and came back starts again from zero, and OTLP needs to see that.
 * idle_ns is how long before time_unix_ns the series was last updated
 * (0 for those that never age): each export leaves out the series idle
 * for longer than its own ttl.
 */
#define SG_SNAPSHOT_VERSION 4
enum sg_metric_type { SG_METRIC_COUNTER = 1, SG_METRIC_GAUGE = 2,
	SG_METRIC_HISTOGRAM = 3 };
#define SG_MAX_BOUNDS  32
#define SG_MAX_LABELS  12
#define SG_LABEL_MAX   128

/* sg_family_hdr.flags */
#define SG_FAMILY_OBSERVED 0x01  /* counters read from the system whole
                                  * (process CPU time), not counted by the
                                  * collector: a restarted collector's
                                  * successor reads them again, so nothing
                                  * is carried over and added */
#define SG_FAMILY_FLAGS    0x01

struct sg_family_hdr {
	char     prom_name[96];
	char     otel_name[96];
	char     unit[16];
	char     help[160];
	uint8_t  type;
	uint8_t  flags;                   /* SG_FAMILY_* */
	uint16_t nbounds;
	double   bounds[SG_MAX_BOUNDS];
	uint32_t nseries;
};

struct sg_series {
	uint16_t nlabels;
	char     key[SG_MAX_LABELS][64];
	char     value[SG_MAX_LABELS][SG_LABEL_MAX];
	uint64_t start_ns;                /* unix epoch nanoseconds */
	uint64_t idle_ns;
	double   value_f;                 /* counter/gauge */
	uint64_t count;                   /* histogram */
	double   sum;
	uint64_t buckets[SG_MAX_BOUNDS + 1];
};

/*
 * The loader numbers the events it hands to the collector (SG_MSG_EVENTS),
 * and a snapshot says which it accounts for: those from ev_first, the
 * first its collector took, up to ev_next (both 0 until it took one, and
 * from the exporter).  Between a dead collector's last ev_next and its
 * successor's ev_first lie the events that died with it.
 */
struct sg_snapshot_hdr {
	uint64_t now_ns;                  /* time_unix_ns */
	uint64_t ev_first;
	uint64_t ev_next;
	uint16_t nfamilies;
};
void msg_put_snapshot_hdr(struct wire_w *w, const struct sg_snapshot_hdr *h);
/* Refuses a snapshot of another version: a child restarted from a newer
 * binary must not misread its peer. */
int  msg_get_snapshot_hdr(struct wire_r *r, struct sg_snapshot_hdr *h);
void msg_put_family(struct wire_w *w, const struct sg_family_hdr *f);
int  msg_get_family(struct wire_r *r, struct sg_family_hdr *f);
void msg_put_series(struct wire_w *w, const struct sg_family_hdr *f,
    const struct sg_series *s);
/* now_ns is the snapshot's time: a series cannot start after it. */
int  msg_get_series(struct wire_r *r, const struct sg_family_hdr *f,
    uint64_t now_ns, struct sg_series *s);

#endif
