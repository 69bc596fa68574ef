#include "bpf_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "hooks.h"
#include "log.h"
#include "preflight.h"
#include "services_conf.h"
#include "spyglass.skel.h"

/* libbpf's messages, verifier logs included, go to stderr unabridged. */
static int
sg_bpf_libbpf_print(enum libbpf_print_level level, const char *fmt,
    va_list ap)
{
	if (level == LIBBPF_DEBUG && sg_log_get_level() > SG_LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * The BPF object built into this binary (1.7 MiB of its read-only data)
 * is read by the load only: its pages leave the loader's resident set.
 * They stay in the page cache, and fault back in from the file should
 * libbpf read them again.
 */
static void
sg_bpf_drop_object_pages(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t sz = 0;
	uintptr_t at = (uintptr_t)spyglass_bpf__elf_bytes(&sz), lo, hi;

	if (pg <= 0)
		return;
	lo = (at + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	hi = (at + sz) & ~((uintptr_t)pg - 1);
	if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
		sg_log(SG_LOG_DEBUG, "bpf: madvise on the object's pages: %s",
		    strerror(errno));
}

static uint32_t
sg_bpf_pow2(uint32_t v)
{
	uint32_t p = 4096;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/*
 * The propagation modes (SG_PROP_*) the object is built for with hooks h:
 * the sockops program finds the client sockets of selected processes by
 * the mark inet_sock_set_state leaves in their socket storage, which the
 * socket and fentry kinds keep (the kprobe kind keeps a map instead).
 */
static unsigned
sg_bpf_prop_bits(const struct sg_config *c, enum sg_hooks h)
{
	enum sg_propagation m = sg_config_propagation(c);
	unsigned bits = 0;

	if (m == SG_PROPAGATION_DISABLED)
		return 0;
	if (!sg_hooks_propagate(h)) {
		sg_log(SG_LOG_WARN, "context propagation needs the socket or "
		    "fentry hooks: none with %s hooks", sg_hooks_name(h));
		return 0;
	}
	if (m == SG_PROPAGATION_ALL || m == SG_PROPAGATION_HEADERS)
		bits |= SG_PROP_HEADERS;
	if (m == SG_PROPAGATION_ALL || m == SG_PROPAGATION_IP)
		bits |= SG_PROP_TCPOPT;
	return bits;
}

/* Whether program name is to be loaded with kind h, TLS and the
 * propagation bits. */
static bool
sg_bpf_wanted(const char *name, enum sg_hooks h,
    const struct sg_hooks_probe *p, bool tls, unsigned prop, bool msg)
{
	if (strcmp(name, "prop_msg") == 0)
		return msg;
	if (strcmp(name, "prop_fx_send") == 0)
		return msg && h == SG_HOOKS_FENTRY;
	if (strncmp(name, "prop_", 5) == 0)
		return prop != 0;
	if (!tls && strncmp(name, "ssl_", 4) == 0)
		return false;
	return sg_hooks_program_wanted(name, h, p);
}

/* The propagation programs: sockops on the configured cgroup, sk_msg on
 * the map of client sockets; 0 or -1. */
static int
sg_bpf_attach_propagation(struct sg_bpf *b, const struct sg_config *c)
{
	struct bpf_program *ops = b->skel->progs.prop_sockops;
	struct bpf_link *link;
	char path[256];
	int cg;

	if (!bpf_program__autoload(ops))
		return 0;
	if (bpf_program__autoload(b->skel->progs.prop_msg) &&
	    bpf_prog_attach(bpf_program__fd(b->skel->progs.prop_msg),
	    bpf_map__fd(b->skel->maps.sg_msg_socks), BPF_SK_MSG_VERDICT,
	    0) != 0) {
		sg_log(SG_LOG_ERR, "bpf: context propagation: attach sk_msg: "
		    "%s", strerror(errno));
		return -1;
	}
	if (preflight_cgroup2(c, path, sizeof(path)) != 0) {
		sg_log(SG_LOG_ERR, "bpf: context propagation: no cgroup v2 "
		    "mounted; set [ebpf] propagation_cgroup");
		return -1;
	}
	cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		sg_log(SG_LOG_ERR, "bpf: context propagation: cgroup %s: %s",
		    path, strerror(errno));
		return -1;
	}
	link = bpf_program__attach_cgroup(ops, cg);
	close(cg);
	if (link == NULL || b->nattached == SG_BPF_MAX_LINKS) {
		sg_log(SG_LOG_ERR, "bpf: context propagation: attach sockops "
		    "to %s: %s", path,
		    link == NULL ? strerror(errno) : "too many programs");
		bpf_link__destroy(link);
		return -1;
	}
	b->links[b->nattached++] = link;
	return 0;
}

/* Without propagation its maps are not created (a sockhash asks
 * cap_net_admin on older kernels) or hold one entry: the I/O programs
 * still refer to them, on paths the verifier sees are dead. */
static void
sg_bpf_size_propagation(struct spyglass_bpf *skel, unsigned prop)
{
	if (prop != 0)
		return;
	bpf_map__set_autocreate(skel->maps.sg_msg_socks, false);
	bpf_map__set_max_entries(skel->maps.sg_tctx, 1);
	bpf_map__set_max_entries(skel->maps.sg_tsent, 1);
	bpf_map__set_max_entries(skel->maps.sg_opt_out, 1);
	bpf_map__set_max_entries(skel->maps.sg_opt_in, 1);
}

/* Load and attach the object with the I/O hooks of kind h; 0 or -1
 * (then nothing is left loaded). */
static int
sg_bpf_try(struct sg_bpf *b, const struct sg_config *c, enum sg_hooks h,
    const struct sg_hooks_probe *p)
{
	struct spyglass_bpf *skel;
	struct bpf_program *prog;
	bool tls = c->ebpf.tls && p->uprobes;
	unsigned prop = sg_bpf_prop_bits(c, h);
	uint32_t rb_size;
	bool msg;
	int err;

	if ((skel = spyglass_bpf__open()) == NULL) {
		sg_log(SG_LOG_ERR, "bpf: open: %s", strerror(errno));
		return -1;
	}
	b->skel = skel;
	b->hooks = h;
	skel->rodata->capture_size = c->ebpf.capture_size;
	skel->rodata->http2_capture_size = c->ebpf.http2_capture_size;
	skel->rodata->want_exec = sg_config_selects_by_exe(c);
	skel->rodata->roles_in_map = h == SG_HOOKS_KPROBE;
	skel->rodata->pidbits = p->atomics;
	skel->rodata->max_iov = p->loop_helper ? SG_MAX_IOV : SG_MAX_IOV_OLD;
	skel->rodata->reread_wide = p->loop_helper;
	skel->rodata->tls_on = tls;
	skel->rodata->propagate = (uint8_t)prop;
	skel->rodata->sockops_pid = (prop & SG_PROP_TCPOPT) &&
	    sg_hooks_sockops_thread();
	/* Where sockops cannot tell the writing thread (before 6.10), the
	 * sk_msg program draws the TCP option's context too. */
	msg = (prop & SG_PROP_HEADERS) ||
	    ((prop & SG_PROP_TCPOPT) && !skel->rodata->sockops_pid);
	if ((prop & SG_PROP_TCPOPT) && !skel->rodata->sockops_pid)
		sg_log(SG_LOG_INFO, "context propagation: sockops cannot tell "
		    "the writing thread on this kernel (6.10+): sk_msg draws "
		    "the TCP option's context (the client connections go "
		    "through the sockmap's send path)");
	if (!p->loop_helper)
		sg_log(SG_LOG_INFO, "bpf: a kernel before 5.17: %d iovecs read per "
		    "call, and the write where HTTP/2 is first seen is not read "
		    "again", SG_MAX_IOV_OLD);
	rb_size = sg_bpf_pow2(c->ebpf.ringbuf_size);
	skel->rodata->wakeup_bytes = c->ebpf.wakeup_len <= 1 ? 0 :
	    (uint64_t)c->ebpf.wakeup_len * SG_DATA_EVENT_HDR_SIZE;
	/* Never wait for a ring that could fill before the drain timer. */
	if (skel->rodata->wakeup_bytes > rb_size / 4)
		skel->rodata->wakeup_bytes = rb_size / 4;
	bpf_map__set_max_entries(skel->maps.sg_rb, rb_size);
	sg_bpf_size_propagation(skel, prop);
	/* Carry every kind; switch off the programs of the others. */
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, sg_bpf_wanted(
		    bpf_program__name(prog), h, p, tls, prop, msg));

	if ((err = spyglass_bpf__load(skel)) != 0) {
		sg_log(SG_LOG_ERR, "bpf: load with %s hooks: %s",
		    sg_hooks_name(h), strerror(-err));
		goto fail;
	}
	/* The load parsed the kernel's BTF and freed it: give the pages
	 * back before the ring buffer is mapped. */
	malloc_trim(0);
	sg_bpf_drop_object_pages();
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link;

		/* The TLS uprobes go on files as processes map them;
		 * sockops and sk_msg on a cgroup and a map, below. */
		if (!bpf_program__autoload(prog) ||
		    strncmp(bpf_program__name(prog), "ssl_", 4) == 0 ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_SOCK_OPS ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_SK_MSG)
			continue;
		if (b->nattached == SG_BPF_MAX_LINKS) {
			sg_log(SG_LOG_ERR, "bpf: more than %d programs",
			    SG_BPF_MAX_LINKS);
			goto fail;
		}
		link = bpf_program__attach(prog);
		if (link == NULL) {
			sg_log(SG_LOG_ERR, "bpf: attach %s: %s",
			    bpf_program__name(prog), strerror(errno));
			goto fail;
		}
		/* One by one rather than the skeleton's attach, so that a
		 * failure names the program. */
		b->links[b->nattached++] = link;
	}
	if (sg_bpf_attach_propagation(b, c) != 0)
		goto fail;
	if (prop != 0)
		sg_log(SG_LOG_INFO, "bpf: context propagation:%s%s%s",
		    prop & SG_PROP_HEADERS ? " traceparent in HTTP/1 requests" :
		    "", prop == (SG_PROP_HEADERS | SG_PROP_TCPOPT) ? "," : "",
		    prop & SG_PROP_TCPOPT ? " TCP header option" : "");
	return 0;
fail:
	sg_bpf_close(b);
	return -1;
}

int
sg_bpf_open_load_attach(struct sg_bpf *b, const struct sg_config *c,
    const enum sg_hooks *plan, int n, const struct sg_hooks_probe *p)
{
	memset(b, 0, sizeof(*b));
	libbpf_set_print(sg_bpf_libbpf_print);
	for (int i = 0; i < n; i++) {
		if (sg_bpf_try(b, c, plan[i], p) == 0) {
			b->pids_fd = bpf_map__fd(b->skel->maps.sg_pids);
			b->stats_fd = bpf_map__fd(b->skel->maps.sg_stats);
			sg_log(SG_LOG_INFO, "bpf: %u programs attached using %s",
			    b->nattached, sg_hooks_describe(b->hooks));
			return 0;
		}
		/* A kind one kernel cannot verify must not take the
		 * sensor down with it. */
		if (i + 1 < n)
			sg_log(SG_LOG_WARN, "bpf: %s hooks failed: trying %s",
			    sg_hooks_name(plan[i]), sg_hooks_name(plan[i + 1]));
	}
	return -1;
}

void
sg_bpf_close(struct sg_bpf *b)
{
	for (unsigned i = 0; i < b->nattached; i++)
		bpf_link__destroy(b->links[i]);
	b->nattached = 0;
	if (b->skel != NULL)
		spyglass_bpf__destroy(b->skel);
	b->skel = NULL;
}

/* The BPF side's bitmap of pids that may be selected (sg_pidbits, in
 * the mmap'd .bss), kept beside sg_pids: set before a pid is added and
 * cleared after it is removed, so a bit is never missing for a pid in
 * the map. */
static void
sg_bpf_pidbit(struct sg_bpf *b, uint32_t pid, bool on)
{
	__u64 *w, bit = 1ULL << (pid % 64);

	if (pid / 64 >= SG_PID_LIMIT / 64)
		return;
	w = &b->skel->bss->sg_pidbits[pid / 64];
	if (on)
		__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST);
}

int
sg_bpf_select_pid(struct sg_bpf *b, uint32_t pid)
{
	uint32_t v = SG_PID_SELECTED;

	sg_bpf_pidbit(b, pid, true);
	if (bpf_map_update_elem(b->pids_fd, &pid, &v, BPF_ANY) != 0) {
		sg_log(SG_LOG_WARN, "bpf: select pid %u: %s", pid,
		    strerror(errno));
		/* the I/O hooks take the bit alone for a selection */
		sg_bpf_pidbit(b, pid, false);
		return -1;
	}
	return 0;
}

int
sg_bpf_unselect_pid(struct sg_bpf *b, uint32_t pid)
{
	if (bpf_map_delete_elem(b->pids_fd, &pid) != 0 && errno != ENOENT)
		return -1;
	sg_bpf_pidbit(b, pid, false);
	return 0;
}

uint64_t
sg_bpf_stat(struct sg_bpf *b, unsigned idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[512], sum = 0;
	uint32_t key = idx;

	if (ncpu <= 0 || ncpu > 512 ||
	    bpf_map_lookup_elem(b->stats_fd, &key, vals) != 0)
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

struct bpf_object *
sg_bpf_object(struct sg_bpf *b)
{
	return b->skel->obj;
}

int
sg_bpf_ringbuf_fd(struct sg_bpf *b)
{
	return bpf_map__fd(b->skel->maps.sg_rb);
}
