#include "procs.h"

#include <string.h>

/* Open addressing, linear probing, backward-shift deletion.  The table is
 * static: pages never touched cost no memory. */
static struct sg_proc_info procs[SG_PROCS_MAX];
static size_t nprocs;

static size_t
procs_home(uint32_t pid)
{
	return (pid * 2654435761u) & (SG_PROCS_MAX - 1);
}

static struct sg_proc_info *
procs_slot(uint32_t pid)
{
	size_t h = procs_home(pid);

	for (size_t i = 0; i < SG_PROCS_MAX; i++, h = (h + 1) & (SG_PROCS_MAX - 1))
		if (procs[h].pid == pid || procs[h].pid == 0)
			return &procs[h];
	return NULL;
}

static void
procs_remove(struct sg_proc_info *e)
{
	size_t mask = SG_PROCS_MAX - 1, i = (size_t)(e - procs), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (procs[j].pid == 0)
			break;
		if (((j - procs_home(procs[j].pid)) & mask) >= ((j - i) & mask)) {
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
	struct sg_proc_info *e;

	if (p->pid == 0 || (e = procs_slot(p->pid)) == NULL)
		return;
	if (!p->present) {
		if (e->pid == p->pid)
			procs_remove(e);
		return;
	}
	if (e->pid == 0) {
		if (nprocs == SG_PROCS_MAX - 1)
			return;   /* keep one slot free so probes end */
		nprocs++;
	}
	*e = *p;
}

const struct sg_proc_info *
procs_find(uint32_t pid)
{
	struct sg_proc_info *e = pid ? procs_slot(pid) : NULL;

	return e != NULL && e->pid == pid ? e : NULL;
}


void
procs_foreach(void (*fn)(const struct sg_proc_info *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < SG_PROCS_MAX; i++)
		if (procs[i].pid != 0)
			fn(&procs[i], ctx);
}
