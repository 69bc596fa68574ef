/*
 * Prometheus endpoint.  One listener and at most PROM_MAX_CLIENTS
 * clients, all non-blocking, driven by the exporter's poll loop.  Each
 * connection carries one request: read the header (bounded), answer,
 * close.  The exposition text is rendered once per snapshot and shared
 * by reference between clients still sending it.
 */
#include "prom.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "log.h"

#define PROM_MAX_CLIENTS 16
#define PROM_REQ_MAX     8192            /* request header bytes */
#define PROM_IDLE_MS     5000
#define PROM_LINGER_MS   2000            /* draining after the answer */
#define PROM_LINGER_MAX  65536           /* bytes discarded at most */
#define PROM_PATH_MAX    128
#define PROM_HDR_MAX     512

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Rendered exposition text, shared by the clients sending it. */
struct prom_body {
	size_t refs;
	size_t len;
	char  *data;
};

/*
 * READ: collecting the request header.  WRITE: sending the answer.
 * DRAIN: answer sent and FIN sent; reading and discarding whatever the
 * client still sends until it closes, because closing a socket with
 * unread input sends a reset that can destroy the answer in flight.
 */
enum prom_state { CL_FREE = 0, CL_READ, CL_WRITE, CL_DRAIN };

struct prom_client {
	int               fd;
	enum prom_state   state;
	uint64_t          last_ms;     /* last progress, CLOCK_MONOTONIC */
	size_t            inlen;       /* DRAIN: bytes discarded */
	char              in[PROM_REQ_MAX];
	char              hdr[PROM_HDR_MAX];
	size_t            hdrlen;
	struct prom_body *body;        /* NULL: no body */
	size_t            bodylen;     /* body bytes to send (0 for HEAD) */
	size_t            off;         /* bytes of hdr + body sent */
};

struct prom_server {
	int                lfd;
	char               path[PROM_PATH_MAX];
	uint8_t           *snap;
	size_t             snaplen;
	uint64_t           ttl_ns;
	struct prom_body  *rendered;   /* of snap; NULL until asked for */
	struct prom_client cl[PROM_MAX_CLIENTS];
};

/* ---- server */

static void
body_unref(struct prom_body *body)
{
	if (body == NULL || --body->refs > 0)
		return;
	free(body->data);
	free(body);
}

/* The rendering of the latest snapshot (empty before the first one),
 * with a reference for the caller; NULL when it cannot be rendered. */
static struct prom_body *
prom_body_get(struct prom_server *p)
{
	struct prom_body *body;
	char *text = NULL;
	long n = 0;

	if (p->rendered == NULL) {
		if (p->snap != NULL &&
		    (n = prom_render(p->snap, p->snaplen, p->ttl_ns,
		    &text)) < 0) {
			sg_log(SG_LOG_WARN, "prom: cannot render the metric "
			    "snapshot (%zu bytes)", p->snaplen);
			return NULL;
		}
		if ((body = calloc(1, sizeof(*body))) == NULL) {
			free(text);
			return NULL;
		}
		body->refs = 1;                 /* the server's own */
		body->data = text;
		body->len = (size_t)n;
		p->rendered = body;
	}
	p->rendered->refs++;
	return p->rendered;
}

static void
client_close(struct prom_client *c)
{
	if (c->state == CL_FREE)
		return;
	close(c->fd);
	body_unref(c->body);
	c->body = NULL;
	c->fd = -1;
	c->state = CL_FREE;
}

/* Write what the socket takes; close once everything is sent. */
static void
client_flush(struct prom_client *c)
{
	while (c->state == CL_WRITE) {
		struct iovec iov[2];
		struct msghdr mh;
		int niov = 0;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		if (c->off < c->hdrlen) {
			iov[niov].iov_base = c->hdr + c->off;
			iov[niov++].iov_len = c->hdrlen - c->off;
		}
		if (c->bodylen > 0 && c->off < c->hdrlen + c->bodylen) {
			size_t boff = c->off > c->hdrlen ? c->off - c->hdrlen : 0;

			iov[niov].iov_base = c->body->data + boff;
			iov[niov++].iov_len = c->bodylen - boff;
		}
		if (niov == 0) {
			shutdown(c->fd, SHUT_WR);
			c->state = CL_DRAIN;
			c->inlen = 0;
			c->last_ms = sg_mono_ms();
			return;
		}
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)niov;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(c);
			return;
		}
		c->off += (size_t)n;
		c->last_ms = sg_mono_ms();
	}
}

/* Answer and start sending.  Without a body the status line is the
 * body, kept in hdr after the header. */
static void
client_respond(struct prom_client *c, const char *status,
    const char *extra, struct prom_body *body, bool head)
{
	size_t blen = body != NULL ? body->len : strlen(status) + 1;
	int n;

	n = snprintf(c->hdr, sizeof(c->hdr),
	    "HTTP/1.1 %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "Connection: close\r\n"
	    "\r\n"
	    "%s%s", status,
	    body != NULL ? PROM_CONTENT_TYPE : "text/plain; charset=utf-8",
	    blen, extra, body != NULL || head ? "" : status,
	    body != NULL || head ? "" : "\n");
	if (n < 0 || (size_t)n >= sizeof(c->hdr)) {
		body_unref(body);
		client_close(c);
		return;
	}
	c->hdrlen = (size_t)n;
	c->body = body;
	c->bodylen = head || body == NULL ? 0 : body->len;
	c->off = 0;
	c->state = CL_WRITE;
	client_flush(c);
}

/* Request line "METHOD SP target SP HTTP/1.x"; headers are ignored. */
static void
client_request(struct prom_server *p, struct prom_client *c)
{
	char *line = c->in, *end, *sp1, *sp2, *q;
	struct prom_body *body;
	bool head;

	end = memchr(line, '\n', c->inlen);
	if (end == NULL) {
		client_close(c);
		return;
	}
	*end = '\0';
	if (end > line && end[-1] == '\r')
		end[-1] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == line || sp1[1] != '/' ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || strchr(sp2 + 1, ' ')) {
		client_respond(c, "400 Bad Request", "", NULL, false);
		return;
	}
	*sp1 = *sp2 = '\0';
	head = strcmp(line, "HEAD") == 0;
	if (!head && strcmp(line, "GET") != 0) {
		client_respond(c, "405 Method Not Allowed",
		    "Allow: GET, HEAD\r\n", NULL, false);
		return;
	}
	if ((q = strchr(sp1 + 1, '?')) != NULL)
		*q = '\0';
	if (strcmp(sp1 + 1, p->path) != 0) {
		client_respond(c, "404 Not Found", "", NULL, head);
		return;
	}
	if ((body = prom_body_get(p)) == NULL) {
		client_respond(c, "500 Internal Server Error", "", NULL, head);
		return;
	}
	client_respond(c, "200 OK", "", body, head);
}

static bool
header_complete(const char *buf, size_t len, size_t from)
{
	from = from > 3 ? from - 3 : 0;
	for (size_t i = from; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n')
			return true;
		if (i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return true;
	}
	return false;
}

static void
client_read(struct prom_server *p, struct prom_client *c)
{
	for (;;) {
		size_t old = c->inlen;
		ssize_t n;

		if (c->inlen == sizeof(c->in)) {
			client_respond(c, "431 Request Header Fields Too Large",
			    "", NULL, false);
			return;
		}
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->inlen += (size_t)n;
		c->last_ms = sg_mono_ms();
		if (header_complete(c->in, c->inlen, old)) {
			client_request(p, c);
			return;
		}
	}
}

static void
client_drain(struct prom_client *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->inlen += n > 0 ? (size_t)n : 0;
		if (n <= 0 || c->inlen > PROM_LINGER_MAX) {
			client_close(c);
			return;
		}
	}
}

static void
prom_accept(struct prom_server *p)
{
	for (;;) {
		struct prom_client *c = NULL;
		int fd;

		for (size_t i = 0; i < PROM_MAX_CLIENTS; i++)
			if (p->cl[i].state == CL_FREE) {
				c = &p->cl[i];
				break;
			}
		if (c == NULL)
			return;         /* the rest wait in the backlog */
		fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sg_log(SG_LOG_WARN, "prom: accept: %s",
				    strerror(errno));
			return;
		}
		c->fd = fd;
		c->state = CL_READ;
		c->inlen = 0;
		c->hdrlen = 0;
		c->body = NULL;
		c->bodylen = 0;
		c->off = 0;
		c->last_ms = sg_mono_ms();
	}
}

static struct prom_client *
prom_client_by_fd(struct prom_server *p, int fd)
{
	for (size_t i = 0; i < PROM_MAX_CLIENTS; i++)
		if (p->cl[i].state != CL_FREE && p->cl[i].fd == fd)
			return &p->cl[i];
	return NULL;
}

void
prom_service(struct prom_server *p, const struct pollfd *fds, int n)
{
	uint64_t now;
	bool listener = false;

	if (p == NULL)
		return;
	/* Clients before the listener: a descriptor closed here and
	 * reused by accept() must not receive a stale event. */
	for (int i = 0; fds != NULL && i < n; i++) {
		struct prom_client *c;
		short re = fds[i].revents;

		if (re == 0)
			continue;
		if (fds[i].fd == p->lfd) {
			listener = true;
			continue;
		}
		if ((c = prom_client_by_fd(p, fds[i].fd)) == NULL)
			continue;
		if (re & (POLLERR | POLLNVAL))
			client_close(c);
		else if (c->state == CL_READ && (re & (POLLIN | POLLHUP)))
			client_read(p, c);
		else if (c->state == CL_WRITE && (re & (POLLOUT | POLLHUP)))
			client_flush(c);
		else if (c->state == CL_DRAIN && (re & (POLLIN | POLLHUP)))
			client_drain(c);
	}
	if (listener)
		prom_accept(p);

	now = sg_mono_ms();
	for (size_t i = 0; i < PROM_MAX_CLIENTS; i++) {
		struct prom_client *c = &p->cl[i];

		uint64_t limit = c->state == CL_DRAIN ? PROM_LINGER_MS :
		    PROM_IDLE_MS;

		if (c->state != CL_FREE && now - c->last_ms > limit)
			client_close(c);
	}
}

int
prom_pollfds(struct prom_server *p, struct pollfd *fds, int max)
{
	int n = 0;
	bool room = false;

	if (p == NULL || fds == NULL)
		return 0;
	for (size_t i = 0; i < PROM_MAX_CLIENTS; i++)
		if (p->cl[i].state == CL_FREE)
			room = true;
	/* Without room the listener is left out rather than spinning on
	 * connections that cannot be taken yet. */
	if (room && n < max) {
		fds[n].fd = p->lfd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	for (size_t i = 0; i < PROM_MAX_CLIENTS && n < max; i++) {
		struct prom_client *c = &p->cl[i];

		if (c->state == CL_FREE)
			continue;
		fds[n].fd = c->fd;
		fds[n].events = c->state == CL_WRITE ? POLLOUT : POLLIN;
		fds[n++].revents = 0;
	}
	return n;
}

void
prom_set_ttl(struct prom_server *p, uint64_t ttl_ns)
{
	if (p == NULL || p->ttl_ns == ttl_ns)
		return;
	p->ttl_ns = ttl_ns;
	body_unref(p->rendered);
	p->rendered = NULL;
}

void
prom_set_snapshot(struct prom_server *p, const uint8_t *payload, size_t len)
{
	uint8_t *copy;

	if (p == NULL || payload == NULL || len == 0 || len > SG_IPC_MAX_MSG)
		return;
	if ((copy = malloc(len)) == NULL) {
		sg_log(SG_LOG_WARN, "prom: no memory for a snapshot; keeping "
		    "the previous one");
		return;
	}
	memcpy(copy, payload, len);
	free(p->snap);
	p->snap = copy;
	p->snaplen = len;
	/* Clients still sending the old text keep their reference. */
	body_unref(p->rendered);
	p->rendered = NULL;
}

/* "1.2.3.4", "::1" or "[::1]"; NULL or "" is every IPv4 address. */
static int
parse_address(const char *address, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char tmp[64];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (address == NULL || *address == '\0')
		address = "0.0.0.0";
	n = strlen(address);
	if (n >= sizeof(tmp))
		return -1;
	if (address[0] == '[' && n > 2 && address[n - 1] == ']') {
		memcpy(tmp, address + 1, n - 2);
		tmp[n - 2] = '\0';
	} else
		memcpy(tmp, address, n + 1);
	if (inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

struct prom_server *
prom_new(const char *address, uint16_t port, const char *path)
{
	struct prom_server *p;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1;

	if (path == NULL || path[0] != '/' || strlen(path) >= PROM_PATH_MAX ||
	    strpbrk(path, " ?\r\n") != NULL) {
		sg_log(SG_LOG_ERR, "prom: invalid path \"%.140s\"",
		    path ? path : "");
		return NULL;
	}
	if (parse_address(address, port, &ss, &sslen) < 0) {
		sg_log(SG_LOG_ERR, "prom: \"%.64s\" is not an IPv4 or IPv6 "
		    "address", address);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->ttl_ns = UINT64_MAX;
	for (size_t i = 0; i < PROM_MAX_CLIENTS; i++)
		p->cl[i].fd = -1;
	p->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->lfd < 0) {
		sg_log(SG_LOG_ERR, "prom: socket: %s", strerror(errno));
		free(p);
		return NULL;
	}
	if (setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) < 0 ||
	    bind(p->lfd, (struct sockaddr *)&ss, sslen) < 0 ||
	    listen(p->lfd, PROM_MAX_CLIENTS) < 0) {
		sg_log(SG_LOG_ERR, "prom: listen on %s port %u: %s",
		    address && *address ? address : "0.0.0.0", port,
		    strerror(errno));
		close(p->lfd);
		free(p);
		return NULL;
	}
	return p;
}

void
prom_free(struct prom_server *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < PROM_MAX_CLIENTS; i++)
		client_close(&p->cl[i]);
	body_unref(p->rendered);
	free(p->snap);
	close(p->lfd);
	free(p);
}
