/*
 * Fuzz target for HTTP routes (common/routes.c): the paths are the
 * request targets of whoever talks to the instrumented processes.
 *
 * The input is a sequence of paths separated by newlines; the first byte
 * picks the service of each (low-cardinality keeps a trie per service).
 * Each path goes through every unmatched policy with a few patterns, a
 * low-cardinality table capped at 2 per prefix, and the heuristic into a
 * short buffer.  Checked: the route is terminated and bounded; it starts
 * with '/' (or is empty for unset); a pattern's route is the pattern; the
 * heuristic and low-cardinality never make a route longer than the path
 * allows, nor one with more segments than it.
 *
 * Build with -fsanitize=fuzzer, or with fuzz_main.c for a program that
 * runs the files named on its command line.
 */
#define FZ_NAME "fuzz_routes"
#include "fuzz.h"
#include "routes.h"

#define FZ_POLICIES 5

static struct sg_routes *fz_r[FZ_POLICIES];

static void
fz_setup(void)
{
	char err[256];

	for (int u = 0; u < FZ_POLICIES; u++) {
		fz_r[u] = routes_new("/users/{id}, /users/:id/orders/{o}, "
		    "/static/x", "/health, /ready/:x", (enum sg_route_unmatched)u,
		    (enum sg_route_ignore)(u % 3), '*', 2, err, sizeof(err));
		fz_check(fz_r[u] != NULL, "routes_new");
	}
}

static size_t
fz_segments(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '/';
	return k;
}

/* A route that is one of the patterns (they win under every policy). */
static bool
fz_pattern(const char *route)
{
	return strcmp(route, "/users/{id}") == 0 ||
	    strcmp(route, "/users/:id/orders/{o}") == 0 ||
	    strcmp(route, "/static/x") == 0;
}

static void
fz_one(const char *svc, const char *path, size_t len)
{
	char out[256], small[9];

	for (int u = 0; u < FZ_POLICIES; u++) {
		size_t n;

		(void)routes_find(fz_r[u], svc, 4, path, len, out, sizeof(out));
		n = strnlen(out, sizeof(out));
		fz_check(n < sizeof(out), "route not terminated");
		if (u == SG_UNMATCHED_UNSET)
			fz_check(n == 0 || out[0] == '/', "unset: a route");
		else if (u == SG_UNMATCHED_PATH && !fz_pattern(out))
			fz_check(n <= len && memcmp(out, path, n) == 0,
			    "path: not the path");
		else
			fz_check(n > 0 && out[0] == '/', "route not from /");
		if ((u == SG_UNMATCHED_HEURISTIC ||
		    u == SG_UNMATCHED_LOW_CARDINALITY) && len > 0 &&
		    path[0] == '/' && !fz_pattern(out))
			fz_check(fz_segments(out, n) <= fz_segments(path, len),
			    "more segments than the path");
	}
	routes_heuristic(path, len, '#', small, sizeof(small));
	fz_check(strnlen(small, sizeof(small)) < sizeof(small),
	    "heuristic overflows a short buffer");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	char svc[4] = "s";
	size_t at = 0;

	if (!ready) {
		fz_setup();
		ready = true;
	}
	while (at < size) {
		const char *p = (const char *)data + at;
		const char *nl = memchr(p, '\n', size - at);
		size_t len = nl != NULL ? (size_t)(nl - p) : size - at;

		if (len > 0) {
			svc[1] = (char)('0' + (p[0] & 7));
			fz_one(svc, p, len);
		}
		at += len + 1;
	}
	return 0;
}
