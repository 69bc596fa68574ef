#include "bpf_attach.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "log.h"
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

static uint32_t
sg_bpf_pow2(uint32_t v)
{
	uint32_t p = 4096;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Carry both hook flavours; switch off the ones not chosen. */
static void
sg_bpf_choose_hooks(struct spyglass_bpf *skel, bool raw)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);

		if (strncmp(name, "tp_", 3) == 0)
			bpf_program__set_autoload(prog, !raw);
		else if (strncmp(name, "raw_sys_", 8) == 0)
			bpf_program__set_autoload(prog, raw);
	}
}

int
sg_bpf_open_load_attach(struct sg_bpf *b, const struct sg_config *c,
    bool tracefs)
{
	struct spyglass_bpf *skel;
	struct bpf_program *prog;
	int err;

	memset(b, 0, sizeof(*b));
	libbpf_set_print(sg_bpf_libbpf_print);
	/* Per-syscall tracepoints only when asked for and available:
	 * raw ones cost the same per call here and detach in milliseconds,
	 * where each syscall tracepoint waits ~80 ms for RCU. */
	b->raw = c->ebpf.syscall_hooks != SG_HOOKS_TRACEPOINT || !tracefs;
	if (c->ebpf.syscall_hooks == SG_HOOKS_TRACEPOINT && !tracefs)
		sg_log(SG_LOG_WARN, "syscall_hooks = tracepoint but tracefs is "
		    "not mounted: using raw tracepoints");

	if ((skel = spyglass_bpf__open()) == NULL) {
		sg_log(SG_LOG_ERR, "bpf: open: %s", strerror(errno));
		return -1;
	}
	b->skel = skel;
	skel->rodata->capture_size = c->ebpf.capture_size;
	skel->rodata->want_exec = c->discovery.executable_name[0] != '\0';
	skel->rodata->wakeup_bytes = c->ebpf.wakeup_len <= 1 ? 0 :
	    (uint64_t)c->ebpf.wakeup_len * SG_DATA_EVENT_HDR_SIZE;
	bpf_map__set_max_entries(skel->maps.sg_rb,
	    sg_bpf_pow2(c->ebpf.ringbuf_size));
	sg_bpf_choose_hooks(skel, b->raw);

	if ((err = spyglass_bpf__load(skel)) != 0) {
		sg_log(SG_LOG_ERR, "bpf: load: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (link == NULL) {
			sg_log(SG_LOG_ERR, "bpf: attach %s: %s",
			    bpf_program__name(prog), strerror(errno));
			goto fail;
		}
		/* One by one rather than the skeleton's attach, so that a
		 * failure names the program. */
		b->links[b->nattached++] = link;
		if (b->nattached == SG_BPF_MAX_LINKS)
			break;
	}
	b->pids_fd = bpf_map__fd(skel->maps.sg_pids);
	b->stats_fd = bpf_map__fd(skel->maps.sg_stats);
	sg_log(SG_LOG_INFO, "bpf: %u programs attached using %s", b->nattached,
	    b->raw ? "raw tracepoints sys_enter/sys_exit" :
	    "syscall tracepoints");
	return 0;
fail:
	sg_bpf_close(b);
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

int
sg_bpf_select_pid(struct sg_bpf *b, uint32_t pid)
{
	uint32_t v = SG_PID_SELECTED;

	if (bpf_map_update_elem(b->pids_fd, &pid, &v, BPF_ANY) != 0) {
		sg_log(SG_LOG_WARN, "bpf: select pid %u: %s", pid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
sg_bpf_unselect_pid(struct sg_bpf *b, uint32_t pid)
{
	if (bpf_map_delete_elem(b->pids_fd, &pid) != 0 && errno != ENOENT)
		return -1;
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

int
sg_bpf_ringbuf_fd(struct sg_bpf *b)
{
	return bpf_map__fd(b->skel->maps.sg_rb);
}
