/*
 * OTLP delivery: a bounded queue of encoded requests per signal, sent by
 * a thread of its own with libcurl over OTLP/HTTP (application/x-protobuf)
 * or OTLP/gRPC (HTTP/2, gRPC framing, grpc-status from trailers).
 * Retries with exponential backoff and jitter on connection errors, HTTP
 * 429/502/503/504 (honouring Retry-After) and gRPC UNAVAILABLE /
 * RESOURCE_EXHAUSTED; other errors drop the request (counted).  When the
 * queue exceeds its bound the oldest requests are dropped and counted.
 * Errors are logged once per episode (first failure, then recovery).
 */
#ifndef SG_OTLP_SEND_H
#define SG_OTLP_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp_conf.h"

enum otlp_protocol { OTLP_PROTO_HTTP = 0, OTLP_PROTO_GRPC = 1 };

struct otlp_target {
	/* HTTP: the full URL requests are POSTed to (…/v1/traces).
	 * gRPC: scheme://host:port; the path is the signal's service
	 * method (/opentelemetry.proto.collector.trace.v1.TraceService/Export). */
	char     url[544];
	enum otlp_protocol protocol;
	bool     json;              /* HTTP: OTLP JSON, not protobuf */
	char     headers[2064];     /* "k1=v1,k2=v2" (percent-decoded) */
	bool     gzip;
	char     ca_file[256];      /* "" : system CAs */
	bool     insecure;          /* skip TLS verification */
	/* "host:port:address" handed to CURLOPT_RESOLVE: names are
	 * resolved by the loader, outside the sandbox.  "" for none. */
	char     resolve[320];
	uint32_t timeout_ms;        /* per attempt */
	size_t   max_queue_items;   /* spans or data points queued at most */
};

struct otlp_send_stats {
	uint64_t sent_items;        /* delivered (2xx / grpc-status 0) */
	uint64_t dropped_items;     /* queue full, or refused for good */
	uint64_t retries;           /* attempts that will be retried */
	uint64_t queued_items;      /* waiting now */
	uint64_t queued_bytes;
};

struct otlp_sender;

/* Call once, before the sandbox is applied: initialises libcurl and the
 * TLS library (which read their configuration files now) and reads the CA
 * bundle into memory, since the sandboxed exporter can open no file.
 * ca_file: the bundle targets name in ca_file (NULL or "": none); the
 * system bundle is read as well when it exists.  0, or -1 (logged). */
int otlp_send_global_init(const char *ca_file);
/* Whether otlp_send_global_init() succeeded: senders can be made. */
bool otlp_send_ready(void);

/* Starts the sending thread.  NULL on failure (logged). */
struct otlp_sender *otlp_sender_new(enum sg_otlp_sig sig,
    const struct otlp_target *t);
/* Stop the thread (pending requests are dropped and counted). */
void otlp_sender_free(struct otlp_sender *s);
/* Queue one encoded request carrying `items` spans or data points; takes
 * ownership of buf (malloc'd). */
void otlp_sender_enqueue(struct otlp_sender *s, uint8_t *buf, size_t len,
    uint32_t items);
void otlp_sender_stats(struct otlp_sender *s, struct otlp_send_stats *out);

#endif
