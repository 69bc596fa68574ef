/*
 * The exporter is the only process with network sockets: it listens on
 * exporter.sock for the loader and dials the collector's spans.sock (nng
 * ipc), serves the Prometheus endpoint and sends OTLP.  It opens no
 * files: configuration arrives over IPC.
 */
#include "sandbox.h"

#include <sys/socket.h>

#include <seccomp.h>

static const struct sg_syscall_rule sg_exporter_rules[] = {
	/* nng ipc (AF_UNIX), Prometheus and OTLP over TCP (v4 and v6) */
	{ SCMP_SYS(socket), AF_UNIX },
	{ SCMP_SYS(socket), AF_INET },
	{ SCMP_SYS(socket), AF_INET6 },
	/* the /metrics listener and its clients */
	{ SCMP_SYS(bind), SG_ANY },
	{ SCMP_SYS(listen), SG_ANY },
	{ SCMP_SYS(accept4), SG_ANY },
	{ SCMP_SYS(accept), SG_ANY },
	/* OTLP collectors */
	{ SCMP_SYS(connect), SG_ANY },
	{ SCMP_SYS(sendto), SG_ANY },
	{ SCMP_SYS(recvfrom), SG_ANY },
	/* libcurl's multi handle (inside curl_easy_perform) makes a local
	 * socketpair to wake itself up */
	{ SCMP_SYS(socketpair), AF_UNIX },
	/* nng removes exporter.sock when the listener closes at shutdown:
	 * refused (the loader removes it), since an unlink of any file the
	 * service user owns is not needed. */
	{ SCMP_SYS(unlink), SG_REFUSE },
	{ SCMP_SYS(unlinkat), SG_REFUSE },
};

int
sg_sandbox_exporter(bool debug)
{
	return sg_sandbox_apply(sg_exporter_rules,
	    sizeof(sg_exporter_rules) / sizeof(sg_exporter_rules[0]), debug);
}
