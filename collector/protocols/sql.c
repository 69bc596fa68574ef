/*
 * SQL text: operation, table and literal-free text (sql.h).
 *
 * One small lexer serves the three: it knows blanks, comments (-- and
 * nested block comments), quoted strings (with their E, B, X, N prefixes
 * and PostgreSQL's E'' backslash escapes), dollar-quoted strings, quoted
 * identifiers ("x", `x`), $1 parameters, numbers and words.  It never
 * reads past n, and a token cut off by the end of the text (the capture)
 * ends there: statements arrive truncated.
 */
#include "sql.h"

#include <stdint.h>
#include <string.h>

enum sql_tok {
	TK_END = 0,
	TK_WORD,	/* keyword or bare identifier */
	TK_QIDENT,	/* "quoted" or `quoted` identifier */
	TK_STRING,	/* '...', E'...', $tag$...$tag$ */
	TK_NUMBER,
	TK_PARAM,	/* $1 */
	TK_PUNCT,	/* anything else, one byte */
};

struct sql_lex {
	const char	*q;
	size_t		 n;
	size_t		 i;	/* next byte */
	size_t		 at;	/* the token: q[at..i) */
	bool		 blank;	/* blanks or comments before it */
	bool		 mysql;	/* "..." is a string; backslash escapes */
};

static bool
sql_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static bool
sql_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
sql_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (unsigned char)c >= 0x80;
}

static bool
sql_is_ident(char c)
{
	return sql_is_alpha(c) || sql_is_digit(c) || c == '$';
}

static char
sql_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Blanks and comments; a block comment may nest (PostgreSQL) and may be
 * cut off by the end of the text. */
static void
sql_skip_blank(struct sql_lex *lx)
{
	const char *q = lx->q;
	size_t depth;

	lx->blank = false;
	while (lx->i < lx->n) {
		if (sql_is_space(q[lx->i])) {
			lx->i++;
		} else if (q[lx->i] == '-' && lx->i + 1 < lx->n &&
		    q[lx->i + 1] == '-') {
			while (lx->i < lx->n && q[lx->i] != '\n')
				lx->i++;
		} else if (q[lx->i] == '#' && lx->i + 1 < lx->n &&
		    q[lx->i + 1] == ' ') {
			/* MySQL's "# comment" (PostgreSQL's # is an operator,
			 * rarely followed by a blank) */
			while (lx->i < lx->n && q[lx->i] != '\n')
				lx->i++;
		} else if (q[lx->i] == '/' && lx->i + 1 < lx->n &&
		    q[lx->i + 1] == '*') {
			lx->i += 2;
			depth = 1;
			while (lx->i < lx->n && depth > 0) {
				if (q[lx->i] == '*' && lx->i + 1 < lx->n &&
				    q[lx->i + 1] == '/') {
					depth--;
					lx->i += 2;
				} else if (q[lx->i] == '/' && lx->i + 1 < lx->n &&
				    q[lx->i + 1] == '*') {
					depth++;
					lx->i += 2;
				} else
					lx->i++;
			}
		} else
			break;
		lx->blank = true;
	}
}

/* A string from its opening quote at i: '' doubles a quote; backslash
 * escapes only in an E'' string. */
static void
sql_skip_quoted(struct sql_lex *lx, char quote, bool backslash)
{
	const char *q = lx->q;

	lx->i++;
	while (lx->i < lx->n) {
		if (backslash && q[lx->i] == '\\') {
			lx->i += lx->i + 1 < lx->n ? 2 : 1;
			continue;
		}
		if (q[lx->i++] != quote)
			continue;
		if (lx->i < lx->n && q[lx->i] == quote) {
			lx->i++;
			continue;
		}
		return;
	}
}

/* $tag$ at i (tag: identifier characters but no $, maybe empty): the
 * tag's length with both $, or 0 when it is not one. */
static size_t
sql_dollar_tag(const struct sql_lex *lx)
{
	size_t j = lx->i + 1;

	if (j < lx->n && sql_is_digit(lx->q[j]))
		return 0;	/* $1: a parameter */
	while (j < lx->n && sql_is_ident(lx->q[j]) && lx->q[j] != '$')
		j++;
	if (j < lx->n && lx->q[j] == '$')
		return j + 1 - lx->i;
	return 0;
}

static void
sql_skip_dollar_string(struct sql_lex *lx, size_t taglen)
{
	const char *tag = lx->q + lx->i;
	size_t j;

	for (j = lx->i + taglen; j + taglen <= lx->n; j++)
		if (lx->q[j] == '$' && memcmp(lx->q + j, tag, taglen) == 0) {
			lx->i = j + taglen;
			return;
		}
	lx->i = lx->n;	/* cut off */
}

static void
sql_skip_number(struct sql_lex *lx)
{
	const char *q = lx->q;

	if (q[lx->i] == '0' && lx->i + 1 < lx->n &&
	    (q[lx->i + 1] == 'x' || q[lx->i + 1] == 'X')) {
		lx->i += 2;
		while (lx->i < lx->n && (sql_is_digit(q[lx->i]) ||
		    (sql_upper(q[lx->i]) >= 'A' && sql_upper(q[lx->i]) <= 'F')))
			lx->i++;
		return;
	}
	while (lx->i < lx->n && (sql_is_digit(q[lx->i]) || q[lx->i] == '.' ||
	    q[lx->i] == '_'))
		lx->i++;
	if (lx->i < lx->n && (q[lx->i] == 'e' || q[lx->i] == 'E')) {
		size_t j = lx->i + 1;

		if (j < lx->n && (q[j] == '+' || q[j] == '-'))
			j++;
		if (j < lx->n && sql_is_digit(q[j])) {
			lx->i = j;
			while (lx->i < lx->n && sql_is_digit(q[lx->i]))
				lx->i++;
		}
	}
}

/* A word that prefixes a string constant: E'', B'', X'', N'', U&''. */
static bool
sql_string_prefix(const struct sql_lex *lx, size_t wlen, bool *backslash)
{
	const char *w = lx->q + lx->at;
	char c = sql_upper(w[0]);

	*backslash = false;
	if (lx->i >= lx->n)
		return false;
	if (wlen == 1 && lx->q[lx->i] == '\'' &&
	    (c == 'E' || c == 'B' || c == 'X' || c == 'N')) {
		*backslash = c == 'E';
		return true;
	}
	return wlen == 1 && c == 'U' && lx->q[lx->i] == '&' &&
	    lx->i + 1 < lx->n && lx->q[lx->i + 1] == '\'';
}

static enum sql_tok
sql_next(struct sql_lex *lx)
{
	const char *q = lx->q;
	bool backslash;
	size_t tag;
	char c;

	sql_skip_blank(lx);
	lx->at = lx->i;
	if (lx->i >= lx->n)
		return TK_END;
	c = q[lx->i];
	if (c == '\'' || (c == '"' && lx->mysql)) {
		sql_skip_quoted(lx, c, lx->mysql);
		return TK_STRING;
	}
	if (c == '"' || c == '`') {
		sql_skip_quoted(lx, c, false);
		return TK_QIDENT;
	}
	if (c == '$') {
		if ((tag = sql_dollar_tag(lx)) > 0) {
			sql_skip_dollar_string(lx, tag);
			return TK_STRING;
		}
		lx->i++;
		if (lx->i < lx->n && sql_is_digit(q[lx->i])) {
			while (lx->i < lx->n && sql_is_digit(q[lx->i]))
				lx->i++;
			return TK_PARAM;
		}
		return TK_PUNCT;
	}
	if (sql_is_digit(c) || (c == '.' && lx->i + 1 < lx->n &&
	    sql_is_digit(q[lx->i + 1]))) {
		sql_skip_number(lx);
		return TK_NUMBER;
	}
	if (sql_is_alpha(c)) {
		while (lx->i < lx->n && sql_is_ident(q[lx->i]))
			lx->i++;
		if (sql_string_prefix(lx, lx->i - lx->at, &backslash)) {
			if (q[lx->i] == '&')
				lx->i++;
			sql_skip_quoted(lx, '\'', backslash);
			return TK_STRING;
		}
		return TK_WORD;
	}
	lx->i++;
	return TK_PUNCT;
}

static bool
sql_word_is(const struct sql_lex *lx, enum sql_tok t, const char *kw)
{
	size_t k = strlen(kw), j;

	if (t != TK_WORD || lx->i - lx->at != k)
		return false;
	for (j = 0; j < k; j++)
		if (sql_upper(lx->q[lx->at + j]) != kw[j])
			return false;
	return true;
}

static void
sql_lex_init(struct sql_lex *lx, const char *q, size_t n)
{
	const char *z = q != NULL ? memchr(q, '\0', n) : NULL;

	memset(lx, 0, sizeof(*lx));
	lx->q = q;
	/* a terminator ends the text: what follows is no statement's */
	lx->n = q == NULL ? 0 : z != NULL ? (size_t)(z - q) : n;
}

/* Appends the identifier token to out (quotes taken off, "" undoubled);
 * false when it did not fit. */
static bool
sql_put_ident(const struct sql_lex *lx, enum sql_tok t, char *out, size_t sz,
    size_t *o)
{
	const char *p = lx->q + lx->at;
	size_t len = lx->i - lx->at, j;

	if (t == TK_QIDENT) {
		char quote = p[0];

		for (j = 1; j < len; j++) {
			if (p[j] == quote && j + 1 < len && p[j + 1] == quote)
				j++;
			else if (p[j] == quote)
				break;
			if (*o + 1 >= sz)
				return false;
			out[(*o)++] = p[j];
		}
		return true;
	}
	for (j = 0; j < len; j++) {
		if (*o + 1 >= sz)
			return false;
		out[(*o)++] = p[j];
	}
	return true;
}

/* A table name at the lexer: name or schema.name, each part bare or
 * quoted, into table; "" when there is none or it does not fit. */
static void
sql_read_table(struct sql_lex *lx, char *table, size_t tsz)
{
	enum sql_tok t = sql_next(lx);
	size_t o = 0;

	for (;;) {
		if ((t != TK_WORD && t != TK_QIDENT) ||
		    !sql_put_ident(lx, t, table, tsz, &o)) {
			o = 0;
			break;
		}
		if (lx->i >= lx->n || lx->q[lx->i] != '.')
			break;
		lx->i++;
		if (o + 1 >= tsz) {
			o = 0;
			break;
		}
		table[o++] = '.';
		t = sql_next(lx);
	}
	table[o] = '\0';
}

/* Past optional words: IF [NOT] EXISTS, ONLY. */
static void
sql_skip_modifiers(struct sql_lex *lx)
{
	static const char *const words[] = { "IF", "NOT", "EXISTS", "ONLY" };
	struct sql_lex save;
	enum sql_tok t;
	size_t k;

	for (;;) {
		save = *lx;
		t = sql_next(lx);
		for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
			if (sql_word_is(lx, t, words[k]))
				break;
		if (k == sizeof(words) / sizeof(words[0])) {
			*lx = save;
			return;
		}
	}
}

/* The word kw at parenthesis depth 0, within the first `within` tokens
 * (0: any); the lexer is left after it. */
static bool
sql_find_keyword(struct sql_lex *lx, const char *kw, unsigned within)
{
	enum sql_tok t;
	unsigned depth = 0, count = 0;

	while ((t = sql_next(lx)) != TK_END) {
		if (within > 0 && ++count > within)
			return false;
		if (t == TK_PUNCT && lx->q[lx->at] == '(')
			depth++;
		else if (t == TK_PUNCT && lx->q[lx->at] == ')' && depth > 0)
			depth--;
		else if (t == TK_PUNCT && lx->q[lx->at] == ';' && depth == 0)
			return false;	/* the next statement's */
		else if (depth == 0 && sql_word_is(lx, t, kw))
			return true;
	}
	return false;
}

static void
sql_table_of(struct sql_lex *lx, const char *op, char *table, size_t tsz)
{
	struct sql_lex save = *lx;

	if (strcmp(op, "SELECT") == 0 || strcmp(op, "DELETE") == 0) {
		if (sql_find_keyword(lx, "FROM", 0)) {
			sql_skip_modifiers(lx);
			sql_read_table(lx, table, tsz);
		}
	} else if (strcmp(op, "INSERT") == 0 || strcmp(op, "REPLACE") == 0) {
		if (sql_find_keyword(lx, "INTO", 4))
			sql_read_table(lx, table, tsz);
	} else if (strcmp(op, "UPDATE") == 0 || strcmp(op, "COPY") == 0) {
		sql_skip_modifiers(lx);
		sql_read_table(lx, table, tsz);
	} else if (strcmp(op, "CREATE") == 0 || strcmp(op, "DROP") == 0 ||
	    strcmp(op, "ALTER") == 0) {
		/* CREATE [GLOBAL|LOCAL] [TEMP|UNLOGGED] TABLE */
		if (sql_find_keyword(lx, "TABLE", 3)) {
			sql_skip_modifiers(lx);
			sql_read_table(lx, table, tsz);
		}
	} else if (strcmp(op, "TRUNCATE") == 0) {
		if (!sql_find_keyword(lx, "TABLE", 1))
			*lx = save;
		sql_skip_modifiers(lx);
		sql_read_table(lx, table, tsz);
	}
}

void
sql_describe(const char *q, size_t n, char *op, size_t opsz, char *table,
    size_t tsz)
{
	struct sql_lex lx;
	enum sql_tok t;
	size_t len, j;

	if (opsz > 0)
		op[0] = '\0';
	if (tsz > 0)
		table[0] = '\0';
	sql_lex_init(&lx, q, n);
	/* "(SELECT ...) UNION ...": the first keyword inside */
	while ((t = sql_next(&lx)) == TK_PUNCT && q[lx.at] == '(')
		;
	len = lx.i - lx.at;
	if (t != TK_WORD || opsz == 0 || len >= opsz)
		return;
	for (j = 0; j < len; j++) {
		if (!sql_is_alpha(q[lx.at + j]) ||
		    (unsigned char)q[lx.at + j] >= 0x80) {
			op[0] = '\0';	/* a keyword has letters only */
			return;
		}
		op[j] = sql_upper(q[lx.at + j]);
	}
	op[len] = '\0';
	if (tsz > 0)
		sql_table_of(&lx, op, table, tsz);
}

/* One output byte, when there is room. */
static void
sql_out(char *out, size_t outsz, size_t *o, char c)
{
	if (*o + 1 < outsz)
		out[(*o)++] = c;
}

size_t
sql_sanitize(const char *q, size_t n, enum sql_dialect d, char *out,
    size_t outsz)
{
	struct sql_lex lx;
	enum sql_tok t;
	size_t o = 0, j;
	bool first = true;

	if (outsz == 0)
		return 0;
	sql_lex_init(&lx, q, n);
	lx.mysql = d == SQL_MYSQL;
	while ((t = sql_next(&lx)) != TK_END) {
		if (lx.blank && !first)
			sql_out(out, outsz, &o, ' ');
		first = false;
		if (t == TK_STRING || t == TK_NUMBER) {
			sql_out(out, outsz, &o, '?');
			continue;
		}
		for (j = lx.at; j < lx.i; j++)
			sql_out(out, outsz, &o, q[j]);
	}
	out[o] = '\0';
	return o;
}

bool
sql_looks_like(const char *q, size_t n)
{
	static const char *const starts[] = {
		"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES",
		"TABLE", "BEGIN", "START", "COMMIT", "ROLLBACK", "END", "ABORT",
		"SAVEPOINT", "RELEASE", "CREATE", "DROP", "ALTER", "TRUNCATE",
		"COPY", "SET", "SHOW", "RESET", "EXPLAIN", "ANALYZE", "VACUUM",
		"GRANT", "REVOKE", "PREPARE", "EXECUTE", "DEALLOCATE", "DECLARE",
		"FETCH", "CLOSE", "MOVE", "LOCK", "LISTEN", "NOTIFY", "UNLISTEN",
		"DISCARD", "CALL", "DO", "MERGE", "COMMENT", "REINDEX", "CLUSTER",
		"CHECKPOINT", "REFRESH", "USE", "REPLACE", "DESCRIBE", "DESC",
		"LOAD", "KILL", "FLUSH", "OPTIMIZE", "REPAIR", "RENAME",
		"HANDLER", "XA",
	};
	char op[16], table[1];
	size_t k;

	sql_describe(q, n, op, sizeof(op), table, sizeof(table));
	for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++)
		if (strcmp(op, starts[k]) == 0)
			return true;
	return false;
}
