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

/* The functions, by index into a file's offsets. */
enum tls_func {
	TLS_SSL_READ, TLS_SSL_WRITE, TLS_SSL_READ_EX, TLS_SSL_WRITE_EX,
	TLS_SSL_DO_HANDSHAKE, TLS_SSL_FREE, TLS_FUNCS
};

extern const char *const tls_func_names[TLS_FUNCS];

/* The file offsets of the functions in the ELF file open at fd (0 where
 * absent; every one found lies within the file); true when it holds
 * SSL_read and SSL_write. */
bool tls_elf_offsets(int fd, size_t off[TLS_FUNCS]);
/* Whether the ELF file open at fd has a section of that name. */
bool tls_elf_has_section(int fd, const char *name);

#endif
