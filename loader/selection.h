/*
 * The processes the loader instruments.  Discovery's verdicts and the
 * exec, fork and exit events read from the ring buffer are applied here
 * to the BPF programs' selection, the TLS uprobes and the collector's
 * process table, in the order the events happened.
 */
#ifndef SG_SELECTION_H
#define SG_SELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct discovery;
struct sg_bpf;
struct sg_drain;
struct tls;

/* How a process's metadata (or its departure: present 0) reaches the
 * collector, after the events read so far. */
typedef void (*selection_send_fn)(const struct sg_proc_info *info);

/* tls may be NULL (no uprobes).  Returns 0, or -1 out of memory. */
int  selection_init(struct sg_bpf *bpf, struct tls *tls, struct sg_drain *dr,
    selection_send_fn send);
void selection_free(void);
/* The discovery whose verdicts come in (a new one on each reload). */
void selection_set_discovery(struct discovery *d);
/* discovery's callback (a discovery_fn). */
void selection_on_discovery(void *ctx, const struct sg_proc_info *info);
/* Run a discovery scan and apply what it found. */
void selection_scan(void);
/* A reload: selection_unmark(), a new discovery and its scan, then
 * selection_drop_unmarked() lets go those it did not select again. */
void selection_unmark(void);
void selection_drop_unmarked(void);
/* Every selected process, in no order. */
void selection_foreach(void (*fn)(const struct sg_proc_info *info, void *ctx),
    void *ctx);
size_t selection_count(void);

#endif
