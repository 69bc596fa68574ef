#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SG_CHAN_CTL_SIZE 4096u
#define SG_CHAN_NONE     UINT64_MAX
#define SG_CHAN_HDR      sizeof(struct sg_msg_hdr)
/* The channel's own message, never handed out: the rest of the data up
 * to its end is unused, and the next message starts at offset 0. */
#define SG_CHAN_PAD      0xffffu
/* Back to offset 0 once this far in past what is pending. */
#define SG_CHAN_RECYCLE  (1u << 20)

/* The control page.  Each position has a cache line of its own: the two
 * sides write one each. */
struct sg_chan_ctl {
	uint64_t                     size;   /* the data's, set by the loader */
	_Alignas(64) _Atomic uint64_t head;  /* the loader: published up to */
	/* the loader: where its last pad starts and the lap after it does */
	_Atomic uint64_t             pad_at;
	_Atomic uint64_t             pad_end;
	_Alignas(64) _Atomic uint64_t tail;  /* the collector: taken up to */
	/* the collector: where the message it acts on starts (NONE: none) */
	_Atomic uint64_t             busy;
};

_Static_assert(sizeof(struct sg_chan_ctl) <= SG_CHAN_CTL_SIZE,
    "control page");

static uint64_t
sg_chan_align(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* The data at offset SG_CHAN_CTL_SIZE of the memfd, twice in a row. */
static int
sg_chan_map(struct sg_chan *c, int prot)
{
	uint8_t *at;

	at = mmap(NULL, 2 * c->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (at == MAP_FAILED)
		return -1;
	if (mmap(at, c->size, prot, MAP_SHARED | MAP_FIXED, c->memfd,
	    SG_CHAN_CTL_SIZE) == MAP_FAILED ||
	    mmap(at + c->size, c->size, prot, MAP_SHARED | MAP_FIXED, c->memfd,
	    SG_CHAN_CTL_SIZE) == MAP_FAILED) {
		int saved = errno;

		(void)munmap(at, 2 * c->size);
		errno = saved;
		return -1;
	}
	c->data = at;
	return 0;
}

static int
sg_chan_map_ctl(struct sg_chan *c)
{
	void *p = mmap(NULL, SG_CHAN_CTL_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, c->memfd, 0);

	if (p == MAP_FAILED)
		return -1;
	c->ctl = p;
	return 0;
}

static bool
sg_chan_size_ok(uint64_t size)
{
	return size >= SG_CHAN_SIZE_MIN && size <= SG_CHAN_SIZE_MAX &&
	    (size & (size - 1)) == 0;
}

int
sg_chan_create(struct sg_chan *c, size_t size)
{
	memset(c, 0, sizeof(*c));
	c->memfd = c->wakefd = -1;
	if (!sg_chan_size_ok(size)) {
		errno = EINVAL;
		return -1;
	}
	c->size = size;
	c->producer = true;
	if ((c->memfd = memfd_create("spyglass-channel", MFD_CLOEXEC)) < 0 ||
	    ftruncate(c->memfd, (off_t)(SG_CHAN_CTL_SIZE + size)) < 0 ||
	    (c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    sg_chan_map_ctl(c) < 0 ||
	    sg_chan_map(c, PROT_READ | PROT_WRITE) < 0) {
		int saved = errno;

		sg_chan_close(c);
		errno = saved;
		return -1;
	}
	c->ctl->size = size;
	atomic_store(&c->ctl->head, 0);
	atomic_store(&c->ctl->tail, 0);
	atomic_store(&c->ctl->busy, SG_CHAN_NONE);
	return 0;
}

/* Nothing pending makes sense from where we are: a collector left a
 * position no reader could reach, or a message is not one.  Restarting
 * would find the same bytes again, so what is pending is passed over
 * (its events are missing from the numbers the exporter counts, msg.h). */
static void
sg_chan_skip_all(struct sg_chan *c, uint64_t tail, uint64_t head)
{
	sg_log(SG_LOG_ERR, "channel: passing over the %llu bytes from %llu "
	    "to %llu: they make no message", (unsigned long long)(head - tail),
	    (unsigned long long)tail, (unsigned long long)head);
	atomic_store_explicit(&c->ctl->tail, head, memory_order_release);
}

/* Where a reader may be: at most size behind the head, at a message's
 * start. */
static bool
sg_chan_tail_ok(const struct sg_chan *c, uint64_t tail, uint64_t head)
{
	return head - tail <= c->size && (tail & 7) == 0 && (head & 7) == 0;
}

/* The message a predecessor died acting on is not taken again. */
static void
sg_chan_skip_busy(struct sg_chan *c)
{
	uint64_t tail = atomic_load(&c->ctl->tail);
	uint64_t head = atomic_load_explicit(&c->ctl->head,
	    memory_order_acquire);
	struct sg_msg_hdr h;

	if (!sg_chan_tail_ok(c, tail, head)) {
		sg_chan_skip_all(c, tail, head);
		goto done;
	}
	if (atomic_load(&c->ctl->busy) != tail || head - tail < SG_CHAN_HDR)
		goto done;
	memcpy(&h, c->data + (tail & (c->size - 1)), sizeof(h));
	if (SG_CHAN_HDR + (uint64_t)h.size <= head - tail) {
		sg_log(SG_LOG_WARN, "channel: passing over the message (type "
		    "%u, %u bytes) the previous collector was acting on",
		    h.type, h.size);
		atomic_store_explicit(&c->ctl->tail,
		    tail + sg_chan_align(SG_CHAN_HDR + h.size),
		    memory_order_release);
	}
done:
	atomic_store(&c->ctl->busy, SG_CHAN_NONE);
}

int
sg_chan_attach(struct sg_chan *c, int memfd, int wakefd)
{
	struct stat st;

	memset(c, 0, sizeof(*c));
	c->memfd = memfd;
	c->wakefd = wakefd;
	if (fstat(memfd, &st) < 0 || sg_chan_map_ctl(c) < 0)
		goto fail;
	c->size = c->ctl->size;
	if (!sg_chan_size_ok(c->size) ||
	    (uint64_t)st.st_size != SG_CHAN_CTL_SIZE + c->size) {
		errno = EINVAL;
		goto fail;
	}
	if (sg_chan_map(c, PROT_READ) < 0)
		goto fail;
	sg_chan_skip_busy(c);
	return 0;
fail:
	if (c->ctl != NULL)
		(void)munmap(c->ctl, SG_CHAN_CTL_SIZE);
	c->ctl = NULL;
	c->size = 0;
	return -1;
}

void
sg_chan_close(struct sg_chan *c)
{
	if (c->data != NULL)
		(void)munmap(c->data, 2 * c->size);
	if (c->ctl != NULL)
		(void)munmap(c->ctl, SG_CHAN_CTL_SIZE);
	if (c->memfd >= 0)
		(void)close(c->memfd);
	if (c->wakefd >= 0)
		(void)close(c->wakefd);
	memset(c, 0, sizeof(*c));
	c->memfd = c->wakefd = -1;
}

/* ---- the loader */

/* The collector's position, if it is one it could have reached: between
 * the last one seen and what we published.  Another is not believed. */
static uint64_t
sg_chan_tail(struct sg_chan *c)
{
	uint64_t t = atomic_load_explicit(&c->ctl->tail, memory_order_acquire);

	if (t >= c->tail && t <= c->head && (t & 7) == 0)
		c->tail = t;
	else if (!c->tail_bad) {
		c->tail_bad = true;
		sg_log(SG_LOG_ERR, "channel: the collector's position %llu is "
		    "outside %llu..%llu: ignored", (unsigned long long)t,
		    (unsigned long long)c->tail, (unsigned long long)c->head);
	}
	return c->tail;
}

uint64_t
sg_chan_pending(struct sg_chan *c)
{
	return c->head - sg_chan_tail(c);
}

/*
 * The loader goes back to the data's first pages once it is the
 * recycling distance past what the collector has yet to take: a pad
 * ends the lap early.  Without it every lap touched all of the data, so
 * at any steady load both processes held the whole channel resident.
 * Now what is resident is that distance plus what the collector fell
 * behind by.
 *
 * Until the collector has passed the pad, the rest of the lap is not
 * free: the room is the distance gone less what is pending, not the
 * whole channel.  A first version jumped at 256 kB with up to half of
 * that pending, and a collector kept off the CPU for some milliseconds
 * under Redis -P 16 lost events to it.  At 1 MiB it would have to stay
 * away for some 70 ms at that load's 15 MB/s.
 */
static void
sg_chan_recycle(struct sg_chan *c)
{
	uint64_t off = c->head & (c->size - 1);
	uint64_t at = c->size / 4 < SG_CHAN_RECYCLE ? c->size / 4 :
	    SG_CHAN_RECYCLE;
	struct sg_msg_hdr h = {
		.magic = SG_IPC_MAGIC, .version = SG_IPC_VERSION,
		.type = SG_CHAN_PAD,
	};

	/* after the jump, off - pending is free: at least at.  A pad's
	 * header must fit before the lap's end: 8 bytes short, its second
	 * half would be the next lap's first, where the next message's
	 * header goes. */
	if (off < at || off - at < sg_chan_pending(c) ||
	    c->size - off < SG_CHAN_HDR)
		return;
	h.size = (uint32_t)(c->size - off - SG_CHAN_HDR);
	memcpy(c->data + off, &h, sizeof(h));
	atomic_store_explicit(&c->ctl->pad_at, c->head, memory_order_relaxed);
	c->head += c->size - off;
	atomic_store_explicit(&c->ctl->pad_end, c->head, memory_order_relaxed);
	c->touched = true;
	atomic_store_explicit(&c->ctl->head, c->head, memory_order_release);
}

size_t
sg_chan_room(struct sg_chan *c)
{
	uint64_t free;

	sg_chan_recycle(c);
	free = c->size - sg_chan_pending(c);

	if (free < SG_CHAN_HDR)
		return 0;
	free = (free - SG_CHAN_HDR) & ~(uint64_t)7;
	return free > SG_IPC_MAX_MSG ? SG_IPC_MAX_MSG : (size_t)free;
}

uint8_t *
sg_chan_next(struct sg_chan *c)
{
	return c->data + (c->head & (c->size - 1)) + SG_CHAN_HDR;
}

void
sg_chan_commit(struct sg_chan *c, uint16_t type, size_t len)
{
	struct sg_msg_hdr h = {
		.magic = SG_IPC_MAGIC, .version = SG_IPC_VERSION,
		.type = type, .size = (uint32_t)len, .seq = ++c->seq,
	};
	uint64_t one = 1;

	memcpy(c->data + (c->head & (c->size - 1)), &h, sizeof(h));
	c->head += sg_chan_align(SG_CHAN_HDR + len);
	atomic_store_explicit(&c->ctl->head, c->head, memory_order_release);
	c->touched = true;
	/* EAGAIN: the counter is full, the collector will wake anyway */
	(void)!write(c->wakefd, &one, sizeof(one));
}

int
sg_chan_send(struct sg_chan *c, uint16_t type, const void *payload,
    size_t len)
{
	if (len > sg_chan_room(c))
		return SG_IPC_FULL;
	if (len > 0)
		memcpy(sg_chan_next(c), payload, len);
	sg_chan_commit(c, type, len);
	return 0;
}

void
sg_chan_trim(struct sg_chan *c)
{
	if (!c->touched || sg_chan_pending(c) != 0)
		return;
	/* Nothing is pending and we are the only writer: the pages hold
	 * nothing anybody will read. */
	if (fallocate(c->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    SG_CHAN_CTL_SIZE, (off_t)c->size) == 0)
		c->touched = false;
}

/* ---- the collector */

int
sg_chan_wake_fd(const struct sg_chan *c)
{
	return c->wakefd;
}

void
sg_chan_clear_wake(struct sg_chan *c)
{
	uint64_t n;

	(void)!read(c->wakefd, &n, sizeof(n));
}

/* A pad ends exactly where the data does. */
static bool
sg_chan_pad_ok(const struct sg_chan *c, uint64_t tail,
    const struct sg_msg_hdr *h)
{
	return ((tail + SG_CHAN_HDR + h->size) & (c->size - 1)) == 0 &&
	    (h->size & 7) == 0;
}

int
sg_chan_recv(struct sg_chan *c, struct sg_msg *m)
{
	uint64_t tail = atomic_load_explicit(&c->ctl->tail,
	    memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&c->ctl->head,
	    memory_order_acquire);
	uint64_t have = head - tail;
	const uint8_t *at = c->data + (tail & (c->size - 1));
	struct sg_msg_hdr h;

	if (have == 0)
		return NNG_ETIMEDOUT;
	if (!sg_chan_tail_ok(c, tail, head) || have < SG_CHAN_HDR) {
		sg_chan_skip_all(c, tail, head);
		return -1;
	}
	memcpy(&h, at, sizeof(h));
	if (sg_ipc_hdr_check(&h, have - SG_CHAN_HDR) < 0 ||
	    (h.type == SG_CHAN_PAD && !sg_chan_pad_ok(c, tail, &h))) {
		sg_chan_skip_all(c, tail, head);
		return -1;
	}
	if (h.type == SG_CHAN_PAD) {
		atomic_store_explicit(&c->ctl->tail, tail + SG_CHAN_HDR +
		    h.size, memory_order_release);
		return sg_chan_recv(c, m);
	}
	atomic_store_explicit(&c->ctl->busy, tail, memory_order_relaxed);
	c->taken_end = tail + sg_chan_align(SG_CHAN_HDR + h.size);
	m->nmsg = NULL;
	m->type = h.type;
	m->seq = h.seq;
	m->payload = at + SG_CHAN_HDR;
	m->size = h.size;
	return 0;
}

bool
sg_chan_calm(struct sg_chan *c)
{
	uint64_t head = atomic_load_explicit(&c->ctl->head,
	    memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&c->ctl->tail,
	    memory_order_relaxed);
	uint64_t pad_at = atomic_load_explicit(&c->ctl->pad_at,
	    memory_order_relaxed);
	uint64_t pad_end = atomic_load_explicit(&c->ctl->pad_end,
	    memory_order_relaxed);
	uint64_t waiting = head - tail;

	/* A pad not yet passed is no work: it is the rest of a lap.  A pad
	 * newer than the head read is not counted out (only the yield is
	 * decided from it). */
	if (pad_at >= tail && pad_end <= head && pad_end > pad_at)
		waiting -= pad_end - pad_at;
	return waiting < c->size / 4;
}

void
sg_chan_release(struct sg_chan *c)
{
	if (c->taken_end == 0)
		return;
	atomic_store_explicit(&c->ctl->tail, c->taken_end,
	    memory_order_release);
	atomic_store_explicit(&c->ctl->busy, SG_CHAN_NONE,
	    memory_order_relaxed);
	c->taken_end = 0;
}
