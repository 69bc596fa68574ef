/*
 * Fuzz target for HPACK decoding (collector/protocols/hpack*.c).
 *
 * Two decoders see the same header blocks: the sensor's, which is also
 * made to miss blocks, see them cut short or in pieces, and forget its
 * table; and a reference that sees every block whole and keeps the whole
 * table (simple, slow, allocating: here only).  Checked after every step:
 *  - the sensor's state and counters keep their invariants;
 *  - the known entries of the sensor are the reference's newest ones,
 *    and when it claims to know the whole table, it holds all of them;
 *  - when the reference decodes a block without error, the sensor given
 *    it whole does too, with the same fields, save those it flags
 *    unknown, or cut (then a prefix).  Fields before either's error
 *    agree the same way.
 * A broken one aborts so that the fuzzer reports it.
 *
 * Input: octet 0 picks the settings limit, then records: op, length (2
 * octets, big-endian), that many octets (fewer at the end).  op & 7:
 *   0, 1     a block, whole;
 *   2        the block in pieces of (op >> 3 & 15) + 1 octets, with empty
 *            pieces between them if op & 0x80;
 *   3        a block the sensor misses;
 *   4        a block cut after (op >> 3 & 7) eighths for the sensor;
 *   5        the sensor forgets (no block);
 *   6        a new settings limit (payload octets 0-2); if op & 8, a
 *            higher one is taken by the reference's peer at once;
 *   7        no payload: a block built here, one literal added to the
 *            table, its name the octet op, its value as many octets as
 *            the length says, modulo 8 KB (large entries, from small
 *            inputs).
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NAME "fuzz_hpack"
#include "fuzz.h"
#include "hpack.h"
#include "hpack_huffman.h"

#define FZ_LIMIT_MAX	65536
#define FZ_LARGE_MAX	8192	/* value of op 7: twice what the ring holds */
#define RF_MAX_ENTRIES	(FZ_LIMIT_MAX / HPACK_ENTRY_OVERHEAD)

struct fz_field {
	uint8_t  *name;
	uint8_t  *value;
	size_t    nlen;
	size_t    vlen;
	unsigned  flags;
};

struct fz_fields {
	struct fz_field	*f;
	size_t		 n;
	size_t		 cap;
	size_t		 octets;	/* of the block: fields take one each */
};

struct rf_entry {
	uint8_t *name;
	uint8_t *value;
	size_t   nlen;
	size_t   vlen;
};

/* The reference: entries newest first. */
struct rf {
	struct rf_entry	e[RF_MAX_ENTRIES];
	size_t		n;
	size_t		size;
	uint32_t	max;
	uint32_t	limit;
};

static const uint32_t fz_limits[8] = {
	4096, 256, 0, 31, 100, 4096, 8192, FZ_LIMIT_MAX
};

static struct rf ref;
static struct hpack_decoder sen;
static uint64_t sen_fields;	/* fields the sensor delivered */

static uint8_t *
fz_dup(const void *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	fz_check(d != NULL, "out of memory");
	memcpy(d, p, n);
	return d;
}

static void
fz_add(struct fz_fields *fs, const void *name, size_t nlen,
    const void *value, size_t vlen, unsigned flags)
{
	struct fz_field *f;

	fz_check(fs->n < fs->octets, "more fields than octets");
	if (fs->n == fs->cap) {
		fs->cap = fs->cap == 0 ? 16 : 2 * fs->cap;
		fs->f = realloc(fs->f, fs->cap * sizeof(*fs->f));
		fz_check(fs->f != NULL, "out of memory");
	}
	f = &fs->f[fs->n++];
	f->name = fz_dup(name, nlen);
	f->value = fz_dup(value, vlen);
	f->nlen = nlen;
	f->vlen = vlen;
	f->flags = flags;
}

static void
fz_fields_init(struct fz_fields *fs, size_t octets)
{
	fs->f = NULL;
	fs->n = 0;
	fs->cap = 0;
	fs->octets = octets;
}

static void
fz_fields_free(struct fz_fields *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++) {
		free(fs->f[i].name);
		free(fs->f[i].value);
	}
	free(fs->f);
}

/* ---- the reference decoder */

static void
rf_drop_oldest(struct rf *r)
{
	struct rf_entry *e = &r->e[r->n - 1];

	r->size -= e->nlen + e->vlen + HPACK_ENTRY_OVERHEAD;
	free(e->name);
	free(e->value);
	r->n--;
}

static void
rf_fit(struct rf *r, size_t extra)
{
	while (r->n > 0 && r->size + extra > r->max)
		rf_drop_oldest(r);
}

static void
rf_insert(struct rf *r, const struct fz_field *f)
{
	size_t size = f->nlen + f->vlen + HPACK_ENTRY_OVERHEAD;

	if (size > r->max) {
		rf_fit(r, r->max + 1);
		return;
	}
	rf_fit(r, size);
	fz_check(r->n < RF_MAX_ENTRIES, "reference entries");
	memmove(&r->e[1], &r->e[0], r->n * sizeof(r->e[0]));
	r->e[0].name = fz_dup(f->name, f->nlen);
	r->e[0].value = fz_dup(f->value, f->vlen);
	r->e[0].nlen = f->nlen;
	r->e[0].vlen = f->vlen;
	r->n++;
	r->size += size;
}

static int
rf_int(const uint8_t *p, size_t n, size_t *pos, unsigned prefix,
    uint32_t *v)
{
	int used = hpack_int_decode(p + *pos, n - *pos, prefix, v);

	if (used > 0)
		*pos += (size_t)used;
	return used < 0 ? used : 0;
}

static int
rf_string(const uint8_t *p, size_t n, size_t *pos, uint8_t **s,
    size_t *len)
{
	struct hpack_huff h;
	int huffman, rc;
	uint32_t slen;
	size_t cap;

	if (*pos >= n)
		return HPACK_E_TRUNCATED;
	huffman = p[*pos] & 0x80;
	if ((rc = rf_int(p, n, pos, 7, &slen)) != 0)
		return rc;
	if (slen > n - *pos)
		return HPACK_E_STRING;
	if (!huffman) {
		*s = fz_dup(p + *pos, slen);
		*len = slen;
		*pos += slen;
		return 0;
	}
	cap = (size_t)slen * 8 / 5 + 1;
	*s = malloc(cap + 1);
	fz_check(*s != NULL, "out of memory");
	hpack_huff_start(&h);
	hpack_huff_feed(&h, p + *pos, slen, (char *)*s, cap);
	*pos += slen;
	fz_check(h.len <= cap, "Huffman output bound");
	*len = h.len;
	if (!hpack_huff_done(&h)) {
		free(*s);
		return HPACK_E_HUFFMAN;
	}
	return 0;
}

/* Index to field; static entries come from the decoder's table. */
static int
rf_get(const struct rf *r, uint32_t index, struct fz_field *f)
{
	static struct hpack_table none;
	struct hpack_field sf;

	if (index == 0 || index > HPACK_STATIC_ENTRIES + r->n)
		return HPACK_E_INDEX;
	if (index > HPACK_STATIC_ENTRIES) {
		const struct rf_entry *e =
		    &r->e[index - HPACK_STATIC_ENTRIES - 1];

		f->name = fz_dup(e->name, e->nlen);
		f->value = fz_dup(e->value, e->vlen);
		f->nlen = e->nlen;
		f->vlen = e->vlen;
		return 0;
	}
	sf.flags = 0;
	fz_check(hpack_table_get(&none, index, &sf, NULL, NULL),
	    "static entry");
	f->name = fz_dup(sf.name, sf.nlen);
	f->value = fz_dup(sf.value, sf.vlen);
	f->nlen = sf.nlen;
	f->vlen = sf.vlen;
	return 0;
}

static int
rf_literal(struct rf *r, const uint8_t *p, size_t n, size_t *pos,
    struct fz_fields *out)
{
	struct fz_field f = { NULL, NULL, 0, 0, 0 };
	unsigned first = p[*pos];
	unsigned prefix = (first & 0x40) ? 6 : 4;
	uint32_t index;
	int rc;

	if ((rc = rf_int(p, n, pos, prefix, &index)) != 0)
		return rc;
	if (!(first & 0x40) && (first & 0x10))
		f.flags = HPACK_FIELD_NEVER_INDEXED;
	if (index == 0)
		rc = rf_string(p, n, pos, &f.name, &f.nlen);
	else
		rc = rf_get(r, index, &f);
	if (rc != 0)
		return rc;
	free(f.value);
	f.value = NULL;
	if ((rc = rf_string(p, n, pos, &f.value, &f.vlen)) != 0) {
		free(f.name);
		return rc;
	}
	fz_add(out, f.name, f.nlen, f.value, f.vlen, f.flags);
	if (first & 0x40)
		rf_insert(r, &f);
	free(f.name);
	free(f.value);
	return 0;
}

static int
rf_decode(struct rf *r, const uint8_t *p, size_t n, struct fz_fields *out)
{
	struct fz_field f;
	size_t pos = 0;
	uint32_t v;
	int rc;

	while (pos < n) {
		if (p[pos] & 0x80) {
			if ((rc = rf_int(p, n, &pos, 7, &v)) != 0 ||
			    (rc = rf_get(r, v, &f)) != 0)
				return rc;
			fz_add(out, f.name, f.nlen, f.value, f.vlen, 0);
			free(f.name);
			free(f.value);
		} else if ((p[pos] & 0xe0) == 0x20) {
			if (out->n > 0)
				return HPACK_E_LATE_UPDATE;
			if ((rc = rf_int(p, n, &pos, 5, &v)) != 0)
				return rc;
			if (v > r->limit)
				return HPACK_E_SIZE_UPDATE;
			r->max = v;
			rf_fit(r, 0);
		} else if ((rc = rf_literal(r, p, n, &pos, out)) != 0) {
			return rc;
		}
	}
	return 0;
}

static void
rf_set_limit(struct rf *r, uint32_t limit, int take)
{
	if (limit < r->max || (limit > r->limit && take))
		r->max = limit;
	r->limit = limit;
	rf_fit(r, 0);
}

static void
rf_clear(struct rf *r)
{
	while (r->n > 0)
		rf_drop_oldest(r);
}

/* ---- the sensor */

static void
fz_sensor_field(void *ctx, const char *name, size_t nlen, const char *value,
    size_t vlen, unsigned flags)
{
	fz_check((flags & ~HPACK_FIELD_FLAGS) == 0, "flags");
	fz_check(!(flags & HPACK_FIELD_NAME_UNKNOWN) || nlen == 0,
	    "unknown name has a length");
	fz_check(!(flags & HPACK_FIELD_VALUE_UNKNOWN) || vlen == 0,
	    "unknown value has a length");
	fz_check(!(flags & HPACK_FIELD_VALUE_UNKNOWN) ||
	    (flags & HPACK_FIELD_NAME_UNKNOWN), "value unknown, name known");
	fz_check(!(flags & HPACK_FIELD_NAME_TRUNCATED) ||
	    nlen == HPACK_STRING_MAX, "cut name length");
	fz_check(!(flags & HPACK_FIELD_VALUE_TRUNCATED) ||
	    vlen == HPACK_STRING_MAX, "cut value length");
	sen_fields++;
	fz_add(ctx, name, nlen, value, vlen, flags);
}

/* The octets of ring[] from pos, wrapping, equal p? */
static int
fz_ring_equal(const struct hpack_table *t, unsigned pos, const uint8_t *p,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t->ring[(pos + i) % HPACK_RING_SIZE] != p[i])
			return 0;
	return 1;
}

/* The known entries lie back to back, oldest first, ending at wpos; they
 * are the reference's newest; the bounds hold. */
static void
fz_check_table(void)
{
	const struct hpack_table *t = &sen.table;
	const struct hpack_entry *e;
	const struct rf_entry *re;
	uint32_t size = 0, nlen;
	unsigned pos, i, used = 0;

	fz_check(t->known_size <= t->max_size, "known_size over max_size");
	fz_check(t->max_size <= t->settings_max, "max_size over the limit");
	fz_check(t->settings_max == ref.limit, "limit");
	fz_check(t->max_size >= ref.max, "max_size below the peer's");
	fz_check(t->count <= HPACK_MAX_ENTRIES && t->used <= HPACK_RING_SIZE &&
	    t->wpos < HPACK_RING_SIZE && t->oldest < HPACK_MAX_ENTRIES,
	    "table bounds");
	fz_check(t->max_size - t->known_size >= HPACK_ENTRY_OVERHEAD ||
	    !t->older_unknown, "older entries in no room");
	fz_check(t->older_unknown || t->count >= ref.n,
	    "complete table lacks entries");
	pos = (t->wpos + HPACK_RING_SIZE - t->used) % HPACK_RING_SIZE;
	for (i = 0; i < t->count; i++) {
		e = &t->ent[(t->oldest + i) % HPACK_MAX_ENTRIES];
		nlen = e->nlen == HPACK_NAME_UNKNOWN ? 0 : e->nlen;
		fz_check(e->off == pos, "entries back to back");
		pos = (pos + nlen + e->vlen) % HPACK_RING_SIZE;
		used += nlen + e->vlen;
		size += nlen + e->vlen + HPACK_ENTRY_OVERHEAD;
		/* dynamic index t->count - i */
		if (t->count - i > ref.n)
			continue;
		re = &ref.e[t->count - i - 1];
		fz_check(e->vlen == re->vlen &&
		    fz_ring_equal(t, (e->off + nlen) % HPACK_RING_SIZE,
		    re->value, re->vlen), "entry value");
		fz_check(e->nlen == HPACK_NAME_UNKNOWN || (e->nlen ==
		    re->nlen && fz_ring_equal(t, e->off, re->name, re->nlen)),
		    "entry name");
	}
	fz_check(pos == t->wpos, "entries end at wpos");
	fz_check(used == t->used, "used");
	fz_check(size == t->known_size, "known_size");
}

static void
fz_check_counters(void)
{
	const struct hpack_counters *c = &sen.counters;

	fz_check(c->fields == sen_fields, "fields counted");
	fz_check(c->unknown <= c->fields && c->truncated <= c->fields,
	    "unknown, truncated");
	fz_check(c->errors <= c->blocks, "errors");
}

static int
fz_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    int unknown, int cut)
{
	if (unknown)
		return 1;
	if (cut)
		return alen < blen && memcmp(a, b, alen) == 0;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* The fields both delivered agree, save what the sensor flags. */
static void
fz_compare(const struct fz_fields *s, const struct fz_fields *r)
{
	const struct fz_field *a, *b;
	size_t i;

	for (i = 0; i < s->n && i < r->n; i++) {
		a = &s->f[i];
		b = &r->f[i];
		fz_check(fz_same(a->name, a->nlen, b->name, b->nlen,
		    a->flags & HPACK_FIELD_NAME_UNKNOWN,
		    a->flags & HPACK_FIELD_NAME_TRUNCATED), "field name");
		fz_check(fz_same(a->value, a->vlen, b->value, b->vlen,
		    a->flags & HPACK_FIELD_VALUE_UNKNOWN,
		    a->flags & HPACK_FIELD_VALUE_TRUNCATED), "field value");
		fz_check((a->flags & HPACK_FIELD_NEVER_INDEXED) == b->flags,
		    "never indexed");
	}
}

/* The block in pieces of `piece` octets, empty pieces between if asked. */
static int
fz_decode_pieces(const uint8_t *p, size_t n, size_t piece, int empties,
    struct fz_fields *out)
{
	struct hpack_frag *frags;
	size_t nfrags = 0, at;
	int rc;

	frags = calloc(2 * (n / piece + 1), sizeof(*frags));
	fz_check(frags != NULL, "out of memory");
	for (at = 0; at < n; at += piece) {
		frags[nfrags].data = p + at;
		frags[nfrags++].len = n - at < piece ? n - at : piece;
		if (empties)
			frags[nfrags++].len = 0;
	}
	rc = hpack_decode(&sen, frags, nfrags, fz_sensor_field, out);
	free(frags);
	return rc;
}

static void
fz_block(int op, const uint8_t *p, size_t n)
{
	struct fz_fields rf_out, sen_out;
	int rrc, src = HPACK_OK, whole = 1;

	fz_fields_init(&rf_out, n);
	fz_fields_init(&sen_out, n);
	rrc = rf_decode(&ref, p, n, &rf_out);
	switch (op & 7) {
	case 2:
		src = fz_decode_pieces(p, n, (size_t)((op >> 3) & 15) + 1,
		    op & 0x80, &sen_out);
		break;
	case 3:
		hpack_mark_unknown(&sen);
		whole = 0;
		break;
	case 4:
		src = hpack_decode_block(&sen, p, n * ((op >> 3) & 7) / 8,
		    fz_sensor_field, &sen_out);
		hpack_mark_unknown(&sen);
		whole = 0;
		break;
	default:
		src = hpack_decode_block(&sen, p, n, fz_sensor_field,
		    &sen_out);
		break;
	}
	fz_compare(&sen_out, &rf_out);
	if (src != HPACK_OK)
		fz_check(sen.table.count == 0, "an error keeps entries");
	if (whole && rrc == HPACK_OK) {
		fz_check(src == HPACK_OK, "sensor fails a valid block");
		fz_check(sen_out.n == rf_out.n, "field count");
	}
	/* whatever a failed block did to the peer's table is not known */
	if (rrc != HPACK_OK)
		hpack_mark_unknown(&sen);
	fz_fields_free(&rf_out);
	fz_fields_free(&sen_out);
}

static void
fz_large_entry(int op, size_t vlen)
{
	uint8_t *block = malloc(vlen + 8);
	size_t n = 0, v;

	fz_check(block != NULL, "out of memory");
	block[n++] = 0x40;
	block[n++] = 1;
	block[n++] = (uint8_t)op;
	if (vlen < 127) {
		block[n++] = (uint8_t)vlen;
	} else {
		block[n++] = 0x7f;
		for (v = vlen - 127; v >= 128; v >>= 7)
			block[n++] = (uint8_t)(0x80 | (v & 0x7f));
		block[n++] = (uint8_t)v;
	}
	memset(block + n, 'v', vlen);
	fz_block(0, block, n + vlen);
	free(block);
}

static void
fz_settings(int op, const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < n && i < 3; i++)
		v = v << 8 | p[i];
	v %= FZ_LIMIT_MAX + 1;
	rf_set_limit(&ref, v, op & 8);
	hpack_set_settings_max(&sen, v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	const uint8_t *p;
	int sel, op, hi, lo;
	size_t n;

	if ((sel = fz_byte(&in)) < 0)
		return 0;
	hpack_decoder_init(&sen, fz_limits[sel & 7]);
	sen_fields = 0;
	ref.limit = ref.max = fz_limits[sel & 7];
	while ((op = fz_byte(&in)) >= 0 && (hi = fz_byte(&in)) >= 0 &&
	    (lo = fz_byte(&in)) >= 0) {
		if ((op & 7) == 7) {
			fz_large_entry(op, (size_t)(hi << 8 | lo) %
			    FZ_LARGE_MAX);
			fz_check_table();
			fz_check_counters();
			continue;
		}
		p = fz_take(&in, (size_t)(hi << 8 | lo), &n);
		switch (op & 7) {
		case 5:
			hpack_mark_unknown(&sen);
			break;
		case 6:
			fz_settings(op, p, n);
			break;
		default:
			fz_block(op, p, n);
			break;
		}
		fz_check_table();
		fz_check_counters();
	}
	rf_clear(&ref);
	return 0;
}
