/*
 * Events the BPF programs write to the ring buffer, read by the loader and
 * decoded by the collector.  Declared once here for both sides (the
 * libbpf-tools habit).  Every event starts with struct sg_event_hdr; the
 * type field says which struct follows.  Data events are variable length:
 * only `captured` bytes of data[] are present.
 */
#ifndef SG_EVENTS_H
#define SG_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SG_CAPTURE_MAX     1024  /* hard bound on payload bytes per event */
#define SG_MAX_IOV         32    /* iovecs read per call (a power of two) */
#define SG_MAX_IOV_OLD     4     /* the same on kernels before 5.17 */
#define SG_CAPTURE_DEFAULT 256
#define SG_TAIL_LEN        8     /* last bytes of a long buffer (chunked end) */
#define SG_COMM_LEN        16

enum sg_event_type {
	SG_EV_DATA  = 1,  /* bytes read from or written to a TCP socket */
	SG_EV_CONN  = 2,  /* accept() or connect() completed */
	SG_EV_CLOSE = 3,  /* a TCP socket fd was closed */
	SG_EV_EXEC  = 4,  /* any process exec'd (discovery of new processes) */
	SG_EV_EXIT  = 5,  /* a selected process exited */
	SG_EV_FORK  = 6,  /* a selected process forked; the child is selected too */
	SG_EV_TRACE = 7,  /* the trace context the kernel gave a request
	                   * ([ebpf] context_propagation) */
	SG_EV_TYPE_MAX
};

enum sg_dir { SG_DIR_READ = 0, SG_DIR_WRITE = 1 };

enum sg_role {
	SG_ROLE_UNKNOWN = 0,  /* connection predates the sensor */
	SG_ROLE_SERVER  = 1,  /* accepted: this process is the server */
	SG_ROLE_CLIENT  = 2,  /* connected: this process is the client */
};

/* data event flags */
#define SG_DATA_TAIL      0x01  /* tail[] holds the last SG_TAIL_LEN bytes */
#define SG_DATA_NOPAYLOAD 0x02  /* sendfile and the like: length only */
#define SG_DATA_CLOSED    0x04  /* the socket had closed by then (a write
                                 * the peer's reset ended, reported after
                                 * the close): its last I/O */
#define SG_DATA_TLS       0x08  /* plaintext handed to or taken from a TLS
                                 * library (SSL_read/SSL_write) on that
                                 * connection, not the socket's bytes */

struct sg_event_hdr {
	__u32 type;       /* enum sg_event_type */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 cpu;
	__u64 ts_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

/* A TCP connection as one process sees it. */
struct sg_conn_id {
	__u64 sock;       /* kernel struct sock address: unique while it lives */
	__u16 family;     /* AF_INET or AF_INET6 */
	__u16 lport;      /* host byte order */
	__u16 rport;      /* host byte order */
	__u16 _pad;
	__u8  laddr[16];  /* IPv4 in the first 4 bytes */
	__u8  raddr[16];
};

struct sg_data_event {
	struct sg_event_hdr hdr;
	struct sg_conn_id conn;
	__s64 len;        /* bytes the syscall moved (> 0) */
	__u16 captured;   /* bytes present in data[] */
	__u8  dir;        /* enum sg_dir */
	__u8  flags;      /* SG_DATA_* */
	__u8  role;       /* enum sg_role as far as BPF knows (accept/connect seen) */
	__u8  _pad[3];
	__u8  tail[SG_TAIL_LEN];
	__u8  data[SG_CAPTURE_MAX];
};
#define SG_DATA_EVENT_HDR_SIZE (sizeof(struct sg_data_event) - SG_CAPTURE_MAX)

struct sg_conn_event {
	struct sg_event_hdr hdr;
	struct sg_conn_id conn;
	__u8 role;        /* enum sg_role */
	__u8 _pad[7];
};

/* Trace context propagation ([ebpf] context_propagation), by bit: the
 * loader's choice, the BPF programs' rodata. */
#define SG_PROP_HEADERS 0x01  /* traceparent written into HTTP/1 requests */
#define SG_PROP_TCPOPT  0x02  /* the context in a TCP header option */

/* sg_trace_event.kind */
enum sg_trace_kind {
	/* A server request started: its client calls go out in trace_id
	 * (the request's traceparent, the caller's TCP option, or drawn
	 * here).  span_id: the caller's client span when it came in a TCP
	 * option, else zero. */
	SG_TRACE_SERVER = 1,
	/* A client request went out carrying trace_id and span_id (its
	 * client span's) in a header or a TCP option (via). */
	SG_TRACE_CLIENT = 2,
};

/* Written before the data event of the I/O it concerns. */
struct sg_trace_event {
	struct sg_event_hdr hdr;
	struct sg_conn_id conn;
	__u8 kind;        /* enum sg_trace_kind */
	__u8 flags;       /* W3C trace flags (bit 0: sampled) */
	__u8 via;         /* SG_PROP_* that carried it; 0: none */
	__u8 data_flags;  /* the data event's SG_DATA_TLS */
	__u8 _pad[4];
	__u8 trace_id[16];
	__u8 span_id[8];
};

struct sg_close_event {
	struct sg_event_hdr hdr;
	struct sg_conn_id conn;
};

#define SG_EXEC_PATH_MAX 128
#define SG_EXEC_ARGS_MAX 256

/* exec, exit and fork.  For exec, the path and the start of the command
 * line are read in the kernel: a short-lived process may be gone from
 * /proc by the time the loader looks. */
struct sg_proc_event {
	struct sg_event_hdr hdr;
	__u32 ppid;       /* fork: the parent tgid; exec: the parent */
	__u16 args_len;   /* exec: bytes of args[] (NUL-separated argv) */
	__u16 _pad;
	char  comm[SG_COMM_LEN];
	char  filename[SG_EXEC_PATH_MAX];  /* exec: NUL-terminated */
	char  args[SG_EXEC_ARGS_MAX];
};

/* Indexes of the per-CPU drop counters in the `sg_stats` map. */
enum sg_bpf_stat {
	SG_STAT_RB_FULL = 0,    /* ring buffer had no room: event lost */
	SG_STAT_TLS_UNBOUND,    /* TLS plaintext of a connection not known
	                         * yet (a call before the first socket I/O
	                         * the library did for it): not reported */
	SG_STAT_MAX
};

/* Values of the `sg_pids` filter map.  A process that exec'd while
 * executable_name is configured is traced as PENDING from its first
 * instruction until the loader has matched it (then SELECTED) or not
 * (then removed, and its events dropped by the loader). */
#define SG_PID_SELECTED 1
#define SG_PID_PENDING  2
#define SG_PID_TLS      4   /* set by BPF: seen in a TLS library's call */
/* PID_MAX_LIMIT on 64-bit Linux: the size of the sg_pidbits bitmap. */
#define SG_PID_LIMIT    (4 * 1024 * 1024)

#endif
