/*
 * The HPACK Huffman code (RFC 7541 Appendix B) and its decoder.
 *
 * Decoding walks a state machine four bits at a time: a state is an
 * internal node of the code tree (256 of them for 257 symbols), and each
 * of its 16 transitions says which state follows and which octet, if any,
 * was completed on the way.  No code is shorter than 5 bits, so a nibble
 * completes at most one.  The table (256 x 16 steps of 4 octets, 16 KB)
 * is built once from the code table, by hpack_huff_setup().
 *
 * A string may arrive in pieces (a header block split over frames): the
 * decoder keeps its state between hpack_huff_feed() calls.
 */
#ifndef SG_HPACK_HUFFMAN_H
#define SG_HPACK_HUFFMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HPACK_HUFF_SYMBOLS	257	/* the 256 octets, then EOS */
#define HPACK_HUFF_EOS		256

/* A code: its len bits are the low bits of code, first bit highest. */
struct hpack_huff_code {
	uint32_t code;
	uint8_t  len;
};

extern const struct hpack_huff_code hpack_huff_codes[HPACK_HUFF_SYMBOLS];

struct hpack_huff {
	size_t   len;	/* octets decoded so far, also those past cap */
	uint8_t  state;	/* node of the code tree reached */
	uint8_t  bad;	/* EOS was decoded */
};

/* Builds the decoding table; safe to call from any thread, any number of
 * times.  Must have been called before hpack_huff_feed(). */
void	hpack_huff_setup(void);

void	hpack_huff_start(struct hpack_huff *h);

/*
 * Decodes n octets.  Octets decoded go to out[h->len] while h->len < cap;
 * later ones are counted but not kept.  out must have room for cap + 1
 * octets: out[cap] takes every octet that is not kept.
 */
void	hpack_huff_feed(struct hpack_huff *h, const uint8_t *p, size_t n,
	    char *out, size_t cap);

/* Whether the string decoded so far may end here: no EOS, and what
 * follows the last code is at most 7 bits, all ones. */
bool	hpack_huff_done(const struct hpack_huff *h);

#endif
