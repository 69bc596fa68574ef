/*
 * Fuzz target for the ELF reader of the TLS uprobes (loader/tls_elf.c):
 * the input is the file, and also the code of a wrapper.  It runs in the
 * privileged loader, on files the loader trusts (root's); this target
 * holds it to what it promises for any bytes: no crash, no overread,
 * and every offset it returns lies within the file.
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#define FZ_NAME "fuzz_elf"
#include "fuzz.h"
#include "tls_elf.h"

#include <sys/mman.h>
#include <unistd.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	size_t off[TLS_FUNCS];
	bool found;

	/* One memory file for the run, rewritten for each input. */
	if (fd < 0 && (fd = memfd_create("fuzz_elf", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) != 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	found = tls_elf_offsets(fd, off);
	for (int f = 0; f < TLS_FUNCS; f++)
		fz_check(off[f] < size || off[f] == 0, "offset past the file");
	fz_check(!found || (off[TLS_SSL_READ] != 0 && off[TLS_SSL_WRITE] != 0),
	    "found without SSL_read and SSL_write");
	(void)tls_elf_has_section(fd, ".go.buildinfo");
	/* The input as code too: the wrapper decoding reads within n. */
	if (size > 0) {
		size_t callee = tls_elf_wrapper_callee(data, size, 0x1000,
		    0x1000, 0x1000 + size);

		fz_check(callee == 0 || (callee >= 0x1000 &&
		    callee < 0x1000 + size), "callee outside its bounds");
		(void)tls_elf_calls(data, size, 0x1000, 0x1000);
	}
	return 0;
}
