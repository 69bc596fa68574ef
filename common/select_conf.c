/*
 * Attribute selection and filter blocks: parsed and checked with the
 * rest of the configuration.
 */
#include "select_conf.h"

#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#define SELECT_PREFIX "attributes.select."
#define FILTER_PREFIX "filter.application."
#define NETWORK_PREFIX "filter.network."

const char *const sg_attr_names[SG_ATTR_MAX] = {
	[SG_ATTR_HTTP_METHOD] = "http_request_method",
	[SG_ATTR_HTTP_STATUS] = "http_response_status_code",
	[SG_ATTR_HTTP_ROUTE] = "http_route",
	[SG_ATTR_URL_SCHEME] = "url_scheme",
	[SG_ATTR_URL_PATH] = "url_path",
	[SG_ATTR_RPC_METHOD] = "rpc_method",
	[SG_ATTR_RPC_SYSTEM] = "rpc_system",
	[SG_ATTR_RPC_STATUS] = "rpc_grpc_status_code",
	[SG_ATTR_SERVICE_NAME] = "service_name",
	[SG_ATTR_SERVICE_NAMESPACE] = "service_namespace",
	[SG_ATTR_TARGET_INSTANCE] = "target_instance",
	[SG_ATTR_SERVER_ADDRESS] = "server_address",
	[SG_ATTR_SERVER_PORT] = "server_port",
	[SG_ATTR_CLIENT_ADDRESS] = "client_address",
	[SG_ATTR_DB_OPERATION] = "db_operation_name",
	[SG_ATTR_DB_SYSTEM] = "db_system_name",
	[SG_ATTR_DB_COLLECTION] = "db_collection_name",
	[SG_ATTR_DB_NAMESPACE] = "db_namespace",
	[SG_ATTR_ERROR_TYPE] = "error_type",
	[SG_ATTR_MESSAGING_SYSTEM] = "messaging_system",
	[SG_ATTR_MESSAGING_DESTINATION] = "messaging_destination_name",
};

int
sg_attr_find(const char *name)
{
	char norm[64];

	snprintf(norm, sizeof(norm), "%s", name);
	for (char *p = norm; *p; p++)
		if (*p == '.')
			*p = '_';
	for (int a = 0; a < SG_ATTR_MAX; a++)
		if (strcasecmp(norm, sg_attr_names[a]) == 0)
			return a;
	return -1;
}

/* The family's name, its name without the unit (Beyla's section names:
 * http_server_request_duration) or its OpenTelemetry name. */
static bool
sg_family_matches(const char *glob, const char *prom, const char *otel)
{
	static const char *const units[] = { "_seconds", "_bytes" };
	char base[96], g[64];
	size_t n = strlen(prom);

	snprintf(g, sizeof(g), "%s", glob);
	for (char *p = g; *p; p++)
		if (*p == '.')
			*p = '_';
	snprintf(base, sizeof(base), "%s", prom);
	for (size_t i = 0; i < 2; i++) {
		size_t ul = strlen(units[i]);

		if (n > ul && strcmp(prom + n - ul, units[i]) == 0)
			base[n - ul] = '\0';
	}
	return fnmatch(g, prom, 0) == 0 || fnmatch(g, base, 0) == 0 ||
	    fnmatch(glob, otel, 0) == 0;
}

uint32_t
sg_attr_mask(const struct sg_config *c, const char *prom, const char *otel,
    uint32_t avail, uint32_t def)
{
	uint32_t mask = def & avail;

	/* Every block that names the family, in order: an include list
	 * replaces what is on, an exclude list takes away. */
	for (unsigned i = 0; i < c->attributes.nselect; i++) {
		const struct sg_attr_select *s = &c->attributes.select[i];

		if (!sg_family_matches(s->family, prom, otel))
			continue;
		if (s->include[0] != '\0') {
			mask = 0;
			for (int a = 0; a < SG_ATTR_MAX; a++)
				if (sg_globs_match(s->include, sg_attr_names[a]))
					mask |= SG_ATTR_BIT(a);
			mask &= avail;
		}
		for (int a = 0; a < SG_ATTR_MAX; a++)
			if (sg_globs_match(s->exclude, sg_attr_names[a]))
				mask &= ~SG_ATTR_BIT(a);
	}
	return mask;
}

bool
sg_globs_match(const char *globs, const char *name)
{
	char pat[SG_GLOBS_MAX], norm[128];
	size_t n;

	/* http.route and http_route are one attribute */
	snprintf(norm, sizeof(norm), "%s", name);
	for (char *p = norm; *p; p++)
		if (*p == '.')
			*p = '_';
	while (globs != NULL && *globs != '\0') {
		n = strcspn(globs, ", \t");
		if (n > 0 && n < sizeof(pat)) {
			memcpy(pat, globs, n);
			pat[n] = '\0';
			for (char *p = pat; *p; p++)
				if (*p == '.')
					*p = '_';
			if (fnmatch(pat, norm, 0) == 0)
				return true;
		}
		globs += n;
		globs += strspn(globs, ", \t");
	}
	return false;
}

static int
sg_select_copy(char *dst, size_t sz, const char *value, const char *origin,
    const char *section, const char *key, char *err, size_t errsz)
{
	if (strlen(value) >= sz) {
		snprintf(err, errsz, "%s: [%s] %s: value longer than %zu bytes",
		    origin, section, key, sz - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int
sg_select_block(struct sg_config *c, const char *name, const char *section,
    const char *key, const char *value, const char *origin, char *err,
    size_t errsz)
{
	struct sg_attr_select *s = NULL;

	if (strcasecmp(key, "include") != 0 && strcasecmp(key, "exclude") != 0) {
		snprintf(err, errsz, "%s: [%s] %s: unknown key (include, "
		    "exclude)", origin, section, key);
		return -1;
	}
	for (unsigned i = 0; i < c->attributes.nselect; i++)
		if (strcmp(c->attributes.select[i].family, name) == 0)
			s = &c->attributes.select[i];
	if (s == NULL) {
		if (c->attributes.nselect == SG_SELECTS_MAX || *name == '\0' ||
		    strlen(name) >= sizeof(s->family)) {
			snprintf(err, errsz, "%s: [%s]: %s", origin, section,
			    *name == '\0' ? "no metric family named" :
			    "too many, or too long a name");
			return -1;
		}
		s = &c->attributes.select[c->attributes.nselect++];
		memset(s, 0, sizeof(*s));
		snprintf(s->family, sizeof(s->family), "%s", name);
	}
	if (strcasecmp(key, "include") == 0)
		return sg_select_copy(s->include, sizeof(s->include), value,
		    origin, section, key, err, errsz);
	if (strcasecmp(key, "exclude") == 0)
		return sg_select_copy(s->exclude, sizeof(s->exclude), value,
		    origin, section, key, err, errsz);
	snprintf(err, errsz, "%s: [%s] %s: unknown key (include, exclude)",
	    origin, section, key);
	return -1;
}

static int
sg_filter_block(struct sg_config *c, const char *attr, const char *section,
    const char *key, const char *value, const char *origin, char *err,
    size_t errsz)
{
	struct sg_attr_filter *f = NULL;

	if (strcasecmp(key, "match") != 0 && strcasecmp(key, "not_match") != 0) {
		snprintf(err, errsz, "%s: [%s] %s: unknown key (match, "
		    "not_match)", origin, section, key);
		return -1;
	}
	for (unsigned i = 0; i < c->attributes.nfilter; i++)
		if (strcmp(c->attributes.filter[i].attr, attr) == 0)
			f = &c->attributes.filter[i];
	if (f == NULL) {
		if (c->attributes.nfilter == SG_FILTERS_MAX || *attr == '\0' ||
		    strlen(attr) >= sizeof(f->attr)) {
			snprintf(err, errsz, "%s: [%s]: %s", origin, section,
			    *attr == '\0' ? "no attribute named" :
			    "too many, or too long a name");
			return -1;
		}
		f = &c->attributes.filter[c->attributes.nfilter++];
		memset(f, 0, sizeof(*f));
		snprintf(f->attr, sizeof(f->attr), "%s", attr);
	}
	if (strcasecmp(key, "match") == 0)
		return sg_select_copy(f->match, sizeof(f->match), value,
		    origin, section, key, err, errsz);
	if (strcasecmp(key, "not_match") == 0)
		return sg_select_copy(f->not_match, sizeof(f->not_match), value,
		    origin, section, key, err, errsz);
	snprintf(err, errsz, "%s: [%s] %s: unknown key (match, not_match)",
	    origin, section, key);
	return -1;
}

int
sg_select_set(struct sg_config *c, const char *section, const char *key,
    const char *value, const char *origin, char *err, size_t errsz)
{
	if (section == NULL)
		return 1;
	if (strncasecmp(section, SELECT_PREFIX, strlen(SELECT_PREFIX)) == 0)
		return sg_select_block(c, section + strlen(SELECT_PREFIX),
		    section, key, value, origin, err, errsz);
	if (strncasecmp(section, FILTER_PREFIX, strlen(FILTER_PREFIX)) == 0) {
		if (sg_attr_find(section + strlen(FILTER_PREFIX)) < 0) {
			snprintf(err, errsz, "%s: [%s]: no such attribute (one "
			    "of the metric labels: http_request_method, "
			    "http_route, url_path, service_name, ...)", origin,
			    section);
			return -1;
		}
		return sg_filter_block(c, section + strlen(FILTER_PREFIX),
		    section, key, value, origin, err, errsz);
	}
	if (strncasecmp(section, NETWORK_PREFIX, strlen(NETWORK_PREFIX)) == 0) {
		snprintf(err, errsz, "%s: [%s]: network metrics are not built "
		    "(the network feature): there is nothing to filter", origin,
		    section);
		return -1;
	}
	return 1;
}

void
sg_select_dump(const struct sg_config *c, FILE *f)
{
	for (unsigned i = 0; i < c->attributes.nselect; i++)
		fprintf(f, "\n[" SELECT_PREFIX "%s]\ninclude = %s\nexclude = %s\n",
		    c->attributes.select[i].family,
		    c->attributes.select[i].include,
		    c->attributes.select[i].exclude);
	for (unsigned i = 0; i < c->attributes.nfilter; i++)
		fprintf(f, "\n[" FILTER_PREFIX "%s]\nmatch = %s\nnot_match = %s\n",
		    c->attributes.filter[i].attr, c->attributes.filter[i].match,
		    c->attributes.filter[i].not_match);
}

unsigned
sg_select_count(const struct sg_config *c)
{
	return 2 * (c->attributes.nselect + c->attributes.nfilter);
}

static void
sg_select_put(struct wire_w *w, const char *prefix, const char *name,
    const char *key, const char *value)
{
	char section[128];

	snprintf(section, sizeof(section), "%s%s", prefix, name);
	wire_put_str(w, section);
	wire_put_str(w, key);
	wire_put_str(w, value);
}

void
sg_select_encode(const struct sg_config *c, struct wire_w *w)
{
	for (unsigned i = 0; i < c->attributes.nselect; i++) {
		const struct sg_attr_select *s = &c->attributes.select[i];

		sg_select_put(w, SELECT_PREFIX, s->family, "include", s->include);
		sg_select_put(w, SELECT_PREFIX, s->family, "exclude", s->exclude);
	}
	for (unsigned i = 0; i < c->attributes.nfilter; i++) {
		const struct sg_attr_filter *f = &c->attributes.filter[i];

		sg_select_put(w, FILTER_PREFIX, f->attr, "match", f->match);
		sg_select_put(w, FILTER_PREFIX, f->attr, "not_match",
		    f->not_match);
	}
}
