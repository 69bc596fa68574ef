/*
 * The static table and the known part of the dynamic table (see
 * hpack_table.h for the layout, hpack.h for what is claimed).
 *
 * Sizes: a name or value is at most HPACK_INT_MAX (2^28) octets on the
 * wire, 8/5 of that once Huffman-decoded, so an entry's size fits in 32
 * bits; known_size is never above max_size, itself never above
 * settings_max.
 */
#include "hpack.h"

#include <string.h>

_Static_assert(HPACK_RING_SIZE <= UINT16_MAX &&
    HPACK_MAX_ENTRIES <= UINT16_MAX, "ring offsets and counts are 16-bit");
_Static_assert(HPACK_NAME_UNKNOWN > HPACK_RING_SIZE,
    "a name kept in the ring is shorter than HPACK_NAME_UNKNOWN");
_Static_assert(sizeof(struct hpack_decoder) <= HPACK_DECODER_SIZE_MAX,
    "the decoder's state is as small as stated");

struct ht_static {
	const char *name;
	const char *value;
	uint8_t     nlen;
	uint8_t     vlen;
};

#define HT_S(n, v)	{ n, v, sizeof(n) - 1, sizeof(v) - 1 }

/* RFC 7541 Appendix A, from index 1. */
static const struct ht_static ht_static[HPACK_STATIC_ENTRIES] = {
	HT_S(":authority", ""),
	HT_S(":method", "GET"),
	HT_S(":method", "POST"),
	HT_S(":path", "/"),
	HT_S(":path", "/index.html"),
	HT_S(":scheme", "http"),
	HT_S(":scheme", "https"),
	HT_S(":status", "200"),
	HT_S(":status", "204"),
	HT_S(":status", "206"),
	HT_S(":status", "304"),
	HT_S(":status", "400"),
	HT_S(":status", "404"),
	HT_S(":status", "500"),
	HT_S("accept-charset", ""),
	HT_S("accept-encoding", "gzip, deflate"),
	HT_S("accept-language", ""),
	HT_S("accept-ranges", ""),
	HT_S("accept", ""),
	HT_S("access-control-allow-origin", ""),
	HT_S("age", ""),
	HT_S("allow", ""),
	HT_S("authorization", ""),
	HT_S("cache-control", ""),
	HT_S("content-disposition", ""),
	HT_S("content-encoding", ""),
	HT_S("content-language", ""),
	HT_S("content-length", ""),
	HT_S("content-location", ""),
	HT_S("content-range", ""),
	HT_S("content-type", ""),
	HT_S("cookie", ""),
	HT_S("date", ""),
	HT_S("etag", ""),
	HT_S("expect", ""),
	HT_S("expires", ""),
	HT_S("from", ""),
	HT_S("host", ""),
	HT_S("if-match", ""),
	HT_S("if-modified-since", ""),
	HT_S("if-none-match", ""),
	HT_S("if-range", ""),
	HT_S("if-unmodified-since", ""),
	HT_S("last-modified", ""),
	HT_S("link", ""),
	HT_S("location", ""),
	HT_S("max-forwards", ""),
	HT_S("proxy-authenticate", ""),
	HT_S("proxy-authorization", ""),
	HT_S("range", ""),
	HT_S("referer", ""),
	HT_S("refresh", ""),
	HT_S("retry-after", ""),
	HT_S("server", ""),
	HT_S("set-cookie", ""),
	HT_S("strict-transport-security", ""),
	HT_S("transfer-encoding", ""),
	HT_S("user-agent", ""),
	HT_S("vary", ""),
	HT_S("via", ""),
	HT_S("www-authenticate", ""),
};

static unsigned
ht_slot(unsigned slot)
{
	return slot % HPACK_MAX_ENTRIES;
}

static unsigned
ht_pos(unsigned pos)
{
	return pos % HPACK_RING_SIZE;
}

static uint32_t
ht_name_octets(const struct hpack_entry *e)
{
	return e->nlen == HPACK_NAME_UNKNOWN ? 0 : e->nlen;
}

static uint32_t
ht_entry_size(const struct hpack_entry *e)
{
	return ht_name_octets(e) + e->vlen + HPACK_ENTRY_OVERHEAD;
}

static void
ht_clear(struct hpack_table *t)
{
	t->known_size = 0;
	t->oldest = 0;
	t->count = 0;
	t->wpos = 0;
	t->used = 0;
}

static void
ht_drop_oldest(struct hpack_table *t)
{
	const struct hpack_entry *e = &t->ent[t->oldest];

	t->known_size -= ht_entry_size(e);
	t->used = (uint16_t)(t->used - ht_name_octets(e) - e->vlen);
	t->oldest = (uint16_t)ht_slot(t->oldest + 1u);
	t->count--;
}

/*
 * Evicts known entries, oldest first, until `extra` more octets fit
 * under max_size.  The peer evicts the entries older than the known
 * ones first: if a known one has to go, or too little room is left for
 * one more entry, none of them can remain.
 */
static void
ht_make_room(struct hpack_table *t, uint32_t extra)
{
	bool evicted = false;

	while (t->count > 0 && t->known_size + extra > t->max_size) {
		ht_drop_oldest(t);
		evicted = true;
	}
	if (evicted ||
	    t->max_size - t->known_size - extra < HPACK_ENTRY_OVERHEAD)
		t->older_unknown = false;
}

void
hpack_table_init(struct hpack_table *t, uint32_t settings_max)
{
	ht_clear(t);
	t->settings_max = settings_max;
	t->max_size = settings_max;
	t->older_unknown = false;
}

/*
 * A lower limit applies from the next block, which must start by
 * lowering the size to it if the size was above.  A higher one makes the
 * new limit the bound of the size: the peer may take the room with or
 * without saying so.
 */
void
hpack_table_set_limit(struct hpack_table *t, uint32_t settings_max)
{
	if (settings_max > t->settings_max || t->max_size > settings_max)
		t->max_size = settings_max;
	t->settings_max = settings_max;
	ht_make_room(t, 0);
}

void
hpack_table_lose(struct hpack_table *t)
{
	ht_clear(t);
	t->max_size = t->settings_max;
	t->older_unknown = t->max_size >= HPACK_ENTRY_OVERHEAD;
}

bool
hpack_table_resize(struct hpack_table *t, uint32_t max_size)
{
	if (max_size > t->settings_max)
		return false;
	t->max_size = max_size;
	ht_make_room(t, 0);
	return true;
}

/* len octets of the ring from pos: in place, or copied into buf when
 * they wrap around its end. */
static const char *
ht_view(const struct hpack_table *t, unsigned pos, unsigned len, char *buf)
{
	unsigned first = HPACK_RING_SIZE - pos;

	if (len <= first)
		return (const char *)t->ring + pos;
	memcpy(buf, t->ring + pos, first);
	memcpy(buf + first, t->ring, len - first);
	return buf;
}

static void
ht_get_static(uint32_t index, struct hpack_field *f)
{
	const struct ht_static *s = &ht_static[index - 1];

	f->name = s->name;
	f->nlen = f->nsize = s->nlen;
	f->value = s->value;
	f->vlen = f->vsize = s->vlen;
}

static void
ht_get_known(const struct hpack_table *t, uint32_t d, struct hpack_field *f,
    char *nbuf, char *vbuf)
{
	const struct hpack_entry *e =
	    &t->ent[ht_slot(t->oldest + t->count - d)];
	uint32_t nlen = ht_name_octets(e);

	if (e->nlen == HPACK_NAME_UNKNOWN) {
		f->name = "";
		f->flags |= HPACK_FIELD_NAME_UNKNOWN;
	} else {
		f->name = ht_view(t, e->off, nlen, nbuf);
		if (f->name != nbuf)
			f->flags |= HPACK_TABLE_NAME_IN_RING;
	}
	f->nlen = f->nsize = nlen;
	if (vbuf == NULL)
		return;
	f->value = ht_view(t, ht_pos(e->off + nlen), e->vlen, vbuf);
	f->vlen = f->vsize = e->vlen;
}

/* Dynamic index d is past the known entries: could an older one be
 * there?  Every entry counts at least HPACK_ENTRY_OVERHEAD. */
static bool
ht_may_hold(const struct hpack_table *t, uint32_t d)
{
	return t->older_unknown && d - t->count <=
	    (t->max_size - t->known_size) / HPACK_ENTRY_OVERHEAD;
}

bool
hpack_table_get(const struct hpack_table *t, uint32_t index,
    struct hpack_field *f, char *nbuf, char *vbuf)
{
	uint32_t d = index - HPACK_STATIC_ENTRIES;

	if (index == 0)
		return false;
	if (index <= HPACK_STATIC_ENTRIES) {
		ht_get_static(index, f);
	} else if (d <= t->count) {
		ht_get_known(t, d, f, nbuf, vbuf);
	} else if (ht_may_hold(t, d)) {
		f->name = f->value = "";
		f->nlen = f->nsize = f->vlen = f->vsize = 0;
		f->flags |= HPACK_FIELD_NAME_UNKNOWN |
		    (vbuf != NULL ? HPACK_FIELD_VALUE_UNKNOWN : 0);
	} else {
		return false;
	}
	return true;
}

static void
ht_write(struct hpack_table *t, const char *p, uint32_t len)
{
	unsigned first = HPACK_RING_SIZE - t->wpos;

	if (len <= first) {
		memcpy(t->ring + t->wpos, p, len);
	} else {
		memcpy(t->ring + t->wpos, p, first);
		memcpy(t->ring, p + first, len - first);
	}
	t->wpos = (uint16_t)ht_pos(t->wpos + len);
}

/*
 * The peer adds the entry after evicting what it must; one larger than
 * the table empties it.  Here, an entry too large for the ring cannot be
 * kept: from it on, nothing is known.  One that does not fit beside the
 * known entries pushes out the oldest of them, which the peer still has:
 * they become unknown.
 */
void
hpack_table_insert(struct hpack_table *t, const struct hpack_field *f)
{
	bool name_known = !(f->flags & HPACK_FIELD_NAME_UNKNOWN);
	uint32_t nsize = name_known ? f->nsize : 0;
	uint32_t size = nsize + f->vsize + HPACK_ENTRY_OVERHEAD;
	uint32_t octets = nsize + f->vsize;
	struct hpack_entry *e;

	if (size > t->max_size) {
		ht_clear(t);
		t->older_unknown = false;
		return;
	}
	ht_make_room(t, size);
	if (octets > HPACK_RING_SIZE) {
		ht_clear(t);
		t->older_unknown = true;
		return;
	}
	while (t->count == HPACK_MAX_ENTRIES ||
	    t->used + octets > HPACK_RING_SIZE) {
		ht_drop_oldest(t);
		t->older_unknown = true;
	}
	e = &t->ent[ht_slot(t->oldest + t->count)];
	e->off = t->wpos;
	e->nlen = name_known ? (uint16_t)nsize : HPACK_NAME_UNKNOWN;
	e->vlen = (uint16_t)f->vsize;
	if (name_known)
		ht_write(t, f->name, nsize);
	ht_write(t, f->value, f->vsize);
	t->count++;
	t->used = (uint16_t)(t->used + octets);
	t->known_size += size;
}
