#include "msg.h"

#include <string.h>

void
msg_put_proc(struct wire_w *w, const struct sg_proc_info *p)
{
	wire_put_u32(w, p->pid);
	wire_put_u8(w, p->present);
	wire_put_u64(w, p->start_time);
	wire_put_str(w, p->service_name);
	wire_put_str(w, p->service_namespace);
	wire_put_str(w, p->instance_id);
	wire_put_str(w, p->exe);
}

int
msg_get_proc(struct wire_r *r, struct sg_proc_info *p)
{
	p->pid = wire_get_u32(r);
	p->present = wire_get_u8(r);
	p->start_time = wire_get_u64(r);
	wire_get_str(r, p->service_name, sizeof(p->service_name));
	wire_get_str(r, p->service_namespace, sizeof(p->service_namespace));
	wire_get_str(r, p->instance_id, sizeof(p->instance_id));
	wire_get_str(r, p->exe, sizeof(p->exe));
	return r->err ? -1 : 0;
}

/* The fewest bytes a pstat takes on the wire (an empty comm). */
#define SG_PSTAT_MIN_WIRE (4 + 8 + 1 + 7 * 8 + 2)

void
msg_put_pstats_hdr(struct wire_w *w, const struct sg_pstats_hdr *h)
{
	wire_put_u64(w, h->sample_ns);
	wire_put_u16(w, h->ncpu);
	wire_put_u32(w, h->n);
}

int
msg_get_pstats_hdr(struct wire_r *r, struct sg_pstats_hdr *h)
{
	h->sample_ns = wire_get_u64(r);
	h->ncpu = wire_get_u16(r);
	h->n = wire_get_u32(r);
	if (r->err || h->ncpu == 0 ||
	    h->n > (r->len - r->off) / SG_PSTAT_MIN_WIRE)
		r->err = 1;
	return r->err ? -1 : 0;
}

void
msg_put_pstat(struct wire_w *w, const struct sg_pstat *p)
{
	wire_put_u32(w, p->pid);
	wire_put_u64(w, p->start_time);
	wire_put_u8(w, p->flags);
	wire_put_u64(w, p->started_ns);
	wire_put_u64(w, p->user_us);
	wire_put_u64(w, p->system_us);
	wire_put_u64(w, p->rss_bytes);
	wire_put_u64(w, p->vm_bytes);
	wire_put_u64(w, p->io_read);
	wire_put_u64(w, p->io_write);
	wire_put_str(w, p->comm);
}

int
msg_get_pstat(struct wire_r *r, struct sg_pstat *p)
{
	p->pid = wire_get_u32(r);
	p->start_time = wire_get_u64(r);
	p->flags = wire_get_u8(r);
	p->started_ns = wire_get_u64(r);
	p->user_us = wire_get_u64(r);
	p->system_us = wire_get_u64(r);
	p->rss_bytes = wire_get_u64(r);
	p->vm_bytes = wire_get_u64(r);
	p->io_read = wire_get_u64(r);
	p->io_write = wire_get_u64(r);
	wire_get_str(r, p->comm, sizeof(p->comm));
	if (p->pid == 0 || (p->flags & ~SG_PSTAT_FLAGS))
		r->err = 1;
	return r->err ? -1 : 0;
}

void
msg_put_peer(struct wire_w *w, uint32_t pid)
{
	wire_put_u32(w, pid);
}

int
msg_get_peer(const void *payload, size_t size, uint32_t *pid)
{
	struct wire_r r;

	wire_r_init(&r, payload, size);
	*pid = wire_get_u32(&r);
	return r.err || *pid == 0 || !wire_r_done(&r) ? -1 : 0;
}

void
msg_put_span(struct wire_w *w, const struct sg_span *s)
{
	wire_put_u8(w, s->kind);
	wire_put_u8(w, s->app);
	wire_put_u8(w, s->flags);
	wire_put_u64(w, s->start_ns);
	wire_put_u64(w, s->end_ns);
	wire_put_bytes(w, s->trace_id, sizeof(s->trace_id));
	wire_put_bytes(w, s->span_id, sizeof(s->span_id));
	wire_put_bytes(w, s->parent_span_id, sizeof(s->parent_span_id));
	wire_put_u32(w, s->pid);
	wire_put_str(w, s->service_name);
	wire_put_str(w, s->service_namespace);
	wire_put_str(w, s->instance_id);
	wire_put_str(w, s->exe);
	wire_put_str(w, s->op);
	wire_put_str(w, s->target);
	wire_put_str(w, s->route);
	wire_put_u32(w, s->status);
	wire_put_str(w, s->scheme);
	wire_put_str(w, s->protocol_version);
	wire_put_str(w, s->peer_addr);
	wire_put_u16(w, s->peer_port);
	wire_put_str(w, s->host_addr);
	wire_put_u16(w, s->host_port);
	wire_put_u64(w, s->req_size);
	wire_put_u64(w, s->resp_size);
	wire_put_str(w, s->collection);
	wire_put_str(w, s->db_namespace);
	wire_put_str(w, s->error);
	wire_put_str(w, s->trace_state);
}

int
msg_get_span(struct wire_r *r, struct sg_span *s)
{
	s->kind = wire_get_u8(r);
	s->app = wire_get_u8(r);
	s->flags = wire_get_u8(r);
	s->start_ns = wire_get_u64(r);
	s->end_ns = wire_get_u64(r);
	wire_get_bytes(r, s->trace_id, sizeof(s->trace_id));
	wire_get_bytes(r, s->span_id, sizeof(s->span_id));
	wire_get_bytes(r, s->parent_span_id, sizeof(s->parent_span_id));
	s->pid = wire_get_u32(r);
	wire_get_str(r, s->service_name, sizeof(s->service_name));
	wire_get_str(r, s->service_namespace, sizeof(s->service_namespace));
	wire_get_str(r, s->instance_id, sizeof(s->instance_id));
	wire_get_str(r, s->exe, sizeof(s->exe));
	wire_get_str(r, s->op, sizeof(s->op));
	wire_get_str(r, s->target, sizeof(s->target));
	wire_get_str(r, s->route, sizeof(s->route));
	s->status = wire_get_u32(r);
	wire_get_str(r, s->scheme, sizeof(s->scheme));
	wire_get_str(r, s->protocol_version, sizeof(s->protocol_version));
	wire_get_str(r, s->peer_addr, sizeof(s->peer_addr));
	s->peer_port = wire_get_u16(r);
	wire_get_str(r, s->host_addr, sizeof(s->host_addr));
	s->host_port = wire_get_u16(r);
	s->req_size = wire_get_u64(r);
	s->resp_size = wire_get_u64(r);
	wire_get_str(r, s->collection, sizeof(s->collection));
	wire_get_str(r, s->db_namespace, sizeof(s->db_namespace));
	wire_get_str(r, s->error, sizeof(s->error));
	wire_get_str(r, s->trace_state, sizeof(s->trace_state));
	if ((s->kind != SG_SPAN_SERVER && s->kind != SG_SPAN_CLIENT) ||
	    s->app == 0 || s->app >= SG_APP_MAX || (s->flags & ~SG_SPAN_FLAGS))
		return -1;
	return r->err ? -1 : 0;
}

void
msg_put_snapshot_hdr(struct wire_w *w, const struct sg_snapshot_hdr *h)
{
	wire_put_u16(w, SG_SNAPSHOT_VERSION);
	wire_put_u64(w, h->now_ns);
	wire_put_u64(w, h->ev_first);
	wire_put_u64(w, h->ev_next);
	wire_put_u16(w, h->nfamilies);
}

int
msg_get_snapshot_hdr(struct wire_r *r, struct sg_snapshot_hdr *h)
{
	if (wire_get_u16(r) != SG_SNAPSHOT_VERSION) {
		r->err = 1;
		return -1;
	}
	h->now_ns = wire_get_u64(r);
	h->ev_first = wire_get_u64(r);
	h->ev_next = wire_get_u64(r);
	h->nfamilies = wire_get_u16(r);
	if (h->ev_next < h->ev_first)
		r->err = 1;
	return r->err ? -1 : 0;
}

void
msg_put_family(struct wire_w *w, const struct sg_family_hdr *f)
{
	wire_put_str(w, f->prom_name);
	wire_put_str(w, f->otel_name);
	wire_put_str(w, f->unit);
	wire_put_str(w, f->help);
	wire_put_u8(w, f->type);
	wire_put_u8(w, f->flags);
	/* More bounds than the array holds would encode a count the
	 * bounds do not follow; refuse rather than send a lie. */
	if (f->nbounds > SG_MAX_BOUNDS)
		w->err = 1;
	wire_put_u16(w, f->nbounds);
	for (uint16_t i = 0; i < f->nbounds && i < SG_MAX_BOUNDS; i++)
		wire_put_f64(w, f->bounds[i]);
	wire_put_u32(w, f->nseries);
}

int
msg_get_family(struct wire_r *r, struct sg_family_hdr *f)
{
	wire_get_str(r, f->prom_name, sizeof(f->prom_name));
	wire_get_str(r, f->otel_name, sizeof(f->otel_name));
	wire_get_str(r, f->unit, sizeof(f->unit));
	wire_get_str(r, f->help, sizeof(f->help));
	f->type = wire_get_u8(r);
	f->flags = wire_get_u8(r);
	f->nbounds = wire_get_u16(r);
	if (f->nbounds > SG_MAX_BOUNDS || (f->flags & ~SG_FAMILY_FLAGS) ||
	    f->type < SG_METRIC_COUNTER || f->type > SG_METRIC_HISTOGRAM) {
		r->err = 1;
		return -1;
	}
	for (uint16_t i = 0; i < f->nbounds; i++)
		f->bounds[i] = wire_get_f64(r);
	f->nseries = wire_get_u32(r);
	return r->err ? -1 : 0;
}

void
msg_put_series(struct wire_w *w, const struct sg_family_hdr *f,
    const struct sg_series *s)
{
	if (s->nlabels > SG_MAX_LABELS || f->nbounds > SG_MAX_BOUNDS)
		w->err = 1;  /* as in msg_put_family */
	wire_put_u16(w, s->nlabels);
	for (uint16_t i = 0; i < s->nlabels && i < SG_MAX_LABELS; i++) {
		wire_put_str(w, s->key[i]);
		wire_put_str(w, s->value[i]);
	}
	wire_put_u64(w, s->start_ns);
	wire_put_u64(w, s->idle_ns);
	if (f->type != SG_METRIC_HISTOGRAM) {
		wire_put_f64(w, s->value_f);
		return;
	}
	wire_put_u64(w, s->count);
	wire_put_f64(w, s->sum);
	for (uint16_t i = 0; i <= f->nbounds && i <= SG_MAX_BOUNDS; i++)
		wire_put_u64(w, s->buckets[i]);
}

int
msg_get_series(struct wire_r *r, const struct sg_family_hdr *f,
    uint64_t now_ns, struct sg_series *s)
{
	s->nlabels = wire_get_u16(r);
	if (s->nlabels > SG_MAX_LABELS || f->nbounds > SG_MAX_BOUNDS) {
		r->err = 1;
		return -1;
	}
	for (uint16_t i = 0; i < s->nlabels; i++) {
		wire_get_str(r, s->key[i], sizeof(s->key[i]));
		wire_get_str(r, s->value[i], sizeof(s->value[i]));
	}
	s->start_ns = wire_get_u64(r);
	s->idle_ns = wire_get_u64(r);
	if (s->start_ns > now_ns)
		r->err = 1;
	if (f->type != SG_METRIC_HISTOGRAM) {
		s->value_f = wire_get_f64(r);
		return r->err ? -1 : 0;
	}
	s->count = wire_get_u64(r);
	s->sum = wire_get_f64(r);
	for (uint16_t i = 0; i <= f->nbounds; i++)
		s->buckets[i] = wire_get_u64(r);
	return r->err ? -1 : 0;
}
