#include "hooks.h"

#include <errno.h>
#include <stdint.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/capability.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#define SG_KPROBE_PMU "/sys/bus/event_source/devices/kprobe/type"
#define SG_UPROBE_PMU "/sys/bus/event_source/devices/uprobe/type"
#define K(h) (1u << (h))

/* Cheapest first (see hooks.h). */
static const enum sg_hooks sg_hooks_by_cost[] = {
	SG_HOOKS_SOCKET, SG_HOOKS_FENTRY, SG_HOOKS_RAW, SG_HOOKS_KPROBE,
};

/* Programs by name prefix; a program matching none (the process
 * programs raw_exec, raw_fork, raw_exit, or raw_exec58, ... where the
 * kernel has no BPF atomics) is loaded with every kind. */
static const struct {
	const char *prefix;
	unsigned    kinds;
} sg_hooks_programs[] = {
	{ "tp_",      K(SG_HOOKS_TRACEPOINT) },
	{ "raw_sys_", K(SG_HOOKS_RAW) },
	{ "sk_send",  K(SG_HOOKS_SOCKET) },
	{ "sk_recv",  K(SG_HOOKS_SOCKET) },
	{ "sk_state", K(SG_HOOKS_SOCKET) | K(SG_HOOKS_FENTRY) |
	              K(SG_HOOKS_KPROBE) },
	{ "fx_",      K(SG_HOOKS_FENTRY) },
	{ "kp_",      K(SG_HOOKS_KPROBE) },
};

bool
sg_hooks_propagate(enum sg_hooks h)
{
	return h == SG_HOOKS_SOCKET || h == SG_HOOKS_FENTRY;
}

bool
sg_hooks_sockops_thread(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS,
	    BPF_FUNC_get_current_pid_tgid, NULL) == 1;
}

const char *
sg_hooks_name(enum sg_hooks h)
{
	return h <= SG_HOOKS_KPROBE ? sg_hooks_names[h] : "?";
}

const char *
sg_hooks_describe(enum sg_hooks h)
{
	switch (h) {
	case SG_HOOKS_SOCKET:
		return "socket tracepoints sock_send_length/sock_recv_length/"
		    "inet_sock_set_state";
	case SG_HOOKS_FENTRY:
		return "fexit on tcp_sendmsg/tcp_recvmsg/tcp_sendpage and "
		    "tracepoint inet_sock_set_state";
	case SG_HOOKS_KPROBE:
		return "kprobes on tcp_sendmsg/tcp_recvmsg/tcp_sendpage and "
		    "tracepoint inet_sock_set_state";
	case SG_HOOKS_TRACEPOINT:
		return "syscall tracepoints";
	case SG_HOOKS_RAW:
	case SG_HOOKS_AUTO:
		break;
	}
	return "raw tracepoints sys_enter/sys_exit";
}

static bool
sg_btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf != NULL && btf__find_by_name_kind(btf, name, kind) > 0;
}

/*
 * A trial program: fexit on tcp_sendmsg asking for its return value,
 * loaded and attached, then closed.  It answers what BTF cannot: whether
 * this kernel has BPF trampolines (some refuse them: EPERM, ENOTSUPP),
 * and bpf_get_func_ret (5.17+), which the fexit programs use.
 */
static int
sg_hooks_try_fexit(int btf_id)
{
	const struct bpf_insn insns[] = {
		/* r2 = r10 - 8; bpf_get_func_ret(ctx, r2); r0 = 0; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = -8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_func_ret },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
	    .expected_attach_type = BPF_TRACE_FEXIT,
	    .attach_btf_id = btf_id);
	int prog, link, err = 0;

	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "sg_probe", "GPL", insns,
	    sizeof(insns) / sizeof(insns[0]), &opts);
	if (prog < 0)
		return -errno;
	link = bpf_raw_tracepoint_open(NULL, prog);
	if (link < 0)
		err = -errno;
	else
		close(link);
	close(prog);
	return err;
}

/* A trial program with an atomic fetch-or, which kernels before 5.12
 * refuse ("BPF_STX uses reserved fields"). */
static bool
sg_hooks_have_atomics(void)
{
	const struct bpf_insn insns[] = {
		/* *(u64 *)(r10 - 8) = 0; lock *(u64 *)(r10 - 8) |= 1 (fetch);
		 * r0 = 0; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1 },
		{ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1,
		  .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1, .off = -8, .imm = BPF_OR | BPF_FETCH },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "sg_probe",
	    "GPL", insns, sizeof(insns) / sizeof(insns[0]), NULL);

	if (prog < 0)
		return false;
	close(prog);
	return true;
}

static void
sg_hooks_not(struct sg_hooks_probe *p, enum sg_hooks h, const char *fmt,
    const char *arg)
{
	p->usable[h] = false;
	snprintf(p->why_not[h], sizeof(p->why_not[h]), fmt, arg);
}

static void
sg_hooks_probe_fentry(struct sg_hooks_probe *p, const struct btf *btf)
{
	int id = btf != NULL ? btf__find_by_name_kind(btf, "tcp_sendmsg",
	    BTF_KIND_FUNC) : -1;
	int err;

	if (id <= 0 || !sg_btf_has(btf, "tcp_recvmsg", BTF_KIND_FUNC)) {
		sg_hooks_not(p, SG_HOOKS_FENTRY, "%s", "the kernel's BTF has "
		    "no tcp_sendmsg/tcp_recvmsg");
		return;
	}
	if ((err = sg_hooks_try_fexit(id)) != 0) {
		sg_hooks_not(p, SG_HOOKS_FENTRY, "a trial fexit program on "
		    "tcp_sendmsg failed: %s (no BPF trampolines, or a kernel "
		    "before 5.17)", strerror(-err));
		return;
	}
	p->usable[SG_HOOKS_FENTRY] = true;
}

static void
sg_hooks_probe_kprobe(struct sg_hooks_probe *p, const struct btf *btf,
    int perf_paranoid)
{
	char why[160];

	if (perf_paranoid > 2) {
		snprintf(why, sizeof(why), "kernel.perf_event_paranoid is %d: "
		    "kprobe perf events need cap_sys_admin, which spyglass does "
		    "not keep", perf_paranoid);
		sg_hooks_not(p, SG_HOOKS_KPROBE, "%s", why);
		return;
	}
	if (access(SG_KPROBE_PMU, R_OK) != 0) {
		sg_hooks_not(p, SG_HOOKS_KPROBE, "%s", "no kprobe PMU ("
		    SG_KPROBE_PMU "): a kernel built without CONFIG_KPROBES");
		return;
	}
	if (!sg_btf_has(btf, "tcp_sendmsg", BTF_KIND_FUNC) ||
	    !sg_btf_has(btf, "tcp_recvmsg", BTF_KIND_FUNC)) {
		sg_hooks_not(p, SG_HOOKS_KPROBE, "%s", "the kernel's BTF has "
		    "no tcp_sendmsg/tcp_recvmsg");
		return;
	}
	/* The programs read the syscall's registers (5.15+). */
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
	    BPF_FUNC_task_pt_regs, NULL) != 1) {
		sg_hooks_not(p, SG_HOOKS_KPROBE, "%s", "no bpf_task_pt_regs "
		    "helper for kprobes (5.15+)");
		return;
	}
	p->usable[SG_HOOKS_KPROBE] = true;
}

/* Whether a uprobe perf event opens with the effective capabilities
 * held now (offset 0 of our own executable: only the permission is
 * asked; nothing is registered until the event is enabled). */
static bool
sg_hooks_uprobe_opens(int type)
{
	struct perf_event_attr a = { .size = sizeof(a), .type = type };
	static const char self[] = "/proc/self/exe";
	long fd;

	a.uprobe_path = (uint64_t)(uintptr_t)self;
	fd = syscall(__NR_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

/* Which capability uprobes ask of this kernel: cap_perfmon since 5.8,
 * cap_sys_admin again in kernels carrying the 2025 hardening of uprobe
 * perf events (and wherever Debian's perf_event_paranoid 3 is set).
 * Asked with cap_sys_admin out of the effective set for a moment. */
static void
sg_hooks_probe_uprobes(struct sg_hooks_probe *p)
{
	cap_t saved = cap_get_proc(), trial = NULL;
	cap_value_t admin = CAP_SYS_ADMIN;
	cap_flag_value_t had = CAP_CLEAR;
	FILE *f = fopen(SG_UPROBE_PMU, "re");
	int type = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	if (type < 0) {
		snprintf(p->uprobes_why, sizeof(p->uprobes_why), "no uprobe "
		    "PMU (" SG_UPROBE_PMU "): a kernel built without "
		    "CONFIG_UPROBE_EVENTS");
		goto out;
	}
	if (saved != NULL)
		(void)cap_get_flag(saved, CAP_SYS_ADMIN, CAP_EFFECTIVE, &had);
	if (had == CAP_SET && (trial = cap_dup(saved)) != NULL &&
	    cap_set_flag(trial, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) == 0 &&
	    cap_set_proc(trial) == 0) {
		p->uprobes = true;
		p->uprobes_need_admin = !sg_hooks_uprobe_opens(type);
		(void)cap_set_proc(saved);
	} else if (sg_hooks_uprobe_opens(type)) {
		p->uprobes = true;
	} else {
		snprintf(p->uprobes_why, sizeof(p->uprobes_why), "a uprobe "
		    "perf event could not be opened: %s (this kernel asks "
		    "cap_sys_admin for uprobes, or cap_perfmon is missing)",
		    strerror(errno));
	}
out:
	cap_free(trial);
	cap_free(saved);
}

void
sg_hooks_probe(struct sg_hooks_probe *p, bool tracefs, const char *tracefs_why,
    int perf_paranoid)
{
	static const char *const socket_tps[] = { "btf_trace_sock_send_length",
		"btf_trace_sock_recv_length" };
	struct btf *btf = btf__load_vmlinux_btf();
	bool state_tp = sg_btf_has(btf, "btf_trace_inet_sock_set_state",
	    BTF_KIND_TYPEDEF);

	memset(p, 0, sizeof(*p));
	p->usable[SG_HOOKS_RAW] = true;
	p->usable[SG_HOOKS_TRACEPOINT] = tracefs;
	if (!tracefs)
		sg_hooks_not(p, SG_HOOKS_TRACEPOINT, "%s", tracefs_why);

	p->usable[SG_HOOKS_SOCKET] = state_tp;
	for (size_t i = 0; i < sizeof(socket_tps) / sizeof(socket_tps[0]); i++)
		if (!sg_btf_has(btf, socket_tps[i], BTF_KIND_TYPEDEF))
			sg_hooks_not(p, SG_HOOKS_SOCKET, "%s", "no "
			    "sock_send_length/sock_recv_length tracepoints "
			    "(Linux 6.3+)");
	if (!state_tp) {
		sg_hooks_not(p, SG_HOOKS_SOCKET, "%s", "no BTF for the "
		    "tracepoint inet_sock_set_state");
		sg_hooks_not(p, SG_HOOKS_FENTRY, "%s", p->why_not[SG_HOOKS_SOCKET]);
		sg_hooks_not(p, SG_HOOKS_KPROBE, "%s", p->why_not[SG_HOOKS_SOCKET]);
	} else {
		sg_hooks_probe_fentry(p, btf);
		sg_hooks_probe_kprobe(p, btf, perf_paranoid);
	}
	p->sendpage = sg_btf_has(btf, "tcp_sendpage", BTF_KIND_FUNC);
	p->atomics = sg_hooks_have_atomics();
	p->loop_helper = libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT,
	    BPF_FUNC_loop, NULL) == 1;
	sg_hooks_probe_uprobes(p);
	btf__free(btf);
	/* The parse took several MB: give them back before the BPF load
	 * parses it again. */
	malloc_trim(0);
}

int
sg_hooks_plan(enum sg_hooks configured, const struct sg_hooks_probe *p,
    enum sg_hooks plan[SG_HOOKS_KINDS])
{
	int n = 0;

	if (configured != SG_HOOKS_AUTO && p->usable[configured])
		plan[n++] = configured;
	for (size_t i = 0; i < sizeof(sg_hooks_by_cost) /
	    sizeof(sg_hooks_by_cost[0]); i++) {
		enum sg_hooks h = sg_hooks_by_cost[i];

		if (p->usable[h] && h != configured)
			plan[n++] = h;
	}
	return n;
}

bool
sg_hooks_program_wanted(const char *prog, enum sg_hooks h,
    const struct sg_hooks_probe *p)
{
	size_t len = strlen(prog);

	if (strstr(prog, "sendpage") != NULL && !p->sendpage)
		return false;
	if (strncmp(prog, "ssl_", 4) == 0)   /* TLS: any kind of I/O hooks */
		return p->uprobes;
	if (strncmp(prog, "raw_exec", 8) == 0 ||
	    strncmp(prog, "raw_exit", 8) == 0 ||
	    strncmp(prog, "raw_fork", 8) == 0)
		return (strcmp(prog + len - 2, "58") == 0) != p->atomics;
	for (size_t i = 0; i < sizeof(sg_hooks_programs) /
	    sizeof(sg_hooks_programs[0]); i++)
		if (strncmp(prog, sg_hooks_programs[i].prefix,
		    strlen(sg_hooks_programs[i].prefix)) == 0)
			return (sg_hooks_programs[i].kinds & K(h)) != 0;
	return true;
}
