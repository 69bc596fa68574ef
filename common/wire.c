#include "wire.h"

#include <string.h>

void
wire_w_init(struct wire_w *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->len = 0;
	w->cap = cap;
	w->err = 0;
}

static uint8_t *
wire_w_reserve(struct wire_w *w, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return NULL;
	}
	w->len += n;
	return w->buf + w->len - n;
}

static void
wire_put_le(struct wire_w *w, uint64_t v, size_t n)
{
	uint8_t *p = wire_w_reserve(w, n);

	if (p == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void wire_put_u8(struct wire_w *w, uint8_t v) { wire_put_le(w, v, 1); }
void wire_put_u16(struct wire_w *w, uint16_t v) { wire_put_le(w, v, 2); }
void wire_put_u32(struct wire_w *w, uint32_t v) { wire_put_le(w, v, 4); }
void wire_put_u64(struct wire_w *w, uint64_t v) { wire_put_le(w, v, 8); }

void
wire_put_f64(struct wire_w *w, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	wire_put_le(w, u, 8);
}

void
wire_put_bytes(struct wire_w *w, const void *p, size_t n)
{
	uint8_t *d = wire_w_reserve(w, n);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
}

void
wire_put_str(struct wire_w *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > UINT16_MAX) {
		w->err = 1;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

void
wire_r_init(struct wire_r *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

static const uint8_t *
wire_r_take(struct wire_r *r, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	r->off += n;
	return r->buf + r->off - n;
}

static uint64_t
wire_get_le(struct wire_r *r, size_t n)
{
	const uint8_t *p = wire_r_take(r, n);
	uint64_t v = 0;

	if (p == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t  wire_get_u8(struct wire_r *r) { return (uint8_t)wire_get_le(r, 1); }
uint16_t wire_get_u16(struct wire_r *r) { return (uint16_t)wire_get_le(r, 2); }
uint32_t wire_get_u32(struct wire_r *r) { return (uint32_t)wire_get_le(r, 4); }
uint64_t wire_get_u64(struct wire_r *r) { return wire_get_le(r, 8); }

double
wire_get_f64(struct wire_r *r)
{
	uint64_t u = wire_get_le(r, 8);
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

void
wire_get_bytes(struct wire_r *r, void *p, size_t n)
{
	const uint8_t *s = wire_r_take(r, n);

	if (s == NULL)
		memset(p, 0, n);
	else if (n > 0)
		memcpy(p, s, n);
}

void
wire_get_strref(struct wire_r *r, const char **s, size_t *n)
{
	size_t len = wire_get_u16(r);
	const uint8_t *p = wire_r_take(r, len);

	*s = p ? (const char *)p : "";
	*n = p ? len : 0;
}

void
wire_get_str(struct wire_r *r, char *dst, size_t dstsz)
{
	const char *s;
	size_t n;

	wire_get_strref(r, &s, &n);
	if (dstsz == 0)
		return;
	if (n >= dstsz) {
		r->err = 1;
		n = 0;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int
wire_r_done(const struct wire_r *r)
{
	return !r->err && r->off == r->len;
}
