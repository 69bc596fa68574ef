/*
 * traceparent (W3C Trace Context level 1, section 3.2):
 *
 *   version "-" trace-id "-" parent-id "-" trace-flags
 *   2 hex     32 hex       16 hex        2 hex        (HEXDIGLC)
 *
 * tracestate (section 3.3):
 *
 *   list   = member *31( OWS "," OWS member ), members may be empty
 *   member = key "=" value
 *   key    = lcalpha *255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *          / ( lcalpha / DIGIT ) *240( keychar ) "@" lcalpha *13( keychar )
 *   value  = *255( %x20-2B / %x2D-3C / %x3E-7E ) and no space at the end
 *
 * Everything is checked before anything is believed: a caller we do not
 * know chooses these bytes.
 */
#include "tracectx.h"

#include <string.h>

#include "msg.h"

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
	if (sg_id_absent(t.trace_id, sizeof(t.trace_id)) ||
	    sg_id_absent(t.parent_id, sizeof(t.parent_id)))
		return false;
	*out = t;
	return true;
}

/* ---- tracestate ---- */

#define TS_KEY_MAX	256
#define TS_TENANT_MAX	241
#define TS_SYSTEM_MAX	14
#define TS_VALUE_MAX	256

static bool
ts_lcalpha(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
ts_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
ts_keychars(const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ts_lcalpha(k[i]) && !ts_digit(k[i]) && k[i] != '_' &&
		    k[i] != '-' && k[i] != '*' && k[i] != '/')
			return false;
	return true;
}

static bool
ts_key_ok(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	size_t tenant, sys;

	if (n == 0)
		return false;
	if (at == NULL)
		return n <= TS_KEY_MAX && ts_lcalpha(k[0]) &&
		    ts_keychars(k + 1, n - 1);
	tenant = (size_t)(at - k);
	sys = n - tenant - 1;
	return tenant >= 1 && tenant <= TS_TENANT_MAX &&
	    (ts_lcalpha(k[0]) || ts_digit(k[0])) &&
	    ts_keychars(k + 1, tenant - 1) &&
	    sys >= 1 && sys <= TS_SYSTEM_MAX && ts_lcalpha(at[1]) &&
	    ts_keychars(at + 2, sys - 1);
}

/* Printable ASCII but ',' and '=': what a span's trace state may hold
 * needs no escaping beyond JSON's, and is valid UTF-8. */
static bool
ts_value_ok(const char *v, size_t n)
{
	if (n == 0 || n > TS_VALUE_MAX || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

static bool
ts_member_ok(const char *m, size_t n)
{
	const char *eq = memchr(m, '=', n);
	size_t klen;

	if (eq == NULL)
		return false;
	klen = (size_t)(eq - m);
	return ts_key_ok(m, klen) && ts_value_ok(eq + 1, n - klen - 1);
}

static size_t
ts_members(const char *buf, size_t len)
{
	size_t n = len > 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == ',';
	return n;
}

static bool
ts_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

enum tracestate_verdict
tracestate_append(char *buf, size_t *len, const char *v, size_t n,
    bool partial)
{
	size_t kept, members, at = 0;
	bool cut = false, full = false;

	if (buf == NULL || len == NULL || *len > TRACESTATE_MAX ||
	    (v == NULL && n > 0))
		return TRACESTATE_INVALID;
	kept = *len;
	members = ts_members(buf, kept);
	if (partial) {
		size_t whole = n;

		while (whole > 0 && v[whole - 1] != ',')
			whole--;
		cut = n > 0;
		n = whole > 0 ? whole - 1 : 0;
	}
	/* Members are written past *len as they pass, committed only when
	 * the whole value has: an invalid one leaves buf as it was. */
	while (at <= n) {
		size_t b = at, e = at, need;

		while (e < n && v[e] != ',')
			e++;
		at = e + 1;
		while (b < e && ts_ows(v[b]))
			b++;
		while (e > b && ts_ows(v[e - 1]))
			e--;
		if (e == b)
			continue;
		if (!ts_member_ok(v + b, e - b) ||
		    ++members > TRACESTATE_MEMBERS)
			return TRACESTATE_INVALID;
		need = (kept > 0) + (e - b);
		if (full || kept + need > TRACESTATE_MAX) {
			full = true;	/* the right-most members go first */
			continue;
		}
		if (kept > 0)
			buf[kept++] = ',';
		memcpy(buf + kept, v + b, e - b);
		kept += e - b;
	}
	*len = kept;
	return cut || full ? TRACESTATE_CUT : TRACESTATE_KEPT;
}
