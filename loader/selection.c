#include "selection.h"

#include <stdlib.h>
#include <string.h>

#include "bpf_attach.h"
#include "discovery.h"
#include "drain.h"
#include "events.h"
#include "loader.h"
#include "log.h"
#include "tls.h"

#define SG_SELECTED_MAX   4096   /* power of two */

/* pid -> metadata, linear probing. */
struct sg_selected {
	uint32_t            pid;    /* 0: empty */
	uint8_t             mark;   /* selected again since selection_unmark */
	struct sg_proc_info info;
};

static struct {
	struct sg_bpf      *bpf;
	struct tls         *tls;
	struct discovery   *disc;
	struct sg_drain    *drain;
	selection_send_fn   send;
	struct sg_selected *sel;
	size_t              nsel;
	/* Processes a scan found gone or no longer selected, let go only
	 * once the ring buffer has been read past the scan. */
	uint32_t           *leaving;
	size_t              nleaving;
	bool                scanning;
} S;

static struct sg_selected *
sel_slot(uint32_t pid, bool create)
{
	size_t mask = SG_SELECTED_MAX - 1;

	for (size_t i = 0, h = (pid * 2654435761u) & mask; i < SG_SELECTED_MAX;
	    i++, h = (h + 1) & mask) {
		if (S.sel[h].pid == pid)
			return &S.sel[h];
		if (S.sel[h].pid == 0)
			return create && S.nsel < SG_SELECTED_MAX - 1 ?
			    &S.sel[h] : NULL;
	}
	return NULL;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void
sel_remove(struct sg_selected *e)
{
	size_t mask = SG_SELECTED_MAX - 1;
	size_t i = (size_t)(e - S.sel), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (S.sel[j].pid == 0)
			break;
		home = (S.sel[j].pid * 2654435761u) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			S.sel[i] = S.sel[j];
			i = j;
		}
	}
	memset(&S.sel[i], 0, sizeof(S.sel[i]));
	S.nsel--;
}

bool
loader_pid_selected(uint32_t pid)
{
	return pid != 0 && S.sel != NULL && sel_slot(pid, false) != NULL;
}

static void
sel_take(const struct sg_proc_info *info)
{
	struct sg_selected *e = sel_slot(info->pid, true);

	if (e == NULL) {
		sg_log(SG_LOG_WARN, "more than %d selected processes: pid %u "
		    "not instrumented", SG_SELECTED_MAX - 1, info->pid);
		return;
	}
	if (e->pid == 0) {
		S.nsel++;
		sg_log(SG_LOG_INFO, "instrumenting pid %u (%s) as %s",
		    info->pid, info->exe, info->service_name);
	}
	e->pid = info->pid;
	e->mark = 1;
	e->info = *info;
	sg_bpf_select_pid(S.bpf, info->pid);
	tls_track(S.tls, info->pid);
	S.send(info);
}

static void
sel_let_go(uint32_t pid)
{
	struct sg_selected *e = sel_slot(pid, false);
	struct sg_proc_info gone = { .pid = pid };

	if (e != NULL) {
		sg_log(SG_LOG_INFO, "pid %u no longer instrumented", pid);
		sel_remove(e);
	}
	sg_bpf_unselect_pid(S.bpf, pid);
	tls_untrack(S.tls, pid);
	S.send(&gone);
}

/* Whether the scan under way let pid go; it is then no longer waiting. */
static bool
sel_leaving_take(uint32_t pid)
{
	for (size_t i = 0; i < S.nleaving; i++) {
		if (S.leaving[i] == pid) {
			S.leaving[i] = S.leaving[--S.nleaving];
			return true;
		}
	}
	return false;
}

/*
 * A scan looks at /proc while the selected processes go on: one may make
 * its last exchange and exit while the scan runs (a scan that reads every
 * process's fds for open_port takes tens of ms on a slow machine), and
 * the scan then finds it gone before the loader has read those events.
 * Letting it go there would drop them as a stranger's.  So the processes
 * a scan lets go wait until the ring buffer has been read: whatever they
 * wrote, they wrote before the scan looked.  One the events show selected
 * again meanwhile (an exec) stays.
 */
static void
sel_drop_leaving(void)
{
	if (S.nleaving == 0)
		return;
	sg_drain_take(S.drain);
	for (size_t i = 0; i < S.nleaving; i++) {
		uint32_t pid = S.leaving[i];

		/* its exit, read meanwhile, may have let it go already */
		if (loader_pid_selected(pid) &&
		    discovery_selector(S.disc, (pid_t)pid) == NULL)
			sel_let_go(pid);
	}
	S.nleaving = 0;
}

void
selection_on_discovery(void *ctx, const struct sg_proc_info *info)
{
	(void)ctx;
	if (info->present) {
		/* the pid let go earlier in this scan, now another process's */
		if (S.scanning && sel_leaving_take(info->pid))
			sel_let_go(info->pid);
		sel_take(info);
	} else if (S.scanning && S.nleaving < SG_SELECTED_MAX &&
	    loader_pid_selected(info->pid)) {
		S.leaving[S.nleaving++] = info->pid;
	} else {
		sel_let_go(info->pid);
	}
}

void
selection_scan(void)
{
	S.scanning = true;
	if (discovery_scan(S.disc) < 0)
		sg_log(SG_LOG_WARN, "discovery scan failed");
	S.scanning = false;
	sel_drop_leaving();
}

void
selection_unmark(void)
{
	for (size_t i = 0; i < SG_SELECTED_MAX; i++)
		S.sel[i].mark = 0;
}

void
selection_drop_unmarked(void)
{
	/* Collected first: letting go shifts entries within the table. */
	for (size_t i = 0; i < SG_SELECTED_MAX; i++)
		if (S.sel[i].pid != 0 && !S.sel[i].mark &&
		    S.nleaving < SG_SELECTED_MAX)
			S.leaving[S.nleaving++] = S.sel[i].pid;
	sel_drop_leaving();
}

/* Copy at most n bytes of a kernel-supplied string, always terminated. */
static void
sel_copy_kstr(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t len = strnlen(src, n < dstsz ? n : dstsz - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
loader_on_proc_event(const void *data, size_t size)
{
	const struct sg_proc_event *ev = data;
	char exe[SG_EXEC_PATH_MAX], args[SG_EXEC_ARGS_MAX + 1];
	size_t n;

	if (size < offsetof(struct sg_proc_event, filename))
		return;
	switch (ev->hdr.type) {
	case SG_EV_EXEC:
		if (size < sizeof(*ev))
			return;
		sel_copy_kstr(exe, sizeof(exe), ev->filename,
		    sizeof(ev->filename));
		n = ev->args_len < SG_EXEC_ARGS_MAX ? ev->args_len :
		    SG_EXEC_ARGS_MAX;
		for (size_t i = 0; i < n; i++)   /* argv is NUL-separated */
			args[i] = ev->args[i] ? ev->args[i] : ' ';
		args[n] = '\0';
		discovery_on_exec(S.disc, (pid_t)ev->hdr.pid, exe, args);
		/* Not (or no longer) matched: stop tracing it. */
		if (!loader_pid_selected(ev->hdr.pid))
			sg_bpf_unselect_pid(S.bpf, ev->hdr.pid);
		else   /* a new image: an executable linking OpenSSL */
			tls_track(S.tls, (pid_t)ev->hdr.pid);
		break;
	case SG_EV_FORK:
		if (loader_pid_selected(ev->ppid))
			discovery_on_fork(S.disc, (pid_t)ev->ppid,
			    (pid_t)ev->hdr.pid);
		if (!loader_pid_selected(ev->hdr.pid))
			sg_bpf_unselect_pid(S.bpf, ev->hdr.pid);
		break;
	case SG_EV_EXIT:
		discovery_on_exit(S.disc, (pid_t)ev->hdr.pid);
		if (loader_pid_selected(ev->hdr.pid))
			sel_let_go(ev->hdr.pid);
		break;
	}
}

void
selection_foreach(void (*fn)(const struct sg_proc_info *info, void *ctx),
    void *ctx)
{
	for (size_t i = 0; i < SG_SELECTED_MAX; i++)
		if (S.sel[i].pid != 0)
			fn(&S.sel[i].info, ctx);
}

size_t
selection_count(void)
{
	return S.nsel;
}

void
selection_set_discovery(struct discovery *d)
{
	S.disc = d;
}

int
selection_init(struct sg_bpf *bpf, struct tls *tls, struct sg_drain *dr,
    selection_send_fn send)
{
	S.bpf = bpf;
	S.tls = tls;
	S.drain = dr;
	S.send = send;
	S.sel = calloc(SG_SELECTED_MAX, sizeof(*S.sel));
	S.leaving = calloc(SG_SELECTED_MAX, sizeof(*S.leaving));
	if (S.sel == NULL || S.leaving == NULL) {
		selection_free();
		return -1;
	}
	return 0;
}

void
selection_free(void)
{
	free(S.sel);
	free(S.leaving);
	memset(&S, 0, sizeof(S));
}
