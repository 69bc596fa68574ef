/*
 * OTLP delivery (see otlp_send.h).  Each sender owns a thread and a FIFO
 * of encoded requests.  The thread sends the head with libcurl's blocking
 * easy API and pops it only once it is delivered or refused for good, so
 * a request is never sent again after a success.  Between failed attempts
 * it sleeps on the condition variable (exponential backoff, full jitter)
 * so that otlp_sender_free() can wake it at once.
 *
 * The exporter is sandboxed: no file may be opened once it runs.  Hence
 * otlp_send_global_init() before the filter (libcurl and OpenSSL read
 * their configuration then, the CA bundle is kept in memory and handed to
 * libcurl as a blob), and CURLOPT_RESOLVE (the loader resolves names:
 * getaddrinfo would open /etc/hosts and load NSS modules).
 */
#include "otlp_send.h"

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "log.h"
#include "pct.h"

#define OTLP_BACKOFF_MIN_MS   200
#define OTLP_BACKOFF_MAX_MS   5000
/* A larger Retry-After is not believed: the queue would only overflow. */
#define OTLP_RETRY_AFTER_MAX  60
#define OTLP_CA_MAX           (16u << 20)
#define OTLP_GRPC_FRAME       5
#define OTLP_REASON_LEN       256

static const char *const otlp_grpc_path[] = {
	[SG_OTLP_TRACES] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	[SG_OTLP_METRICS] = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
};

struct otlp_req {
	struct otlp_req *next;
	uint8_t  *buf;
	size_t    len;
	uint32_t  items;
};

/* A CA bundle read before the sandbox. */
struct otlp_ca {
	char     path[256];
	char    *data;
	size_t   len;
};

static bool otlp_inited;
static struct otlp_ca otlp_ca_system, otlp_ca_user;

enum otlp_result { OTLP_OK, OTLP_RETRY, OTLP_FAIL };

/* What one attempt's response said (filled by the header callback). */
struct otlp_resp {
	long     http_status;
	int      grpc_status;        /* -1: absent */
	long     retry_after;        /* seconds, -1: absent */
	char     grpc_message[128];
};

struct otlp_sender {
	enum sg_otlp_sig    sig;
	struct otlp_target  t;
	char                url[640];
	const struct otlp_ca *ca;

	pthread_t           thread;
	pthread_mutex_t     mu;
	pthread_cond_t      cv;          /* CLOCK_MONOTONIC */
	struct otlp_req    *head, *tail;
	/* the head, from an attempt until the thread unlinks it or backs
	 * off: the thread reads it unlocked, otlp_trim must spare it */
	struct otlp_req    *sending;
	bool                stop;
	atomic_bool         abort;       /* read by curl's progress callback */
	size_t              queued_items;
	size_t              queued_bytes;
	uint64_t            sent_items;
	uint64_t            dropped_items;
	uint64_t            retries;

	/* the thread's own */
	CURL               *curl;
	struct curl_slist  *hdrs, *resolve;
	struct otlp_resp    resp;
	uint64_t            failed;      /* attempts in this failure episode */
	uint32_t            backoff_ms;
	uint64_t            rng;
};

/* ---- global initialisation, before the sandbox */

static int
otlp_ca_read(struct otlp_ca *ca, const char *path, bool must)
{
	char *data = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (must)
			sg_log(SG_LOG_ERR, "otlp: %s: %s", path, strerror(errno));
		return must ? -1 : 0;
	}
	for (;;) {
		if (len == cap) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			if (cap > OTLP_CA_MAX || (p = realloc(data, cap)) == NULL) {
				sg_log(SG_LOG_ERR, "otlp: %s: too large", path);
				goto fail;
			}
			data = p;
		}
		if ((n = read(fd, data + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			sg_log(SG_LOG_ERR, "otlp: %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	snprintf(ca->path, sizeof(ca->path), "%s", path);
	ca->data = data;
	ca->len = len;
	return 0;
fail:
	close(fd);
	free(data);
	return -1;
}

int
otlp_send_global_init(const char *ca_file)
{
	curl_version_info_data *vi;
	CURLcode rc;
	CURL *c;

	if (otlp_inited)
		return 0;
	/* Also initialises OpenSSL, which reads openssl.cnf now. */
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		sg_log(SG_LOG_ERR, "otlp: curl_global_init: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	vi = curl_version_info(CURLVERSION_NOW);
	if (!(vi->features & CURL_VERSION_HTTP2))
		sg_log(SG_LOG_WARN, "otlp: libcurl %s has no HTTP/2: "
		    "OTLP/gRPC will fail", vi->version);
	/* Whatever an easy handle sets up on first use, set it up now. */
	if ((c = curl_easy_init()) == NULL) {
		sg_log(SG_LOG_ERR, "otlp: curl_easy_init failed");
		return -1;
	}
	curl_easy_cleanup(c);
	if (ca_file != NULL && *ca_file != '\0' &&
	    otlp_ca_read(&otlp_ca_user, ca_file, true) < 0)
		return -1;
	/* Only needed for https without ca_file; may be missing. */
	if (otlp_ca_read(&otlp_ca_system, "/etc/ssl/certs/ca-certificates.crt",
	    false) < 0)
		return -1;
	otlp_inited = true;
	return 0;
}

bool
otlp_send_ready(void)
{
	return otlp_inited;
}

/* ---- queue (callers hold s->mu) */

static void
otlp_req_free(struct otlp_req *r)
{
	free(r->buf);
	free(r);
}

/* Unlink the request after prev (NULL: the head). */
static struct otlp_req *
otlp_unlink(struct otlp_sender *s, struct otlp_req *prev)
{
	struct otlp_req *r = prev ? prev->next : s->head;

	if (prev)
		prev->next = r->next;
	else
		s->head = r->next;
	if (s->tail == r)
		s->tail = prev;
	s->queued_items -= r->items;
	s->queued_bytes -= r->len;
	return r;
}

/* Over the bound: drop the oldest, except s->sending (the thread's own)
 * and the newest (a request larger than the bound must still go out). */
static void
otlp_trim(struct otlp_sender *s)
{
	while (s->queued_items > s->t.max_queue_items) {
		struct otlp_req *prev = NULL, *r;

		if (s->head != NULL && s->head == s->sending)
			prev = s->head;
		r = prev ? prev->next : s->head;
		if (r == NULL || r == s->tail)
			break;
		r = otlp_unlink(s, prev);
		s->dropped_items += r->items;
		otlp_req_free(r);
	}
}

/* ---- request preparation */

/* gzip (deflate with the gzip header), for Content-Encoding and
 * grpc-encoding.  The result has `room` bytes free in front. */
static uint8_t *
otlp_gzip(const uint8_t *in, size_t len, size_t room, size_t *outlen)
{
	z_stream z;
	uint8_t *out;
	uLong bound;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a window of 32 KiB with a gzip header and trailer */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	bound = deflateBound(&z, (uLong)len);
	if ((out = malloc(room + bound)) == NULL) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out + room;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = room + z.total_out;
	deflateEnd(&z);
	return out;
}

/* The body of one attempt: the message, gzipped or not, behind the gRPC
 * frame header (compressed flag, big-endian length) for gRPC.  *owned is
 * set when the result must be freed. */
static const uint8_t *
otlp_body(struct otlp_sender *s, const struct otlp_req *r, size_t *len,
    bool *owned)
{
	bool grpc = s->t.protocol == OTLP_PROTO_GRPC;
	size_t room = grpc ? OTLP_GRPC_FRAME : 0, n = 0, mlen;
	uint8_t *out = NULL;

	*owned = false;
	if (s->t.gzip)
		out = otlp_gzip(r->buf, r->len, room, &n);
	else if (!grpc) {
		*len = r->len;
		return r->buf;
	} else if ((out = malloc(room + r->len)) != NULL) {
		memcpy(out + room, r->buf, r->len);
		n = room + r->len;
	}
	if (out == NULL)
		return NULL;
	if (grpc) {
		mlen = n - room;
		if (mlen > UINT32_MAX) {
			free(out);
			return NULL;
		}
		out[0] = s->t.gzip ? 1 : 0;
		out[1] = (uint8_t)(mlen >> 24);
		out[2] = (uint8_t)(mlen >> 16);
		out[3] = (uint8_t)(mlen >> 8);
		out[4] = (uint8_t)mlen;
	}
	*owned = true;
	*len = n;
	return out;
}

/* Percent-decode a header value; CR, LF and NUL cannot be in a header. */
static int
otlp_pct_decode(const char *s, const char *e, char *out, size_t sz)
{
	if (sg_pct_decode(s, e, out, sz) != NULL ||
	    out[strcspn(out, "\r\n")] != '\0')
		return -1;
	return 0;
}

static int
otlp_add_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

/* One "key=value" of t->headers.  Names are lower-cased (HTTP/2 wants
 * them so) and must be tokens; a bad pair is skipped with a warning. */
static int
otlp_user_header(struct curl_slist **l, const char *s, const char *e)
{
	const char *eq = memchr(s, '=', (size_t)(e - s)), *ke, *vs;
	char key[128], val[1024], line[1200];
	size_t i, klen;

	if (eq == NULL)
		goto bad;
	ke = eq;
	vs = eq + 1;
	sg_trim_blanks(&s, &ke);
	sg_trim_blanks(&vs, &e);
	klen = (size_t)(ke - s);
	if (klen == 0 || klen >= sizeof(key))
		goto bad;
	for (i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
			goto bad;
		key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	key[klen] = '\0';
	if (otlp_pct_decode(vs, e, val, sizeof(val)) < 0)
		goto bad;
	snprintf(line, sizeof(line), "%s: %s", key, val);
	return otlp_add_header(l, line);
bad:
	/* the name only: values are often credentials */
	sg_log(SG_LOG_WARN, "otlp: ignoring a malformed header (%.*s)",
	    (int)(eq ? eq - s : e - s), s);
	return 0;
}

static struct curl_slist *
otlp_headers(const struct otlp_target *t)
{
	struct curl_slist *l = NULL;
	const char *p = t->headers, *end;
	bool grpc = t->protocol == OTLP_PROTO_GRPC;

	if (grpc) {
		if (otlp_add_header(&l, "Content-Type: application/grpc") < 0 ||
		    otlp_add_header(&l, "TE: trailers") < 0 ||
		    (t->gzip &&
		    otlp_add_header(&l, "grpc-encoding: gzip") < 0))
			goto fail;
	} else {
		if (otlp_add_header(&l, t->json ?
		    "Content-Type: application/json" :
		    "Content-Type: application/x-protobuf") < 0 ||
		    (t->gzip &&
		    otlp_add_header(&l, "Content-Encoding: gzip") < 0) ||
		    /* no 100-continue round trip for large bodies */
		    otlp_add_header(&l, "Expect:") < 0)
			goto fail;
	}
	while (*p != '\0') {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if (end > p && otlp_user_header(&l, p, end) < 0)
			goto fail;
		p = *end ? end + 1 : end;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* ---- libcurl callbacks */

static size_t
otlp_discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* Stop a transfer in progress when the sender is being freed. */
static int
otlp_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct otlp_sender *s = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&s->abort) ? 1 : 0;
}

static bool
otlp_hdr_is(const char *line, size_t n, const char *name, const char **val,
    size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
	    line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	*val = line;
	*vlen = n;
	return true;
}

static long
otlp_num(const char *v, size_t n)
{
	long x = 0;

	if (n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* Headers, and trailers (libcurl passes those here too): grpc-status may
 * come in either (a "trailers-only" response). */
static size_t
otlp_header_cb(char *line, size_t sz, size_t n, void *arg)
{
	struct otlp_resp *r = arg;
	const char *v;
	size_t vlen, len = sz * n;

	if (otlp_hdr_is(line, len, "grpc-status", &v, &vlen))
		r->grpc_status = (int)otlp_num(v, vlen);
	else if (otlp_hdr_is(line, len, "grpc-message", &v, &vlen)) {
		/* gRPC percent-encodes it */
		if (otlp_pct_decode(v, v + vlen, r->grpc_message,
		    sizeof(r->grpc_message)) < 0)
			snprintf(r->grpc_message, sizeof(r->grpc_message),
			    "%.*s", (int)vlen, v);
	}
	else if (otlp_hdr_is(line, len, "retry-after", &v, &vlen))
		r->retry_after = otlp_num(v, vlen);	/* an HTTP date: -1 */
	return len;
}

/* ---- one attempt */

static int
otlp_curl_setup(struct otlp_sender *s)
{
	CURL *c;
	bool grpc = s->t.protocol == OTLP_PROTO_GRPC;
	bool tls = strncasecmp(s->url, "https:", 6) == 0;
	int rc = 0;

	if ((c = curl_easy_init()) == NULL)
		return -1;
	s->curl = c;
	rc |= curl_easy_setopt(c, CURLOPT_URL, s->url);
	rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->t.timeout_ms);
	rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->hdrs);
	rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, otlp_discard);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, otlp_header_cb);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &s->resp);
	rc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	rc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, otlp_progress);
	rc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	if (s->resolve != NULL)
		rc |= curl_easy_setopt(c, CURLOPT_RESOLVE, s->resolve);
	if (grpc)
		rc |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, tls ?
		    (long)CURL_HTTP_VERSION_2TLS :
		    (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	/* libcurl before 8.0.0 fails every request but the first on a
	 * reused prior-knowledge h2c connection ("Error in the HTTP2 framing
	 * layer", curl issue #10634): a connection per request there. */
	if (grpc && !tls &&
	    curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
		rc |= curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	if (tls) {
		/* No CA directory: OpenSSL would open its files lazily,
		 * inside the sandbox. */
		rc |= curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		if (s->ca != NULL) {
			struct curl_blob blob = {
				.data = s->ca->data,
				.len = s->ca->len,
				.flags = CURL_BLOB_NOCOPY,
			};

			rc |= curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
		}
		if (s->t.insecure) {
			rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
	return rc == 0 ? 0 : -1;
}

static bool
otlp_curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_ABORTED_BY_CALLBACK:
		return false;
	default:
		return true;
	}
}

static enum otlp_result
otlp_classify_http(long st, char *why, size_t wsz)
{
	if (st >= 200 && st < 300)
		return OTLP_OK;
	snprintf(why, wsz, "HTTP status %ld", st);
	if (st == 429 || st == 502 || st == 503 || st == 504)
		return OTLP_RETRY;
	return OTLP_FAIL;
}

static enum otlp_result
otlp_classify_grpc(const struct otlp_resp *r, char *why, size_t wsz)
{
	long st = r->http_status;

	if (r->grpc_status < 0) {
		snprintf(why, wsz, "HTTP status %ld without grpc-status", st);
		return st == 502 || st == 503 || st == 504 ?
		    OTLP_RETRY : OTLP_FAIL;
	}
	if (r->grpc_status == 0 && st == 200)
		return OTLP_OK;
	snprintf(why, wsz, "grpc-status %d%s%s (HTTP %ld)", r->grpc_status,
	    r->grpc_message[0] ? ": " : "", r->grpc_message, st);
	/* UNAVAILABLE, RESOURCE_EXHAUSTED */
	if (r->grpc_status == 14 || r->grpc_status == 8)
		return OTLP_RETRY;
	return OTLP_FAIL;
}

static enum otlp_result
otlp_attempt(struct otlp_sender *s, const struct otlp_req *r, char *why,
    size_t wsz)
{
	const uint8_t *body;
	size_t len;
	bool owned;
	CURLcode rc;
	enum otlp_result res;

	if ((body = otlp_body(s, r, &len, &owned)) == NULL) {
		snprintf(why, wsz, "cannot prepare the body (out of memory)");
		return OTLP_FAIL;
	}
	memset(&s->resp, 0, sizeof(s->resp));
	s->resp.grpc_status = -1;
	s->resp.retry_after = -1;
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(s->curl);
	/* libcurl keeps a pointer to the body: forget it before freeing */
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	if (owned)
		free((void *)(uintptr_t)body);
	if (rc != CURLE_OK) {
		snprintf(why, wsz, "%s", curl_easy_strerror(rc));
		return otlp_curl_retryable(rc) ? OTLP_RETRY : OTLP_FAIL;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE,
	    &s->resp.http_status);
	if (s->t.protocol == OTLP_PROTO_GRPC)
		res = otlp_classify_grpc(&s->resp, why, wsz);
	else
		res = otlp_classify_http(s->resp.http_status, why, wsz);
	return res;
}

/* ---- the thread */

static uint32_t
otlp_rand(struct otlp_sender *s, uint32_t below)
{
	/* xorshift64*: jitter only, nothing secret */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)(((s->rng * 2685821657736338717ULL) >> 32) %
	    (below + 1));
}

/* How long to wait before the next attempt: Retry-After when the server
 * gave a believable one, else full jitter over the current backoff. */
static uint32_t
otlp_delay_ms(struct otlp_sender *s)
{
	uint32_t d;

	if (s->resp.retry_after >= 0 &&
	    s->resp.retry_after < OTLP_RETRY_AFTER_MAX)
		d = (uint32_t)s->resp.retry_after * 1000;
	else
		d = otlp_rand(s, s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > OTLP_BACKOFF_MAX_MS ?
	    OTLP_BACKOFF_MAX_MS : s->backoff_ms * 2;
	return d;
}

/* With s->mu held: sleep ms unless stopped; new requests do not end it. */
static void
otlp_backoff(struct otlp_sender *s, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!s->stop)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
			break;
}

/* Log once per episode: the first failure, then the recovery. */
static void
otlp_note(struct otlp_sender *s, enum otlp_result res, const char *why,
    uint32_t items)
{
	const char *sig = sg_otlp_sig_name(s->sig);

	if (res == OTLP_OK) {
		if (s->failed > 0)
			sg_log(SG_LOG_INFO, "otlp %s: export to %s recovered "
			    "after %" PRIu64 " failed attempts", sig, s->url,
			    s->failed);
		s->failed = 0;
		s->backoff_ms = OTLP_BACKOFF_MIN_MS;
		return;
	}
	if (s->failed++ == 0)
		sg_log(SG_LOG_WARN, "otlp %s: export to %s failed: %s (%s)",
		    sig, s->url, why, res == OTLP_RETRY ? "retrying" :
		    "request dropped");
	else
		sg_log(SG_LOG_DEBUG, "otlp %s: %s (%s %" PRIu32 " items)",
		    sig, why, res == OTLP_RETRY ? "retrying" : "dropped",
		    items);
}

static void *
otlp_thread(void *arg)
{
	struct otlp_sender *s = arg;
	char why[OTLP_REASON_LEN];

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct otlp_req *r;
		enum otlp_result res;
		bool aborted;

		while (!s->stop && s->head == NULL)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop)
			break;
		/* otlp_trim spares s->sending: r is ours until we let go of it
		 * under the lock, so otlp_note may read it unlocked */
		r = s->sending = s->head;
		pthread_mutex_unlock(&s->mu);

		why[0] = '\0';
		res = otlp_attempt(s, r, why, sizeof(why));
		/* interrupted by otlp_sender_free: it stays queued */
		aborted = res != OTLP_OK && atomic_load(&s->abort);
		if (!aborted)
			otlp_note(s, res, why, r->items);
		pthread_mutex_lock(&s->mu);
		if (aborted) {
			s->sending = NULL;
			break;
		}
		if (res == OTLP_RETRY) {
			/* backing off, it may be dropped as the oldest: the
			 * next attempt takes whatever is the head then */
			s->sending = NULL;
			s->retries++;
			otlp_backoff(s, otlp_delay_ms(s));
			/* the queue may have grown past the bound meanwhile */
			otlp_trim(s);
			continue;
		}
		/* spared by otlp_trim, it is still the head */
		otlp_unlink(s, NULL);
		s->sending = NULL;
		if (res == OTLP_OK)
			s->sent_items += r->items;
		else
			s->dropped_items += r->items;
		otlp_req_free(r);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- public */

/* The sandbox cannot resolve names: a URL host must be an address,
 * "localhost" (libcurl answers that itself) or come with a resolve
 * entry.  Else getaddrinfo would open files and get us killed. */
static int
otlp_check_host(const char *url, const char *resolve)
{
	CURLU *u;
	char *host = NULL;
	struct in6_addr a;
	int rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		sg_log(SG_LOG_ERR, "otlp: bad URL %s", url);
		goto out;
	}
	if (host[0] == '[') {		/* IPv6 literal, bracketed */
		size_t n = strlen(host);

		memmove(host, host + 1, n);
		if (n >= 2)
			host[n - 2] = '\0';
	}
	if (inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1 ||
	    strcasecmp(host, "localhost") == 0 || resolve[0] != '\0')
		rc = 0;
	else
		sg_log(SG_LOG_ERR, "otlp: %s: the host name must be resolved "
		    "before the sandbox (no resolve entry)", url);
out:
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static int
otlp_pick_ca(struct otlp_sender *s)
{
	const struct otlp_target *t = &s->t;

	if (strncasecmp(s->url, "https:", 6) != 0)
		return 0;
	if (t->ca_file[0] == '\0') {
		s->ca = otlp_ca_system.data ? &otlp_ca_system : NULL;
		if (s->ca == NULL && !t->insecure)
			sg_log(SG_LOG_WARN, "otlp: no system CA bundle was "
			    "read: %s cannot be verified", s->url);
		return 0;
	}
	if (otlp_ca_user.data != NULL &&
	    strcmp(otlp_ca_user.path, t->ca_file) == 0) {
		s->ca = &otlp_ca_user;
		return 0;
	}
	sg_log(SG_LOG_ERR, "otlp: CA file %s was not read before the sandbox "
	    "(otlp_send_global_init)", t->ca_file);
	return -1;
}

static int
otlp_build_url(struct otlp_sender *s)
{
	size_t n;
	int len;

	if (s->t.protocol != OTLP_PROTO_GRPC) {
		len = snprintf(s->url, sizeof(s->url), "%s", s->t.url);
	} else {
		n = strlen(s->t.url);
		while (n > 0 && s->t.url[n - 1] == '/')
			n--;
		len = snprintf(s->url, sizeof(s->url), "%.*s%s", (int)n,
		    s->t.url, otlp_grpc_path[s->sig]);
	}
	return len > 0 && (size_t)len < sizeof(s->url) ? 0 : -1;
}

static int
otlp_sender_init(struct otlp_sender *s)
{
	if (!otlp_inited) {
		sg_log(SG_LOG_ERR, "otlp: otlp_send_global_init not called");
		return -1;
	}
	if (otlp_build_url(s) < 0 || otlp_check_host(s->url, s->t.resolve) < 0 ||
	    otlp_pick_ca(s) < 0)
		return -1;
	if ((s->hdrs = otlp_headers(&s->t)) == NULL)
		return -1;
	if (s->t.resolve[0] != '\0' &&
	    (s->resolve = curl_slist_append(NULL, s->t.resolve)) == NULL)
		return -1;
	if (otlp_curl_setup(s) < 0) {
		sg_log(SG_LOG_ERR, "otlp: cannot configure libcurl for %s",
		    s->url);
		return -1;
	}
	return 0;
}

static void
otlp_sender_release(struct otlp_sender *s)
{
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->hdrs);
	curl_slist_free_all(s->resolve);
	free(s);
}

struct otlp_sender *
otlp_sender_new(enum sg_otlp_sig sig, const struct otlp_target *t)
{
	struct otlp_sender *s;
	pthread_condattr_t ca;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sg_log(SG_LOG_ERR, "otlp: out of memory");
		return NULL;
	}
	s->sig = sig;
	s->t = *t;
	s->t.url[sizeof(s->t.url) - 1] = '\0';
	s->t.headers[sizeof(s->t.headers) - 1] = '\0';
	s->t.ca_file[sizeof(s->t.ca_file) - 1] = '\0';
	s->t.resolve[sizeof(s->t.resolve) - 1] = '\0';
	s->backoff_ms = OTLP_BACKOFF_MIN_MS;
	s->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s ^
	    0x9e3779b97f4a7c15ULL;
	atomic_init(&s->abort, false);
	if (otlp_sender_init(s) < 0) {
		otlp_sender_release(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	/* backoff deadlines must not move with the wall clock */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&s->thread, NULL, otlp_thread, s)) != 0) {
		sg_log(SG_LOG_ERR, "otlp: pthread_create: %s", strerror(rc));
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		otlp_sender_release(s);
		return NULL;
	}
	return s;
}

void
otlp_sender_free(struct otlp_sender *s)
{
	struct otlp_req *r;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	atomic_store(&s->abort, true);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	while ((r = s->head) != NULL) {
		otlp_unlink(s, NULL);
		s->dropped_items += r->items;
		otlp_req_free(r);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	otlp_sender_release(s);
}

void
otlp_sender_enqueue(struct otlp_sender *s, uint8_t *buf, size_t len,
    uint32_t items)
{
	struct otlp_req *r;

	if ((r = malloc(sizeof(*r))) == NULL) {
		pthread_mutex_lock(&s->mu);
		s->dropped_items += items;
		pthread_mutex_unlock(&s->mu);
		free(buf);
		return;
	}
	r->next = NULL;
	r->buf = buf;
	r->len = len;
	r->items = items;
	pthread_mutex_lock(&s->mu);
	if (s->tail != NULL)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	s->queued_items += items;
	s->queued_bytes += len;
	otlp_trim(s);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
otlp_sender_stats(struct otlp_sender *s, struct otlp_send_stats *out)
{
	pthread_mutex_lock(&s->mu);
	out->sent_items = s->sent_items;
	out->dropped_items = s->dropped_items;
	out->retries = s->retries;
	out->queued_items = s->queued_items;
	out->queued_bytes = s->queued_bytes;
	pthread_mutex_unlock(&s->mu);
}
