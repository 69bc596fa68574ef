#include "portset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
sg_portset_number(const char *p, long *out, char *err, size_t errsz)
{
	char *end;

	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errsz, "expected a port number at \"%.20s\"", p);
		return NULL;
	}
	errno = 0;
	*out = strtol(p, &end, 10);
	if (errno != 0 || *out < 1 || *out > 65535) {
		snprintf(err, errsz, "port %.*s out of range 1-65535",
		    (int)(end - p), p);
		return NULL;
	}
	while (isspace((unsigned char)*end))
		end++;
	return end;
}

int
sg_portset_parse(const char *s, struct sg_portset *ps, char *err, size_t errsz)
{
	const char *p = s;
	long lo, hi;

	ps->n = 0;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return 0;  /* empty: no port selection */
	for (;;) {
		if ((p = sg_portset_number(p, &lo, err, errsz)) == NULL)
			return -1;
		hi = lo;
		if (*p == '-' &&
		    (p = sg_portset_number(p + 1, &hi, err, errsz)) == NULL)
			return -1;
		if (hi < lo) {
			snprintf(err, errsz, "range %ld-%ld is reversed", lo, hi);
			return -1;
		}
		if (ps->n == SG_PORTSET_MAX) {
			snprintf(err, errsz, "more than %d port ranges",
			    SG_PORTSET_MAX);
			return -1;
		}
		ps->r[ps->n].lo = (uint16_t)lo;
		ps->r[ps->n].hi = (uint16_t)hi;
		ps->n++;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			snprintf(err, errsz, "unexpected \"%.20s\"", p);
			return -1;
		}
		p++;
	}
}

bool
sg_portset_contains(const struct sg_portset *ps, uint16_t port)
{
	for (size_t i = 0; i < ps->n; i++)
		if (port >= ps->r[i].lo && port <= ps->r[i].hi)
			return true;
	return false;
}

void
sg_portset_format(const struct sg_portset *ps, char *buf, size_t sz)
{
	size_t off = 0;

	if (sz == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < ps->n && off < sz; i++) {
		int n = ps->r[i].lo == ps->r[i].hi ?
		    snprintf(buf + off, sz - off, "%s%u", i ? "," : "",
			ps->r[i].lo) :
		    snprintf(buf + off, sz - off, "%s%u-%u", i ? "," : "",
			ps->r[i].lo, ps->r[i].hi);
		if (n < 0)
			return;
		off += (size_t)n;
	}
}
