#include "hash.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"
#include "self.h"
#include "wire.h"

#define BASE_MAX      65536   /* series carried over from dead collectors */
#define BASE_FAM_MAX  32
#define KEY_MAX       (SG_MAX_LABELS * (64 + SG_LABEL_MAX) + 128)

/* A counter or histogram series of a collector that has died: what it
 * had counted, added to its successor's series of the same labels. */
struct base_entry {
	uint64_t  hash;          /* 0: empty slot */
	char     *key;           /* family, then each key=value: see series_key */
	uint16_t  fam;           /* index in S.fam */
	bool      used;          /* matched while building */
	uint64_t  start_ns;      /* when it began counting (unix ns) */
	uint64_t  updated_ns;    /* when it was last updated (unix ns) */
	double    value;
	uint64_t  count;
	double    sum;
	uint64_t *buckets;       /* nbounds + 1, histograms only */
};

static struct {
	uint8_t              *coll;        /* the collector's latest payload */
	size_t                coll_len;
	uint64_t              coll_ev_next; /* the events it accounts for */
	uint64_t              gap_from;    /* a dead one's first uncounted */
	bool                  gap_open;
	uint64_t              lost_exit;   /* events that died with them */
	uint64_t              self_base[SG_SELF_MAX];  /* dead collectors' */
	unsigned              generations;
	uint64_t              self_start;  /* when the self-metrics began */
	struct sg_family_hdr  fam[BASE_FAM_MAX];   /* families of the base */
	uint16_t              nfam;
	struct base_entry    *slots;       /* open addressing, 2 x BASE_MAX */
	size_t                nbase;
	struct sg_series      scratch;
} S;

#define NSLOTS (2 * BASE_MAX)

/* 0 marks an empty slot */
static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = sg_fnv1a(s, n);

	return h ? h : 1;
}

/* "family\x1fkey=value\x1f..." in buf; its length. */
static size_t
series_key(const char *family, const struct sg_series *se, char *buf,
    size_t sz)
{
	size_t n = (size_t)snprintf(buf, sz, "%s", family);

	for (uint16_t i = 0; i < se->nlabels && n < sz; i++)
		n += (size_t)snprintf(buf + n, sz - n, "\x1f%s=%s", se->key[i],
		    se->value[i]);
	return n < sz ? n : sz - 1;
}

static struct base_entry *
base_find(const char *key, size_t len, bool create)
{
	uint64_t h = fnv1a(key, len);

	if (S.slots == NULL) {
		if (!create || (S.slots = calloc(NSLOTS, sizeof(*S.slots))) ==
		    NULL)
			return NULL;
	}
	for (size_t i = 0, j = h & (NSLOTS - 1); i < NSLOTS;
	    i++, j = (j + 1) & (NSLOTS - 1)) {
		struct base_entry *e = &S.slots[j];

		if (e->hash == 0) {
			if (!create || S.nbase == BASE_MAX)
				return NULL;
			if ((e->key = malloc(len + 1)) == NULL)
				return NULL;
			memcpy(e->key, key, len);
			e->key[len] = '\0';
			e->hash = h;
			S.nbase++;
			return e;
		}
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static bool
same_buckets(const struct sg_family_hdr *a, const struct sg_family_hdr *b)
{
	return a->type == b->type && a->nbounds == b->nbounds &&
	    memcmp(a->bounds, b->bounds, a->nbounds * sizeof(a->bounds[0])) == 0;
}

/* The base's family like f, added when missing; -1 when full. */
static int
base_family(const struct sg_family_hdr *f)
{
	for (uint16_t i = 0; i < S.nfam; i++)
		if (strcmp(S.fam[i].prom_name, f->prom_name) == 0)
			return same_buckets(&S.fam[i], f) ? i : -1;
	if (S.nfam == BASE_FAM_MAX)
		return -1;
	S.fam[S.nfam] = *f;
	return S.nfam++;
}

static void
base_add(int fam, const struct sg_family_hdr *f, const struct sg_series *se,
    uint64_t now_ns)
{
	char key[KEY_MAX];
	size_t len = series_key(f->prom_name, se, key, sizeof(key));
	struct base_entry *e = base_find(key, len, true);

	if (e == NULL) {
		sg_log(SG_LOG_WARN, "snapshot: more than %d series carried "
		    "over from restarted collectors: %s starts from zero",
		    BASE_MAX, key);
		return;
	}
	e->fam = (uint16_t)fam;
	if (e->start_ns == 0 || se->start_ns < e->start_ns)
		e->start_ns = se->start_ns;
	if (now_ns - se->idle_ns > e->updated_ns)
		e->updated_ns = now_ns - se->idle_ns;
	e->value += se->value_f;
	e->count += se->count;
	e->sum += se->sum;
	if (f->type == SG_METRIC_HISTOGRAM) {
		if (e->buckets == NULL &&
		    (e->buckets = calloc(f->nbounds + 1u, sizeof(uint64_t))) ==
		    NULL)
			return;
		for (uint16_t b = 0; b <= f->nbounds; b++)
			e->buckets[b] += se->buckets[b];
	}
}

/* Every series of a snapshot payload, in order, to fn when not NULL;
 * -1 when it does not decode to its end. */
static int
snapshot_walk(const uint8_t *p, size_t len,
    void (*fn)(const struct sg_family_hdr *, const struct sg_series *,
    uint64_t))
{
	struct sg_snapshot_hdr h;
	struct sg_family_hdr f;
	struct wire_r r;

	wire_r_init(&r, p, len);
	if (msg_get_snapshot_hdr(&r, &h) < 0)
		return -1;
	for (uint16_t i = 0; i < h.nfamilies; i++) {
		if (msg_get_family(&r, &f) < 0)
			return -1;
		for (uint32_t j = 0; j < f.nseries; j++) {
			if (msg_get_series(&r, &f, h.now_ns, &S.scratch) < 0)
				return -1;
			if (fn != NULL)
				fn(&f, &S.scratch, h.now_ns);
		}
	}
	return wire_r_done(&r) ? 0 : -1;
}

/* A dead collector's counter or histogram series joins the base; gauges
 * (target_info, ...) describe the present and are not carried, nor are
 * counters its successor reads whole again (process CPU time). */
static void
base_absorb_series(const struct sg_family_hdr *f, const struct sg_series *se,
    uint64_t now_ns)
{
	int bf;

	if (f->type != SG_METRIC_GAUGE && !(f->flags & SG_FAMILY_OBSERVED) &&
	    (bf = base_family(f)) >= 0)
		base_add(bf, f, se, now_ns);
}

/* The first snapshot of a collector that took events closes the gap a
 * dead one left: the events numbered in between died with it. */
static void
gap_close(const struct sg_snapshot_hdr *h)
{
	uint64_t lost;

	if (!S.gap_open || h->ev_next == 0)
		return;
	S.gap_open = false;
	if (h->ev_first <= S.gap_from)
		return;
	lost = h->ev_first - S.gap_from;
	S.lost_exit += lost;
	sg_log(SG_LOG_WARN, "%" PRIu64 " events died with a collector before "
	    "it counted them (spyglass_events_lost_total{stage="
	    "\"collector_exit\"})", lost);
}

int
snapshot_collector(const uint8_t *payload, size_t len)
{
	struct sg_snapshot_hdr h;
	struct wire_r r;
	uint8_t *copy;

	if (snapshot_walk(payload, len, NULL) < 0)
		return -1;
	if ((copy = malloc(len)) == NULL)
		return 0;   /* the previous one is served instead */
	memcpy(copy, payload, len);
	wire_r_init(&r, copy, len);
	(void)msg_get_snapshot_hdr(&r, &h);
	gap_close(&h);
	if (S.generations == 0)
		S.generations = 1;
	free(S.coll);
	S.coll = copy;
	S.coll_len = len;
	S.coll_ev_next = h.ev_next;
	return 0;
}

/* The dead collector's own counters join their base, so that they do not
 * go down either; its gauges describe the present and start again. */
static void
self_absorb(uint64_t *self)
{
	for (int i = 0; i < SG_SELF_MAX; i++)
		if (sg_self[i].source == SG_SELF_COLLECTOR) {
			if (sg_self[i].type == SG_METRIC_COUNTER)
				S.self_base[i] += self[i];
			self[i] = 0;
		}
}

void
snapshot_collector_gone(uint64_t *self)
{
	/* What it counted ends where its last snapshot said; one that took
	 * nothing leaves an earlier gap open, to be closed by the first
	 * successor that takes events. */
	if (S.coll_ev_next != 0) {
		S.gap_from = S.coll_ev_next;
		S.gap_open = true;
	}
	S.coll_ev_next = 0;
	self_absorb(self);
	if (S.coll == NULL)
		return;
	(void)snapshot_walk(S.coll, S.coll_len, base_absorb_series);
	free(S.coll);
	S.coll = NULL;
	S.coll_len = 0;
	S.generations++;
	sg_log(SG_LOG_INFO, "a new collector: its counts continue those of "
	    "the %u before it", S.generations - 1);
}

/* Write series se of family f (base family bf, or -1) with what the base
 * holds for it added. */
static void
put_merged(struct wire_w *w, const struct sg_family_hdr *f, int bf,
    struct sg_series *se)
{
	char key[KEY_MAX];
	struct base_entry *e = NULL;

	if (bf >= 0 && S.nbase > 0)
		e = base_find(key, series_key(f->prom_name, se, key,
		    sizeof(key)), false);
	if (e != NULL) {
		e->used = true;
		if (e->start_ns < se->start_ns)
			se->start_ns = e->start_ns;
		se->value_f += e->value;
		se->count += e->count;
		se->sum += e->sum;
		for (uint16_t b = 0; e->buckets != NULL && b <= f->nbounds; b++)
			se->buckets[b] += e->buckets[b];
	}
	msg_put_series(w, f, se);
}

/* The labels of a base entry back into se. */
static void
base_series(const struct base_entry *e, struct sg_series *se, uint16_t nbounds,
    uint64_t now_ns)
{
	const char *p = strchr(e->key, '\x1f');

	memset(se, 0, sizeof(*se));
	while (p != NULL && se->nlabels < SG_MAX_LABELS) {
		const char *eq = strchr(p + 1, '='), *end = strchr(p + 1, '\x1f');
		size_t vlen;

		if (eq == NULL)
			break;
		vlen = end != NULL ? (size_t)(end - eq - 1) : strlen(eq + 1);
		snprintf(se->key[se->nlabels], sizeof(se->key[0]), "%.*s",
		    (int)(eq - p - 1), p + 1);
		snprintf(se->value[se->nlabels], sizeof(se->value[0]), "%.*s",
		    (int)vlen, eq + 1);
		se->nlabels++;
		p = end;
	}
	/* It ages from its last update: each export's ttl retires it. */
	se->start_ns = e->start_ns <= now_ns ? e->start_ns : now_ns;
	se->idle_ns = now_ns > e->updated_ns ? now_ns - e->updated_ns : 0;
	se->value_f = e->value;
	se->count = e->count;
	se->sum = e->sum;
	if (e->buckets != NULL)
		memcpy(se->buckets, e->buckets, (nbounds + 1u) * sizeof(uint64_t));
}

/* Family f of the collector's snapshot (at r, after its header), merged
 * with the base: its series plus the base's that it no longer has. */
static int
put_family_merged(struct wire_w *w, struct wire_r *r, struct sg_family_hdr *f,
    uint64_t snap_ns, uint64_t now_ns)
{
	struct wire_r start = *r;
	int bf = -1;
	uint32_t extra = 0;

	for (uint16_t i = 0; i < S.nfam; i++)
		if (strcmp(S.fam[i].prom_name, f->prom_name) == 0 &&
		    same_buckets(&S.fam[i], f))
			bf = i;
	/* Pass 1: which base series the collector has again. */
	for (uint32_t j = 0; j < f->nseries; j++) {
		char key[KEY_MAX];
		struct base_entry *e;

		if (msg_get_series(r, f, snap_ns, &S.scratch) < 0)
			return -1;
		if (bf >= 0 && (e = base_find(key, series_key(f->prom_name,
		    &S.scratch, key, sizeof(key)), false)) != NULL)
			e->used = true;
	}
	for (size_t i = 0; bf >= 0 && i < NSLOTS; i++)
		extra += S.slots[i].hash != 0 && S.slots[i].fam == bf &&
		    !S.slots[i].used;
	f->nseries += extra;
	msg_put_family(w, f);
	f->nseries -= extra;
	/* Pass 2: write them, then the base's own. */
	*r = start;
	for (uint32_t j = 0; j < f->nseries; j++) {
		if (msg_get_series(r, f, snap_ns, &S.scratch) < 0)
			return -1;
		put_merged(w, f, bf, &S.scratch);
	}
	for (size_t i = 0; bf >= 0 && i < NSLOTS; i++) {
		struct base_entry *e = &S.slots[i];

		if (e->hash != 0 && e->fam == bf && !e->used) {
			base_series(e, &S.scratch, f->nbounds, now_ns);
			msg_put_series(w, f, &S.scratch);
		}
		e->used = false;
	}
	return 0;
}

/* Between a collector's death and its successor's first snapshot: the
 * base alone, so that nothing counted goes missing meanwhile. */
static uint16_t
put_base_only(struct wire_w *w, uint64_t now_ns)
{
	for (uint16_t i = 0; i < S.nfam; i++) {
		struct sg_family_hdr f = S.fam[i];

		f.nseries = 0;
		for (size_t j = 0; S.slots != NULL && j < NSLOTS; j++)
			f.nseries += S.slots[j].hash != 0 && S.slots[j].fam == i;
		msg_put_family(w, &f);
		for (size_t j = 0; S.slots != NULL && j < NSLOTS; j++)
			if (S.slots[j].hash != 0 && S.slots[j].fam == i) {
				base_series(&S.slots[j], &S.scratch, f.nbounds,
				    now_ns);
				msg_put_series(w, &f, &S.scratch);
			}
	}
	return S.nfam;
}

/* The collector's families into w, merged with the base when there is
 * one; how many. */
static uint16_t
put_collector(struct wire_w *w, uint64_t now_ns)
{
	struct sg_snapshot_hdr h;
	struct sg_family_hdr f;
	struct wire_r r;

	if (S.coll == NULL)
		return put_base_only(w, now_ns);
	wire_r_init(&r, S.coll, S.coll_len);
	if (msg_get_snapshot_hdr(&r, &h) < 0)
		return 0;
	if (S.nbase == 0) {   /* no restart yet: the families as they are */
		wire_put_bytes(w, S.coll + r.off, S.coll_len - r.off);
		return h.nfamilies;
	}
	for (uint16_t i = 0; i < h.nfamilies; i++)
		if (msg_get_family(&r, &f) < 0 ||
		    put_family_merged(w, &r, &f, h.now_ns, now_ns) < 0) {
			w->err = 1;
			return 0;
		}
	return h.nfamilies;
}

/* The snapshot into a buffer of cap bytes: its length, 0 if too small. */
static size_t
snapshot_put(uint8_t *buf, size_t cap, const uint64_t *self, uint64_t now_ns)
{
	struct sg_snapshot_hdr h = { .now_ns = now_ns };
	uint64_t sum[SG_SELF_MAX];
	struct wire_w w, hw;

	for (int i = 0; i < SG_SELF_MAX; i++)
		sum[i] = S.self_base[i] + self[i];
	sum[SG_SELF_LOST_COLLECTOR_EXIT] += S.lost_exit;
	wire_w_init(&w, buf, cap);
	msg_put_snapshot_hdr(&w, &h);
	h.nfamilies = put_collector(&w, now_ns);
	self_put_families(&w, sum, S.self_start);
	if (w.err)
		return 0;
	/* The family count, now known, over the header's placeholder. */
	h.nfamilies = (uint16_t)(h.nfamilies + self_nfamilies());
	wire_w_init(&hw, buf, cap);
	msg_put_snapshot_hdr(&hw, &h);
	return w.len;
}

uint8_t *
snapshot_build(const uint64_t *self, uint64_t now_ns, size_t *len)
{
	/* The collector's families, merged ones a little larger, then the
	 * self-metrics (a few KB); twice as much while that is short. */
	size_t cap = S.coll_len + S.nbase * 512 + 16 * 1024;

	if (S.self_start == 0)
		S.self_start = now_ns;
	for (int tries = 0; tries < 4; tries++, cap *= 2) {
		uint8_t *buf = malloc(cap);

		if (buf == NULL)
			return NULL;
		if ((*len = snapshot_put(buf, cap, self, now_ns)) > 0)
			return buf;
		free(buf);
	}
	sg_log(SG_LOG_WARN, "snapshot: larger than %zu bytes", cap / 2);
	return NULL;
}

unsigned
snapshot_generations(void)
{
	return S.generations;
}

void
snapshot_free(void)
{
	for (size_t i = 0; S.slots != NULL && i < NSLOTS; i++) {
		free(S.slots[i].key);
		free(S.slots[i].buckets);
	}
	free(S.slots);
	free(S.coll);
	memset(&S, 0, sizeof(S));
}
