/*
 * SQL text (collector/protocols/sql.c): operation and table, literals
 * replaced, statement detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sql.h"

static void
check_describe(const char *q, const char *op, const char *table)
{
	char o[16], t[64];

	sql_describe(q, strlen(q), o, sizeof(o), t, sizeof(t));
	if (strcmp(o, op) != 0 || strcmp(t, table) != 0)
		fail_msg("%s: got op '%s' table '%s', want '%s' '%s'", q, o, t,
		    op, table);
}

static void
test_describe_basic(void **state)
{
	(void)state;
	check_describe("SELECT * FROM items WHERE id = 1;", "SELECT", "items");
	check_describe("select count(*) from pgbench_branches", "SELECT",
	    "pgbench_branches");
	check_describe("SELECT name FROM \"items\" WHERE id > 2;", "SELECT",
	    "items");
	check_describe("SELECT 1", "SELECT", "");
	check_describe("INSERT INTO items VALUES (1, 'one');", "INSERT",
	    "items");
	check_describe("INSERT INTO pgbench_history (tid, bid) VALUES (1, 2)",
	    "INSERT", "pgbench_history");
	check_describe("UPDATE pgbench_accounts SET abalance = 1", "UPDATE",
	    "pgbench_accounts");
	check_describe("update only t set a = 1", "UPDATE", "t");
	check_describe("DELETE FROM public.users WHERE id = $1", "DELETE",
	    "public.users");
	check_describe("BEGIN;", "BEGIN", "");
	check_describe("END;", "END", "");
	check_describe("copy pgbench_accounts from stdin with (freeze on)",
	    "COPY", "pgbench_accounts");
	check_describe("COPY (SELECT 1) TO STDOUT", "COPY", "");
	check_describe("vacuum pgbench_branches", "VACUUM", "");
}

static void
test_describe_ddl(void **state)
{
	(void)state;
	check_describe("CREATE TABLE items (id int primary key, name text);",
	    "CREATE", "items");
	check_describe("create temp table if not exists \"My \"\"T\"\"\" (a int)",
	    "CREATE", "My \"T\"");
	check_describe("drop table if exists pgbench_accounts, pgbench_branches",
	    "DROP", "pgbench_accounts");
	check_describe("alter table pgbench_branches add primary key (bid)",
	    "ALTER", "pgbench_branches");
	check_describe("truncate pgbench_history", "TRUNCATE",
	    "pgbench_history");
	check_describe("truncate table only s.t", "TRUNCATE", "s.t");
	check_describe("CREATE INDEX i ON t (a)", "CREATE", "");
}

static void
test_describe_comments_and_quotes(void **state)
{
	(void)state;
	check_describe("  -- a comment\n /* block /* nested */ */ select a "
	    "from t", "SELECT", "t");
	check_describe("SELECT 'FROM x' FROM y", "SELECT", "y");
	check_describe("SELECT (SELECT 1 FROM a) FROM b", "SELECT", "b");
	check_describe("SELECT a FROM \"s\".\"t\" x", "SELECT", "s.t");
	check_describe("SELECT $$ FROM z $$ FROM w", "SELECT", "w");
	check_describe("(SELECT 1 FROM a) UNION (SELECT 2 FROM b)", "SELECT",
	    "a");
	check_describe("SELECT a; DELETE FROM b", "SELECT", "");
	check_describe("SELECT * FROM `my_table`", "SELECT", "my_table");
	check_describe("", "", "");
	check_describe("/* only a comment", "", "");
	check_describe("123", "", "");
	check_describe("ÜBER", "", "");
}

static void
test_describe_bounds(void **state)
{
	char o[4], t[4];
	const char *q = "SELECT * FROM longtable";

	(void)state;
	/* an operation longer than op's room is not a keyword we can name */
	sql_describe(q, strlen(q), o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "");
	sql_describe("DO 1", 4, o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "DO");
	/* a table that does not fit is not told */
	{
		char o2[16];

		sql_describe(q, strlen(q), o2, sizeof(o2), t, sizeof(t));
		assert_string_equal(o2, "SELECT");
		assert_string_equal(t, "");
	}
	/* cut off in the middle of the table's name: what is there */
	{
		char o2[16], t2[64];

		sql_describe(q, strlen(q) - 4, o2, sizeof(o2), t2, sizeof(t2));
		assert_string_equal(t2, "longt");
	}
	sql_describe(NULL, 0, o, sizeof(o), t, sizeof(t));
	assert_string_equal(o, "");
}

static void
check_sanitize_in(enum sql_dialect d, const char *q, const char *want)
{
	char out[256];
	size_t n = sql_sanitize(q, strlen(q), d, out, sizeof(out));

	assert_int_equal(n, strlen(out));
	if (strcmp(out, want) != 0)
		fail_msg("%s: got '%s', want '%s'", q, out, want);
}

static void
check_sanitize(const char *q, const char *want)
{
	check_sanitize_in(SQL_POSTGRES, q, want);
}

/* MySQL: "..." is a string and '...' takes backslash escapes, so that
 * neither leaks what follows an escaped quote. */
static void
test_sanitize_mysql(void **state)
{
	(void)state;
	check_sanitize_in(SQL_MYSQL, "SELECT * FROM t WHERE a = \"bob\"",
	    "SELECT * FROM t WHERE a = ?");
	check_sanitize_in(SQL_MYSQL, "INSERT INTO t VALUES ('it\\'s secret', 7)",
	    "INSERT INTO t VALUES (?, ?)");
	check_sanitize_in(SQL_MYSQL, "SELECT `my col` FROM `db`.`t`",
	    "SELECT `my col` FROM `db`.`t`");
	/* the same text read as PostgreSQL keeps "bob", an identifier */
	check_sanitize("SELECT * FROM t WHERE a = \"bob\"",
	    "SELECT * FROM t WHERE a = \"bob\"");
}

static void
test_sanitize(void **state)
{
	(void)state;
	check_sanitize("INSERT INTO items VALUES (3, 'it''s');",
	    "INSERT INTO items VALUES (?, ?);");
	check_sanitize("INSERT INTO items VALUES (4, E'four\\n');",
	    "INSERT INTO items VALUES (?, ?);");
	check_sanitize("INSERT INTO t VALUES (E'a\\'b', 'c')",
	    "INSERT INTO t VALUES (?, ?)");
	check_sanitize("INSERT INTO items VALUES (5, $$five$$);",
	    "INSERT INTO items VALUES (?, ?);");
	check_sanitize("SELECT $tag$ it's $$ $tag$, $1, $2",
	    "SELECT ?, $1, $2");
	check_sanitize("UPDATE pgbench_accounts SET abalance = abalance + "
	    "-1962 WHERE aid = 17401;",
	    "UPDATE pgbench_accounts SET abalance = abalance + -? WHERE aid = "
	    "?;");
	check_sanitize("SELECT 1.5e-3, .5, 0x1F, t1.c2 FROM t1",
	    "SELECT ?, ?, ?, t1.c2 FROM t1");
	check_sanitize("SELECT  a\n\t,b -- secret 42\n FROM \"T 1\"",
	    "SELECT a ,b FROM \"T 1\"");
	check_sanitize("SELECT x'ff', b'101', N'nat', U&'d\\0061t'",
	    "SELECT ?, ?, ?, ?");
	check_sanitize("SELECT 'cut off by the capt", "SELECT ?");
	check_sanitize("SELECT $$cut off", "SELECT ?");
	check_sanitize("  ", "");
	check_sanitize("SELECT a::int4 FROM t WHERE b ~ 'x' AND c @> d",
	    "SELECT a::int4 FROM t WHERE b ~ ? AND c @> d");
}

static void
test_sanitize_bounds(void **state)
{
	char out[8];
	const char *q = "SELECT abcdefgh";

	(void)state;
	assert_int_equal(sql_sanitize(q, strlen(q), SQL_POSTGRES, out,
	    sizeof(out)), 7);
	assert_string_equal(out, "SELECT ");
	assert_int_equal(sql_sanitize(q, strlen(q), SQL_POSTGRES, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(sql_sanitize(q, strlen(q), SQL_POSTGRES, out, 0), 0);
	/* n bounds the reading, not a terminator */
	{
		char big[32];

		assert_int_equal(sql_sanitize("SELECT 'x' FROM", 9,
		    SQL_POSTGRES, big, sizeof(big)), 8);
		assert_string_equal(big, "SELECT ?");
	}
}

static void
test_looks_like(void **state)
{
	(void)state;
	assert_true(sql_looks_like("SELECT 1", 8));
	assert_true(sql_looks_like("  /* c */ insert into t values (1)", 35));
	assert_true(sql_looks_like("begin", 5));
	assert_true(sql_looks_like("WITH x AS (SELECT 1) SELECT * FROM x", 36));
	assert_false(sql_looks_like("SELECTED", 8));
	assert_false(sql_looks_like("hello world", 11));
	assert_false(sql_looks_like("GET / HTTP/1.1", 14));
	assert_false(sql_looks_like("", 0));
	assert_false(sql_looks_like("\x01\x02", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_basic),
		cmocka_unit_test(test_describe_ddl),
		cmocka_unit_test(test_describe_comments_and_quotes),
		cmocka_unit_test(test_describe_bounds),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_mysql),
		cmocka_unit_test(test_sanitize_bounds),
		cmocka_unit_test(test_looks_like),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
