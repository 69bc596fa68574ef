/*
 * Which processes to instrument: those listening on a selected port
 * (/proc/net/tcp{,6} listening sockets -> socket inode -> owning processes
 * through /proc/PID/fd) and those whose executable path or command line
 * matches executable_name; never spyglass itself nor exclude_exe.
 * Runs at start, on exec/fork/exit events from BPF and every
 * poll_interval.
 */
#ifndef SG_DISCOVERY_H
#define SG_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "msg.h"

struct discovery;

/* A process became selected (info filled) or went away (info->present 0). */
typedef void (*discovery_fn)(void *ctx, const struct sg_proc_info *info);

struct discovery *discovery_new(const struct sg_config *c, discovery_fn fn,
    void *ctx);
void   discovery_free(struct discovery *d);
/* Never select this pid (the loader and its children). */
void   discovery_ignore(struct discovery *d, pid_t pid);
/* Full rescan of /proc: calls fn for new and vanished processes. */
int    discovery_scan(struct discovery *d);
/* A process exec'd: select it now if its executable matches.  exe and
 * args (argv joined by spaces, possibly truncated) come from the kernel
 * event and are used when /proc/PID is already gone (short-lived
 * processes); either may be NULL or "" to read /proc instead. */
void   discovery_on_exec(struct discovery *d, pid_t pid, const char *exe,
    const char *args);
/* A selected process forked (BPF already selected the child). */
void   discovery_on_fork(struct discovery *d, pid_t parent, pid_t child);
/* A selected process exited. */
void   discovery_on_exit(struct discovery *d, pid_t pid);
size_t discovery_count(const struct discovery *d);
/* For `spyglass check`, after a scan: whether pid is selected, and if
 * not why ("not selected: excluded by [exclude_service.x]"); its
 * executable into exe.  NULL for kernel threads and processes gone. */
const char *discovery_explain(struct discovery *d, pid_t pid, char *exe,
    size_t exesz);
/* Whether pid's initial environment sets up an OTLP exporter (then it
 * is likely to send OTLP itself: exclude_otel_instrumented_services). */
bool discovery_configures_otlp(pid_t pid);
/* What selected pid ("[service.LABEL]", or the global keys), or NULL
 * when it is not selected. */
const char *discovery_selector(const struct discovery *d, pid_t pid);
/* Fill info for pid (service name from OTEL_SERVICE_NAME in its
 * environment when readable, else the configured name, else the
 * executable's base name).  Returns 0 or -1 if the process is gone. */
int    discovery_describe(const struct discovery *d, pid_t pid,
    struct sg_proc_info *info);

#endif
