/* UTF-8 validation for text that came off the network. */
#ifndef SG_UTF8_H
#define SG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) with its code point in
 * *cp (may be NULL), or 0 when the bytes are not well-formed. */
size_t sg_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);
/* Whether the n bytes at s are well-formed UTF-8 throughout. */
bool   sg_utf8_valid(const char *s, size_t n);

#endif
