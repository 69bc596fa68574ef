/*
 * Attribute selection and filters in the configuration:
 *
 *   [attributes.select.http_server_*]      the labels of matching metric
 *   include = *                            families: globs over label
 *   exclude = url_path, client_address     names (dots or underscores)
 *
 *   [filter.application.url_path]          requests whose attribute does
 *   match = /api/... (globs)                not match, or matches
 *   not_match = /api/health                not_match, are dropped
 *
 * Checked where the configuration is read; sent to the collector, which
 * applies them (collector/attrs.c).
 */
#ifndef SG_SELECT_CONF_H
#define SG_SELECT_CONF_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "wire.h"

/* As sg_services_set: 1 when not such a block's key, 0 applied, -1. */
int  sg_select_set(struct sg_config *c, const char *section,
    const char *key, const char *value, const char *origin, char *err,
    size_t errsz);
void sg_select_dump(const struct sg_config *c, FILE *f);
/* The blocks as (section, key, value) triples for the collector's
 * configuration message; how many sg_select_encode writes. */
unsigned sg_select_count(const struct sg_config *c);
void sg_select_encode(const struct sg_config *c, struct wire_w *w);
/* The attributes of requests, as metric labels (and filter names). */
enum sg_attr {
	SG_ATTR_HTTP_METHOD = 0, SG_ATTR_HTTP_STATUS, SG_ATTR_HTTP_ROUTE,
	SG_ATTR_URL_SCHEME, SG_ATTR_URL_PATH, SG_ATTR_RPC_METHOD,
	SG_ATTR_RPC_SYSTEM, SG_ATTR_RPC_STATUS, SG_ATTR_SERVICE_NAME,
	SG_ATTR_SERVICE_NAMESPACE, SG_ATTR_TARGET_INSTANCE,
	SG_ATTR_SERVER_ADDRESS, SG_ATTR_SERVER_PORT, SG_ATTR_CLIENT_ADDRESS,
	SG_ATTR_DB_OPERATION, SG_ATTR_DB_SYSTEM, SG_ATTR_DB_COLLECTION,
	SG_ATTR_DB_NAMESPACE, SG_ATTR_ERROR_TYPE, SG_ATTR_MESSAGING_SYSTEM,
	SG_ATTR_MESSAGING_DESTINATION,
	SG_ATTR_MAX
};
#define SG_ATTR_BIT(a) (1u << (a))
/* Their label names (http_request_method, ...). */
extern const char *const sg_attr_names[SG_ATTR_MAX];
/* The attribute of a name (dots or underscores), or -1. */
int  sg_attr_find(const char *name);
/* The labels of a metric family (its Prometheus and OpenTelemetry
 * names) that [attributes.select.*] leave of avail, starting from def. */
uint32_t sg_attr_mask(const struct sg_config *c, const char *prom,
    const char *otel, uint32_t avail, uint32_t def);

/* Whether a glob list ("a*, b") matches name; "" matches nothing. */
bool sg_globs_match(const char *globs, const char *name);

#endif
