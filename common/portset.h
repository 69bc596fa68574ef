/* Port lists as users write them: "80,443,8000-8999". */
#ifndef SG_PORTSET_H
#define SG_PORTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_PORTSET_MAX 64

struct sg_portset {
	size_t n;
	struct { uint16_t lo, hi; } r[SG_PORTSET_MAX];
};

/* Parse s into ps.  On error returns -1 and writes a reason to err. */
int  sg_portset_parse(const char *s, struct sg_portset *ps, char *err,
    size_t errsz);
bool sg_portset_contains(const struct sg_portset *ps, uint16_t port);
/* Format back as "80,443,8000-8999" (canonical, for dumps). */
void sg_portset_format(const struct sg_portset *ps, char *buf, size_t sz);

#endif
