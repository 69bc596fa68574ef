/* The loader-to-collector channel in shared memory (chan.c): order,
 * wrapping, a full channel, how much waits, the lap cut short while the
 * collector keeps up, positions and messages that are not the loader's,
 * a successor passing over its predecessor's last message, and a
 * producer and a consumer thread at full speed (ThreadSanitizer in CI). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan.h"

#define SIZE SG_CHAN_SIZE_MIN

/* The collector's end of p, on descriptors of its own. */
static void
attach(const struct sg_chan *p, struct sg_chan *c)
{
	assert_int_equal(sg_chan_attach(c, dup(p->memfd), dup(p->wakefd)), 0);
}

/* The collector's position in the control page (its second cache line):
 * what a collector that misbehaves could write there. */
static _Atomic uint64_t *
tail_of(struct sg_chan *c)
{
	return (_Atomic uint64_t *)((uint8_t *)c->ctl + 128);
}

static void
fill(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31u + i * 7u);
}

static void
expect_msg(struct sg_chan *c, uint16_t type, size_t n, uint32_t seed)
{
	uint8_t want[4096];
	struct sg_msg m;

	assert_true(n <= sizeof(want));
	fill(want, n, seed);
	assert_int_equal(sg_chan_recv(c, &m), 0);
	assert_int_equal(m.type, type);
	assert_int_equal(m.size, n);
	assert_memory_equal(m.payload, want, n);
	sg_chan_release(c);
}

static void
test_order_and_wrap(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[4096];
	struct sg_msg m;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	assert_int_equal(sg_chan_recv(&c, &m), NNG_ETIMEDOUT);
	/* many times round: sizes that are not multiples of 8 wrap at
	 * every offset */
	for (uint32_t i = 0; i < 2000; i++) {
		size_t n = (i * 37u) % sizeof(buf);

		fill(buf, n, i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, n), 0);
		if (i % 3 == 2)
			for (uint32_t k = i - 2; k <= i; k++)
				expect_msg(&c, SG_MSG_EVENTS, (k * 37u) % sizeof(buf),
				    k);
	}
	for (uint32_t k = 1998; k < 2000; k++)
		expect_msg(&c, SG_MSG_EVENTS, (k * 37u) % sizeof(buf), k);
	assert_int_equal(sg_chan_recv(&c, &m), NNG_ETIMEDOUT);
	assert_int_equal(sg_chan_pending(&p), 0);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

static void
test_in_place(void **state)
{
	struct sg_chan p, c;
	uint8_t *at;
	size_t room;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	room = sg_chan_room(&p);
	assert_true(room > 1000 && room < SIZE);
	at = sg_chan_next(&p);
	fill(at, 1000, 9);
	sg_chan_commit(&p, SG_MSG_PROC, 1000);
	expect_msg(&c, SG_MSG_PROC, 1000, 9);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

static void
test_full(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[1000];
	unsigned sent = 0;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	fill(buf, sizeof(buf), 1);
	while (sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)) == 0)
		sent++;
	/* 1,000 bytes, a 16-byte header, padded to 1,016 */
	assert_int_equal(sent, SIZE / 1016);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)),
	    SG_IPC_FULL);
	assert_true(sg_chan_room(&p) < sizeof(buf));
	/* a small one still fits in what is left */
	assert_int_equal(sg_chan_send(&p, SG_MSG_PEER, buf, 4), 0);
	expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 1);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	for (unsigned i = 1; i < sent; i++)
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 1);
	expect_msg(&c, SG_MSG_PEER, 4, 1);
	expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 1);
	assert_int_equal(sg_chan_pending(&p), 0);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* Calm while less than a quarter of the channel waits for the
 * collector: a message it holds still counts until released. */
static void
test_calm(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[1000];
	unsigned sent = 0;
	struct sg_msg m;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	fill(buf, sizeof(buf), 2);
	assert_true(sg_chan_calm(&c));
	while ((sent + 1) * 1016 < SIZE / 4) {
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		sent++;
	}
	assert_true(sg_chan_calm(&c));
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)),
	    0);
	sent++;
	assert_false(sg_chan_calm(&c));
	assert_int_equal(sg_chan_recv(&c, &m), 0);
	assert_false(sg_chan_calm(&c));
	sg_chan_release(&c);
	assert_true(sg_chan_calm(&c));
	for (unsigned i = 1; i < sent; i++)
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 2);
	assert_true(sg_chan_calm(&c));
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* The collector writes its position: one it could not have reached is
 * not believed, so the loader never writes over what is pending. */
static void
test_hostile_position(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[100] = { 0 };
	struct sg_msg m;
	uint64_t pending;
	_Atomic uint64_t *tail;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	pending = sg_chan_pending(&p);
	assert_int_equal(pending, 2 * 120);
	tail = tail_of(&c);
	atomic_store(tail, pending + 8);            /* beyond the head */
	assert_int_equal(sg_chan_pending(&p), pending);
	atomic_store(tail, 3);                      /* not a message start */
	assert_int_equal(sg_chan_pending(&p), pending);
	atomic_store(tail, 120);                    /* a real one */
	assert_int_equal(sg_chan_pending(&p), 120);
	atomic_store(tail, 0);                      /* backwards */
	assert_int_equal(sg_chan_pending(&p), 120);
	assert_int_equal(sg_chan_recv(&c, &m), 0);  /* the collector reads
	                                             * from where it says */
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* Bytes that are not a message (bad magic, or larger than what was
 * published) cannot be read on from: what is pending is passed over, and
 * the channel carries on with what comes next. */
static void
test_bad_message(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[64] = { 0 };
	struct sg_msg m;
	struct sg_msg_hdr h;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	for (int bad = 0; bad < 2; bad++) {
		uint8_t *at = p.data + (p.head & (SIZE - 1));

		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		assert_int_equal(sg_chan_send(&p, SG_MSG_PROC, buf, 8), 0);
		memcpy(&h, at, sizeof(h));
		if (bad == 0)
			h.size = 1000;     /* more than was published */
		else
			h.magic ^= 1;
		memcpy(at, &h, sizeof(h));
		assert_int_equal(sg_chan_recv(&c, &m), -1);
		assert_int_equal(sg_chan_recv(&c, &m), NNG_ETIMEDOUT);
		assert_int_equal(sg_chan_pending(&p), 0);
		fill(buf, sizeof(buf), 3);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 3);
	}
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* A collector that left a position no reader could be at: its successor
 * passes over what is pending instead of dying on it too. */
static void
test_bad_position_at_attach(void **state)
{
	struct sg_chan p, c1, c2;
	uint8_t buf[100];
	struct sg_msg m;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c1);
	fill(buf, sizeof(buf), 2);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	atomic_store(tail_of(&c1), 5);
	sg_chan_close(&c1);
	attach(&p, &c2);
	assert_int_equal(sg_chan_recv(&c2, &m), NNG_ETIMEDOUT);
	assert_int_equal(sg_chan_pending(&p), 0);
	fill(buf, sizeof(buf), 4);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	expect_msg(&c2, SG_MSG_EVENTS, sizeof(buf), 4);
	sg_chan_close(&c2);
	sg_chan_close(&p);
}

/* A collector that dies acting on a message: its successor starts after
 * it, with what was queued behind it. */
static void
test_successor(void **state)
{
	struct sg_chan p, c1, c2;
	uint8_t buf[300];
	struct sg_msg m;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c1);
	for (uint32_t i = 0; i < 4; i++) {
		fill(buf, sizeof(buf), i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
	}
	expect_msg(&c1, SG_MSG_EVENTS, sizeof(buf), 0);
	assert_int_equal(sg_chan_recv(&c1, &m), 0);   /* message 1: dies */
	sg_chan_close(&c1);
	attach(&p, &c2);
	expect_msg(&c2, SG_MSG_EVENTS, sizeof(buf), 2);
	sg_chan_close(&c2);
	/* one that ended cleanly: the next starts where it stopped */
	attach(&p, &c1);
	expect_msg(&c1, SG_MSG_EVENTS, sizeof(buf), 3);
	assert_int_equal(sg_chan_recv(&c1, &m), NNG_ETIMEDOUT);
	sg_chan_close(&c1);
	sg_chan_close(&p);
}

/* Resident pages of the data from byte from to its end. */
static size_t
resident_from(const struct sg_chan *p, size_t from)
{
	unsigned char vec[(4u << 20) / 4096];
	size_t n = (p->size - from) / 4096, k = 0;

	assert_true(p->size <= sizeof(vec) * 4096);
	assert_int_equal(mincore(p->data + from, p->size - from, vec), 0);
	for (size_t i = 0; i < n; i++)
		k += vec[i] & 1;
	return k;
}

/* A collector that keeps up: the loader goes back to the first pages
 * after 1 MiB, and what lies past them is never touched. */
static void
test_recycle(void **state)
{
	const size_t size = 4u << 20, at = 1u << 20;
	struct sg_chan p, c;
	uint8_t buf[4000];

	(void)state;
	assert_int_equal(sg_chan_create(&p, size), 0);
	attach(&p, &c);
	for (uint32_t i = 0; i < 2000; i++) {
		fill(buf, sizeof(buf), i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		assert_true((p.head & (size - 1)) <= at + 4016);
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), i);
	}
	/* 2000 messages of 4016 bytes: seven laps cut short at 1 MiB */
	assert_true(p.head > 6 * size);
	assert_int_equal(resident_from(&p, at + 8192), 0);
	assert_int_equal(sg_chan_pending(&p), 0);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/*
 * A head 8 bytes before the lap's end has no room for a pad's header:
 * the header's second half would land on the next lap's first bytes,
 * where the next message's header then goes (the stress test saw a pad
 * whose size was that header's magic).  No jump there: the message
 * wraps, as any may.
 */
static void
test_no_pad_at_lap_end(void **state)
{
	const size_t size = SIZE;
	struct sg_chan p, c;
	uint8_t buf[4096];
	uint32_t sent = 0, got = 0;

	(void)state;
	assert_int_equal(sg_chan_create(&p, size), 0);
	attach(&p, &c);
	/* nothing taken yet: no jump, however far the head goes */
	while ((p.head & (size - 1)) != size - 8) {
		size_t left = size - 8 - (p.head & (size - 1));
		size_t n = (left > sizeof(buf) + 16 ? sizeof(buf) : left) - 16;

		fill(buf, n, sent);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, n), 0);
		sent++;
	}
	assert_int_equal(p.head, size - 8);
	for (; got < sent; got++) {
		size_t left = size - 8 - 4096 * (size_t)got;

		expect_msg(&c, SG_MSG_EVENTS,
		    (left > sizeof(buf) + 16 ? sizeof(buf) : left) - 16, got);
	}
	assert_int_equal(sg_chan_pending(&p), 0);
	/* all taken, 8 bytes before the end: this one wraps */
	for (uint32_t i = 0; i < 40; i++) {
		fill(buf, 100, 1000 + i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, 100), 0);
		expect_msg(&c, SG_MSG_EVENTS, 100, 1000 + i);
	}
	assert_true(p.head > size);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* A collector some messages behind: the jump waits until the distance
 * gone, less what is pending, is 1 MiB; nothing is lost or reordered. */
static void
test_recycle_with_backlog(void **state)
{
	const size_t size = 4u << 20, at = 1u << 20;
	struct sg_chan p, c;
	uint8_t buf[4000];
	uint32_t got = 0;

	(void)state;
	assert_int_equal(sg_chan_create(&p, size), 0);
	attach(&p, &c);
	for (uint32_t i = 0; i < 3000; i++) {
		uint64_t before = p.head;

		fill(buf, sizeof(buf), i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		if (p.head - before > 4016)    /* a jump: room was kept */
			assert_true((before & (size - 1)) - at >=
			    (uint64_t)(i - got) * 4016);
		if (i >= got + 50)             /* 50 behind, 200 kB */
			expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), got++);
	}
	assert_true(p.head > 6 * size);
	assert_int_equal(resident_from(&p, at + 256 * 1024), 0);
	/* 200 kB waits, and perhaps a pad: calm all the same */
	assert_true(sg_chan_calm(&c));
	while (got < 3000) {
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), got);
		got++;
	}
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* A collector behind: the lap goes on until it has caught up. */
static void
test_no_recycle_when_behind(void **state)
{
	const size_t size = 4u << 20, at = 1u << 20;
	struct sg_chan p, c;
	uint8_t buf[4000];
	uint32_t sent = 0, got = 0;

	(void)state;
	assert_int_equal(sg_chan_create(&p, size), 0);
	attach(&p, &c);
	while ((p.head & (size - 1)) < at + 200000) {
		fill(buf, sizeof(buf), sent);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		sent++;
	}
	assert_true(p.head < size);            /* no pad so far */
	assert_true(resident_from(&p, at + 8192) > 0);
	for (; got < sent; got++)
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), got);
	/* caught up: the next message starts the data again, and the pad
	 * before it does not count as waiting */
	fill(buf, sizeof(buf), sent);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	assert_int_equal(p.head, size + 4016);
	assert_true(sg_chan_pending(&p) > size / 2);
	assert_true(sg_chan_calm(&c));
	expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), sent);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* A pad that does not end where the data does is no pad. */
static void
test_bad_pad(void **state)
{
	const size_t size = 4u << 20, at = 1u << 20;
	struct sg_chan p, c;
	uint8_t buf[4000];
	struct sg_msg m;
	struct sg_msg_hdr h;
	uint8_t *pad;

	(void)state;
	assert_int_equal(sg_chan_create(&p, size), 0);
	attach(&p, &c);
	fill(buf, sizeof(buf), 0);
	while ((p.head & (size - 1)) < at) {
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 0);
	}
	pad = p.data + (p.head & (size - 1));
	fill(buf, sizeof(buf), 4);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	memcpy(&h, pad, sizeof(h));
	assert_int_equal(h.type, 0xffff);
	h.size -= 8;
	memcpy(pad, &h, sizeof(h));
	assert_int_equal(sg_chan_recv(&c, &m), -1);
	assert_int_equal(sg_chan_pending(&p), 0);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 4);
	sg_chan_close(&c);
	sg_chan_close(&p);
}

/* Giving the memory back changes nothing that is read. */
static void
test_trim(void **state)
{
	struct sg_chan p, c;
	uint8_t buf[4000];

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE), 0);
	attach(&p, &c);
	fill(buf, sizeof(buf), 5);
	assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf, sizeof(buf)), 0);
	sg_chan_trim(&p);                      /* pending: not trimmed */
	assert_true(p.touched);
	expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), 5);
	sg_chan_trim(&p);
	assert_false(p.touched);
	for (uint32_t i = 0; i < 40; i++) {
		fill(buf, sizeof(buf), i);
		assert_int_equal(sg_chan_send(&p, SG_MSG_EVENTS, buf,
		    sizeof(buf)), 0);
		expect_msg(&c, SG_MSG_EVENTS, sizeof(buf), i);
		if (i % 7 == 0)
			sg_chan_trim(&p);
	}
	sg_chan_close(&c);
	sg_chan_close(&p);
}

static void
test_sizes(void **state)
{
	struct sg_chan p;

	(void)state;
	assert_int_equal(sg_chan_create(&p, SIZE + 1), -1);
	assert_int_equal(sg_chan_create(&p, SG_CHAN_SIZE_MIN / 2), -1);
	assert_int_equal(sg_chan_create(&p, 2 * (size_t)SG_CHAN_SIZE_MAX), -1);
	assert_int_equal(sg_chan_attach(&p, -1, -1), -1);
}

/* ---- two threads: every message arrives, in order, whole */

#define STRESS_MSGS 200000u

static struct sg_chan stress_p, stress_c;

static void *
stress_producer(void *arg)
{
	uint8_t buf[2048];

	(void)arg;
	for (uint32_t i = 0; i < STRESS_MSGS; i++) {
		size_t n = 4 + (i * 131u) % (sizeof(buf) - 4);

		memcpy(buf, &i, sizeof(i));
		fill(buf + 4, n - 4, i);
		while (sg_chan_send(&stress_p, SG_MSG_EVENTS, buf, n) != 0)
			sched_yield();
	}
	return NULL;
}

static void
test_threads(void **state)
{
	uint8_t want[2048];
	pthread_t t;
	uint32_t next = 0;

	(void)state;
	assert_int_equal(sg_chan_create(&stress_p, SIZE), 0);
	attach(&stress_p, &stress_c);
	assert_int_equal(pthread_create(&t, NULL, stress_producer, NULL), 0);
	while (next < STRESS_MSGS) {
		struct sg_msg m;
		uint32_t v;
		int rv = sg_chan_recv(&stress_c, &m);

		if (rv == NNG_ETIMEDOUT) {
			sched_yield();
			continue;
		}
		assert_int_equal(rv, 0);
		assert_true(m.size >= 4);
		memcpy(&v, m.payload, sizeof(v));
		assert_int_equal(v, next);
		assert_int_equal(m.size, 4 + (v * 131u) % (sizeof(want) - 4));
		fill(want, m.size - 4, v);
		assert_memory_equal(m.payload + 4, want, m.size - 4);
		sg_chan_release(&stress_c);
		next++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	sg_chan_close(&stress_c);
	sg_chan_close(&stress_p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_wrap),
		cmocka_unit_test(test_in_place),
		cmocka_unit_test(test_calm),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_hostile_position),
		cmocka_unit_test(test_bad_message),
		cmocka_unit_test(test_bad_position_at_attach),
		cmocka_unit_test(test_successor),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_recycle),
		cmocka_unit_test(test_recycle_with_backlog),
		cmocka_unit_test(test_no_pad_at_lap_end),
		cmocka_unit_test(test_no_recycle_when_behind),
		cmocka_unit_test(test_bad_pad),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
