/*
 * IPC between the three processes: nng PUSH/PULL over ipc:// sockets in
 * the runtime directory.  Every message is a struct sg_msg_hdr followed by
 * `size` payload bytes; receivers check magic, version, size and type
 * before use, and an unknown type is fatal (the relayd/ntpd rule).
 *
 *   loader    --events.sock-->  collector  --export.sock-->  exporter
 *   (listens, PUSH)            (dials PULL; dials PUSH)     (listens, PULL)
 *
 * Listeners set the socket file to mode 0600 and refuse peers whose uid
 * differs from their own.
 */
#ifndef SG_IPC_H
#define SG_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#define SG_IPC_MAGIC    0x53474c53u  /* "SGLS" */
#define SG_IPC_VERSION  1
#define SG_IPC_MAX_MSG  (4u << 20)   /* also the nng receive limit */
#define SG_IPC_EVENTS_SOCK "events.sock"
#define SG_IPC_EXPORT_SOCK "export.sock"

enum sg_msg_type {
	SG_MSG_CONFIG  = 1,  /* effective configuration (sg_config_encode) */
	SG_MSG_EVENTS  = 2,  /* batch: repeated { u32 size; event bytes } */
	SG_MSG_PROC    = 3,  /* process metadata (msg.h) */
	SG_MSG_STATS   = 4,  /* loader self-metrics (msg.h) */
	SG_MSG_SPANS   = 5,  /* finished spans (msg.h) */
	SG_MSG_METRICS = 6,  /* cumulative metric snapshot (msg.h) */
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

/* Open a socket and listen on DIR/NAME (mode 0600, peer uid checked). */
int  sg_ipc_listen(nng_socket *s, enum sg_ipc_role role, const char *dir,
    const char *name);
/* Open a socket and dial DIR/NAME, retrying in the background. */
int  sg_ipc_dial(nng_socket *s, enum sg_ipc_role role, const char *dir,
    const char *name);
/* Send without blocking.  Returns 0, or SG_IPC_FULL when the peer's
 * queue is full or no peer is connected (the caller counts the loss),
 * or -1 on other errors. */
#define SG_IPC_FULL 1
int  sg_ipc_send(nng_socket s, uint16_t type, const void *payload, size_t len);
/* Receive one message, waiting at most timeout_ms (-1: forever; 0: not
 * at all, for callers that poll NNG_OPT_RECVFD, which keeps nng's timer
 * thread asleep).  Returns 0, or NNG_ETIMEDOUT, or -1 on a malformed
 * message (logged, dropped).  The caller frees with sg_ipc_msg_free(). */
int  sg_ipc_recv(nng_socket s, struct sg_msg *m, int timeout_ms);
void sg_ipc_msg_free(struct sg_msg *m);
/* Call the handler for m->type; an unknown type or short payload is fatal. */
int  sg_ipc_dispatch(const struct sg_dispatch *table, size_t n,
    const struct sg_msg *m, void *ctx);
/* How many peer connections s has accepted or made so far: a change means
 * a (re)started peer that must be told the current state. */
int  sg_ipc_connects(nng_socket s);

#endif
