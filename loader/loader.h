/* What the loader's modules call back into loader/main.c for. */
#ifndef SG_LOADER_H
#define SG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An exec, fork or exit event from BPF (size checked by the caller). */
void loader_on_proc_event(const void *ev, size_t size);
/* Whether events of this process are forwarded to the collector. */
bool loader_pid_selected(uint32_t pid);

#endif
