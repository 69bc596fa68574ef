/*
 * The exporter's snapshot (exporter/snapshot.c): the collector's
 * families followed by the self-metrics, and cumulative series that go on
 * across a collector restart (a new start time) instead of starting from
 * zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "metrics.h"
#include "msg.h"
#include "prom.h"
#include "self.h"
#include "snapshot.h"

#define SNAP_CAP (1u << 20)

static struct sg_buckets dur_b = { 3, { 0.005, 1, 2.5 } };
static struct sg_buckets size_b = { 2, { 0, 1024 } };

/* n server spans of service svc, method GET, status 200, 1 ms each */
static void
count(struct sg_metrics *m, const char *svc, uint16_t status, int n)
{
	struct sg_span s;

	memset(&s, 0, sizeof(s));
	s.kind = SG_SPAN_SERVER;
	s.app = SG_APP_HTTP;
	s.start_ns = 1700000000000000000ULL;
	s.end_ns = s.start_ns + 1000000;
	snprintf(s.op, sizeof(s.op), "GET");
	s.status = status;
	snprintf(s.service_name, sizeof(s.service_name), "%s", svc);
	snprintf(s.instance_id, sizeof(s.instance_id), "h:1");
	for (int i = 0; i < n; i++)
		metrics_record_span(m, &s);
}

/* The collector's snapshot taken by the exporter. */
static void
take_events(struct sg_metrics *m, uint64_t first, uint64_t next)
{
	uint8_t *buf = malloc(SNAP_CAP);
	size_t len;

	assert_non_null(buf);
	len = metrics_snapshot(m, buf, SNAP_CAP, 1700000100000000000ULL, first,
	    next);
	assert_true(len > 0);
	assert_int_equal(snapshot_collector(buf, len), 0);
	free(buf);
}

static void
take(struct sg_metrics *m)
{
	take_events(m, 0, 0);
}

/* The self-metrics as the exporter holds them. */
static uint64_t self[SG_SELF_MAX];

/* What /metrics would show now. */
static char *
served(void)
{
	uint8_t *snap;
	size_t len;
	char *text;

	self[SG_SELF_EVENTS_READ] = 77;
	snap = snapshot_build(self, 1700000200000000000ULL, &len);
	assert_non_null(snap);
	assert_true(prom_render(snap, len, UINT64_MAX, &text) > 0);
	free(snap);
	return text;
}

static void
assert_has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("no \"%s\" in:\n%s", line, text);
}

#define CNT "http_server_request_duration_seconds_count{http_request_method=\"GET\"," \
	"http_response_status_code=\"%s\",url_scheme=\"\",service_name=\"%s\"," \
	"service_namespace=\"\",target_instance=\"h:1\",server_address=\"\"," \
	"server_port=\"0\"} %d\n"

static void
assert_count(const char *text, const char *status, const char *svc, int n)
{
	char line[512];

	snprintf(line, sizeof(line), CNT, status, svc, n);
	assert_has(text, line);
}

static void
test_self_metrics_follow(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 100);
	char *text;

	(void)state;
	text = served();   /* before any collector snapshot: self only */
	assert_has(text, "spyglass_events_read_total 77\n");
	assert_null(strstr(text, "http_server"));
	free(text);
	count(m, "a", 200, 3);
	take(m);
	text = served();
	assert_count(text, "200", "a", 3);
	assert_has(text, "spyglass_events_read_total 77\n");
	assert_has(text, "spyglass_events_lost_total{stage=\"ringbuf\"} 0\n");
	assert_int_equal(snapshot_generations(), 1);
	free(text);
	metrics_free(m);
	snapshot_free();
}

static void
test_restart_continues(void **state)
{
	struct sg_metrics *m1 = metrics_new(&dur_b, &size_b, 100), *m2;
	char *text;

	(void)state;
	count(m1, "a", 200, 3);
	count(m1, "b", 503, 2);
	take(m1);
	/* A new collector, counting from zero. */
	snapshot_collector_gone(self);
	m2 = metrics_new(&dur_b, &size_b, 100);
	count(m2, "a", 200, 4);
	take(m2);
	assert_int_equal(snapshot_generations(), 2);
	text = served();
	assert_count(text, "200", "a", 7);       /* 3 before + 4 after */
	assert_count(text, "503", "b", 2);       /* only before: carried */
	free(text);
	/* The new collector counts on; the base is added each time. */
	count(m2, "b", 503, 1);
	take(m2);
	text = served();
	assert_count(text, "200", "a", 7);
	assert_count(text, "503", "b", 3);
	free(text);
	metrics_free(m1);
	metrics_free(m2);
	snapshot_free();
}

/* Process CPU time is read whole from /proc by each collector: a
 * successor's figure already holds its predecessor's, nothing is added,
 * and the series of a process gone before the restart is not kept. */
static void
test_restart_observed(void **state)
{
	struct sg_metrics *m1 = metrics_new(&dur_b, &size_b, 100), *m2;
	char err[SG_CONFIG_ERR_MAX];
	struct sg_proc_info p;
	struct sg_config c;
	struct sg_pstat ps;
	char *text;

	(void)state;
	sg_config_defaults(&c);
	assert_int_equal(sg_config_set(&c, "metrics", "features",
	    "application,application_process", "t", err, sizeof(err)), 0);
	memset(&p, 0, sizeof(p));
	p.pid = 7;
	p.present = 1;
	snprintf(p.service_name, sizeof(p.service_name), "busy");
	snprintf(p.instance_id, sizeof(p.instance_id), "h:7");
	memset(&ps, 0, sizeof(ps));
	ps.pid = 7;
	ps.user_us = 3000000;
	metrics_select(m1, &c);
	metrics_record_process(m1, &p, &ps, 1, 1, NULL);
	p.pid = ps.pid = 8;
	snprintf(p.instance_id, sizeof(p.instance_id), "h:8");
	metrics_record_process(m1, &p, &ps, 1, 1, NULL);
	take(m1);
	snapshot_collector_gone(self);
	m2 = metrics_new(&dur_b, &size_b, 100);
	metrics_select(m2, &c);
	ps.user_us = 5000000;
	metrics_record_process(m2, &p, &ps, 2, 1, NULL);
	take(m2);
	text = served();
	assert_has(text, "process_cpu_time_seconds_total{service_name=\"busy\","
	    "service_namespace=\"\",target_instance=\"h:8\",process_pid=\"8\","
	    "process_executable_name=\"\",process_executable_path=\"\","
	    "process_command=\"\",cpu_mode=\"user\"} 5\n");
	assert_null(strstr(text, "process_pid=\"7\""));
	free(text);
	metrics_free(m1);
	metrics_free(m2);
	snapshot_free();
}

/* A dead collector's own counters carry on; the events it took but had
 * not counted in its last snapshot are lost, and said so once a
 * successor says where it began. */
static void
test_restart_self_and_lost(void **state)
{
	struct sg_metrics *m1 = metrics_new(&dur_b, &size_b, 100), *m2;
	char *text;

	(void)state;
	memset(self, 0, sizeof(self));
	count(m1, "a", 200, 3);
	take_events(m1, 0, 100);      /* counted events 0..99 */
	self[SG_SELF_SPANS] = 5;
	self[SG_SELF_CONNS_ACTIVE] = 2;
	snapshot_collector_gone(self);
	assert_int_equal(self[SG_SELF_SPANS], 0);
	assert_int_equal(self[SG_SELF_CONNS_ACTIVE], 0);
	m2 = metrics_new(&dur_b, &size_b, 100);
	take_events(m2, 0, 0);        /* the successor, idle so far */
	text = served();
	assert_has(text,
	    "spyglass_events_lost_total{stage=\"collector_exit\"} 0\n");
	free(text);
	count(m2, "a", 200, 1);
	take_events(m2, 130, 140);    /* it began at 130: 100..129 died */
	self[SG_SELF_SPANS] = 1;      /* its first stats */
	self[SG_SELF_CONNS_ACTIVE] = 1;
	text = served();
	assert_count(text, "200", "a", 4);
	assert_has(text, "spyglass_spans_total 6\n");
	assert_has(text, "spyglass_connections_active 1\n");
	assert_has(text,
	    "spyglass_events_lost_total{stage=\"collector_exit\"} 30\n");
	free(text);
	/* The events the loader had queued while no collector ran went to
	 * the successor: no gap, nothing lost. */
	take_events(m2, 130, 150);
	snapshot_collector_gone(self);
	take_events(m1, 150, 160);
	/* One that dies having taken nothing leaves the gap open for the
	 * next: 160..199 went to the second, who died before its first
	 * snapshot. */
	snapshot_collector_gone(self);
	snapshot_collector_gone(self);
	take_events(m2, 200, 201);
	text = served();
	assert_has(text,
	    "spyglass_events_lost_total{stage=\"collector_exit\"} 70\n");
	free(text);
	metrics_free(m1);
	metrics_free(m2);
	snapshot_free();
	memset(self, 0, sizeof(self));
}

static void
test_malformed_refused(void **state)
{
	uint8_t junk[32] = { 1, 2, 3 };

	(void)state;
	assert_int_equal(snapshot_collector(junk, sizeof(junk)), -1);
	assert_int_equal(snapshot_collector(junk, 0), -1);
	assert_int_equal(snapshot_generations(), 0);
	snapshot_free();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_metrics_follow),
		cmocka_unit_test(test_restart_continues),
		cmocka_unit_test(test_restart_observed),
		cmocka_unit_test(test_restart_self_and_lost),
		cmocka_unit_test(test_malformed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
