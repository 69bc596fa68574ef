/* What the loader's modules share: its exit statuses, and what the ring
 * buffer's drain asks of the selection (selection.c). */
#ifndef SG_LOADER_H
#define SG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The loader's exit statuses (the unit and the man page name them). */
#define SG_EXIT_RUNTIME   1
#define SG_EXIT_CONFIG    2
#define SG_EXIT_PREFLIGHT 3

/* An exec, fork or exit event from BPF (size checked by the caller);
 * selection.c. */
void loader_on_proc_event(const void *ev, size_t size);
/* Whether events of this process are forwarded to the collector. */
bool loader_pid_selected(uint32_t pid);

#endif
