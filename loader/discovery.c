/*
 * Process discovery from /proc.
 *
 * A process is selected when it owns a listening TCP socket on one of
 * the open_port ports or when its executable path or command line
 * matches executable_name.  The selected set is kept sorted by pid,
 * bounded, and remembers each process's start time so that a reused
 * pid is seen as a new process.  Processes selected because their
 * parent was (fork) stay selected until they exit or exec something
 * that does not match; the periodic scan does not second-guess them.
 *
 * fn is called synchronously and must not call back into discovery.
 */
#include "discovery.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "log.h"
#include "procview.h"

#define DISC_MAX_PROCS   4096        /* selected processes */
#define DISC_MAX_IGNORE  64          /* the loader and its children */
#define DISC_MAX_FDS     65536       /* fds looked at per process */
#define DISC_MAX_INODES  65536       /* listening sockets on our ports */
#define DISC_MAX_NETNS   256         /* network namespaces per scan */
#define DISC_MAX_PIDS    (1 << 20)   /* pids remembered between scans */
#define DISC_FULL_EVERY  12          /* scans between full fd scans */
#define DISC_CMDLINE_MAX (64 * 1024) /* java class paths are long */
#define DISC_ENVIRON_MAX (256 * 1024)

/* What selected a process: a [service.LABEL] block (its index), or the
 * global open_port and executable_name. */
#define DISC_BY_NONE   (-1)
#define DISC_BY_GLOBAL (-2)

struct disc_proc {
	struct sg_proc_info info;
	bool                inherited;  /* selected through its parent */
	int                 by;         /* DISC_BY_GLOBAL or a block */
	uint32_t            gen;        /* last scan that kept it */
};

/* A [service.LABEL] or [exclude_service.LABEL] block. */
struct disc_block {
	struct sg_service_sel sel;
	regex_t               re;
	bool                  has_re;
};

struct disc_netns {
	uint64_t ino;
	bool     listens;      /* has a listener on one of our ports */
	bool     fresh;        /* ... that the previous scan did not see */
};

struct disc_u64set {
	uint64_t *v;           /* sorted after disc_u64set_sort */
	size_t    n, cap;
};

struct discovery {
	struct sg_portset  ports;       /* the global open_port */
	struct disc_block  blocks[SG_SERVICES_MAX];
	unsigned           nblocks;
	char               service_name[SG_NAME_MAX];
	char               service_namespace[SG_NAME_MAX];
	regex_t            exe_re, excl_re;
	bool               has_exe_re, has_excl_re;
	discovery_fn       fn;
	void              *ctx;
	pid_t              self;
	uint64_t           self_netns;
	char               host[64];

	pid_t              ignore[DISC_MAX_IGNORE];
	size_t             nignore;

	struct disc_proc  *procs;       /* sorted by pid */
	size_t             nprocs, capprocs;
	bool               full_warned;
	uint32_t           gen;

	/* Listening socket inodes of this scan and the previous one, and
	 * the network namespaces whose /proc/PID/net/tcp{,6} were read. */
	struct disc_u64set inodes, prev_inodes;
	struct disc_netns  netns[DISC_MAX_NETNS];
	size_t             nnetns;
	struct disc_netns  netns_spare;  /* when the table is full */

	/*
	 * Reading every process's fd table is most of a scan's cost.  A
	 * process the previous scan found holding none of our listening
	 * sockets can only come to hold one if a new listener appears
	 * (it made it: its namespace is then "fresh"), by fork (a new
	 * pid; forks of selected processes also arrive as events) or by
	 * fd passing, which the full scan every DISC_FULL_EVERY scans
	 * catches.  So only new pids and fresh namespaces are read.
	 */
	struct disc_u64set pids, prev_pids;
	uint32_t           scans;
	bool               full_fd_scan;

	char              *cmdline;     /* DISC_CMDLINE_MAX scratch */
};

/* One process being looked at. */
struct disc_cand {
	pid_t       pid;
	pid_t       view;               /* whose /proc shows it (procview.h) */
	char        exe[PATH_MAX];
	int         cmdlen;             /* -1 until read into d->cmdline */
	/* From an exec event, for when /proc/PID is already gone; NULL
	 * in a scan. */
	const char *ev_exe;
	const char *ev_args;
	bool        gone;               /* exe came from the event */
};

static ssize_t
disc_read(const char *path, char *buf, size_t cap)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (off < cap) {
		n = read(fd, buf + off, cap - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	return (ssize_t)off;
}

static void
disc_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The executable path, through a live thread when the leader has ended
 * (procview.h); *view, when not NULL, is whose /proc showed it.  A
 * binary replaced on disk reads "... (deleted)". */
static int
disc_exe(pid_t pid, char *buf, size_t sz, pid_t *view)
{
	static const char deleted[] = " (deleted)";
	char path[64];
	pid_t v = pid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, buf, sz - 1)) <= 0) {
		if ((v = procview_thread(pid)) == pid)
			return -1;
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)v);
		if ((n = readlink(path, buf, sz - 1)) <= 0)
			return -1;
	}
	if (view != NULL)
		*view = v;
	buf[n] = '\0';
	if ((size_t)n > sizeof(deleted) - 1 &&
	    strcmp(buf + n - (sizeof(deleted) - 1), deleted) == 0)
		buf[n - (sizeof(deleted) - 1)] = '\0';
	return 0;
}

/* Command line with NULs as spaces into d->cmdline; 0 for kernel
 * threads and zombies. */
static int
disc_cmdline(struct discovery *d, struct disc_cand *c)
{
	char path[64];
	ssize_t n;

	if (c->cmdlen >= 0)
		return c->cmdlen;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)c->view);
	if ((n = disc_read(path, d->cmdline, DISC_CMDLINE_MAX - 1)) < 0)
		n = 0;
	for (ssize_t i = 0; i < n; i++)
		if (d->cmdline[i] == '\0')
			d->cmdline[i] = ' ';
	/* Gone already (or a zombie): the kernel's copy of argv, joined
	 * by spaces by the loader, is all there is. */
	if (n == 0 && c->ev_args != NULL) {
		n = (ssize_t)strnlen(c->ev_args, DISC_CMDLINE_MAX - 1);
		memcpy(d->cmdline, c->ev_args, (size_t)n);
	}
	while (n > 0 && d->cmdline[n - 1] == ' ')
		n--;
	d->cmdline[n] = '\0';
	return c->cmdlen = (int)n;
}

/*
 * Field 22 of /proc/PID/stat (start time in clock ticks).  Field 2 is
 * the command name in parentheses and may itself hold spaces and
 * parentheses, so counting starts after the last ')'.  comm, when not
 * NULL, receives field 2.
 */
static int
disc_stat(pid_t pid, uint64_t *start, char *comm, size_t commsz)
{
	char path[64], buf[1024], *lp, *rp, *p, *end;
	unsigned long long v;
	ssize_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = disc_read(path, buf, sizeof(buf) - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	if ((lp = strchr(buf, '(')) == NULL ||
	    (rp = strrchr(buf, ')')) == NULL || rp < lp)
		return -1;
	if (comm != NULL)
		disc_copy(comm, commsz, lp + 1, (size_t)(rp - lp - 1));
	p = rp + 1;
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == '\0')
			return -1;
	}
	errno = 0;
	v = strtoull(p, &end, 10);
	if (end == p || errno != 0)
		return -1;
	*start = v;
	return 0;
}

static bool
disc_ignored(const struct discovery *d, pid_t pid)
{
	if (pid == d->self || pid <= 0)
		return true;
	for (size_t i = 0; i < d->nignore; i++)
		if (d->ignore[i] == pid)
			return true;
	return false;
}

/* ---- the selected set */

/* What a selection was made by, for the log and `spyglass check`. */
static const char *
disc_by_name(const struct discovery *d, int by)
{
	static char buf[SG_SERVICE_LABEL_MAX + 32];

	if (by < 0 || (unsigned)by >= d->nblocks)
		return "[discovery] open_port/executable_name";
	snprintf(buf, sizeof(buf), "[%sservice.%s]",
	    d->blocks[by].sel.exclude ? "exclude_" : "", d->blocks[by].sel.label);
	return buf;
}

static ssize_t
disc_find(const struct discovery *d, pid_t pid)
{
	size_t lo = 0, hi = d->nprocs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->procs[mid].info.pid == (uint32_t)pid)
			return (ssize_t)mid;
		if (d->procs[mid].info.pid < (uint32_t)pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int
disc_insert(struct discovery *d, const struct sg_proc_info *info,
    bool inherited, int by)
{
	struct disc_proc *p;
	size_t at = 0;

	if (d->nprocs == DISC_MAX_PROCS) {
		if (!d->full_warned)
			sg_log(SG_LOG_WARN, "discovery: more than %d selected "
			    "processes, ignoring the rest", DISC_MAX_PROCS);
		d->full_warned = true;
		return -1;
	}
	if (d->nprocs == d->capprocs) {
		size_t cap = d->capprocs ? d->capprocs * 2 : 64;

		if ((p = reallocarray(d->procs, cap, sizeof(*p))) == NULL) {
			sg_log(SG_LOG_ERR, "discovery: out of memory");
			return -1;
		}
		d->procs = p;
		d->capprocs = cap;
	}
	while (at < d->nprocs && d->procs[at].info.pid < info->pid)
		at++;
	memmove(&d->procs[at + 1], &d->procs[at],
	    (d->nprocs - at) * sizeof(d->procs[0]));
	d->procs[at].info = *info;
	d->procs[at].info.present = 1;
	d->procs[at].inherited = inherited;
	d->procs[at].by = by;
	d->procs[at].gen = d->gen;
	d->nprocs++;
	sg_log(SG_LOG_DEBUG, "discovery: selected pid %u (%s, %s) by %s%s",
	    info->pid, info->service_name, info->exe, disc_by_name(d, by),
	    inherited ? ", through its parent" : "");
	d->fn(d->ctx, &d->procs[at].info);
	return 0;
}

static void
disc_remove(struct discovery *d, size_t at)
{
	struct sg_proc_info gone = d->procs[at].info;

	memmove(&d->procs[at], &d->procs[at + 1],
	    (d->nprocs - at - 1) * sizeof(d->procs[0]));
	d->nprocs--;
	gone.present = 0;
	sg_log(SG_LOG_DEBUG, "discovery: pid %u no longer selected", gone.pid);
	d->fn(d->ctx, &gone);
}

/* ---- listening sockets */

static int
disc_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool
disc_u64set_has(const struct disc_u64set *s, uint64_t v)
{
	return s->n > 0 && bsearch(&v, s->v, s->n, sizeof(s->v[0]),
	    disc_cmp_u64) != NULL;
}

static void
disc_u64set_add(struct disc_u64set *s, uint64_t v, size_t max)
{
	uint64_t *p;

	if (s->n == max)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		if ((p = reallocarray(s->v, cap, sizeof(*p))) == NULL)
			return;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

/* Sort and drop duplicates. */
static void
disc_u64set_sort(struct disc_u64set *s)
{
	size_t n = 0;

	qsort(s->v, s->n, sizeof(s->v[0]), disc_cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		if (n == 0 || s->v[n - 1] != s->v[i])
			s->v[n++] = s->v[i];
	s->n = n;
}

/* This scan's set becomes the previous one; this one starts empty. */
static void
disc_u64set_rotate(struct disc_u64set *cur, struct disc_u64set *prev)
{
	struct disc_u64set t = *prev;

	disc_u64set_sort(cur);
	*prev = *cur;
	*cur = t;
	cur->n = 0;
}

/* Whether any selection (global or a block) names port. */
static bool
disc_port_wanted(const struct discovery *d, uint16_t port)
{
	if (sg_portset_contains(&d->ports, port))
		return true;
	for (unsigned i = 0; i < d->nblocks; i++)
		if (sg_portset_contains(&d->blocks[i].sel.open_ports, port))
			return true;
	return false;
}

/* A listening socket as the inode sets keep it: its inode and port. */
static uint64_t
disc_listener_key(uint64_t ino, uint16_t port)
{
	return ino << 16 | port;
}

/* The port of listening socket ino of this scan, or -1. */
static int
disc_inode_port(const struct discovery *d, uint64_t ino)
{
	const struct disc_u64set *s = &d->inodes;
	size_t lo = 0, hi = s->n;
	uint64_t want = ino << 16;

	while (lo < hi) {   /* the first key >= want */
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->v[lo] >> 16 == ino)
		return (int)(s->v[lo] & 0xffff);
	return -1;
}

/*
 * Listening sockets of /proc/PID/net/tcp or tcp6 on our ports.  A line
 * is "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...",
 * addresses as HEX:PORT.  Returns how many were added; *fresh counts
 * those the previous scan did not see.
 */
static size_t
disc_parse_tcp(struct discovery *d, const char *path, size_t *fresh)
{
	char line[512], local[128];
	unsigned long port;
	unsigned int st;
	uint64_t ino;
	size_t added = 0;
	char *colon;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %127s %*s %x %*s %*s %*s %*s %*s %" SCNu64,
		    local, &st, &ino) != 3 || st != 0x0A || ino == 0)
			continue;
		if ((colon = strrchr(local, ':')) == NULL)
			continue;
		port = strtoul(colon + 1, NULL, 16);
		if (port > 65535 || !disc_port_wanted(d, (uint16_t)port))
			continue;
		disc_u64set_add(&d->inodes, disc_listener_key(ino,
		    (uint16_t)port), DISC_MAX_INODES);
		*fresh += !disc_u64set_has(&d->prev_inodes,
		    disc_listener_key(ino, (uint16_t)port));
		added++;
	}
	fclose(f);
	return added;
}

/*
 * The same for our own network namespace through sock_diag, asking for
 * listeners only: reading /proc/net/tcp walks the whole established
 * hash table (262144 buckets here, 4 ms per file), the dump of
 * listeners does not.  Returns -1 when netlink is not usable.
 */
static int
disc_diag_listeners(struct discovery *d, int family, size_t *added,
    size_t *fresh)
{
	struct {
		struct nlmsghdr         nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.r = { .sdiag_family = (uint8_t)family,
		    .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = 1u << TCP_LISTEN },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	uint32_t buf[8192 / sizeof(uint32_t)];  /* aligned for nlmsghdr */
	int fd, rc = -1;
	ssize_t len;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return -1;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) != (ssize_t)sizeof(req))
		goto out;
	while ((len = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		for (; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				goto out;
			if (m->idiag_state != TCP_LISTEN || m->idiag_inode == 0 ||
			    !disc_port_wanted(d, ntohs(m->id.idiag_sport)))
				continue;
			disc_u64set_add(&d->inodes, disc_listener_key(
			    m->idiag_inode, ntohs(m->id.idiag_sport)),
			    DISC_MAX_INODES);
			*fresh += !disc_u64set_has(&d->prev_inodes,
			    disc_listener_key(m->idiag_inode,
			    ntohs(m->id.idiag_sport)));
			(*added)++;
		}
	}
out:
	close(fd);
	return rc;
}

static uint64_t
disc_netns_ino(pid_t pid)
{
	char path[64], link[64];
	uint64_t ino = 0;
	ssize_t n;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	else
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
		return 0;
	link[n] = '\0';
	if (sscanf(link, "net:[%" SCNu64 "]", &ino) != 1)
		return 0;
	return ino;
}

/*
 * pid's network namespace, with whether it has a listener on one of our
 * ports.  Each namespace's tables are read once per scan; socket inodes
 * are unique across namespaces, so one set serves them all.
 */
static const struct disc_netns *
disc_netns_of(struct discovery *d, pid_t pid)
{
	char path[64];
	struct disc_netns *ns;
	size_t added = 0, fresh = 0;
	uint64_t ino;

	if ((ino = disc_netns_ino(pid)) == 0)
		return NULL;
	for (size_t i = 0; i < d->nnetns; i++)
		if (d->netns[i].ino == ino)
			return &d->netns[i];
	if (ino != d->self_netns ||
	    disc_diag_listeners(d, AF_INET, &added, &fresh) < 0 ||
	    disc_diag_listeners(d, AF_INET6, &added, &fresh) < 0) {
		/* Another namespace (netlink answers for ours only). */
		added = fresh = 0;
		snprintf(path, sizeof(path), "/proc/%d/net/tcp", (int)pid);
		added = disc_parse_tcp(d, path, &fresh);
		snprintf(path, sizeof(path), "/proc/%d/net/tcp6", (int)pid);
		added += disc_parse_tcp(d, path, &fresh);
	}
	if (added > 0)
		disc_u64set_sort(&d->inodes);
	ns = d->nnetns < DISC_MAX_NETNS ? &d->netns[d->nnetns++] :
	    &d->netns_spare;
	ns->ino = ino;
	ns->listens = added > 0;
	ns->fresh = fresh > 0;
	return ns;
}


/* Does pid hold one of the listening sockets on one of ports (e.g.
 * nginx master and workers all do)? */
static bool
disc_owns_listener(const struct discovery *d, pid_t pid,
    const struct sg_portset *ports)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned long long ino;
	size_t seen = 0;
	bool found = false;
	ssize_t n;
	DIR *dir;
	int port;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL) {
		sg_log(SG_LOG_DEBUG, "discovery: %s: %s", path,
		    strerror(errno));
		return false;
	}
	while (!found && seen++ < DISC_MAX_FDS &&
	    (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n <= 8 || strncmp(link, "socket:[", 8) != 0)
			continue;
		link[n] = '\0';
		ino = strtoull(link + 8, NULL, 10);
		port = disc_inode_port(d, ino);
		found = port >= 0 && sg_portset_contains(ports, (uint16_t)port);
	}
	closedir(dir);
	return found;
}

/* ---- selection */

/* Could pid be selected at all?  Fills c->exe. */
static bool
disc_eligible(const struct discovery *d, struct disc_cand *c)
{
	if (disc_ignored(d, c->pid))
		return false;
	c->view = c->pid;
	/* Kernel threads have no executable; neither do zombies, whose
	 * exec event may still tell what they ran. */
	if (disc_exe(c->pid, c->exe, sizeof(c->exe), &c->view) < 0) {
		if (c->ev_exe == NULL || c->ev_exe[0] == '\0')
			return false;
		disc_copy(c->exe, sizeof(c->exe), c->ev_exe,
		    strlen(c->ev_exe));
		c->gone = true;
	}
	if (d->has_excl_re && regexec(&d->excl_re, c->exe, 0, NULL, 0) == 0)
		return false;
	return true;
}

/* Whether a service block selects by executable. */
static bool
disc_has_block_re(const struct discovery *d)
{
	for (unsigned i = 0; i < d->nblocks; i++)
		if (d->blocks[i].has_re)
			return true;
	return false;
}

/* Whether re matches c's executable path or its command line. */
static bool
disc_matches_re(struct discovery *d, struct disc_cand *c, const regex_t *re)
{
	if (regexec(re, c->exe, 0, NULL, 0) == 0)
		return true;
	return disc_cmdline(d, c) > 0 &&
	    regexec(re, d->cmdline, 0, NULL, 0) == 0;
}

static bool
disc_matches_name(struct discovery *d, struct disc_cand *c)
{
	return d->has_exe_re && disc_matches_re(d, c, &d->exe_re);
}

/* Whether c holds a listener on one of ports.  selected: pid is selected
 * now (is it still holding one?). */
static bool
disc_listens_on(struct discovery *d, struct disc_cand *c,
    const struct sg_portset *ports, bool selected)
{
	const struct disc_netns *ns;

	if (ports->n == 0 || (ns = disc_netns_of(d, c->view)) == NULL ||
	    !ns->listens)
		return false;
	if (!selected && !ns->fresh && !d->full_fd_scan &&
	    disc_u64set_has(&d->prev_pids, (uint64_t)c->pid))
		return false;  /* see struct discovery */
	return disc_owns_listener(d, c->view, ports);
}

/* Every selector the block sets matches c (exe_path first: no fd table
 * to read). */
static bool
disc_block_matches(struct discovery *d, struct disc_cand *c,
    const struct disc_block *b, bool selected)
{
	if (b->has_re && !disc_matches_re(d, c, &b->re))
		return false;
	return b->sel.open_ports.n == 0 ||
	    disc_listens_on(d, c, &b->sel.open_ports, selected);
}

/*
 * What selects c: an exclude block says no; else the first service block
 * that matches, else the global open_port/executable_name (OR-ed, as
 * they always were).  DISC_BY_NONE when nothing does.
 */
static int
disc_choose(struct discovery *d, struct disc_cand *c, bool selected)
{
	for (unsigned i = 0; i < d->nblocks; i++)
		if (d->blocks[i].sel.exclude &&
		    disc_block_matches(d, c, &d->blocks[i], selected))
			return DISC_BY_NONE;
	for (unsigned i = 0; i < d->nblocks; i++)
		if (!d->blocks[i].sel.exclude &&
		    disc_block_matches(d, c, &d->blocks[i], selected))
			return (int)i;
	if (disc_matches_name(d, c) || disc_listens_on(d, c, &d->ports,
	    selected))
		return DISC_BY_GLOBAL;
	return DISC_BY_NONE;
}

static const char *
disc_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Value of service.name or service.namespace in OTEL_RESOURCE_ATTRIBUTES
 * ("k1=v1,k2=v2"). */
static void
disc_resource_attr(const char *attrs, const char *key, char *dst, size_t sz)
{
	size_t klen = strlen(key);

	for (const char *p = attrs; *p; ) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len > 0 && isspace((unsigned char)*p))
			p++, len--;
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			disc_copy(dst, sz, p + klen + 1, len - klen - 1);
			return;
		}
		p += len;
		if (*p == ',')
			p++;
	}
}

/* The names a process gives itself in its initial environment. */
static void
disc_environ(pid_t pid, struct sg_proc_info *info)
{
	char path[64], ra_name[SG_NAME_MAX] = "", ra_ns[SG_NAME_MAX] = "";
	char *buf;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((buf = malloc(DISC_ENVIRON_MAX + 1)) == NULL)
		return;
	if ((n = disc_read(path, buf, DISC_ENVIRON_MAX)) <= 0) {
		free(buf);
		return;
	}
	buf[n] = '\0';
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		static const char svc[] = "OTEL_SERVICE_NAME=";
		static const char ns[] = "OTEL_SERVICE_NAMESPACE=";
		static const char ra[] = "OTEL_RESOURCE_ATTRIBUTES=";

		if (strncmp(p, svc, sizeof(svc) - 1) == 0 && p[sizeof(svc) - 1])
			disc_copy(info->service_name, sizeof(info->service_name),
			    p + sizeof(svc) - 1, strlen(p + sizeof(svc) - 1));
		else if (strncmp(p, ns, sizeof(ns) - 1) == 0 &&
		    p[sizeof(ns) - 1])
			disc_copy(info->service_namespace,
			    sizeof(info->service_namespace), p + sizeof(ns) - 1,
			    strlen(p + sizeof(ns) - 1));
		else if (strncmp(p, ra, sizeof(ra) - 1) == 0) {
			disc_resource_attr(p + sizeof(ra) - 1, "service.name",
			    ra_name, sizeof(ra_name));
			disc_resource_attr(p + sizeof(ra) - 1,
			    "service.namespace", ra_ns, sizeof(ra_ns));
		}
	}
	free(buf);
	/* OTEL_SERVICE_NAME wins over the resource attribute (OTel spec). */
	if (info->service_name[0] == '\0')
		memcpy(info->service_name, ra_name, sizeof(ra_name));
	if (info->service_namespace[0] == '\0')
		memcpy(info->service_namespace, ra_ns, sizeof(ra_ns));
}

/* Fill info for pid whose executable path is exe ("" when unknown),
 * selected by by.  A process already gone is described from exe alone
 * when gone_ok.  A block's name and namespace win over the process's
 * environment: they are the user's word for this very process. */
static int
disc_fill(const struct discovery *d, pid_t pid, const char *exe,
    bool gone_ok, int by, struct sg_proc_info *info)
{
	const struct sg_service_sel *b = by >= 0 && (unsigned)by < d->nblocks ?
	    &d->blocks[by].sel : NULL;

	char comm[64] = "";

	memset(info, 0, sizeof(*info));
	if (disc_stat(pid, &info->start_time, comm, sizeof(comm)) < 0 &&
	    !gone_ok)
		return -1;
	info->pid = (uint32_t)pid;
	info->present = 1;
	disc_copy(info->exe, sizeof(info->exe), exe, strlen(exe));
	snprintf(info->instance_id, sizeof(info->instance_id), "%s:%d",
	    d->host, (int)pid);
	disc_environ(procview_thread(pid), info);
	if (b != NULL && b->name[0] != '\0')
		memcpy(info->service_name, b->name, sizeof(info->service_name));
	if (b != NULL && b->namespace_[0] != '\0')
		memcpy(info->service_namespace, b->namespace_,
		    sizeof(info->service_namespace));
	if (info->service_name[0] == '\0') {
		const char *name = d->service_name[0] ? d->service_name :
		    exe[0] ? disc_basename(exe) : comm;

		disc_copy(info->service_name, sizeof(info->service_name),
		    name, strlen(name));
	}
	if (info->service_namespace[0] == '\0')
		memcpy(info->service_namespace, d->service_namespace,
		    sizeof(info->service_namespace));
	return 0;
}

static void
disc_select(struct discovery *d, struct disc_cand *c, int by)
{
	struct sg_proc_info info;

	/* Kernel threads and exiting processes have an empty command line. */
	if (disc_cmdline(d, c) == 0)
		return;
	if (disc_fill(d, c->pid, c->exe, c->gone, by, &info) < 0)
		return;
	disc_insert(d, &info, false, by);
}

/* One /proc entry during a scan. */
static void
disc_scan_pid(struct discovery *d, pid_t pid)
{
	struct disc_cand c = { .pid = pid, .cmdlen = -1 };
	ssize_t at = disc_find(d, pid);
	uint64_t start;
	int by;

	if (disc_ignored(d, pid))
		return;
	if (at >= 0) {
		if (disc_stat(pid, &start, NULL, 0) < 0)
			return;  /* gone: dropped after the scan */
		if (start != d->procs[at].info.start_time) {
			disc_remove(d, (size_t)at);  /* pid reused */
			at = -1;
		} else if (d->procs[at].inherited) {
			/* Kept while it lives (a zombie has no exe). */
			if (disc_exe(pid, c.exe, sizeof(c.exe), NULL) == 0)
				d->procs[at].gen = d->gen;
			return;
		}
	}
	if (!disc_eligible(d, &c))
		return;
	if ((by = disc_choose(d, &c, at >= 0)) == DISC_BY_NONE)
		return;
	if (at >= 0)
		d->procs[at].gen = d->gen;
	else
		disc_select(d, &c, by);
}

/* ---- interface */

static int
disc_regcomp(regex_t *re, const char *src, const char *what)
{
	char why[256];
	int rc;

	if ((rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, why, sizeof(why));
		sg_log(SG_LOG_ERR, "discovery: %s \"%s\": %s", what, src, why);
		return -1;
	}
	return 0;
}

struct discovery *
discovery_new(const struct sg_config *c, discovery_fn fn, void *ctx)
{
	struct discovery *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->cmdline = malloc(DISC_CMDLINE_MAX)) == NULL) {
		free(d);
		return NULL;
	}
	d->ports = c->discovery.open_port;
	memcpy(d->service_name, c->service_name, sizeof(d->service_name));
	memcpy(d->service_namespace, c->service_namespace,
	    sizeof(d->service_namespace));
	d->fn = fn;
	d->ctx = ctx;
	d->self = getpid();
	d->self_netns = disc_netns_ino(0);
	if (c->host_name[0] != '\0')
		snprintf(d->host, sizeof(d->host), "%s", c->host_name);
	else if (gethostname(d->host, sizeof(d->host)) < 0)
		snprintf(d->host, sizeof(d->host), "localhost");
	d->host[sizeof(d->host) - 1] = '\0';
	if (c->discovery.executable_name[0]) {
		if (disc_regcomp(&d->exe_re, c->discovery.executable_name,
		    "executable_name") < 0)
			goto fail;
		d->has_exe_re = true;
	}
	if (c->discovery.exclude_exe[0]) {
		if (disc_regcomp(&d->excl_re, c->discovery.exclude_exe,
		    "exclude_exe") < 0)
			goto fail;
		d->has_excl_re = true;
	}
	for (unsigned i = 0; i < c->discovery.nservices; i++) {
		struct disc_block *b = &d->blocks[d->nblocks++];

		b->sel = c->discovery.services[i];
		if (b->sel.exe_path[0] != '\0') {
			if (disc_regcomp(&b->re, b->sel.exe_path,
			    disc_by_name(d, (int)i)) < 0)
				goto fail;
			b->has_re = true;
		}
	}
	return d;
fail:
	discovery_free(d);
	return NULL;
}

void
discovery_free(struct discovery *d)
{
	if (d == NULL)
		return;
	if (d->has_exe_re)
		regfree(&d->exe_re);
	if (d->has_excl_re)
		regfree(&d->excl_re);
	for (unsigned i = 0; i < d->nblocks; i++)
		if (d->blocks[i].has_re)
			regfree(&d->blocks[i].re);
	free(d->procs);
	free(d->inodes.v);
	free(d->prev_inodes.v);
	free(d->pids.v);
	free(d->prev_pids.v);
	free(d->cmdline);
	free(d);
}

void
discovery_ignore(struct discovery *d, pid_t pid)
{
	ssize_t at;

	if (d->nignore < DISC_MAX_IGNORE)
		d->ignore[d->nignore++] = pid;
	else
		sg_log(SG_LOG_WARN, "discovery: too many ignored pids");
	if ((at = disc_find(d, pid)) >= 0)
		disc_remove(d, (size_t)at);
}

int
discovery_scan(struct discovery *d)
{
	struct dirent *de;
	size_t kept = 0;
	DIR *dir;

	if ((dir = opendir("/proc")) == NULL) {
		sg_log(SG_LOG_ERR, "discovery: /proc: %s", strerror(errno));
		return -1;
	}
	d->gen++;
	d->full_fd_scan = d->scans++ % DISC_FULL_EVERY == 0;
	d->inodes.n = 0;
	d->nnetns = 0;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		disc_scan_pid(d, (pid_t)pid);
		disc_u64set_add(&d->pids, (uint64_t)pid, DISC_MAX_PIDS);
	}
	closedir(dir);
	disc_u64set_rotate(&d->pids, &d->prev_pids);
	/* The current set stays for discovery_on_exec; a copy is kept
	 * to tell fresh listeners next time. */
	d->prev_inodes.n = 0;
	for (size_t i = 0; i < d->inodes.n; i++)
		disc_u64set_add(&d->prev_inodes, d->inodes.v[i],
		    DISC_MAX_INODES);

	/* Whatever this scan did not keep vanished or no longer matches;
	 * compact in one pass rather than one memmove per process. */
	for (size_t i = 0; i < d->nprocs; i++) {
		struct sg_proc_info gone;

		if (d->procs[i].gen == d->gen) {
			d->procs[kept++] = d->procs[i];
			continue;
		}
		gone = d->procs[i].info;
		gone.present = 0;
		sg_log(SG_LOG_DEBUG, "discovery: pid %u no longer selected",
		    gone.pid);
		d->fn(d->ctx, &gone);
	}
	d->nprocs = kept;
	return 0;
}

void
discovery_on_exec(struct discovery *d, pid_t pid, const char *exe,
    const char *args)
{
	struct disc_cand c = { .pid = pid, .cmdlen = -1, .ev_exe = exe,
		.ev_args = args };
	ssize_t at = disc_find(d, pid);
	struct sg_proc_info info;
	uint64_t start;
	int by;

	/* A missed exit event: the pid now belongs to someone else. */
	if (at >= 0 && disc_stat(pid, &start, NULL, 0) == 0 &&
	    start != d->procs[at].info.start_time) {
		disc_remove(d, (size_t)at);
		at = -1;
	}
	/* Most exec'd processes are not ours: without a regex only a
	 * selected process needs a look (is it still what we want?).  A
	 * new one holds no listener yet: only a regex can select it. */
	if (at < 0 && !d->has_exe_re && !disc_has_block_re(d))
		return;
	by = disc_eligible(d, &c) ? disc_choose(d, &c, at >= 0) :
	    DISC_BY_NONE;
	if (by == DISC_BY_NONE) {
		if (at >= 0)
			disc_remove(d, (size_t)at);
		return;
	}
	if (at < 0) {
		disc_select(d, &c, by);
		return;
	}
	/* Still selected, now as itself; its names may have changed.
	 * exec keeps the start time. */
	d->procs[at].inherited = false;
	d->procs[at].by = by;
	if (disc_fill(d, pid, c.exe, true, by, &info) < 0)
		return;
	if (info.start_time == 0)
		info.start_time = d->procs[at].info.start_time;
	if (strcmp(info.exe, d->procs[at].info.exe) != 0 ||
	    strcmp(info.service_name, d->procs[at].info.service_name) != 0 ||
	    strcmp(info.service_namespace,
	    d->procs[at].info.service_namespace) != 0) {
		d->procs[at].info = info;
		d->fn(d->ctx, &d->procs[at].info);
	}
}

void
discovery_on_fork(struct discovery *d, pid_t parent, pid_t child)
{
	ssize_t at = disc_find(d, parent);
	struct sg_proc_info info;

	if (at < 0 || disc_ignored(d, child) || disc_find(d, child) >= 0)
		return;
	info = d->procs[at].info;
	info.pid = (uint32_t)child;
	/* A child already gone and reaped (a short postgres session) is
	 * still taken: its I/O events are queued behind this one and its
	 * exit follows them; refused, they would be dropped unseen. */
	if (disc_stat(child, &info.start_time, NULL, 0) < 0)
		info.start_time = 0;
	snprintf(info.instance_id, sizeof(info.instance_id), "%s:%d",
	    d->host, (int)child);
	disc_insert(d, &info, true, d->procs[at].by);
}

void
discovery_on_exit(struct discovery *d, pid_t pid)
{
	ssize_t at = disc_find(d, pid);

	if (at >= 0)
		disc_remove(d, (size_t)at);
}

size_t
discovery_count(const struct discovery *d)
{
	return d->nprocs;
}

int
discovery_describe(const struct discovery *d, pid_t pid,
    struct sg_proc_info *info)
{
	char exe[PATH_MAX];

	if (disc_exe(pid, exe, sizeof(exe), NULL) < 0)
		exe[0] = '\0';
	return disc_fill(d, pid, exe, false, DISC_BY_GLOBAL, info);
}

const char *
discovery_explain(struct discovery *d, pid_t pid, char *exe, size_t exesz)
{
	static char why[SG_SERVICE_LABEL_MAX + 64];
	struct disc_cand c = { .pid = pid, .cmdlen = -1 };

	if (disc_exe(pid, c.exe, sizeof(c.exe), &c.view) < 0)
		return NULL;   /* a kernel thread, or gone */
	snprintf(exe, exesz, "%s", c.exe);
	if (disc_find(d, pid) >= 0)
		return "selected";
	if (disc_ignored(d, pid))
		return "not selected: spyglass itself";
	if (d->has_excl_re && regexec(&d->excl_re, c.exe, 0, NULL, 0) == 0)
		return "not selected: excluded by [discovery] exclude_exe";
	for (unsigned i = 0; i < d->nblocks; i++)
		if (d->blocks[i].sel.exclude &&
		    disc_block_matches(d, &c, &d->blocks[i], false)) {
			snprintf(why, sizeof(why), "not selected: excluded by %s",
			    disc_by_name(d, (int)i));
			return why;
		}
	return "not selected";
}

bool
discovery_configures_otlp(pid_t pid)
{
	static const char *const vars[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=", "OTEL_TRACES_EXPORTER=otlp",
		"OTEL_METRICS_EXPORTER=otlp" };
	char path[64], *buf;
	bool found = false;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ",
	    (int)procview_thread(pid));
	if ((buf = malloc(DISC_ENVIRON_MAX + 1)) == NULL)
		return false;
	if ((n = disc_read(path, buf, DISC_ENVIRON_MAX)) > 0) {
		buf[n] = '\0';
		for (char *p = buf; !found && p < buf + n; p += strlen(p) + 1)
			for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
				found |= strncmp(p, vars[i], strlen(vars[i])) == 0;
	}
	free(buf);
	return found;
}

const char *
discovery_selector(const struct discovery *d, pid_t pid)
{
	ssize_t at = disc_find(d, pid);

	return at >= 0 ? disc_by_name(d, d->procs[at].by) : NULL;
}
