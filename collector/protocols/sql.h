/*
 * What the collector reads from the text of an SQL statement, for every
 * SQL wire protocol (PostgreSQL, MySQL) and for the heuristic detection
 * of SQL on ports not known as database ports.  Pure functions over
 * bytes that come off the network: bounded, no allocation.
 */
#ifndef SG_SQL_H
#define SG_SQL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The operation of statement q (n bytes, not terminated, maybe cut off):
 * its first keyword upper-cased ("SELECT", "INSERT", "BEGIN"), after
 * comments and blanks, into op (opsz bytes, terminated; "" when q does
 * not start with a keyword); and the table it names, into table (tsz
 * bytes, terminated; "" when none or not told): FROM's for SELECT and
 * DELETE, INTO's for INSERT, UPDATE's, TABLE's for CREATE/DROP/ALTER/
 * TRUNCATE TABLE, as written without quotes ("public.users").
 */
void sql_describe(const char *q, size_t n, char *op, size_t opsz,
    char *table, size_t tsz);

/* Where the dialects differ for literals: MySQL's "..." is a string, not
 * an identifier, and its '...' takes backslash escapes. */
enum sql_dialect { SQL_POSTGRES = 0, SQL_MYSQL };

/*
 * q (n bytes) with its literals replaced by "?": quoted strings,
 * numbers, and dollar-quoted strings; identifiers, keywords, operators
 * and $1-style parameters are kept, runs of blanks become one space.
 * Writes at most outsz - 1 bytes and a terminator; returns the length.
 */
size_t sql_sanitize(const char *q, size_t n, enum sql_dialect d, char *out,
    size_t outsz);

/* Whether q (n bytes) starts, after blanks and comments, with a keyword
 * that begins an SQL statement (heuristic detection). */
bool sql_looks_like(const char *q, size_t n);

#endif
