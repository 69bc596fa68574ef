/* The command line shared by spyglass-collector and spyglass-exporter. */
#ifndef SG_CHILD_H
#define SG_CHILD_H

#include <stdbool.h>

#include "log.h"

/* The children's malloc threshold: larger blocks are mappings of their
 * own, faulted in page by page when used and unmapped when freed. */
#define SG_CHILD_MMAP_THRESHOLD (128u << 10)
/* Free room at the heap's top kept rather than given back. */
#define SG_CHILD_TRIM_THRESHOLD (1u << 20)

struct sg_child_args {
	const char       *runtime_dir;  /* -r: where the IPC sockets are */
	enum sg_log_level level;        /* -l: until the configuration arrives */
	bool              sandbox_debug;/* -S */
	const char       *selftest;     /* -T: sandbox self-test, or NULL */
	const char       *ca_file;      /* -C: OTLP CA bundle read at start */
	bool              otlp;         /* -O: OTLP export configured */
};

/* Parse argv or exit(2) with a usage message naming role.  Called first
 * thing in main: it also sets up malloc for life in the sandbox. */
void sg_child_args_parse(int argc, char **argv, const char *role,
    struct sg_child_args *a);

#endif
