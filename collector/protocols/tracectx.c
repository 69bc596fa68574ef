/*
 * traceparent (W3C Trace Context level 1, section 3.2):
 *
 *   version "-" trace-id "-" parent-id "-" trace-flags
 *   2 hex     32 hex       16 hex        2 hex        (HEXDIGLC)
 *
 * Everything is checked before anything is believed: a caller we do not
 * know chooses these bytes.
 */
#include "tracectx.h"


#define TP_LEN		55	/* "00-" 32 "-" 16 "-" 2 */
#define TP_TRACE	3
#define TP_PARENT	36
#define TP_FLAGS	53

/* Lower-case hex only: the specification's HEXDIGLC.  Upper case is
 * invalid there, not a variant. */
static int
tp_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* n bytes of hex into n / 2 bytes; false on any other character. */
static bool
tp_hex_bytes(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i += 2) {
		int hi = tp_hex(s[i]), lo = tp_hex(s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
tp_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

bool
tracectx_parse(const char *v, size_t n, struct tracectx *out)
{
	struct tracectx t;
	uint8_t version;

	if (v == NULL || out == NULL)
		return false;
	if (n < TP_LEN || !tp_hex_bytes(v, 2, &version) || v[2] != '-' ||
	    v[TP_PARENT - 1] != '-' || v[TP_FLAGS - 1] != '-')
		return false;
	if (version == 0xff)
		return false;
	/* Version 00 is exactly 55 bytes; a later one may carry more
	 * fields, after a '-', that this parser cannot read.  So the
	 * verdict rests on the first 56 bytes and on whether there are
	 * more than 55: a value cut anywhere after them gets the same. */
	if (version == 0 ? n != TP_LEN : n > TP_LEN && v[TP_LEN] != '-')
		return false;
	if (!tp_hex_bytes(v + TP_TRACE, 32, t.trace_id) ||
	    !tp_hex_bytes(v + TP_PARENT, 16, t.parent_id) ||
	    !tp_hex_bytes(v + TP_FLAGS, 2, &t.flags))
		return false;
	if (tp_all_zero(t.trace_id, sizeof(t.trace_id)) ||
	    tp_all_zero(t.parent_id, sizeof(t.parent_id)))
		return false;
	*out = t;
	return true;
}
