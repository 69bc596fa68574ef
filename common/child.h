/* The command line shared by spyglass-collector and spyglass-exporter. */
#ifndef SG_CHILD_H
#define SG_CHILD_H

#include <stdbool.h>

#include "log.h"

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
