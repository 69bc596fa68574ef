/*
 * `spyglass check`: the effective configuration, what the machine allows
 * (preflight), which processes it would select and why the others not;
 * and the words for a configuration that selects nothing, which a run
 * logs too.
 */
#ifndef SG_CHECK_H
#define SG_CHECK_H

#include <stddef.h>

#include "config.h"

/* Nothing selected: the finding, and how to act on it.  The unit and
 * README.Debian point here, so a boot before configuration explains itself
 * in the journal. */
#define SG_NOTHING_SELECTED "nothing selected: neither [discovery] " \
	"open_port, executable_name nor a [service.NAME] block is set, so " \
	"nothing would be instrumented"

/* How to select something, naming file, the configuration file read (or
 * that would have been). */
void check_how_to_select(char *buf, size_t sz, const char *file);
/* Print the report to stdout; the exit status: 0, SG_EXIT_PREFLIGHT or
 * SG_EXIT_CONFIG. */
int  check_run(const struct sg_config *cfg, const char *file);

#endif
