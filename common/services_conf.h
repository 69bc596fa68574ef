/*
 * Discovery's service blocks in the configuration:
 *
 *   [service.checkout]            a process to instrument, named
 *   name = checkout               (optional: else OTEL_SERVICE_NAME, ...)
 *   namespace = shop
 *   open_ports = 8080,8443        selectors: every one set must match
 *   exe_path = /checkout$
 *
 *   [exclude_service.batch]       a process never to instrument
 *   exe_path = batch
 *
 * Blocks are OR-ed, the first that matches names the service; an exclude
 * block wins over them all.  On the command line, -o
 * service.checkout.open_ports=8080.
 */
#ifndef SG_SERVICES_CONF_H
#define SG_SERVICES_CONF_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* section/key (section "service.LABEL", or "service" with key
 * "LABEL.KEY" from the command line): 1 when not a service block's key,
 * 0 when applied, -1 with err set. */
int  sg_services_set(struct sg_config *c, const char *section,
    const char *key, const char *value, const char *origin, char *err,
    size_t errsz);
/* Every block selects something: 0, or -1 with err set. */
int  sg_services_check(const struct sg_config *c, char *err, size_t errsz);
/* The blocks as INI sections, for `spyglass check`. */
void sg_services_dump(const struct sg_config *c, FILE *f);
/* Whether processes may be selected by their executable (then exec'd
 * ones are traced at once, while the loader looks). */
bool sg_config_selects_by_exe(const struct sg_config *c);
/* Whether anything at all selects processes. */
bool sg_config_selects(const struct sg_config *c);

#endif
