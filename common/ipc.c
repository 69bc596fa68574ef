#include "ipc.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include "log.h"

#define SG_IPC_MAX_SOCKETS 4
#define SG_IPC_SENDBUF     256   /* messages queued towards a slow peer */
#define SG_IPC_RECVBUF     256

/* Connections seen per socket id, counted by the pipe notifier (an nng
 * thread).  A count, not a level: a peer that dies and comes back between
 * two looks still shows as a new connection. */
static struct {
	uint32_t   id;
	atomic_int connects;
} sg_ipc_socks[SG_IPC_MAX_SOCKETS];
static uint32_t sg_ipc_seq;

static atomic_int *
sg_ipc_peer_slot(nng_socket s)
{
	for (size_t i = 0; i < SG_IPC_MAX_SOCKETS; i++)
		if (sg_ipc_socks[i].id == s.id)
			return &sg_ipc_socks[i].connects;
	for (size_t i = 0; i < SG_IPC_MAX_SOCKETS; i++)
		if (sg_ipc_socks[i].id == 0) {
			sg_ipc_socks[i].id = s.id;
			return &sg_ipc_socks[i].connects;
		}
	return NULL;
}

/* Close a pipe whose peer is not the process the channel was made for,
 * before it can carry a message. */
static void
sg_ipc_check_peer(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct sg_ipc_peer *peer = arg;
	uint64_t uid = UINT64_MAX, pid = 0;
	int want = atomic_load(&peer->pid);

	(void)ev;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) == 0 &&
	    nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
	    uid == (uint64_t)geteuid() && want > 0 && pid == (uint64_t)want)
		return;
	atomic_fetch_add(&peer->rejected, 1);
	if (!atomic_exchange(&peer->logged, true))
		sg_log(SG_LOG_WARN, "ipc: refusing a peer (uid %llu pid %llu) "
		    "that is not the %s (pid %d); further refusals are only "
		    "counted", (unsigned long long)uid,
		    (unsigned long long)pid, peer->name, want);
	nng_pipe_close(p);
}

static void
sg_ipc_count_peer(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	atomic_int *connects = arg;

	(void)p;
	if (connects != NULL && ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(connects, 1);
}

static int
sg_ipc_open(nng_socket *s, enum sg_ipc_role role, struct sg_ipc_peer *peer)
{
	int rv = role == SG_IPC_PUSH ? nng_push0_open(s) : nng_pull0_open(s);

	if (rv != 0) {
		sg_log(SG_LOG_ERR, "ipc: socket: %s", nng_strerror(rv));
		return -1;
	}
	atomic_int *slot = sg_ipc_peer_slot(*s);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, SG_IPC_MAX_MSG + sizeof(struct sg_msg_hdr));
	nng_socket_set_int(*s, NNG_OPT_SENDBUF, SG_IPC_SENDBUF);
	nng_socket_set_int(*s, NNG_OPT_RECVBUF, SG_IPC_RECVBUF);
	nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 1000);
	nng_pipe_notify(*s, NNG_PIPE_EV_ADD_PRE, sg_ipc_check_peer, peer);
	nng_pipe_notify(*s, NNG_PIPE_EV_ADD_POST, sg_ipc_count_peer, slot);
	return 0;
}

int
sg_ipc_path(char *buf, size_t sz, const char *dir, const char *base, pid_t pid)
{
	int n = snprintf(buf, sz, "%s/%s-%ld.sock", dir, base, (long)pid);

	if (n < 0 || (size_t)n >= sz) {
		sg_log(SG_LOG_ERR, "ipc: path too long: %s/%s-%ld.sock", dir,
		    base, (long)pid);
		return -1;
	}
	return 0;
}

int
sg_ipc_listen(nng_socket *s, enum sg_ipc_role role, const char *dir,
    const char *base, struct sg_ipc_peer *peer)
{
	char url[PATH_MAX + 8] = "ipc://";
	nng_listener l;
	int rv;

	if (sg_ipc_path(url + 6, sizeof(url) - 6, dir, base, getpid()) < 0 ||
	    sg_ipc_open(s, role, peer) < 0)
		return -1;
	unlink(url + 6);
	if ((rv = nng_listener_create(&l, *s, url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		sg_log(SG_LOG_ERR, "ipc: listen %s: %s", url, nng_strerror(rv));
		nng_close(*s);
		return -1;
	}
	return 0;
}

int
sg_ipc_socket(nng_socket *s, enum sg_ipc_role role, struct sg_ipc_peer *peer)
{
	return sg_ipc_open(s, role, peer);
}

int
sg_ipc_redial(nng_socket s, nng_dialer *d, const char *dir, const char *base,
    struct sg_ipc_peer *peer, pid_t pid)
{
	char url[PATH_MAX + 8] = "ipc://";
	int rv;

	if (nng_dialer_id(*d) > 0)
		nng_dialer_close(*d);
	*d = (nng_dialer)NNG_DIALER_INITIALIZER;
	atomic_store(&peer->pid, (int)pid);
	if (pid <= 0)
		return 0;
	if (sg_ipc_path(url + 6, sizeof(url) - 6, dir, base, pid) < 0)
		return -1;
	/* Non-blocking: the listener may not exist yet; nng keeps retrying. */
	if ((rv = nng_dial(s, url, d, NNG_FLAG_NONBLOCK)) != 0) {
		sg_log(SG_LOG_ERR, "ipc: dial %s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

int
sg_ipc_send(nng_socket s, uint16_t type, const void *payload, size_t len)
{
	struct sg_msg_hdr h = {
		.magic = SG_IPC_MAGIC, .version = SG_IPC_VERSION,
		.type = type, .size = (uint32_t)len, .seq = ++sg_ipc_seq,
	};
	nng_msg *m = NULL;
	int rv;

	if (len > SG_IPC_MAX_MSG) {
		sg_log(SG_LOG_ERR, "ipc: message type %u too large (%zu)", type, len);
		return -1;
	}
	if (nng_msg_alloc(&m, 0) != 0 ||
	    nng_msg_reserve(m, sizeof(h) + len) != 0 ||
	    nng_msg_append(m, &h, sizeof(h)) != 0 ||
	    (len > 0 && nng_msg_append(m, payload, len) != 0)) {
		if (m != NULL)
			nng_msg_free(m);
		return -1;
	}
	rv = nng_sendmsg(s, m, NNG_FLAG_NONBLOCK);
	if (rv == 0)
		return 0;
	nng_msg_free(m);
	if (rv == NNG_EAGAIN)
		return SG_IPC_FULL;
	sg_log(SG_LOG_ERR, "ipc: send: %s", nng_strerror(rv));
	return -1;
}

int
sg_ipc_hdr_check(const struct sg_msg_hdr *h, size_t room)
{
	if (h->magic == SG_IPC_MAGIC && h->version == SG_IPC_VERSION &&
	    h->size <= room)
		return 0;
	sg_log(SG_LOG_WARN, "ipc: bad header (magic %08x version %u size %u "
	    "of %zu)", h->magic, h->version, h->size, room);
	return -1;
}

int
sg_ipc_recv(nng_socket s, struct sg_msg *out)
{
	struct sg_msg_hdr h;
	nng_msg *m;
	size_t len;
	int rv;

	rv = nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK);
	if (rv == NNG_EAGAIN)
		return NNG_ETIMEDOUT;
	if (rv != 0)
		return -1;
	len = nng_msg_len(m);
	if (len < sizeof(h)) {
		sg_log(SG_LOG_WARN, "ipc: short message (%zu bytes) dropped", len);
		nng_msg_free(m);
		return -1;
	}
	memcpy(&h, nng_msg_body(m), sizeof(h));
	if (sg_ipc_hdr_check(&h, len - sizeof(h)) < 0) {
		nng_msg_free(m);
		return -1;
	}
	if (h.size != len - sizeof(h)) {
		sg_log(SG_LOG_WARN, "ipc: message of %u bytes in %zu: dropped",
		    h.size, len - sizeof(h));
		nng_msg_free(m);
		return -1;
	}
	out->nmsg = m;
	out->type = h.type;
	out->seq = h.seq;
	out->payload = (const uint8_t *)nng_msg_body(m) + sizeof(h);
	out->size = h.size;
	return 0;
}

void
sg_ipc_msg_free(struct sg_msg *m)
{
	if (m->nmsg != NULL)
		nng_msg_free(m->nmsg);
	m->nmsg = NULL;
}

pid_t
sg_ipc_msg_pid(const struct sg_msg *m)
{
	uint64_t pid = 0;

	if (m->nmsg == NULL || nng_pipe_get_uint64(nng_msg_get_pipe(m->nmsg),
	    NNG_OPT_IPC_PEER_PID, &pid) != 0)
		return 0;
	return (pid_t)pid;
}

int
sg_ipc_dispatch(const struct sg_dispatch *table, size_t n,
    const struct sg_msg *m, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		if (table[i].type != m->type)
			continue;
		if (m->size < table[i].min_size)
			sg_fatal("ipc: message type %u: payload %zu bytes, "
			    "need at least %zu", m->type, m->size,
			    table[i].min_size);
		return table[i].fn(m, ctx);
	}
	sg_fatal("ipc: unknown message type %u", m->type);
}

int
sg_ipc_connects(nng_socket s)
{
	atomic_int *slot = sg_ipc_peer_slot(s);

	return slot ? atomic_load(slot) : 0;
}
