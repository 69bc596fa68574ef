/*
 * The collector parses attacker-controlled payloads, so it gets the
 * smallest table: the base rules plus accepting connections on the two
 * channels it listened on before the filter was loaded.  It can create
 * no socket and connect nowhere: it has no way out but those channels,
 * whose peers are authenticated (ipc.h).
 */
#include "sandbox.h"

#include <seccomp.h>

static const struct sg_syscall_rule sg_collector_rules[] = {
	/* the loader and the exporter (re)connect to collector.sock and
	 * spans.sock */
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
