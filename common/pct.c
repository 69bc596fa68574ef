#include "pct.h"

static int
sg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
sg_trim_blanks(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

const char *
sg_pct_decode(const char *b, const char *e, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz == 0)
		return "value too long";
	for (const char *p = b; p < e; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi, lo;

			if (e - p < 3 || (hi = sg_hexval(p[1])) < 0 ||
			    (lo = sg_hexval(p[2])) < 0) {
				out[0] = '\0';
				return "bad percent-encoding";
			}
			c = hi << 4 | lo;
			p += 2;
		}
		if (c == 0 || n + 1 >= outsz) {
			out[0] = '\0';
			return c == 0 ? "NUL in value" : "value too long";
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return NULL;
}
