/*
 * TLS plaintext: OpenSSL's functions found in the files selected
 * processes map, and the uprobes on them attached once per file.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "procview.h"
#include "tls_elf.h"

#define TLS_FILES_MAX  256   /* files looked at (with or without OpenSSL) */
#define TLS_PID_FILES  8     /* candidate files one process maps */
#define TLS_PIDS_MAX   8192  /* as many as the BPF pid map holds */

/* Each uprobe: a function, the BPF program, entry or return.  SSL_read
 * and SSL_write make a file OpenSSL; the others are attached where the
 * version has them (the _ex forms arrived in 1.1.1).  An inner function
 * takes the _ex form's arguments and returns > 0 on success, as the _ex
 * form does: the same programs serve it. */
static const struct tls_probe {
	enum tls_func func;
	const char   *prog;
	bool          ret;
} tls_probes[] = {
	{ TLS_SSL_READ,         "ssl_read_enter",      false },
	{ TLS_SSL_READ,         "ssl_return",          true  },
	{ TLS_SSL_WRITE,        "ssl_write_enter",     false },
	{ TLS_SSL_WRITE,        "ssl_return",          true  },
	{ TLS_SSL_READ_EX,      "ssl_read_ex_enter",   false },
	{ TLS_SSL_READ_EX,      "ssl_return",          true  },
	{ TLS_SSL_WRITE_EX,     "ssl_write_ex_enter",  false },
	{ TLS_SSL_WRITE_EX,     "ssl_return",          true  },
	{ TLS_SSL_DO_HANDSHAKE, "ssl_handshake_enter", false },
	{ TLS_SSL_DO_HANDSHAKE, "ssl_return",          true  },
	{ TLS_SSL_FREE,         "ssl_free_enter",      false },
	{ TLS_SSL_READ_INNER,   "ssl_read_ex_enter",   false },
	{ TLS_SSL_READ_INNER,   "ssl_return",          true  },
	{ TLS_SSL_WRITE_INNER,  "ssl_write_ex_enter",  false },
	{ TLS_SSL_WRITE_INNER,  "ssl_return",          true  },
};
#define TLS_PROBES (sizeof(tls_probes) / sizeof(tls_probes[0]))

struct tls_file {
	bool     used;
	bool     openssl;   /* uprobes attached */
	bool     pinned;    /* kept without processes (the system's) */
	dev_t    dev;
	ino_t    ino;
	unsigned refs;      /* tracked processes that map it */
	struct bpf_link *links[TLS_PROBES];
	char     path[256]; /* as the first process mapped it */
};

struct tls_pid {
	pid_t    pid;
	unsigned n;
	uint16_t files[TLS_PID_FILES];
};

struct tls {
	struct bpf_object *obj;
	struct tls_file    files[TLS_FILES_MAX];
	struct tls_pid    *pids;
	size_t             npids, cap;
	unsigned           attached;
	bool               full_logged;
};

/* A file mapped by a process: what its maps line says. */
struct tls_map {
	dev_t dev;
	ino_t ino;
	char  path[256];
};

/* ---- /proc/PID/maps ---- */

static bool
tls_is_libssl(const char *path)
{
	const char *base = strrchr(path, '/');

	return strncmp(base != NULL ? base + 1 : path, "libssl.so", 9) == 0;
}

/* The executable files pid maps that may hold OpenSSL: a libssl, and
 * the executable itself.  Returns how many (at most max), -1 when the
 * process is gone. */
static int
tls_read_maps(pid_t pid, struct tls_map *out, int max, bool all)
{
	char path[64], exe[256], line[512];
	ssize_t n;
	FILE *f;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && count < max) {
		unsigned maj, min;
		unsigned long ino;
		char perms[8];
		int at = 0;
		char *file, *nl;
		bool dup = false;

		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %lu %n", perms, &maj,
		    &min, &ino, &at) != 4 || at == 0 || perms[2] != 'x' ||
		    ino == 0)
			continue;
		file = line + at;
		if ((nl = strchr(file, '\n')) != NULL)
			*nl = '\0';
		/* A file replaced on disk: its new version is not the one
		 * mapped. */
		if (file[0] != '/' || strstr(file, " (deleted)") != NULL)
			continue;
		if (!all && !tls_is_libssl(file) && strcmp(file, exe) != 0)
			continue;
		for (int i = 0; i < count; i++)
			dup |= out[i].ino == ino &&
			    out[i].dev == makedev(maj, min);
		if (dup)
			continue;
		out[count].dev = makedev(maj, min);
		out[count].ino = ino;
		snprintf(out[count].path, sizeof(out[count].path), "%s", file);
		count++;
	}
	fclose(f);
	return count;
}

/* ---- files and their uprobes ---- */

static struct bpf_program *
tls_prog(struct tls *t, const char *name)
{
	return bpf_object__find_program_by_name(t->obj, name);
}

static void
tls_destroy_links(struct tls_file *fl)
{
	for (size_t i = 0; i < TLS_PROBES; i++) {
		bpf_link__destroy(fl->links[i]);
		fl->links[i] = NULL;
	}
}

static void
tls_detach(struct tls *t, struct tls_file *fl)
{
	tls_destroy_links(fl);
	if (fl->openssl) {
		t->attached--;
		sg_log(SG_LOG_INFO, "tls: detached from %s", fl->path);
	}
	fl->openssl = false;
}

/*
 * The file at path, open for reading when the loader may trust its bytes:
 * a regular file owned by root that no one else may write (system
 * libraries and programs, in a container's image too).  A file a user
 * could have crafted is not parsed by the privileged loader.  -1 (why
 * says why) otherwise.
 */
static int
tls_open_trusted(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	*why = NULL;
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		*why = "not owned by root, or writable by others: not read by "
		    "the privileged loader";
	if (*why != NULL) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Attach every uprobe whose function fl's file (opened as path) has,
 * through the descriptor read: the file checked is the file hooked. */
static void
tls_attach(struct tls *t, struct tls_file *fl, const char *path)
{
	size_t off[TLS_FUNCS];
	char self[64];
	const char *why;
	unsigned n = 0;
	int fd = tls_open_trusted(path, &why);

	if (fd < 0) {
		if (tls_is_libssl(fl->path))
			sg_log(SG_LOG_WARN, "tls: %s: %s: TLS through it is not "
			    "seen", fl->path, why);
		return;
	}
	if (!tls_elf_offsets(fd, off)) {
		close(fd);
		return;
	}
	/* An inner function, where found, in place of the two calls that
	 * go through it: one probe where the kernel need not single-step
	 * (tls_elf.c says why). */
	if (off[TLS_SSL_READ_INNER] != 0)
		off[TLS_SSL_READ] = off[TLS_SSL_READ_EX] = 0;
	if (off[TLS_SSL_WRITE_INNER] != 0)
		off[TLS_SSL_WRITE] = off[TLS_SSL_WRITE_EX] = 0;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < TLS_PROBES; i++) {
		const struct tls_probe *p = &tls_probes[i];
		LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = p->ret);
		struct bpf_program *prog = tls_prog(t, p->prog);

		if (off[p->func] == 0)
			continue;
		if (prog == NULL) {
			sg_log(SG_LOG_ERR, "tls: no BPF program %s", p->prog);
			break;
		}
		/* -1: every process mapping the file; the programs
		 * filter by the pid map. */
		fl->links[i] = bpf_program__attach_uprobe_opts(prog, -1, self,
		    off[p->func], &o);
		if (fl->links[i] == NULL) {
			sg_log(SG_LOG_WARN, "tls: uprobe on %s in %s: %s: TLS "
			    "through it is not seen", tls_func_names[p->func],
			    fl->path, strerror(errno));
			tls_destroy_links(fl);
			close(fd);
			return;
		}
		n++;
	}
	close(fd);
	fl->openssl = true;
	t->attached++;
	sg_log(SG_LOG_INFO, "tls: %u uprobes on OpenSSL in %s%s", n, fl->path,
	    off[TLS_SSL_READ_INNER] != 0 && off[TLS_SSL_WRITE_INNER] != 0 ?
	    " (reads and writes at their inner functions)" :
	    off[TLS_SSL_READ_INNER] != 0 ? " (reads at their inner function)" :
	    off[TLS_SSL_WRITE_INNER] != 0 ? " (writes at their inner function)" :
	    "");
}

static struct tls_file *
tls_find(struct tls *t, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < TLS_FILES_MAX; i++)
		if (t->files[i].used && t->files[i].dev == dev &&
		    t->files[i].ino == ino)
			return &t->files[i];
	return NULL;
}

/* The entry of a file (looked at, and attached to when it holds
 * OpenSSL, on first sight); opened through root, the root directory of
 * the process that maps it.  NULL when the table is full. */
static struct tls_file *
tls_get(struct tls *t, const struct tls_map *m, const char *root)
{
	struct tls_file *fl = tls_find(t, m->dev, m->ino);
	char path[PATH_MAX];

	if (fl != NULL)
		return fl;
	for (size_t i = 0; i < TLS_FILES_MAX && fl == NULL; i++)
		if (!t->files[i].used)
			fl = &t->files[i];
	if (fl == NULL) {
		if (!t->full_logged)
			sg_log(SG_LOG_WARN, "tls: more than %d distinct files "
			    "mapped by selected processes: the others are not "
			    "looked at for OpenSSL", TLS_FILES_MAX);
		t->full_logged = true;
		return NULL;
	}
	memset(fl, 0, sizeof(*fl));
	fl->used = true;
	fl->dev = m->dev;
	fl->ino = m->ino;
	snprintf(fl->path, sizeof(fl->path), "%s", m->path);
	snprintf(path, sizeof(path), "%s%s", root, m->path);
	tls_attach(t, fl, path);
	return fl;
}

static void
tls_release(struct tls *t, struct tls_file *fl)
{
	if (fl->refs > 0)
		fl->refs--;
	if (fl->refs > 0 || fl->pinned)
		return;
	tls_detach(t, fl);
	fl->used = false;
}

/* ---- processes ---- */

static struct tls_pid *
tls_pid_find(struct tls *t, pid_t pid)
{
	for (size_t i = 0; i < t->npids; i++)
		if (t->pids[i].pid == pid)
			return &t->pids[i];
	return NULL;
}

static bool
tls_pid_has(const struct tls_pid *p, uint16_t idx)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->files[i] == idx)
			return true;
	return false;
}

/* What p maps now replaces what it mapped: references taken on the new
 * files before those on the old ones are dropped, so a file mapped
 * throughout stays attached. */
static void
tls_scan(struct tls *t, struct tls_pid *p)
{
	struct tls_map maps[TLS_PID_FILES];
	struct tls_pid now = { .pid = p->pid };
	pid_t view = procview_thread(p->pid);
	char root[64];
	int n = tls_read_maps(view, maps, TLS_PID_FILES, false);

	snprintf(root, sizeof(root), "/proc/%d/root", (int)view);
	for (int i = 0; i < n; i++) {
		struct tls_file *fl = tls_get(t, &maps[i], root);
		uint16_t idx;

		if (fl == NULL)
			continue;
		idx = (uint16_t)(fl - t->files);
		now.files[now.n++] = idx;
		if (!tls_pid_has(p, idx))
			fl->refs++;
	}
	for (unsigned i = 0; i < p->n; i++)
		if (!tls_pid_has(&now, p->files[i]))
			tls_release(t, &t->files[p->files[i]]);
	*p = now;
}

void
tls_track(struct tls *t, pid_t pid)
{
	struct tls_pid *p, *grown;

	if (t == NULL)
		return;
	if ((p = tls_pid_find(t, pid)) == NULL) {
		if (t->npids == TLS_PIDS_MAX)
			return;
		if (t->npids == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;

			if ((grown = realloc(t->pids, cap * sizeof(*grown))) ==
			    NULL) {
				sg_log(SG_LOG_WARN, "tls: out of memory: pid %d "
				    "not looked at", (int)pid);
				return;
			}
			t->pids = grown;
			t->cap = cap;
		}
		p = &t->pids[t->npids++];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
	}
	tls_scan(t, p);
}

void
tls_untrack(struct tls *t, pid_t pid)
{
	struct tls_pid *p;

	if (t == NULL || (p = tls_pid_find(t, pid)) == NULL)
		return;
	for (unsigned i = 0; i < p->n; i++)
		tls_release(t, &t->files[p->files[i]]);
	*p = t->pids[--t->npids];
}

void
tls_rescan(struct tls *t)
{
	for (size_t i = 0; t != NULL && i < t->npids; i++)
		tls_scan(t, &t->pids[i]);
}

unsigned
tls_attached(const struct tls *t)
{
	return t != NULL ? t->attached : 0;
}

/* ---- the system's libssl, for processes selected at exec ---- */

static void
tls_pin_system(struct tls *t)
{
	static const char *const dirs[] = {
#if defined(__x86_64__)
		"/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
		"/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
#endif
		"/usr/lib64", "/lib64", "/usr/lib", "/lib",
	};
	static const char *const names[] = { "libssl.so.3", "libssl.so.1.1" };

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++)
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			struct tls_map m;
			struct tls_file *fl;
			struct stat st;

			snprintf(m.path, sizeof(m.path), "%s/%s", dirs[d],
			    names[n]);
			if (stat(m.path, &st) != 0)
				continue;
			m.dev = st.st_dev;
			m.ino = st.st_ino;
			if ((fl = tls_get(t, &m, "")) != NULL && fl->openssl)
				fl->pinned = true;
		}
}

struct tls *
tls_new(struct bpf_object *obj, bool pin_system)
{
	struct tls *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->obj = obj;
	if (pin_system)
		tls_pin_system(t);
	return t;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < TLS_FILES_MAX; i++)
		if (t->files[i].used)
			tls_detach(t, &t->files[i]);
	free(t->pids);
	free(t);
}

/* ---- spyglass check ---- */

void
tls_describe_pid(FILE *f, pid_t pid)
{
	struct tls_map maps[64];
	char root[64], path[PATH_MAX];
	size_t off[TLS_FUNCS];
	pid_t view = procview_thread(pid);
	int n = tls_read_maps(view, maps, 64, true);
	const char *other = NULL;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)view);
	for (int i = 0; i < n; i++) {
		const char *base = strrchr(maps[i].path, '/'), *why;
		bool seen;
		int fd;

		base = base != NULL ? base + 1 : maps[i].path;
		snprintf(path, sizeof(path), "%s%s", root, maps[i].path);
		if (!tls_is_libssl(maps[i].path) && i != 0 &&
		    strncmp(base, "libgnutls.so", 12) != 0 &&
		    strncmp(base, "libnss3.so", 10) != 0 &&
		    strncmp(base, "libjvm.so", 9) != 0)
			continue;
		if ((fd = tls_open_trusted(path, &why)) < 0) {
			if (tls_is_libssl(maps[i].path)) {
				fprintf(f, "TLS not seen: %s: %s", maps[i].path,
				    why);
				return;
			}
			continue;
		}
		seen = (tls_is_libssl(maps[i].path) || i == 0) &&
		    tls_elf_offsets(fd, off);
		if (!seen && i == 0 && tls_elf_has_section(fd, ".go.buildinfo"))
			other = "a Go program: crypto/tls is not covered";
		close(fd);
		if (seen) {
			fprintf(f, "TLS seen: OpenSSL in %s%s", maps[i].path,
			    off[TLS_SSL_READ_INNER] != 0 &&
			    off[TLS_SSL_WRITE_INNER] != 0 ?
			    " (at its inner read and write functions)" : "");
			return;
		}
		if (strncmp(base, "libgnutls.so", 12) == 0)
			other = "GnuTLS (libgnutls), not covered";
		else if (strncmp(base, "libnss3.so", 10) == 0)
			other = "NSS (libnss3), not covered";
		else if (strncmp(base, "libjvm.so", 9) == 0)
			other = "Java's TLS (JSSE), not covered";
	}
	if (n < 0)
		fprintf(f, "TLS: process gone");
	else if (other != NULL)
		fprintf(f, "TLS not seen: %s", other);
	else
		fprintf(f, "TLS: no OpenSSL mapped (yet: a library loaded "
		    "later is found within discovery.poll_interval)");
}
