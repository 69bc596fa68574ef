/* The inner OpenSSL functions, found through the wrappers' calls
 * (loader/tls_elf.c).  The code bytes are Debian 12's libssl.so.3
 * (3.0.x): SSL_read_ex at 0x354c0 and SSL_read at 0x35430 both call
 * ssl_read_internal at 0x35290. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls_elf.h"

#define LO 0x1f000
#define HI 0x80000

/* sub $0x8,%rsp; call 0x35290 */
static const uint8_t read_ex[] = {
	0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff, 0xff,
	0x31, 0xd2, 0x85, 0xc0,
};
/* sub $0x18,%rsp; the stack protector; num's check; call 0x35290 */
static const uint8_t read_plain[] = {
	0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00,
	0x00, 0x00, 0x48, 0x89, 0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2,
	0x78, 0x2f, 0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2, 0xe8, 0x3d, 0xfe,
	0xff, 0xff, 0x85, 0xc0,
};

static void
test_wrapper_callee(void **state)
{
	(void)state;
	assert_int_equal(tls_elf_wrapper_callee(read_ex, sizeof(read_ex),
	    0x354c0, LO, HI), 0x35290);
	/* The callee must lie in the segment. */
	assert_int_equal(tls_elf_wrapper_callee(read_ex, sizeof(read_ex),
	    0x354c0, 0x35300, HI), 0);
	assert_int_equal(tls_elf_wrapper_callee(read_ex, sizeof(read_ex),
	    0x354c0, LO, 0x35290), 0);
	/* Only a call right after the prologue: SSL_read is not a thin
	 * wrapper. */
	assert_int_equal(tls_elf_wrapper_callee(read_plain,
	    sizeof(read_plain), 0x35430, LO, HI), 0);
}

static void
test_wrapper_prologues(void **state)
{
	/* endbr64; push %rbx; push %r12; call +0x100 */
	static const uint8_t cet[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x53, 0x41,
	    0x54, 0xe8, 0x00, 0x01, 0x00, 0x00 };
	/* three pushes before the call: not a thin wrapper */
	static const uint8_t pushes[] = { 0x53, 0x55, 0x41, 0x54, 0xe8,
	    0x00, 0x01, 0x00, 0x00 };
	/* a call backwards past the file's start */
	static const uint8_t before[] = { 0xe8, 0x00, 0x00, 0x00, 0x80 };

	(void)state;
	assert_int_equal(tls_elf_wrapper_callee(cet, sizeof(cet), 0x40000,
	    LO, HI), 0x40000 + 12 + 0x100);
	assert_int_equal(tls_elf_wrapper_callee(pushes, sizeof(pushes),
	    0x40000, LO, HI), 0);
	assert_int_equal(tls_elf_wrapper_callee(before, sizeof(before),
	    0x40000, 0, HI), 0);
	/* Cut short anywhere: nothing found, nothing read past the end. */
	for (size_t n = 0; n < sizeof(cet); n++)
		assert_int_equal(tls_elf_wrapper_callee(cet, n, 0x40000, LO,
		    HI), 0);
	for (size_t n = 0; n < 9; n++)
		assert_int_equal(tls_elf_wrapper_callee(read_ex, n, 0x354c0,
		    LO, HI), 0);
}

static void
test_calls(void **state)
{
	(void)state;
	assert_true(tls_elf_calls(read_plain, sizeof(read_plain), 0x35430,
	    0x35290));
	assert_false(tls_elf_calls(read_plain, sizeof(read_plain), 0x35430,
	    0x355a0));
	/* the call's last byte cut off */
	assert_false(tls_elf_calls(read_plain, 34, 0x35430, 0x35290));
	assert_false(tls_elf_calls(read_plain, 0, 0x35430, 0x35290));
}

/* The system's libssl, where the machine has one: both inner functions
 * found, distinct, and neither is an exported one. */
static void
test_system_libssl(void **state)
{
	const char *path = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
	size_t off[TLS_FUNCS];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	(void)state;
	if (fd < 0)
		skip();
	assert_true(tls_elf_offsets(fd, off));
	close(fd);
	assert_true(off[TLS_SSL_READ_INNER] != 0);
	assert_true(off[TLS_SSL_WRITE_INNER] != 0);
	assert_true(off[TLS_SSL_READ_INNER] != off[TLS_SSL_WRITE_INNER]);
	for (int f = 0; f < TLS_SYMBOLS; f++) {
		assert_true(off[f] != off[TLS_SSL_READ_INNER]);
		assert_true(off[f] != off[TLS_SSL_WRITE_INNER]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrapper_callee),
		cmocka_unit_test(test_wrapper_prologues),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_system_libssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
