/*
 * HPACK decoding (collector/protocols/hpack*.c): the examples of RFC 7541
 * Appendix C, integer and Huffman edge cases, errors, the dynamic table at
 * its limits, and what the decoder claims when it does not know the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpack.h"
#include "hpack_huffman.h"

#define REC_FIELDS	16
#define REC_NAME	64
#define REC_VALUE	8192
#define BLOCK_MAX	8192

struct rec_field {
	char     name[REC_NAME];
	char     value[REC_VALUE];
	size_t   nlen;
	size_t   vlen;
	unsigned flags;
};

struct rec {
	int              n;
	struct rec_field f[REC_FIELDS];
};

/* A header field as the RFC lists it. */
struct pair {
	const char *name;
	const char *value;
};

static struct rec rec;
static struct hpack_decoder dec;

static void
rec_field(void *ctx, const char *name, size_t nlen, const char *value,
    size_t vlen, unsigned flags)
{
	struct rec *r = ctx;
	struct rec_field *f;

	assert_true(r->n < REC_FIELDS);
	assert_true(nlen < REC_NAME && vlen < REC_VALUE);
	f = &r->f[r->n++];
	memcpy(f->name, name, nlen);
	memcpy(f->value, value, vlen);
	f->name[nlen] = '\0';
	f->value[vlen] = '\0';
	f->nlen = nlen;
	f->vlen = vlen;
	f->flags = flags;
}

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	for (; *hex != '\0'; hex++) {
		if (*hex == ' ' || *hex == '\n')
			continue;
		assert_true(n < cap && sscanf(hex, "%2x", &v) == 1);
		out[n++] = (uint8_t)v;
		hex++;
	}
	return n;
}

/* Decodes a block given in hex; the fields go to rec. */
static int
decode_hex(struct hpack_decoder *d, const char *hex)
{
	static uint8_t block[BLOCK_MAX];
	size_t n = unhex(hex, block, sizeof(block));

	memset(&rec, 0, sizeof(rec));
	return hpack_decode_block(d, block, n, rec_field, &rec);
}

static int
decode_bytes(struct hpack_decoder *d, const uint8_t *p, size_t n)
{
	memset(&rec, 0, sizeof(rec));
	return hpack_decode_block(d, p, n, rec_field, &rec);
}

static void
expect_fields(const struct pair *want, int n)
{
	int i;

	assert_int_equal(rec.n, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(rec.f[i].name, want[i].name);
		assert_string_equal(rec.f[i].value, want[i].value);
		assert_int_equal(rec.f[i].nlen, strlen(want[i].name));
		assert_int_equal(rec.f[i].vlen, strlen(want[i].value));
		assert_int_equal(rec.f[i].flags &
		    ~HPACK_FIELD_NEVER_INDEXED, 0);
	}
}

/* Resolves dynamic index i (1: newest) on a copy of d, leaving d alone. */
static int
probe(const struct hpack_decoder *d, unsigned i)
{
	static struct hpack_decoder copy;
	uint8_t block[HPACK_INT_MAX_OCTETS];
	uint32_t index = HPACK_STATIC_ENTRIES + i;
	size_t n = 1;

	copy = *d;
	if (index < 127) {
		block[0] = (uint8_t)(0x80 | index);
	} else {
		block[0] = 0xff;
		for (index -= 127; index >= 128; index >>= 7)
			block[n++] = (uint8_t)(0x80 | (index & 0x7f));
		block[n++] = (uint8_t)index;
	}
	return decode_bytes(&copy, block, n);
}

/* The dynamic table is exactly `want`, newest first, and known whole. */
static void
expect_table(const struct hpack_decoder *d, const struct pair *want, int n,
    uint32_t size)
{
	struct hpack_table_info ti;
	int i;

	hpack_table_info(d, &ti);
	assert_int_equal(ti.known_size, size);
	assert_int_equal(ti.known_entries, n);
	assert_true(ti.complete);
	for (i = 0; i < n; i++) {
		assert_int_equal(probe(d, (unsigned)i + 1), HPACK_OK);
		expect_fields(&want[i], 1);
	}
	assert_int_equal(probe(d, (unsigned)n + 1), HPACK_E_INDEX);
}

static void
expect_info(const struct hpack_decoder *d, unsigned entries, uint32_t size,
    int complete)
{
	struct hpack_table_info ti;

	hpack_table_info(d, &ti);
	assert_int_equal(ti.known_entries, entries);
	assert_int_equal(ti.known_size, size);
	assert_int_equal(ti.complete, complete);
}

/* ---- C.1: integers */

static void
test_c1_integers(void **state)
{
	static const uint8_t c11[] = { 0x0a }, c11_high[] = { 0xea },
	    c12[] = { 0x1f, 0x9a, 0x0a }, c13[] = { 0x2a };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(hpack_int_decode(c11, 1, 5, &v), 1);
	assert_int_equal(v, 10);
	assert_int_equal(hpack_int_decode(c11_high, 1, 5, &v), 1);
	assert_int_equal(v, 10);
	assert_int_equal(hpack_int_decode(c12, 3, 5, &v), 3);
	assert_int_equal(v, 1337);
	assert_int_equal(hpack_int_decode(c13, 1, 8, &v), 1);
	assert_int_equal(v, 42);

	/* through the decoder: size updates have a 5-bit prefix */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "2a"), HPACK_OK);
	expect_info(&dec, 0, 0, 1);
	assert_int_equal(dec.table.max_size, 10);
	assert_int_equal(decode_hex(&dec, "3f9a0a"), HPACK_OK);
	assert_int_equal(dec.table.max_size, 1337);
}

static void
test_integer_limits(void **state)
{
	/* 31 + (2^28 - 31): the largest value taken */
	static const uint8_t max[] = { 0x1f, 0xe1, 0xff, 0xff, 0x7f },
	    over[] = { 0x1f, 0xe2, 0xff, 0xff, 0x7f },
	    five[] = { 0x1f, 0x80, 0x80, 0x80, 0x80, 0x00 },
	    padded[] = { 0x1f, 0x80, 0x80, 0x00 },
	    cut[] = { 0x1f, 0x9a },
	    full8[] = { 0xff, 0x00 };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(hpack_int_decode(max, sizeof(max), 5, &v), 5);
	assert_int_equal(v, HPACK_INT_MAX);
	assert_int_equal(hpack_int_decode(over, sizeof(over), 5, &v),
	    HPACK_E_INTEGER);
	assert_int_equal(hpack_int_decode(five, sizeof(five), 5, &v),
	    HPACK_E_INTEGER);
	assert_int_equal(hpack_int_decode(padded, sizeof(padded), 5, &v), 4);
	assert_int_equal(v, 31);
	assert_int_equal(hpack_int_decode(cut, sizeof(cut), 5, &v),
	    HPACK_E_TRUNCATED);
	assert_int_equal(hpack_int_decode(cut, 0, 5, &v), HPACK_E_TRUNCATED);
	assert_int_equal(hpack_int_decode(full8, sizeof(full8), 8, &v), 2);
	assert_int_equal(v, 255);
	assert_int_equal(hpack_int_decode(full8, 2, 0, &v), HPACK_E_INTEGER);
	assert_int_equal(hpack_int_decode(full8, 2, 9, &v), HPACK_E_INTEGER);

	/* an index that overflows fails the block and loses the table */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "400161016282 ffffffffff0f"),
	    HPACK_E_INTEGER);
	assert_int_equal(rec.n, 2);
	assert_int_equal(dec.counters.errors, 1);
	expect_info(&dec, 0, 0, 0);
	/* a string length too */
	assert_int_equal(decode_hex(&dec, "0001617fffffffff0f"),
	    HPACK_E_INTEGER);
	/* the block ends inside an integer */
	assert_int_equal(decode_hex(&dec, "ff"), HPACK_E_TRUNCATED);
	assert_int_equal(dec.counters.errors, 3);
	assert_int_equal(dec.counters.blocks, 3);
}

/* ---- C.2: one representation each, fresh decoders */

static void
test_c2_literals(void **state)
{
	static const struct pair c21[] = { { "custom-key", "custom-header" } },
	    c22[] = { { ":path", "/sample/path" } },
	    c23[] = { { "password", "secret" } },
	    c24[] = { { ":method", "GET" } };

	(void)state;
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "400a 6375 7374 6f6d 2d6b 6579 0d63"
	    " 7573 746f 6d2d 6865 6164 6572"), HPACK_OK);
	expect_fields(c21, 1);
	expect_table(&dec, c21, 1, 55);

	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "040c 2f73 616d 706c 652f 7061 7468"),
	    HPACK_OK);
	expect_fields(c22, 1);
	assert_int_equal(rec.f[0].flags, 0);
	expect_table(&dec, NULL, 0, 0);

	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "1008 7061 7373 776f 7264 0673 6563"
	    " 7265 74"), HPACK_OK);
	expect_fields(c23, 1);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NEVER_INDEXED);
	expect_table(&dec, NULL, 0, 0);

	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "82"), HPACK_OK);
	expect_fields(c24, 1);
	expect_table(&dec, NULL, 0, 0);
	assert_int_equal(dec.counters.fields, 1);
}

/* ---- C.3 to C.6: sequences on one decoder */

struct step {
	const char  *hex;
	struct pair  fields[6];
	int          nfields;
	struct pair  table[4];
	int          nentries;
	uint32_t     size;
};

static void
run_steps(uint32_t settings, const struct step *steps, int n)
{
	int i;

	hpack_decoder_init(&dec, settings);
	for (i = 0; i < n; i++) {
		assert_int_equal(decode_hex(&dec, steps[i].hex), HPACK_OK);
		expect_fields(steps[i].fields, steps[i].nfields);
		expect_table(&dec, steps[i].table, steps[i].nentries,
		    steps[i].size);
	}
	assert_int_equal(dec.counters.errors, 0);
	assert_int_equal(dec.counters.unknown, 0);
}

#define REQ1	{ ":method", "GET" }, { ":scheme", "http" }, { ":path", "/" }, \
		{ ":authority", "www.example.com" }
#define REQ3	{ ":method", "GET" }, { ":scheme", "https" }, \
		{ ":path", "/index.html" }, \
		{ ":authority", "www.example.com" }, \
		{ "custom-key", "custom-value" }
#define T1	{ ":authority", "www.example.com" }
#define T2	{ "cache-control", "no-cache" }, T1
#define T3	{ "custom-key", "custom-value" }, T2

static void
test_c3_requests(void **state)
{
	static const struct step steps[] = {
		{ "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
		    { REQ1 }, 4, { T1 }, 1, 57 },
		{ "8286 84be 5808 6e6f 2d63 6163 6865",
		    { REQ1, { "cache-control", "no-cache" } }, 5, { T2 }, 2,
		    110 },
		{ "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f"
		    " 6d2d 7661 6c75 65", { REQ3 }, 5, { T3 }, 3, 164 },
	};

	(void)state;
	run_steps(4096, steps, 3);
}

static void
test_c4_requests_huffman(void **state)
{
	static const struct step steps[] = {
		{ "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		    { REQ1 }, 4, { T1 }, 1, 57 },
		{ "8286 84be 5886 a8eb 1064 9cbf",
		    { REQ1, { "cache-control", "no-cache" } }, 5, { T2 }, 2,
		    110 },
		{ "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8"
		    " b4bf", { REQ3 }, 5, { T3 }, 3, 164 },
	};

	(void)state;
	run_steps(4096, steps, 3);
}

#define DATE1	"Mon, 21 Oct 2013 20:13:21 GMT"
#define DATE2	"Mon, 21 Oct 2013 20:13:22 GMT"
#define LOC	"https://www.example.com"
#define COOKIE	"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
#define RESP(status, date) { ":status", status }, \
		{ "cache-control", "private" }, { "date", date }, \
		{ "location", LOC }
#define RT1	{ "location", LOC }, { "date", DATE1 }, \
		{ "cache-control", "private" }, { ":status", "302" }
#define RT2	{ ":status", "307" }, { "location", LOC }, \
		{ "date", DATE1 }, { "cache-control", "private" }
#define RT3	{ "set-cookie", COOKIE }, { "content-encoding", "gzip" }, \
		{ "date", DATE2 }
#define RESP3	RESP("200", DATE2), { "content-encoding", "gzip" }, \
		{ "set-cookie", COOKIE }

static void
test_c5_responses(void **state)
{
	static const struct step steps[] = {
		{ "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120"
		    " 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e"
		    " 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63"
		    " 6f6d", { RESP("302", DATE1) }, 4, { RT1 }, 4, 222 },
		{ "4803 3330 37c1 c0bf", { RESP("307", DATE1) }, 4, { RT2 }, 4,
		    222 },
		{ "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a"
		    " 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d"
		    " 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851"
		    " 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076"
		    " 6572 7369 6f6e 3d31", { RESP3 }, 6, { RT3 }, 3, 215 },
	};

	(void)state;
	run_steps(256, steps, 3);
}

static void
test_c6_responses_huffman(void **state)
{
	static const struct step steps[] = {
		{ "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005"
		    " 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b"
		    " 97c8 e9ae 82ae 43d3", { RESP("302", DATE1) }, 4, { RT1 },
		    4, 222 },
		{ "4883 640e ffc1 c0bf", { RESP("307", DATE1) }, 4, { RT2 }, 4,
		    222 },
		{ "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d"
		    " 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf"
		    " cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160"
		    " 65c0 03ed 4ee5 b106 3d50 07", { RESP3 }, 6, { RT3 }, 3,
		    215 },
	};

	(void)state;
	run_steps(256, steps, 3);
}

/* ---- Huffman code */

/* The code table as typed from the RFC: codes are assigned in order of
 * length then symbol (canonical), and fill the code space exactly. */
static void
test_huffman_table(void **state)
{
	uint32_t order[HPACK_HUFF_SYMBOLS], code = 0, prev = 0, tmp;
	uint64_t space = 0;	/* in units of 2^-30 */
	unsigned i, j, len;

	(void)state;
	for (i = 0; i < HPACK_HUFF_SYMBOLS; i++)
		order[i] = i;
	for (i = 1; i < HPACK_HUFF_SYMBOLS; i++)
		for (j = i; j > 0 && hpack_huff_codes[order[j - 1]].len >
		    hpack_huff_codes[order[j]].len; j--) {
			tmp = order[j];
			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	for (i = 0; i < HPACK_HUFF_SYMBOLS; i++) {
		len = hpack_huff_codes[order[i]].len;
		assert_true(len >= 5 && len <= 30);
		if (i > 0)
			code = (code + 1) << (len - prev);
		prev = len;
		assert_int_equal(hpack_huff_codes[order[i]].code, code);
		space += 1ull << (30 - len);
	}
	assert_int_equal(space, 1ull << 30);
	assert_int_equal(hpack_huff_codes['a'].code, 0x3);
	assert_int_equal(hpack_huff_codes[0].code, 0x1ff8);
	assert_int_equal(hpack_huff_codes[HPACK_HUFF_EOS].code, 0x3fffffff);
	assert_int_equal(hpack_huff_codes[HPACK_HUFF_EOS].len, 30);
}

/* Huffman-codes n octets into out, padding with ones. */
static size_t
huff_encode(const uint8_t *s, size_t n, uint8_t *out)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t len = 0, i;

	for (i = 0; i < n; i++) {
		acc = acc << hpack_huff_codes[s[i]].len |
		    hpack_huff_codes[s[i]].code;
		bits += hpack_huff_codes[s[i]].len;
		for (; bits >= 8; bits -= 8)
			out[len++] = (uint8_t)(acc >> (bits - 8));
	}
	if (bits > 0)
		out[len++] = (uint8_t)(acc << (8 - bits) | (0xff >> bits));
	return len;
}

/* Every octet, through the decoder, in one value. */
static void
test_huffman_every_octet(void **state)
{
	static uint8_t block[1200], octets[256];
	size_t n, i;

	(void)state;
	for (i = 0; i < 256; i++)
		octets[i] = (uint8_t)i;
	block[0] = 0x00;	/* without indexing, new name */
	block[1] = 0x01;
	block[2] = 'x';
	n = huff_encode(octets, 256, block + 6);
	block[3] = 0xff;	/* Huffman, length 127 + ... in 2 octets */
	block[4] = (uint8_t)(0x80 | ((n - 127) & 0x7f));
	block[5] = (uint8_t)((n - 127) >> 7);
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_bytes(&dec, block, n + 6), HPACK_OK);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.f[0].vlen, 256);
	assert_memory_equal(rec.f[0].value, octets, 256);
}

static void
test_huffman_errors(void **state)
{
	static const struct pair a[] = { { "a", "a" } }, empty[] = {
		{ "a", "" } };

	(void)state;
	hpack_decoder_init(&dec, 4096);
	/* 'a' (00011) and 3 bits of padding */
	assert_int_equal(decode_hex(&dec, "000161 81 1f"), HPACK_OK);
	expect_fields(a, 1);
	assert_int_equal(decode_hex(&dec, "000161 80"), HPACK_OK);
	expect_fields(empty, 1);
	/* padding not all ones */
	assert_int_equal(decode_hex(&dec, "000161 81 18"), HPACK_E_HUFFMAN);
	/* 11 bits of padding */
	assert_int_equal(decode_hex(&dec, "000161 82 1fff"), HPACK_E_HUFFMAN);
	/* a whole octet of padding */
	assert_int_equal(decode_hex(&dec, "000161 81 ff"), HPACK_E_HUFFMAN);
	/* EOS, 30 ones, in the data */
	assert_int_equal(decode_hex(&dec, "000161 84 ffffffff"),
	    HPACK_E_HUFFMAN);
	/* EOS then 'a': still an error */
	assert_int_equal(decode_hex(&dec, "000161 85 fffffffc 7f"),
	    HPACK_E_HUFFMAN);
	/* a code cut short: the first 8 bits of '!' (10 bits) */
	assert_int_equal(decode_hex(&dec, "000161 81 fe"), HPACK_E_HUFFMAN);
	/* in a name */
	assert_int_equal(decode_hex(&dec, "40 81 18 0161"), HPACK_E_HUFFMAN);
	assert_int_equal(dec.counters.errors, 7);
	assert_int_equal(dec.counters.fields, 2);
}

/* Strings decoded again are found by their code (hpack.c keeps recent
 * ones): the same answers, the same errors, and codes that differ in
 * one octet or in length told apart. */
static void
test_huffman_repeated(void **state)
{
	static const struct pair a[] = { { "a", "a" } }, ab[] = {
		{ "a", "ab" } }, e[] = { { "a", "e" } };

	(void)state;
	hpack_decoder_init(&dec, 4096);
	for (int i = 0; i < 3; i++) {
		/* 'a' 00011, 'b' 100011: 11 bits, 5 of padding */
		assert_int_equal(decode_hex(&dec, "000161 82 1c7f"), HPACK_OK);
		expect_fields(ab, 1);
		/* 'a' alone, then 'e' (00101) in the same length */
		assert_int_equal(decode_hex(&dec, "000161 81 1f"), HPACK_OK);
		expect_fields(a, 1);
		assert_int_equal(decode_hex(&dec, "000161 81 2f"), HPACK_OK);
		expect_fields(e, 1);
		/* padding not all ones, again and again */
		assert_int_equal(decode_hex(&dec, "000161 81 18"),
		    HPACK_E_HUFFMAN);
	}
	/* more strings than are kept, then the first again */
	for (int i = 0; i < 20; i++) {
		char hex[32];

		snprintf(hex, sizeof(hex), "000161 82 1c%02x", 0x7f);
		if (i % 2 == 0)
			snprintf(hex, sizeof(hex), "000161 81 %02x", 0x1f);
		assert_int_equal(decode_hex(&dec, hex), HPACK_OK);
		expect_fields(i % 2 == 0 ? a : ab, 1);
	}
	assert_int_equal(dec.counters.errors, 3);
}

/* ---- other errors */

static void
test_errors(void **state)
{
	(void)state;
	hpack_decoder_init(&dec, 4096);
	/* index 0 */
	assert_int_equal(decode_hex(&dec, "80"), HPACK_E_INDEX);
	/* the last static entry, then the first dynamic one of an empty
	 * table */
	assert_int_equal(decode_hex(&dec, "bd"), HPACK_OK);
	assert_string_equal(rec.f[0].name, "www-authenticate");
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "be"), HPACK_E_INDEX);
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "ff ff 0f"), HPACK_E_INDEX);
	/* a literal naming an entry past the end */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "7f00 0161"), HPACK_E_INDEX);
	/* the block ends before a value, or inside one */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "41"), HPACK_E_TRUNCATED);
	assert_int_equal(decode_hex(&dec, "400161"), HPACK_E_TRUNCATED);
	assert_int_equal(decode_hex(&dec, "41 05 6162"), HPACK_E_STRING);
	assert_int_equal(decode_hex(&dec, "41 85 6162"), HPACK_E_STRING);
	assert_int_equal(rec.n, 0);
	assert_int_equal(dec.counters.errors, 4);
}

static void
test_size_updates(void **state)
{
	(void)state;
	hpack_decoder_init(&dec, 4096);
	/* 4096 is the limit: taken; 4097 is not */
	assert_int_equal(decode_hex(&dec, "3fe11f 82"), HPACK_OK);
	assert_int_equal(decode_hex(&dec, "3fe21f 82"), HPACK_E_SIZE_UPDATE);
	assert_int_equal(rec.n, 0);
	/* two updates at the start: fine; one after a field: not */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "20 3fe11f 82"), HPACK_OK);
	assert_int_equal(decode_hex(&dec, "82 20"), HPACK_E_LATE_UPDATE);
	assert_int_equal(rec.n, 1);
	assert_int_equal(dec.counters.errors, 1);

	/* an update below the known entries evicts the oldest */
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "400161 0162 400163 0164"),
	    HPACK_OK);
	expect_info(&dec, 2, 68, 1);
	assert_int_equal(decode_hex(&dec, "3f 16"), HPACK_OK);	/* 53 */
	expect_info(&dec, 1, 34, 1);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	assert_string_equal(rec.f[0].name, "c");

	/* a lower settings limit evicts at once; a higher one does not
	 * bring anything back */
	hpack_set_settings_max(&dec, 33);
	expect_info(&dec, 0, 0, 1);
	hpack_set_settings_max(&dec, 4096);
	expect_info(&dec, 0, 0, 1);
	assert_int_equal(dec.table.max_size, 4096);
}

/* ---- the dynamic table at its limits */

/* A literal with incremental indexing, new name: n octets of c, then
 * value of v octets of d.  Returns the block's length. */
static size_t
indexed_literal(uint8_t *out, size_t n, char c, size_t v, char d)
{
	size_t len = 0, i;
	size_t sizes[2] = { n, v };
	char fill[2] = { c, d };

	out[len++] = 0x40;
	for (i = 0; i < 2; i++) {
		if (sizes[i] < 127) {
			out[len++] = (uint8_t)sizes[i];
		} else {
			out[len++] = 0x7f;
			out[len++] =
			    (uint8_t)(0x80 | ((sizes[i] - 127) & 0x7f));
			out[len++] = (uint8_t)((sizes[i] - 127) >> 7);
		}
		memset(out + len, fill[i], sizes[i]);
		len += sizes[i];
	}
	return len;
}

static void
test_table_at_capacity(void **state)
{
	static uint8_t block[BLOCK_MAX];
	size_t n;
	int i;

	(void)state;
	/* one entry of exactly the maximum size */
	hpack_decoder_init(&dec, 100);
	n = indexed_literal(block, 30, 'n', 38, 'v');
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 1, 100, 1);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	assert_int_equal(rec.f[0].nlen, 30);
	assert_int_equal(rec.f[0].vlen, 38);
	/* one more octet is too much: the table is emptied */
	n = indexed_literal(block, 30, 'n', 39, 'v');
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 0, 0, 1);

	/* a 4096-octet table filled by one entry, whose octets wrap
	 * around the end of the ring */
	hpack_decoder_init(&dec, 4096);
	n = indexed_literal(block, 1, 'a', 100, 'b');
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	n = indexed_literal(block, 1, 'n', 4063, 'v');
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 1, 4096, 1);
	assert_int_equal(dec.table.wpos, (101 + 4064) % HPACK_RING_SIZE);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	assert_int_equal(rec.f[0].vlen, 4063);
	assert_true(rec.f[0].value[0] == 'v' && rec.f[0].value[4062] == 'v');
	assert_string_equal(rec.f[0].name, "n");

	/* 128 empty entries fill it too; one more evicts the oldest */
	hpack_decoder_init(&dec, 4096);
	for (i = 0; i < HPACK_MAX_ENTRIES; i++)
		assert_int_equal(decode_hex(&dec, "400000"), HPACK_OK);
	expect_info(&dec, HPACK_MAX_ENTRIES, 4096, 1);
	assert_int_equal(probe(&dec, HPACK_MAX_ENTRIES), HPACK_OK);
	assert_int_equal(probe(&dec, HPACK_MAX_ENTRIES + 1), HPACK_E_INDEX);
	assert_int_equal(decode_hex(&dec, "400161 0162"), HPACK_OK);
	/* two go to make room for 34 octets */
	expect_info(&dec, HPACK_MAX_ENTRIES - 1, 4096 - 64 + 34, 1);
}

/* Entries wrap around the ring, one evicting another each time. */
static void
test_ring_wraps(void **state)
{
	static uint8_t block[BLOCK_MAX];
	size_t n;
	int i;

	(void)state;
	hpack_decoder_init(&dec, 4096);
	for (i = 0; i < 12; i++) {
		n = indexed_literal(block, 3, (char)('a' + i), 1000,
		    (char)('A' + i));
		assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
		/* 1035 octets each: three fit */
		expect_info(&dec, i < 3 ? (unsigned)i + 1 : 3,
		    (i < 3 ? (unsigned)i + 1 : 3) * 1035, 1);
		assert_int_equal(probe(&dec, 1), HPACK_OK);
		assert_int_equal(rec.f[0].name[0], 'a' + i);
		assert_int_equal(rec.f[0].value[999], 'A' + i);
		if (i >= 2) {
			assert_int_equal(probe(&dec, 3), HPACK_OK);
			assert_int_equal(rec.f[0].name[2], 'a' + i - 2);
			assert_int_equal(rec.f[0].value[0], 'A' + i - 2);
		}
	}
}

/* A literal naming an entry that adding it evicts keeps the name. */
static void
test_name_of_evicted_entry(void **state)
{
	static const struct pair want[] = { { "abcdefgh", "0123456789" } };

	(void)state;
	hpack_decoder_init(&dec, 80);
	assert_int_equal(decode_hex(&dec, "4008 6162636465666768 0178"),
	    HPACK_OK);
	expect_info(&dec, 1, 41, 1);
	/* name: dynamic index 1 (62), value 10 octets: 50 octets */
	assert_int_equal(decode_hex(&dec, "7e 0a 30313233343536373839"),
	    HPACK_OK);
	expect_table(&dec, want, 1, 50);
}

/* A settings limit above the ring: entries the peer keeps are forgotten
 * here, and become unknown. */
static void
test_settings_above_ring(void **state)
{
	static uint8_t block[BLOCK_MAX];
	size_t n;
	int i;

	(void)state;
	hpack_decoder_init(&dec, 65536);
	for (i = 0; i < 5; i++) {
		n = indexed_literal(block, 1, (char)('a' + i), 1000, 'v');
		assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	}
	expect_info(&dec, 4, 4 * 1033, 0);
	assert_int_equal(probe(&dec, 4), HPACK_OK);
	assert_string_equal(rec.f[0].name, "b");
	assert_int_equal(probe(&dec, 5), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);
	/* an entry larger than the ring: nothing is known after it */
	n = indexed_literal(block, 1, 'z', 5000, 'v');
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 0, 0, 0);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);
}

/* ---- strings that must be copied */

static void
test_long_huffman_cut(void **state)
{
	static uint8_t block[BLOCK_MAX];
	size_t n;

	(void)state;
	/* 5000 '0' (00000): 3125 octets of zeros, no padding */
	block[0] = 0x40;
	block[1] = 0x01;
	block[2] = 'a';
	block[3] = 0xff;
	block[4] = (uint8_t)(0x80 | ((3125 - 127) & 0x7f));
	block[5] = (uint8_t)((3125 - 127) >> 7);
	memset(block + 6, 0, 3125);
	n = 6 + 3125;
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.f[0].vlen, HPACK_STRING_MAX);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_VALUE_TRUNCATED);
	assert_int_equal(rec.f[0].value[HPACK_STRING_MAX - 1], '0');
	assert_int_equal(dec.counters.truncated, 1);
	/* 5033 octets: larger than the table, which is emptied */
	expect_info(&dec, 0, 0, 1);
}

static void
test_fragments(void **state)
{
	static uint8_t block[BLOCK_MAX];
	static const struct pair req3[] = { REQ3 };
	struct hpack_frag frags[64];
	struct hpack_decoder base;
	size_t n, cut, i;

	(void)state;
	/* C.4.3 after C.4.1 and C.4.2, cut in two at every place */
	hpack_decoder_init(&base, 4096);
	assert_int_equal(decode_hex(&base,
	    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), HPACK_OK);
	assert_int_equal(decode_hex(&base, "8286 84be 5886 a8eb 1064 9cbf"),
	    HPACK_OK);
	n = unhex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8"
	    " b4bf", block, sizeof(block));
	for (cut = 0; cut <= n; cut++) {
		dec = base;
		frags[0].data = block;
		frags[0].len = cut;
		frags[1].data = block + cut;
		frags[1].len = n - cut;
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(hpack_decode(&dec, frags, 2, rec_field, &rec),
		    HPACK_OK);
		expect_fields(req3, 5);
	}
	/* one octet a piece, with empty pieces between */
	assert_true(2 * n <= 64);
	for (i = 0; i < n; i++) {
		frags[2 * i].data = block + i;
		frags[2 * i].len = 1;
		frags[2 * i + 1].data = NULL;
		frags[2 * i + 1].len = 0;
	}
	dec = base;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(hpack_decode(&dec, frags, 2 * n, rec_field, &rec),
	    HPACK_OK);
	expect_fields(req3, 5);
	expect_info(&dec, 3, 164, 1);

	/* an integer and a raw string across pieces */
	(void)unhex("3fe1 1f0f 2e03 6162 63", block, sizeof(block));
	frags[0].data = block;
	frags[0].len = 2;
	frags[1].data = block + 2;
	frags[1].len = 5;
	frags[2].data = block + 7;
	frags[2].len = 2;
	dec = base;
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(hpack_decode(&dec, frags, 3, rec_field, &rec),
	    HPACK_OK);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.f[0].name, "www-authenticate");
	assert_string_equal(rec.f[0].value, "abc");
	/* the last piece one octet short */
	frags[2].len = 1;
	assert_int_equal(hpack_decode(&dec, frags, 3, rec_field, &rec),
	    HPACK_E_STRING);
	/* empty block, no pieces */
	assert_int_equal(hpack_decode(&dec, NULL, 0, rec_field, &rec),
	    HPACK_OK);
}

/* ---- partial knowledge */

static void
test_unknown_table(void **state)
{
	static const struct pair foo[] = { { "foo", "bar" } };
	struct hpack_table_info ti;

	(void)state;
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec,
	    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), HPACK_OK);
	hpack_mark_unknown(&dec);
	expect_info(&dec, 0, 0, 0);

	/* a reference to an entry not known: reported, counted, no error */
	assert_int_equal(decode_hex(&dec, "82 be"), HPACK_OK);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.f[1].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);
	assert_int_equal(rec.f[1].nlen + rec.f[1].vlen, 0);
	assert_int_equal(dec.counters.unknown, 1);
	assert_int_equal(dec.counters.errors, 0);

	/* entries added from now on are known; older indexes are not */
	assert_int_equal(decode_hex(&dec, "4003 666f6f 03 626172"), HPACK_OK);
	expect_info(&dec, 1, 38, 0);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	expect_fields(foo, 1);
	assert_int_equal(probe(&dec, 2), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);

	/* a literal naming an unknown entry: its value is known, and so is
	 * it once added, by value */
	assert_int_equal(decode_hex(&dec, "7f00 03 62617a"), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN);
	assert_string_equal(rec.f[0].value, "baz");
	expect_info(&dec, 2, 38 + 35, 0);
	assert_int_equal(probe(&dec, 1), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN);
	assert_string_equal(rec.f[0].value, "baz");
	assert_int_equal(probe(&dec, 2), HPACK_OK);
	expect_fields(foo, 1);

	/* how far an unknown entry can be: (4096 - 73) / 32 = 125 past the
	 * known ones */
	assert_int_equal(probe(&dec, 2 + 125), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);
	assert_int_equal(probe(&dec, 2 + 126), HPACK_E_INDEX);

	/* a size update to 0: all known, and empty */
	assert_int_equal(decode_hex(&dec, "20 3fe11f 82"), HPACK_OK);
	expect_table(&dec, NULL, 0, 0);
	hpack_table_info(&dec, &ti);
	assert_int_equal(ti.max_size, 4096);
}

/* When the known entries leave no room for another, or one of them is
 * evicted, older entries cannot remain. */
static void
test_unknown_until_full(void **state)
{
	static uint8_t block[BLOCK_MAX];
	size_t n;

	(void)state;
	hpack_decoder_init(&dec, 256);
	hpack_mark_unknown(&dec);
	n = indexed_literal(block, 1, 'a', 150, 'v');	/* 183 */
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 1, 183, 0);
	assert_int_equal(probe(&dec, 3), HPACK_OK);
	assert_int_equal(probe(&dec, 4), HPACK_E_INDEX);	/* 73 / 32 */
	n = indexed_literal(block, 1, 'b', 8, 'v');	/* 41: 224 */
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 2, 224, 0);
	n = indexed_literal(block, 1, 'c', 0, 'v');	/* 33: 257 */
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 2, 74, 1);	/* evicted 'a' */
	assert_int_equal(probe(&dec, 3), HPACK_E_INDEX);

	/* left with less than 32 octets of room */
	hpack_mark_unknown(&dec);
	n = indexed_literal(block, 1, 'a', 190, 'v');	/* 223 */
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 1, 223, 0);
	n = indexed_literal(block, 1, 'b', 0, 'v');	/* 33: 256 */
	assert_int_equal(decode_bytes(&dec, block, n), HPACK_OK);
	expect_info(&dec, 2, 256, 1);

	/* a settings limit under 32 leaves no room for anything */
	hpack_set_settings_max(&dec, 31);
	hpack_mark_unknown(&dec);
	expect_info(&dec, 0, 0, 1);
}

/* A failed block loses the table: what it did is not trusted. */
static void
test_error_loses_table(void **state)
{
	(void)state;
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(decode_hex(&dec, "4003 666f6f 03 626172"), HPACK_OK);
	expect_info(&dec, 1, 38, 1);
	assert_int_equal(decode_hex(&dec, "4003 666f6f 03 62617a 80"),
	    HPACK_E_INDEX);
	assert_int_equal(rec.n, 1);
	expect_info(&dec, 0, 0, 0);
	assert_int_equal(dec.table.max_size, 4096);
	assert_int_equal(decode_hex(&dec, "be"), HPACK_OK);
	assert_int_equal(rec.f[0].flags, HPACK_FIELD_NAME_UNKNOWN |
	    HPACK_FIELD_VALUE_UNKNOWN);
	assert_int_equal(dec.counters.errors, 1);
	assert_int_equal(dec.counters.fields, 3);
	assert_int_equal(dec.counters.unknown, 1);
}

static void
test_state_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct hpack_decoder) <= HPACK_DECODER_SIZE_MAX);
	print_message("struct hpack_decoder: %zu octets\n",
	    sizeof(struct hpack_decoder));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c1_integers),
		cmocka_unit_test(test_integer_limits),
		cmocka_unit_test(test_c2_literals),
		cmocka_unit_test(test_c3_requests),
		cmocka_unit_test(test_c4_requests_huffman),
		cmocka_unit_test(test_c5_responses),
		cmocka_unit_test(test_c6_responses_huffman),
		cmocka_unit_test(test_huffman_table),
		cmocka_unit_test(test_huffman_every_octet),
		cmocka_unit_test(test_huffman_errors),
		cmocka_unit_test(test_huffman_repeated),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_size_updates),
		cmocka_unit_test(test_table_at_capacity),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_name_of_evicted_entry),
		cmocka_unit_test(test_settings_above_ring),
		cmocka_unit_test(test_long_huffman_cut),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_unknown_table),
		cmocka_unit_test(test_unknown_until_full),
		cmocka_unit_test(test_error_loses_table),
		cmocka_unit_test(test_state_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
