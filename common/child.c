#include "child.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Noreturn void
sg_child_usage(const char *role)
{
	fprintf(stderr, "usage: %s -r RUNTIME_DIR [-l LEVEL] [-S] "
	    "[-O] [-C CA_FILE] [-T socket|open|exec]\n", role);
	exit(2);
}

void
sg_child_args_parse(int argc, char **argv, const char *role,
    struct sg_child_args *a)
{
	int ch;

	/*
	 * One malloc arena, set before any thread exists.  glibc trims a
	 * thread's own arena through a path that opens
	 * /proc/sys/vm/overcommit_memory the first time: under the seccomp
	 * filter that open kills the process.  With the main arena only
	 * that path is never taken (and fewer arenas use less memory).
	 */
	mallopt(M_ARENA_MAX, 1);
	/*
	 * Metric snapshots, their copies and renderings are as large as
	 * the series are many.  glibc raises its mmap threshold to the
	 * largest block freed, after which such blocks come from the heap,
	 * whose top seldom shrinks: memory would stay at the peak a crowd
	 * of short-lived processes made.  A fixed threshold (glibc's
	 * initial one) keeps them in mappings of their own, returned when
	 * freed.
	 */
	mallopt(M_MMAP_THRESHOLD, SG_CHILD_MMAP_THRESHOLD);
	/*
	 * nng's receive buffers come and go with every message (the
	 * exporter's span batches and snapshots; the collector's were the
	 * loader's event batches before its channel, chan.h): with glibc's
	 * trim threshold, as large as one of them, the heap's top was
	 * given back after each and faulted in again by the next (20 page
	 * faults per 1,000 requests at saturation).  Some room is kept.
	 */
	mallopt(M_TRIM_THRESHOLD, SG_CHILD_TRIM_THRESHOLD);
	/* A Ctrl-C at a terminal reaches the whole process group: the
	 * loader alone acts on it, and stops us once what we hold is out. */
	signal(SIGINT, SIG_IGN);
	a->runtime_dir = NULL;
	a->level = SG_LOG_INFO;
	a->sandbox_debug = false;
	a->selftest = NULL;
	a->ca_file = NULL;
	a->otlp = false;
	while ((ch = getopt(argc, argv, "r:l:ST:C:O")) != -1) {
		switch (ch) {
		case 'r':
			a->runtime_dir = optarg;
			break;
		case 'l':
			if (sg_log_level_parse(optarg, &a->level) < 0)
				sg_child_usage(role);
			break;
		case 'S':
			a->sandbox_debug = true;
			break;
		case 'T':
			a->selftest = optarg;
			break;
		case 'C':
			a->ca_file = optarg;
			break;
		case 'O':
			a->otlp = true;
			break;
		default:
			sg_child_usage(role);
		}
	}
	if (a->runtime_dir == NULL || optind != argc)
		sg_child_usage(role);
}
