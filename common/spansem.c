#include "spansem.h"

#include <string.h>

#include "semconv.h"

/* Bounded concatenation into a name: what does not fit is cut. */
struct name_buf {
	char   *p;
	size_t  sz, n;
};

static void
name_put(struct name_buf *b, const char *s, size_t max)
{
	size_t k = s != NULL ? strnlen(s, max) : 0;

	if (b->n + k >= b->sz)
		k = b->sz - 1 - b->n;
	memcpy(b->p + b->n, s, k);
	b->n += k;
	b->p[b->n] = '\0';
}

/* "WORD" or "WORD REST" (REST left out when empty). */
static void
name_pair(struct name_buf *b, const char *word, size_t wmax,
    const char *rest, size_t rmax)
{
	name_put(b, word, wmax);
	if (rest != NULL && rest[0] != '\0') {
		name_put(b, " ", 1);
		name_put(b, rest, rmax);
	}
}

/* Never the path: it would make a name per id.  The route is bounded. */
static void
http_name(struct name_buf *b, const struct sg_span *s)
{
	const char *method = semconv_http_method(s->op, sizeof(s->op));

	name_pair(b, method != NULL ? method : "HTTP", SG_METHOD_MAX,
	    s->route, sizeof(s->route));
}

static void
grpc_name(struct name_buf *b, const struct sg_span *s)
{
	size_t n = strnlen(s->target, sizeof(s->target));

	if ((s->flags & SG_SPAN_TARGET_UNKNOWN) || n < 2 || s->target[0] != '/')
		name_put(b, "grpc", 4);
	else
		name_put(b, s->target + 1, n - 1);
}

static void
db_name(struct name_buf *b, const struct sg_span *s)
{
	if (s->op[0] == '\0' || (s->flags & SG_SPAN_OP_UNKNOWN))
		name_put(b, semconv_db_system(s->app), SIZE_MAX);
	else
		name_pair(b, s->op, sizeof(s->op), s->collection,
		    sizeof(s->collection));
}

static void
msg_name(struct name_buf *b, const struct sg_span *s)
{
	if (s->op[0] == '\0')
		name_put(b, semconv_messaging_system(s->app), SIZE_MAX);
	else
		name_pair(b, s->op, sizeof(s->op),
		    s->flags & SG_SPAN_TARGET_UNKNOWN ? NULL : s->target,
		    sizeof(s->target));
}

size_t
spansem_name(const struct sg_span *s, char *buf, size_t sz)
{
	struct name_buf b = { buf, sz, 0 };

	if (buf == NULL || sz == 0)
		return 0;
	buf[0] = '\0';
	if (s == NULL)
		return 0;
	if (s->app == SG_APP_HTTP)
		http_name(&b, s);
	else if (s->app == SG_APP_GRPC)
		grpc_name(&b, s);
	else if (semconv_db_system(s->app) != NULL)
		db_name(&b, s);
	else if (semconv_messaging_system(s->app) != NULL)
		msg_name(&b, s);
	return b.n;
}

bool
spansem_publishes(const struct sg_span *s)
{
	return strncmp(s->op, "publish", sizeof(s->op)) == 0;
}

enum spansem_kind
spansem_kind(const struct sg_span *s)
{
	switch (s->kind) {
	case SG_SPAN_SERVER:
		return SPANSEM_KIND_SERVER;
	case SG_SPAN_CLIENT:
		/* A Kafka client's calls are a producer's or a consumer's */
		if (semconv_messaging_system(s->app) != NULL)
			return spansem_publishes(s) ? SPANSEM_KIND_PRODUCER :
			    SPANSEM_KIND_CONSUMER;
		return SPANSEM_KIND_CLIENT;
	default:
		return SPANSEM_KIND_UNSPECIFIED;
	}
}

const char *
spansem_kind_name(enum spansem_kind k)
{
	switch (k) {
	case SPANSEM_KIND_SERVER:
		return "SPAN_KIND_SERVER";
	case SPANSEM_KIND_CLIENT:
		return "SPAN_KIND_CLIENT";
	case SPANSEM_KIND_PRODUCER:
		return "SPAN_KIND_PRODUCER";
	case SPANSEM_KIND_CONSUMER:
		return "SPAN_KIND_CONSUMER";
	default:
		return "SPAN_KIND_UNSPECIFIED";
	}
}

bool
spansem_error(const struct sg_span *s)
{
	bool server = s->kind == SG_SPAN_SERVER;

	if (s->app == SG_APP_HTTP || s->app == SG_APP_GRPC) {
		if (s->flags & SG_SPAN_STATUS_UNKNOWN)
			return false;
		if (s->app == SG_APP_GRPC)
			return server ? semconv_grpc_server_error(s->status) :
			    s->status != 0;
		/* 4xx is the client's fault: only its own span fails */
		return s->status >= (server ? 500u : 400u);
	}
	return s->error[0] != '\0';
}
