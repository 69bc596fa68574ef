/*
 * The collector parses attacker-controlled payloads, so it gets the
 * smallest table: the base rules plus what nng's ipc dialer needs to
 * reconnect to the loader and the exporter (either may restart).  Only
 * AF_UNIX sockets can be created: no network access at all.
 */
#include "sandbox.h"

#include <sys/socket.h>

#include <seccomp.h>

static const struct sg_syscall_rule sg_collector_rules[] = {
	/* nng redials events.sock / export.sock after a peer restart */
	{ SCMP_SYS(socket), AF_UNIX },
	{ SCMP_SYS(connect), SG_ANY },
};

int
sg_sandbox_collector(bool debug)
{
	return sg_sandbox_apply(sg_collector_rules,
	    sizeof(sg_collector_rules) / sizeof(sg_collector_rules[0]), debug);
}
