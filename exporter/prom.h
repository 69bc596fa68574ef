/*
 * Prometheus text exposition endpoint.  A small non-blocking HTTP/1.1
 * server for GET <path>; it renders the latest metric snapshot (the
 * collector's and the sensor's own metrics, exporter/snapshot.h).  Bounded: a few clients at once, small requests,
 * idle clients closed after a timeout.
 */
#ifndef SG_PROM_H
#define SG_PROM_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct prom_server;

/* Bind and listen; NULL on failure (logged). */
struct prom_server *prom_new(const char *address, uint16_t port,
    const char *path);
void prom_free(struct prom_server *p);
/* Leave out the series idle for longer than ttl_ns (none until set). */
void prom_set_ttl(struct prom_server *p, uint64_t ttl_ns);
/* Keep a copy of the latest SG_MSG_METRICS payload. */
void prom_set_snapshot(struct prom_server *p, const uint8_t *payload,
    size_t len);
/* Fill pollfds for the listener and clients; returns how many. */
int  prom_pollfds(struct prom_server *p, struct pollfd *fds, int max);
/* Serve whatever poll reported on those fds. */
void prom_service(struct prom_server *p, const struct pollfd *fds, int n);
/* Render a snapshot payload as exposition text into a malloc'd buffer,
 * without the series idle for longer than ttl_ns.
 * Returns the length, or -1 on a malformed snapshot. */
long prom_render(const uint8_t *snap, size_t len, uint64_t ttl_ns,
    char **out);

#endif
