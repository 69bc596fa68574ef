/*
 * OpenSSL's functions in an ELF file, through libelf.
 *
 * Why the inner functions: a uprobe is an int3 at the function's first
 * instruction, and the kernel runs that instruction either by emulating
 * it (branches, NOPs, pushes) or out of line with a single step, a second
 * exception.  On a paravirtualised guest such as the bench's, an
 * emulated hit costs about 2 us and a single-stepped one about 7
 * (bench/uprobe_cost; bench/RESULTS.md, 2026-11-27 18:04).  Debian's
 * SSL_read and SSL_write open with `sub $0x18,%rsp`, single-stepped; the
 * ssl_read_internal and ssl_write_internal they (and the _ex forms) call
 * open with pushes.
 * Those are static, so not in the symbol table: they are found as the
 * callee of the call SSL_read_ex opens with, and taken only when
 * SSL_read calls the same function.
 */
#include "tls_elf.h"

#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const tls_func_names[TLS_FUNCS] = {
	"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex",
	"SSL_do_handshake", "SSL_free",
	"ssl_read_internal", "ssl_write_internal",
};

/* Bytes of a wrapper looked at: SSL_read calls the inner function after
 * its stack protector and argument checks, within 40 bytes in Debian's
 * build. */
#define TLS_CODE_SCAN 128

/* The file offset of sym, within a file of fsize bytes; 0 when its
 * section does not hold it there. */
static size_t
tls_elf_sym_offset(Elf *e, const GElf_Sym *sym, size_t fsize)
{
	Elf_Scn *text = elf_getscn(e, sym->st_shndx);
	GElf_Shdr sh;
	size_t off;

	/* The uprobe takes a file offset: the symbol's address within its
	 * section, from the section's offset. */
	if (text == NULL || gelf_getshdr(text, &sh) == NULL ||
	    sh.sh_type != SHT_PROGBITS || sym->st_value < sh.sh_addr ||
	    sym->st_value - sh.sh_addr >= sh.sh_size ||
	    sh.sh_offset >= fsize ||
	    sym->st_value - sh.sh_addr >= fsize - sh.sh_offset)
		return 0;
	off = (size_t)(sym->st_value - sh.sh_addr + sh.sh_offset);
	return off;
}

/* Symbols of one table (SHT_DYNSYM or SHT_SYMTAB) into off[]. */
static void
tls_elf_table(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, size_t fsize,
    size_t off[TLS_FUNCS])
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (d == NULL || sh->sh_entsize == 0)
		return;
	n = d->d_size / sh->sh_entsize;
	for (size_t i = 0; i < n && i < (size_t)INT32_MAX; i++) {
		const char *name;
		GElf_Sym sym;

		if (gelf_getsym(d, (int)i, &sym) == NULL ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
		    sym.st_value == 0)
			continue;
		name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (name == NULL || name[0] != 'S' || name[1] != 'S')
			continue;
		for (int f = 0; f < TLS_SYMBOLS; f++)
			if (off[f] == 0 && strcmp(name, tls_func_names[f]) == 0) {
				off[f] = tls_elf_sym_offset(e, &sym, fsize);
				break;
			}
	}
}

static int32_t
tls_rel32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* The file offset a call rel32 at code[i] (code at file offset at)
 * goes to; negative when it would lie before the file. */
static int64_t
tls_call_target(const uint8_t *code, size_t i, size_t at)
{
	return (int64_t)at + (int64_t)i + 5 + tls_rel32(code + i + 1);
}

size_t
tls_elf_wrapper_callee(const uint8_t *c, size_t n, size_t at, size_t lo,
    size_t hi)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t i = 0;
	int64_t target;

	if (n >= sizeof(endbr64) && memcmp(c, endbr64, sizeof(endbr64)) == 0)
		i = sizeof(endbr64);
	for (int k = 0; k < 2 && i < n; k++) {
		if (c[i] >= 0x50 && c[i] <= 0x57)           /* push %r.. */
			i += 1;
		else if (i + 1 < n && c[i] == 0x41 && c[i + 1] >= 0x50 &&
		    c[i + 1] <= 0x57)                       /* push %r8.. */
			i += 2;
		else if (i + 3 < n && c[i] == 0x48 && c[i + 1] == 0x83 &&
		    c[i + 2] == 0xec)                       /* sub $imm8,%rsp */
			i += 4;
		else
			break;
	}
	if (n < 5 || i > n - 5 || c[i] != 0xe8)
		return 0;
	target = tls_call_target(c, i, at);
	if (target < (int64_t)lo || target >= (int64_t)hi ||
	    target == (int64_t)at)
		return 0;
	return (size_t)target;
}

bool
tls_elf_calls(const uint8_t *c, size_t n, size_t at, size_t target)
{
	for (size_t i = 0; n >= 5 && i <= n - 5; i++)
		if (c[i] == 0xe8 && tls_call_target(c, i, at) == (int64_t)target)
			return true;
	return false;
}

/* The file range [lo, hi) of the executable segment holding file offset
 * off: within it, a call's displacement is one between file offsets. */
static bool
tls_elf_segment(Elf *e, size_t off, size_t fsize, size_t *lo, size_t *hi)
{
	size_t n;

	if (elf_getphdrnum(e, &n) != 0)
		return false;
	for (size_t i = 0; i < n && i < (size_t)INT32_MAX; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) == NULL ||
		    ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    ph.p_offset > fsize || ph.p_filesz > fsize - ph.p_offset)
			continue;
		if (off >= ph.p_offset && off - ph.p_offset < ph.p_filesz) {
			*lo = (size_t)ph.p_offset;
			*hi = (size_t)(ph.p_offset + ph.p_filesz);
			return true;
		}
	}
	return false;
}

/* The first bytes of the function at off, up to the segment's end hi. */
static size_t
tls_elf_code(int fd, size_t off, size_t hi, uint8_t code[TLS_CODE_SCAN])
{
	size_t n = hi - off < TLS_CODE_SCAN ? hi - off : TLS_CODE_SCAN;
	ssize_t got = pread(fd, code, n, (off_t)off);

	return got > 0 ? (size_t)got : 0;
}

/* The function the wrapper ex opens with a call to, when plain calls it
 * too; 0 otherwise. */
static size_t
tls_elf_inner(Elf *e, int fd, size_t fsize, size_t plain, size_t ex)
{
	uint8_t code[TLS_CODE_SCAN];
	size_t lo, hi, n, inner;

	if (plain == 0 || ex == 0 || !tls_elf_segment(e, ex, fsize, &lo, &hi) ||
	    plain < lo || plain >= hi)
		return 0;
	n = tls_elf_code(fd, ex, hi, code);
	inner = tls_elf_wrapper_callee(code, n, ex, lo, hi);
	if (inner == 0 || inner == plain)
		return 0;
	n = tls_elf_code(fd, plain, hi, code);
	return tls_elf_calls(code, n, plain, inner) ? inner : 0;
}

/* The inner functions of an x86-64 file: the decoding above is of that
 * instruction set; one function for reads and writes is not one of
 * them. */
static void
tls_elf_inners(Elf *e, int fd, size_t fsize, size_t off[TLS_FUNCS])
{
	GElf_Ehdr eh;

	if (gelf_getehdr(e, &eh) == NULL || eh.e_machine != EM_X86_64)
		return;
	off[TLS_SSL_READ_INNER] = tls_elf_inner(e, fd, fsize,
	    off[TLS_SSL_READ], off[TLS_SSL_READ_EX]);
	off[TLS_SSL_WRITE_INNER] = tls_elf_inner(e, fd, fsize,
	    off[TLS_SSL_WRITE], off[TLS_SSL_WRITE_EX]);
	if (off[TLS_SSL_READ_INNER] == off[TLS_SSL_WRITE_INNER])
		off[TLS_SSL_READ_INNER] = off[TLS_SSL_WRITE_INNER] = 0;
}

bool
tls_elf_offsets(int fd, size_t off[TLS_FUNCS])
{
	/* The exported symbols first, then the full table of an executable
	 * that was not stripped. */
	static const Elf64_Word tables[] = { SHT_DYNSYM, SHT_SYMTAB };
	struct stat st;
	Elf *e;

	memset(off, 0, TLS_FUNCS * sizeof(off[0]));
	if (fstat(fd, &st) != 0 || st.st_size <= 0)
		return false;
	(void)elf_version(EV_CURRENT);
	if ((e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) == NULL)
		return false;
	for (size_t t = 0; elf_kind(e) == ELF_K_ELF && t < 2; t++) {
		Elf_Scn *scn = NULL;
		GElf_Shdr sh;

		if (off[TLS_SSL_READ] != 0 && off[TLS_SSL_WRITE] != 0)
			break;
		while ((scn = elf_nextscn(e, scn)) != NULL)
			if (gelf_getshdr(scn, &sh) != NULL &&
			    sh.sh_type == tables[t])
				tls_elf_table(e, scn, &sh, (size_t)st.st_size,
				    off);
	}
	if (elf_kind(e) == ELF_K_ELF)
		tls_elf_inners(e, fd, (size_t)st.st_size, off);
	elf_end(e);
	return off[TLS_SSL_READ] != 0 && off[TLS_SSL_WRITE] != 0;
}

bool
tls_elf_has_section(int fd, const char *want)
{
	bool found = false;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;
	Elf *e;

	(void)elf_version(EV_CURRENT);
	if ((e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) == NULL)
		return false;
	if (elf_kind(e) == ELF_K_ELF && elf_getshdrstrndx(e, &shstrndx) == 0)
		while (!found && (scn = elf_nextscn(e, scn)) != NULL) {
			const char *name;

			if (gelf_getshdr(scn, &sh) == NULL)
				continue;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			found = name != NULL && strcmp(name, want) == 0;
		}
	elf_end(e);
	return found;
}
