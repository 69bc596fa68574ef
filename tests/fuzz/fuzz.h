/*
 * What the fuzz targets share: reading the script of records an input
 * is, and reporting a broken invariant (an abort, which libFuzzer and
 * fuzz_main.c both report with the input).  FZ_NAME names the target.
 */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fz_in {
	const uint8_t	*p;
	size_t		 n;
};

static inline void
fz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: invariant broken: %s\n", FZ_NAME, what);
		abort();
	}
}

/* The next byte, or -1 at the end. */
static inline int
fz_byte(struct fz_in *in)
{
	if (in->n == 0)
		return -1;
	in->n--;
	return *in->p++;
}

/* Up to want bytes (*got of them). */
static inline const uint8_t *
fz_take(struct fz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

static inline int
fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#endif
