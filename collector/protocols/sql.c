/*
 * SQL text: operation, table and literal-free text (sql.h).
 * (A first version: the PostgreSQL work completes it.)
 */
#include "sql.h"

#include <ctype.h>
#include <string.h>

void
sql_describe(const char *q, size_t n, char *op, size_t opsz, char *table,
    size_t tsz)
{
	size_t i = 0, o = 0;

	while (i < n && isspace((unsigned char)q[i]))
		i++;
	while (i < n && isalpha((unsigned char)q[i]) && o + 1 < opsz)
		op[o++] = (char)toupper((unsigned char)q[i++]);
	if (opsz > 0)
		op[o] = '\0';
	if (tsz > 0)
		table[0] = '\0';
}

size_t
sql_sanitize(const char *q, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz == 0)
		return 0;
	for (size_t i = 0; i < n && o + 1 < outsz; i++)
		out[o++] = q[i];
	out[o] = '\0';
	return o;
}

bool
sql_looks_like(const char *q, size_t n)
{
	char op[16], t[1];

	sql_describe(q, n, op, sizeof(op), t, sizeof(t));
	return op[0] != '\0';
}
