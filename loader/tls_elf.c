/*
 * OpenSSL's functions in an ELF file, through libelf.
 */
#include "tls_elf.h"

#include <gelf.h>
#include <stdint.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>

const char *const tls_func_names[TLS_FUNCS] = {
	"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex",
	"SSL_do_handshake", "SSL_free",
};

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
		for (int f = 0; f < TLS_FUNCS; f++)
			if (off[f] == 0 && strcmp(name, tls_func_names[f]) == 0) {
				off[f] = tls_elf_sym_offset(e, &sym, fsize);
				break;
			}
	}
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
