/*
 * What a uprobe hit costs the probed thread, by the kind of instruction
 * it sits on.  The kernel runs the probed instruction either by emulating
 * it (branches, NOPs, and since 6.x pushes) or out of line with a single
 * step, which is a second exception; a return probe adds a trip through
 * the return trampoline.  This program probes its own functions with an
 * empty BPF program (the sensor's programs do more; this is the floor
 * under them) and times the calls.
 *
 *   make bench/uprobe_cost && bench/uprobe_cost [CALLS]
 *
 * Prints ns per call for each case, and for none.  Root (or
 * CAP_PERFMON and CAP_BPF).  x86-64 only.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

int uc_sub(int), uc_push(int);

/* Two functions that differ only in their first instruction: a stack
 * adjustment the kernel single-steps (as Debian's SSL_read opens), and a
 * push it emulates (as OpenSSL's ssl_read_internal opens). */
__asm__(".text\n"
    ".globl uc_sub\n.type uc_sub,@function\nuc_sub:\n"
    "\tsub $0x18,%rsp\n\tadd $0x18,%rsp\n\tlea 1(%rdi),%eax\n\tret\n"
    ".globl uc_push\n.type uc_push,@function\nuc_push:\n"
    "\tpush %rbx\n\tpop %rbx\n\tlea 1(%rdi),%eax\n\tret\n");

/* The offset in this program's file of the code at addr. */
static uint64_t
uc_file_offset(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	char line[512];
	uint64_t found = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		uintptr_t lo, hi;
		unsigned long long off;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*4s %llx", &lo, &hi,
		    &off) == 3 && a >= lo && a < hi) {
			found = off + (a - lo);
			break;
		}
	}
	fclose(f);
	return found;
}

static int
uc_pmu_type(void)
{
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "re");
	int t = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &t) != 1)
			t = -1;
		fclose(f);
	}
	return t;
}

/* A uprobe (or return probe) on this process at file offset off, running
 * prog.  The event's fd, -1 on failure. */
static int
uc_attach(int prog, const char *exe, uint64_t off, int ret)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = (uint32_t)uc_pmu_type();
	a.config = ret ? 1 : 0;   /* format/retprobe: config:0 */
	a.config1 = (uint64_t)(uintptr_t)exe;
	a.config2 = off;
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
	    PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) != 0 ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static double
uc_time(int (*fn)(int), int calls)
{
	struct timespec t0, t1;
	volatile int acc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < calls; i++)
		acc += fn(i);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / calls;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *what;
		int (*fn)(int);
		int entry, ret;
	} cases[] = {
		{ "no probe",                                uc_sub,  0, 0 },
		{ "entry on sub $0x18,%rsp (single step)",   uc_sub,  1, 0 },
		{ "entry on push %rbx (emulated)",           uc_push, 1, 0 },
		{ "entry and return, sub (as SSL_read)",     uc_sub,  1, 1 },
		{ "entry and return, push (as the inner)",   uc_push, 1, 1 },
	};
	/* r0 = 0; exit */
	static const struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },
		{ .code = 0x95 },
	};
	int calls = argc > 1 ? atoi(argv[1]) : 200000;
	char exe[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int prog;

	if (n <= 0 || calls <= 0)
		return 2;
	exe[n] = '\0';
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "uc_empty", "GPL", insns,
	    2, NULL);
	if (prog < 0 || uc_pmu_type() < 0) {
		fprintf(stderr, "uprobe_cost: no BPF program or uprobe PMU: %s\n",
		    strerror(errno));
		return 1;
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t off = uc_file_offset((const void *)cases[c].fn);
		int e = -1, r = -1;

		if (cases[c].entry && (e = uc_attach(prog, exe, off, 0)) < 0)
			goto fail;
		if (cases[c].ret && (r = uc_attach(prog, exe, off, 1)) < 0)
			goto fail;
		(void)uc_time(cases[c].fn, calls / 100);   /* warm-up */
		printf("%-42s %8.0f ns per call\n", cases[c].what,
		    uc_time(cases[c].fn, calls));
		if (e >= 0)
			close(e);
		if (r >= 0)
			close(r);
		continue;
fail:
		fprintf(stderr, "uprobe_cost: %s: %s\n", cases[c].what,
		    strerror(errno));
		return 1;
	}
	return 0;
}
