/*
 * Name resolution for the OTLP endpoints, done here because the exporter's
 * sandbox cannot open resolv.conf or load NSS modules.  The result goes
 * to the exporter as [otel_*_export] resolve = host:port:address.
 */
#ifndef SG_RESOLVE_H
#define SG_RESOLVE_H

#include "config.h"

/* Check the OTLP endpoints; 0, or -1 with a reason in err. */
int  resolve_check_otlp(const struct sg_config *c, char *err, size_t errsz);
/* Fill the resolve keys left empty by the user (failures are logged and
 * leave the key empty: the exporter then reports connection errors). */
void resolve_otlp(struct sg_config *c);
/* c->host_name from [attributes.instance_id]: override_hostname, else
 * the host's canonical name when dns is on and it resolves, else
 * gethostname(). */
void resolve_host_name(struct sg_config *c);

#endif
