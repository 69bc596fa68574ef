/*
 * HPACK (RFC 7541) header block decoding for one direction of an HTTP/2
 * connection, by an observer that may not have seen all of it.
 *
 * State: struct hpack_decoder, of fixed size (4928 octets on x86-64:
 * 4096 of names and values, 768 of entry slots, 64 of sizes, counters
 * and padding; never above HPACK_DECODER_SIZE_MAX), owned by the caller; no
 * allocation at all.  hpack_decode() also uses 8 KB of stack (two
 * HPACK_STRING_MAX buffers).  The Huffman decoding table (16 KB) is
 * shared, built by the first hpack_decoder_init().
 * Fields go to a callback as they are decoded; pointers given to it are
 * valid during the call only.
 *
 * Partial knowledge.  The sensor may start watching a connection late or
 * miss a header block, and then does not know the dynamic table.  The
 * caller says so with hpack_mark_unknown(), and must do so whenever a
 * header block was not decoded whole (missed, cut by the capture, or
 * failed).  From then on:
 *
 *  - The entries inserted since are known (dynamic indexes 1..n): a
 *    reference to one resolves exactly, whatever preceded it.  Older
 *    dynamic indexes are unknown: a reference to one is delivered with
 *    HPACK_FIELD_NAME_UNKNOWN | HPACK_FIELD_VALUE_UNKNOWN (name and value
 *    "", length 0) and counted; nothing is guessed.  A literal naming
 *    one has HPACK_FIELD_NAME_UNKNOWN, and if it is indexed, its entry is
 *    known by value only.
 *  - How many unknown entries there are, and their sizes, is not known,
 *    so their eviction is not modelled.  What is claimed is only what
 *    follows from eviction being oldest first: when the known entries
 *    leave no room for another entry (less than 32 octets below the
 *    maximum size), or one of them is evicted, no older entry can remain
 *    and the whole table is known again; a dynamic table size update to
 *    0 does that.  An index past every entry the maximum size could hold
 *    (each counts at least 32) is an error, as in a fully known table.
 *  - A missed block may also have changed the maximum size: until the
 *    next size update it is only bounded by the settings limit.  Known
 *    entries are then evicted against that bound, so the decoder may
 *    keep an entry the peer has dropped; a peer that follows RFC 7541
 *    never refers to it, so no field is affected.
 *  - With a settings limit above HPACK_RING_SIZE, entries that the peer
 *    keeps but that do not fit here become unknown the same way.
 *
 * The claim, tested against a decoder that sees everything
 * (tests/fuzz/fuzz_hpack.c): if the peer's encoder follows RFC 7541 and
 * the caller reports every block not decoded whole, a field delivered
 * without an *_UNKNOWN flag is the field the peer encoded (flagged
 * *_TRUNCATED, its first octets), and a block valid for the peer decodes
 * without error.
 *
 * Errors (hpack_decode() < 0) end the block: fields delivered before it
 * stand, the rest are not delivered, the error is counted and the table
 * is marked unknown (whatever the block did to it is not trusted).
 * Every length is checked against the block; every loop consumes input.
 */
#ifndef SG_HPACK_H
#define SG_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include "hpack_table.h"

#define HPACK_SETTINGS_DEFAULT	4096	/* SETTINGS_HEADER_TABLE_SIZE */
#define HPACK_INT_MAX		(1u << 28)	/* larger integers are errors */
#define HPACK_INT_MAX_OCTETS	5	/* prefix and 4 more: 28 bits */
/*
 * Longest name or value kept when it must be copied (Huffman-coded, split
 * over fragments, or wrapping in the ring); longer ones are cut, flagged
 * HPACK_FIELD_*_TRUNCATED.  A string read as is from one fragment is
 * never cut.  Anything longer is longer than any entry the ring holds.
 */
#define HPACK_STRING_MAX	HPACK_RING_SIZE

/* Flags of a delivered field. */
#define HPACK_FIELD_NEVER_INDEXED	0x01	/* sensitive: never indexed */
#define HPACK_FIELD_NAME_UNKNOWN	0x02	/* in an unknown entry: "" */
#define HPACK_FIELD_VALUE_UNKNOWN	0x04
#define HPACK_FIELD_NAME_TRUNCATED	0x08	/* first nlen octets only */
#define HPACK_FIELD_VALUE_TRUNCATED	0x10
#define HPACK_FIELD_FLAGS		0x1f

enum hpack_error {
	HPACK_OK = 0,
	HPACK_E_TRUNCATED = -1,	  /* the block ends inside a representation */
	HPACK_E_INTEGER = -2,	  /* integer over HPACK_INT_MAX or 5 octets */
	HPACK_E_STRING = -3,	  /* string longer than the rest of the block */
	HPACK_E_HUFFMAN = -4,	  /* EOS, or bad padding (not 0..7 ones) */
	HPACK_E_INDEX = -5,	  /* index 0, or past the end of the table */
	HPACK_E_SIZE_UPDATE = -6, /* table size update above the limit */
	HPACK_E_LATE_UPDATE = -7, /* table size update after a field */
};

struct hpack_counters {
	uint64_t blocks;	/* hpack_decode() calls */
	uint64_t fields;	/* fields delivered */
	uint64_t unknown;	/* of which with a name or value unknown */
	uint64_t truncated;	/* of which with a name or value cut */
	uint64_t errors;	/* blocks that failed */
};

struct hpack_decoder {
	struct hpack_table    table;	/* internal */
	struct hpack_counters counters;	/* read freely */
};

#define HPACK_DECODER_SIZE_MAX	(HPACK_RING_SIZE + 1024)

/* What is known of the dynamic table. */
struct hpack_table_info {
	uint32_t settings_max;	/* the limit last set */
	uint32_t max_size;	/* maximum size; only a bound of it since a
				 * block was missed, until a size update */
	uint32_t known_size;	/* size of the known entries (a name not
				 * known counts as empty) */
	unsigned known_entries;	/* dynamic indexes 1..known_entries */
	int      complete;	/* no entry older than those can exist */
};

/* One piece of a header block (HEADERS then CONTINUATION payloads). */
struct hpack_frag {
	const uint8_t *data;
	size_t         len;
};

typedef void (*hpack_field_fn)(void *ctx, const char *name, size_t nlen,
    const char *value, size_t vlen, unsigned flags);

/* A decoder for a connection seen from its start (table empty and known).
 * settings_max: SETTINGS_HEADER_TABLE_SIZE of the receiving side. */
void	hpack_decoder_init(struct hpack_decoder *d, uint32_t settings_max);

/* The receiving side's SETTINGS_HEADER_TABLE_SIZE changed (applies from
 * the block after its acknowledgement). */
void	hpack_set_settings_max(struct hpack_decoder *d, uint32_t settings_max);

/* The table can no longer be trusted: a block was not decoded whole. */
void	hpack_mark_unknown(struct hpack_decoder *d);

/* Decodes one whole header block, given in nfrags pieces. */
int	hpack_decode(struct hpack_decoder *d, const struct hpack_frag *frags,
	    size_t nfrags, hpack_field_fn fn, void *ctx);

/* The same for a block in one piece. */
int	hpack_decode_block(struct hpack_decoder *d, const uint8_t *data,
	    size_t len, hpack_field_fn fn, void *ctx);

void	hpack_table_info(const struct hpack_decoder *d,
	    struct hpack_table_info *ti);

/*
 * An integer with a prefix_bits-bit prefix (1..8) starting at p[0]:
 * stores it in *v and returns the octets it takes, or HPACK_E_TRUNCATED
 * (n too short) or HPACK_E_INTEGER.
 */
int	hpack_int_decode(const uint8_t *p, size_t n, unsigned prefix_bits,
	    uint32_t *v);

#endif
