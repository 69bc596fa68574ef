/*
 * TLS plaintext: the uprobes on OpenSSL (bpf/spyglass.bpf.c, "TLS")
 * attached to each file that holds it (a libssl, or an executable that
 * links OpenSSL statically, such as node) and that a selected process
 * maps.  One set of uprobes per file (device and inode), whichever
 * processes map it; the BPF programs filter by the pid map.  A file is
 * detached when no selected process maps it any more, unless it is
 * pinned: the system's libssl, attached up front when processes are
 * selected by executable (a short-lived client maps it a few
 * milliseconds after its exec, sooner than the loader could react).
 *
 * The loader tells which processes are selected (tls_track on selection
 * and exec, tls_untrack when it ends); tls_rescan, every discovery
 * interval, finds the libraries they loaded since (Python's _ssl on its
 * first import, dlopen).
 */
#ifndef SG_TLS_H
#define SG_TLS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct bpf_object;
struct tls;

/* NULL when out of memory.  obj: the loaded BPF object (its ssl_*
 * programs); pin_system: attach the system's libssl at once. */
struct tls *tls_new(struct bpf_object *obj, bool pin_system);
void tls_free(struct tls *t);
/* pid is selected, or exec'd: look at what it maps now. */
void tls_track(struct tls *t, pid_t pid);
void tls_untrack(struct tls *t, pid_t pid);
/* Every tracked process again: libraries loaded or unloaded since. */
void tls_rescan(struct tls *t);
/* How many files have uprobes attached. */
unsigned tls_attached(const struct tls *t);

/* What a process's TLS would be seen through, for `spyglass check`: one
 * line to f (the file holding OpenSSL, or why none is seen). */
void tls_describe_pid(FILE *f, pid_t pid);

#endif
