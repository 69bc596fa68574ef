/*
 * Bounded binary encoding for IPC payloads.  The writer never grows past
 * its capacity and the reader never reads past its length: either sets
 * `err` and every later call is a no-op returning zeroes, so a caller
 * checks once at the end.  Integers are little-endian fixed width;
 * strings are a u16 length followed by the bytes (no terminator).
 */
#ifndef SG_WIRE_H
#define SG_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct wire_w {
	uint8_t *buf;
	size_t   len;
	size_t   cap;
	int      err;
};

struct wire_r {
	const uint8_t *buf;
	size_t         len;
	size_t         off;
	int            err;
};

void wire_w_init(struct wire_w *w, uint8_t *buf, size_t cap);
void wire_put_u8(struct wire_w *w, uint8_t v);
void wire_put_u16(struct wire_w *w, uint16_t v);
void wire_put_u32(struct wire_w *w, uint32_t v);
void wire_put_u64(struct wire_w *w, uint64_t v);
void wire_put_f64(struct wire_w *w, double v);
void wire_put_bytes(struct wire_w *w, const void *p, size_t n);
void wire_put_str(struct wire_w *w, const char *s);  /* NULL is "" */

void     wire_r_init(struct wire_r *r, const void *buf, size_t len);
uint8_t  wire_get_u8(struct wire_r *r);
uint16_t wire_get_u16(struct wire_r *r);
uint32_t wire_get_u32(struct wire_r *r);
uint64_t wire_get_u64(struct wire_r *r);
double   wire_get_f64(struct wire_r *r);
void     wire_get_bytes(struct wire_r *r, void *p, size_t n);
/* Copies into dst (always NUL-terminated); a longer string is an error. */
void     wire_get_str(struct wire_r *r, char *dst, size_t dstsz);
/* Borrows: *s points into the buffer (not terminated), *n its length. */
void     wire_get_strref(struct wire_r *r, const char **s, size_t *n);
/* True when everything was read without error. */
int      wire_r_done(const struct wire_r *r);

#endif
