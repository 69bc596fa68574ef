/*
 * Where OpenSSL's functions are in an ELF file (a libssl, or an
 * executable linking OpenSSL statically), as file offsets for uprobes.
 * The loader reads only files it trusts (tls.c: owned by root, written by
 * no one else); still, this is a parser of bytes from disk with a fuzz
 * target of its own (tests/fuzz/fuzz_elf.c).
 */
#ifndef SG_TLS_ELF_H
#define SG_TLS_ELF_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

/* The functions, by index into a file's offsets: the exported ones,
 * found by name, then the inner ones SSL_read/SSL_read_ex and
 * SSL_write/SSL_write_ex share, found through the calls to them. */
enum tls_func {
	TLS_SSL_READ, TLS_SSL_WRITE, TLS_SSL_READ_EX, TLS_SSL_WRITE_EX,
	TLS_SSL_DO_HANDSHAKE, TLS_SSL_FREE,
	TLS_SYMBOLS,
	TLS_SSL_READ_INNER = TLS_SYMBOLS, TLS_SSL_WRITE_INNER,
	TLS_FUNCS
};

extern const char *const tls_func_names[TLS_FUNCS];

/*
 * The file offsets of the functions in the ELF file open at fd (0 where
 * absent; every one found lies within the file); true when it holds
 * SSL_read and SSL_write.  Where a file's SSL_read and SSL_read_ex both
 * call one inner function (OpenSSL 1.1.1 and 3.x: ssl_read_internal,
 * which takes SSL_read_ex's arguments), its offset is given too, and
 * likewise for writes; tls.c probes it in place of theirs (tls_elf.c
 * says why).
 */
bool tls_elf_offsets(int fd, size_t off[TLS_FUNCS]);

/* The callee of a thin wrapper: code (n bytes of it, at file offset at)
 * opens with at most an endbr64 and two stack adjustments (push, or sub
 * of rsp) before a call rel32.  The callee's file offset, when the call
 * stays within [lo, hi); 0 otherwise. */
size_t tls_elf_wrapper_callee(const uint8_t *code, size_t n, size_t at,
    size_t lo, size_t hi);
/* Whether code (n bytes at file offset at) holds a call rel32 to
 * target. */
bool tls_elf_calls(const uint8_t *code, size_t n, size_t at, size_t target);
/* Whether the ELF file open at fd has a section of that name. */
bool tls_elf_has_section(int fd, const char *name);

#endif
