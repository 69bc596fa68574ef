/*
 * HTTP routes: the low-cardinality name of a request target, for the
 * http_route label and span names (`GET /users/{id}`).  Configured
 * patterns first (`/users/{id}` or `/users/:id`: a parameter stands for
 * one path segment; a trailing `*` for the rest of the path); a path that
 * matches none gets a route by the `unmatched` policy:
 *   heuristic        segments that look like identifiers (digits, UUIDs,
 *                    hex tokens, strings that are no word) become the
 *                    wildcard character;
 *   low-cardinality  the heuristic, then no segment of a service may have
 *                    more than max_segment_cardinality distinct values
 *                    after the same prefix: the ones past it become the
 *                    wildcard;
 *   path             the path itself (unbounded: beware);
 *   wildcard         slash and two stars;
 *   unset            no route.
 * Ignored patterns drop matching requests from metrics, traces or both.
 * Pure and bounded: no allocation while matching but the low-cardinality
 * trie's, which is capped.
 */
#ifndef SG_ROUTES_H
#define SG_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* routes_find's verdict on a request besides its route */
#define SG_ROUTE_NO_METRICS 0x01   /* ignored for metrics */
#define SG_ROUTE_NO_TRACES  0x02   /* ignored for traces */

struct sg_routes;

/* patterns, ignored: lists separated by commas or white space.  NULL (and
 * a message in err) when a pattern is malformed. */
struct sg_routes *routes_new(const char *patterns, const char *ignored,
    enum sg_route_unmatched unmatched, enum sg_route_ignore ignore_mode,
    char wildcard, uint32_t max_segment_cardinality, char *err,
    size_t errsz);
void routes_free(struct sg_routes *r);
/* Whether a list of patterns is well formed: 0, or -1 and why in err
 * (the configuration checks it where it is read). */
int  routes_check(const char *patterns, char *err, size_t errsz);
/* The route of a request to path (len bytes, no query) of a service
 * (its name, at most slen bytes: low-cardinality keeps a trie per
 * service) into out (always terminated; "" when unset); returns
 * SG_ROUTE_* flags. */
unsigned routes_find(struct sg_routes *r, const char *service, size_t slen,
    const char *path, size_t len, char *out, size_t outsz);
/* The heuristic alone, for tests and benchmarks. */
void routes_heuristic(const char *path, size_t len, char wildcard, char *out,
    size_t outsz);

#endif
