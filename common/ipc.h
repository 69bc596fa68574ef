/*
 * IPC between the three processes.  Every message is a struct sg_msg_hdr
 * followed by `size` payload bytes; receivers check magic, version, size
 * and type before use, and a type not permitted on the channel is fatal
 * (the relayd/ntpd rule).  One channel per edge of the trust model:
 *
 *   loader  --shared memory (chan.h)-->  collector  events, processes,
 *                                                   their resource use,
 *                                                   config
 *   loader  --exporter-PID.sock-->       exporter   its config, loader stats
 *   collector --spans-PID.sock-->        exporter   spans, snapshots, its
 *                                                   stats
 *
 * The two sockets are nng PUSH/PULL over ipc:// in the runtime directory.
 * The loader's channel to the collector is not a socket: the collector
 * inherits it from the loader, its parent, and nobody else has it.
 *
 * The children listen and the loader and the exporter dial, so
 * the collector, which parses attacker bytes, never needs connect().
 * Every pipe is authenticated at both ends before a message flows: the
 * socket file is mode 0600, and the peer's uid and pid (SO_PEERCRED) must
 * be those of the one process the channel was made for: the loader is
 * the children's parent, and the loader tells each child the other's pid
 * (SG_MSG_PEER).  A stranger's pipe is closed, logged once per channel
 * and counted.
 *
 * A socket file is named after its listener's pid, and a dialer is made
 * anew for each new peer: a dialer never reaches, at the path it dials, a
 * process it was not told about.  Its own refusals would otherwise happen
 * in the normal course of a restart, and with nng 1.5.2 a peer that hangs
 * up while the listener still negotiates stops that listener for good.
 */
#ifndef SG_IPC_H
#define SG_IPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#define SG_IPC_MAGIC    0x53474c53u  /* "SGLS" */
#define SG_IPC_VERSION  5
#define SG_IPC_MAX_MSG  (4u << 20)   /* also the nng receive limit */
/* Endpoints, as DIR/BASE-PID.sock (sg_ipc_path). */
#define SG_IPC_SPANS     "spans"      /* the collector's, for the exporter */
#define SG_IPC_EXPORTER  "exporter"   /* the exporter's, for the loader */

enum sg_msg_type {
	SG_MSG_CONFIG  = 1,  /* effective configuration (sg_config_encode) */
	SG_MSG_EVENTS  = 2,  /* batch: u64 number of its first event (msg.h),
	                        then repeated { u32 size; event bytes } */
	SG_MSG_PROC    = 3,  /* process metadata (msg.h) */
	SG_MSG_STATS   = 4,  /* loader self-metrics (msg.h) */
	SG_MSG_SPANS   = 5,  /* finished spans (msg.h) */
	SG_MSG_METRICS = 6,  /* cumulative metric snapshot (msg.h) */
	SG_MSG_PEER    = 7,  /* loader: the pid of the other child (msg.h) */
	SG_MSG_STOP    = 8,  /* finish and pass it on: { u32 ms left } */
	SG_MSG_PSTATS  = 9,  /* loader: selected processes' resource use
	                        from /proc (msg.h) */
	SG_MSG_TYPE_MAX
};

struct sg_msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t size;   /* payload bytes following the header */
	uint32_t seq;    /* per-sender sequence number: gaps show loss */
};

/* A received, validated message; payload points into the nng message. */
struct sg_msg {
	nng_msg       *nmsg;
	uint16_t       type;
	uint32_t       seq;
	const uint8_t *payload;
	size_t         size;
};

typedef int (*sg_msg_handler)(const struct sg_msg *m, void *ctx);

struct sg_dispatch {
	uint16_t       type;
	size_t         min_size;  /* smaller payloads are refused */
	sg_msg_handler fn;
};

enum sg_ipc_role { SG_IPC_PUSH, SG_IPC_PULL };

/*
 * The one process a channel accepts at its other end.  pid is read by
 * nng's threads when a pipe is added: set it before the peer can
 * connect, or to 0 to accept nobody yet (the peer's dialer retries).
 */
struct sg_ipc_peer {
	const char  *name;      /* for the log: "loader", "collector", ... */
	atomic_int   pid;
	atomic_uint  rejected;  /* pipes closed: wrong uid or pid */
	atomic_bool  logged;    /* the first rejection was logged */
};

/* DIR/BASE-PID.sock into buf; -1 when it does not fit. */
int  sg_ipc_path(char *buf, size_t sz, const char *dir, const char *base,
    pid_t pid);
/* Open a socket and listen on our endpoint DIR/BASE-<our pid>.sock
 * (mode 0600) for peer. */
int  sg_ipc_listen(nng_socket *s, enum sg_ipc_role role, const char *dir,
    const char *base, struct sg_ipc_peer *peer);
/* Open a socket to dial from (sg_ipc_redial); peer is its one peer. */
int  sg_ipc_socket(nng_socket *s, enum sg_ipc_role role,
    struct sg_ipc_peer *peer);
/* Dial the endpoint DIR/BASE-pid.sock of process pid, in the background
 * (retrying until it listens), after closing the dialer *d of the
 * previous peer if any; peer->pid becomes pid. */
int  sg_ipc_redial(nng_socket s, nng_dialer *d, const char *dir,
    const char *base, struct sg_ipc_peer *peer, pid_t pid);
/* Send without blocking.  Returns 0, or SG_IPC_FULL when the peer's
 * queue is full or no peer is connected (the caller counts the loss),
 * or -1 on other errors. */
#define SG_IPC_FULL 1
int  sg_ipc_send(nng_socket s, uint16_t type, const void *payload, size_t len);
/* Receive one message if one is waiting, without blocking: callers poll
 * NNG_OPT_RECVFD (a receive timeout would wake nng's timer thread, 1 % of
 * a CPU when idle).  Returns 0,
 * or NNG_ETIMEDOUT when none is waiting, or -1 on a malformed message
 * (logged, dropped).  The caller frees with sg_ipc_msg_free(). */
int  sg_ipc_recv(nng_socket s, struct sg_msg *m);
void sg_ipc_msg_free(struct sg_msg *m);
/* Magic, version, and a payload size within room: 0, or -1 (logged). */
int  sg_ipc_hdr_check(const struct sg_msg_hdr *h, size_t room);
/* The pid of the process that sent m (its pipe's peer), 0 if unknown. */
pid_t sg_ipc_msg_pid(const struct sg_msg *m);
/* Call the handler for m->type; an unknown type or short payload is fatal. */
int  sg_ipc_dispatch(const struct sg_dispatch *table, size_t n,
    const struct sg_msg *m, void *ctx);
/* How many peer connections s has accepted or made so far: a change means
 * a (re)started peer that must be told the current state. */
int  sg_ipc_connects(nng_socket s);

#endif
