/*
 * OTEL_RESOURCE_ATTRIBUTES (otlp_resource.h).
 */
#include "otlp_resource.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pct.h"
#include "utf8.h"

static int
set_err(char *err, size_t errsz, const char *msg, const char *b,
    const char *e)
{
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, "%s in \"%.*s\"", msg,
		    (int)(e - b > 64 ? 64 : e - b), b);
	return -1;
}

/* Percent-decoded value into out; the result must be text (UTF-8, no
 * NUL) as it becomes a protobuf string. */
static const char *
decode_value(const char *b, const char *e, char *out, size_t outsz)
{
	const char *msg = sg_pct_decode(b, e, out, outsz);

	if (msg != NULL)
		return msg;
	return sg_utf8_valid(out, strlen(out)) ? NULL : "value not UTF-8";
}

/* One "key=value" at [b, e) into x; a repeated key takes the last value.
 * Only values are percent-encoded (the W3C Baggage form). */
static const char *
parse_pair(struct otlp_resource_extra *x, const char *b, const char *e)
{
	const char *eq = memchr(b, '=', (size_t)(e - b));
	const char *kb = b, *ke = eq, *vb, *ve = e, *msg;
	char key[sizeof(x->attr[0].key)];
	size_t i, kn;

	if (eq == NULL)
		return "missing '='";
	sg_trim_blanks(&kb, &ke);
	vb = eq + 1;
	sg_trim_blanks(&vb, &ve);
	if ((kn = (size_t)(ke - kb)) == 0)
		return "empty key";
	if (kn >= sizeof(key))
		return "key too long";
	if (!sg_utf8_valid(kb, kn))
		return "key not UTF-8";
	memcpy(key, kb, kn);
	key[kn] = '\0';
	for (i = 0; i < x->n; i++)
		if (strcmp(x->attr[i].key, key) == 0)
			break;
	if (i == OTLP_MAX_EXTRA_ATTRS)
		return "too many attributes";
	if ((msg = decode_value(vb, ve, x->attr[i].value,
	    sizeof(x->attr[i].value))) != NULL)
		return msg;
	memcpy(x->attr[i].key, key, kn + 1);
	if (i == x->n)
		x->n++;
	return NULL;
}

/* host_name is the caller's: only the attribute list is parsed into. */
int
otlp_resource_extra_parse(struct otlp_resource_extra *x, const char *s,
    char *err, size_t errsz)
{
	const char *p, *e, *b, *end, *msg;

	if (x == NULL)
		return -1;
	x->n = 0;
	if (s == NULL)
		return 0;
	for (p = s;; p = e + 1) {
		e = strchrnul(p, ',');
		b = p;
		end = e;
		sg_trim_blanks(&b, &end);
		/* Empty members ("a=1,,b=2", a trailing comma) are none. */
		if (b != end && (msg = parse_pair(x, b, end)) != NULL) {
			/* OpenTelemetry: an error discards the whole value. */
			x->n = 0;
			return set_err(err, errsz, msg, b, end);
		}
		if (*e == '\0')
			return 0;
	}
}
