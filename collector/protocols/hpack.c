/*
 * HPACK header block decoding (see hpack.h): representations, integers
 * and string literals, read from a block that may come in pieces.
 *
 * The block is read through a cursor over its pieces.  Most of what is
 * read lies within one piece and is used in place; only an integer or a
 * string that straddles two pieces is gathered, into a small buffer or
 * into the block's string buffers.  Every representation consumes at
 * least its first octet, so the loop over a block ends.
 */
#include "hpack.h"

#include <string.h>

#include "hpack_huffman.h"

/* A string longer than the ring is never stored, so a string cut to
 * HPACK_STRING_MAX is never stored cut. */
_Static_assert(HPACK_STRING_MAX >= HPACK_RING_SIZE,
    "strings kept whole up to what the ring holds");

/* The block: piece [p, end), the pieces after it, and their octets. */
struct hp_in {
	const uint8_t           *p;
	const uint8_t           *end;
	const struct hpack_frag *next;
	size_t                   nnext;
	size_t                   rest;
};

struct hp_block {
	struct hpack_decoder *d;
	hpack_field_fn        fn;
	void                 *ctx;
	struct hp_in          in;
	bool                  fields;	/* a field was seen: no size update */
	char                  nbuf[HPACK_STRING_MAX + 1];
	char                  vbuf[HPACK_STRING_MAX + 1];
};

static const uint8_t hp_nothing[1];

static void
hp_in_start(struct hp_in *in, const struct hpack_frag *frags, size_t nfrags)
{
	size_t i;

	in->p = in->end = hp_nothing;
	in->next = frags;
	in->nnext = nfrags;
	in->rest = 0;
	for (i = 0; i < nfrags; i++)
		in->rest += frags[i].len;
}

/* Moves to the next piece that is not empty. */
static bool
hp_in_advance(struct hp_in *in)
{
	const struct hpack_frag *f;

	for (; in->nnext > 0; in->nnext--) {
		f = in->next++;
		in->rest -= f->len;
		if (f->len > 0) {
			in->p = f->data;
			in->end = f->data + f->len;
			in->nnext--;
			return true;
		}
	}
	return false;
}

/* Whether an octet is at in->p. */
static inline bool
hp_in_ready(struct hp_in *in)
{
	return in->p < in->end || hp_in_advance(in);
}

static inline size_t
hp_in_here(const struct hp_in *in)
{
	return (size_t)(in->end - in->p);
}

static size_t
hp_in_left(const struct hp_in *in)
{
	return hp_in_here(in) + in->rest;
}

/* Copies up to cap octets from the cursor without consuming them. */
static size_t
hp_in_peek(const struct hp_in *in, uint8_t *buf, size_t cap)
{
	struct hp_in c = *in;
	size_t n = 0;

	while (n < cap && hp_in_ready(&c))
		buf[n++] = *c.p++;
	return n;
}

/* Consumes n octets, copying the first cap of them into buf (may be NULL
 * with cap 0).  Returns the octets copied. */
static size_t
hp_in_take(struct hp_in *in, size_t n, char *buf, size_t cap)
{
	size_t take, kept = 0, copy;

	while (n > 0 && hp_in_ready(in)) {
		take = n < hp_in_here(in) ? n : hp_in_here(in);
		if (kept < cap) {
			copy = take < cap - kept ? take : cap - kept;
			memcpy(buf + kept, in->p, copy);
			kept += copy;
		}
		in->p += take;
		n -= take;
	}
	return kept;
}

int
hpack_int_decode(const uint8_t *p, size_t n, unsigned prefix_bits,
    uint32_t *v)
{
	uint32_t mask, x;
	size_t i;

	if (prefix_bits < 1 || prefix_bits > 8)
		return HPACK_E_INTEGER;
	if (n == 0)
		return HPACK_E_TRUNCATED;
	mask = (1u << prefix_bits) - 1;
	if ((x = p[0] & mask) < mask) {
		*v = x;
		return 1;
	}
	for (i = 1; i < HPACK_INT_MAX_OCTETS; i++) {
		if (i == n)
			return HPACK_E_TRUNCATED;
		x += (uint32_t)(p[i] & 0x7f) << (7 * (i - 1));
		if ((p[i] & 0x80) == 0) {
			if (x > HPACK_INT_MAX)
				return HPACK_E_INTEGER;
			*v = x;
			return (int)i + 1;
		}
	}
	return HPACK_E_INTEGER;
}

/* An integer longer than its prefix; one that straddles pieces is
 * gathered first. */
static int
hp_read_long_int(struct hp_in *in, unsigned prefix_bits, uint32_t *v)
{
	uint8_t buf[HPACK_INT_MAX_OCTETS];
	const uint8_t *p = in->p;
	size_t n = hp_in_here(in);
	int used;

	if (n < sizeof(buf) && in->rest > 0) {
		n = hp_in_peek(in, buf, sizeof(buf));
		p = buf;
	}
	if ((used = hpack_int_decode(p, n, prefix_bits, v)) < 0)
		return used;
	(void)hp_in_take(in, (size_t)used, NULL, 0);
	return 0;
}

/* An integer at the cursor, which must be ready.  Most fit in their
 * prefix: that case is inline. */
static inline int
hp_read_int(struct hp_in *in, unsigned prefix_bits, uint32_t *v)
{
	uint32_t mask = (1u << prefix_bits) - 1;

	if ((*in->p & mask) < mask) {
		*v = *in->p++ & mask;
		return 0;
	}
	return hp_read_long_int(in, prefix_bits, v);
}

/*
 * Short Huffman strings decoded lately, by their code.  A server codes the
 * same values anew in every response (nginx: its name, the date, the
 * content type), and decoding them was an eighth of the collector's time
 * under h2load; a string found here is copied instead.  Only valid codes
 * are kept.  Per thread, so that no two decoders share one.
 */
#define HP_MEMO_N	8
#define HP_MEMO_CODE	48	/* the longest code kept */

struct hp_memo {
	uint8_t n;		/* code octets; 0: empty */
	uint8_t len;		/* decoded octets */
	uint8_t code[HP_MEMO_CODE];
	char    text[HP_MEMO_CODE * 8 / 5];   /* codes are 5 bits or more */
};

static _Thread_local struct hp_memo hp_memo[HP_MEMO_N];
static _Thread_local unsigned hp_memo_next;

static const struct hp_memo *
hp_memo_find(const uint8_t *code, size_t n)
{
	for (size_t i = 0; i < HP_MEMO_N; i++)
		if (hp_memo[i].n == n && memcmp(hp_memo[i].code, code, n) == 0)
			return &hp_memo[i];
	return NULL;
}

static void
hp_memo_keep(const uint8_t *code, size_t n, const char *text, size_t len)
{
	struct hp_memo *m = &hp_memo[hp_memo_next];

	if (len > sizeof(m->text))
		return;
	hp_memo_next = (hp_memo_next + 1) % HP_MEMO_N;
	m->n = (uint8_t)n;
	m->len = (uint8_t)len;
	memcpy(m->code, code, n);
	memcpy(m->text, text, len);
}

/* n octets (no more than are left) of Huffman code, decoded into buf. */
static int
hp_read_huffman(struct hp_in *in, size_t n, char *buf, const char **s,
    uint32_t *len, uint32_t *size)
{
	const uint8_t *code = in->p;
	size_t ncode = n;
	bool memo = n > 0 && n <= HP_MEMO_CODE && n <= hp_in_here(in);
	const struct hp_memo *m;
	struct hpack_huff h;
	size_t take;

	if (memo && (m = hp_memo_find(code, n)) != NULL) {
		memcpy(buf, m->text, m->len);
		in->p += n;
		*s = buf;
		*size = *len = m->len;
		return 0;
	}
	hpack_huff_start(&h);
	while (n > 0 && hp_in_ready(in)) {
		take = n < hp_in_here(in) ? n : hp_in_here(in);
		hpack_huff_feed(&h, in->p, take, buf, HPACK_STRING_MAX);
		in->p += take;
		n -= take;
	}
	if (!hpack_huff_done(&h))
		return HPACK_E_HUFFMAN;
	if (memo)
		hp_memo_keep(code, ncode, buf, h.len);
	*s = buf;
	/* at most 8/5 of HPACK_INT_MAX octets: fits */
	*size = (uint32_t)h.len;
	*len = h.len < HPACK_STRING_MAX ? (uint32_t)h.len : HPACK_STRING_MAX;
	return 0;
}

/* A string literal: in place when it lies in one piece and is not
 * Huffman-coded, else in buf (HPACK_STRING_MAX + 1 octets). */
static int
hp_read_string(struct hp_in *in, char *buf, const char **s, uint32_t *len,
    uint32_t *size)
{
	uint32_t n;
	bool huffman;
	int rc;

	if (!hp_in_ready(in))
		return HPACK_E_TRUNCATED;
	huffman = (*in->p & 0x80) != 0;
	if ((rc = hp_read_int(in, 7, &n)) != 0)
		return rc;
	if (n > hp_in_left(in))
		return HPACK_E_STRING;
	if (huffman)
		return hp_read_huffman(in, n, buf, s, len, size);
	*size = n;
	if (n <= hp_in_here(in)) {
		*s = (const char *)in->p;
		*len = n;
		in->p += n;
		return 0;
	}
	*s = buf;
	*len = (uint32_t)hp_in_take(in, n, buf, HPACK_STRING_MAX);
	return 0;
}

static void
hp_deliver(struct hp_block *b, const struct hpack_field *f)
{
	struct hpack_counters *c = &b->d->counters;
	unsigned flags = f->flags & HPACK_FIELD_FLAGS;

	if (f->nlen < f->nsize)
		flags |= HPACK_FIELD_NAME_TRUNCATED;
	if (f->vlen < f->vsize)
		flags |= HPACK_FIELD_VALUE_TRUNCATED;
	c->fields++;
	if (flags & ~HPACK_FIELD_NEVER_INDEXED) {
		c->unknown += (flags & (HPACK_FIELD_NAME_UNKNOWN |
		    HPACK_FIELD_VALUE_UNKNOWN)) != 0;
		c->truncated += (flags & (HPACK_FIELD_NAME_TRUNCATED |
		    HPACK_FIELD_VALUE_TRUNCATED)) != 0;
	}
	b->fields = true;
	b->fn(b->ctx, f->name, f->nlen, f->value, f->vlen, flags);
}

static int
hp_indexed(struct hp_block *b)
{
	struct hpack_field f;
	uint32_t index;
	int rc;

	if ((rc = hp_read_int(&b->in, 7, &index)) != 0)
		return rc;
	f.flags = 0;
	if (!hpack_table_get(&b->d->table, index, &f, b->nbuf, b->vbuf))
		return HPACK_E_INDEX;
	hp_deliver(b, &f);
	return 0;
}

/* Literal field: name indexed (index > 0) or literal, then the value.
 * An indexed one is added to the table once delivered; a name still in
 * the ring is moved out first, as adding may overwrite it. */
static int
hp_literal(struct hp_block *b, unsigned prefix_bits, bool indexing,
    unsigned flags)
{
	struct hpack_field f;
	uint32_t index;
	int rc;

	if ((rc = hp_read_int(&b->in, prefix_bits, &index)) != 0)
		return rc;
	f.flags = flags;
	if (index == 0)
		rc = hp_read_string(&b->in, b->nbuf, &f.name, &f.nlen,
		    &f.nsize);
	else if (!hpack_table_get(&b->d->table, index, &f, b->nbuf, NULL))
		rc = HPACK_E_INDEX;
	if (rc == 0)
		rc = hp_read_string(&b->in, b->vbuf, &f.value, &f.vlen,
		    &f.vsize);
	if (rc != 0)
		return rc;
	hp_deliver(b, &f);
	if (!indexing)
		return 0;
	if (f.flags & HPACK_TABLE_NAME_IN_RING) {
		memcpy(b->nbuf, f.name, f.nlen);
		f.name = b->nbuf;
	}
	hpack_table_insert(&b->d->table, &f);
	return 0;
}

static int
hp_size_update(struct hp_block *b)
{
	uint32_t size;
	int rc;

	if (b->fields)
		return HPACK_E_LATE_UPDATE;
	if ((rc = hp_read_int(&b->in, 5, &size)) != 0)
		return rc;
	if (!hpack_table_resize(&b->d->table, size))
		return HPACK_E_SIZE_UPDATE;
	return 0;
}

/* One representation; its first octet is at the cursor. */
static int
hp_representation(struct hp_block *b)
{
	unsigned first = *b->in.p;

	if (first & 0x80)
		return hp_indexed(b);
	if (first & 0x40)
		return hp_literal(b, 6, true, 0);
	if (first & 0x20)
		return hp_size_update(b);
	return hp_literal(b, 4, false,
	    (first & 0x10) ? HPACK_FIELD_NEVER_INDEXED : 0);
}

int
hpack_decode(struct hpack_decoder *d, const struct hpack_frag *frags,
    size_t nfrags, hpack_field_fn fn, void *ctx)
{
	struct hp_block b;
	int rc = HPACK_OK;

	b.d = d;
	b.fn = fn;
	b.ctx = ctx;
	b.fields = false;
	hp_in_start(&b.in, frags, nfrags);
	d->counters.blocks++;
	while (rc == HPACK_OK && hp_in_ready(&b.in))
		rc = hp_representation(&b);
	if (rc != HPACK_OK) {
		d->counters.errors++;
		hpack_table_lose(&d->table);
	}
	return rc;
}

int
hpack_decode_block(struct hpack_decoder *d, const uint8_t *data, size_t len,
    hpack_field_fn fn, void *ctx)
{
	struct hpack_frag f = { data, len };

	return hpack_decode(d, &f, 1, fn, ctx);
}

void
hpack_decoder_init(struct hpack_decoder *d, uint32_t settings_max)
{
	hpack_huff_setup();
	hpack_table_init(&d->table, settings_max);
	memset(&d->counters, 0, sizeof(d->counters));
}

void
hpack_set_settings_max(struct hpack_decoder *d, uint32_t settings_max)
{
	hpack_table_set_limit(&d->table, settings_max);
}

void
hpack_mark_unknown(struct hpack_decoder *d)
{
	hpack_table_lose(&d->table);
}

void
hpack_table_info(const struct hpack_decoder *d, struct hpack_table_info *ti)
{
	const struct hpack_table *t = &d->table;

	ti->settings_max = t->settings_max;
	ti->max_size = t->max_size;
	ti->known_size = t->known_size;
	ti->known_entries = t->count;
	ti->complete = !t->older_unknown;
}
