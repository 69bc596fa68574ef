/*
 * Connection table: open addressing over a fixed array of slots.  A key
 * lives within CONNS_WINDOW slots of its hash, so a lookup reads at most
 * that many slots and freeing a slot needs no tombstone.  When a window
 * has no free slot, its least recently used connection gives way.
 */
#include "conns.h"

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CONNS_WINDOW	16
/* Slots at the start (a sixteenth of the capacity, at most this many),
 * doubled while connections come, up to the capacity asked for: a sparse
 * table of the full capacity had a page resident for nearly every
 * connection (1.8 of its 2.2 MB with 1,000 connections). */
#define CONNS_SLOTS_START	1024

_Static_assert(offsetof(struct sg_data_event, data) == SG_DATA_EVENT_HDR_SIZE,
    "data[] must follow the fixed part of a data event");

/* A parser state not attached to a connection, on its protocol's free
 * list (a state is at least this large: proto_ops() sizes). */
struct conns_spare {
	struct conns_spare	*next;
};

struct sg_conns {
	struct sg_conn		*slot;
	uint32_t		*byaddr;	/* address index: slot + 1 */
	struct conns_spare	*spare[SG_PROTO_MAX];	/* free lists */
	size_t			 nstates;	/* allocated, in use or spare */
	uint32_t		 enabled;	/* 1 << enum sg_proto */
	size_t			 mask;		/* slots - 1 */
	size_t			 amask;		/* byaddr's entries - 1: twice
						 * the slots, so that its
						 * windows are rarely full */
	size_t			 max_slots;	/* the capacity asked for */
	size_t			 window;
	uint64_t		 timeout_ns;	/* idle parser state */
	struct sg_timeouts	 app_timeouts;
	conns_emit_fn		 emit;
	void			*ctx;
	struct sg_conn		*cur;		/* whose exchanges are ending */
	struct tracelink	*tl;		/* NULL: no trace links */
	struct conns_kpending	*kpending;	/* propagation's; NULL until
						 * the first comes */
	uint64_t		 peer_wait_ns;	/* when a server request last
						 * started before its caller's
						 * write was seen; 0: none */
	struct sg_conns_stats	 st;
};

/*
 * Kernel contexts (SG_EV_TRACE) awaiting the data event they came with.
 * That event follows at once from the same CPU; other CPUs' events may
 * come between, so a few are kept, by connection, the oldest replaced.
 */
#define CONNS_KPENDING 16

/* How long after a server request's start its caller's write may still
 * be reported (tracelink_peer_wrote). */
#define CONNS_PEER_WAIT_NS (100ull * 1000 * 1000)

struct conns_kpending {
	struct {
		uint32_t pid;		/* 0: free */
		uint64_t sock;		/* conns key */
		struct tracelink_kctx k;
	} e[CONNS_KPENDING];
	unsigned next;			/* the slot the next one takes */
	unsigned used;			/* slots taken */
};

static size_t
conns_hash(uint32_t pid, uint64_t sock)
{
	uint64_t h = sock ^ ((uint64_t)pid << 32 | pid);

	/* socket addresses share their low and high bits: mix them all */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (size_t)h;
}

static struct sg_conn *
conns_at(struct sg_conns *t, size_t home, size_t i)
{
	return &t->slot[(home + i) & t->mask];
}

/* ---- The address index: both ends of a connection on this host are
 * two entries of the table (two processes, two sockets); it finds one
 * from the other by their mirrored addresses.  Same windows as the
 * table; an entry whose window is full is left out and counted. */

/* Addresses as the index compares them: IPv4 as IPv4-mapped IPv6, so
 * that a dual-stack socket's end matches an AF_INET one. */
struct conns_addrs {
	uint8_t  a[16], b[16];
	uint16_t aport, bport;
};

static void
conns_addr16(uint8_t out[16], uint16_t family, const uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (family == AF_INET) {
		memcpy(out, v4mapped, sizeof(v4mapped));
		memcpy(out + 12, addr, 4);
	} else
		memcpy(out, addr, 16);
}

/* c's own addresses (mirror false), or its peer's view of them. */
static bool
conns_addrs_of(const struct sg_conn *c, bool mirror, struct conns_addrs *k)
{
	const struct sg_conn_id *id = &c->id;

	if (id->family != AF_INET && id->family != AF_INET6)
		return false;
	memset(k, 0, sizeof(*k));
	conns_addr16(mirror ? k->b : k->a, id->family, id->laddr);
	conns_addr16(mirror ? k->a : k->b, id->family, id->raddr);
	k->aport = mirror ? id->rport : id->lport;
	k->bport = mirror ? id->lport : id->rport;
	return true;
}

static size_t
conns_addrs_hash(const struct conns_addrs *k)
{
	uint64_t w[4], h = (uint64_t)k->aport << 16 | k->bport;

	memcpy(w, k->a, 16);
	memcpy(w + 2, k->b, 16);
	for (size_t i = 0; i < 4; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return conns_hash((uint32_t)h, h >> 7);
}

static bool
conns_addrs_equal(const struct conns_addrs *x, const struct conns_addrs *y)
{
	return x->aport == y->aport && x->bport == y->bport &&
	    memcmp(x->a, y->a, 16) == 0 && memcmp(x->b, y->b, 16) == 0;
}

static void
conns_unindex(struct sg_conns *t, struct sg_conn *c)
{
	if (c->byaddr == 0)
		return;
	t->byaddr[c->byaddr - 1] = 0;
	c->byaddr = 0;
}

static void
conns_index(struct sg_conns *t, struct sg_conn *c)
{
	struct conns_addrs k;
	size_t home, pos;

	conns_unindex(t, c);
	if (!conns_addrs_of(c, false, &k))
		return;
	home = conns_addrs_hash(&k);
	for (size_t i = 0; i < t->window; i++) {
		pos = (home + i) & t->amask;
		if (t->byaddr[pos] != 0)
			continue;
		t->byaddr[pos] = (uint32_t)(c - t->slot) + 1;
		c->byaddr = (uint32_t)pos + 1;
		return;
	}
	t->st.unindexed++;
}

/* The addresses are those of the connection as last seen: the index
 * follows when they change (a reused socket), and only then. */
static void
conns_set_id(struct sg_conns *t, struct sg_conn *c,
    const struct sg_conn_id *id)
{
	bool same = c->id.family == id->family &&
	    c->id.lport == id->lport && c->id.rport == id->rport &&
	    memcmp(c->id.laddr, id->laddr, 16) == 0 &&
	    memcmp(c->id.raddr, id->raddr, 16) == 0;

	c->id = *id;
	if (!same)
		conns_index(t, c);
}

/* Of two candidates for the other end, the better one. */
static bool
conns_better_peer(const struct sg_conn *a, const struct sg_conn *b)
{
	if (b == NULL)
		return true;
	if ((a->tls == SG_CONN_TLS_RECORDS) != (b->tls == SG_CONN_TLS_RECORDS))
		return b->tls == SG_CONN_TLS_RECORDS;
	return a->last_ns > b->last_ns;
}

static struct sg_conn *
conns_peer_of(const struct sg_conns *t, const struct sg_conn *c)
{
	struct sg_conn *best = NULL, *p;
	struct conns_addrs want, have;
	size_t home;
	uint32_t s;

	if (t == NULL || c == NULL || !conns_addrs_of(c, true, &want))
		return NULL;
	home = conns_addrs_hash(&want);
	for (size_t i = 0; i < t->window; i++) {
		if ((s = t->byaddr[(home + i) & t->amask]) == 0)
			continue;
		p = &t->slot[s - 1];
		/* a socket connected to itself is its own peer: not one */
		if (p == c || p->sock == 0 || !conns_addrs_of(p, false, &have) ||
		    !conns_addrs_equal(&have, &want) ||
		    (p->pid == c->pid && (p->sock & ~(uint64_t)SG_CONN_KEY_TLS)
		    == (c->sock & ~(uint64_t)SG_CONN_KEY_TLS)))
			continue;
		if (conns_better_peer(p, best))
			best = p;
	}
	return best;
}

const struct sg_conn *
conns_peer(const struct sg_conns *t, const struct sg_conn *c)
{
	return conns_peer_of(t, c);
}

static bool
conns_older(uint64_t now_ns, uint64_t then_ns, uint64_t timeout_ns)
{
	return now_ns > then_ns && now_ns - then_ns > timeout_ns;
}

/* The exchange ex of c ended: the trace context it took is spent. */
static void
conns_spent(struct sg_conns *t, struct sg_conn *c, const struct sg_exchange *ex)
{
	if (t->tl != NULL && c != NULL)
		tracelink_spent(t->tl, &c->trace, c->pid,
		    ex->role != SG_ROLE_UNKNOWN ? ex->role : c->role, ex);
}

/* Timed-out exchanges are only counted; the rest go to the caller. */
static void
conns_emit_exchange(void *arg, const struct sg_exchange *ex)
{
	struct sg_conns *t = arg;

	if (ex->flags & SG_EX_TIMED_OUT) {
		t->st.timed_out++;
		conns_spent(t, t->cur, ex);
		return;
	}
	if (t->cur == NULL)
		return;
	/* A parser may learn the role from the very bytes that end an
	 * exchange: the connection says it before the caller sees it. */
	if (t->cur->role == SG_ROLE_UNKNOWN)
		t->cur->role = ex->role;
	if (t->emit != NULL)
		t->emit(t->ctx, t->cur, ex);
	conns_spent(t, t->cur, ex);
}

/* A table of n slots (a power of two), empty, and its address index. */
static int
conns_alloc_slots(struct sg_conns *t, size_t n)
{
	struct sg_conn *slot = calloc(n, sizeof(*slot));
	uint32_t *byaddr = calloc(2 * n, sizeof(*byaddr));

	if (slot == NULL || byaddr == NULL) {
		free(slot);
		free(byaddr);
		return -1;
	}
	t->slot = slot;
	t->byaddr = byaddr;
	t->mask = n - 1;
	t->amask = 2 * n - 1;
	t->window = n < CONNS_WINDOW ? n : CONNS_WINDOW;
	return 0;
}

struct sg_conns *
conns_new(size_t capacity, uint64_t request_timeout_ns, conns_emit_fn emit,
    void *ctx)
{
	struct sg_conns *t;
	size_t cap = 1;

	if (capacity == 0 || capacity > SIZE_MAX / 2 / sizeof(struct sg_conn))
		return NULL;
	while (cap < capacity)
		cap <<= 1;
	if (cap > UINT32_MAX / 2 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->max_slots = cap;
	if (conns_alloc_slots(t, cap / 16 == 0 ? 1 :
	    cap / 16 < CONNS_SLOTS_START ? cap / 16 : CONNS_SLOTS_START) < 0) {
		free(t);
		return NULL;
	}
	t->timeout_ns = request_timeout_ns;
	for (size_t a = 0; a < SG_APP_MAX; a++)
		t->app_timeouts.ns[a] = request_timeout_ns;
	t->enabled = ~0u;
	t->emit = emit;
	t->ctx = ctx;
	return t;
}

void
conns_free(struct sg_conns *t)
{
	struct conns_spare *s;

	if (t == NULL)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		free(t->slot[i].state);
	free(t->kpending);
	for (size_t p = 0; p < SG_PROTO_MAX; p++)
		while ((s = t->spare[p]) != NULL) {
			t->spare[p] = s->next;
			free(s);
		}
	free(t->byaddr);
	free(t->slot);
	free(t);
}

void
conns_set_timeout(struct sg_conns *t, uint8_t app, uint64_t ns)
{
	if (t != NULL && app < SG_APP_MAX)
		t->app_timeouts.ns[app] = ns;
}

/* Contexts drawn with another table (or none) mean nothing now. */
void
conns_set_tracelink(struct sg_conns *t, struct tracelink *tl)
{
	if (t == NULL || t->tl == tl)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		memset(&t->slot[i].trace, 0, sizeof(t->slot[i].trace));
	t->tl = tl;
}

void
conns_set_protocols(struct sg_conns *t, uint32_t enabled)
{
	if (t != NULL)
		t->enabled = enabled;
}

static const struct sg_proto_ops *
conns_ops(const struct sg_conn *c)
{
	return proto_ops(c->proto);
}

/* Whether c's parser has nothing in flight (no state: nothing at all). */
static bool
conns_idle(const struct sg_conn *c)
{
	return c->state == NULL || conns_ops(c)->idle(c->state);
}

/* Parser state for c, fresh for its role.  At most one per slot exists,
 * so the states are bounded by the capacity.  NULL when out of memory:
 * the event is then counted as unparsed. */
static void *
conns_attach(struct sg_conns *t, struct sg_conn *c)
{
	const struct sg_proto_ops *ops = conns_ops(c);
	struct conns_spare *s;
	size_t size;

	if (c->state != NULL)
		return c->state;
	if ((s = t->spare[c->proto]) != NULL)
		t->spare[c->proto] = s->next;
	else {
		size = ops->state_size > sizeof(*s) ? ops->state_size :
		    sizeof(*s);
		if ((s = calloc(1, size)) == NULL)
			return NULL;
		t->nstates++;
	}
	ops->init(s, c->role);
	c->state = s;
	return c->state;
}

/* The state goes back to its protocol's free list: the connection is
 * idle and its parser keeps nothing between exchanges, or it is gone. */
static void
conns_detach(struct sg_conns *t, struct sg_conn *c)
{
	struct conns_spare *s;

	if (c->state == NULL)
		return;
	c->role = conns_ops(c)->role(c->state);
	s = c->state;
	s->next = t->spare[c->proto];
	t->spare[c->proto] = s;
	c->state = NULL;
}

/* After an exchange: a parser that keeps nothing between exchanges
 * gives its state back when idle. */
static void
conns_maybe_detach(struct sg_conns *t, struct sg_conn *c)
{
	const struct sg_proto_ops *ops = conns_ops(c);

	if (c->state != NULL && !ops->keep_state && ops->idle(c->state))
		conns_detach(t, c);
}

static struct sg_conn *
conns_lookup(struct sg_conns *t, uint32_t pid, uint64_t sock)
{
	size_t home = conns_hash(pid, sock), i;
	struct sg_conn *c;

	for (i = 0; i < t->window; i++) {
		c = conns_at(t, home, i);
		if (c->sock == sock && c->pid == pid)
			return c;
	}
	return NULL;
}

/* A free slot in home's window, or NULL. */
static struct sg_conn *
conns_empty_slot(struct sg_conns *t, size_t home)
{
	struct sg_conn *c;

	for (size_t i = 0; i < t->window; i++)
		if ((c = conns_at(t, home, i))->sock == 0)
			return c;
	return NULL;
}

/* A connection that fits nowhere (in a table that cannot grow) goes, its
 * exchange in flight counted as evicted. */
static void
conns_evict(struct sg_conns *t, struct sg_conn *c)
{
	if (!conns_idle(c))
		t->st.evicted++;
	conns_detach(t, c);
	conns_unindex(t, c);
	t->st.active--;
}

/*
 * Twice the slots, every connection moved into them.  No pointer into
 * the table lives across an insert (t->cur only while a parser runs;
 * the address index holds slot numbers, rebuilt here).  -1 with the
 * table as it was when at its capacity or out of memory.
 */
static int
conns_grow(struct sg_conns *t)
{
	struct sg_conn *old = t->slot, *c;
	uint32_t *old_byaddr = t->byaddr;
	size_t n = t->mask + 1;

	if (n >= t->max_slots || conns_alloc_slots(t, 2 * n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (old[i].sock == 0)
			continue;
		if ((c = conns_empty_slot(t, conns_hash(old[i].pid,
		    old[i].sock))) == NULL) {
			old[i].byaddr = 0;	/* not in the new index */
			conns_evict(t, &old[i]);
			continue;
		}
		*c = old[i];
		c->byaddr = 0;
		conns_index(t, c);
	}
	free(old);
	free(old_byaddr);
	return 0;
}

/* Idle connections go first: dropping them loses nothing. */
static bool
conns_better_victim(const struct sg_conn *a, const struct sg_conn *b)
{
	bool aidle = conns_idle(a), bidle = conns_idle(b);

	if (aidle != bidle)
		return aidle;
	return a->last_ns < b->last_ns;
}

/* A slot for a new connection in home's window: a free one, in a table
 * grown when half full or when the window is, else the best victim's. */
static struct sg_conn *
conns_free_slot(struct sg_conns *t, size_t home)
{
	struct sg_conn *c, *victim = NULL;
	size_t i;

	if (t->st.active >= (t->mask + 1) / 2)
		(void)conns_grow(t);
	while ((c = conns_empty_slot(t, home)) == NULL)
		if (conns_grow(t) < 0)
			break;
	if (c != NULL)
		return c;
	for (i = 0; i < t->window; i++) {
		c = conns_at(t, home, i);
		if (victim == NULL || conns_better_victim(c, victim))
			victim = c;
	}
	conns_evict(t, victim);
	return victim;
}

static struct sg_conn *
conns_insert(struct sg_conns *t, uint32_t pid, uint64_t sock, uint8_t role,
    uint64_t ts_ns)
{
	struct sg_conn *c = conns_free_slot(t, conns_hash(pid, sock));

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->sock = sock;
	c->id.sock = sock & ~(uint64_t)SG_CONN_KEY_TLS;
	if (sock & SG_CONN_KEY_TLS)
		c->tls = SG_CONN_TLS_PLAINTEXT;
	c->role = role;
	c->last_ns = ts_ns;
	t->st.active++;
	return c;
}

static struct sg_conn *
conns_get(struct sg_conns *t, uint32_t pid, uint64_t sock, uint8_t role,
    uint64_t ts_ns)
{
	struct sg_conn *c;

	if ((c = conns_lookup(t, pid, sock)) != NULL)
		return c;
	return conns_insert(t, pid, sock, role, ts_ns);
}

static void
conns_remove(struct sg_conns *t, struct sg_conn *c)
{
	conns_detach(t, c);
	conns_unindex(t, c);
	c->sock = 0;
	c->pid = 0;
	t->st.active--;
}

/* The socket is gone: what it was delimiting by close ends now. */
static void
conns_close(struct sg_conns *t, struct sg_conn *c, uint64_t ts_ns)
{
	if (c->state == NULL)
		return;
	t->cur = c;
	conns_ops(c)->on_close(c->state, ts_ns, conns_emit_exchange, t);
	t->cur = NULL;
}

/* The socket is now known to play `role`.  Another role than the one
 * recorded means the address was reused by a new connection whose
 * predecessor's close was missed. */
static void
conns_set_role(struct sg_conns *t, struct sg_conn *c, uint8_t role,
    uint64_t ts_ns)
{
	if (role == SG_ROLE_UNKNOWN || role == c->role)
		return;
	if (c->role != SG_ROLE_UNKNOWN) {
		/* a new connection: its protocol is to be found again */
		conns_close(t, c, ts_ns);
		conns_detach(t, c);
		c->proto = SG_PROTO_NONE;
		memset(&c->trace, 0, sizeof(c->trace));
	}
	c->role = role;
	if (c->state != NULL)
		conns_ops(c)->init(c->state, role);
}

/* Its connections end where they were last seen active. */
void
conns_forget_pid(struct sg_conns *t, uint32_t pid)
{
	for (size_t i = 0; t != NULL && i <= t->mask; i++) {
		struct sg_conn *c = &t->slot[i];

		if (c->sock == 0 || c->pid != pid)
			continue;
		conns_close(t, c, c->last_ns);
		conns_remove(t, c);
	}
}

/* The port that names the service: ours for a server, the peer's for a
 * client. */
static uint16_t
conns_service_port(const struct sg_conn *c)
{
	return c->role == SG_ROLE_CLIENT ? c->id.rport : c->id.lport;
}

/* A connection of unknown protocol: its first bytes may tell.  Whether
 * a parser now follows it. */
static bool
conns_detect(struct sg_conns *t, struct sg_conn *c, uint8_t dir,
    const uint8_t *data, size_t captured)
{
	bool maybe;

	if (c->proto != SG_PROTO_NONE)
		return true;
	c->proto = proto_detect(t->enabled, data, captured, dir,
	    conns_service_port(c), &maybe);
	return c->proto != SG_PROTO_NONE;
}

/* What the parser's counters moved by, into the table's. */
static void
conns_count(struct sg_conns *t, const struct sg_proto_counters *before,
    const struct sg_proto_counters *after)
{
	t->st.unparsed += after->unparsed - before->unparsed;
	t->st.unpaired += after->unpaired - before->unpaired;
	t->st.dropped += after->dropped - before->dropped;
	t->st.unknown += after->unknown - before->unknown;
}

/* One buffer (or what follows a switch in it) to c's parser.  Inlined:
 * called once per event, a call of its own cost ~60 instructions. */
static inline __attribute__((always_inline)) void
conns_feed(struct sg_conns *t, struct sg_conn *c, uint8_t dir, uint64_t ts,
    uint64_t len, const uint8_t *data, size_t captured, const uint8_t *tail)
{
	const struct sg_proto_ops *ops = conns_ops(c);
	struct sg_proto_counters before, after;

	t->cur = c;
	ops->counters(c->state, &before);
	ops->on_data(c->state, dir, ts, len, data, captured, tail,
	    conns_emit_exchange, t);
	ops->counters(c->state, &after);
	conns_count(t, &before, &after);
	t->cur = NULL;
	c->role = ops->role(c->state);
}

/*
 * The parser handed the connection over (HTTP/1.1 upgraded to h2c): the
 * next takes its request in flight and the rest of the buffer.  Without
 * the next (not enabled, no memory) the request is counted as dropped and
 * the rest as not parsed.
 */
static void
conns_switch(struct sg_conns *t, struct sg_conn *c, const struct sg_handoff *h,
    uint8_t dir, uint64_t ts, uint64_t len, const uint8_t *data,
    size_t captured, const uint8_t *tail)
{
	const struct sg_proto_ops *to = proto_ops(h->proto);
	uint64_t at = h->off < len ? h->off : len;
	size_t cut = at < captured ? (size_t)at : captured;

	conns_detach(t, c);
	c->proto = h->proto;
	if (to == NULL || to->adopt == NULL ||
	    !(t->enabled & (1u << h->proto)) || conns_attach(t, c) == NULL) {
		c->proto = SG_PROTO_NONE;
		t->st.dropped++;
		t->st.unparsed += len - at;
		return;
	}
	to->adopt(c->state, c->role, h);
	if (at < len)
		conns_feed(t, c, dir, ts, len - at, data + cut, captured - cut,
		    tail);
}

/* The kernel context that came with the connection's data event now,
 * taken out of the pending ones; false when none did. */
static bool
conns_kctx_take(struct sg_conns *t, const struct sg_conn *c,
    struct tracelink_kctx *out)
{
	struct conns_kpending *kp = t->kpending;

	if (kp == NULL || kp->used == 0)
		return false;
	for (unsigned i = 0; i < CONNS_KPENDING; i++)
		if (kp->e[i].pid == c->pid && kp->e[i].sock == c->sock) {
			*out = kp->e[i].k;
			kp->e[i].pid = 0;
			kp->used--;
			return true;
		}
	return false;
}

static int
conns_on_trace(struct sg_conns *t, const uint8_t *ev, size_t size)
{
	struct conns_kpending *kp = t->kpending;
	struct sg_trace_event e;
	unsigned i;

	if (size != sizeof(e))
		return -1;
	memcpy(&e, ev, sizeof(e));
	if ((e.kind != SG_TRACE_SERVER && e.kind != SG_TRACE_CLIENT) ||
	    e.conn.sock == 0 || (e.conn.sock & SG_CONN_KEY_TLS) ||
	    e.hdr.pid == 0)
		return -1;
	/* a request that took both is counted by its header */
	if (e.kind == SG_TRACE_CLIENT && (e.via & SG_PROP_HEADERS))
		t->st.propagated[0]++;
	else if (e.kind == SG_TRACE_CLIENT && (e.via & SG_PROP_TCPOPT))
		t->st.propagated[1]++;
	if (t->tl == NULL)
		return 0;   /* no spans: nothing to link */
	if (kp == NULL && (kp = t->kpending = calloc(1, sizeof(*kp))) == NULL)
		return 0;
	i = kp->next;
	kp->next = (i + 1) % CONNS_KPENDING;
	if (kp->e[i].pid != 0)
		t->st.kctx_unused++;
	else
		kp->used++;
	kp->e[i].pid = e.hdr.pid;
	kp->e[i].sock = e.conn.sock |
	    (e.data_flags & SG_DATA_TLS ? SG_CONN_KEY_TLS : 0);
	memcpy(kp->e[i].k.trace_id, e.trace_id, sizeof(e.trace_id));
	memcpy(kp->e[i].k.span_id, e.span_id, sizeof(e.span_id));
	kp->e[i].k.kind = e.kind;
	kp->e[i].k.flags = e.flags;
	kp->e[i].k.via = e.via;
	return 0;
}

/*
 * A server's read: the request in flight, with the traceparent its
 * parser has read so far and, when it starts, the client end of the
 * connection if this host follows it.
 */
static void
conns_link_server(struct sg_conns *t, struct sg_conn *c, uint32_t tid,
    uint64_t ts, const struct tracelink_kctx *k)
{
	const struct sg_proto_ops *ops = conns_ops(c);
	const struct sg_conn *peer = NULL;
	uint8_t trace_id[16], parent_id[8];
	int tf = 0;

	if (c->state != NULL && ops->trace_ctx != NULL &&
	    (tf = ops->trace_ctx(c->state, trace_id, parent_id)) < 0)
		return;
	if (tracelink_server_starts(&c->trace) && !c->trace.no_peer) {
		peer = conns_peer(t, c);
		c->trace.no_peer = peer == NULL;
		if (peer != NULL && peer->role != SG_ROLE_CLIENT)
			peer = NULL;
	}
	tracelink_server_read(t->tl, &c->trace, c->pid, tid, ts, (uint8_t)tf,
	    trace_id, parent_id, peer != NULL ? &peer->trace : NULL, k);
	if (c->trace.peer_wait)
		t->peer_wait_ns = ts;
}

/*
 * A client's request just opened its context: the server end's request
 * may have been read before this write was reported.  Looked up only
 * shortly after some server request started so: the write came before
 * the read, its report at most a scheduling delay after.
 */
static void
conns_link_late_peer(struct sg_conns *t, struct sg_conn *c, uint64_t ts)
{
	struct sg_conn *srv;

	if (t->peer_wait_ns == 0 || c->trace.state != TRACELINK_OPEN)
		return;
	if (conns_older(ts, t->peer_wait_ns, CONNS_PEER_WAIT_NS)) {
		t->peer_wait_ns = 0;
		return;
	}
	srv = conns_peer_of(t, c);
	if (srv == NULL || srv->role != SG_ROLE_SERVER)
		return;
	/* its end is known now: the next requests look it up */
	srv->trace.no_peer = 0;
	/* a request read long before is not this write's */
	if (!conns_older(ts, srv->last_ns, CONNS_PEER_WAIT_NS))
		tracelink_peer_wrote(t->tl, &srv->trace, srv->pid, &c->trace);
}

/* A server's reads start its requests' contexts, a client's writes
 * theirs (tracelink.h). */
static void
conns_link(struct sg_conns *t, struct sg_conn *c, uint32_t tid, uint8_t dir,
    uint64_t ts)
{
	struct tracelink_kctx kc;
	const struct tracelink_kctx *k = conns_kctx_take(t, c, &kc) ? &kc :
	    NULL;

	if (c->role == SG_ROLE_SERVER && dir == SG_DIR_READ)
		conns_link_server(t, c, tid, ts, k);
	else if (c->role == SG_ROLE_CLIENT && dir == SG_DIR_WRITE) {
		tracelink_client_write(t->tl, &c->trace, c->pid, tid, ts,
		    c->state != NULL ? conns_ops(c)->pending(c->state) : 0, k);
		conns_link_late_peer(t, c, ts);
	}
}

/*
 * I/O the kernel reported after the connection's close (a write that the
 * peer's reset ended: the close was reported during it): it ends here.
 * Kept, its address would stand for the next connection that reuses it.
 */
static void
conns_end_if_closed(struct sg_conns *t, struct sg_conn *c,
    const struct sg_data_event *d)
{
	if (!(d->flags & SG_DATA_CLOSED))
		return;
	conns_close(t, c, d->hdr.ts_ns);
	conns_remove(t, c);
}

/*
 * Whether bytes start with a TLS record header: a content type
 * (change_cipher_spec, alert, handshake, application_data), version 3.x
 * and a length within a record's bound.  Seen on a socket, they are the
 * handshake before a TLS library's hooks bound the connection, or the
 * traffic of a library the sensor does not hook.
 */
static bool
conns_tls_record(const uint8_t *d, size_t n)
{
	return n >= 5 && d[0] >= 0x14 && d[0] <= 0x17 && d[1] == 3 &&
	    d[2] <= 4 && ((size_t)d[3] << 8 | d[4]) <= 16384 + 2048;
}

/* The bytes of a connection no parser follows: TLS records, or not
 * known. */
static void
conns_unparsed(struct sg_conns *t, struct sg_conn *c, const uint8_t *data,
    size_t captured, uint64_t len)
{
	if (c->tls == SG_CONN_PLAIN && c->proto == SG_PROTO_NONE &&
	    conns_tls_record(data, captured))
		c->tls = SG_CONN_TLS_RECORDS;
	if (c->tls == SG_CONN_TLS_RECORDS)
		t->st.tls_records += len;
	else
		t->st.unparsed += len;
}

static int
conns_on_data(struct sg_conns *t, const uint8_t *ev, size_t size)
{
	const struct sg_proto_ops *ops;
	struct sg_data_event d;
	struct sg_handoff h;
	const uint8_t *data, *tail;
	struct sg_conn *c;
	size_t captured;

	if (size < SG_DATA_EVENT_HDR_SIZE)
		return -1;
	memcpy(&d, ev, SG_DATA_EVENT_HDR_SIZE);
	if (d.captured > SG_CAPTURE_MAX ||
	    size < SG_DATA_EVENT_HDR_SIZE + d.captured ||
	    (d.dir != SG_DIR_READ && d.dir != SG_DIR_WRITE) || d.len <= 0 ||
	    d.role > SG_ROLE_CLIENT || d.conn.sock == 0 ||
	    (d.conn.sock & SG_CONN_KEY_TLS))
		return -1;
	captured = d.flags & SG_DATA_NOPAYLOAD ? 0 : d.captured;
	data = ev + SG_DATA_EVENT_HDR_SIZE;
	tail = d.flags & SG_DATA_TAIL ? d.tail : NULL;

	c = conns_get(t, d.hdr.pid, d.flags & SG_DATA_TLS ?
	    d.conn.sock | SG_CONN_KEY_TLS : d.conn.sock, d.role, d.hdr.ts_ns);
	if (d.conn.family != 0)
		conns_set_id(t, c, &d.conn);
	conns_set_role(t, c, d.role, d.hdr.ts_ns);
	c->last_ns = d.hdr.ts_ns;
	if (c->tls == SG_CONN_TLS_RECORDS ||
	    !conns_detect(t, c, d.dir, data, captured) ||
	    conns_attach(t, c) == NULL) {
		conns_unparsed(t, c, data, captured, (uint64_t)d.len);
		conns_end_if_closed(t, c, &d);
		return 0;
	}
	conns_feed(t, c, d.dir, d.hdr.ts_ns, (uint64_t)d.len, data, captured,
	    tail);
	ops = conns_ops(c);
	if (ops->handoff != NULL && ops->handoff(c->state, &h))
		conns_switch(t, c, &h, d.dir, d.hdr.ts_ns, (uint64_t)d.len,
		    data, captured, tail);
	if (t->tl != NULL)
		conns_link(t, c, d.hdr.tid, d.dir, d.hdr.ts_ns);
	conns_maybe_detach(t, c);
	conns_end_if_closed(t, c, &d);
	return 0;
}

static int
conns_on_conn(struct sg_conns *t, const uint8_t *ev, size_t size)
{
	struct sg_conn_event e;
	struct sg_conn *c;

	if (size != sizeof(e))
		return -1;
	memcpy(&e, ev, sizeof(e));
	if (e.role > SG_ROLE_CLIENT || e.conn.sock == 0 ||
	    (e.conn.sock & SG_CONN_KEY_TLS))
		return -1;
	c = conns_get(t, e.hdr.pid, e.conn.sock, e.role, e.hdr.ts_ns);
	conns_set_id(t, c, &e.conn);
	conns_set_role(t, c, e.role, e.hdr.ts_ns);
	c->last_ns = e.hdr.ts_ns;
	return 0;
}

static int
conns_on_close(struct sg_conns *t, const uint8_t *ev, size_t size)
{
	struct sg_close_event e;
	struct sg_conn *c;

	if (size != sizeof(e))
		return -1;
	memcpy(&e, ev, sizeof(e));
	if (e.conn.sock == 0 || (e.conn.sock & SG_CONN_KEY_TLS))
		return -1;
	/* The socket, and its plaintext when TLS ran over it. */
	for (uint64_t tls = 0; tls <= SG_CONN_KEY_TLS; tls++) {
		if ((c = conns_lookup(t, e.hdr.pid, e.conn.sock | tls)) == NULL)
			continue;
		conns_close(t, c, e.hdr.ts_ns);
		conns_remove(t, c);
	}
	return 0;
}

int
conns_handle_event(struct sg_conns *t, const void *ev, size_t size)
{
	struct sg_event_hdr h;
	int rc;

	if (t == NULL)
		return -1;
	if (ev == NULL || size < sizeof(h)) {
		t->st.bad_events++;
		return -1;
	}
	memcpy(&h, ev, sizeof(h));
	switch (h.type) {
	case SG_EV_DATA:
		rc = conns_on_data(t, ev, size);
		break;
	case SG_EV_CONN:
		rc = conns_on_conn(t, ev, size);
		break;
	case SG_EV_CLOSE:
		rc = conns_on_close(t, ev, size);
		break;
	case SG_EV_TRACE:
		rc = conns_on_trace(t, ev, size);
		break;
	default:
		rc = -1;
		break;
	}
	if (rc < 0) {
		t->st.bad_events++;
		return -1;
	}
	t->st.events++;
	return 0;
}

void
conns_tick(struct sg_conns *t, uint64_t now_ns)
{
	struct sg_conn *c;
	size_t i;

	if (t == NULL || t->timeout_ns == 0)
		return;
	for (i = 0; i <= t->mask; i++) {
		c = &t->slot[i];
		if (c->sock == 0)
			continue;
		if (c->state != NULL) {
			t->cur = c;
			conns_ops(c)->expire(c->state, now_ns, &t->app_timeouts,
			    conns_emit_exchange, t);
			t->cur = NULL;
			conns_maybe_detach(t, c);
		}
		/* A parser whose state lasts as long as the connection
		 * (HPACK tables) keeps it until it closes or is evicted. */
		if (conns_idle(c) && (c->state == NULL ||
		    !conns_ops(c)->keep_state) &&
		    conns_older(now_ns, c->last_ns, t->timeout_ns))
			conns_remove(t, c);
	}
}

void
conns_finish(struct sg_conns *t)
{
	for (size_t i = 0; t != NULL && i <= t->mask; i++) {
		const struct sg_conn *c = &t->slot[i];

		if (c->sock != 0 && c->state != NULL)
			t->st.cut_off += conns_ops(c)->pending(c->state);
	}
}

void
conns_stats(const struct sg_conns *t, struct sg_conns_stats *out)
{
	if (out == NULL)
		return;
	if (t == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = t->st;
	out->states = t->nstates;
}
