/*
 * HPACK Huffman decoding by a 4-bit state machine (see hpack_huffman.h).
 */
#include "hpack_huffman.h"

#include <pthread.h>

#define HH_STATES	256	/* internal nodes of a tree with 257 leaves */
#define HH_ACCEPTING	8	/* states 0..7: see hh_build_tree() */

/*
 * A step is one word, read at once (stores of decoded octets through a
 * char pointer could otherwise alias the table and force it to be read
 * again), laid out so that using it takes few instructions: bit 0 is
 * set if the step completed an octet, bit 1 if it completed EOS; bits
 * 4-11 hold the next state times 16, its row in hh_fsm; bits 16-23 the
 * octet completed.
 */
#define HH_EMIT		1u
#define HH_BAD		2u
#define HH_ROW_SHIFT	4
#define HH_ROW_MASK	(0xffu << HH_ROW_SHIFT)
#define HH_SYM_SHIFT	16

/* RFC 7541 Appendix B, by symbol: { code, length in bits }. */
const struct hpack_huff_code hpack_huff_codes[HPACK_HUFF_SYMBOLS] = {
	/*   0 */ { 0x1ff8, 13 }, { 0x7fffd8, 23 }, { 0xfffffe2, 28 },
	/*   3 */ { 0xfffffe3, 28 }, { 0xfffffe4, 28 }, { 0xfffffe5, 28 },
	/*   6 */ { 0xfffffe6, 28 }, { 0xfffffe7, 28 }, { 0xfffffe8, 28 },
	/*   9 */ { 0xffffea, 24 }, { 0x3ffffffc, 30 }, { 0xfffffe9, 28 },
	/*  12 */ { 0xfffffea, 28 }, { 0x3ffffffd, 30 }, { 0xfffffeb, 28 },
	/*  15 */ { 0xfffffec, 28 }, { 0xfffffed, 28 }, { 0xfffffee, 28 },
	/*  18 */ { 0xfffffef, 28 }, { 0xffffff0, 28 }, { 0xffffff1, 28 },
	/*  21 */ { 0xffffff2, 28 }, { 0x3ffffffe, 30 }, { 0xffffff3, 28 },
	/*  24 */ { 0xffffff4, 28 }, { 0xffffff5, 28 }, { 0xffffff6, 28 },
	/*  27 */ { 0xffffff7, 28 }, { 0xffffff8, 28 }, { 0xffffff9, 28 },
	/*  30 */ { 0xffffffa, 28 }, { 0xffffffb, 28 }, { 0x14, 6 },
	/*  33 */ { 0x3f8, 10 }, { 0x3f9, 10 }, { 0xffa, 12 },
	/*  36 */ { 0x1ff9, 13 }, { 0x15, 6 }, { 0xf8, 8 },
	/*  39 */ { 0x7fa, 11 }, { 0x3fa, 10 }, { 0x3fb, 10 },
	/*  42 */ { 0xf9, 8 }, { 0x7fb, 11 }, { 0xfa, 8 },
	/*  45 */ { 0x16, 6 }, { 0x17, 6 }, { 0x18, 6 },
	/*  48 */ { 0x0, 5 }, { 0x1, 5 }, { 0x2, 5 },
	/*  51 */ { 0x19, 6 }, { 0x1a, 6 }, { 0x1b, 6 },
	/*  54 */ { 0x1c, 6 }, { 0x1d, 6 }, { 0x1e, 6 },
	/*  57 */ { 0x1f, 6 }, { 0x5c, 7 }, { 0xfb, 8 },
	/*  60 */ { 0x7ffc, 15 }, { 0x20, 6 }, { 0xffb, 12 },
	/*  63 */ { 0x3fc, 10 }, { 0x1ffa, 13 }, { 0x21, 6 },
	/*  66 */ { 0x5d, 7 }, { 0x5e, 7 }, { 0x5f, 7 },
	/*  69 */ { 0x60, 7 }, { 0x61, 7 }, { 0x62, 7 },
	/*  72 */ { 0x63, 7 }, { 0x64, 7 }, { 0x65, 7 },
	/*  75 */ { 0x66, 7 }, { 0x67, 7 }, { 0x68, 7 },
	/*  78 */ { 0x69, 7 }, { 0x6a, 7 }, { 0x6b, 7 },
	/*  81 */ { 0x6c, 7 }, { 0x6d, 7 }, { 0x6e, 7 },
	/*  84 */ { 0x6f, 7 }, { 0x70, 7 }, { 0x71, 7 },
	/*  87 */ { 0x72, 7 }, { 0xfc, 8 }, { 0x73, 7 },
	/*  90 */ { 0xfd, 8 }, { 0x1ffb, 13 }, { 0x7fff0, 19 },
	/*  93 */ { 0x1ffc, 13 }, { 0x3ffc, 14 }, { 0x22, 6 },
	/*  96 */ { 0x7ffd, 15 }, { 0x3, 5 }, { 0x23, 6 },
	/*  99 */ { 0x4, 5 }, { 0x24, 6 }, { 0x5, 5 },
	/* 102 */ { 0x25, 6 }, { 0x26, 6 }, { 0x27, 6 },
	/* 105 */ { 0x6, 5 }, { 0x74, 7 }, { 0x75, 7 },
	/* 108 */ { 0x28, 6 }, { 0x29, 6 }, { 0x2a, 6 },
	/* 111 */ { 0x7, 5 }, { 0x2b, 6 }, { 0x76, 7 },
	/* 114 */ { 0x2c, 6 }, { 0x8, 5 }, { 0x9, 5 },
	/* 117 */ { 0x2d, 6 }, { 0x77, 7 }, { 0x78, 7 },
	/* 120 */ { 0x79, 7 }, { 0x7a, 7 }, { 0x7b, 7 },
	/* 123 */ { 0x7ffe, 15 }, { 0x7fc, 11 }, { 0x3ffd, 14 },
	/* 126 */ { 0x1ffd, 13 }, { 0xffffffc, 28 }, { 0xfffe6, 20 },
	/* 129 */ { 0x3fffd2, 22 }, { 0xfffe7, 20 }, { 0xfffe8, 20 },
	/* 132 */ { 0x3fffd3, 22 }, { 0x3fffd4, 22 }, { 0x3fffd5, 22 },
	/* 135 */ { 0x7fffd9, 23 }, { 0x3fffd6, 22 }, { 0x7fffda, 23 },
	/* 138 */ { 0x7fffdb, 23 }, { 0x7fffdc, 23 }, { 0x7fffdd, 23 },
	/* 141 */ { 0x7fffde, 23 }, { 0xffffeb, 24 }, { 0x7fffdf, 23 },
	/* 144 */ { 0xffffec, 24 }, { 0xffffed, 24 }, { 0x3fffd7, 22 },
	/* 147 */ { 0x7fffe0, 23 }, { 0xffffee, 24 }, { 0x7fffe1, 23 },
	/* 150 */ { 0x7fffe2, 23 }, { 0x7fffe3, 23 }, { 0x7fffe4, 23 },
	/* 153 */ { 0x1fffdc, 21 }, { 0x3fffd8, 22 }, { 0x7fffe5, 23 },
	/* 156 */ { 0x3fffd9, 22 }, { 0x7fffe6, 23 }, { 0x7fffe7, 23 },
	/* 159 */ { 0xffffef, 24 }, { 0x3fffda, 22 }, { 0x1fffdd, 21 },
	/* 162 */ { 0xfffe9, 20 }, { 0x3fffdb, 22 }, { 0x3fffdc, 22 },
	/* 165 */ { 0x7fffe8, 23 }, { 0x7fffe9, 23 }, { 0x1fffde, 21 },
	/* 168 */ { 0x7fffea, 23 }, { 0x3fffdd, 22 }, { 0x3fffde, 22 },
	/* 171 */ { 0xfffff0, 24 }, { 0x1fffdf, 21 }, { 0x3fffdf, 22 },
	/* 174 */ { 0x7fffeb, 23 }, { 0x7fffec, 23 }, { 0x1fffe0, 21 },
	/* 177 */ { 0x1fffe1, 21 }, { 0x3fffe0, 22 }, { 0x1fffe2, 21 },
	/* 180 */ { 0x7fffed, 23 }, { 0x3fffe1, 22 }, { 0x7fffee, 23 },
	/* 183 */ { 0x7fffef, 23 }, { 0xfffea, 20 }, { 0x3fffe2, 22 },
	/* 186 */ { 0x3fffe3, 22 }, { 0x3fffe4, 22 }, { 0x7ffff0, 23 },
	/* 189 */ { 0x3fffe5, 22 }, { 0x3fffe6, 22 }, { 0x7ffff1, 23 },
	/* 192 */ { 0x3ffffe0, 26 }, { 0x3ffffe1, 26 }, { 0xfffeb, 20 },
	/* 195 */ { 0x7fff1, 19 }, { 0x3fffe7, 22 }, { 0x7ffff2, 23 },
	/* 198 */ { 0x3fffe8, 22 }, { 0x1ffffec, 25 }, { 0x3ffffe2, 26 },
	/* 201 */ { 0x3ffffe3, 26 }, { 0x3ffffe4, 26 }, { 0x7ffffde, 27 },
	/* 204 */ { 0x7ffffdf, 27 }, { 0x3ffffe5, 26 }, { 0xfffff1, 24 },
	/* 207 */ { 0x1ffffed, 25 }, { 0x7fff2, 19 }, { 0x1fffe3, 21 },
	/* 210 */ { 0x3ffffe6, 26 }, { 0x7ffffe0, 27 }, { 0x7ffffe1, 27 },
	/* 213 */ { 0x3ffffe7, 26 }, { 0x7ffffe2, 27 }, { 0xfffff2, 24 },
	/* 216 */ { 0x1fffe4, 21 }, { 0x1fffe5, 21 }, { 0x3ffffe8, 26 },
	/* 219 */ { 0x3ffffe9, 26 }, { 0xffffffd, 28 }, { 0x7ffffe3, 27 },
	/* 222 */ { 0x7ffffe4, 27 }, { 0x7ffffe5, 27 }, { 0xfffec, 20 },
	/* 225 */ { 0xfffff3, 24 }, { 0xfffed, 20 }, { 0x1fffe6, 21 },
	/* 228 */ { 0x3fffe9, 22 }, { 0x1fffe7, 21 }, { 0x1fffe8, 21 },
	/* 231 */ { 0x7ffff3, 23 }, { 0x3fffea, 22 }, { 0x3fffeb, 22 },
	/* 234 */ { 0x1ffffee, 25 }, { 0x1ffffef, 25 }, { 0xfffff4, 24 },
	/* 237 */ { 0xfffff5, 24 }, { 0x3ffffea, 26 }, { 0x7ffff4, 23 },
	/* 240 */ { 0x3ffffeb, 26 }, { 0x7ffffe6, 27 }, { 0x3ffffec, 26 },
	/* 243 */ { 0x3ffffed, 26 }, { 0x7ffffe7, 27 }, { 0x7ffffe8, 27 },
	/* 246 */ { 0x7ffffe9, 27 }, { 0x7ffffea, 27 }, { 0x7ffffeb, 27 },
	/* 249 */ { 0xffffffe, 28 }, { 0x7ffffec, 27 }, { 0x7ffffed, 27 },
	/* 252 */ { 0x7ffffee, 27 }, { 0x7ffffef, 27 }, { 0x7fffff0, 27 },
	/* 255 */ { 0x3ffffee, 26 }, { 0x3fffffff, 30 },
};

/* A child is an internal node (>= 0) or a leaf: -1 - symbol. */
struct hh_node {
	int16_t child[2];
};

static uint32_t hh_fsm[HH_STATES * 16];
static pthread_once_t hh_once = PTHREAD_ONCE_INIT;

/*
 * Node 0 is the root.  EOS, thirty ones, goes in first, so the node
 * reached after d ones is node d: the states where a string may end
 * (at most 7 bits of padding, all ones) are exactly nodes 0..7.
 */
static void
hh_build_tree(struct hh_node *tree)
{
	unsigned nodes = 1, sym, i, bit;
	int16_t *slot;
	int node;

	tree[0].child[0] = tree[0].child[1] = 0;
	for (i = 0; i < HPACK_HUFF_SYMBOLS; i++) {
		sym = (HPACK_HUFF_EOS + i) % HPACK_HUFF_SYMBOLS;
		node = 0;
		for (bit = hpack_huff_codes[sym].len; bit-- > 1;) {
			slot = &tree[node].child[(hpack_huff_codes[sym].code >>
			    bit) & 1];
			if (*slot == 0) {
				tree[nodes].child[0] = tree[nodes].child[1] = 0;
				*slot = (int16_t)nodes++;
			}
			node = *slot;
		}
		tree[node].child[hpack_huff_codes[sym].code & 1] =
		    (int16_t)(-1 - (int)sym);
	}
}

/* The step from a state on four bits, highest first. */
static uint32_t
hh_walk(const struct hh_node *tree, unsigned state, unsigned nibble)
{
	uint32_t step = 0;
	int node = (int)state, c;
	unsigned bit;

	for (bit = 4; bit-- > 0;) {
		c = tree[node].child[(nibble >> bit) & 1];
		if (c >= 0) {
			node = c;
			continue;
		}
		if (-1 - c == HPACK_HUFF_EOS)
			step |= HH_BAD;
		else
			step |= (uint32_t)(-1 - c) << HH_SYM_SHIFT | HH_EMIT;
		node = 0;
	}
	return step | (uint32_t)node << HH_ROW_SHIFT;
}

static void
hh_build(void)
{
	static struct hh_node tree[HH_STATES];
	unsigned state, nibble;

	hh_build_tree(tree);
	for (state = 0; state < HH_STATES; state++)
		for (nibble = 0; nibble < 16; nibble++)
			hh_fsm[state << HH_ROW_SHIFT | nibble] =
			    hh_walk(tree, state, nibble);
}

void
hpack_huff_setup(void)
{
	(void)pthread_once(&hh_once, hh_build);
}

void
hpack_huff_start(struct hpack_huff *h)
{
	h->len = 0;
	h->state = 0;
	h->bad = 0;
}

static inline uint32_t
hh_step(uint32_t step, unsigned nibble, char *out, size_t at)
{
	step = hh_fsm[(step & HH_ROW_MASK) | nibble];
	out[at] = (char)(step >> HH_SYM_SHIFT);
	return step;
}

/*
 * Branch-free on the hot path: every step stores its octet, counted only
 * if it is one.  No code is shorter than 5 bits, so n octets complete at
 * most 2n: while that much room is left, they go to out[len]; otherwise
 * each goes to out[len] while len < cap, then to out[cap].
 */
void
hpack_huff_feed(struct hpack_huff *h, const uint8_t *p, size_t n, char *out,
    size_t cap)
{
	const uint8_t *end = p + n;
	size_t len = h->len;
	uint32_t step = (uint32_t)h->state << HH_ROW_SHIFT, flags = 0;
	unsigned octet;

	if (len <= cap && cap - len >= 2 * n) {
		for (; p < end; p++) {
			octet = *p;
			step = hh_step(step, octet >> 4, out, len);
			len += step & HH_EMIT;
			flags |= step;
			step = hh_step(step, octet & 15, out, len);
			len += step & HH_EMIT;
			flags |= step;
		}
	}
	for (; p < end; p++) {
		octet = *p;
		step = hh_step(step, octet >> 4, out, len < cap ? len : cap);
		len += step & HH_EMIT;
		flags |= step;
		step = hh_step(step, octet & 15, out, len < cap ? len : cap);
		len += step & HH_EMIT;
		flags |= step;
	}
	h->len = len;
	h->state = (uint8_t)(step >> HH_ROW_SHIFT);
	h->bad |= (flags & HH_BAD) != 0;
}

bool
hpack_huff_done(const struct hpack_huff *h)
{
	return !h->bad && h->state < HH_ACCEPTING;
}
