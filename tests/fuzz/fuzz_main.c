/*
 * The fuzz targets as plain programs, for `make check` and for replaying
 * a crash without libFuzzer: each file named on the command line ("-":
 * standard input) is one input to LLVMFuzzerTestOneInput.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fz_run_stream(FILE *f, const char *name)
{
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, got;

	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "%s: out of memory\n", name);
				free(buf);
				return -1;
			}
			buf = nbuf;
		}
		if ((got = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += got;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", name);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	FILE *f;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file ... (- for stdin)\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (fz_run_stream(stdin, "stdin") != 0)
				rc = 1;
			continue;
		}
		if ((f = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			rc = 1;
			continue;
		}
		if (fz_run_stream(f, argv[i]) != 0)
			rc = 1;
		fclose(f);
	}
	return rc;
}
