/*
 * The collector parses attacker-controlled payloads, so it gets the
 * smallest table: the base rules plus accepting the exporter's
 * connections on the socket it listened on before the filter was loaded.
 * The loader's channel (chan.h) was mapped before, too.  It can create no
 * socket and connect nowhere: it has no way out but its two channels,
 * whose other ends are the loader and an authenticated exporter (ipc.h).
 */
#include "sandbox.h"

#include <seccomp.h>

static const struct sg_syscall_rule sg_collector_rules[] = {
	/* the exporter (re)connects to spans.sock */
	{ SCMP_SYS(accept4), SG_ANY },
	{ SCMP_SYS(accept), SG_ANY },
	/* nng removes its socket files when the listeners close at exit:
	 * refused; the loader removes them */
	{ SCMP_SYS(unlink), SG_REFUSE },
	{ SCMP_SYS(unlinkat), SG_REFUSE },
};

int
sg_sandbox_collector(bool debug)
{
	return sg_sandbox_apply(sg_collector_rules,
	    sizeof(sg_collector_rules) / sizeof(sg_collector_rules[0]), debug);
}
