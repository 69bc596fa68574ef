/*
 * The loader-to-collector channel: one producer (the loader), one
 * consumer (the collector), in shared memory.  The loader's messages
 * (ipc.h's sg_msg_hdr and payload: configuration, process changes,
 * event batches) are written in place, in order, and read in place:
 * no socket between the two, no copy on the way and no thread to hand a
 * message over.  At nginx saturation nng's receive path (its threads,
 * the socket's two copies, a zeroed buffer per message) was a quarter of
 * the sensor's CPU.
 *
 * A memfd holds a control page (the two positions) and the data, which
 * each side maps twice in a row so that a message that wraps reads as one.
 * Positions are byte counts that only grow; a message starts at a
 * multiple of 8.  A lap may end early with a pad, which the collector
 * passes over itself: the loader goes back to the first pages while the
 * collector is close behind, so that only those stay resident.  A pad is
 * written only where its whole header fits before the lap's end (else
 * the next message wraps, as any may).  The
 * collector maps the data read-only, and the loader never reads it: the
 * only thing the loader takes from the collector is its position, which
 * is checked (between the last one seen and ours) before use.
 *
 * The loader makes the channel before the first collector and keeps it:
 * a restarted collector is given the same two descriptors (SG_CHAN_FD_*)
 * and takes up at the position its predecessor reached, so messages
 * queued for the dead one are not lost with it.  The message a collector
 * was acting on when it died is passed over by its successor: one that
 * killed a collector is not handed to the next.  The loader wakes the
 * collector through an eventfd after each message; when the data does
 * not fit, the caller counts it lost.
 */
#ifndef SG_CHAN_H
#define SG_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

/* The collector's descriptors for the channel, from the loader. */
#define SG_CHAN_FD_MEM   3
#define SG_CHAN_FD_WAKE  4

#define SG_CHAN_SIZE_MIN (64u << 10)
#define SG_CHAN_SIZE_MAX (64u << 20)

struct sg_chan_ctl;

struct sg_chan {
	struct sg_chan_ctl *ctl;
	uint8_t            *data;      /* size bytes, mapped twice in a row */
	uint64_t            size;      /* a power of two */
	int                 memfd;
	int                 wakefd;
	bool                producer;
	/* The loader's own: what it has published, the collector's last
	 * position it accepted, and whether it has logged a bad one. */
	uint64_t            head;
	uint64_t            tail;
	bool                tail_bad;
	uint32_t            seq;
	bool                touched;   /* written to since the last trim */
	/* The collector's: the end of the message it holds (0: none). */
	uint64_t            taken_end;
};

/* The loader: a new channel of size bytes of data (a power of two within
 * SG_CHAN_SIZE_MIN..MAX).  0, or -1 with errno. */
int  sg_chan_create(struct sg_chan *c, size_t size);
/* The collector: the channel the loader made, from its descriptors. */
int  sg_chan_attach(struct sg_chan *c, int memfd, int wakefd);
void sg_chan_close(struct sg_chan *c);

/* ---- the loader */

/* Room for one more message's payload, as one piece: at most this many
 * bytes fit now. */
size_t   sg_chan_room(struct sg_chan *c);
/* Where the next message's payload goes: fill up to sg_chan_room()
 * bytes, then sg_chan_commit() it.  Nothing is visible before. */
uint8_t *sg_chan_next(struct sg_chan *c);
/* Publish the message filled at sg_chan_next(), of len payload bytes,
 * and wake the collector. */
void     sg_chan_commit(struct sg_chan *c, uint16_t type, size_t len);
/* Copy one message in.  0, or SG_IPC_FULL when it does not fit now. */
int      sg_chan_send(struct sg_chan *c, uint16_t type, const void *payload,
    size_t len);
/* Bytes published and not yet taken. */
uint64_t sg_chan_pending(struct sg_chan *c);
/* While nothing is pending, give the data's memory back (both sides'
 * pages of it are then not resident until written again). */
void     sg_chan_trim(struct sg_chan *c);

/* ---- the collector */

/* The descriptor that is readable when a message may have come. */
int  sg_chan_wake_fd(const struct sg_chan *c);
/* Reset the wake-up, before reading what woke it. */
void sg_chan_clear_wake(struct sg_chan *c);
/*
 * The next message, checked as sg_ipc_recv() checks one: m's payload
 * points into the channel until sg_chan_release().  0; NNG_ETIMEDOUT when
 * there is none; -1 for bytes that are not a whole message: they cannot
 * be read on from, and everything pending was passed over (logged; the
 * events in it are missing from the numbers the exporter counts).  A
 * position left where no reader could be is passed over the same way at
 * attach: a successor does not die on what its predecessor did.
 */
int  sg_chan_recv(struct sg_chan *c, struct sg_msg *m);
/* Done with the message sg_chan_recv() gave: its room is the loader's. */
void sg_chan_release(struct sg_chan *c);
/* Whether less than a quarter of the channel waits for the collector
 * (a pad it has yet to pass not counted): then it may let others have
 * the CPU first without falling behind. */
bool sg_chan_calm(struct sg_chan *c);

#endif
