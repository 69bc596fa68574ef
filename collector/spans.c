/*
 * Spans from exchanges.  Trace and span ids come from ids.c.  Which
 * trace a span belongs to, and its parent, tracelink.c decides: the
 * caller's traceparent, the server span a client call was made for, the
 * client span of a caller on this host, or a new trace.
 */
#include "spans.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ids.h"
#include "log.h"
#include "select_conf.h"
#include "semconv.h"
#include "sql.h"
#include "tracectx.h"

void
spans_init(void)
{
	if (!ids_seed())
		sg_log(SG_LOG_WARN, "getrandom failed; seeding span ids "
		    "from the clock");
}

int64_t
spans_clock_offset(void)
{
	uint64_t m1, r, m2;

	/* Bracket the realtime read so a preemption between the two
	 * clocks costs at most half its length in accuracy. */
	m1 = sg_clock_ns(CLOCK_MONOTONIC);
	r = sg_clock_ns(CLOCK_REALTIME);
	m2 = sg_clock_ns(CLOCK_MONOTONIC);
	return (int64_t)(r - (m1 + (m2 - m1) / 2));
}

/* Dotted quad without snprintf, which was 8 % of the collector's time
 * (two addresses per span). */
static void
spans_format_ipv4(char *buf, size_t sz, const uint8_t *a)
{
	char tmp[16];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			tmp[n++] = (char)('0' + v / 100);
		if (v >= 10)
			tmp[n++] = (char)('0' + v / 10 % 10);
		tmp[n++] = (char)('0' + v % 10);
		tmp[n++] = i < 3 ? '.' : '\0';
	}
	if (n > sz)
		n = sz;
	memcpy(buf, tmp, n);
	buf[n - 1] = '\0';
}

void
spans_format_addr(char *buf, size_t sz, uint16_t family,
    const uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (buf == NULL || sz == 0)
		return;
	buf[0] = '\0';
	if (addr == NULL)
		return;
	if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
		family = AF_INET;
		addr += 12;
	}
	if (family == AF_INET) {
		spans_format_ipv4(buf, sz, addr);
		return;
	}
	if (family == AF_INET6 && sz <= (size_t)INT32_MAX &&
	    inet_ntop(AF_INET6, addr, buf, (socklen_t)sz) != NULL)
		return;
	buf[0] = '\0';
}

void
spans_copy_str(char *dst, size_t dstsz, const char *src, size_t srcsz)
{
	size_t n = strnlen(src, srcsz);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
spans_service(struct sg_span *out, uint32_t pid,
    const struct sg_proc_info *proc)
{
	if (proc != NULL && proc->service_name[0] != '\0')
		spans_copy_str(out->service_name, sizeof(out->service_name),
		    proc->service_name, sizeof(proc->service_name));
	else
		snprintf(out->service_name, sizeof(out->service_name),
		    "unknown_service");
	if (proc != NULL)
		spans_copy_str(out->service_namespace,
		    sizeof(out->service_namespace), proc->service_namespace,
		    sizeof(proc->service_namespace));
	if (proc != NULL)
		spans_copy_str(out->exe, sizeof(out->exe), proc->exe,
		    sizeof(proc->exe));
	if (proc != NULL && proc->instance_id[0] != '\0')
		spans_copy_str(out->instance_id, sizeof(out->instance_id),
		    proc->instance_id, sizeof(proc->instance_id));
	else
		snprintf(out->instance_id, sizeof(out->instance_id), "%u",
		    pid);
}

/* Monotonic to unix time; unsigned arithmetic wraps as two's complement
 * does, so a negative offset needs no special case. */
static uint64_t
to_unix(uint64_t mono, int64_t offset)
{
	return mono + (uint64_t)offset;
}

/* An address as last formatted: a server's own address is the same in
 * every span, and its clients' mostly repeat; formatting both was 250
 * instructions per span (the collector is single-threaded). */
struct addr_memo {
	bool     valid;
	uint16_t family;
	uint8_t  addr[16];
	char     text[SG_ADDR_MAX];
};

static void
spans_addr_memo(struct addr_memo *m, char out[SG_ADDR_MAX], uint16_t family,
    const uint8_t addr[16])
{
	if (!m->valid || m->family != family ||
	    memcmp(m->addr, addr, sizeof(m->addr)) != 0) {
		memset(m->text, 0, sizeof(m->text));
		spans_format_addr(m->text, sizeof(m->text), family, addr);
		m->family = family;
		memcpy(m->addr, addr, sizeof(m->addr));
		m->valid = true;
	}
	memcpy(out, m->text, SG_ADDR_MAX);
}

static void
spans_add_addrs(struct sg_span *s, const struct sg_conn *conn)
{
	static struct addr_memo host, peer;

	spans_addr_memo(&host, s->host_addr, conn->id.family, conn->id.laddr);
	spans_addr_memo(&peer, s->peer_addr, conn->id.family, conn->id.raddr);
}

/* What the parser could not read, as the span says it. */
static uint8_t
span_flags(uint8_t ex_flags)
{
	return (ex_flags & SG_EX_STATUS_UNKNOWN ? SG_SPAN_STATUS_UNKNOWN : 0) |
	    (ex_flags & SG_EX_OP_UNKNOWN ? SG_SPAN_OP_UNKNOWN : 0) |
	    (ex_flags & SG_EX_TARGET_UNKNOWN ? SG_SPAN_TARGET_UNKNOWN : 0);
}

static void
spans_http_fields(struct sg_span *out, const struct sg_conn *conn,
    const struct sg_exchange *ex)
{
	spans_copy_str(out->target, sizeof(out->target), ex->target,
	    sizeof(ex->target));
	if (conn->tls == SG_CONN_TLS_PLAINTEXT)
		memcpy(out->scheme, "https", sizeof("https"));
	else
		memcpy(out->scheme, "http", sizeof("http"));
	if (ex->version[0] != '\0')
		spans_copy_str(out->protocol_version,
		    sizeof(out->protocol_version), ex->version,
		    sizeof(ex->version));
	else
		memcpy(out->protocol_version, "1.1", sizeof("1.1"));
}

/* SQL text loses its literals here, once for every SQL protocol: they
 * are the users' data (db.query.text's default in the conventions).
 * Only a span to be exported needs it: no label or filter reads it. */
static void
spans_db_fields(struct sg_span *out, const struct sg_exchange *ex,
    bool exported)
{
	if (semconv_app_is_sql(ex->app)) {
		if (exported)
			sql_sanitize(ex->target, strnlen(ex->target,
			    sizeof(ex->target)), ex->app == SG_APP_MYSQL ?
			    SQL_MYSQL : SQL_POSTGRES, out->target,
			    sizeof(out->target));
	} else
		spans_copy_str(out->target, sizeof(out->target), ex->target,
		    sizeof(ex->target));
	spans_copy_str(out->collection, sizeof(out->collection),
	    ex->collection, sizeof(ex->collection));
	spans_copy_str(out->db_namespace, sizeof(out->db_namespace),
	    ex->db_namespace, sizeof(ex->db_namespace));
	spans_copy_str(out->error, sizeof(out->error), ex->error,
	    sizeof(ex->error));
}

/* The role of the exchange, or of its connection when the parser could
 * not tell. */
static uint8_t
spans_role(const struct sg_conn *conn, const struct sg_exchange *ex)
{
	return ex->role != SG_ROLE_UNKNOWN ? ex->role : conn->role;
}

/* Which span the span descends from: collector/tracelink.h. */
enum sg_parent
spans_parent(const struct sg_conn *conn, const struct sg_exchange *ex)
{
	if (conn == NULL || ex == NULL)
		return SG_PARENT_NONE;
	return tracelink_parent(&conn->trace, spans_role(conn, ex), ex);
}

static void
spans_ids(struct sg_span *out, const struct sg_conn *conn,
    const struct sg_exchange *ex)
{
	struct tracelink_ids ids;

	tracelink_ids(&conn->trace, spans_role(conn, ex), ex, &ids);
	memcpy(out->trace_id, ids.trace_id, sizeof(out->trace_id));
	memcpy(out->span_id, ids.span_id, sizeof(out->span_id));
	memcpy(out->parent_span_id, ids.parent_id,
	    sizeof(out->parent_span_id));
}

_Static_assert(TRACESTATE_MAX < SG_TRACESTATE_MAX,
    "a kept tracestate fits a span, with its NUL");

/* A server span that continues its caller's traceparent carries on the
 * caller's tracestate with it.  The client spans made for it do not:
 * the sensor passes on a traceparent only. */
static void
spans_trace_state(struct sg_span *out, const struct sg_exchange *ex)
{
	if (out->kind != SG_SPAN_SERVER || ex->tracestate == NULL ||
	    !(ex->flags & SG_EX_TRACE_CTX) ||
	    memcmp(out->trace_id, ex->trace_id, sizeof(out->trace_id)) != 0 ||
	    memcmp(out->parent_span_id, ex->parent_span_id,
	    sizeof(out->parent_span_id)) != 0)
		return;
	spans_copy_str(out->trace_state, sizeof(out->trace_state),
	    ex->tracestate, ex->tracestate_len);
}

/*
 * An empty span: every number zero, every string "".  What lies past a
 * string's end is left as it was, and no reader of a span looks there:
 * clearing 1,520 of its 2,040 bytes was nearly half of spans_build's
 * time under Redis -P 16 (a tenth of the collector's).
 */
static void
spans_clear(struct sg_span *s)
{
	s->kind = 0;
	s->app = 0;
	s->flags = 0;
	s->start_ns = 0;
	s->end_ns = 0;
	memset(s->trace_id, 0, sizeof(s->trace_id));
	memset(s->span_id, 0, sizeof(s->span_id));
	memset(s->parent_span_id, 0, sizeof(s->parent_span_id));
	s->pid = 0;
	s->status = 0;
	s->peer_port = 0;
	s->host_port = 0;
	s->req_size = 0;
	s->resp_size = 0;
	/* the strings end at their first byte (an array of pointers to
	 * them cost a loop of 90 instructions per span) */
	s->service_name[0] = '\0';
	s->service_namespace[0] = '\0';
	s->instance_id[0] = '\0';
	s->exe[0] = '\0';
	s->op[0] = '\0';
	s->target[0] = '\0';
	s->route[0] = '\0';
	s->scheme[0] = '\0';
	s->protocol_version[0] = '\0';
	s->peer_addr[0] = '\0';
	s->host_addr[0] = '\0';
	s->collection[0] = '\0';
	s->db_namespace[0] = '\0';
	s->error[0] = '\0';
	s->trace_state[0] = '\0';
}

void
spans_build(struct sg_span *out, const struct sg_conn *conn,
    const struct sg_exchange *ex, const struct sg_proc_info *proc,
    int64_t clock_offset_ns, bool exported)
{
	uint8_t role;

	spans_clear(out);
	if (conn == NULL || ex == NULL)
		return;

	role = spans_role(conn, ex);
	out->kind = role == SG_ROLE_CLIENT ? SG_SPAN_CLIENT : SG_SPAN_SERVER;
	out->start_ns = to_unix(ex->start_ns, clock_offset_ns);
	out->end_ns = ex->end_ns >= ex->start_ns ?
	    to_unix(ex->end_ns, clock_offset_ns) : out->start_ns;
	out->pid = conn->pid;
	spans_service(out, conn->pid, proc);

	out->app = ex->app;
	out->flags = span_flags(ex->flags);
	spans_copy_str(out->op, sizeof(out->op), ex->op, sizeof(ex->op));
	out->status = ex->status;
	if (out->app == SG_APP_HTTP || out->app == SG_APP_GRPC)
		spans_http_fields(out, conn, ex);
	else
		spans_db_fields(out, ex, exported);

	/* Both kinds: host is this process's end, peer the other one
	 * (the client of a server span, the server of a client span). */
	out->host_port = conn->id.lport;
	out->peer_port = conn->id.rport;

	out->req_size = ex->req_size;
	out->resp_size = ex->resp_size;
	if (exported) {
		spans_ids(out, conn, ex);
		spans_trace_state(out, ex);
	}
	/* the metrics' server_address (and, when selected,
	 * client_address) labels */
	spans_add_addrs(out, conn);
}

double
spans_seconds(const struct sg_span *s)
{
	return s->end_ns > s->start_ns ?
	    (double)(s->end_ns - s->start_ns) / 1e9 : 0.0;
}

/* Decimal without snprintf, which dominated the per-span cost. */
static void
u32_dec(char buf[11], uint32_t v)
{
	char tmp[11];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

const char *
spans_attr(const struct sg_span *s, int a, char *buf, size_t sz)
{
	bool server = s->kind == SG_SPAN_SERVER, grpc = s->app == SG_APP_GRPC,
	    http = s->app == SG_APP_HTTP;
	const char *m;

	switch (a) {
	case SG_ATTR_HTTP_METHOD:
		if (!http)
			return NULL;
		m = semconv_http_method(s->op, sizeof(s->op));
		return m != NULL ? m : "_OTHER";
	case SG_ATTR_HTTP_STATUS:
	case SG_ATTR_RPC_STATUS:
		if ((a == SG_ATTR_RPC_STATUS ? !grpc : !http) ||
		    (s->flags & SG_SPAN_STATUS_UNKNOWN))
			return NULL;
		if (sz < 11)
			return NULL;
		u32_dec(buf, s->status);
		return buf;
	case SG_ATTR_HTTP_ROUTE:
		return !http || s->route[0] == '\0' ? NULL : s->route;
	case SG_ATTR_URL_SCHEME:
		return http ? s->scheme : NULL;
	case SG_ATTR_URL_PATH:
		return !http || (s->flags & SG_SPAN_TARGET_UNKNOWN) ? NULL :
		    s->target;
	case SG_ATTR_RPC_METHOD:
		if (!grpc)
			return NULL;
		return s->flags & SG_SPAN_TARGET_UNKNOWN ? "" : s->target;
	case SG_ATTR_RPC_SYSTEM:
		return grpc ? "grpc" : NULL;
	case SG_ATTR_SERVICE_NAME:
		return s->service_name;
	case SG_ATTR_SERVICE_NAMESPACE:
		return s->service_namespace;
	case SG_ATTR_TARGET_INSTANCE:
		return s->instance_id;
	case SG_ATTR_SERVER_ADDRESS:
		return server ? s->host_addr : s->peer_addr;
	case SG_ATTR_SERVER_PORT:
		if (sz < 11)
			return NULL;
		u32_dec(buf, server ? s->host_port : s->peer_port);
		return buf;
	case SG_ATTR_CLIENT_ADDRESS:
		return server ? s->peer_addr : s->host_addr;
	case SG_ATTR_DB_OPERATION:
		if (semconv_db_system(s->app) == NULL)
			return NULL;
		return s->flags & SG_SPAN_OP_UNKNOWN ? "" : s->op;
	case SG_ATTR_DB_SYSTEM:
		return semconv_db_system(s->app);
	/* Absent rather than empty: no table, no database, no error. */
	case SG_ATTR_DB_COLLECTION:
		return semconv_db_system(s->app) == NULL ||
		    s->collection[0] == '\0' ? NULL : s->collection;
	case SG_ATTR_DB_NAMESPACE:
		return semconv_db_system(s->app) == NULL ||
		    s->db_namespace[0] == '\0' ? NULL : s->db_namespace;
	case SG_ATTR_ERROR_TYPE:
		if (s->app == SG_APP_HTTP || s->app == SG_APP_GRPC ||
		    s->error[0] == '\0')
			return NULL;
		return s->error;
	case SG_ATTR_MESSAGING_SYSTEM:
		return semconv_messaging_system(s->app);
	case SG_ATTR_MESSAGING_DESTINATION:
		if (semconv_messaging_system(s->app) == NULL)
			return NULL;
		return s->flags & SG_SPAN_TARGET_UNKNOWN ? "" : s->target;
	}
	return NULL;
}
