/*
 * Discovery's service blocks: parsed and checked where the rest of the
 * configuration is, used by the loader's discovery.
 */
#include "services_conf.h"

#include <regex.h>
#include <string.h>
#include <strings.h>

static const char *const sg_services_kinds[] = { "service.",
	"exclude_service." };

/* The block named label (exclude or not), made when new; NULL when the
 * table is full. */
static struct sg_service_sel *
sg_services_get(struct sg_config *c, bool exclude, const char *label)
{
	struct sg_service_sel *s;

	for (unsigned i = 0; i < c->discovery.nservices; i++) {
		s = &c->discovery.services[i];
		if (s->exclude == exclude && strcmp(s->label, label) == 0)
			return s;
	}
	if (c->discovery.nservices == SG_SERVICES_MAX)
		return NULL;
	s = &c->discovery.services[c->discovery.nservices++];
	memset(s, 0, sizeof(*s));
	s->exclude = exclude;
	snprintf(s->label, sizeof(s->label), "%s", label);
	return s;
}

static int
sg_services_err(char *err, size_t errsz, const char *origin, bool exclude,
    const char *label, const char *key, const char *why)
{
	snprintf(err, errsz, "%s: [%s%s] %s: %s", origin,
	    sg_services_kinds[exclude], label, key, why);
	return -1;
}

static int
sg_services_copy(char *dst, size_t sz, const char *value, const char *origin,
    bool exclude, const char *label, const char *key, char *err,
    size_t errsz)
{
	if (strlen(value) >= sz)
		return sg_services_err(err, errsz, origin, exclude, label, key,
		    "value too long");
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int
sg_services_apply(struct sg_service_sel *s, const char *key,
    const char *value, const char *origin, char *err, size_t errsz)
{
	char why[256];
	regex_t re;
	int rc;

	if (strcasecmp(key, "name") == 0)
		return sg_services_copy(s->name, sizeof(s->name), value,
		    origin, s->exclude, s->label, key, err, errsz);
	if (strcasecmp(key, "namespace") == 0)
		return sg_services_copy(s->namespace_, sizeof(s->namespace_),
		    value, origin, s->exclude, s->label, key, err, errsz);
	if (strcasecmp(key, "open_ports") == 0 ||
	    strcasecmp(key, "open_port") == 0) {
		if (sg_portset_parse(value, &s->open_ports, why,
		    sizeof(why)) < 0)
			return sg_services_err(err, errsz, origin, s->exclude,
			    s->label, key, why);
		return 0;
	}
	if (strcasecmp(key, "exe_path") == 0) {
		if (*value && (rc = regcomp(&re, value,
		    REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(rc, &re, why, sizeof(why));
			return sg_services_err(err, errsz, origin, s->exclude,
			    s->label, key, why);
		}
		if (*value)
			regfree(&re);
		return sg_services_copy(s->exe_path, sizeof(s->exe_path),
		    value, origin, s->exclude, s->label, key, err, errsz);
	}
	return sg_services_err(err, errsz, origin, s->exclude, s->label, key,
	    "unknown key (name, namespace, open_ports, exe_path)");
}

/* A label: letters, digits, '-', '_'. */
static bool
sg_services_label_ok(const char *s, size_t n)
{
	if (n == 0 || n >= SG_SERVICE_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

int
sg_services_set(struct sg_config *c, const char *section, const char *key,
    const char *value, const char *origin, char *err, size_t errsz)
{
	char label[SG_SERVICE_LABEL_MAX];
	struct sg_service_sel *s;
	const char *rest = NULL, *dot;
	size_t n;
	bool exclude = false;

	if (section == NULL)
		return 1;
	for (int k = 0; k < 2 && rest == NULL; k++) {
		size_t kl = strlen(sg_services_kinds[k]);

		if (strncasecmp(section, sg_services_kinds[k], kl) == 0) {
			rest = section + kl;
			exclude = k == 1;
		} else if (strncasecmp(section, sg_services_kinds[k],
		    kl - 1) == 0 && section[kl - 1] == '\0' &&
		    (dot = strchr(key, '.')) != NULL) {
			/* -o service.LABEL.KEY=VALUE */
			n = (size_t)(dot - key);
			if (n >= sizeof(label))
				n = sizeof(label) - 1;
			memcpy(label, key, n);
			label[n] = '\0';
			rest = label;
			key = dot + 1;
			exclude = k == 1;
		}
	}
	if (rest == NULL)
		return 1;
	if (strcasecmp(key, "name") != 0 && strcasecmp(key, "namespace") != 0 &&
	    strcasecmp(key, "open_ports") != 0 &&
	    strcasecmp(key, "open_port") != 0 &&
	    strcasecmp(key, "exe_path") != 0)
		return sg_services_err(err, errsz, origin, exclude, rest, key,
		    "unknown key (name, namespace, open_ports, exe_path)");
	if (!sg_services_label_ok(rest, strlen(rest))) {
		snprintf(err, errsz, "%s: [%s%s]: a block's label is letters, "
		    "digits, '-' and '_'", origin, sg_services_kinds[exclude],
		    rest);
		return -1;
	}
	if ((s = sg_services_get(c, exclude, rest)) == NULL) {
		snprintf(err, errsz, "%s: [%s%s]: more than %d service blocks",
		    origin, sg_services_kinds[exclude], rest, SG_SERVICES_MAX);
		return -1;
	}
	return sg_services_apply(s, key, value, origin, err, errsz);
}

int
sg_services_check(const struct sg_config *c, char *err, size_t errsz)
{
	for (unsigned i = 0; i < c->discovery.nservices; i++) {
		const struct sg_service_sel *s = &c->discovery.services[i];

		if (s->open_ports.n == 0 && s->exe_path[0] == '\0') {
			snprintf(err, errsz, "[%s%s]: no selector: set open_ports, "
			    "exe_path or both", sg_services_kinds[s->exclude],
			    s->label);
			return -1;
		}
	}
	return 0;
}

void
sg_services_dump(const struct sg_config *c, FILE *f)
{
	char ports[256];

	for (unsigned i = 0; i < c->discovery.nservices; i++) {
		const struct sg_service_sel *s = &c->discovery.services[i];

		sg_portset_format(&s->open_ports, ports, sizeof(ports));
		fprintf(f, "\n[%s%s]\n", sg_services_kinds[s->exclude],
		    s->label);
		if (!s->exclude)
			fprintf(f, "name = %s\nnamespace = %s\n", s->name,
			    s->namespace_);
		fprintf(f, "open_ports = %s\nexe_path = %s\n", ports,
		    s->exe_path);
	}
}

bool
sg_config_selects_by_exe(const struct sg_config *c)
{
	if (c->discovery.executable_name[0] != '\0')
		return true;
	for (unsigned i = 0; i < c->discovery.nservices; i++)
		if (!c->discovery.services[i].exclude &&
		    c->discovery.services[i].exe_path[0] != '\0')
			return true;
	return false;
}

bool
sg_config_selects(const struct sg_config *c)
{
	if (c->discovery.open_port.n > 0 || sg_config_selects_by_exe(c))
		return true;
	for (unsigned i = 0; i < c->discovery.nservices; i++)
		if (!c->discovery.services[i].exclude)
			return true;
	return false;
}
