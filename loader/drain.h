/*
 * Ring buffer drain: copy raw events into size-bounded batches, each
 * written into the collector's channel (chan.h) as one SG_MSG_EVENTS
 * message.  Process
 * events (exec/fork/exit) go to the loader (loader_on_proc_event), and
 * events of processes the loader has not selected are dropped.  Nothing
 * is decoded here beyond the event header.
 */
#ifndef SG_DRAIN_H
#define SG_DRAIN_H

#include <stddef.h>
#include <stdint.h>

struct sg_bpf;
struct sg_chan;

struct sg_drain_stats {
	uint64_t events;          /* events read from the ring buffer */
	uint64_t batches;         /* messages written */
	uint64_t sent;            /* events in them: the next one's number */
	uint64_t lost_ipc;        /* events that did not fit in the channel */
	uint64_t bad;             /* events too short to carry a header */
	uint64_t unselected;      /* of processes not selected after all */
};

struct sg_drain;

struct sg_drain *sg_drain_new(struct sg_bpf *b, struct sg_chan *out);
void sg_drain_free(struct sg_drain *dr);
/* Epoll fd to wait on. */
int  sg_drain_fd(struct sg_drain *dr);
/* Consume whatever is in the ring buffer, then flush the batch. */
int  sg_drain_take(struct sg_drain *dr);
/* Publish the batch being built: before any other message is written
 * into the channel, which would otherwise write over it. */
void sg_drain_flush(struct sg_drain *dr);
void sg_drain_stats(const struct sg_drain *dr, struct sg_drain_stats *s);

#endif
