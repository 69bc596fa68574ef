/*
 * HPACK decoding cost per header block (collector/protocols/hpack*.c),
 * on gRPC requests as a Go client sends them and on RFC 7541 C.4.
 *
 *   make bench/hpack_bench
 *   bench/hpack_bench [BLOCKS]
 *   valgrind --tool=callgrind bench/hpack_bench 100000
 *
 * Cases, each run BLOCKS times:
 *   grpc-first  a new decoder and the first request of a connection:
 *               static indexes, five Huffman-coded literals added to
 *               the table, one not indexed (88 octets, 8 fields);
 *   grpc-later  a later request on the same connection: seven indexes
 *               (five dynamic) and the grpc-timeout literal (25 octets);
 *   rfc-c4      a new decoder and the three requests of C.4 (per block).
 * Prints ns per block.  Under callgrind, instructions per block do not
 * depend on what else the machine is doing: each case is a function
 * (bench_grpc_first, ...), whose inclusive cost over its blocks is that
 * (grpc-later's includes one grpc-first block; the new decoders' cases
 * include hpack_decoder_init()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "grpc_blocks.h"
#include "hpack.h"

struct bench_block {
	const uint8_t *data;
	size_t         len;
	unsigned       fields;
};

#define BB(s, fields)	{ (const uint8_t *)(s), sizeof(s) - 1, fields }

/* The gRPC request of grpc_blocks.h: 8 fields each. */
static const struct bench_block grpc_first = BB(GRPC_GO_FIRST, 8);
static const struct bench_block grpc_later = BB(GRPC_GO_LATER, 8);

static const struct bench_block rfc_c4[3] = {
	BB("\x82\x86\x84\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90"
	    "\xf4\xff", 4),
	BB("\x82\x86\x84\xbe\x58\x86\xa8\xeb\x10\x64\x9c\xbf", 5),
	BB("\x82\x87\x85\xbf\x40\x88\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f\x89"
	    "\x25\xa8\x49\xe9\x5b\xb8\xe8\xb4\xbf", 5),
};

struct bench {
	uint64_t fields;
	uint64_t octets;	/* keeps the callback's work */
};

static void
bench_field(void *ctx, const char *name, size_t nlen, const char *value,
    size_t vlen, unsigned flags)
{
	struct bench *b = ctx;

	(void)name;
	(void)value;
	(void)flags;
	b->fields++;
	b->octets += nlen + vlen;
}

static int
bench_decode(struct hpack_decoder *d, const struct bench_block *bb,
    struct bench *b)
{
	if (hpack_decode_block(d, bb->data, bb->len, bench_field, b) !=
	    HPACK_OK) {
		fprintf(stderr, "hpack_bench: block refused\n");
		return -1;
	}
	return 0;
}

static void
bench_report(const char *name, unsigned long blocks, uint64_t t0,
    uint64_t t1)
{
	printf("%-11s %lu blocks: %.1f ns per block\n", name, blocks,
	    (double)(t1 - t0) / (double)blocks);
}

/* One function per case, so that callgrind shows each one's cost. */
static __attribute__((noinline)) int
bench_grpc_first(unsigned long n, struct bench *b)
{
	struct hpack_decoder d;
	unsigned long i;

	for (i = 0; i < n; i++) {
		hpack_decoder_init(&d, HPACK_SETTINGS_DEFAULT);
		if (bench_decode(&d, &grpc_first, b) != 0)
			return -1;
	}
	return 0;
}

static __attribute__((noinline)) int
bench_grpc_later(unsigned long n, struct bench *b)
{
	struct hpack_decoder d;
	unsigned long i;

	hpack_decoder_init(&d, HPACK_SETTINGS_DEFAULT);
	if (bench_decode(&d, &grpc_first, b) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (bench_decode(&d, &grpc_later, b) != 0)
			return -1;
	return d.counters.unknown == 0 ? 0 : -1;
}

static __attribute__((noinline)) int
bench_rfc_c4(unsigned long n, struct bench *b)
{
	struct hpack_decoder d;
	unsigned long i;
	unsigned j;

	for (i = 0; i < n; i++) {
		hpack_decoder_init(&d, HPACK_SETTINGS_DEFAULT);
		for (j = 0; j < 3; j++)
			if (bench_decode(&d, &rfc_c4[j], b) != 0)
				return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	struct bench b = { 0, 0 };
	uint64_t t0, t1, want;

	if (n == 0) {
		fprintf(stderr, "usage: hpack_bench [BLOCKS]\n");
		return 2;
	}
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	if (bench_grpc_first(n, &b) != 0)
		return 1;
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_report("grpc-first", n, t0, t1);
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	if (bench_grpc_later(n, &b) != 0)
		return 1;
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_report("grpc-later", n, t0, t1);
	t0 = sg_clock_ns(CLOCK_MONOTONIC);
	if (bench_rfc_c4(n, &b) != 0)
		return 1;
	t1 = sg_clock_ns(CLOCK_MONOTONIC);
	bench_report("rfc-c4", 3 * n, t0, t1);

	want = (uint64_t)n * (grpc_first.fields + grpc_later.fields +
	    rfc_c4[0].fields + rfc_c4[1].fields + rfc_c4[2].fields) +
	    grpc_first.fields;
	if (b.fields != want) {
		fprintf(stderr, "hpack_bench: %llu fields of %llu\n",
		    (unsigned long long)b.fields, (unsigned long long)want);
		return 1;
	}
	return 0;
}
