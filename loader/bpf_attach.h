/*
 * Load the BPF object with the I/O hooks chosen at run time (hooks.h),
 * attach it, and manage the pid filter map.
 */
#ifndef SG_BPF_ATTACH_H
#define SG_BPF_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct spyglass_bpf;
struct bpf_link;
struct sg_hooks_probe;

#define SG_BPF_MAX_LINKS 64

struct sg_bpf {
	struct spyglass_bpf *skel;
	struct bpf_link     *links[SG_BPF_MAX_LINKS];
	enum sg_hooks        hooks;        /* the kind in use: not AUTO */
	int                  pids_fd;
	int                  stats_fd;
	unsigned             nattached;
};

/* Load the object and attach its programs with the first kind of I/O
 * hooks in plan (sg_hooks_plan) that loads and attaches; -1 when none
 * does. */
int  sg_bpf_open_load_attach(struct sg_bpf *b, const struct sg_config *c,
    const enum sg_hooks *plan, int n, const struct sg_hooks_probe *p);
void sg_bpf_close(struct sg_bpf *b);
int  sg_bpf_select_pid(struct sg_bpf *b, uint32_t pid);
int  sg_bpf_unselect_pid(struct sg_bpf *b, uint32_t pid);
/* Sum of a per-CPU stats counter (enum sg_bpf_stat). */
uint64_t sg_bpf_stat(struct sg_bpf *b, unsigned idx);
/* The loaded object (tls.c attaches its uprobes). */
struct bpf_object *sg_bpf_object(struct sg_bpf *b);
/* Ring buffer map fd. */
int  sg_bpf_ringbuf_fd(struct sg_bpf *b);

#endif
