#include "procs.h"

#include <string.h>

#include "events.h"

/* Open addressing, linear probing, backward-shift deletion.  The table is
 * static: pages never touched cost no memory. */
struct procs_entry {
	struct sg_proc_info info;
	uint8_t             otel;   /* PROCS_OTEL_*: seen exporting itself */
	uint64_t            net[2]; /* bytes read, written (enum sg_dir) */
};
static struct procs_entry procs[SG_PROCS_MAX];
static size_t nprocs;

static size_t
procs_home(uint32_t pid)
{
	return (pid * 2654435761u) & (SG_PROCS_MAX - 1);
}

static struct procs_entry *
procs_slot(uint32_t pid)
{
	size_t h = procs_home(pid);

	for (size_t i = 0; i < SG_PROCS_MAX; i++, h = (h + 1) & (SG_PROCS_MAX - 1))
		if (procs[h].info.pid == pid || procs[h].info.pid == 0)
			return &procs[h];
	return NULL;
}

static void
procs_remove(struct procs_entry *e)
{
	size_t mask = SG_PROCS_MAX - 1, i = (size_t)(e - procs), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (procs[j].info.pid == 0)
			break;
		if (((j - procs_home(procs[j].info.pid)) & mask) >=
		    ((j - i) & mask)) {
			procs[i] = procs[j];
			i = j;
		}
	}
	memset(&procs[i], 0, sizeof(procs[i]));
	nprocs--;
}

void
procs_update(const struct sg_proc_info *p)
{
	struct procs_entry *e;

	if (p->pid == 0 || (e = procs_slot(p->pid)) == NULL)
		return;
	if (!p->present) {
		if (e->info.pid == p->pid)
			procs_remove(e);
		return;
	}
	if (e->info.pid == 0) {
		if (nprocs == SG_PROCS_MAX - 1)
			return;   /* keep one slot free so probes end */
		nprocs++;
	}
	/* A new program (exec) is looked at anew; a new process (a pid
	 * reused) counts from zero. */
	if (strcmp(e->info.exe, p->exe) != 0)
		e->otel = 0;
	if (e->info.start_time != p->start_time)
		e->net[0] = e->net[1] = 0;
	e->info = *p;
}

const struct sg_proc_info *
procs_find(uint32_t pid)
{
	struct procs_entry *e = pid ? procs_slot(pid) : NULL;

	return e != NULL && e->info.pid == pid ? &e->info : NULL;
}

unsigned
procs_otel(uint32_t pid, unsigned add)
{
	struct procs_entry *e = pid ? procs_slot(pid) : NULL;

	if (e == NULL || e->info.pid != pid)
		return 0;
	e->otel |= (uint8_t)add;
	return e->otel;
}

void
procs_net_add(uint32_t pid, uint8_t dir, uint64_t len)
{
	struct procs_entry *e = pid ? procs_slot(pid) : NULL;

	if (e != NULL && e->info.pid == pid && dir <= SG_DIR_WRITE)
		e->net[dir] += len;
}

bool
procs_net(uint32_t pid, uint64_t *rx, uint64_t *tx)
{
	struct procs_entry *e = pid ? procs_slot(pid) : NULL;

	if (e == NULL || e->info.pid != pid)
		return false;
	*rx = e->net[SG_DIR_READ];
	*tx = e->net[SG_DIR_WRITE];
	return true;
}

void
procs_foreach(void (*fn)(const struct sg_proc_info *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < SG_PROCS_MAX; i++)
		if (procs[i].info.pid != 0)
			fn(&procs[i].info, ctx);
}
