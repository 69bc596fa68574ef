/*
 * Unit tests: a collector metric snapshot (SG_MSG_METRICS) decoded, and
 * its families and series looked up, for assertions.  Included by the
 * tests that need it (static functions: each test is one file).
 */
#ifndef SG_TEST_DSNAP_H
#define SG_TEST_DSNAP_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "msg.h"
#include "wire.h"

#define SNAP_CAP (1u << 22)
/* Snapshot time: after every series' start, which is the real clock. */
#define SNAP_TIME 4000000000000000000ULL

/* A decoded snapshot, for assertions. */
struct dfam {
	struct sg_family_hdr hdr;
	struct sg_series    *series;
};

struct dsnap {
	uint64_t     now;
	uint16_t     nfam;
	struct dfam *fam;
};

static void
dsnap_free(struct dsnap *d)
{
	for (uint16_t i = 0; i < d->nfam; i++)
		free(d->fam[i].series);
	free(d->fam);
	memset(d, 0, sizeof(*d));
}

static void
dsnap_take(struct sg_metrics *m, struct dsnap *d)
{
	uint8_t *buf = malloc(SNAP_CAP);
	struct sg_snapshot_hdr h;
	struct wire_r r;
	size_t len;

	assert_non_null(buf);
	len = metrics_snapshot(m, buf, SNAP_CAP, SNAP_TIME, 0, 0);
	assert_true(len > 0);
	wire_r_init(&r, buf, len);
	assert_int_equal(msg_get_snapshot_hdr(&r, &h), 0);
	d->now = h.now_ns;
	d->nfam = h.nfamilies;
	assert_true(d->now == SNAP_TIME);
	d->fam = calloc(d->nfam, sizeof(*d->fam));
	assert_non_null(d->fam);
	for (uint16_t i = 0; i < d->nfam; i++) {
		struct dfam *f = &d->fam[i];

		assert_int_equal(msg_get_family(&r, &f->hdr), 0);
		assert_true(f->hdr.nseries < 100000);
		f->series = calloc(f->hdr.nseries + 1, sizeof(*f->series));
		assert_non_null(f->series);
		for (uint32_t j = 0; j < f->hdr.nseries; j++)
			assert_int_equal(msg_get_series(&r, &f->hdr, d->now,
			    &f->series[j]), 0);
	}
	assert_true(wire_r_done(&r));
	free(buf);
}

static struct dfam *
dfam(struct dsnap *d, const char *name)
{
	for (uint16_t i = 0; i < d->nfam; i++)
		if (strcmp(d->fam[i].hdr.prom_name, name) == 0)
			return &d->fam[i];
	return NULL;
}

static const char *
label(const struct sg_series *s, const char *key)
{
	for (uint16_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->key[i], key) == 0)
			return s->value[i];
	return NULL;
}

/* The series of f whose labels include key=value (NULL ends the list). */
static struct sg_series *
find_series(struct dfam *f, ...)
{
	for (uint32_t i = 0; i < f->hdr.nseries; i++) {
		struct sg_series *s = &f->series[i];
		const char *k, *v;
		int ok = 1;
		va_list ap;

		va_start(ap, f);
		while ((k = va_arg(ap, const char *)) != NULL) {
			v = va_arg(ap, const char *);
			if (label(s, k) == NULL || strcmp(label(s, k), v) != 0)
				ok = 0;
		}
		va_end(ap);
		if (ok)
			return s;
	}
	return NULL;
}

#endif
