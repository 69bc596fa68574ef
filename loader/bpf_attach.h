/*
 * Load the BPF object, choose the hooks at run time (socket tracepoints
 * when the kernel has them, else syscall tracepoints when asked for and
 * tracefs is there, else raw sys_enter/sys_exit), attach, and manage the
 * pid filter map.
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
	enum sg_hooks        hooks;        /* the ones in use: not AUTO */
	int                  pids_fd;
	int                  stats_fd;
	unsigned             nattached;
};

/* Whether this kernel has the socket tracepoints (BTF says). */
bool sg_bpf_have_socket_hooks(void);
/* The hooks to use for the configured ones: tracefs says whether syscall
 * tracepoints can be used, socket whether socket tracepoints can.  why
 * (may be NULL) gets the reason for a fallback, "" if none. */
enum sg_hooks sg_bpf_hooks_for(const struct sg_config *c, bool tracefs,
    bool socket, const char **why);
/* A name for the hooks, for messages. */
const char *sg_bpf_hooks_name(enum sg_hooks h);
/* hooks: from sg_bpf_hooks_for. */
int  sg_bpf_open_load_attach(struct sg_bpf *b, const struct sg_config *c,
    enum sg_hooks hooks);
void sg_bpf_close(struct sg_bpf *b);
int  sg_bpf_select_pid(struct sg_bpf *b, uint32_t pid);
int  sg_bpf_unselect_pid(struct sg_bpf *b, uint32_t pid);
/* Sum of a per-CPU stats counter (enum sg_bpf_stat). */
uint64_t sg_bpf_stat(struct sg_bpf *b, unsigned idx);
/* Ring buffer map fd. */
int  sg_bpf_ringbuf_fd(struct sg_bpf *b);

#endif
