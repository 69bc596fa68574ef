#include "drain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "bpf_attach.h"
#include "chan.h"
#include "events.h"
#include "log.h"
#include "loader.h"

/* One batch carries at most this much: large enough to amortise the
 * per-message cost (a wake-up), small enough that a collector that dies
 * on one takes few events with it. */
#define SG_BATCH_MAX (120u << 10)

/* The number of the batch's first event, before its events. */
#define SG_BATCH_HDR sizeof(uint64_t)

/* The batch is built in the channel itself: the events are copied once,
 * from the ring buffer to where the collector reads them. */
struct sg_drain {
	struct ring_buffer   *rb;
	struct sg_chan       *out;
	struct sg_drain_stats st;
	uint8_t              *batch;    /* its payload, or NULL before its first event */
	size_t                limit;    /* the room it has */
	uint32_t              nbatch;   /* events in the batch */
	size_t                len;      /* bytes in it, its header included */
};

/* Events are numbered in the order the collector is handed them, so that
 * the exporter can tell those that died with a collector (msg.h). */
void
sg_drain_flush(struct sg_drain *dr)
{
	uint64_t first = dr->st.sent;

	if (dr->nbatch == 0)
		return;
	memcpy(dr->batch, &first, sizeof(first));
	sg_chan_commit(dr->out, SG_MSG_EVENTS, dr->len);
	dr->st.batches++;
	dr->st.sent += dr->nbatch;
	dr->batch = NULL;
	dr->len = SG_BATCH_HDR;
	dr->nbatch = 0;
}

static void
sg_drain_append(struct sg_drain *dr, const void *data, size_t size)
{
	uint32_t sz = (uint32_t)size;

	if (dr->batch != NULL && sizeof(sz) + size > dr->limit - dr->len)
		sg_drain_flush(dr);
	if (dr->batch == NULL) {
		dr->limit = sg_chan_room(dr->out);
		if (dr->limit > SG_BATCH_MAX)
			dr->limit = SG_BATCH_MAX;
		if (dr->limit < SG_BATCH_HDR + sizeof(sz) + size) {
			dr->st.lost_ipc++;   /* the collector is behind */
			return;
		}
		dr->batch = sg_chan_next(dr->out);
	}
	memcpy(dr->batch + dr->len, &sz, sizeof(sz));
	memcpy(dr->batch + dr->len + sizeof(sz), data, size);
	dr->len += sizeof(sz) + size;
	dr->nbatch++;
}

/* libbpf ring buffer callback: one event, straight from the kernel. */
static int
sg_drain_event(void *ctx, void *data, size_t size)
{
	struct sg_drain *dr = ctx;
	const struct sg_event_hdr *h = data;

	dr->st.events++;
	if (size < sizeof(*h) || size > sizeof(struct sg_data_event)) {
		dr->st.bad++;
		return 0;
	}
	switch (h->type) {
	case SG_EV_EXEC:
	case SG_EV_FORK:
	case SG_EV_EXIT:
		/* Events already batched predate the process change. */
		sg_drain_flush(dr);
		loader_on_proc_event(data, size);
		return 0;
	default:
		if (!loader_pid_selected(h->pid)) {
			dr->st.unselected++;  /* traced from exec, not ours */
			return 0;
		}
		sg_drain_append(dr, data, size);
		return 0;
	}
}

struct sg_drain *
sg_drain_new(struct sg_bpf *b, struct sg_chan *out)
{
	struct sg_drain *dr = calloc(1, sizeof(*dr));

	if (dr == NULL)
		return NULL;
	dr->out = out;
	dr->len = SG_BATCH_HDR;
	dr->rb = ring_buffer__new(sg_bpf_ringbuf_fd(b), sg_drain_event, dr,
	    NULL);
	if (dr->rb == NULL) {
		sg_log(SG_LOG_ERR, "ring buffer: %s", strerror(errno));
		free(dr);
		return NULL;
	}
	return dr;
}

void
sg_drain_free(struct sg_drain *dr)
{
	if (dr == NULL)
		return;
	ring_buffer__free(dr->rb);
	free(dr);
}

int
sg_drain_fd(struct sg_drain *dr)
{
	return ring_buffer__epoll_fd(dr->rb);
}

/* Consumed without asking epoll first: the caller's own wait already
 * did, and what BPF wrote without a wakeup (BPF_RB_NO_WAKEUP) is taken
 * all the same.  On a paravirtualised guest each syscall spared is a
 * trip through the hypervisor, twenty times a second when idle. */
int
sg_drain_take(struct sg_drain *dr)
{
	int n = ring_buffer__consume(dr->rb);

	sg_drain_flush(dr);
	return n;
}

void
sg_drain_stats(const struct sg_drain *dr, struct sg_drain_stats *s)
{
	*s = dr->st;
}
