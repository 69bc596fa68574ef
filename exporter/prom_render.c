/*
 * The Prometheus text exposition format, from a metric snapshot
 * (SG_MSG_METRICS, exporter/snapshot.h): names and label values checked
 * and escaped, histograms as cumulative buckets.  The server (prom.c)
 * renders once per snapshot and serves the text.
 */
#include "prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "utf8.h"
#include "wire.h"

#define PROM_RENDER_MAX  (64u << 20)     /* exposition text bytes */

struct sbuf {
	char  *p;
	size_t len;
	size_t cap;
	int    err;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > PROM_RENDER_MAX - b->len) {
		b->err = 1;
		return;
	}
	if (n > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *np;

		while (ncap - b->len < n)
			ncap *= 2;
		if (ncap > PROM_RENDER_MAX)
			ncap = PROM_RENDER_MAX;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	sb_str(b, tmp);
}

/*
 * A float as Prometheus parses it: integers plainly, others with the
 * fewest digits that read back to the same double, so bucket bounds
 * print as le="0.005" and le="2.5" rather than with float noise.
 */
static void
fmt_float(char *buf, size_t sz, double v)
{
	if (isnan(v)) {
		snprintf(buf, sz, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, sz, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		snprintf(buf, sz, "0");   /* also for -0 */
		return;
	}
	if (v == trunc(v) && fabs(v) < 1e15) {
		snprintf(buf, sz, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sz, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void
sb_float(struct sbuf *b, double v)
{
	char tmp[40];

	fmt_float(tmp, sizeof(tmp), v);
	sb_str(b, tmp);
}

/* A scrape fails as a whole on invalid UTF-8, and label values partly
 * come off the network: invalid bytes become U+FFFD. */
/* Escape for a label value (quote too) or HELP text (no quote). */
static void
sb_escaped(struct sbuf *b, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t k = sg_utf8_seq(p + i, n - i, NULL);

		if (k == 0) {
			sb_str(b, "\xef\xbf\xbd");       /* U+FFFD */
			k = 1;
		} else if (p[i] == '\\')
			sb_str(b, "\\\\");
		else if (p[i] == '\n')
			sb_str(b, "\\n");
		else if (p[i] == '"' && quote)
			sb_str(b, "\\\"");
		else
			sb_put(b, s + i, k);
		i += k;
	}
}

static bool
valid_name(const char *s, bool colon)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    (colon && *s == ':')))
			return false;
	return true;
}

/* name{k="v",...,le="x"} with "le" only for histogram buckets. */
static void
sb_sample_name(struct sbuf *b, const char *name, const char *suffix,
    const struct sg_series *s, const char *le)
{
	bool any = s->nlabels > 0 || le != NULL;

	sb_str(b, name);
	sb_str(b, suffix);
	if (!any)
		return;
	sb_str(b, "{");
	for (uint16_t i = 0; i < s->nlabels; i++) {
		if (i > 0)
			sb_str(b, ",");
		sb_str(b, s->key[i]);
		sb_str(b, "=\"");
		sb_escaped(b, s->value[i], true);
		sb_str(b, "\"");
	}
	if (le != NULL) {
		if (s->nlabels > 0)
			sb_str(b, ",");
		sb_str(b, "le=\"");
		sb_str(b, le);
		sb_str(b, "\"");
	}
	sb_str(b, "}");
}

static void
render_histogram(struct sbuf *b, const struct sg_family_hdr *f,
    const struct sg_series *s)
{
	char le[40];
	uint64_t cum = 0;

	/* The snapshot has per-bucket counts; Prometheus wants them
	 * cumulative. */
	for (uint16_t i = 0; i <= f->nbounds; i++) {
		cum += s->buckets[i];
		if (i < f->nbounds)
			fmt_float(le, sizeof(le), f->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sb_sample_name(b, f->prom_name, "_bucket", s, le);
		sb_str(b, " ");
		sb_u64(b, cum);
		sb_str(b, "\n");
	}
	sb_sample_name(b, f->prom_name, "_sum", s, NULL);
	sb_str(b, " ");
	sb_float(b, s->sum);
	sb_str(b, "\n");
	sb_sample_name(b, f->prom_name, "_count", s, NULL);
	sb_str(b, " ");
	sb_u64(b, s->count);
	sb_str(b, "\n");
}

static bool
series_valid(const struct sg_family_hdr *f, const struct sg_series *s)
{
	for (uint16_t i = 0; i < s->nlabels; i++) {
		if (!valid_name(s->key[i], false))
			return false;
		if (f->type == SG_METRIC_HISTOGRAM &&
		    strcmp(s->key[i], "le") == 0)
			return false;
	}
	return true;
}

static int
render_family(struct sbuf *b, struct wire_r *r, uint64_t now_ns,
    uint64_t ttl_ns, struct sg_series *s)
{
	struct sg_family_hdr f;
	static const char *const types[] = { [SG_METRIC_COUNTER] = "counter",
	    [SG_METRIC_GAUGE] = "gauge", [SG_METRIC_HISTOGRAM] = "histogram" };

	if (msg_get_family(r, &f) < 0 || !valid_name(f.prom_name, true))
		return -1;
	sb_str(b, "# HELP ");
	sb_str(b, f.prom_name);
	sb_str(b, " ");
	sb_escaped(b, f.help, false);
	sb_str(b, "\n# TYPE ");
	sb_str(b, f.prom_name);
	sb_str(b, " ");
	sb_str(b, types[f.type]);
	sb_str(b, "\n");
	for (uint32_t i = 0; i < f.nseries && !b->err; i++) {
		if (msg_get_series(r, &f, now_ns, s) < 0 ||
		    !series_valid(&f, s))
			return -1;
		if (s->idle_ns > ttl_ns)
			continue;
		if (f.type == SG_METRIC_HISTOGRAM) {
			render_histogram(b, &f, s);
			continue;
		}
		sb_sample_name(b, f.prom_name, "", s, NULL);
		sb_str(b, " ");
		sb_float(b, s->value_f);
		sb_str(b, "\n");
	}
	return 0;
}

long
prom_render(const uint8_t *snap, size_t len, uint64_t ttl_ns, char **out)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	struct sg_snapshot_hdr h;
	struct sg_series *s;
	struct wire_r r;
	int rc = 0;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (snap == NULL)
		return -1;
	if ((s = malloc(sizeof(*s))) == NULL)
		return -1;
	wire_r_init(&r, snap, len);
	if (msg_get_snapshot_hdr(&r, &h) < 0)
		rc = -1;
	for (uint16_t i = 0; rc == 0 && i < h.nfamilies && !b.err; i++)
		rc = render_family(&b, &r, h.now_ns, ttl_ns, s);
	free(s);
	/* Trailing bytes mean sender and receiver disagree on the format. */
	if (rc < 0 || b.err || !wire_r_done(&r)) {
		free(b.p);
		return -1;
	}
	sb_put(&b, "", 1);          /* terminate, for callers' convenience */
	if (b.err) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return (long)(b.len - 1);
}
