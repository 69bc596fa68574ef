/* Prometheus rendering (prom_render.c) and endpoint (prom.c), trace printer
 * (printer.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"
#include "printer.h"
#include "prom.h"
#include "wire.h"

#define SNAP_CAP (1u << 22)
#define NO_TTL   UINT64_MAX

static struct sg_buckets dur_b = { 3, { 0.005, 1, 2.5 } };
static struct sg_buckets size_b = { 2, { 0, 1024 } };

/* ---- helpers */

static size_t
snapshot(struct sg_metrics *m, uint8_t **out)
{
	uint8_t *buf = malloc(SNAP_CAP);
	size_t len;

	assert_non_null(buf);
	len = metrics_snapshot(m, buf, SNAP_CAP, 1, 0, 0);
	assert_true(len > 0);
	*out = buf;
	return len;
}

static struct sg_span
span(uint8_t kind, const char *method, uint16_t status, uint64_t dur_ns,
    uint64_t req, uint64_t resp)
{
	struct sg_span s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.app = SG_APP_HTTP;
	s.start_ns = 1700000000123456789ULL;
	s.end_ns = s.start_ns + dur_ns;
	snprintf(s.op, sizeof(s.op), "%s", method);
	s.status = status;
	snprintf(s.service_name, sizeof(s.service_name), "svc");
	snprintf(s.instance_id, sizeof(s.instance_id), "h:7");
	snprintf(s.peer_addr, sizeof(s.peer_addr), "10.0.0.2");
	s.peer_port = 8080;
	s.req_size = req;
	s.resp_size = resp;
	return s;
}

/* Run promtool on the text when it is installed: the exit status and
 * its complaints, if any, are returned. */
static int
promtool_check(const char *text, char *out, size_t outsz)
{
	char in_path[] = "/tmp/test_prom_in_XXXXXX";
	char out_path[] = "/tmp/test_prom_out_XXXXXX";
	char cmd[256];
	int fd, ofd, status;
	FILE *f;
	size_t n;

	out[0] = '\0';
	if (access("/usr/bin/promtool", X_OK) != 0)
		return -1;
	fd = mkstemp(in_path);
	ofd = mkstemp(out_path);
	assert_true(fd >= 0 && ofd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	close(ofd);
	snprintf(cmd, sizeof(cmd),
	    "/usr/bin/promtool check metrics < %s > %s 2>&1", in_path,
	    out_path);
	status = system(cmd);
	f = fopen(out_path, "r");
	assert_non_null(f);
	n = fread(out, 1, outsz - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(in_path);
	unlink(out_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* ---- rendering */

static void
test_render_exact(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s;
	struct sg_proc_info p;
	uint8_t *snap;
	size_t len;
	char *text, host[SG_LABEL_MAX] = "", *want, tool[4096];
	long n;
	int rc;
	static const char fmt[] =
"# HELP http_server_request_duration_seconds Duration of HTTP service calls from the server side, in seconds\n"
"# TYPE http_server_request_duration_seconds histogram\n"
"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"0.005\"} 1\n"
"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"1\"} 1\n"
"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"2.5\"} 2\n"
"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"+Inf\"} 3\n"
"http_server_request_duration_seconds_sum{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 12.001\n"
"http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 3\n"
"# HELP http_client_request_duration_seconds Duration of HTTP service calls from the client side, in seconds\n"
"# TYPE http_client_request_duration_seconds histogram\n"
"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"0.005\"} 0\n"
"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"1\"} 1\n"
"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"2.5\"} 1\n"
"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"+Inf\"} 1\n"
"http_client_request_duration_seconds_sum{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 0.25\n"
"http_client_request_duration_seconds_count{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 1\n"
"# HELP http_server_request_body_size_bytes Size, in bytes, of the HTTP request body as received at the server side\n"
"# TYPE http_server_request_body_size_bytes histogram\n"
"http_server_request_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"0\"} 3\n"
"http_server_request_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"1024\"} 3\n"
"http_server_request_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"+Inf\"} 3\n"
"http_server_request_body_size_bytes_sum{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 0\n"
"http_server_request_body_size_bytes_count{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 3\n"
"# HELP http_server_response_body_size_bytes Size, in bytes, of the HTTP response body as sent from the server side\n"
"# TYPE http_server_response_body_size_bytes histogram\n"
"http_server_response_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"0\"} 0\n"
"http_server_response_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"1024\"} 2\n"
"http_server_response_body_size_bytes_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\",le=\"+Inf\"} 3\n"
"http_server_response_body_size_bytes_sum{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 3073\n"
"http_server_response_body_size_bytes_count{http_request_method=\"GET\",http_response_status_code=\"200\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"\",server_port=\"0\"} 3\n"
"# HELP http_client_request_body_size_bytes Size, in bytes, of the HTTP request body as sent from the client side\n"
"# TYPE http_client_request_body_size_bytes histogram\n"
"http_client_request_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"0\"} 0\n"
"http_client_request_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"1024\"} 0\n"
"http_client_request_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"+Inf\"} 1\n"
"http_client_request_body_size_bytes_sum{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 5000000\n"
"http_client_request_body_size_bytes_count{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 1\n"
"# HELP http_client_response_body_size_bytes Size, in bytes, of the HTTP response body as received at the client side\n"
"# TYPE http_client_response_body_size_bytes histogram\n"
"http_client_response_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"0\"} 0\n"
"http_client_response_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"1024\"} 1\n"
"http_client_response_body_size_bytes_bucket{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\",le=\"+Inf\"} 1\n"
"http_client_response_body_size_bytes_sum{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 17\n"
"http_client_response_body_size_bytes_count{http_request_method=\"POST\",http_response_status_code=\"503\",url_scheme=\"\",service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",server_address=\"10.0.0.2\",server_port=\"8080\"} 1\n"
"# HELP rpc_server_duration_seconds Duration of RPC service calls from the server side, in seconds\n"
"# TYPE rpc_server_duration_seconds histogram\n"
"# HELP rpc_client_duration_seconds Duration of RPC service calls from the client side, in seconds\n"
"# TYPE rpc_client_duration_seconds histogram\n"
"# HELP db_client_operation_duration_seconds Duration of database client operations, in seconds\n"
"# TYPE db_client_operation_duration_seconds histogram\n"
"# HELP db_server_operation_duration_seconds Duration of database operations from the server side, in seconds\n"
"# TYPE db_server_operation_duration_seconds histogram\n"
"# HELP messaging_publish_duration_seconds Duration of messaging publish operations, in seconds\n"
"# TYPE messaging_publish_duration_seconds histogram\n"
"# HELP messaging_process_duration_seconds Duration of messaging process operations, in seconds\n"
"# TYPE messaging_process_duration_seconds histogram\n"
"# HELP target_info Target metadata\n"
"# TYPE target_info gauge\n"
"target_info{service_name=\"svc\",service_namespace=\"\",target_instance=\"h:7\",telemetry_sdk_name=\"spyglass\",host_name=\"%s\",process_pid=\"7\"} 1\n";

	(void)state;
	gethostname(host, sizeof(host) - 1);
	assert_non_null(m);
	s = span(SG_SPAN_SERVER, "GET", 200, 1000000, 0, 1);     /* 1ms */
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "GET", 200, 2000000000, 0, 1024);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_SERVER, "GET", 200, 10000000000ULL, 0, 2048);
	metrics_record_span(m, &s);
	s = span(SG_SPAN_CLIENT, "POST", 503, 250000000, 5000000, 17);
	metrics_record_span(m, &s);
	memset(&p, 0, sizeof(p));
	p.pid = 7;
	p.present = 1;
	snprintf(p.service_name, sizeof(p.service_name), "svc");
	snprintf(p.instance_id, sizeof(p.instance_id), "h:7");
	metrics_service_seen(m, &p);

	len = snapshot(m, &snap);
	n = prom_render(snap, len, NO_TTL, &text);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(text));
	assert_true(asprintf(&want, fmt, host) > 0);
	assert_string_equal(text, want);

	rc = promtool_check(text, tool, sizeof(tool));
	if (rc < 0)
		print_message("promtool not installed: check skipped\n");
	else {
		if (rc != 0 || tool[0] != '\0')
			print_message("promtool: %s\n", tool);
		assert_int_equal(rc, 0);
		assert_string_equal(tool, "");
	}
	free(want);
	free(text);
	free(snap);
	metrics_free(m);
}

/* An empty registry renders HELP/TYPE only; promtool must accept it. */
static void
test_render_empty(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	uint8_t *snap;
	size_t len = snapshot(m, &snap);
	char *text, tool[4096];
	int rc;

	(void)state;
	assert_true(prom_render(snap, len, NO_TTL, &text) > 0);
	/* The families, empty; the self-metrics come from the exporter
	 * (snapshot.c), not from the collector's snapshot. */
	assert_non_null(strstr(text, "# TYPE target_info gauge\n"));
	assert_null(strstr(text, "spyglass_"));
	rc = promtool_check(text, tool, sizeof(tool));
	if (rc >= 0) {
		if (rc != 0 || tool[0] != '\0')
			print_message("promtool: %s\n", tool);
		assert_int_equal(rc, 0);
	}
	free(text);
	free(snap);
	metrics_free(m);
}

/* Build a one-family snapshot by hand. */
static size_t
hand_snapshot(uint8_t *buf, size_t cap, const struct sg_family_hdr *f,
    const struct sg_series *s, uint32_t ns)
{
	struct wire_w w;

	wire_w_init(&w, buf, cap);
	msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 1, .nfamilies = 1 });
	msg_put_family(&w, f);
	for (uint32_t i = 0; i < ns; i++)
		msg_put_series(&w, f, &s[i]);
	assert_false(w.err);
	return w.len;
}

static void
test_render_escape(void **state)
{
	struct sg_family_hdr f;
	struct sg_series s[2];
	uint8_t buf[16384];
	char *text, tool[4096];
	size_t len;
	int rc;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(s, 0, sizeof(s));
	snprintf(f.prom_name, sizeof(f.prom_name), "spyglass_esc");
	snprintf(f.help, sizeof(f.help), "back\\slash \"q\"\nnext");
	f.type = SG_METRIC_GAUGE;
	f.nseries = 2;
	s[0].nlabels = 2;
	snprintf(s[0].key[0], sizeof(s[0].key[0]), "path");
	snprintf(s[0].value[0], sizeof(s[0].value[0]),
	    "a\\b\"c\nd\xff\xc3\xa9\xe2\x82");
	snprintf(s[0].key[1], sizeof(s[0].key[1]), "x");
	s[0].value_f = 0.1;
	s[1].value_f = -2.5e-7;
	len = hand_snapshot(buf, sizeof(buf), &f, s, 2);
	assert_true(prom_render(buf, len, NO_TTL, &text) > 0);
	assert_string_equal(text,
	    "# HELP spyglass_esc back\\\\slash \"q\"\\nnext\n"
	    "# TYPE spyglass_esc gauge\n"
	    "spyglass_esc{path=\"a\\\\b\\\"c\\nd\xef\xbf\xbd\xc3\xa9"
	    "\xef\xbf\xbd\xef\xbf\xbd\",x=\"\"} 0.1\n"
	    "spyglass_esc -2.5e-07\n");
	rc = promtool_check(text, tool, sizeof(tool));
	if (rc >= 0) {
		if (rc != 0)
			print_message("promtool: %s\n", tool);
		assert_int_equal(rc, 0);
	}
	free(text);

	/* float formatting of bounds and values */
	memset(&f, 0, sizeof(f));
	memset(s, 0, sizeof(s));
	snprintf(f.prom_name, sizeof(f.prom_name), "h");
	f.type = SG_METRIC_HISTOGRAM;
	f.nbounds = 6;
	memcpy(f.bounds, (double[]){ 1e-5, 0.1, 0.3, 100000, 1e6, 1e20 },
	    6 * sizeof(double));
	f.nseries = 1;
	s[0].count = 2;
	s[0].sum = 0.1 + 0.2;
	s[0].buckets[2] = 1;
	s[0].buckets[6] = 1;
	len = hand_snapshot(buf, sizeof(buf), &f, s, 1);
	assert_true(prom_render(buf, len, NO_TTL, &text) > 0);
	assert_string_equal(text,
	    "# HELP h \n# TYPE h histogram\n"
	    "h_bucket{le=\"1e-05\"} 0\n"
	    "h_bucket{le=\"0.1\"} 0\n"
	    "h_bucket{le=\"0.3\"} 1\n"
	    "h_bucket{le=\"100000\"} 1\n"
	    "h_bucket{le=\"1000000\"} 1\n"
	    "h_bucket{le=\"1e+20\"} 1\n"
	    "h_bucket{le=\"+Inf\"} 2\n"
	    "h_sum 0.30000000000000004\n"
	    "h_count 2\n");
	free(text);

	f.type = SG_METRIC_COUNTER;
	f.nbounds = 0;
	for (int i = 0; i < 4; i++) {
		static const double v[] = { NAN, INFINITY, -INFINITY, -0.0 };
		static const char *const want[] = { "NaN", "+Inf", "-Inf", "0" };
		char line[64];

		s[0].value_f = v[i];
		len = hand_snapshot(buf, sizeof(buf), &f, s, 1);
		assert_true(prom_render(buf, len, NO_TTL, &text) > 0);
		snprintf(line, sizeof(line), "\nh %s\n", want[i]);
		assert_non_null(strstr(text, line));
		free(text);
	}
}

static void
test_render_malformed(void **state)
{
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span sp = span(SG_SPAN_CLIENT, "GET", 200, 1, 2, 3);
	struct sg_family_hdr f;
	struct sg_series s;
	uint8_t *snap, buf[4096];
	size_t len;
	char *text = (char *)1;

	(void)state;
	metrics_record_span(m, &sp);
	len = snapshot(m, &snap);
	/* Every truncation is refused, never read past. */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut + 1);

		memcpy(copy, snap, cut);
		assert_int_equal(prom_render(copy, cut, NO_TTL, &text), -1);
		assert_null(text);
		free(copy);
	}
	/* A trailing byte is refused too. */
	snap[len] = 0;
	assert_int_equal(prom_render(snap, len + 1, NO_TTL, &text), -1);
	assert_int_equal(prom_render(NULL, 0, NO_TTL, &text), -1);
	assert_int_equal(prom_render(snap, len, NO_TTL, NULL), -1);

	/* Names that would break the exposition format. */
	memset(&f, 0, sizeof(f));
	memset(&s, 0, sizeof(s));
	f.type = SG_METRIC_GAUGE;
	snprintf(f.prom_name, sizeof(f.prom_name), "bad name");
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 0);
	assert_int_equal(prom_render(buf, len, NO_TTL, &text), -1);
	snprintf(f.prom_name, sizeof(f.prom_name), "ok");
	f.nseries = 1;
	s.nlabels = 1;
	snprintf(s.key[0], sizeof(s.key[0]), "a\"b");
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 1);
	assert_int_equal(prom_render(buf, len, NO_TTL, &text), -1);
	f.type = SG_METRIC_HISTOGRAM;
	snprintf(s.key[0], sizeof(s.key[0]), "le");
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 1);
	assert_int_equal(prom_render(buf, len, NO_TTL, &text), -1);
	/* A series that starts after the snapshot's time (1). */
	f.type = SG_METRIC_GAUGE;
	snprintf(s.key[0], sizeof(s.key[0]), "k");
	s.start_ns = 2;
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 1);
	assert_int_equal(prom_render(buf, len, NO_TTL, &text), -1);
	s.start_ns = 1;
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 1);
	assert_true(prom_render(buf, len, NO_TTL, &text) > 0);
	free(text);
	/* A family claiming more series than the payload holds. */
	f.nseries = 1000000;
	len = hand_snapshot(buf, sizeof(buf), &f, &s, 1);
	assert_int_equal(prom_render(buf, len, NO_TTL, &text), -1);
	/* An empty snapshot renders as nothing. */
	{
		struct wire_w w;

		wire_w_init(&w, buf, sizeof(buf));
		msg_put_snapshot_hdr(&w,
	    &(struct sg_snapshot_hdr){ .now_ns = 1, .nfamilies = 0 });
		assert_int_equal(prom_render(buf, w.len, NO_TTL, &text), 0);
		assert_string_equal(text, "");
		free(text);
	}
	free(snap);
	metrics_free(m);
}

/* ---- the endpoint */

static uint16_t
prom_port(struct prom_server *p)
{
	struct pollfd fds[20];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int n = prom_pollfds(p, fds, 20);

	/* With room for clients the listener comes first. */
	assert_true(n >= 1);
	assert_int_equal(getsockname(fds[0].fd, (struct sockaddr *)&ss, &sl), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int
connect_to(int family, uint16_t port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	return fd;
}

static void
serve_once(struct prom_server *p, int timeout_ms)
{
	struct pollfd fds[20];
	int n = prom_pollfds(p, fds, 20);

	poll(fds, (nfds_t)n, timeout_ms);
	prom_service(p, fds, n);
}

/* Send req, then alternate between serving and reading (at most
 * chunk bytes at a time) until the server closes.  Returns the reply. */
static char *
exchange(struct prom_server *p, int family, const char *req, size_t chunk,
    int rcvbuf, size_t *outlen)
{
	int fd = connect_to(family, prom_port(p), rcvbuf);
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	time_t deadline = time(NULL) + 10;

	assert_non_null(out);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		ssize_t n;

		assert_true(time(NULL) < deadline);
		serve_once(p, 1);
		if (cap - len < chunk + 1) {
			cap = cap * 2 + chunk;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		n = read(fd, out + len, chunk);
		if (n == 0)
			break;
		if (n < 0) {
			assert_true(errno == EAGAIN);
			continue;
		}
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
	if (outlen != NULL)
		*outlen = len;
	return out;
}

static void
test_http_basic(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	struct sg_span s = span(SG_SPAN_SERVER, "GET", 200, 1, 2, 3);
	uint8_t *snap;
	size_t len;
	char *r, *text, *body;
	long n;

	(void)state;
	assert_non_null(p);
	/* Before any snapshot: an empty 200. */
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
	    4096, 0, NULL);
	assert_string_equal(r, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: 0\r\n"
	    "Connection: close\r\n\r\n");
	free(r);

	metrics_record_span(m, &s);
	len = snapshot(m, &snap);
	prom_set_snapshot(p, snap, len);
	n = prom_render(snap, len, NO_TTL, &text);
	assert_true(n > 0);
	free(snap);                 /* the server keeps its own copy */

	r = exchange(p, AF_INET, "GET /metrics?x=1 HTTP/1.0\n\n", 4096, 0,
	    NULL);
	assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	body = strstr(r, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body + 4, text);
	free(r);

	/* Byte by byte request, tiny reads of the answer. */
	r = exchange(p, AF_INET, "HEAD /metrics HTTP/1.1\r\n\r\n", 1, 0,
	    NULL);
	assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	body = strstr(r, "\r\n\r\n");
	assert_string_equal(body, "\r\n\r\n");    /* no body for HEAD */
	free(r);

	r = exchange(p, AF_INET, "GET /other HTTP/1.1\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	assert_non_null(strstr(r, "\r\n\r\n404 Not Found\n"));
	free(r);
	r = exchange(p, AF_INET, "GET /metricsx HTTP/1.1\r\n\r\n", 4096, 0,
	    NULL);
	assert_true(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
	free(r);

	r = exchange(p, AF_INET, "POST /metrics HTTP/1.1\r\n"
	    "Content-Length: 0\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);

	r = exchange(p, AF_INET, "garbage\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	free(r);
	r = exchange(p, AF_INET, "GET /metrics SPDY/3\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
	free(r);

	free(text);
	metrics_free(m);
	prom_free(p);
}

/* Series idle for longer than the ttl are left out, their family's
 * HELP and TYPE stay; the server renders with the ttl it was given. */
static void
test_render_ttl(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 10);
	uint64_t t0 = sg_clock_ns(CLOCK_MONOTONIC), sec = 1000000000ULL;
	struct sg_span s = span(SG_SPAN_CLIENT, "GET", 200, 1, 2, 3);
	struct sg_proc_info pi;
	uint8_t *snap;
	size_t len;
	char *text, *r, tool[4096];
	int rc;

	(void)state;
	assert_non_null(p);
	metrics_set_time(m, t0);
	metrics_record_span(m, &s);
	memset(&pi, 0, sizeof(pi));
	pi.present = 1;
	pi.pid = 7;
	metrics_service_seen(m, &pi);
	pi.present = 0;
	metrics_service_seen(m, &pi);           /* exited at t0 */
	pi.present = 1;
	pi.pid = 8;
	metrics_service_seen(m, &pi);           /* still running */
	metrics_set_time(m, t0 + 5 * sec);
	s.status = 404;
	metrics_record_span(m, &s);
	len = snapshot(m, &snap);

	assert_true(prom_render(snap, len, 3 * sec, &text) > 0);
	assert_non_null(strstr(text, "http_response_status_code=\"404\""));
	assert_null(strstr(text, "http_response_status_code=\"200\""));
	assert_non_null(strstr(text,
	    "# TYPE http_client_request_duration_seconds histogram\n"));
	assert_non_null(strstr(text, "process_pid=\"8\""));
	assert_null(strstr(text, "process_pid=\"7\""));
	rc = promtool_check(text, tool, sizeof(tool));
	if (rc >= 0) {
		if (rc != 0 || tool[0] != '\0')
			print_message("promtool: %s\n", tool);
		assert_int_equal(rc, 0);
	}
	free(text);
	/* Idle for exactly the ttl is not yet too long. */
	assert_true(prom_render(snap, len, 5 * sec, &text) > 0);
	assert_non_null(strstr(text, "http_response_status_code=\"200\""));
	assert_non_null(strstr(text, "process_pid=\"7\""));
	free(text);

	prom_set_snapshot(p, snap, len);
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 65536, 0,
	    NULL);
	assert_non_null(strstr(r, "http_response_status_code=\"200\""));
	free(r);
	prom_set_ttl(p, 3 * sec);
	prom_set_ttl(p, 3 * sec);
	prom_set_ttl(NULL, 3 * sec);
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 65536, 0,
	    NULL);
	assert_null(strstr(r, "http_response_status_code=\"200\""));
	assert_non_null(strstr(r, "http_response_status_code=\"404\""));
	free(r);
	free(snap);
	metrics_free(m);
	prom_free(p);
}

static void
test_http_big_header(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	char *req = malloc(20000), *r;

	(void)state;
	assert_non_null(p);
	/* The request must stay under the socket buffers so the write
	 * does not block this single-threaded test. */
	strcpy(req, "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(req + strlen(req), 'a', 9000);
	req[9030] = '\0';
	strcat(req, "\r\n\r\n");
	r = exchange(p, AF_INET, req, 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 431 ", 13) == 0);
	free(r);
	free(req);
	prom_free(p);
}

/* A rendering far larger than the socket buffers: the server must
 * keep the rest and continue on POLLOUT. */
static void
test_http_partial_writes(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 5000);
	uint8_t *snap;
	size_t len, rlen;
	char *text, *r, *body;
	long n;

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 3000; i++) {
		struct sg_span s = span(SG_SPAN_SERVER, "GET", 200, 1, 2, 3);

		snprintf(s.service_name, sizeof(s.service_name),
		    "a-rather-long-service-name-to-make-the-text-big-%d", i);
		metrics_record_span(m, &s);
	}
	len = snapshot(m, &snap);
	prom_set_snapshot(p, snap, len);
	n = prom_render(snap, len, NO_TTL, &text);
	assert_true(n > 4 * 1024 * 1024);
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 65536, 0,
	    &rlen);
	body = strstr(r, "\r\n\r\n");
	assert_non_null(body);
	assert_int_equal(rlen - (size_t)(body + 4 - r), (size_t)n);
	assert_memory_equal(body + 4, text, (size_t)n);
	free(r);

	/* A new snapshot while nobody is connected replaces the text. */
	{
		struct sg_span s = span(SG_SPAN_SERVER, "GET", 200, 1, 2, 3);

		snprintf(s.service_name, sizeof(s.service_name), "newsvc");
		metrics_record_span(m, &s);
	}
	free(snap);
	len = snapshot(m, &snap);
	prom_set_snapshot(p, snap, len);
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 1 << 20, 0,
	    NULL);
	assert_non_null(strstr(r, "service_name=\"newsvc\""));
	free(r);
	free(text);
	free(snap);
	metrics_free(m);
	prom_free(p);
}

/* A snapshot replaced while a client is still receiving the old one:
 * that client gets the old text whole. */
static void
test_http_snapshot_during_send(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct sg_metrics *m = metrics_new(&dur_b, &size_b, 5000);
	uint8_t *snap;
	size_t len, got = 0;
	char *text, *buf;
	long n;
	int fd;
	time_t deadline = time(NULL) + 10;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct sg_span s = span(SG_SPAN_SERVER, "GET", 200, 1, 2, 3);

		snprintf(s.service_name, sizeof(s.service_name), "svc-%d", i);
		metrics_record_span(m, &s);
	}
	len = snapshot(m, &snap);
	prom_set_snapshot(p, snap, len);
	n = prom_render(snap, len, NO_TTL, &text);
	fd = connect_to(AF_INET, prom_port(p), 65536);
	assert_int_equal(write(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25), 25);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	buf = malloc((size_t)n + 4096);
	for (int round = 0;; round++) {
		ssize_t k;

		assert_true(time(NULL) < deadline);
		serve_once(p, 5);
		if (round == 3) {
			uint8_t *snap2;
			size_t len2;

			struct sg_span s = span(SG_SPAN_SERVER, "GET", 200,
			    1, 2, 3);

			snprintf(s.service_name, sizeof(s.service_name),
			    "changed");
			metrics_record_span(m, &s);
			len2 = snapshot(m, &snap2);
			prom_set_snapshot(p, snap2, len2);
			free(snap2);
		}
		k = read(fd, buf + got, (size_t)n + 4096 - got);
		if (k == 0)
			break;
		if (k > 0)
			got += (size_t)k;
	}
	assert_true(got > (size_t)n);
	assert_memory_equal(buf + got - (size_t)n, text, (size_t)n);
	close(fd);
	free(buf);
	free(text);
	free(snap);
	metrics_free(m);
	prom_free(p);
}

static void
test_http_max_clients(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct pollfd fds[40];
	uint16_t port;
	int cfd[17], n;
	char *r;

	(void)state;
	port = prom_port(p);
	for (int i = 0; i < 17; i++)
		cfd[i] = connect_to(AF_INET, port, 0);   /* kernel backlog */
	for (int i = 0; i < 10; i++)
		serve_once(p, 5);
	/* 16 clients taken; the listener is not polled while full. */
	n = prom_pollfds(p, fds, 40);
	assert_int_equal(n, 16);
	for (int i = 0; i < n; i++)
		assert_int_equal(fds[i].events, POLLIN);
	/* A tight caller gets what fits. */
	assert_int_equal(prom_pollfds(p, fds, 3), 3);
	assert_int_equal(prom_pollfds(p, fds, 0), 0);

	/* One leaves: its slot frees, the waiting one is accepted. */
	close(cfd[0]);
	for (int i = 0; i < 10; i++)
		serve_once(p, 5);
	n = prom_pollfds(p, fds, 40);
	assert_int_equal(n, 16);
	assert_int_equal(write(cfd[16], "GET /metrics HTTP/1.0\r\n\r\n", 25),
	    25);
	for (int i = 0; i < 10; i++)
		serve_once(p, 5);
	for (int i = 1; i < 17; i++)
		close(cfd[i]);
	for (int i = 0; i < 10; i++)
		serve_once(p, 5);
	n = prom_pollfds(p, fds, 40);
	assert_int_equal(n, 1);     /* just the listener again */
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 4096, 0,
	    NULL);
	assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	free(r);
	prom_service(p, NULL, 0);
	prom_service(NULL, fds, 0);
	prom_free(p);
}

static void
test_http_new(void **state)
{
	struct prom_server *p;
	char *r;

	(void)state;
	assert_null(prom_new("localhost", 0, "/metrics"));
	assert_null(prom_new("127.0.0.1", 0, "metrics"));
	assert_null(prom_new("127.0.0.1", 0, NULL));
	assert_null(prom_new("127.0.0.1", 0, "/a b"));
	assert_null(prom_new("300.1.1.1", 0, "/metrics"));
	prom_free(NULL);
	prom_set_snapshot(NULL, (const uint8_t *)"", 0);

	/* IPv6 literal, with or without brackets, when the host has it. */
	p = prom_new("[::1]", 0, "/m");
	if (p == NULL) {
		print_message("no IPv6 loopback: IPv6 case skipped\n");
		return;
	}
	r = exchange(p, AF_INET6, "GET /m HTTP/1.1\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	free(r);
	prom_free(p);
	p = prom_new("::1", 0, "/m");
	assert_non_null(p);
	prom_free(p);
}

/* A client that connects and says nothing is closed after 5 s. */
static void
test_http_idle(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	struct pollfd fds[20];
	struct timespec t0, t1;
	char c;
	int fd, closed = 0;
	double waited;

	(void)state;
	fd = connect_to(AF_INET, prom_port(p), 0);
	assert_int_equal(write(fd, "GET /met", 8), 8);   /* incomplete */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		serve_once(p, 100);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (read(fd, &c, 1) == 0) {
			closed = 1;
			break;
		}
		if (waited > 8)
			break;
	}
	assert_true(closed);
	assert_true(waited > 4.9);
	/* Its slot is free again: only the listener is left. */
	assert_int_equal(prom_pollfds(p, fds, 20), 1);
	close(fd);
	prom_free(p);
}

/* A snapshot that does not render gives 500, not a crash. */
static void
test_http_bad_snapshot(void **state)
{
	struct prom_server *p = prom_new("127.0.0.1", 0, "/metrics");
	char *r;

	(void)state;
	prom_set_snapshot(p, (const uint8_t *)"junk", 4);
	r = exchange(p, AF_INET, "GET /metrics HTTP/1.1\r\n\r\n", 4096, 0, NULL);
	assert_true(strncmp(r, "HTTP/1.1 500 ", 13) == 0);
	free(r);
	prom_free(p);
}

/* ---- the trace printer */

static struct sg_span
print_span(void)
{
	struct sg_span s = span(SG_SPAN_SERVER, "GET", 200, 1234567, 12, 345);

	snprintf(s.target, sizeof(s.target), "/users/42");
	snprintf(s.service_namespace, sizeof(s.service_namespace), "ns");
	snprintf(s.scheme, sizeof(s.scheme), "http");
	snprintf(s.protocol_version, sizeof(s.protocol_version), "1.1");
	snprintf(s.host_addr, sizeof(s.host_addr), "127.0.0.1");
	s.host_port = 80;
	s.pid = 99;
	for (int i = 0; i < 16; i++)
		s.trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++)
		s.span_id[i] = (uint8_t)(i + 1);
	return s;
}

static char *
print_to_string(enum sg_trace_printer mode, const struct sg_span *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	printer_span(f, mode, s);
	fclose(f);
	return buf;
}

static void
test_printer_text(void **state)
{
	struct sg_span s = print_span();
	char *out;

	(void)state;
	out = print_to_string(SG_PRINTER_TEXT, &s);
	assert_string_equal(out, "2023-11-14T22:13:20.123Z svc SERVER GET "
	    "/users/42 200 1.234ms 10.0.0.2:8080 -> 127.0.0.1:80 "
	    "trace=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf span=0102030405060708\n");
	free(out);

	s.kind = SG_SPAN_CLIENT;
	s.app = SG_APP_HTTP;
	snprintf(s.target, sizeof(s.target), "/a b\n\x1b[31m\xff\xc3\xa9\\");
	snprintf(s.peer_addr, sizeof(s.peer_addr), "::1");
	s.service_name[0] = '\0';
	out = print_to_string(SG_PRINTER_TEXT, &s);
	assert_string_equal(out, "2023-11-14T22:13:20.123Z - CLIENT GET "
	    "/a\\x20b\\x0a\\x1b[31m\\xff\xc3\xa9\\x5c 200 1.234ms [::1]:8080 "
	    "-> 127.0.0.1:80 trace=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf "
	    "span=0102030405060708\n");
	free(out);

	out = print_to_string(SG_PRINTER_DISABLED, &s);
	assert_string_equal(out, "");
	free(out);
	printer_span(NULL, SG_PRINTER_TEXT, &s);
	printer_span(stdout, SG_PRINTER_TEXT, NULL);
}

/* Let python's json module judge validity when it is installed. */
static void
json_valid(const char *line)
{
	char path[] = "/tmp/test_prom_json_XXXXXX";
	char cmd[256];
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	if (access("/usr/bin/python3", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import json,"
		    "sys; d=json.loads(open(sys.argv[1],\"rb\").read()"
		    ".decode(\"utf-8\")); assert len(d)==27' %s", path);
		rc = system(cmd);
		assert_int_equal(rc, 0);
	}
	unlink(path);
}

static void
test_printer_json(void **state)
{
	struct sg_span s = print_span();
	char *out;

	(void)state;
	out = print_to_string(SG_PRINTER_JSON, &s);
	assert_string_equal(out, "{\"kind\":\"server\",\"service_name\":\"svc\","
	    "\"service_namespace\":\"ns\",\"instance_id\":\"h:7\",\"pid\":99,"
	    "\"trace_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\","
	    "\"span_id\":\"0102030405060708\",\"parent_span_id\":\"\","
	    "\"trace_state\":\"\","
	    "\"start_unix_ns\":1700000000123456789,"
	    "\"end_unix_ns\":1700000000124691356,\"duration_ns\":1234567,"
	    "\"protocol\":\"http\",\"operation\":\"GET\","
	    "\"target\":\"/users/42\",\"route\":\"\",\"status\":200,"
	    "\"operation_known\":true,\"target_known\":true,"
	    "\"scheme\":\"http\",\"protocol_version\":\"1.1\","
	    "\"peer_addr\":\"10.0.0.2\",\"peer_port\":8080,"
	    "\"host_addr\":\"127.0.0.1\",\"host_port\":80,"
	    "\"request_size\":12,\"response_size\":345}\n");
	json_valid(out);
	free(out);

	/* gRPC, its status not read: null, not a guess. */
	s.app = SG_APP_GRPC;
	s.op[0] = '\0';
	snprintf(s.target, sizeof(s.target), "/pkg.Svc/Get");
	s.status = 0;
	s.flags = SG_SPAN_STATUS_UNKNOWN;
	out = print_to_string(SG_PRINTER_JSON, &s);
	assert_non_null(strstr(out, "\"protocol\":\"grpc\",\"operation\":\"\","
	    "\"target\":\"/pkg.Svc/Get\",\"route\":\"\",\"status\":null,"));
	json_valid(out);
	free(out);
	out = print_to_string(SG_PRINTER_TEXT, &s);
	assert_non_null(strstr(out, " SERVER grpc /pkg.Svc/Get ? 1.234ms "));
	free(out);
	/* a trace state, after the ids, in the text printer */
	snprintf(s.trace_state, sizeof(s.trace_state), "congo=t61 rcW");
	out = print_to_string(SG_PRINTER_TEXT, &s);
	assert_non_null(strstr(out, " span=0102030405060708 "
	    "tracestate=congo=t61\\x20rcW\n"));
	free(out);
	s.trace_state[0] = '\0';
	s.flags = 0;

	/* Hostile bytes everywhere, fields filled to the brim. */
	s.kind = SG_SPAN_CLIENT;
	s.app = SG_APP_HTTP;
	s.parent_span_id[7] = 0xff;
	snprintf(s.target, sizeof(s.target), "/\"q\"\\\n\t\x01\x7f\xff\xc0\xaf"
	    "\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82");
	memset(s.route, '\x01', sizeof(s.route));          /* unterminated */
	memset(s.service_name, '\xff', sizeof(s.service_name));
	memset(s.op, '"', sizeof(s.op));
	snprintf(s.trace_state, sizeof(s.trace_state), "k=\"v\\w x");
	out = print_to_string(SG_PRINTER_JSON, &s);
	assert_non_null(strstr(out, "\"kind\":\"client\""));
	assert_non_null(strstr(out, "\"trace_state\":\"k=\\\"v\\\\w x\""));
	assert_non_null(strstr(out, "\"parent_span_id\":\"00000000000000ff\""));
	assert_non_null(strstr(out, "\"target\":\"/\\\"q\\\"\\\\\\u000a\\u0009"
	    "\\u0001\\u007f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\""));
	/* exactly one line */
	assert_true(strchr(out, '\n') == out + strlen(out) - 1);
	json_valid(out);
	free(out);
}

/* json_indent: the same object over several lines, valid JSON, strings
 * untouched; counter: a line per batch. */
static void
test_printer_json_indent_counter(void **state)
{
	struct sg_span s = print_span();
	char *flat, *out, *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	snprintf(s.target, sizeof(s.target), "/a,b:{c}\"d");
	flat = print_to_string(SG_PRINTER_JSON, &s);
	out = print_to_string(SG_PRINTER_JSON_INDENT, &s);
	assert_memory_equal(out, "{\n  \"kind\": \"server\",\n  ", 24);
	assert_non_null(strstr(out, "\"target\": \"/a,b:{c}\\\"d\",\n"));
	assert_true(strlen(out) > strlen(flat));
	json_valid(out);
	free(flat);
	free(out);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	printer_span(f, SG_PRINTER_COUNTER, &s);
	printer_batch(f, SG_PRINTER_COUNTER, 3);
	printer_batch(f, SG_PRINTER_COUNTER, 0);
	printer_batch(f, SG_PRINTER_COUNTER, 2);
	printer_batch(f, SG_PRINTER_JSON, 2);
	fclose(f);
	assert_string_equal(buf, "spans: 3 more, 3 in all\nspans: 2 more, 5 in all\n");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_render_escape),
		cmocka_unit_test(test_render_malformed),
		cmocka_unit_test(test_http_basic),
		cmocka_unit_test(test_render_ttl),
		cmocka_unit_test(test_http_big_header),
		cmocka_unit_test(test_http_partial_writes),
		cmocka_unit_test(test_http_snapshot_during_send),
		cmocka_unit_test(test_http_max_clients),
		cmocka_unit_test(test_http_new),
		cmocka_unit_test(test_http_bad_snapshot),
		cmocka_unit_test(test_http_idle),
		cmocka_unit_test(test_printer_text),
		cmocka_unit_test(test_printer_json),
		cmocka_unit_test(test_printer_json_indent_counter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
