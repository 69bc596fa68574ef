#include "resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "otlp_conf.h"

int
resolve_check_otlp(const struct sg_config *c, char *err, size_t errsz)
{
	struct sg_otlp_dest d;

	if (sg_otlp_dest(c, SG_OTLP_TRACES, &d, err, errsz) < 0 ||
	    sg_otlp_dest(c, SG_OTLP_METRICS, &d, err, errsz) < 0)
		return -1;
	return 0;
}

static void
resolve_one(struct sg_config *c, enum sg_otlp_sig sig, char *out, size_t sz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char addr[INET6_ADDRSTRLEN], err[256];
	struct sg_otlp_dest d;
	int rc;

	if (out[0] != '\0' || sg_otlp_dest(c, sig, &d, err, sizeof(err)) < 0 ||
	    !d.enabled)
		return;
	if ((rc = getaddrinfo(d.host, NULL, &hints, &res)) != 0) {
		sg_log(SG_LOG_WARN, "OTLP endpoint %s: cannot resolve %s: %s",
		    d.url, d.host, gai_strerror(rc));
		return;
	}
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
		    addr, sizeof(addr));
	else
		inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, addr,
		    sizeof(addr));
	/* curl's --resolve syntax: IPv6 addresses in brackets. */
	snprintf(out, sz, res->ai_family == AF_INET6 ? "%s:%u:[%s]" :
	    "%s:%u:%s", d.host, d.port, addr);
	freeaddrinfo(res);
	sg_log(SG_LOG_DEBUG, "OTLP endpoint %s: %s", d.url, out);
}

void
resolve_otlp(struct sg_config *c)
{
	resolve_one(c, SG_OTLP_TRACES, c->traces.s.resolve,
	    sizeof(c->traces.s.resolve));
	resolve_one(c, SG_OTLP_METRICS, c->metrics.s.resolve,
	    sizeof(c->metrics.s.resolve));
}

void
resolve_host_name(struct sg_config *c)
{
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai = NULL;
	char host[sizeof(c->host_name)] = "";

	if (c->attributes.override_hostname[0] != '\0') {
		snprintf(c->host_name, sizeof(c->host_name), "%s",
		    c->attributes.override_hostname);
		return;
	}
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	snprintf(c->host_name, sizeof(c->host_name), "%s", host);
	if (c->attributes.dns && getaddrinfo(host, NULL, &hints, &ai) == 0) {
		if (ai != NULL && ai->ai_canonname != NULL &&
		    ai->ai_canonname[0] != '\0')
			snprintf(c->host_name, sizeof(c->host_name), "%s",
			    ai->ai_canonname);
		freeaddrinfo(ai);
	}
}
