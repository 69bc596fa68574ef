#include "otlp_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* host and port of an http(s) URL; IPv6 literals in brackets. */
static int
sg_url_host_port(const char *url, char *host, size_t hostsz, uint16_t *port,
    char *err, size_t errsz)
{
	const char *p, *end, *colon;
	bool tls;
	size_t n;

	if (strncasecmp(url, "http://", 7) == 0)
		tls = false, p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		tls = true, p = url + 8;
	else {
		snprintf(err, errsz, "OTLP endpoint \"%s\": not an http:// or "
		    "https:// URL", url);
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL)
			goto bad;
		n = (size_t)(rb - p - 1);
		if (n == 0 || n >= hostsz)
			goto bad;
		memcpy(host, p + 1, n);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		n = (size_t)((colon ? colon : end) - p);
		if (n == 0 || n >= hostsz)
			goto bad;
		memcpy(host, p, n);
	}
	host[n] = '\0';
	*port = tls ? 443 : 80;
	if (colon != NULL) {
		char *e;
		long v = strtol(colon + 1, &e, 10);

		if (e != end || v < 1 || v > 65535)
			goto bad;
		*port = (uint16_t)v;
	}
	return 0;
bad:
	snprintf(err, errsz, "OTLP endpoint \"%s\": bad host or port", url);
	return -1;
}

static void
sg_join_headers(char *dst, size_t sz, const char *a, const char *b)
{
	snprintf(dst, sz, "%s%s%s", a, *a && *b ? "," : "", b);
}

const char *
sg_otlp_sig_name(enum sg_otlp_sig sig)
{
	return sig == SG_OTLP_TRACES ? "traces" : "metrics";
}

int
sg_otlp_dest(const struct sg_config *c, enum sg_otlp_sig sig,
    struct sg_otlp_dest *d, char *err, size_t errsz)
{
	const struct sg_otlp_signal *s = sig == SG_OTLP_TRACES ?
	    &c->traces.s : &c->metrics.s;
	enum sg_otlp_protocol proto;
	size_t n;

	memset(d, 0, sizeof(*d));
	d->resolve = s->resolve;
	d->max_queue_size = s->max_queue_size;
	if (s->endpoint[0] == '\0' && c->otlp_endpoint[0] == '\0')
		return 0;
	d->enabled = true;
	proto = s->protocol != SG_OTLP_INHERIT ? s->protocol : c->otlp_protocol;
	if (sg_url_host_port(s->endpoint[0] ? s->endpoint : c->otlp_endpoint,
	    d->host, sizeof(d->host), &d->port, err, errsz) < 0)
		return -1;
	/* Ports ending in 4317 (4317, 14317, ...) are gRPC, as the seeds
	 * describe; anything else, 4318 included, HTTP. */
	if (proto == SG_OTLP_AUTO || proto == SG_OTLP_INHERIT)
		proto = d->port % 10000 == 4317 ? SG_OTLP_GRPC : SG_OTLP_HTTP;
	d->grpc = proto == SG_OTLP_GRPC;
	d->json = proto == SG_OTLP_HTTP_JSON;
	if (s->endpoint[0] != '\0' || d->grpc) {
		snprintf(d->url, sizeof(d->url), "%s",
		    s->endpoint[0] ? s->endpoint : c->otlp_endpoint);
	} else {
		snprintf(d->url, sizeof(d->url), "%s", c->otlp_endpoint);
		n = strlen(d->url);
		if (n > 0 && d->url[n - 1] == '/')
			d->url[--n] = '\0';
		snprintf(d->url + n, sizeof(d->url) - n, "/v1/%s",
		    sg_otlp_sig_name(sig));
	}
	d->gzip = (s->compression != SG_OTLP_COMP_INHERIT ? s->compression :
	    c->otlp_compression) == SG_OTLP_COMP_GZIP;
	sg_join_headers(d->headers, sizeof(d->headers), c->otlp_headers,
	    s->headers);
	return 0;
}

bool
sg_otlp_configured(const struct sg_config *c)
{
	struct sg_otlp_dest d;
	char err[256];

	for (int sig = SG_OTLP_TRACES; sig <= SG_OTLP_METRICS; sig++) {
		/* A bad endpoint is still enabled: it fails in the exporter. */
		(void)sg_otlp_dest(c, (enum sg_otlp_sig)sig, &d, err,
		    sizeof(err));
		if (d.enabled)
			return true;
	}
	return false;
}

void
sg_config_derive(struct sg_config *c)
{
	struct sg_otlp_dest d;
	char err[256];
	uint32_t ms = c->prom.port != 0 ? c->prom.ttl_ms : 0;

	/* A bad endpoint is still on: it fails in the exporter. */
	(void)sg_otlp_dest(c, SG_OTLP_TRACES, &d, err, sizeof(err));
	c->export_spans = c->trace_printer != SG_PRINTER_DISABLED || d.enabled;
	(void)sg_otlp_dest(c, SG_OTLP_METRICS, &d, err, sizeof(err));
	if (d.enabled && c->metrics.ttl_ms > ms)
		ms = c->metrics.ttl_ms;
	/* Neither is on: nobody reads them, the Prometheus ttl will do. */
	c->series_ttl_ms = ms != 0 ? ms : c->prom.ttl_ms;
}
