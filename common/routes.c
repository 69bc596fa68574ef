/*
 * HTTP routes: configured patterns, the heuristic for paths no pattern
 * matches, and the low-cardinality cap.
 */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define RT_PATTERNS    64     /* patterns and ignored patterns, each */
#define RT_SEGS        16     /* segments of a pattern */
#define RT_PATH_SEGS   32     /* segments of a path looked at */
#define RT_HEUR_SEGS   10     /* the heuristic keeps this many, then one
                               * wildcard for the rest */
#define RT_PAT_LEN     256
#define RT_TRIE_NODES  16384  /* low-cardinality: nodes of all services */
#define RT_TRIE_ROOTS  256    /* ...and services (more share a root) */
#define RT_WILDCARD    "/**"

struct rt_seg {
	uint16_t off, len;    /* in the pattern's text */
	bool     param;       /* {name} or :name: any one segment */
};

struct rt_pattern {
	char          text[RT_PAT_LEN];
	unsigned      nseg;
	struct rt_seg seg[RT_SEGS];
};

struct rt_list {
	unsigned          n;
	struct rt_pattern p[RT_PATTERNS];
};

/* A node of the low-cardinality trie: one segment after its parent's. */
struct rt_node {
	uint64_t hash;        /* of the segment's text */
	uint32_t child;       /* first child; 0: none (node 0 is unused) */
	uint32_t next;        /* next sibling */
	uint32_t nchildren;
	bool     collapsed;   /* past the cap: every child is the wildcard */
};

/*
 * The last request's route and flags.  Consecutive requests mostly go to
 * the same path of the same service, and finding its route again was
 * 261 of the collector's 5,500 instructions per HTTP exchange (a repeat
 * now takes 144).  Asking
 * again changes nothing: what the first call added to a trie, the
 * second finds, so the answer is the same.
 */
struct rt_memo {
	bool     valid;
	unsigned flags;
	size_t   slen, plen, outsz;
	char     service[SG_NAME_MAX];
	char     path[RT_PAT_LEN];
	char     route[RT_PAT_LEN];
};

struct sg_routes {
	struct rt_memo          memo;
	struct rt_list          patterns, ignored;
	enum sg_route_unmatched unmatched;
	enum sg_route_ignore    ignore_mode;
	char                    wildcard;
	uint32_t                max_card;
	struct rt_node         *nodes;     /* low-cardinality only */
	uint32_t                nnodes;
	uint32_t                roots[RT_TRIE_ROOTS];
};

/* A path (or a pattern) cut at its slashes: offsets and lengths of up to
 * max segments after the leading '/'; how many, or -1 for more. */
static int
rt_split(const char *s, size_t len, struct rt_seg *seg, int max)
{
	size_t at = 1, end;
	int n = 0;

	if (len == 0 || s[0] != '/')
		return -1;
	if (len == 1)
		return 0;
	for (;;) {
		if (n == max)
			return -1;
		for (end = at; end < len && s[end] != '/'; end++)
			;
		seg[n].off = (uint16_t)at;
		seg[n].len = (uint16_t)(end - at);
		seg[n].param = false;
		n++;
		if (end >= len)
			return n;
		at = end + 1;
	}
}

static int
rt_add(struct rt_list *l, const char *text, size_t len, char *err,
    size_t errsz)
{
	struct rt_pattern *p;
	int n;

	if (l->n == RT_PATTERNS) {
		snprintf(err, errsz, "more than %d route patterns", RT_PATTERNS);
		return -1;
	}
	if (len >= RT_PAT_LEN) {
		snprintf(err, errsz, "route pattern longer than %d bytes: %.40s...",
		    RT_PAT_LEN - 1, text);
		return -1;
	}
	p = &l->p[l->n];
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	n = rt_split(p->text, len, p->seg, RT_SEGS);
	if (n < 0) {
		snprintf(err, errsz, "route pattern \"%s\": %s", p->text,
		    p->text[0] != '/' ? "does not start with /" :
		    "more than 16 segments");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *s = p->text + p->seg[i].off;
		uint16_t sl = p->seg[i].len;

		p->seg[i].param = (sl >= 2 && s[0] == ':') ||
		    (sl >= 3 && s[0] == '{' && s[sl - 1] == '}');
	}
	p->nseg = (unsigned)n;
	l->n++;
	return 0;
}

/* Patterns separated by commas or white space. */
static int
rt_parse_list(struct rt_list *l, const char *s, char *err, size_t errsz)
{
	while (s != NULL && *s != '\0') {
		size_t len = strcspn(s, ", \t\n");

		if (len > 0 && rt_add(l, s, len, err, errsz) < 0)
			return -1;
		s += len;
		s += strspn(s, ", \t\n");
	}
	return 0;
}

/* The first pattern of l that path (split as seg[n]) matches. */
static const struct rt_pattern *
rt_match(const struct rt_list *l, const char *path, const struct rt_seg *seg,
    int n)
{
	for (unsigned i = 0; i < l->n; i++) {
		const struct rt_pattern *p = &l->p[i];
		unsigned k;

		if (p->nseg != (unsigned)n)
			continue;
		for (k = 0; k < p->nseg; k++) {
			const struct rt_seg *ps = &p->seg[k];

			if (ps->param)
				continue;
			if (ps->len != seg[k].len || memcmp(p->text + ps->off,
			    path + seg[k].off, ps->len) != 0)
				break;
		}
		if (k == p->nseg)
			return p;
	}
	return NULL;
}

/* ---- the heuristic ---- */

static bool
rt_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
rt_vowel(char c)
{
	return strchr("aeiouyAEIOUY", c) != NULL;
}

/* Whether a run of letters reads like a word: it has vowels, no long
 * run of consonants, few case changes; a long run of hex digits' letters
 * (a-f) is a token. */
static bool
rt_wordlike(const char *s, size_t n)
{
	size_t vowels = 0, cons = 0, maxcons = 0, changes = 0;
	bool hex = true;

	if (n <= 3)
		return true;
	if (n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (rt_vowel(c)) {
			vowels++;
			cons = 0;
		} else if (++cons > maxcons) {
			maxcons = cons;
		}
		hex &= (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (i > 0 && (c >= 'A' && c <= 'Z') && s[i - 1] >= 'a' &&
		    s[i - 1] <= 'z')
			changes++;
	}
	return vowels > 0 && maxcons < 5 && changes < 4 && !(hex && n >= 8);
}

/* Whether a segment keeps its text: letters and '-', '_', '.' (one digit
 * right after the first letter, as in "v1", is allowed), each run of
 * letters a word. */
static bool
rt_keep_segment(const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '-';

		if (rt_letter(c)) {
			run++;
			continue;
		}
		if (run > 0 && !rt_wordlike(s + i - run, run))
			return false;
		run = 0;
		if (c == '-' || c == '_' || c == '.')
			continue;
		if (i == 1 && n <= 3 && c >= '0' && c <= '9')
			continue;   /* v1, v2 */
		return false;
	}
	return true;
}

/* Append at most n bytes of s to out (size outsz, at *o). */
static void
rt_put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= outsz)
		return;
	if (n > outsz - 1 - *o)
		n = outsz - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

void
routes_heuristic(const char *path, size_t len, char wildcard, char *out,
    size_t outsz)
{
	size_t o = 0, at = 1, end;
	int nseg = 0;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (len == 0 || path[0] != '/') {
		rt_put(out, outsz, &o, RT_WILDCARD, sizeof(RT_WILDCARD) - 1);
		return;
	}
	rt_put(out, outsz, &o, "/", 1);
	while (at <= len) {
		for (end = at; end < len && path[end] != '/'; end++)
			;
		if (++nseg > RT_HEUR_SEGS) {
			rt_put(out, outsz, &o, &wildcard, 1);
			return;
		}
		if (end == at || rt_keep_segment(path + at, end - at))
			rt_put(out, outsz, &o, path + at, end - at);
		else
			rt_put(out, outsz, &o, &wildcard, 1);
		if (end >= len)
			return;
		rt_put(out, outsz, &o, "/", 1);
		at = end + 1;
	}
}

/* ---- low cardinality: a trie per service, capped per node ---- */


/* The child of node at whose segment hashes to h; 0 when none. */
static uint32_t
rt_find_child(const struct sg_routes *r, uint32_t at, uint64_t h)
{
	for (uint32_t c = r->nodes[at].child; c != 0; c = r->nodes[c].next)
		if (r->nodes[c].hash == h)
			return c;
	return 0;
}

/* A new child of node at, segment hash h; 0 when the trie is full. */
static uint32_t
rt_add_child(struct sg_routes *r, uint32_t at, uint64_t h)
{
	uint32_t c;

	if (r->nnodes >= RT_TRIE_NODES)
		return 0;
	c = r->nnodes++;
	memset(&r->nodes[c], 0, sizeof(r->nodes[c]));
	r->nodes[c].hash = h;
	r->nodes[c].next = r->nodes[at].child;
	r->nodes[at].child = c;
	return c;
}

/* The child of node at for a segment of hash h, made if there is room
 * under the cap; 0 when the node is (now) collapsed or the trie full. */
static uint32_t
rt_child(struct sg_routes *r, uint32_t at, uint64_t h)
{
	struct rt_node *p = &r->nodes[at];
	uint32_t c = rt_find_child(r, at, h);

	if (c != 0)
		return c;
	if (p->collapsed || p->nchildren >= r->max_card ||
	    (c = rt_add_child(r, at, h)) == 0) {
		p->collapsed = true;
		return 0;
	}
	p->nchildren++;
	return c;
}

/* The wildcard child of a collapsed node, made past the cap (one per
 * node at most): what follows a wildcard is capped too. */
static uint32_t
rt_child_wild(struct sg_routes *r, uint32_t at)
{
	uint64_t h = sg_fnv1a(&r->wildcard, 1);
	uint32_t c = rt_find_child(r, at, h);

	return c != 0 ? c : rt_add_child(r, at, h);
}

/* route (the heuristic's, in place) with the segments past each node's
 * cap made the wildcard, and its wildcard children followed. */
static void
rt_cap(struct sg_routes *r, uint64_t service, char *route, size_t outsz)
{
	char in[RT_PAT_LEN * 2];
	size_t len = strlen(route), at = 1, end, o = 0;
	uint32_t node, *root = &r->roots[service % RT_TRIE_ROOTS];
	const char wc = r->wildcard;

	if (len == 0 || route[0] != '/' || len >= sizeof(in))
		return;
	if (*root == 0) {
		if (r->nnodes >= RT_TRIE_NODES)
			return;
		*root = r->nnodes++;
		memset(&r->nodes[*root], 0, sizeof(r->nodes[*root]));
	}
	memcpy(in, route, len + 1);
	node = *root;
	rt_put(route, outsz, &o, "/", 1);
	while (at <= len) {
		uint32_t c;

		for (end = at; end < len && in[end] != '/'; end++)
			;
		c = node != 0 ? rt_child(r, node, sg_fnv1a(in + at, end - at)) :
		    0;
		if (c == 0) {
			rt_put(route, outsz, &o, &wc, 1);
			node = node != 0 ? rt_child_wild(r, node) : 0;
		} else {
			rt_put(route, outsz, &o, in + at, end - at);
			node = c;
		}
		if (end >= len)
			return;
		rt_put(route, outsz, &o, "/", 1);
		at = end + 1;
	}
}

/* ---- the whole ---- */

int
routes_check(const char *patterns, char *err, size_t errsz)
{
	struct rt_list *l = calloc(1, sizeof(*l));
	int rc;

	if (l == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	rc = rt_parse_list(l, patterns, err, errsz);
	free(l);
	return rc;
}

struct sg_routes *
routes_new(const char *patterns, const char *ignored,
    enum sg_route_unmatched unmatched, enum sg_route_ignore ignore_mode,
    char wildcard, uint32_t max_segment_cardinality, char *err, size_t errsz)
{
	struct sg_routes *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->unmatched = unmatched;
	r->ignore_mode = ignore_mode;
	r->wildcard = wildcard != '\0' && wildcard != '/' ? wildcard : '*';
	r->max_card = max_segment_cardinality;
	r->nnodes = 1;   /* 0 stands for none */
	if (rt_parse_list(&r->patterns, patterns, err, errsz) < 0 ||
	    rt_parse_list(&r->ignored, ignored, err, errsz) < 0)
		goto fail;
	if (unmatched == SG_UNMATCHED_LOW_CARDINALITY && r->max_card > 0 &&
	    (r->nodes = calloc(RT_TRIE_NODES, sizeof(*r->nodes))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	return r;
fail:
	routes_free(r);
	return NULL;
}

void
routes_free(struct sg_routes *r)
{
	if (r == NULL)
		return;
	free(r->nodes);
	free(r);
}

static bool
rt_memo_hit(const struct rt_memo *m, const char *service, size_t slen,
    const char *path, size_t len, size_t outsz)
{
	return m->valid && m->plen == len && m->slen == slen &&
	    m->outsz == outsz && memcmp(m->path, path, len) == 0 &&
	    memcmp(m->service, service, slen) == 0;
}

/* Remember a route when everything fits (each is cut below RT_PAT_LEN
 * or SG_NAME_MAX, so nearly always). */
static void
rt_memo_keep(struct rt_memo *m, const char *service, size_t slen,
    const char *path, size_t len, const char *out, size_t outsz,
    unsigned flags)
{
	size_t n = strnlen(out, outsz);

	m->valid = slen <= sizeof(m->service) && len <= sizeof(m->path) &&
	    n < sizeof(m->route);
	if (!m->valid)
		return;
	memcpy(m->service, service, slen);
	memcpy(m->path, path, len);
	memcpy(m->route, out, n + 1);
	m->slen = slen;
	m->plen = len;
	m->outsz = outsz;
	m->flags = flags;
}

static unsigned rt_find(struct sg_routes *r, const char *service,
    size_t slen, const char *path, size_t len, char *out, size_t outsz);

unsigned
routes_find(struct sg_routes *r, const char *service, size_t slen,
    const char *path, size_t len, char *out, size_t outsz)
{
	unsigned flags;

	if (outsz == 0)
		return 0;
	slen = strnlen(service, slen);
	if (rt_memo_hit(&r->memo, service, slen, path, len, outsz)) {
		memcpy(out, r->memo.route, strlen(r->memo.route) + 1);
		return r->memo.flags;
	}
	flags = rt_find(r, service, slen, path, len, out, outsz);
	rt_memo_keep(&r->memo, service, slen, path, len, out, outsz, flags);
	return flags;
}

static unsigned
rt_find(struct sg_routes *r, const char *service, size_t slen,
    const char *path, size_t len, char *out, size_t outsz)
{
	struct rt_seg seg[RT_PATH_SEGS];
	const struct rt_pattern *p;
	unsigned flags = 0;
	size_t o = 0;
	int n;

	out[0] = '\0';
	n = rt_split(path, len, seg, RT_PATH_SEGS);
	if (n >= 0 && r->ignored.n > 0 &&
	    rt_match(&r->ignored, path, seg, n) != NULL)
		flags = r->ignore_mode == SG_IGNORE_METRICS ?
		    SG_ROUTE_NO_METRICS : r->ignore_mode == SG_IGNORE_TRACES ?
		    SG_ROUTE_NO_TRACES : SG_ROUTE_NO_METRICS | SG_ROUTE_NO_TRACES;
	if (n >= 0 && (p = rt_match(&r->patterns, path, seg, n)) != NULL) {
		rt_put(out, outsz, &o, p->text, strlen(p->text));
		return flags;
	}
	switch (r->unmatched) {
	case SG_UNMATCHED_UNSET:
		break;
	case SG_UNMATCHED_PATH:
		rt_put(out, outsz, &o, path, len);
		break;
	case SG_UNMATCHED_WILDCARD:
		rt_put(out, outsz, &o, RT_WILDCARD, sizeof(RT_WILDCARD) - 1);
		break;
	case SG_UNMATCHED_LOW_CARDINALITY:
		routes_heuristic(path, len, r->wildcard, out, outsz);
		if (r->nodes != NULL)
			rt_cap(r, sg_fnv1a(service, slen), out, outsz);
		break;
	case SG_UNMATCHED_HEURISTIC:
	default:
		routes_heuristic(path, len, r->wildcard, out, outsz);
		break;
	}
	return flags;
}
