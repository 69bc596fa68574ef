/* The bounded IPC encoding (wire.c) and the messages built on it (msg.c). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "self.h"
#include "wire.h"

static void
test_round_trip_scalars(void **state)
{
	static const double doubles[] = { 0.0, -0.0, 1.5, -2.25, DBL_MAX,
		DBL_MIN, 1e-300, INFINITY, -INFINITY };
	uint8_t buf[512];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, 0);
	wire_put_u8(&w, 0xff);
	wire_put_u16(&w, 0xbeef);
	wire_put_u32(&w, 0xdeadbeefu);
	wire_put_u64(&w, UINT64_C(0x0123456789abcdef));
	wire_put_u64(&w, UINT64_MAX);
	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++)
		wire_put_f64(&w, doubles[i]);
	wire_put_f64(&w, NAN);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 1 + 1 + 2 + 4 + 8 + 8 + 8 * 10);

	wire_r_init(&r, buf, w.len);
	assert_int_equal(wire_get_u8(&r), 0);
	assert_int_equal(wire_get_u8(&r), 0xff);
	assert_int_equal(wire_get_u16(&r), 0xbeef);
	assert_int_equal(wire_get_u32(&r), 0xdeadbeefu);
	assert_true(wire_get_u64(&r) == UINT64_C(0x0123456789abcdef));
	assert_true(wire_get_u64(&r) == UINT64_MAX);
	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
		double d = wire_get_f64(&r);

		/* Bit for bit: -0.0 stays negative. */
		assert_memory_equal(&d, &doubles[i], sizeof(d));
	}
	assert_true(isnan(wire_get_f64(&r)));
	assert_true(wire_r_done(&r));
}

/* Integers are little-endian on the wire whatever the host. */
static void
test_little_endian(void **state)
{
	static const uint8_t want[] = { 0x34, 0x12, 0x78, 0x56, 0x34, 0x12,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
	uint8_t buf[32];
	struct wire_w w;

	(void)state;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u16(&w, 0x1234);
	wire_put_u32(&w, 0x12345678);
	wire_put_u64(&w, UINT64_C(0x0102030405060708));
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_round_trip_strings(void **state)
{
	char big[70000], out[256];
	const char *ref;
	uint8_t buf[1024];
	struct wire_w w;
	struct wire_r r;
	size_t n;

	(void)state;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_str(&w, "hello");
	wire_put_str(&w, "");
	wire_put_str(&w, NULL);
	wire_put_bytes(&w, "\x00\x01\x02", 3);
	wire_put_bytes(&w, NULL, 0);
	wire_put_str(&w, "borrowed");
	assert_int_equal(w.err, 0);
	/* u16 length then the bytes, no terminator. */
	assert_int_equal(buf[0], 5);
	assert_int_equal(buf[1], 0);
	assert_memory_equal(buf + 2, "hello", 5);

	wire_r_init(&r, buf, w.len);
	wire_get_str(&r, out, sizeof(out));
	assert_string_equal(out, "hello");
	wire_get_str(&r, out, sizeof(out));
	assert_string_equal(out, "");
	wire_get_str(&r, out, sizeof(out));
	assert_string_equal(out, "");
	wire_get_bytes(&r, out, 3);
	assert_memory_equal(out, "\x00\x01\x02", 3);
	wire_get_strref(&r, &ref, &n);
	assert_int_equal(n, 8);
	assert_memory_equal(ref, "borrowed", 8);
	assert_true(wire_r_done(&r));

	/* Longer than a u16 length can say: an error, nothing written. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_str(&w, big);
	assert_int_equal(w.err, 1);
	assert_int_equal(w.len, 0);
}

/* A string that does not fit dst is an error, and dst is left "". */
static void
test_string_too_long_for_dst(void **state)
{
	uint8_t buf[64];
	char out[8];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_str(&w, "1234567");     /* fits 8 with the NUL */
	wire_put_str(&w, "12345678");    /* does not */
	wire_put_u8(&w, 42);
	wire_r_init(&r, buf, w.len);
	wire_get_str(&r, out, sizeof(out));
	assert_string_equal(out, "1234567");
	assert_int_equal(r.err, 0);
	memset(out, 'z', sizeof(out));
	wire_get_str(&r, out, sizeof(out));
	assert_int_equal(r.err, 1);
	assert_string_equal(out, "");
	/* Every later read is a no-op returning zero. */
	assert_int_equal(wire_get_u8(&r), 0);
	assert_false(wire_r_done(&r));
}

/* The writer never grows past its capacity; after an overflow every
 * call is a no-op. */
static void
test_write_overflow(void **state)
{
	uint8_t buf[16];
	struct wire_w w;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	wire_w_init(&w, buf, 10);
	wire_put_u64(&w, 1);
	assert_int_equal(w.err, 0);
	wire_put_u32(&w, 2);             /* 12 > 10 */
	assert_int_equal(w.err, 1);
	assert_int_equal(w.len, 8);
	wire_put_u8(&w, 3);              /* would fit, but err is sticky */
	wire_put_str(&w, "");
	wire_put_bytes(&w, "x", 1);
	assert_int_equal(w.len, 8);
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);

	/* Exactly full is fine. */
	wire_w_init(&w, buf, 10);
	wire_put_u64(&w, 1);
	wire_put_u16(&w, 2);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 10);
	wire_put_bytes(&w, NULL, 0);
	assert_int_equal(w.err, 0);

	/* A zero-capacity writer. */
	wire_w_init(&w, NULL, 0);
	wire_put_u8(&w, 1);
	assert_int_equal(w.err, 1);
	assert_int_equal(w.len, 0);
}

/* Truncated input sets err and reads as zeroes from then on. */
static void
test_truncated_read(void **state)
{
	uint8_t buf[64], bytes[4] = { 9, 9, 9, 9 };
	struct wire_w w;
	struct wire_r r;
	const char *ref;
	char out[16];
	size_t n;

	(void)state;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u32(&w, 7);
	wire_put_u64(&w, 8);
	wire_put_str(&w, "abcdef");

	wire_r_init(&r, buf, 6);         /* the u64 is cut short */
	assert_int_equal(wire_get_u32(&r), 7);
	assert_true(wire_get_u64(&r) == 0);
	assert_int_equal(r.err, 1);
	assert_int_equal(wire_get_u16(&r), 0);
	assert_true(wire_get_f64(&r) == 0.0);
	wire_get_bytes(&r, bytes, sizeof(bytes));
	assert_memory_equal(bytes, "\0\0\0\0", 4);
	wire_get_str(&r, out, sizeof(out));
	assert_string_equal(out, "");
	wire_get_strref(&r, &ref, &n);
	assert_string_equal(ref, "");
	assert_int_equal(n, 0);
	assert_false(wire_r_done(&r));

	/* A string whose length says more than there is. */
	wire_r_init(&r, buf, 4 + 8 + 2 + 3);
	wire_get_u32(&r);
	wire_get_u64(&r);
	memset(out, 'z', sizeof(out));
	wire_get_str(&r, out, sizeof(out));
	assert_int_equal(r.err, 1);
	assert_string_equal(out, "");

	/* Trailing bytes: read without error but not done. */
	wire_r_init(&r, buf, w.len);
	wire_get_u32(&r);
	assert_int_equal(r.err, 0);
	assert_false(wire_r_done(&r));

	/* Empty input. */
	wire_r_init(&r, NULL, 0);
	assert_true(wire_r_done(&r));
	assert_int_equal(wire_get_u8(&r), 0);
	assert_false(wire_r_done(&r));
}

static void
fill_proc(struct sg_proc_info *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = 123456;
	p->present = 1;
	p->start_time = UINT64_C(987654321012);
	strcpy(p->service_name, "checkout");
	strcpy(p->service_namespace, "shop");
	strcpy(p->instance_id, "host-a:123456");
	strcpy(p->exe, "/usr/bin/python3.11");
}

static void
test_proc_round_trip(void **state)
{
	struct sg_proc_info a, b;
	uint8_t buf[1024];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	fill_proc(&a);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_proc(&w, &a);
	assert_int_equal(w.err, 0);
	memset(&b, 0x55, sizeof(b));
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_proc(&r, &b), 0);
	assert_true(wire_r_done(&r));
	assert_int_equal(b.pid, a.pid);
	assert_int_equal(b.present, a.present);
	assert_true(b.start_time == a.start_time);
	assert_string_equal(b.service_name, a.service_name);
	assert_string_equal(b.service_namespace, a.service_namespace);
	assert_string_equal(b.instance_id, a.instance_id);
	assert_string_equal(b.exe, a.exe);

	/* Every shorter prefix fails. */
	for (size_t len = 0; len < w.len; len++) {
		wire_r_init(&r, buf, len);
		assert_int_equal(msg_get_proc(&r, &b), -1);
	}
	/* Too small a writer. */
	wire_w_init(&w, buf, 20);
	msg_put_proc(&w, &a);
	assert_int_equal(w.err, 1);
}

/* SG_MSG_PSTATS: the loader's /proc samples. */
static void
test_pstats_round_trip(void **state)
{
	struct sg_pstats_hdr h = { .sample_ns = 123456789, .ncpu = 8, .n = 2 },
	    hb;
	struct sg_pstat a, b;
	uint8_t buf[1024];
	struct wire_w w;
	struct wire_r r;
	size_t one;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.pid = 4242;
	a.start_time = 777;
	a.flags = SG_PSTAT_IO;
	a.started_ns = 5;
	a.user_us = 1;
	a.system_us = 2;
	a.rss_bytes = 3;
	a.vm_bytes = 4;
	a.io_read = 6;
	a.io_write = UINT64_MAX;
	strcpy(a.comm, "x) (y");
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_pstats_hdr(&w, &h);
	msg_put_pstat(&w, &a);
	one = w.len;
	msg_put_pstat(&w, &a);
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_pstats_hdr(&r, &hb), 0);
	assert_true(hb.sample_ns == h.sample_ns);
	assert_int_equal(hb.ncpu, 8);
	assert_int_equal(hb.n, 2);
	for (int i = 0; i < 2; i++) {
		memset(&b, 0x55, sizeof(b));
		assert_int_equal(msg_get_pstat(&r, &b), 0);
		assert_int_equal(b.pid, 4242);
		assert_true(b.start_time == 777 && b.started_ns == 5);
		assert_int_equal(b.flags, SG_PSTAT_IO);
		assert_true(b.user_us == 1 && b.system_us == 2 &&
		    b.rss_bytes == 3 && b.vm_bytes == 4 && b.io_read == 6 &&
		    b.io_write == UINT64_MAX);
		assert_string_equal(b.comm, "x) (y");
	}
	assert_true(wire_r_done(&r));

	/* A count the payload cannot hold is refused up front. */
	wire_r_init(&r, buf, one);
	assert_int_equal(msg_get_pstats_hdr(&r, &hb), -1);
	/* ncpu 0 (utilisation would divide by it). */
	h.ncpu = 0;
	h.n = 0;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_pstats_hdr(&w, &h);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_pstats_hdr(&r, &hb), -1);
	/* Every shorter prefix of a sample fails; pid 0 and unknown flags
	 * too. */
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_pstat(&w, &a);
	for (size_t len = 0; len < w.len; len++) {
		wire_r_init(&r, buf, len);
		assert_int_equal(msg_get_pstat(&r, &b), -1);
	}
	a.flags = 0x02;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_pstat(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_pstat(&r, &b), -1);
	a.flags = 0;
	a.pid = 0;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_pstat(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_pstat(&r, &b), -1);
}

static void
fill_span(struct sg_span *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = SG_SPAN_SERVER;
	s->app = SG_APP_HTTP;
	s->start_ns = UINT64_C(1700000000000000000);
	s->end_ns = s->start_ns + 1234567;
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 8; i++) {
		s->span_id[i] = (uint8_t)(0xa0 + i);
		s->parent_span_id[i] = (uint8_t)(0xb0 + i);
	}
	s->pid = 4242;
	strcpy(s->service_name, "api");
	strcpy(s->service_namespace, "prod");
	strcpy(s->instance_id, "h:4242");
	strcpy(s->op, "POST");
	strcpy(s->target, "/users/42/orders?x=1");
	strcpy(s->route, "/users/{id}/orders");
	s->status = 503;
	strcpy(s->scheme, "http");
	strcpy(s->protocol_version, "1.1");
	strcpy(s->peer_addr, "2001:db8::1");
	s->peer_port = 51234;
	strcpy(s->host_addr, "127.0.0.1");
	s->host_port = 8080;
	s->req_size = 17;
	s->resp_size = UINT64_C(1) << 40;
	strcpy(s->collection, "orders");
	strcpy(s->db_namespace, "shop");
	strcpy(s->error, "42P01");
	strcpy(s->trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

static void
test_span_round_trip(void **state)
{
	struct sg_span a, b;
	uint8_t buf[2048];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	fill_span(&a);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	assert_int_equal(w.err, 0);
	memset(&b, 0x55, sizeof(b));
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), 0);
	assert_true(wire_r_done(&r));
	assert_int_equal(b.kind, a.kind);
	assert_true(b.start_ns == a.start_ns);
	assert_true(b.end_ns == a.end_ns);
	assert_memory_equal(b.trace_id, a.trace_id, 16);
	assert_memory_equal(b.span_id, a.span_id, 8);
	assert_memory_equal(b.parent_span_id, a.parent_span_id, 8);
	assert_int_equal(b.pid, a.pid);
	assert_string_equal(b.service_name, a.service_name);
	assert_string_equal(b.service_namespace, a.service_namespace);
	assert_string_equal(b.instance_id, a.instance_id);
	assert_string_equal(b.op, a.op);
	assert_string_equal(b.target, a.target);
	assert_string_equal(b.route, a.route);
	assert_int_equal(b.status, a.status);
	assert_string_equal(b.scheme, a.scheme);
	assert_string_equal(b.protocol_version, a.protocol_version);
	assert_string_equal(b.peer_addr, a.peer_addr);
	assert_int_equal(b.peer_port, a.peer_port);
	assert_string_equal(b.host_addr, a.host_addr);
	assert_int_equal(b.host_port, a.host_port);
	assert_true(b.req_size == a.req_size);
	assert_true(b.resp_size == a.resp_size);
	assert_string_equal(b.trace_state, a.trace_state);

	/* A client span, too. */
	a.kind = SG_SPAN_CLIENT;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), 0);
	assert_int_equal(b.kind, SG_SPAN_CLIENT);

	/* Unknown kind refused. */
	a.kind = 7;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), -1);

	/* A gRPC span whose status could not be read. */
	a.kind = SG_SPAN_SERVER;
	a.app = SG_APP_GRPC;
	a.flags = SG_SPAN_STATUS_UNKNOWN;
	a.status = 70000;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), 0);
	assert_int_equal(b.app, SG_APP_GRPC);
	assert_int_equal(b.flags, SG_SPAN_STATUS_UNKNOWN);
	assert_int_equal(b.status, 70000);

	/* Unknown app or flags refused. */
	a.app = SG_APP_MAX;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), -1);
	a.app = SG_APP_HTTP;
	a.flags = 0x80;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), -1);
	a.flags = 0;

	/* Truncated anywhere: refused. */
	a.kind = SG_SPAN_SERVER;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_span(&w, &a);
	for (size_t len = 0; len < w.len; len++) {
		wire_r_init(&r, buf, len);
		assert_int_equal(msg_get_span(&r, &b), -1);
	}
}

/* A method longer than the receiver's field is an error, not a
 * truncation. */
static void
test_span_field_too_long(void **state)
{
	struct sg_span a, b;
	uint8_t buf[2048];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	fill_span(&a);
	wire_w_init(&w, buf, sizeof(buf));
	/* Hand-encode a span whose method is 40 bytes. */
	wire_put_u8(&w, SG_SPAN_SERVER);
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 2);
	wire_put_bytes(&w, a.trace_id, 16);
	wire_put_bytes(&w, a.span_id, 8);
	wire_put_bytes(&w, a.parent_span_id, 8);
	wire_put_u32(&w, 1);
	wire_put_str(&w, "svc");
	wire_put_str(&w, "");
	wire_put_str(&w, "");
	wire_put_str(&w, "GETGETGETGETGETGETGETGETGETGETGETGETGETG");
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_span(&r, &b), -1);
	assert_int_equal(r.err, 1);
}

/* Self-metrics: each process sends only its own ids, and a receiver
 * refuses an id the channel's process does not own. */
static void
test_stats_round_trip(void **state)
{
	uint64_t a[SG_SELF_MAX] = { 0 }, b[SG_SELF_MAX] = { 0 };
	uint8_t buf[4096];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	a[SG_SELF_EVENTS_READ] = 12345;
	a[SG_SELF_SPANS] = UINT64_MAX;
	wire_w_init(&w, buf, sizeof(buf));
	self_put_stats(&w, SG_SELF_LOADER, a);
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(self_get_stats(&r, SG_SELF_LOADER, b), 0);
	assert_true(b[SG_SELF_EVENTS_READ] == 12345);
	assert_true(b[SG_SELF_SPANS] == 0);   /* the collector's */

	/* The loader's ids arriving on the collector's channel. */
	wire_r_init(&r, buf, w.len);
	assert_int_equal(self_get_stats(&r, SG_SELF_COLLECTOR, b), -1);

	/* An id beyond the table. */
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u16(&w, 1);
	wire_put_u16(&w, SG_SELF_MAX);
	wire_put_u64(&w, 1);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(self_get_stats(&r, SG_SELF_LOADER, b), -1);

	/* Truncated. */
	wire_w_init(&w, buf, sizeof(buf));
	self_put_stats(&w, SG_SELF_COLLECTOR, a);
	wire_r_init(&r, buf, w.len - 1);
	assert_int_equal(self_get_stats(&r, SG_SELF_COLLECTOR, b), -1);
}

/* The families rendered from the table: one per name, the labels split
 * out of "key=\"value\"". */
/* A family's series are adjacent in the table, or the exporter would
 * render a second TYPE line for it. */
static void
test_self_adjacent(void **state)
{
	(void)state;
	for (int i = 0; i < SG_SELF_MAX; i++)
		for (int j = i + 2; j < SG_SELF_MAX; j++)
			if (strcmp(sg_self[i].name, sg_self[j].name) == 0)
				assert_string_equal(sg_self[j - 1].name,
				    sg_self[i].name);
}

static void
test_self_families(void **state)
{
	uint64_t v[SG_SELF_MAX] = { 0 };
	static uint8_t buf[64 << 10];
	static struct sg_series se;
	struct sg_family_hdr f;
	struct wire_w w;
	struct wire_r r;
	int found = 0;

	(void)state;
	v[SG_SELF_LOST_LOADER_IPC] = 7;
	wire_w_init(&w, buf, sizeof(buf));
	self_put_families(&w, v, 5);
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len);
	for (uint16_t i = 0; i < self_nfamilies(); i++) {
		assert_int_equal(msg_get_family(&r, &f), 0);
		for (uint32_t j = 0; j < f.nseries; j++) {
			assert_int_equal(msg_get_series(&r, &f, 10, &se), 0);
			if (strcmp(f.prom_name, "spyglass_events_lost_total") == 0 &&
			    se.nlabels == 1 &&
			    strcmp(se.key[0], "stage") == 0 &&
			    strcmp(se.value[0], "loader_ipc") == 0) {
				assert_true(se.value_f == 7);
				found++;
			}
		}
	}
	assert_true(wire_r_done(&r));
	assert_int_equal(found, 1);
}

static void
fill_family(struct sg_family_hdr *f, uint8_t type, uint16_t nbounds)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->prom_name, "http_server_request_duration_seconds");
	strcpy(f->otel_name, "http.server.request.duration");
	strcpy(f->unit, "s");
	strcpy(f->help, "Duration of HTTP server requests.");
	f->type = type;
	f->nbounds = nbounds;
	for (uint16_t i = 0; i < nbounds && i < SG_MAX_BOUNDS; i++)
		f->bounds[i] = 0.005 * (i + 1);
	f->nseries = 2;
}

static void
fill_series(struct sg_series *s, uint16_t nbounds)
{
	memset(s, 0, sizeof(*s));
	s->nlabels = 3;
	strcpy(s->key[0], "http_request_method");
	strcpy(s->value[0], "GET");
	strcpy(s->key[1], "http_response_status_code");
	strcpy(s->value[1], "200");
	strcpy(s->key[2], "service_name");
	strcpy(s->value[2], "api");
	s->start_ns = 1500;
	s->idle_ns = 300;
	s->value_f = 42.5;
	s->count = 99;
	s->sum = 1.25;
	for (uint16_t i = 0; i <= nbounds && i <= SG_MAX_BOUNDS; i++)
		s->buckets[i] = (uint64_t)i * 3;
}

static void
assert_series_equal(const struct sg_series *a, const struct sg_series *b,
    const struct sg_family_hdr *f)
{
	assert_int_equal(b->nlabels, a->nlabels);
	for (uint16_t i = 0; i < a->nlabels; i++) {
		assert_string_equal(b->key[i], a->key[i]);
		assert_string_equal(b->value[i], a->value[i]);
	}
	assert_true(b->start_ns == a->start_ns);
	assert_true(b->idle_ns == a->idle_ns);
	if (f->type != SG_METRIC_HISTOGRAM) {
		assert_true(b->value_f == a->value_f);
		return;
	}
	assert_true(b->count == a->count);
	assert_true(b->sum == a->sum);
	for (uint16_t i = 0; i <= f->nbounds; i++)
		assert_true(b->buckets[i] == a->buckets[i]);
}

/* A snapshot: header, a histogram family with two series, a counter
 * family with one; read back in order. */
static void
test_snapshot_round_trip(void **state)
{
	struct sg_family_hdr hf, cf, f;
	struct sg_series s1, s2, s3, s;
	struct sg_snapshot_hdr h = { .now_ns = 2000, .ev_first = 7,
		.ev_next = 12345, .nfamilies = 2 }, g;
	static uint8_t buf[16384];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	fill_family(&hf, SG_METRIC_HISTOGRAM, SG_MAX_BOUNDS);
	fill_series(&s1, hf.nbounds);
	fill_series(&s2, hf.nbounds);
	s2.nlabels = 0;
	s2.count = 0;
	fill_family(&cf, SG_METRIC_COUNTER, 0);
	strcpy(cf.prom_name, "spyglass_events_read_total");
	cf.nseries = 1;
	fill_series(&s3, 0);
	s3.nlabels = SG_MAX_LABELS;
	for (int i = 3; i < SG_MAX_LABELS; i++) {
		snprintf(s3.key[i], sizeof(s3.key[i]), "k%d", i);
		snprintf(s3.value[i], sizeof(s3.value[i]), "v%d", i);
	}

	s2.idle_ns = UINT64_MAX;
	s3.start_ns = 0;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_snapshot_hdr(&w, &h);
	msg_put_family(&w, &hf);
	msg_put_series(&w, &hf, &s1);
	msg_put_series(&w, &hf, &s2);
	msg_put_family(&w, &cf);
	msg_put_series(&w, &cf, &s3);
	assert_int_equal(w.err, 0);

	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_snapshot_hdr(&r, &g), 0);
	assert_true(g.now_ns == 2000);
	assert_true(g.ev_first == 7 && g.ev_next == 12345);
	assert_int_equal(g.nfamilies, 2);
	assert_int_equal(msg_get_family(&r, &f), 0);
	assert_string_equal(f.prom_name, hf.prom_name);
	assert_string_equal(f.otel_name, hf.otel_name);
	assert_string_equal(f.unit, hf.unit);
	assert_string_equal(f.help, hf.help);
	assert_int_equal(f.type, SG_METRIC_HISTOGRAM);
	assert_int_equal(f.nbounds, SG_MAX_BOUNDS);
	assert_memory_equal(f.bounds, hf.bounds, sizeof(double) * SG_MAX_BOUNDS);
	assert_int_equal(f.nseries, 2);
	assert_int_equal(msg_get_series(&r, &f, 2000, &s), 0);
	assert_series_equal(&s1, &s, &f);
	assert_int_equal(msg_get_series(&r, &f, 2000, &s), 0);
	assert_series_equal(&s2, &s, &f);
	assert_int_equal(msg_get_family(&r, &f), 0);
	assert_int_equal(f.type, SG_METRIC_COUNTER);
	assert_int_equal(f.nbounds, 0);
	assert_int_equal(f.nseries, 1);
	assert_int_equal(msg_get_series(&r, &f, 2000, &s), 0);
	assert_series_equal(&s3, &s, &f);
	assert_true(wire_r_done(&r));

	/* A snapshot of another version is refused before anything else
	 * is read from it. */
	buf[0] = (uint8_t)(SG_SNAPSHOT_VERSION + 1);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_snapshot_hdr(&r, &g), -1);
	assert_int_equal(r.err, 1);
	/* Events that end before they begin. */
	buf[0] = (uint8_t)SG_SNAPSHOT_VERSION;
	h.ev_first = h.ev_next + 1;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_snapshot_hdr(&w, &h);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_snapshot_hdr(&r, &g), -1);
}

/* Families and series that break the limits are refused by both ends. */
static void
test_malformed_family(void **state)
{
	struct sg_family_hdr f, g;
	struct sg_series s, t;
	uint8_t buf[4096];
	struct wire_w w;
	struct wire_r r;

	(void)state;
	/* nbounds > SG_MAX_BOUNDS, hand-encoded with all its bounds. */
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_str(&w, "a");
	wire_put_str(&w, "a");
	wire_put_str(&w, "");
	wire_put_str(&w, "");
	wire_put_u8(&w, SG_METRIC_HISTOGRAM);
	wire_put_u8(&w, 0);
	wire_put_u16(&w, SG_MAX_BOUNDS + 1);
	for (int i = 0; i <= SG_MAX_BOUNDS; i++)
		wire_put_f64(&w, i);
	wire_put_u32(&w, 0);
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_family(&r, &g), -1);
	assert_int_equal(r.err, 1);

	/* The writer will not produce it either. */
	fill_family(&f, SG_METRIC_HISTOGRAM, SG_MAX_BOUNDS);
	f.nbounds = SG_MAX_BOUNDS + 1;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_family(&w, &f);
	assert_int_equal(w.err, 1);

	/* Unknown metric types. */
	for (int type = 0; type < 256; type += 255) {
		fill_family(&f, (uint8_t)type, 1);
		wire_w_init(&w, buf, sizeof(buf));
		msg_put_family(&w, &f);
		wire_r_init(&r, buf, w.len);
		assert_int_equal(msg_get_family(&r, &g), -1);
	}
	fill_family(&f, SG_METRIC_HISTOGRAM + 1, 1);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_family(&w, &f);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_family(&r, &g), -1);

	/* Unknown family flags; the known one goes through. */
	fill_family(&f, SG_METRIC_COUNTER, 0);
	f.flags = SG_FAMILY_OBSERVED;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_family(&w, &f);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_family(&r, &g), 0);
	assert_int_equal(g.flags, SG_FAMILY_OBSERVED);
	f.flags = 0x80;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_family(&w, &f);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_family(&r, &g), -1);

	/* Series with too many labels. */
	fill_family(&f, SG_METRIC_GAUGE, 0);
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u16(&w, SG_MAX_LABELS + 1);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_series(&r, &f, UINT64_MAX, &t), -1);
	assert_int_equal(r.err, 1);
	fill_series(&s, 0);
	s.nlabels = SG_MAX_LABELS + 1;
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_series(&w, &f, &s);
	assert_int_equal(w.err, 1);

	/* A series read against a family header that was refused. */
	f.nbounds = SG_MAX_BOUNDS + 1;
	fill_series(&s, 0);
	s.nlabels = 0;
	wire_w_init(&w, buf, sizeof(buf));
	wire_put_u16(&w, 0);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_series(&r, &f, UINT64_MAX, &t), -1);

	/* A series that starts after the snapshot's time. */
	fill_family(&f, SG_METRIC_GAUGE, 0);
	fill_series(&s, 0);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_series(&w, &f, &s);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_series(&r, &f, s.start_ns - 1, &t), -1);
	assert_int_equal(r.err, 1);
	wire_r_init(&r, buf, w.len);
	assert_int_equal(msg_get_series(&r, &f, s.start_ns, &t), 0);

	/* A truncated histogram series. */
	fill_family(&f, SG_METRIC_HISTOGRAM, 4);
	fill_series(&s, 4);
	wire_w_init(&w, buf, sizeof(buf));
	msg_put_series(&w, &f, &s);
	assert_int_equal(w.err, 0);
	wire_r_init(&r, buf, w.len - 8);
	assert_int_equal(msg_get_series(&r, &f, UINT64_MAX, &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_scalars),
		cmocka_unit_test(test_little_endian),
		cmocka_unit_test(test_round_trip_strings),
		cmocka_unit_test(test_string_too_long_for_dst),
		cmocka_unit_test(test_pstats_round_trip),
		cmocka_unit_test(test_write_overflow),
		cmocka_unit_test(test_truncated_read),
		cmocka_unit_test(test_proc_round_trip),
		cmocka_unit_test(test_span_round_trip),
		cmocka_unit_test(test_span_field_too_long),
		cmocka_unit_test(test_stats_round_trip),
		cmocka_unit_test(test_self_adjacent),
		cmocka_unit_test(test_self_families),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_malformed_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
