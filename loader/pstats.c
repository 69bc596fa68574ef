/*
 * Sampling /proc for the application_process metrics (pstats.h).  The
 * parsing is common/procstat.c's; this file only reads.
 */
#include "pstats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "msg.h"
#include "procstat.h"
#include "procview.h"
#include "selection.h"
#include "wire.h"

/* stat is one line of 52 numbers and a comm: 1 KiB holds it. */
#define PSTATS_BUF 1024

static long pstats_tck, pstats_page;

/* One read(): the kernel renders these small files whole. */
static ssize_t
pstats_read(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n;
}

static void
pstats_init(void)
{
	if (pstats_tck > 0)
		return;
	pstats_tck = sysconf(_SC_CLK_TCK);
	pstats_page = sysconf(_SC_PAGESIZE);
	if (pstats_tck <= 0)
		pstats_tck = 100;   /* USER_HZ on every Linux architecture */
	if (pstats_page <= 0)
		pstats_page = 4096;
}

static uint64_t
pstats_ticks_us(uint64_t ticks)
{
	return ticks / (uint64_t)pstats_tck * 1000000u +
	    ticks % (uint64_t)pstats_tck * 1000000u / (uint64_t)pstats_tck;
}

/* Its start on CLOCK_MONOTONIC, which the collector shares: stat counts
 * from boot, time suspended included, which CLOCK_MONOTONIC leaves out. */
static uint64_t
pstats_started_ns(uint64_t start_ticks)
{
	uint64_t boot = sg_clock_ns(CLOCK_BOOTTIME);
	uint64_t mono = sg_clock_ns(CLOCK_MONOTONIC);
	uint64_t start = pstats_ticks_us(start_ticks) * 1000u;
	uint64_t asleep = boot > mono ? boot - mono : 0;

	return start > asleep ? start - asleep : 0;
}

/* A leader that has ended has no memory of its own to show: a live
 * thread's stat shows the process's (its times and start are its own). */
static void
pstats_memory(pid_t pid, struct sg_procstat *st)
{
	char buf[PSTATS_BUF];
	struct sg_procstat other;
	pid_t view;
	ssize_t n;

	if (st->vsize != 0 || (view = procview_thread(pid)) == pid)
		return;
	if ((n = pstats_read(view, "stat", buf, sizeof(buf))) > 0 &&
	    procstat_parse_stat(buf, (size_t)n, &other) == 0) {
		st->vsize = other.vsize;
		st->rss_pages = other.rss_pages;
	}
}

int
pstats_sample(pid_t pid, uint64_t start_time, struct sg_pstat *out)
{
	char buf[PSTATS_BUF];
	struct sg_procstat st;
	struct sg_procio io;
	ssize_t n;

	pstats_init();
	memset(out, 0, sizeof(*out));
	if ((n = pstats_read(pid, "stat", buf, sizeof(buf))) <= 0 ||
	    procstat_parse_stat(buf, (size_t)n, &st) < 0 ||
	    (start_time != 0 && st.start_time != start_time))
		return -1;
	out->pid = (uint32_t)pid;
	out->start_time = st.start_time;
	out->started_ns = pstats_started_ns(st.start_time);
	out->user_us = pstats_ticks_us(st.utime);
	out->system_us = pstats_ticks_us(st.stime);
	snprintf(out->comm, sizeof(out->comm), "%s", st.comm);
	pstats_memory(pid, &st);
	out->vm_bytes = st.vsize;
	out->rss_bytes = st.rss_pages * (uint64_t)pstats_page;
	/* Absent, not zero, when unreadable (no ptrace access, or a kernel
	 * without task I/O accounting). */
	if ((n = pstats_read(pid, "io", buf, sizeof(buf))) > 0 &&
	    procstat_parse_io(buf, (size_t)n, &io) == 0) {
		out->io_read = io.read_bytes;
		out->io_write = io.write_bytes;
		out->flags |= SG_PSTAT_IO;
	}
	return 0;
}

/* ---- a round's messages */

#define PSTATS_MSG (32u << 10)   /* one message of samples */

/* A batch of samples, as one SG_MSG_PSTATS. */
struct pstats_batch {
	uint8_t              buf[PSTATS_MSG];
	struct wire_w        w;
	struct sg_pstats_hdr h;
	pstats_send_fn       send;
	uint64_t             refused;
};

static void
pstats_begin(struct pstats_batch *b)
{
	b->h.n = 0;
	wire_w_init(&b->w, b->buf, sizeof(b->buf));
	msg_put_pstats_hdr(&b->w, &b->h);
}

static void
pstats_flush(struct pstats_batch *b)
{
	struct wire_w hw;

	if (b->h.n == 0)
		return;
	wire_w_init(&hw, b->buf, sizeof(b->buf));
	msg_put_pstats_hdr(&hw, &b->h);   /* the count, now known */
	if (b->send(SG_MSG_PSTATS, b->buf, b->w.len) != 0)
		b->refused++;
	pstats_begin(b);
}

static void
pstats_add(struct pstats_batch *b, const struct sg_pstat *p)
{
	size_t mark = b->w.len;

	msg_put_pstat(&b->w, p);
	if (!b->w.err) {
		b->h.n++;
		return;
	}
	b->w.err = 0;   /* full: send what fits, then this one */
	b->w.len = mark;
	pstats_flush(b);
	msg_put_pstat(&b->w, p);
	if (!b->w.err)
		b->h.n++;
}

static void
pstats_sample_one(const struct sg_proc_info *info, void *ctx)
{
	struct sg_pstat p;

	if (pstats_sample((pid_t)info->pid, info->start_time, &p) == 0)
		pstats_add(ctx, &p);
}

uint64_t
pstats_round(pstats_send_fn send)
{
	static struct pstats_batch b;   /* 32 kB: not on the stack */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	b.send = send;
	b.refused = 0;
	b.h.sample_ns = sg_clock_ns(CLOCK_MONOTONIC);
	b.h.ncpu = (uint16_t)(ncpu > 0 && ncpu <= UINT16_MAX ? ncpu : 1);
	pstats_begin(&b);
	selection_foreach(pstats_sample_one, &b);
	pstats_flush(&b);
	return b.refused;
}
