/*
 * Load the BPF object, choose the hooks at run time (syscall tracepoints
 * when tracefs is there, raw sys_enter/sys_exit tracepoints otherwise),
 * attach, and manage the pid filter map.
 */
#ifndef SG_BPF_ATTACH_H
#define SG_BPF_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct spyglass_bpf;
struct bpf_link;

#define SG_BPF_MAX_LINKS 64

struct sg_bpf {
	struct spyglass_bpf *skel;
	struct bpf_link     *links[SG_BPF_MAX_LINKS];
	bool                 raw;          /* raw tracepoints in use */
	int                  pids_fd;
	int                  stats_fd;
	unsigned             nattached;
};

/* tracefs says whether syscall tracepoints can be used. */
int  sg_bpf_open_load_attach(struct sg_bpf *b, const struct sg_config *c,
    bool tracefs);
void sg_bpf_close(struct sg_bpf *b);
int  sg_bpf_select_pid(struct sg_bpf *b, uint32_t pid);
int  sg_bpf_unselect_pid(struct sg_bpf *b, uint32_t pid);
/* Sum of a per-CPU stats counter (enum sg_bpf_stat). */
uint64_t sg_bpf_stat(struct sg_bpf *b, unsigned idx);
/* Ring buffer map fd. */
int  sg_bpf_ringbuf_fd(struct sg_bpf *b);

#endif
