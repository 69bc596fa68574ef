/*
 * The HPACK tables of one decoder: the static table and what is known of
 * the dynamic table.  Part of the decoder (hpack.h); its layout is public
 * only so that the caller can own the decoder's fixed-size state.
 *
 * The known dynamic entries are the newest ones, dynamic indexes
 * 1..count.  Their names and values are kept back to back in a ring of
 * HPACK_RING_SIZE octets, oldest first, and ent[] (itself a ring of
 * slots) says where each one starts.  An entry whose name could not be
 * known (a literal naming an unknown entry) keeps its value only.
 * Entries older than the known ones may exist (older_unknown): their
 * number, sizes and contents are not known.  See hpack.h for what this
 * lets the decoder claim.
 */
#ifndef SG_HPACK_TABLE_H
#define SG_HPACK_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define HPACK_STATIC_ENTRIES	61
#define HPACK_ENTRY_OVERHEAD	32	/* counted per entry, octets aside */
#define HPACK_RING_SIZE		4096	/* octets of names and values kept */
/* A table of HPACK_RING_SIZE counts at most this many entries. */
#define HPACK_MAX_ENTRIES	(HPACK_RING_SIZE / HPACK_ENTRY_OVERHEAD)
#define HPACK_NAME_UNKNOWN	UINT16_MAX	/* nlen of a name not known */

struct hpack_entry {
	uint16_t off;		/* where in ring[] its name starts */
	uint16_t nlen;		/* or HPACK_NAME_UNKNOWN: nothing kept */
	uint16_t vlen;
};

struct hpack_table {
	uint32_t settings_max;	/* the limit the decoder was told */
	uint32_t max_size;	/* the table's maximum size, or a bound of it */
	uint32_t known_size;	/* size of the known entries, names not
				 * known counted as empty */
	uint16_t oldest;	/* slot in ent[] of the oldest known entry */
	uint16_t count;		/* known entries */
	uint16_t wpos;		/* where in ring[] the next entry goes */
	uint16_t used;		/* octets of ring[] the known entries hold */
	bool     older_unknown;	/* entries older than the known may exist */
	struct hpack_entry ent[HPACK_MAX_ENTRIES];
	uint8_t  ring[HPACK_RING_SIZE];
};

/* A field being decoded, between the decoder and the table. */
struct hpack_field {
	const char *name;
	const char *value;
	uint32_t    nlen;	/* octets at name */
	uint32_t    vlen;	/* octets at value */
	uint32_t    nsize;	/* the name's length: more than nlen if cut */
	uint32_t    vsize;
	unsigned    flags;	/* HPACK_FIELD_* (hpack.h), HPACK_TABLE_* */
};

#define HPACK_TABLE_NAME_IN_RING 0x100	/* name points into the ring */

void	hpack_table_init(struct hpack_table *t, uint32_t settings_max);
void	hpack_table_set_limit(struct hpack_table *t, uint32_t settings_max);
void	hpack_table_lose(struct hpack_table *t);
bool	hpack_table_resize(struct hpack_table *t, uint32_t max_size);

/*
 * Resolves an index into f (flags HPACK_FIELD_*_UNKNOWN for what is not
 * known).  Names and values are pointed to where they are; one that wraps
 * around the end of the ring is copied into nbuf or vbuf, each of at
 * least HPACK_RING_SIZE octets.  vbuf NULL: the name only.  False: the
 * index cannot be in the table.
 */
bool	hpack_table_get(const struct hpack_table *t, uint32_t index,
	    struct hpack_field *f, char *nbuf, char *vbuf);

/* Adds f as the newest entry, evicting as the peer does.  Its name must
 * not point into the ring (see HPACK_TABLE_NAME_IN_RING). */
void	hpack_table_insert(struct hpack_table *t, const struct hpack_field *f);

#endif
