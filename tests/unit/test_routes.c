/* HTTP routes ([routes]): patterns, ignored patterns, the heuristic and
 * its cardinality, the low-cardinality cap, malformed patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "routes.h"

static struct sg_routes *
mk(const char *patterns, const char *ignored, enum sg_route_unmatched u,
    enum sg_route_ignore im, uint32_t card)
{
	char err[256] = "";
	struct sg_routes *r = routes_new(patterns, ignored, u, im, '*', card,
	    err, sizeof(err));

	if (r == NULL)
		fail_msg("routes_new: %s", err);
	return r;
}

/* The route of path for service "svc", and the flags in *flags. */
static const char *
route(struct sg_routes *r, const char *path, unsigned *flags)
{
	static char out[256];
	unsigned f = routes_find(r, "svc", 3, path, strlen(path), out,
	    sizeof(out));

	if (flags != NULL)
		*flags = f;
	return out;
}

static void
test_patterns(void **state)
{
	struct sg_routes *r = mk("/users/{id}, /users/:id/orders/{order}\n"
	    "/static/*  /users/me", "", SG_UNMATCHED_UNSET, SG_IGNORE_ALL, 0);

	(void)state;
	assert_string_equal(route(r, "/users/42", NULL), "/users/{id}");
	assert_string_equal(route(r, "/users/42/orders/7", NULL),
	    "/users/:id/orders/{order}");
	/* the first that matches wins: /users/me is {id} */
	assert_string_equal(route(r, "/users/me", NULL), "/users/{id}");
	/* a literal '*' segment is a literal */
	assert_string_equal(route(r, "/static/x", NULL), "");
	assert_string_equal(route(r, "/static/*", NULL), "/static/*");
	/* segment counts must agree; unmatched = unset */
	assert_string_equal(route(r, "/users", NULL), "");
	assert_string_equal(route(r, "/users/42/orders", NULL), "");
	assert_string_equal(route(r, "/users/42/", NULL), "");
	routes_free(r);
}

static void
test_unmatched_policies(void **state)
{
	struct sg_routes *r;

	(void)state;
	r = mk("", "", SG_UNMATCHED_PATH, SG_IGNORE_ALL, 0);
	assert_string_equal(route(r, "/a/123", NULL), "/a/123");
	routes_free(r);
	r = mk("", "", SG_UNMATCHED_WILDCARD, SG_IGNORE_ALL, 0);
	assert_string_equal(route(r, "/a/123", NULL), "/**");
	routes_free(r);
	r = mk("", "", SG_UNMATCHED_HEURISTIC, SG_IGNORE_ALL, 0);
	assert_string_equal(route(r, "/a/123", NULL), "/a/*");
	routes_free(r);
}

static void
test_ignored(void **state)
{
	static const struct {
		enum sg_route_ignore mode;
		unsigned             flags;
	} modes[] = {
		{ SG_IGNORE_ALL, SG_ROUTE_NO_METRICS | SG_ROUTE_NO_TRACES },
		{ SG_IGNORE_METRICS, SG_ROUTE_NO_METRICS },
		{ SG_IGNORE_TRACES, SG_ROUTE_NO_TRACES },
	};
	unsigned f;

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct sg_routes *r = mk("/users/{id}", "/health, /metrics/:x",
		    SG_UNMATCHED_HEURISTIC, modes[i].mode, 0);

		assert_string_equal(route(r, "/health", &f), "/health");
		assert_int_equal(f, modes[i].flags);
		route(r, "/metrics/cpu", &f);
		assert_int_equal(f, modes[i].flags);
		assert_string_equal(route(r, "/users/1", &f), "/users/{id}");
		assert_int_equal(f, 0);
		route(r, "/healthz", &f);
		assert_int_equal(f, 0);
		routes_free(r);
	}
}

static void
test_heuristic_segments(void **state)
{
	static const char *const cases[][2] = {
		{ "/", "/" },
		{ "/search", "/search" },
		{ "/users/123", "/users/*" },
		{ "/users/123/orders/abc123", "/users/*/orders/*" },
		{ "/api/v1/items/550e8400-e29b-41d4-a716-446655440000",
		  "/api/v1/items/*" },
		{ "/token/deadbeefcafebabe", "/token/*" },
		{ "/token/0f3a9c", "/token/*" },
		{ "/files/xkcdqwrtz", "/files/*" },
		{ "/session/aZqWxPlmYtRe", "/session/*" },
		{ "/static/js/app.min.js", "/static/js/app.min.js" },
		{ "/health-check", "/health-check" },
		{ "/getUserById", "/getUserById" },
		{ "/img/IMG_2034.jpg", "/img/*" },
		{ "/a/b/c/d/e/f/g/h/i/j/k/l", "/a/b/c/d/e/f/g/h/i/j/*" },
		{ "relative", "/**" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		routes_heuristic(cases[i][0], strlen(cases[i][0]), '*', out,
		    sizeof(out));
		if (strcmp(out, cases[i][1]) != 0)
			fail_msg("%s: %s, want %s", cases[i][0], out, cases[i][1]);
	}
	/* the wildcard character is the configured one */
	routes_heuristic("/u/42", 5, '_', out, sizeof(out));
	assert_string_equal(out, "/u/_");
	/* never past the buffer */
	routes_heuristic("/users/john", 11, '*', out, 5);
	assert_string_equal(out, "/use");
}

/* 10,000 distinct paths with numeric ids, UUIDs and hex tokens give a
 * handful of routes. */
static void
test_heuristic_cardinality(void **state)
{
	static const char *const shapes[] = {
		"/users/%u", "/users/%u/orders/%u", "/api/v2/items/%08x-%04x-4%03x-a%03x-%012x",
		"/blobs/%016llx", "/orders/%u/items", "/img/%u.png",
	};
	struct sg_routes *r = mk("", "", SG_UNMATCHED_HEURISTIC,
	    SG_IGNORE_ALL, 0);
	char path[256], seen[16][256];
	size_t nseen = 0;

	(void)state;
	srand(7);
	for (unsigned i = 0; i < 10000; i++) {
		const char *out;
		unsigned a = (unsigned)rand(), b = (unsigned)rand();
		size_t k;

		switch (i % 6) {
		case 2:
			snprintf(path, sizeof(path), shapes[2], a, b & 0xffff,
			    a & 0xfff, b & 0xfff, a ^ b);
			break;
		case 3:
			snprintf(path, sizeof(path), shapes[3],
			    (unsigned long long)a << 32 | b);
			break;
		default:
			snprintf(path, sizeof(path), shapes[i % 6], a, b);
			break;
		}
		out = route(r, path, NULL);
		for (k = 0; k < nseen && strcmp(seen[k], out) != 0; k++)
			;
		if (k == nseen) {
			assert_true(nseen < 16);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", out);
		}
	}
	assert_int_equal(nseen, 6);
	routes_free(r);
}

/* low-cardinality: at most N distinct segments after one prefix, per
 * service; the rest become the wildcard, and what follows them too. */
static void
test_low_cardinality(void **state)
{
	struct sg_routes *r = mk("", "", SG_UNMATCHED_LOW_CARDINALITY,
	    SG_IGNORE_ALL, 3);
	char out[256];

	(void)state;
	assert_string_equal(route(r, "/a/one", NULL), "/a/one");
	assert_string_equal(route(r, "/a/two", NULL), "/a/two");
	assert_string_equal(route(r, "/a/three", NULL), "/a/three");
	assert_string_equal(route(r, "/a/four", NULL), "/a/*");
	assert_string_equal(route(r, "/a/two", NULL), "/a/two");
	assert_string_equal(route(r, "/a/five/list", NULL), "/a/*/list");
	/* another service has its own trie */
	routes_find(r, "other", 5, "/a/four", 7, out, sizeof(out));
	assert_string_equal(out, "/a/four");
	/* the heuristic first */
	assert_string_equal(route(r, "/b/42", NULL), "/b/*");
	routes_free(r);
}

/* A request like the last one gets the last one's answer (routes.c
 * remembers it), and only when path, service and room are the same. */
static void
test_repeated(void **state)
{
	struct sg_routes *r = mk("", "/health", SG_UNMATCHED_LOW_CARDINALITY,
	    SG_IGNORE_METRICS, 1);
	char out[256], small[4];
	unsigned f;

	(void)state;
	assert_string_equal(route(r, "/a/one", NULL), "/a/one");
	assert_string_equal(route(r, "/a/two", &f), "/a/*");
	assert_int_equal(f, 0);
	assert_string_equal(route(r, "/a/two", &f), "/a/*");
	assert_int_equal(f, 0);
	assert_string_equal(route(r, "/a/one", NULL), "/a/one");
	assert_string_equal(route(r, "/a/one", NULL), "/a/one");
	/* the same path of another service: its own trie, with room */
	f = routes_find(r, "other", 5, "/a/two", 6, out, sizeof(out));
	assert_string_equal(out, "/a/two");
	f = routes_find(r, "other", 5, "/a/two", 6, out, sizeof(out));
	assert_string_equal(out, "/a/two");
	assert_string_equal(route(r, "/a/two", NULL), "/a/*");
	/* less room: cut, not the remembered route */
	routes_find(r, "svc", 3, "/a/two", 6, small, sizeof(small));
	assert_string_equal(small, "/a/");
	assert_string_equal(route(r, "/a/two", NULL), "/a/*");
	/* a prefix of the last path is another path */
	assert_string_equal(route(r, "/a/t", NULL), "/a/*");
	/* the flags are remembered with the route (the root is past its
	 * cap of one: "/a" took it) */
	assert_string_equal(route(r, "/health", &f), "/*");
	assert_int_equal(f, SG_ROUTE_NO_METRICS);
	assert_string_equal(route(r, "/health", &f), "/*");
	assert_int_equal(f, SG_ROUTE_NO_METRICS);
	assert_string_equal(route(r, "/a/one", &f), "/a/one");
	assert_int_equal(f, 0);
	routes_free(r);
}

static void
test_malformed(void **state)
{
	char err[256];
	char many[4096] = "";

	(void)state;
	assert_int_equal(routes_check("/a, /b/{x}", err, sizeof(err)), 0);
	assert_int_equal(routes_check("", err, sizeof(err)), 0);
	assert_int_equal(routes_check("users/{id}", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not start with /"));
	assert_int_equal(routes_check("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 16 segments"));
	for (int i = 0; i < 65; i++)
		strcat(many, "/p ");
	assert_int_equal(routes_check(many, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 64"));
	assert_null(routes_new("nope", "", SG_UNMATCHED_HEURISTIC,
	    SG_IGNORE_ALL, '*', 0, err, sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_unmatched_policies),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_heuristic_segments),
		cmocka_unit_test(test_heuristic_cardinality),
		cmocka_unit_test(test_low_cardinality),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
