/*
 * The trace printer.  Span fields such as the path come from the
 * network, so every string is escaped: text lines cannot be split or
 * carry terminal escapes, and JSON lines are always valid JSON (control
 * characters escaped, invalid UTF-8 replaced by U+FFFD).
 */
#include "printer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "semconv.h"
#include "utf8.h"

/* Large enough for the worst case: every string byte escaped as
 * \u00XX (6 bytes) plus keys and numbers, about 7 KiB. */
#define LINE_MAX_BYTES 16384

struct line {
	char   buf[LINE_MAX_BYTES];
	size_t len;
	bool   overflow;
};

static void
put_bytes(struct line *l, const char *s, size_t n)
{
	if (l->overflow || n > sizeof(l->buf) - l->len) {
		l->overflow = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
put_str(struct line *l, const char *s)
{
	put_bytes(l, s, strlen(s));
}

static void
put_fmt(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put_fmt(struct line *l, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		l->overflow = true;
		return;
	}
	put_bytes(l, tmp, (size_t)n);
}

/* A fixed-size span field: read at most its size, terminated or not. */
#define FIELD(f) (f), strnlen((f), sizeof(f))

static void
put_json_str(struct line *l, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	put_bytes(l, "\"", 1);
	while (i < n) {
		uint32_t cp;
		size_t k = sg_utf8_seq(p + i, n - i, &cp);

		if (k == 0) {
			put_str(l, "\xef\xbf\xbd");     /* U+FFFD */
			i++;
		} else if (cp == '"' || cp == '\\') {
			put_bytes(l, "\\", 1);
			put_bytes(l, s + i, 1);
			i++;
		} else if (cp < 0x20 || cp == 0x7f) {
			put_fmt(l, "\\u%04x", (unsigned)cp);
			i++;
		} else {
			put_bytes(l, s + i, k);
			i += k;
		}
	}
	put_bytes(l, "\"", 1);
}

/* Text mode: printable, well-formed characters as they are; space,
 * backslash, controls (C0, DEL, C1) and invalid bytes as \xNN so one
 * span stays one line of space-separated fields. */
static void
put_text_str(struct line *l, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (n == 0) {
		put_bytes(l, "-", 1);
		return;
	}
	while (i < n) {
		uint32_t cp;
		size_t k = sg_utf8_seq(p + i, n - i, &cp);

		if (k == 0 || cp <= 0x20 || cp == '\\' ||
		    (cp >= 0x7f && cp < 0xa0)) {
			k = k ? k : 1;
			for (size_t j = 0; j < k; j++)
				put_fmt(l, "\\x%02x", p[i + j]);
		} else
			put_bytes(l, s + i, k);
		i += k;
	}
}

static void
put_hex(struct line *l, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		char h[2] = { digits[b[i] >> 4], digits[b[i] & 15] };

		put_bytes(l, h, 2);
	}
}

/* An IPv6 address gets brackets so the port stays unambiguous. */
static void
put_text_hostport(struct line *l, const char *addr, size_t n, uint16_t port)
{
	bool v6 = memchr(addr, ':', n) != NULL;

	if (v6)
		put_bytes(l, "[", 1);
	put_text_str(l, addr, n);
	if (v6)
		put_bytes(l, "]", 1);
	put_fmt(l, ":%u", port);
}

static uint64_t
duration_ns(const struct sg_span *s)
{
	return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}

static const char *
app_name(uint8_t app)
{
	switch (app) {
	case SG_APP_HTTP:
		return "http";
	case SG_APP_GRPC:
		return "grpc";
	default:
		if (semconv_db_system(app) != NULL)
			return semconv_db_system(app);
		if (semconv_messaging_system(app) != NULL)
			return semconv_messaging_system(app);
		return "unknown";
	}
}

static void
put_unknown_or(struct line *l, bool unknown, const char *s, size_t n)
{
	if (unknown)
		put_bytes(l, "?", 1);
	else
		put_text_str(l, s, n);
}

static void
print_text(struct line *l, const struct sg_span *s)
{
	time_t secs = (time_t)(s->start_ns / 1000000000ULL);
	uint64_t us = duration_ns(s) / 1000;
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	put_fmt(l, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec,
	    (unsigned)(s->start_ns / 1000000ULL % 1000));
	put_text_str(l, FIELD(s->service_name));
	put_str(l, s->kind == SG_SPAN_CLIENT ? " CLIENT " : " SERVER ");
	/* What the sensor could not read is "?", never a guess. */
	if (s->op[0] == '\0' && !(s->flags & SG_SPAN_OP_UNKNOWN))
		put_str(l, app_name(s->app));
	else
		put_unknown_or(l, s->flags & SG_SPAN_OP_UNKNOWN, FIELD(s->op));
	put_bytes(l, " ", 1);
	put_unknown_or(l, s->flags & SG_SPAN_TARGET_UNKNOWN, FIELD(s->target));
	if (s->app != SG_APP_HTTP && s->app != SG_APP_GRPC) {
		/* databases and messaging: the error, or "ok" */
		put_bytes(l, " ", 1);
		if (s->error[0] != '\0')
			put_text_str(l, FIELD(s->error));
		else
			put_str(l, "ok");
	} else if (s->flags & SG_SPAN_STATUS_UNKNOWN)
		put_str(l, " ?");
	else
		put_fmt(l, " %u", s->status);
	/* Integer arithmetic: exact milliseconds with three decimals. */
	put_fmt(l, " %" PRIu64 ".%03" PRIu64 "ms ", us / 1000, us % 1000);
	put_text_hostport(l, FIELD(s->peer_addr), s->peer_port);
	put_str(l, " -> ");
	put_text_hostport(l, FIELD(s->host_addr), s->host_port);
	put_str(l, " trace=");
	put_hex(l, s->trace_id, sizeof(s->trace_id));
	put_str(l, " span=");
	put_hex(l, s->span_id, sizeof(s->span_id));
	if (s->trace_state[0] != '\0') {
		put_str(l, " tracestate=");
		put_text_str(l, FIELD(s->trace_state));
	}
	put_bytes(l, "\n", 1);
}

static void
json_key(struct line *l, const char *key, bool first)
{
	if (!first)
		put_bytes(l, ",", 1);
	put_fmt(l, "\"%s\":", key);
}

static void
json_str(struct line *l, const char *key, const char *v, size_t n)
{
	json_key(l, key, false);
	put_json_str(l, v, n);
}

static void
json_u64(struct line *l, const char *key, uint64_t v)
{
	json_key(l, key, false);
	put_fmt(l, "%" PRIu64, v);
}

static void
json_bool(struct line *l, const char *key, bool v)
{
	json_key(l, key, false);
	put_str(l, v ? "true" : "false");
}

static void
print_json(struct line *l, const struct sg_span *s)
{
	put_bytes(l, "{", 1);
	json_key(l, "kind", true);
	put_str(l, s->kind == SG_SPAN_CLIENT ? "\"client\"" : "\"server\"");
	json_str(l, "service_name", FIELD(s->service_name));
	json_str(l, "service_namespace", FIELD(s->service_namespace));
	json_str(l, "instance_id", FIELD(s->instance_id));
	json_u64(l, "pid", s->pid);
	json_key(l, "trace_id", false);
	put_bytes(l, "\"", 1);
	put_hex(l, s->trace_id, sizeof(s->trace_id));
	put_str(l, "\",\"span_id\":\"");
	put_hex(l, s->span_id, sizeof(s->span_id));
	put_str(l, "\",\"parent_span_id\":\"");
	if (!sg_id_absent(s->parent_span_id, sizeof(s->parent_span_id)))
		put_hex(l, s->parent_span_id, sizeof(s->parent_span_id));
	put_bytes(l, "\"", 1);
	json_str(l, "trace_state", FIELD(s->trace_state));
	json_u64(l, "start_unix_ns", s->start_ns);
	json_u64(l, "end_unix_ns", s->end_ns);
	json_u64(l, "duration_ns", duration_ns(s));
	json_key(l, "protocol", false);
	put_fmt(l, "\"%s\"", app_name(s->app));
	json_str(l, "operation", FIELD(s->op));
	json_str(l, "target", FIELD(s->target));
	json_str(l, "route", FIELD(s->route));
	/* null: the sensor could not read it */
	json_key(l, "status", false);
	if (s->flags & SG_SPAN_STATUS_UNKNOWN)
		put_str(l, "null");
	else
		put_fmt(l, "%u", s->status);
	json_bool(l, "operation_known", !(s->flags & SG_SPAN_OP_UNKNOWN));
	json_bool(l, "target_known", !(s->flags & SG_SPAN_TARGET_UNKNOWN));
	json_str(l, "scheme", FIELD(s->scheme));
	json_str(l, "protocol_version", FIELD(s->protocol_version));
	json_str(l, "peer_addr", FIELD(s->peer_addr));
	json_u64(l, "peer_port", s->peer_port);
	json_str(l, "host_addr", FIELD(s->host_addr));
	json_u64(l, "host_port", s->host_port);
	json_u64(l, "request_size", s->req_size);
	json_u64(l, "response_size", s->resp_size);
	if (s->app != SG_APP_HTTP && s->app != SG_APP_GRPC) {
		json_str(l, "collection", FIELD(s->collection));
		json_str(l, "db_namespace", FIELD(s->db_namespace));
		json_str(l, "error", FIELD(s->error));
	}
	put_str(l, "}\n");
}

/*
 * The JSON object in l again, indented: a line per member.  Strings are
 * copied as they are (they were escaped when written, so a quote inside
 * one is preceded by a backslash).
 */
static void
indent_json(const struct line *in, struct line *out)
{
	bool str = false;

	out->len = 0;
	out->overflow = in->overflow;
	for (size_t i = 0; i < in->len; i++) {
		char c = in->buf[i];

		if (str) {
			put_bytes(out, &c, 1);
			if (c == '\\' && i + 1 < in->len)
				put_bytes(out, &in->buf[++i], 1);
			else if (c == '"')
				str = false;
			continue;
		}
		switch (c) {
		case '"':
			str = true;
			put_bytes(out, &c, 1);
			break;
		case '{':
			put_str(out, "{\n  ");
			break;
		case ',':
			put_str(out, ",\n  ");
			break;
		case ':':
			put_str(out, ": ");
			break;
		case '}':
			put_str(out, "\n}");
			break;
		default:
			put_bytes(out, &c, 1);
			break;
		}
	}
}

void
printer_batch(FILE *f, enum sg_trace_printer mode, uint32_t n)
{
	static uint64_t total;

	if (f == NULL || mode != SG_PRINTER_COUNTER || n == 0)
		return;
	total += n;
	fprintf(f, "spans: %" PRIu32 " more, %" PRIu64 " in all\n", n, total);
	fflush(f);
}

void
printer_span(FILE *f, enum sg_trace_printer mode, const struct sg_span *s)
{
	static struct line pretty;
	struct line l;

	if (f == NULL || s == NULL)
		return;
	l.len = 0;
	l.overflow = false;
	switch (mode) {
	case SG_PRINTER_TEXT:
		print_text(&l, s);
		break;
	case SG_PRINTER_JSON:
		print_json(&l, s);
		break;
	case SG_PRINTER_JSON_INDENT:
		print_json(&l, s);
		indent_json(&l, &pretty);
		l = pretty;
		break;
	default:
		return;
	}
	/* Cannot happen with the bounded fields; never print half a line. */
	if (l.overflow)
		return;
	/* One write per span so lines from a pipe reader never tear, and
	 * flushed so `spyglass | jq` sees spans as they happen. */
	fwrite(l.buf, 1, l.len, f);
	fflush(f);
}
