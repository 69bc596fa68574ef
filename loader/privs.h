/*
 * Capabilities and the service user.  The loader starts as root (or,
 * under systemd, as the service user with ambient capabilities), works
 * out which capabilities the enabled features need, and drops to those.
 */
#ifndef SG_PRIVS_H
#define SG_PRIVS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"

#define SG_CAPBIT(c) (1ull << (c))

/* Capabilities needed while running (after start-up); admin_uprobes:
 * this kernel asks cap_sys_admin for the uprobes TLS needs. */
uint64_t privs_needed(const struct sg_config *c, bool admin_uprobes);
/* Capabilities the process holds now (effective set). */
uint64_t privs_held(void);
/* "cap_bpf,cap_perfmon" */
void privs_format(uint64_t caps, char *buf, size_t sz);
/* Which user to become: the configured one, else SG_SERVICE_USER if it
 * exists, else nobody.  Returns 0, or -1 with a message in err. */
int  privs_resolve_user(const struct sg_config *c, uid_t *uid, gid_t *gid,
    char *name, size_t namesz, char *err, size_t errsz);
/* As root: empty the bounding set, switch to uid/gid keeping `keep` in the
 * permitted and effective sets, clear inheritable and ambient.  Not root:
 * drop every capability not in `keep` (and the bounding set if allowed).
 * Returns 0 or -1 (logged). */
int  privs_drop(uid_t uid, gid_t gid, uint64_t keep);

#endif
