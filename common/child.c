#include "child.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Noreturn void
sg_child_usage(const char *role)
{
	fprintf(stderr, "usage: %s -r RUNTIME_DIR [-l LEVEL] [-S] "
	    "[-C CA_FILE] [-T socket|open|exec]\n", role);
	exit(2);
}

void
sg_child_args_parse(int argc, char **argv, const char *role,
    struct sg_child_args *a)
{
	int ch;

	a->runtime_dir = NULL;
	a->level = SG_LOG_INFO;
	a->sandbox_debug = false;
	a->selftest = NULL;
	a->ca_file = NULL;
	while ((ch = getopt(argc, argv, "r:l:ST:C:")) != -1) {
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
		default:
			sg_child_usage(role);
		}
	}
	if (a->runtime_dir == NULL || optind != argc)
		sg_child_usage(role);
}
