// SPDX-License-Identifier: GPL-2.0
/*
 * spyglass kernel side: socket I/O of selected processes, plus process
 * exec/fork/exit.  Five flavours of I/O hooks; the loader (bpf_attach.c,
 * hooks.c) loads the cheapest one the kernel offers and switches the
 * others' autoload off:
 *
 *  - socket (6.3+): the BTF-typed tracepoints sock_send_length and
 *    sock_recv_length, which fire only for socket I/O and hand us the
 *    struct sock, and inet_sock_set_state for roles and ends of
 *    connections.  No syscall hook: processes not selected pay nothing on
 *    their other syscalls;
 *  - fentry: the same, through fexit programs on tcp_sendmsg, tcp_recvmsg
 *    (and tcp_sendpage, sendfile's path before 6.5) where the kernel has
 *    BPF trampolines but not the socket tracepoints;
 *  - kprobe: the same through kprobes and kretprobes, where kprobes exist
 *    but trampolines do not;
 *  - raw sys_enter/sys_exit, filtered by syscall number;
 *  - one tracepoint per syscall (needs tracefs).
 *
 * Plaintext of TLS connections comes from uprobes on OpenSSL's
 * SSL_read/SSL_write (and their _ex forms, or the inner functions both
 * forms call), which the loader attaches per library file (tls.c).  The
 * socket I/O the library does for a call tells which connection it
 * serves; its ciphertext is then not reported.
 *
 * Nothing is parsed here.  Each program returns at once for processes not
 * in sg_pids; for selected ones it finds the TCP socket and copies at most
 * capture_size bytes of payload into a fixed-layout event (events.h).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET      2
#define AF_INET6     10
#define SOCK_STREAM  1
#define IPPROTO_TCP  6
#define S_IFMT       00170000
#define S_IFSOCK     0140000
#define EINPROGRESS  115
#define MSG_PEEK     0x02
#define MSG_TRUNC    0x20
#define SG_DIR_NONE  0xff   /* beside enum sg_dir: not an I/O op */

/* Settings written by the loader before load (libbpf-tools habit). */
const volatile __u32 capture_size = SG_CAPTURE_DEFAULT;
/* On a connection seen to carry HTTP/2 frames or Redis command arrays:
 * a write holds the header blocks of several streams between their data
 * frames, or a pipeline of commands. */
const volatile __u32 http2_capture_size = SG_CAPTURE_MAX;
/* What the verifier must walk: kernels before 5.17 (no bpf_loop) walk
 * the capture far less efficiently, and 5.10 was seen to lock up under
 * it, so the loader gives them 4 iovecs and no second read.  Known to
 * the verifier (read-only data): the code past them is dead to it. */
const volatile __u32 max_iov = SG_MAX_IOV;
const volatile bool  reread_wide = true;
const volatile __u64 wakeup_bytes = 0;   /* 0: wake up on every event */
const volatile bool  want_exec = false;  /* executable_name is configured */
/* kprobe hooks cannot reach socket storage: sk_state keeps roles and
 * owners in sg_roles for them, as the syscall hooks do. */
const volatile bool  roles_in_map = false;
/* sg_pidbits is kept: the kernel has BPF atomics (5.12+), and the raw_*58
 * process programs, which have none, are not loaded. */
const volatile bool  pidbits = true;
/* The loader attaches the TLS uprobes: the socket hooks look for SSL
 * calls in progress.  Off, they cost nothing. */
const volatile bool  tls_on = false;
/* [ebpf] context_propagation: SG_PROP_* bits; 0 leaves the I/O hooks as
 * they are without it. */
const volatile __u8  propagate = 0;
/* sockops may ask for the current thread (6.10+): a TCP option's trace
 * is then its thread's server request's. */
const volatile bool  sockops_pid = false;

/* Syscalls we follow, independent of the architecture's numbering. */
enum sg_op {
	SG_OP_NONE = 0, SG_OP_READ, SG_OP_READV, SG_OP_RECVMSG, SG_OP_WRITE, SG_OP_WRITEV,
	SG_OP_SENDMSG, SG_OP_SENDFILE, SG_OP_ACCEPT, SG_OP_CONNECT,
};

/* Arguments kept from syscall entry to exit, per thread (the kprobe
 * hooks keep the socket in buf from entry to return). */
struct sg_args {
	__u32 op;
	__s32 fd;
	__u64 buf;    /* buffer, iovec array or msghdr */
	__u64 cnt;    /* iovec count */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} sg_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sg_args);
} sg_args SEC(".maps");

/* What we know of a socket, by struct sock address: its role once its
 * accept()/connect() (or TCP handshake) was seen, and the process whose
 * I/O on it we reported, to whom its end is reported too. */
struct sg_sock_info {
	__u32 owner;   /* tgid of the first reported I/O; 0 before */
	__u8  role;    /* enum sg_role */
	__u8  wide;    /* HTTP/2 or RESP seen: capture http2_capture_size */
	__u8  tls;     /* a TLS library's: its plaintext is reported, not
	                * its bytes */
	__u8  last;    /* propagating: the direction of its last I/O + 1 */
};

/* Kept here by the syscall hooks, keyed by socket address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sg_sock_info);
} sg_roles SEC(".maps");

/* Kept in the socket itself by the socket hooks: a cheaper lookup than
 * a hash, and freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sg_sock_info);
} sg_sk SEC(".maps");

/* What an SSL call in progress on a thread works on, from its entry to
 * its return; kept past the return (in_call 0) when the call did no
 * socket I/O and its SSL is not bound to a connection yet: the thread's
 * next socket I/O then tells which (libraries that do their I/O
 * themselves, such as node's, write the ciphertext after the call).
 * A thread's entry stays in the map between calls, idle (op 0): an LRU
 * hash allocates an element on every update and frees it on delete, 0.5
 * to 0.7 us a call here, where a lookup and a few stores cost a fraction
 * (bench/RESULTS.md, 2026-11-27). */
struct sg_ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 lenp;    /* _ex forms: where the length is returned */
	__u8  op;      /* enum sg_ssl_op; 0: no call (an idle entry) */
	__u8  in_call;
	__u8  _pad[6];
};

enum sg_ssl_op {
	SG_SSL_READ = 1, SG_SSL_WRITE, SG_SSL_READ_EX, SG_SSL_WRITE_EX,
	SG_SSL_HANDSHAKE,
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);    /* pid_tgid */
	__type(value, struct sg_ssl_call);
} sg_ssl_calls SEC(".maps");

/* An SSL object of a process, and the connection it was seen to use. */
struct sg_ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

struct sg_ssl_conn {
	struct sg_conn_id    conn;
	/* role: as the socket's hooks knew it; wide: HTTP/2 frames seen
	 * in the plaintext */
	struct sg_sock_info  info;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sg_ssl_key);
	__type(value, struct sg_ssl_conn);
} sg_ssl_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);   /* resized by the loader */
} sg_rb SEC(".maps");

/*
 * Per-CPU scratch for building a data event.  The spill area lets the
 * iovec loop write up to two capture lengths past data[] without the
 * verifier having to prove the sum of two bounded offsets.
 */
struct sg_scratch {
	struct sg_data_event ev;
	__u8 spill[3 * SG_CAPTURE_MAX];
	/* Too large for the BPF stack: gRPC's C core writes a frame's
	 * header block as one iovec per name and value (26 for a call). */
	struct iovec iovs[2 * SG_MAX_IOV];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sg_scratch);
} sg_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sg_stats SEC(".maps");

static __always_inline void
sg_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sg_stats, &idx);

	if (v)
		*v += 1;
}

/*
 * One bit per possible pid (PID_MAX_LIMIT is 4M: 512 KiB), mirroring
 * sg_pids: the loader and these programs set and clear a bit wherever
 * they add or remove a pid there.  Most socket I/O on a host is not
 * selected, and a load from .bss answers that for a fraction of a hash
 * lookup.  The I/O hooks take a set bit as selected (sg_io_selected);
 * the others confirm it in sg_pids, whose value they read or write.
 */
#define SG_PIDBITS_WORDS (SG_PID_LIMIT / 64)
__u64 sg_pidbits[SG_PIDBITS_WORDS] = {};

static __always_inline bool
sg_pidbit_test(__u32 tgid)
{
	__u32 w = tgid / 64;

	if (!pidbits)
		return true;   /* no bitmap: ask the map */
	/* Make clang bound-check and index with the same register, which
	 * is what the verifier follows. */
	asm volatile("" : "+r"(w));
	if (w >= SG_PIDBITS_WORDS)
		return true;   /* beyond the bitmap: ask the map */
	return (sg_pidbits[w] >> (tgid % 64)) & 1;
}

static __always_inline void
sg_pidbit_set(__u32 tgid)
{
	__u32 w = tgid / 64;

	asm volatile("" : "+r"(w));
	if (w < SG_PIDBITS_WORDS)
		__sync_fetch_and_or(&sg_pidbits[w], 1ULL << (tgid % 64));
}

static __always_inline void
sg_pidbit_clear(__u32 tgid)
{
	__u32 w = tgid / 64;

	asm volatile("" : "+r"(w));
	if (w < SG_PIDBITS_WORDS)
		__sync_fetch_and_and(&sg_pidbits[w], ~(1ULL << (tgid % 64)));
}

/* The process's entry in sg_pids (SG_PID_* flags), or NULL when it is
 * not selected. */
static __always_inline __u32 *
sg_selection(__u32 tgid)
{
	if (!sg_pidbit_test(tgid))
		return NULL;
	return bpf_map_lookup_elem(&sg_pids, &tgid);
}

static __always_inline bool
sg_selected(__u32 tgid)
{
	return sg_selection(tgid) != NULL;
}

/* Whether the process was seen in a TLS library's call: only then may
 * its socket I/O be a TLS library's (checked per thread, a lookup that
 * other processes are spared). */
static __always_inline bool
sg_sel_tls(const __u32 *sel)
{
	return tls_on && sel != NULL && (*sel & SG_PID_TLS);
}

/*
 * SG_PID_TLS again, one byte per tgid modulo the array's size, for the
 * I/O hooks that answer from the bitmap alone.  Bytes, so that setting
 * one needs no atomic instruction (which kernels before 5.12 refuse even
 * on a dead path) and loses no neighbour's.  Set, never cleared: a byte
 * left by a process gone costs a process that never used TLS one lookup
 * per I/O in sg_tls_ciphertext (which then finds no call and a socket
 * never bound), where a byte cleared under a live TLS process would let
 * its ciphertext through as plaintext.
 */
#define SG_TLSBYTES 65536
__u8 sg_tlsbytes[SG_TLSBYTES] = {};

/*
 * Whether an I/O of process tgid is reported, and *tls whether it may be
 * a TLS library's.  Where the bitmap is kept and covers tgid, it answers
 * alone: the loader sets a bit before it adds a pid to sg_pids and
 * clears it after the pid is removed, and BPF sets it after an insert,
 * so a bit set without an entry lasts only while a selection changes,
 * and the loader counts and drops what such a moment lets through.
 * The sg_pids lookup this spares was about a fifteenth of a selected
 * I/O's BPF time (bench/RESULTS.md, 2026-11-28).
 */
static __always_inline bool
sg_io_selected(__u32 tgid, bool *tls)
{
	__u32 *sel;

	if (pidbits && tgid / 64 < SG_PIDBITS_WORDS) {
		if (!sg_pidbit_test(tgid))
			return false;
		*tls = tls_on && sg_tlsbytes[tgid % SG_TLSBYTES] != 0;
		return true;
	}
	if ((sel = sg_selection(tgid)) == NULL)
		return false;
	*tls = sg_sel_tls(sel);
	return true;
}

/*
 * A selected process is in a TLS library's call: from now on its socket
 * I/O may be that library's.  False when the process is not selected.
 * Where sg_io_selected answers from the bitmap, the byte is what it
 * reads, and sg_pids is not looked up; else the flag in sg_pids.  Not
 * atomic: only this flag is ever set here, and the loader's rewrite of
 * the value (a new selection) is followed by the next call's.
 */
static __always_inline bool
sg_tls_mark(__u32 tgid)
{
	__u32 *sel;

	if (pidbits && tgid / 64 < SG_PIDBITS_WORDS) {
		if (!sg_pidbit_test(tgid))
			return false;
		if (sg_tlsbytes[tgid % SG_TLSBYTES] == 0)
			sg_tlsbytes[tgid % SG_TLSBYTES] = 1;
		return true;
	}
	if ((sel = sg_selection(tgid)) == NULL)
		return false;
	if (!(*sel & SG_PID_TLS))
		*sel |= SG_PID_TLS;
	return true;
}

/* Ask for a wakeup only once wakeup_bytes are waiting; the loader also
 * drains on a short timer, so nothing waits long. */
static __always_inline __u64
sg_rb_flags(void)
{
	if (wakeup_bytes == 0)
		return 0;
	if (bpf_ringbuf_query(&sg_rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void
sg_output(void *ev, __u64 size)
{
	if (bpf_ringbuf_output(&sg_rb, ev, size, sg_rb_flags()) != 0)
		sg_count(SG_STAT_RB_FULL);
}

static __always_inline void
sg_fill_hdr(struct sg_event_hdr *h, __u32 type)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
}

/* The struct sock behind fd when it is a TCP socket of this task. */
static __always_inline struct sock *
sg_fd_to_tcp_sock(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;
	struct socket *so;
	struct sock *sk;
	unsigned int max;
	umode_t mode;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (file == NULL)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(file, private_data);
	if (so == NULL)
		return NULL;
	sk = BPF_CORE_READ(so, sk);
	if (sk == NULL)
		return NULL;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return NULL;
	return sk;
}

static __always_inline int
sg_fill_conn(struct sg_conn_id *c, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	c->sock = (__u64)sk;
	c->family = family;
	c->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* Sizes spelled out: BPF_CORE_READ_INTO on an array would copy
	 * only its first element. */
	if (family == AF_INET) {
		bpf_core_read(c->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		bpf_core_read(c->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(c->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return -1;
	}
	return 0;
}

static __always_inline __u32
sg_capture_limit(__s64 len, __u32 cap)
{
	if (cap > SG_CAPTURE_MAX)
		cap = SG_CAPTURE_MAX;
	if (len < cap)
		cap = (__u32)len;
	return cap;
}

/* Copy the head (and the last SG_TAIL_LEN bytes) of a plain buffer. */
static __always_inline void
sg_capture_buf(struct sg_data_event *e, __u64 buf, __s64 len, __u32 cap)
{
	/* 64 bits: a 32-bit value is zero-extended into a copy, which
	 * the clamp below would bound instead of the register the call
	 * takes, and older verifiers (6.1) do not link the two. */
	__u64 n = sg_capture_limit(len, cap);

	/* As in sg_capture_iov: a clamp clang cannot fold away. */
	asm volatile("" : "+r"(n));
	if (n > SG_CAPTURE_MAX)
		n = SG_CAPTURE_MAX;
	bpf_probe_read_user(e->data, n, (void *)buf);
	e->captured = n;
	if (len > n && len >= SG_TAIL_LEN) {
		bpf_probe_read_user(e->tail, SG_TAIL_LEN,
		    (void *)(buf + len - SG_TAIL_LEN));
		e->flags |= SG_DATA_TAIL;
	}
}

/*
 * min(a, b) without a branch, for a, b < 2^63 (lengths of a successful
 * I/O call): clang turns a conditional into a jump, and each jump in the
 * iovec loop doubles the paths the verifier walks.  The barrier keeps
 * clang from seeing through it.
 */
static __always_inline __u64
sg_umin(__u64 a, __u64 b)
{
	__u64 d = a - b;

	asm volatile("" : "+r"(d));
	return b + (d & -(d >> 63));
}

/*
 * Copy from up to SG_MAX_IOV iovecs, `len` bytes in all.  The tail is the
 * end of the last iovec touched, right-aligned in tail[], zero-padded when
 * that iovec holds fewer than SG_TAIL_LEN bytes.
 */
static __always_inline void
sg_capture_iov(struct sg_scratch *s, __u64 iovp, __u64 cnt, __s64 len,
    __u32 cap)
{
	struct sg_data_event *e = &s->ev;
	__u64 limit = sg_capture_limit(len, cap);
	__u64 off = 0;
	__u64 left = len, last_base = 0, last_len = 0;
	struct iovec *iovs = s->iovs;
	__u64 n = cnt < SG_MAX_IOV ? cnt : SG_MAX_IOV;
	__u64 sz;

	/* A mask the verifier sees on the register the multiplication
	 * takes (clang would drop a second clamp, or apply it to a copy
	 * older verifiers, 5.10 and 6.1, do not link): it bounds the read
	 * by the array's size, twice SG_MAX_IOV entries for it. */
	asm volatile("" : "+r"(n));
	n &= 2 * SG_MAX_IOV - 1;
	sz = n * sizeof(iovs[0]);
	/* The array in one read: each user read costs ~100 ns. */
	if (sz == 0 || bpf_probe_read_user(iovs, sz, (void *)iovp) != 0)
		n = 0;
	/*
	 * No branch in the body but the loop's exit (a read of 0 bytes is
	 * allowed): the verifier walks every iteration of every path, and
	 * paths that split at each one multiply past its limit.
	 */
	for (int i = 0; i < SG_MAX_IOV; i++) {
		struct iovec iov = iovs[i & (SG_MAX_IOV - 1)];
		__u64 chunk, take, at, some;

		if (i >= n || i >= max_iov || left == 0)
			break;
		chunk = sg_umin(iov.iov_len, left);
		left -= chunk;
		/* last_* follow the last iovec that held bytes */
		some = -((0 - chunk) >> 63);
		last_base ^= (last_base ^ (__u64)iov.iov_base) & some;
		last_len ^= (last_len ^ chunk) & some;
		take = sg_umin(limit - sg_umin(off, limit), chunk);
		/* Bounds the verifier can see: the read ends within the
		 * event's data and the spill area after it. */
		at = off;
		asm volatile("" : "+r"(take), "+r"(at));
		take &= 2 * SG_CAPTURE_MAX - 1;
		at &= 2 * SG_CAPTURE_MAX - 1;
		bpf_probe_read_user(e->data + at, take, iov.iov_base);
		off += take;
	}
	e->captured = off > SG_CAPTURE_MAX ? SG_CAPTURE_MAX : off;
	if (left == 0 && len > e->captured && last_len > 0) {
		__u8 tmp[SG_TAIL_LEN] = {};
		__u32 n = last_len < SG_TAIL_LEN ? last_len : SG_TAIL_LEN;

		if (bpf_probe_read_user(tmp, n & (2 * SG_TAIL_LEN - 1),
		    (void *)(last_base + last_len - n)) != 0)
			return;
		/* Right-align: the verifier wants constant-bounded indexes. */
		for (__u32 j = 0; j < SG_TAIL_LEN; j++) {
			__u32 idx = SG_TAIL_LEN - n + j;

			/* Keep clang from folding idx into a negative
			 * pointer offset the verifier would refuse. */
			asm volatile("" : "+r"(idx));
			idx &= SG_TAIL_LEN - 1;
			if (j < n)
				e->tail[idx] = tmp[j];
		}
		e->flags |= SG_DATA_TAIL;
	}
}

/*
 * The socket's role as far as the syscall hooks know (sg_roles), and a
 * claim on it for this process.  The socket hooks keep the same in the
 * socket's own storage (sg_sk), where the owner recorded is the process
 * a connection's end is reported to.
 */
static __always_inline struct sg_sock_info *
sg_sock_claim(__u64 sk, __u32 tgid)
{
	struct sg_sock_info *i = bpf_map_lookup_elem(&sg_roles, &sk);
	struct sg_sock_info n = { .owner = tgid, .role = SG_ROLE_UNKNOWN };

	if (i == NULL) {
		bpf_map_update_elem(&sg_roles, &sk, &n, BPF_NOEXIST);
		return bpf_map_lookup_elem(&sg_roles, &sk);
	}
	if (i->owner == 0)
		i->owner = tgid;
	return i;
}

/*
 * Whether captured bytes start with what may pack many requests into one
 * write: the HTTP/2 client preface or a frame header (a length below
 * 64 KiB, a known type, the reserved bit clear), or a Redis command
 * array ("*3\r\n$3\r\nSET...", pipelined by the dozen).  Other text
 * protocols never do; a binary one sometimes may, and is then only
 * captured wider.
 */
static __always_inline bool
sg_looks_wide(const struct sg_data_event *e)
{
	const __u8 *d = e->data;

	if (e->captured < 9)
		return false;
	if (d[0] == 'P' && d[1] == 'R' && d[2] == 'I' && d[3] == ' ')
		return true;
	if (d[0] == '*' && d[1] >= '1' && d[1] <= '9')
		return true;
	return d[0] == 0 && d[3] <= 9 && (d[5] & 0x80) == 0;
}

/* The SSL call in progress on thread id (or ended unbound), or NULL. */
static __always_inline struct sg_ssl_call *
sg_ssl_call_of(__u64 id)
{
	struct sg_ssl_call *c = bpf_map_lookup_elem(&sg_ssl_calls, &id);

	return c != NULL && c->op != 0 ? c : NULL;
}

/*
 * Socket I/O of a TLS library: bind the SSL object of the call in
 * progress on this thread (or of the call that just ended without knowing
 * its connection) to this connection, and say whether the bytes are
 * ciphertext, which is not reported (the uprobes report the plaintext).
 */
static __always_inline bool
sg_tls_ciphertext(const struct sg_conn_id *conn, struct sg_sock_info *info)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_ssl_call *call = sg_ssl_call_of(id);
	struct sg_ssl_key k = { .tgid = id >> 32 };
	struct sg_ssl_conn *b;
	__u8 role = info != NULL ? info->role : SG_ROLE_UNKNOWN;

	if (call == NULL)
		return info != NULL && info->tls;
	k.ssl = call->ssl;
	b = bpf_map_lookup_elem(&sg_ssl_conns, &k);
	if (b == NULL || b->conn.sock != conn->sock) {
		struct sg_ssl_conn n = { .conn = *conn, .info.role = role };

		bpf_map_update_elem(&sg_ssl_conns, &k, &n, BPF_ANY);
	} else if (b->info.role == SG_ROLE_UNKNOWN) {
		b->info.role = role;
	}
	if (!call->in_call)
		call->op = 0;
	if (info != NULL)
		info->tls = 1;
	return true;
}

/* Copy up to cap bytes of the syscall's buffers a into the event. */
static __always_inline void
sg_capture(struct sg_scratch *s, const struct sg_args *a, __s64 ret,
    __u32 cap)
{
	struct sg_data_event *e = &s->ev;

	/* One path on: the verifier would walk the capture once per
	 * constant otherwise. */
	asm volatile("" : "+r"(cap));
	e->flags = 0;
	e->captured = 0;
	switch (a->op) {
	case SG_OP_READ:
	case SG_OP_WRITE:
		sg_capture_buf(e, a->buf, ret, cap);
		break;
	case SG_OP_READV:
	case SG_OP_WRITEV:
		sg_capture_iov(s, a->buf, a->cnt, ret, cap);
		break;
	case SG_OP_RECVMSG:
	case SG_OP_SENDMSG: {
		struct user_msghdr mh;

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)a->buf) != 0)
			break;
		sg_capture_iov(s, (__u64)mh.msg_iov, mh.msg_iovlen, ret, cap);
		break;
	}
	default:   /* sendfile, splice, io_uring...: the length only */
		e->flags |= SG_DATA_NOPAYLOAD;
		break;
	}
}

/* ---- trace context propagation ([ebpf] context_propagation) ----
 *
 * The kernel gives a server request's client calls their trace when they
 * leave: a thread's server request (its last read on a server connection
 * after a write there) fixes the trace id its client calls carry, the
 * request's own traceparent's or one drawn here, until the thread writes
 * its reply.  The sk_msg program writes a traceparent into the thread's
 * outgoing HTTP/1 requests.  Each choice is reported (SG_EV_TRACE) before
 * the data event of the I/O it came with, so that the collector's spans
 * take the same ids as the wire (tracelink.c). */

/* The trace a thread's client calls continue, and the server connection
 * whose request it serves. */
struct sg_tctx {
	__u64 sock;
	__u8  trace_id[16];
	__u8  flags;      /* W3C trace flags */
	__u8  _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);    /* pid_tgid */
	__type(value, struct sg_tctx);
} sg_tctx SEC(".maps");

/* The context a thread's client request took on the wire, from the
 * sk_msg program to the hook that reports the same write. */
struct sg_tsent {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 flags;
	__u8 via;         /* SG_PROP_* */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);    /* pid_tgid */
	__type(value, struct sg_tsent);
} sg_tsent SEC(".maps");

/* The client connections of selected processes, whose writes the sk_msg
 * program sees (put here by the sockops program at their handshake's
 * end; the kernel takes a socket out when it closes). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);    /* socket cookie */
	__type(value, __u64);
} sg_msg_socks SEC(".maps");

/* A connection by its addresses as one end sees them: what the data
 * hooks (struct sg_conn_id) and the sockops and sk_msg programs (their
 * contexts' fields) both know. */
struct sg_tuple {
	__u32 family;
	__u16 lport;      /* host byte order */
	__u16 rport;
	__u32 laddr[4];   /* IPv4 in the first word */
	__u32 raddr[4];
};

/* A context carried in a TCP option: sent (sg_opt_out, by the sender's
 * end) or received (sg_opt_in, by the receiver's). */
struct sg_optctx {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 fresh;       /* out: drawn for a write not reported yet;
	                   * in: not taken by a request yet */
	__u8 via;         /* out: SG_PROP_* bits it also went out by */
	__u8 answered;    /* out: a response was read since: the next
	                   * write is a new request */
	__u8 _pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sg_tuple);
	__type(value, struct sg_optctx);
} sg_opt_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sg_tuple);
	__type(value, struct sg_optctx);
} sg_opt_in SEC(".maps");

static __always_inline void
sg_tuple_of_conn(struct sg_tuple *t, const struct sg_conn_id *c)
{
	t->family = c->family;
	t->lport = c->lport;
	t->rport = c->rport;
	__builtin_memcpy(t->laddr, c->laddr, 16);
	__builtin_memcpy(t->raddr, c->raddr, 16);
}

#define SG_TP_NAME_LEN  12   /* "traceparent:" */
#define SG_TP_VALUE_LEN 55   /* 00-<32 hex>-<16 hex>-<2 hex> */
#define SG_TP_SCAN      256  /* bytes searched for a traceparent */

static __always_inline void
sg_random(__u8 *id, __u32 n)
{
	for (__u32 i = 0; i < n; i += 4) {
		__u32 r = bpf_get_prandom_u32();

		__builtin_memcpy(id + i, &r, 4);
	}
	id[0] |= 1;   /* never all zero: zero means absent */
}

/* Whether p holds "traceparent:" in any case. */
static __always_inline bool
sg_is_tp_name(const __u8 *p)
{
	static const char name[SG_TP_NAME_LEN] = "traceparent:";

	for (int i = 0; i < SG_TP_NAME_LEN - 1; i++)
		if ((p[i] | 0x20) != name[i])
			return false;
	return p[SG_TP_NAME_LEN - 1] == ':';
}

static __always_inline int
sg_unhex(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from 2n lower-case hex digits at p; false when one is not. */
static __always_inline bool
sg_hex_decode(__u8 *out, const __u8 *p, int n)
{
	for (int i = 0; i < n; i++) {
		int hi = sg_unhex(p[2 * i]), lo = sg_unhex(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (__u8)(hi << 4 | lo);
	}
	return true;
}

/* Lower-case letters as upper-case ones and '\n' as '*': words compare
 * then with one OR and one XOR (a '*' before a name matches too; the
 * match is checked byte by byte after). */
#define SG_CASE_FOLD 0x2020202020202020ULL

/* Eight bytes at p, wherever p points: the verifier takes unaligned
 * loads from map values; a byte copy would cost eight loads. */
static __always_inline __u64
sg_load64(const __u8 *p)
{
	return *(const __u64 *)p;
}

/*
 * Where the first line of the first n bytes of d ends (the offset after
 * its '\n', 0 when none does), and where the value of the first
 * "traceparent:" header line begins (0 when there is none whose value
 * fits in n bytes).  d holds SG_TP_SCAN + 64 readable bytes whatever n.
 * No branch but the loop's: a branch per byte would multiply the paths
 * the verifier walks past its limit.  Backwards, so that the first match
 * is the one kept.
 */
static __always_inline void
sg_scan_head(const __u8 *d, __u64 n, __u64 *line_end, __u64 *tp_at,
    bool tp_only)
{
	/* "\ntracepa" and "rent:", folded as above, little-endian */
	const __u64 w0 = 0x61706563617274ULL << 8 | 0x0a;
	const __u64 w1 = 0x3a746e6572ULL, m1 = 0xffffffffffULL;
	const __u64 tp_len = 1 + SG_TP_NAME_LEN + 1 + SG_TP_VALUE_LEN;
	__u64 nl = 0, at = 0, limit;

	/* The positions worth looking at: the loop ends there, so a short
	 * request costs a few iterations, not SG_TP_SCAN. */
	if (n > SG_TP_SCAN + tp_len)
		n = SG_TP_SCAN + tp_len;
	limit = n < SG_TP_SCAN ? n : SG_TP_SCAN;
	if (tp_only)
		limit = n > tp_len ? n - tp_len + 1 : 0;
	if (limit > SG_TP_SCAN)
		limit = SG_TP_SCAN;
	for (__u32 k = 0; k < SG_TP_SCAN; k++) {
		__u64 i = limit - 1 - k;
		__u64 need = i + tp_len;
		__u64 diff, sel, lf;

		if (k >= limit)
			break;
		asm volatile("" : "+r"(i));
		i &= SG_TP_SCAN - 1;
		diff = ((sg_load64(d + i) | SG_CASE_FOLD) ^
		    (w0 | SG_CASE_FOLD)) |
		    (((sg_load64(d + i + 8) | SG_CASE_FOLD) ^
		    (w1 | SG_CASE_FOLD)) & m1);
		/* all ones when diff is 0 and the value fits in n bytes */
		sel = ((diff - 1) & ~(n - need)) >> 63;
		lf = (((__u64)(d[i] ^ '\n') - 1) & ~(n - i - 1)) >> 63;
		asm volatile("" : "+r"(sel), "+r"(lf));
		sel = -sel;
		lf = -lf;
		at = (at & ~sel) | ((i + 1 + SG_TP_NAME_LEN) & sel);
		nl = (nl & ~lf) | ((i + 1) & lf);
	}
	*line_end = nl;
	*tp_at = at;
}

/* The trace id and flags of a traceparent whose value starts at d + at
 * (sg_scan_head's tp_at; d as there, SG_TP_SCAN + 64 bytes past it). */
static __always_inline bool
sg_parse_traceparent(const __u8 *d, __u64 at, __u8 trace[16], __u8 *flags)
{
	__u8 f;

	if (at == 0)
		return false;
	/* Bounds the verifier can see (at < SG_TP_SCAN + 13), and the
	 * match checked byte by byte: the words folded '\n' into '*'. */
	asm volatile("" : "+r"(at));
	at &= 2 * SG_TP_SCAN - 1;
	if (at < SG_TP_NAME_LEN + 1 || d[at - SG_TP_NAME_LEN - 1] != '\n' ||
	    !sg_is_tp_name(d + at - SG_TP_NAME_LEN))
		return false;
	if (d[at] == ' ')
		at++;
	if (d[at] != '0' || d[at + 1] != '0' || d[at + 2] != '-' ||
	    d[at + 35] != '-' || d[at + 52] != '-')
		return false;
	if (!sg_hex_decode(trace, d + at + 3, 16) ||
	    !sg_hex_decode(&f, d + at + 53, 1))
		return false;
	*flags = f;
	return true;
}

/* The context event, before the data event e it concerns. */
static __always_inline void
sg_emit_trace(const struct sg_data_event *e, __u8 kind, const __u8 *trace,
    const __u8 *span, __u8 flags, __u8 via)
{
	struct sg_trace_event *t;

	t = bpf_ringbuf_reserve(&sg_rb, sizeof(*t), 0);
	if (t == NULL) {
		sg_count(SG_STAT_RB_FULL);
		return;
	}
	t->hdr = e->hdr;
	t->hdr.type = SG_EV_TRACE;
	t->conn = e->conn;
	t->kind = kind;
	t->flags = flags;
	t->via = via;
	t->data_flags = e->flags & SG_DATA_TLS;
	__builtin_memset(t->_pad, 0, sizeof(t->_pad));
	__builtin_memcpy(t->trace_id, trace, 16);
	if (span != NULL)
		__builtin_memcpy(t->span_id, span, 8);
	else
		__builtin_memset(t->span_id, 0, 8);
	bpf_ringbuf_submit(t, sg_rb_flags());
}

/* The thread's entry, rewritten in place when it has one: a hash
 * update costs more than a lookup (and an LRU one more still). */
static __always_inline void
sg_tctx_set(__u64 id, const struct sg_tctx *c)
{
	struct sg_tctx *old = bpf_map_lookup_elem(&sg_tctx, &id);

	if (old != NULL)
		*old = *c;
	else
		bpf_map_update_elem(&sg_tctx, &id, c, BPF_ANY);
}

/*
 * A server request starts in the event being built in this CPU's scratch:
 * the thread serves it.  A global function, verified once on its own: the
 * search, walked on every path of every I/O hook that leads here, would
 * take the verifier past its limit.
 */
__noinline int
sg_prop_server_start(__u64 id)
{
	struct sg_tctx c = { .flags = 1 };
	struct sg_scratch *s;
	__u64 nl, at;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (s == NULL)
		return 0;
	c.sock = s->ev.conn.sock;
	/* The caller's TCP option: its client span is the parent. */
	if (propagate & SG_PROP_TCPOPT) {
		struct sg_optctx *o;
		struct sg_tuple k;

		sg_tuple_of_conn(&k, &s->ev.conn);
		o = bpf_map_lookup_elem(&sg_opt_in, &k);
		if (o != NULL && o->fresh) {
			o->fresh = 0;
			__builtin_memcpy(c.trace_id, o->trace_id, 16);
			sg_tctx_set(id, &c);
			sg_emit_trace(&s->ev, SG_TRACE_SERVER, c.trace_id,
			    o->span_id, c.flags, SG_PROP_TCPOPT);
			return 0;
		}
	}
	sg_scan_head(s->ev.data, s->ev.captured, &nl, &at, true);
	if (!sg_parse_traceparent(s->ev.data, at, c.trace_id, &c.flags))
		sg_random(c.trace_id, sizeof(c.trace_id));
	sg_tctx_set(id, &c);
	sg_emit_trace(&s->ev, SG_TRACE_SERVER, c.trace_id, NULL, c.flags, 0);
	return 0;
}

/* The thread replies on e's connection: its request is served (the
 * entry stays for the thread's next one, marked empty: a delete costs
 * more than the lookup). */
static __always_inline void
sg_prop_server_reply(const struct sg_data_event *e, __u64 id)
{
	struct sg_tctx *c = bpf_map_lookup_elem(&sg_tctx, &id);

	if (c != NULL && c->sock == e->conn.sock)
		c->sock = 0;
}

/* A client write: the context the sk_msg program gave it (a header,
 * and in all mode the TCP option too), else the one its TCP option took
 * when its first packet left. */
static __always_inline void
sg_prop_client_write(const struct sg_data_event *e, __u64 id)
{
	struct sg_tsent *t = bpf_map_lookup_elem(&sg_tsent, &id);
	struct sg_optctx *o;
	struct sg_tuple k;

	if (t != NULL) {
		sg_emit_trace(e, SG_TRACE_CLIENT, t->trace_id, t->span_id,
		    t->flags, t->via);
		bpf_map_delete_elem(&sg_tsent, &id);
	}
	if (!(propagate & SG_PROP_TCPOPT))
		return;
	sg_tuple_of_conn(&k, &e->conn);
	o = bpf_map_lookup_elem(&sg_opt_out, &k);
	if (o == NULL || !o->fresh)
		return;
	o->fresh = 0;
	if (t == NULL)
		sg_emit_trace(e, SG_TRACE_CLIENT, o->trace_id, o->span_id, 1,
		    SG_PROP_TCPOPT);
}

/* Propagation's share of an I/O event, before it goes out. */
static __always_inline void
sg_prop_on_io(const struct sg_data_event *e, struct sg_sock_info *info,
    __u8 dir)
{
	__u64 id = (__u64)e->hdr.pid << 32 | e->hdr.tid;
	__u8 last;

	if (info == NULL)
		return;
	last = info->last;
	info->last = dir + 1;
	if (e->role == SG_ROLE_SERVER) {
		if (dir == SG_DIR_READ && last != SG_DIR_READ + 1)
			sg_prop_server_start(id);
		else if (dir == SG_DIR_WRITE)
			sg_prop_server_reply(e, id);
	} else if (e->role == SG_ROLE_CLIENT && dir == SG_DIR_WRITE) {
		sg_prop_client_write(e, id);
	} else if (e->role == SG_ROLE_CLIENT && (propagate & SG_PROP_TCPOPT)) {
		struct sg_optctx *o;
		struct sg_tuple k;

		/* a response: the next write starts another request */
		sg_tuple_of_conn(&k, &e->conn);
		o = bpf_map_lookup_elem(&sg_opt_out, &k);
		if (o != NULL)
			o->answered = 1;
	}
}

/* Fill the payload part of the event in s from the buffers of a (header
 * and connection already filled), with flags (SG_DATA_*) added, and write
 * it out.  tls: the process may be in a TLS library's call, whose
 * ciphertext is not reported. */
static __always_inline void
sg_emit_payload(struct sg_scratch *s, const struct sg_args *a, __s64 ret,
    __u8 dir, struct sg_sock_info *info, __u8 flags, bool tls)
{
	struct sg_data_event *e = &s->ev;
	bool wide = info != NULL && info->wide;

	if (tls && sg_tls_ciphertext(&e->conn, info))
		return;
	e->len = ret;
	e->dir = dir;
	e->role = info != NULL ? info->role : SG_ROLE_UNKNOWN;
	__builtin_memset(e->tail, 0, sizeof(e->tail));
	sg_capture(s, a, ret, wide ? http2_capture_size : capture_size);
	if (info != NULL && !wide && http2_capture_size > capture_size &&
	    sg_looks_wide(e)) {
		info->wide = 1;
		/* This very write may hold several streams' header blocks
		 * (a client's first burst of requests): read it again. */
		if (reread_wide && ret > e->captured)
			sg_capture(s, a, ret, http2_capture_size);
	}
	e->flags |= flags;
	if (propagate != 0)
		sg_prop_on_io(e, info, dir);
	if (e->captured > SG_CAPTURE_MAX)
		return;
	sg_output(e, SG_DATA_EVENT_HDR_SIZE + e->captured);
}

/* SG_DATA_CLOSED when the socket has closed: its last I/O. */
static __always_inline __u8
sg_closed_flag(int state)
{
	return state == TCP_CLOSE ? SG_DATA_CLOSED : 0;
}

/* Direction of an I/O op; SG_DIR_NONE for the others. */
static __always_inline __u8
sg_op_dir(__u32 op)
{
	if (op >= SG_OP_READ && op <= SG_OP_RECVMSG)
		return SG_DIR_READ;
	if (op >= SG_OP_WRITE && op <= SG_OP_SENDFILE)
		return SG_DIR_WRITE;
	return SG_DIR_NONE;
}

static __always_inline void
sg_emit_data(const struct sg_args *a, __s64 ret, bool tls)
{
	struct sg_scratch *s;
	struct sock *sk;
	__u32 zero = 0;

	sk = sg_fd_to_tcp_sock(a->fd);
	if (sk == NULL)
		return;
	s = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (s == NULL)
		return;
	sg_fill_hdr(&s->ev.hdr, SG_EV_DATA);
	if (sg_fill_conn(&s->ev.conn, sk) != 0)
		return;
	sg_emit_payload(s, a, ret, sg_op_dir(a->op),
	    sg_sock_claim(s->ev.conn.sock, s->ev.hdr.pid),
	    sg_closed_flag(BPF_CORE_READ(sk, __sk_common.skc_state)), tls);
}

static __always_inline void
sg_emit_conn(int fd, __u8 role)
{
	struct sg_conn_event e = {};
	struct sock *sk = sg_fd_to_tcp_sock(fd);
	struct sg_sock_info info = { .role = role };

	if (sk == NULL)
		return;
	sg_fill_hdr(&e.hdr, SG_EV_CONN);
	if (sg_fill_conn(&e.conn, sk) != 0)
		return;
	e.role = role;
	info.owner = e.hdr.pid;
	bpf_map_update_elem(&sg_roles, &e.conn.sock, &info, BPF_ANY);
	sg_output(&e, sizeof(e));
}

static __always_inline int
sg_on_enter(__u32 op, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_args args = {};

	if (!sg_selected(id >> 32))
		return 0;
	args.op = op;
	args.fd = (__s32)a0;
	args.buf = a1;
	args.cnt = a2;
	bpf_map_update_elem(&sg_args, &id, &args, BPF_ANY);
	return 0;
}

/* tls: the process may be in a TLS library's call (sg_sel_tls). */
static __always_inline int
sg_on_exit(__s64 ret, bool tls)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_args *a;
	struct sg_args args;

	a = bpf_map_lookup_elem(&sg_args, &id);
	if (a == NULL)
		return 0;
	args = *a;
	bpf_map_delete_elem(&sg_args, &id);

	switch (args.op) {
	case SG_OP_ACCEPT:
		if (ret >= 0)
			sg_emit_conn((int)ret, SG_ROLE_SERVER);
		break;
	case SG_OP_CONNECT:
		if (ret == 0 || ret == -EINPROGRESS)
			sg_emit_conn(args.fd, SG_ROLE_CLIENT);
		break;
	default:
		if (ret > 0)
			sg_emit_data(&args, ret, tls);
		break;
	}
	return 0;
}

/* close(): the fd is still valid at entry, so resolve it there. */
static __always_inline int
sg_on_close(int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_close_event e = {};
	struct sock *sk;

	if (!sg_selected(id >> 32))
		return 0;
	sk = sg_fd_to_tcp_sock(fd);
	if (sk == NULL)
		return 0;
	sg_fill_hdr(&e.hdr, SG_EV_CLOSE);
	if (sg_fill_conn(&e.conn, sk) != 0)
		return 0;
	bpf_map_delete_elem(&sg_roles, &e.conn.sock);
	sg_output(&e, sizeof(e));
	return 0;
}

/* ---- per-syscall tracepoints (need tracefs) ---- */

/* flags: the index of a recv flags argument, or 0 for none. */
#define SG_TP_ENTER_FLAGS(name, op, flags)				\
SEC("tracepoint/syscalls/sys_enter_" #name)				\
int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)		\
{									\
	/* a peek is read again later, for real */			\
	if ((flags) != 0 && (ctx->args[(flags) & 7] & MSG_PEEK))	\
		return 0;						\
	return sg_on_enter(op, ctx->args[0], ctx->args[1], ctx->args[2]); \
}									\
SEC("tracepoint/syscalls/sys_exit_" #name)				\
int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)		\
{									\
	bool tls;							\
									\
	if (!sg_io_selected(bpf_get_current_pid_tgid() >> 32, &tls))	\
		return 0;						\
	return sg_on_exit(ctx->ret, tls);				\
}
#define SG_TP_ENTER(name, op) SG_TP_ENTER_FLAGS(name, op, 0)

SG_TP_ENTER(read, SG_OP_READ)
SG_TP_ENTER(readv, SG_OP_READV)
SG_TP_ENTER_FLAGS(recvfrom, SG_OP_READ, 3)
SG_TP_ENTER_FLAGS(recvmsg, SG_OP_RECVMSG, 2)
SG_TP_ENTER(write, SG_OP_WRITE)
SG_TP_ENTER(writev, SG_OP_WRITEV)
SG_TP_ENTER(sendto, SG_OP_WRITE)
SG_TP_ENTER(sendmsg, SG_OP_SENDMSG)
SG_TP_ENTER(sendfile64, SG_OP_SENDFILE)
SG_TP_ENTER(accept, SG_OP_ACCEPT)
SG_TP_ENTER(accept4, SG_OP_ACCEPT)
SG_TP_ENTER(connect, SG_OP_CONNECT)

SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return sg_on_close((int)ctx->args[0]);
}

/* ---- raw sys_enter/sys_exit: no tracefs needed, filtered by number ---- */

#if defined(__TARGET_ARCH_x86)
#define SG_NR_READ      0
#define SG_NR_WRITE     1
#define SG_NR_CLOSE     3
#define SG_NR_READV     19
#define SG_NR_WRITEV    20
#define SG_NR_SENDFILE  40
#define SG_NR_CONNECT   42
#define SG_NR_ACCEPT    43
#define SG_NR_SENDTO    44
#define SG_NR_RECVFROM  45
#define SG_NR_SENDMSG   46
#define SG_NR_RECVMSG   47
#define SG_NR_ACCEPT4   288
#elif defined(__TARGET_ARCH_arm64)
#define SG_NR_READ      63
#define SG_NR_WRITE     64
#define SG_NR_CLOSE     57
#define SG_NR_READV     65
#define SG_NR_WRITEV    66
#define SG_NR_SENDFILE  71
#define SG_NR_CONNECT   203
#define SG_NR_ACCEPT    202
#define SG_NR_SENDTO    206
#define SG_NR_RECVFROM  207
#define SG_NR_SENDMSG   211
#define SG_NR_RECVMSG   212
#define SG_NR_ACCEPT4   242
#else
#error "unsupported architecture"
#endif

static __always_inline __u32
sg_op_of(long nr)
{
	switch (nr) {
	case SG_NR_READ:
	case SG_NR_RECVFROM:  return SG_OP_READ;
	case SG_NR_READV:     return SG_OP_READV;
	case SG_NR_RECVMSG:   return SG_OP_RECVMSG;
	case SG_NR_WRITE:
	case SG_NR_SENDTO:    return SG_OP_WRITE;
	case SG_NR_WRITEV:    return SG_OP_WRITEV;
	case SG_NR_SENDMSG:   return SG_OP_SENDMSG;
	case SG_NR_SENDFILE:  return SG_OP_SENDFILE;
	case SG_NR_ACCEPT:
	case SG_NR_ACCEPT4:   return SG_OP_ACCEPT;
	case SG_NR_CONNECT:   return SG_OP_CONNECT;
	}
	return SG_OP_NONE;
}

SEC("raw_tracepoint/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = (long)ctx->args[1];
	__u32 op;

	if (nr == SG_NR_CLOSE)
		return sg_on_close((int)PT_REGS_PARM1_CORE_SYSCALL(regs));
	op = sg_op_of(nr);
	if (op == SG_OP_NONE)
		return 0;
	/* a peek is read again later, for real */
	if ((nr == SG_NR_RECVFROM &&
	    (PT_REGS_PARM4_CORE_SYSCALL(regs) & MSG_PEEK)) ||
	    (nr == SG_NR_RECVMSG &&
	    (PT_REGS_PARM3_CORE_SYSCALL(regs) & MSG_PEEK)))
		return 0;
	return sg_on_enter(op, PT_REGS_PARM1_CORE_SYSCALL(regs),
	    PT_REGS_PARM2_CORE_SYSCALL(regs), PT_REGS_PARM3_CORE_SYSCALL(regs));
}

SEC("raw_tracepoint/sys_exit")
int raw_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	bool tls;

	if (!sg_io_selected(bpf_get_current_pid_tgid() >> 32, &tls))
		return 0;
	return sg_on_exit((__s64)ctx->args[1], tls);
}

/* ---- socket tracepoints, BTF-typed (6.3+): no syscall hooks at all ---- */

/* The syscall this socket I/O serves: its number, first three arguments
 * and recv flags, from the task's saved user registers. */
static __always_inline int
sg_current_syscall(struct sg_args *a)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(
	    bpf_get_current_task_btf());
	long nr;
	int flags = 0;

#if defined(__TARGET_ARCH_x86)
	nr = r->orig_ax;
	a->fd = (__s32)r->di;
	a->buf = r->si;
	a->cnt = r->dx;
	if (nr == SG_NR_RECVFROM)
		flags = r->r10;
#elif defined(__TARGET_ARCH_arm64)
	nr = r->syscallno;
	a->fd = (__s32)r->orig_x0;
	a->buf = r->regs[1];
	a->cnt = r->regs[2];
	if (nr == SG_NR_RECVFROM)
		flags = r->regs[3];
#endif
	if (nr == SG_NR_RECVMSG)
		flags = a->cnt;
	a->op = sg_op_of(nr);
	return flags;
}

/*
 * What the socket hooks report of this I/O: the syscall's op when the
 * I/O is that syscall's own (its buffers then hold the bytes), else
 * SG_OP_NONE (io_uring, splice, a read that discards: counted, not
 * captured).  False for a peek, which is read again later for real.
 * flags: the hook's own, or 0 where it has none (the syscall's are
 * added).
 */
static __always_inline bool
sg_sock_io_op(struct sg_args *a, int flags, __u8 dir)
{
	flags |= sg_current_syscall(a);
	if (dir == SG_DIR_READ && (flags & MSG_PEEK))
		return false;
	if (a->op == SG_OP_ACCEPT || a->op == SG_OP_CONNECT ||
	    sg_op_dir(a->op) != dir || (flags & MSG_TRUNC))
		a->op = SG_OP_NONE;
	return true;
}

/* sg_fill_conn for a BTF-typed socket: plain loads, no helper calls. */
static __always_inline int
sg_fill_conn_btf(struct sg_conn_id *c, const struct sock *sk)
{
	const struct sock_common *k = &sk->__sk_common;
	__u16 family = k->skc_family;

	c->sock = (__u64)sk;
	c->family = family;
	c->lport = k->skc_num;
	c->rport = bpf_ntohs(k->skc_dport);
	__builtin_memset(c->laddr, 0, sizeof(c->laddr));
	__builtin_memset(c->raddr, 0, sizeof(c->raddr));
	if (family == AF_INET) {
		__u32 l = k->skc_rcv_saddr, r = k->skc_daddr;

		__builtin_memcpy(c->laddr, &l, 4);
		__builtin_memcpy(c->raddr, &r, 4);
	} else if (family == AF_INET6) {
		for (int i = 0; i < 4; i++) {
			__u32 l = k->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			__u32 r = k->skc_v6_daddr.in6_u.u6_addr32[i];

			__builtin_memcpy(c->laddr + 4 * i, &l, 4);
			__builtin_memcpy(c->raddr + 4 * i, &r, 4);
		}
	} else {
		return -1;
	}
	return 0;
}

static __always_inline int
sg_on_sock_io(const struct sock *sk, int ret, int flags, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_sock_info *info;
	struct sg_args a = {};
	struct sg_scratch *s;
	__u32 zero = 0;
	bool tls;

	if (ret <= 0 || !sg_io_selected(id >> 32, &tls))
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP || sk->sk_type != SOCK_STREAM)
		return 0;
	if (!sg_sock_io_op(&a, flags, dir))
		return 0;
	s = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (s == NULL)
		return 0;
	sg_fill_hdr(&s->ev.hdr, SG_EV_DATA);
	if (sg_fill_conn_btf(&s->ev.conn, sk) != 0)
		return 0;
	info = bpf_sk_storage_get(&sg_sk, (void *)sk, NULL,
	    BPF_SK_STORAGE_GET_F_CREATE);
	if (info != NULL && info->owner == 0)
		info->owner = id >> 32;
	sg_emit_payload(s, &a, ret, dir, info,
	    sg_closed_flag(sk->__sk_common.skc_state), tls);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sk_send, struct sock *sk, int ret, int flags)
{
	return sg_on_sock_io(sk, ret, flags, SG_DIR_WRITE);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sk_recv, struct sock *sk, int ret, int flags)
{
	return sg_on_sock_io(sk, ret, flags, SG_DIR_READ);
}

/* ---- fexit on the TCP send/receive functions: the socket hooks' work
 * where trampolines exist but the socket tracepoints do not (5.17-6.2).
 * Only the first argument is declared and the return value is asked
 * for, so the programs do not depend on the functions' other arguments,
 * which changed across versions. ---- */

static __always_inline int
sg_fexit_io(void *ctx, const struct sock *sk, __u8 dir)
{
	__u64 ret = 0;

	if (bpf_get_func_ret(ctx, &ret) != 0)
		return 0;
	return sg_on_sock_io(sk, (int)ret, 0, dir);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fx_send, struct sock *sk)
{
	return sg_fexit_io(ctx, sk, SG_DIR_WRITE);
}

/* A socket in sg_msg_socks (header propagation) sends through the
 * sockmap's tcp_bpf_sendmsg instead of tcp_sendmsg: loaded then. */
SEC("fexit/tcp_bpf_sendmsg")
int BPF_PROG(prop_fx_send, struct sock *sk)
{
	return sg_fexit_io(ctx, sk, SG_DIR_WRITE);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_recv, struct sock *sk)
{
	return sg_fexit_io(ctx, sk, SG_DIR_READ);
}

/* sendfile's path before 6.5 (then it goes through tcp_sendmsg). */
SEC("fexit/tcp_sendpage")
int BPF_PROG(fx_sendpage, struct sock *sk)
{
	return sg_fexit_io(ctx, sk, SG_DIR_WRITE);
}

/* ---- kprobes on the same functions: the socket from entry, kept per
 * thread in sg_args until the return.  Plain pointers here, so the socket
 * is read through CO-RE and its role kept in sg_roles. ---- */

static __always_inline int
sg_kprobe_enter(struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_args a = { .buf = (__u64)sk };

	if (!sg_selected(id >> 32))
		return 0;
	bpf_map_update_elem(&sg_args, &id, &a, BPF_ANY);
	return 0;
}

static __always_inline int
sg_kprobe_return(long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_scratch *s;
	struct sg_args *p, a = {};
	struct sock *sk;
	__u32 zero = 0;
	bool tls;

	if (!sg_io_selected(id >> 32, &tls))
		return 0;
	p = bpf_map_lookup_elem(&sg_args, &id);
	if (p == NULL)
		return 0;
	sk = (struct sock *)p->buf;
	bpf_map_delete_elem(&sg_args, &id);
	if (ret <= 0 || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return 0;
	if (!sg_sock_io_op(&a, 0, dir))
		return 0;
	s = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (s == NULL)
		return 0;
	sg_fill_hdr(&s->ev.hdr, SG_EV_DATA);
	if (sg_fill_conn(&s->ev.conn, sk) != 0)
		return 0;
	sg_emit_payload(s, &a, ret, dir,
	    sg_sock_claim(s->ev.conn.sock, s->ev.hdr.pid),
	    sg_closed_flag(BPF_CORE_READ(sk, __sk_common.skc_state)), tls);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_send_enter, struct sock *sk)
{
	return sg_kprobe_enter(sk);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(kp_send_return, int ret)
{
	return sg_kprobe_return(ret, SG_DIR_WRITE);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_recv_enter, struct sock *sk)
{
	return sg_kprobe_enter(sk);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(kp_recv_return, int ret)
{
	return sg_kprobe_return(ret, SG_DIR_READ);
}

SEC("kprobe/tcp_sendpage")
int BPF_KPROBE(kp_sendpage_enter, struct sock *sk)
{
	return sg_kprobe_enter(sk);
}

SEC("kretprobe/tcp_sendpage")
int BPF_KRETPROBE(kp_sendpage_return, int ret)
{
	return sg_kprobe_return(ret, SG_DIR_WRITE);
}

/*
 * Roles and ends of TCP connections, from the state machine.  An active
 * open passes SYN_SENT in connect()'s own context; a passive one reaches
 * ESTABLISHED from SYN_RECV in softirq, before anyone accepted it, so it
 * is recorded for any process (a few bytes of socket storage per inbound
 * connection).  TCP_CLOSE is reported to the socket's owner when we
 * reported its I/O.
 */
/* What we know of sk, where this flavour keeps it (socket storage, or
 * sg_roles for the kprobe hooks); created when create is set. */
static __always_inline struct sg_sock_info *
sg_sock_info(const struct sock *sk, bool create)
{
	struct sg_sock_info n = {};
	__u64 key = (__u64)sk;

	if (!roles_in_map)
		return bpf_sk_storage_get(&sg_sk, (void *)sk, NULL,
		    create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (create)
		bpf_map_update_elem(&sg_roles, &key, &n, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sg_roles, &key);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sk_state, const struct sock *sk, const int oldstate,
    const int newstate)
{
	struct sg_close_event e = {};
	struct sg_sock_info *i;
	__u32 owner;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		if (!sg_selected(bpf_get_current_pid_tgid() >> 32))
			return 0;
		i = sg_sock_info(sk, true);
		if (i != NULL)
			i->role = SG_ROLE_CLIENT;
		return 0;
	}
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {
		/* Fast open: data may have come first, owner already set. */
		i = sg_sock_info(sk, true);
		if (i != NULL)
			i->role = SG_ROLE_SERVER;
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	i = sg_sock_info(sk, false);
	if (i == NULL || i->owner == 0)
		return 0;
	/* A socket may connect() again after it closed. */
	owner = i->owner;
	i->owner = 0;
	i->role = SG_ROLE_UNKNOWN;
	if (roles_in_map) {
		__u64 key = (__u64)sk;

		bpf_map_delete_elem(&sg_roles, &key);
	}
	sg_fill_hdr(&e.hdr, SG_EV_CLOSE);
	e.hdr.pid = owner;
	if (sg_fill_conn_btf(&e.conn, sk) != 0)
		return 0;
	sg_output(&e, sizeof(e));
	return 0;
}

/* ---- processes: raw tracepoints, typed by BTF through CO-RE ---- */

static __always_inline void
sg_emit_proc(__u32 type, __u32 pid, __u32 ppid)
{
	struct sg_proc_event e = {};

	sg_fill_hdr(&e.hdr, type);
	e.hdr.pid = pid;
	e.ppid = ppid;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	sg_output(&e, offsetof(struct sg_proc_event, filename));
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid,
 *     struct linux_binprm *bprm): runs in the new image's context. */
static __always_inline int
sg_on_exec(struct bpf_raw_tracepoint_args *ctx, bool bits)
{
	struct task_struct *p = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u32 pending = SG_PID_PENDING;
	struct sg_proc_event *e;
	__u64 start, end, n;
	__u32 zero = 0;

	if (!sg_selected(tgid)) {
		if (!want_exec)
			return 0;
		/* Trace it from now on, so that a short-lived client's first
		 * request is not missed while the loader matches it. */
		if (bpf_map_update_elem(&sg_pids, &tgid, &pending,
		    BPF_NOEXIST) == 0 && bits)
			sg_pidbit_set(tgid);
	}
	e = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (e == NULL)
		return 0;
	sg_fill_hdr(&e->hdr, SG_EV_EXEC);
	e->hdr.pid = tgid;
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
	    BPF_CORE_READ(bprm, filename));
	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	n = end > start ? end - start : 0;
	if (n > SG_EXEC_ARGS_MAX)
		n = SG_EXEC_ARGS_MAX;
	if (bpf_probe_read_user(e->args, n, (void *)start) != 0)
		n = 0;
	e->args_len = n;
	sg_output(e, sizeof(*e));
	return 0;
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
static __always_inline int
sg_on_fork(struct bpf_raw_tracepoint_args *ctx, bool bits)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 one = SG_PID_SELECTED;

	/* A new thread shares its process's selection already. */
	if (cpid != ctgid || !sg_selected(ptgid))
		return 0;
	if (bpf_map_update_elem(&sg_pids, &ctgid, &one, BPF_ANY) == 0 && bits)
		sg_pidbit_set(ctgid);
	sg_emit_proc(SG_EV_FORK, ctgid, ptgid);
	return 0;
}

/* sched_process_exit(struct task_struct *p) */
static __always_inline int
sg_on_exit_proc(struct bpf_raw_tracepoint_args *ctx, bool bits)
{
	struct task_struct *p = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(p, tgid);
	int live = BPF_CORE_READ(p, signal, live.counter);

	/*
	 * The process ends with its last thread, which need not be the
	 * leader: a main thread may pthread_exit() while others serve, and
	 * an exec from another thread ends the leader.  do_exit() counts
	 * the thread out of signal->live before this tracepoint; two
	 * threads ending together may both see 0, and the second finds the
	 * process no longer selected.
	 */
	if (live != 0 || !sg_selected(tgid))
		return 0;
	bpf_map_delete_elem(&sg_pids, &tgid);
	if (bits)
		sg_pidbit_clear(tgid);
	sg_emit_proc(SG_EV_EXIT, tgid, 0);
	return 0;
}

/*
 * The process programs twice: with sg_pidbits kept by BPF atomics (5.12+),
 * and without them for older kernels, which refuse an object holding an
 * atomic instruction they do not know; there the bitmap is off (pidbits)
 * and every lookup goes to sg_pids.  The loader loads one set.
 */
#define SG_PROC_PROGS(suffix, bits)					\
SEC("raw_tracepoint/sched_process_exec")				\
int raw_exec##suffix(struct bpf_raw_tracepoint_args *ctx)		\
{									\
	return sg_on_exec(ctx, bits);					\
}									\
SEC("raw_tracepoint/sched_process_fork")				\
int raw_fork##suffix(struct bpf_raw_tracepoint_args *ctx)		\
{									\
	return sg_on_fork(ctx, bits);					\
}									\
SEC("raw_tracepoint/sched_process_exit")				\
int raw_exit##suffix(struct bpf_raw_tracepoint_args *ctx)		\
{									\
	return sg_on_exit_proc(ctx, bits);				\
}

SG_PROC_PROGS(, true)
SG_PROC_PROGS(58, false)

/* ---- TLS: uprobes on OpenSSL's SSL_read, SSL_write and their _ex forms,
 * attached by the loader to each libssl (or executable linking OpenSSL
 * statically) a selected process maps.  Entry keeps the call's arguments
 * per thread; the socket hooks bind the SSL object to the connection the
 * library reads or writes meanwhile; the return reports the plaintext as
 * that connection's. ---- */

static __always_inline int
sg_ssl_enter(__u8 op, __u64 ssl, __u64 buf, __u64 lenp)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_ssl_call c = { .ssl = ssl, .buf = buf, .lenp = lenp,
	    .op = op, .in_call = 1 };
	struct sg_ssl_call *p;

	if (!sg_tls_mark(id >> 32))
		return 0;
	p = bpf_map_lookup_elem(&sg_ssl_calls, &id);
	if (p != NULL)
		*p = c;   /* only this thread writes its entry */
	else
		bpf_map_update_elem(&sg_ssl_calls, &id, &c, BPF_ANY);
	return 0;
}

/* Bytes the call moved: its return value, or for the _ex forms (and
 * the inner functions that take their arguments, tls_elf.c) what it
 * stored at lenp when it succeeded (> 0).  Every one returns an int: the
 * upper half of the register is not part of it. */
static __always_inline __s64
sg_ssl_moved(const struct sg_ssl_call *c, long rax)
{
	int ret = (int)rax;
	__u64 n = 0;

	switch (c->op) {
	case SG_SSL_READ:
	case SG_SSL_WRITE:
		return ret > 0 ? ret : 0;
	case SG_SSL_READ_EX:
	case SG_SSL_WRITE_EX:
		if (ret <= 0 || bpf_probe_read_user(&n, sizeof(n),
		    (void *)c->lenp) != 0)
			return 0;
		return n < (1ULL << 62) ? (__s64)n : 0;
	}
	return 0;
}

/* The plaintext of call c, as the data of the connection b. */
static __always_inline void
sg_ssl_emit(const struct sg_ssl_call *c, struct sg_ssl_conn *b, __s64 len)
{
	bool read = c->op == SG_SSL_READ || c->op == SG_SSL_READ_EX;
	struct sg_args a = { .op = read ? SG_OP_READ : SG_OP_WRITE,
	    .buf = c->buf };
	struct sg_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&sg_scratch, &zero);
	if (s == NULL)
		return;
	sg_fill_hdr(&s->ev.hdr, SG_EV_DATA);
	s->ev.conn = b->conn;
	sg_emit_payload(s, &a, len, read ? SG_DIR_READ : SG_DIR_WRITE,
	    &b->info, SG_DATA_TLS, false);
}

static __always_inline int
sg_ssl_return(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_ssl_key k = { .tgid = id >> 32 };
	struct sg_ssl_call *p, c;
	struct sg_ssl_conn *b;
	__s64 len;

	/* Every process mapping the library returns through here: most
	 * are not selected, and the bitmap says so for less than a lookup. */
	if (!sg_pidbit_test(id >> 32))
		return 0;
	p = sg_ssl_call_of(id);
	if (p == NULL)
		return 0;
	c = *p;
	k.ssl = c.ssl;
	len = sg_ssl_moved(&c, ret);
	b = bpf_map_lookup_elem(&sg_ssl_conns, &k);
	if (b == NULL) {
		/* Its connection is not known yet: the thread's next socket
		 * I/O tells; these bytes are lost, and counted. */
		p->in_call = 0;
		if (len > 0)
			sg_count(SG_STAT_TLS_UNBOUND);
		return 0;
	}
	p->op = 0;
	if (len > 0)
		sg_ssl_emit(&c, b, len);
	return 0;
}

/* int SSL_read(SSL *s, void *buf, int num), SSL_write alike */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return sg_ssl_enter(SG_SSL_READ, (__u64)ssl, (__u64)buf, 0);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, void *buf)
{
	return sg_ssl_enter(SG_SSL_WRITE, (__u64)ssl, (__u64)buf, 0);
}

/* int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num,
    void *lenp)
{
	return sg_ssl_enter(SG_SSL_READ_EX, (__u64)ssl, (__u64)buf,
	    (__u64)lenp);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, void *buf, __u64 num,
    void *lenp)
{
	return sg_ssl_enter(SG_SSL_WRITE_EX, (__u64)ssl, (__u64)buf,
	    (__u64)lenp);
}

/* int SSL_do_handshake(SSL *s): its socket I/O binds the SSL object
 * before any data flows. */
SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
	return sg_ssl_enter(SG_SSL_HANDSHAKE, (__u64)ssl, 0, 0);
}

/* One return program for them all: the call's kind was kept at entry. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_return, long ret)
{
	return sg_ssl_return(ret);
}

/* void SSL_free(SSL *s): its address may serve a new connection next. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_ssl_key k = { .ssl = (__u64)ssl, .tgid = id >> 32 };

	if (!sg_selected(id >> 32))
		return 0;
	bpf_map_delete_elem(&sg_ssl_conns, &k);
	return 0;
}

/* ---- propagation programs: sockops on a cgroup, sk_msg on sg_msg_socks;
 * loaded only when [ebpf] context_propagation asks ---- */

#define SG_TP_HDR_LEN (SG_TP_NAME_LEN + 1 + SG_TP_VALUE_LEN + 2)

/* Whether p starts an HTTP/1 request: a method and a space. */
static __always_inline bool
sg_http_method(const __u8 *p)
{
	__u32 w = (__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 |
	    (__u32)p[3] << 24;

#define SG_W(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | \
	(__u32)(d) << 24)
	switch (w) {
	case SG_W('G', 'E', 'T', ' '):
	case SG_W('P', 'U', 'T', ' '):
	case SG_W('P', 'O', 'S', 'T'):
	case SG_W('H', 'E', 'A', 'D'):
	case SG_W('D', 'E', 'L', 'E'):
	case SG_W('P', 'A', 'T', 'C'):
	case SG_W('O', 'P', 'T', 'I'):
		return true;
	}
#undef SG_W
	return false;
}

/* The head of a write, copied out of the message for sg_scan_head;
 * room for every read at an offset masked to 2 * SG_TP_SCAN - 1 (what
 * verifiers before 6.18 bound it by). */
struct sg_msg_head {
	__u8 b[2 * SG_TP_SCAN + 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sg_msg_head);
} sg_msg_head SEC(".maps");

/* Where a write's head says its traceparent goes (line_end: after the
 * request line), or where the one it carries begins (tp_at); both 0 when
 * the write starts no HTTP/1 request.  tp_trace: that one's trace id. */
struct sg_msg_scan {
	__u64 line_end;
	__u64 tp_at;
	__u8  tp_trace[16];
	__u8  tp_flags;
};

static __always_inline void
sg_msg_scan(struct sk_msg_md *msg, struct sg_msg_scan *r)
{
	__u64 want = msg->size < SG_TP_SCAN ? msg->size : SG_TP_SCAN;
	struct sg_msg_head *h;
	__u32 zero = 0;

	r->line_end = r->tp_at = 0;
	if (want < 16 || bpf_msg_pull_data(msg, 0, want, 0) != 0)
		return;
	h = bpf_map_lookup_elem(&sg_msg_head, &zero);
	if (h == NULL)
		return;
	asm volatile("" : "+r"(want));
	want &= 2 * SG_TP_SCAN - 1;
	if (want > SG_TP_SCAN ||
	    bpf_probe_read_kernel(h->b, want, msg->data) != 0)
		return;
	if (!sg_http_method(h->b))
		return;
	sg_scan_head(h->b, want, &r->line_end, &r->tp_at, false);
	if (r->tp_at != 0 && !sg_parse_traceparent(h->b, r->tp_at,
	    r->tp_trace, &r->tp_flags))
		r->line_end = r->tp_at = 0;   /* one we cannot read: leave it */
	/* its value, past the space sg_parse_traceparent skips */
	if (r->tp_at != 0 && h->b[r->tp_at & (2 * SG_TP_SCAN - 1)] == ' ')
		r->tp_at++;
}

static __always_inline char
sg_hexdigit(__u8 v)
{
	return "0123456789abcdef"[v & 15];
}

/* "traceparent: 00-<trace>-<span>-<flags>\r\n" */
static __always_inline void
sg_tp_format(char *h, const struct sg_tsent *t)
{
	__builtin_memcpy(h, "traceparent: 00-", 16);
	for (int i = 0; i < 16; i++) {
		h[16 + 2 * i] = sg_hexdigit(t->trace_id[i] >> 4);
		h[17 + 2 * i] = sg_hexdigit(t->trace_id[i]);
	}
	h[48] = '-';
	for (int i = 0; i < 8; i++) {
		h[49 + 2 * i] = sg_hexdigit(t->span_id[i] >> 4);
		h[50 + 2 * i] = sg_hexdigit(t->span_id[i]);
	}
	h[65] = '-';
	h[66] = sg_hexdigit(t->flags >> 4);
	h[67] = sg_hexdigit(t->flags);
	h[68] = '\r';
	h[69] = '\n';
}

/* The context a client request of thread id leaves with: a child of the
 * server request the thread serves, else a trace of its own. */
static __always_inline void
sg_prop_client_ctx(struct sg_tsent *t, __u64 id, __u8 via)
{
	struct sg_tctx *c = bpf_map_lookup_elem(&sg_tctx, &id);

	if (c != NULL && c->sock != 0) {
		__builtin_memcpy(t->trace_id, c->trace_id, 16);
		t->flags = c->flags;
	} else {
		sg_random(t->trace_id, 16);
		t->flags = 1;
	}
	sg_random(t->span_id, 8);
	t->via = via;
}

/* The tuple of the sk_msg or sockops context x (the same fields). */
#define SG_TUPLE_OF_CTX(t, x) do {					\
	__builtin_memset((t), 0, sizeof(*(t)));				\
	(t)->family = (x)->family;					\
	(t)->lport = (x)->local_port;					\
	(t)->rport = bpf_ntohl((x)->remote_port) & 0xffff;		\
	if ((x)->family == AF_INET) {					\
		(t)->laddr[0] = (x)->local_ip4;				\
		(t)->raddr[0] = (x)->remote_ip4;			\
	} else {							\
		/* one constant offset per field: the verifier takes	\
		 * no other context access */				\
		(t)->laddr[0] = (x)->local_ip6[0];			\
		(t)->laddr[1] = (x)->local_ip6[1];			\
		(t)->laddr[2] = (x)->local_ip6[2];			\
		(t)->laddr[3] = (x)->local_ip6[3];			\
		(t)->raddr[0] = (x)->remote_ip6[0];			\
		(t)->raddr[1] = (x)->remote_ip6[1];			\
		(t)->raddr[2] = (x)->remote_ip6[2];			\
		(t)->raddr[3] = (x)->remote_ip6[3];			\
	}								\
} while (0)

static __always_inline void
sg_tuple_of_msg(struct sg_tuple *t, struct sk_msg_md *msg)
{
	SG_TUPLE_OF_CTX(t, msg);
}

static __always_inline void
sg_tuple_of_ops(struct sg_tuple *t, struct bpf_sock_ops *skops)
{
	SG_TUPLE_OF_CTX(t, skops);
}

static __always_inline bool
sg_same_trace(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* A new traceparent line after the request line (at). */
static __always_inline bool
sg_msg_insert_tp(struct sk_msg_md *msg, __u32 at, const struct sg_tsent *t)
{
	char h[SG_TP_HDR_LEN];
	__u8 *d;

	sg_tp_format(h, t);
	if (bpf_msg_push_data(msg, at, SG_TP_HDR_LEN, 0) != 0)
		return false;
	/* The new bytes, linear and writable from msg->data on. */
	if (bpf_msg_pull_data(msg, at, at + SG_TP_HDR_LEN, 0) != 0)
		goto undo;
	d = msg->data;
	if (d + SG_TP_HDR_LEN > (__u8 *)msg->data_end)
		goto undo;
	__builtin_memcpy(d, h, SG_TP_HDR_LEN);
	return true;
undo:
	bpf_msg_pop_data(msg, at, SG_TP_HDR_LEN, 0);
	return false;
}

/* The parent id of the traceparent whose value begins at at: ours. */
static __always_inline bool
sg_msg_reparent_tp(struct sk_msg_md *msg, __u32 at, const struct sg_tsent *t)
{
	char h[SG_TP_HDR_LEN];
	__u32 off = at + 36;   /* "00-" 32 hex "-" */
	__u8 *d;

	sg_tp_format(h, t);
	if (bpf_msg_pull_data(msg, off, off + 16, 0) != 0)
		return false;
	d = msg->data;
	if (d + 16 > (__u8 *)msg->data_end)
		return false;
	__builtin_memcpy(d, h + 49, 16);
	return true;
}

/*
 * The TCP option's context for a write without a header, where sockops
 * cannot tell the writing thread (before 6.10): drawn here, where the
 * thread is known, at the first write after a response was read (a new
 * request), kept for the writes after it.
 */
static __always_inline void
sg_msg_draw_opt(struct sk_msg_md *msg, __u64 id)
{
	struct sg_optctx *o, n = { .fresh = 1, .via = SG_PROP_TCPOPT };
	struct sg_tuple k;
	struct sg_tsent t;

	if (!(propagate & SG_PROP_TCPOPT) || sockops_pid)
		return;
	sg_tuple_of_msg(&k, msg);
	o = bpf_map_lookup_elem(&sg_opt_out, &k);
	if (o != NULL && !o->answered)
		return;
	sg_prop_client_ctx(&t, id, SG_PROP_TCPOPT);
	__builtin_memcpy(n.trace_id, t.trace_id, 16);
	__builtin_memcpy(n.span_id, t.span_id, 8);
	bpf_map_update_elem(&sg_opt_out, &k, &n, BPF_ANY);
}

/*
 * Header mode: each HTTP/1 request a selected process writes on its
 * client connections carries its client span as parent: a traceparent
 * line added after the request line, or, in one the request carries of
 * the same trace (a proxy passing its caller's on), the parent id
 * replaced.  A traceparent of another trace is the application's own
 * instrumentation's, left as it is.
 */
SEC("sk_msg")
int prop_msg(struct sk_msg_md *msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sg_tsent t = {};
	struct sg_msg_scan r;
	bool done;

	if (!sg_selected(id >> 32))
		return SK_PASS;
	if (!(propagate & SG_PROP_HEADERS)) {
		sg_msg_draw_opt(msg, id);
		return SK_PASS;
	}
	sg_msg_scan(msg, &r);
	done = r.line_end != 0 && r.line_end <= SG_TP_SCAN &&
	    r.tp_at <= SG_TP_SCAN + SG_TP_NAME_LEN + 1;
	if (done) {
		sg_prop_client_ctx(&t, id, SG_PROP_HEADERS);
		if (r.tp_at == 0)
			done = sg_msg_insert_tp(msg, r.line_end, &t);
		else if (sg_same_trace(r.tp_trace, t.trace_id))
			done = sg_msg_reparent_tp(msg, r.tp_at, &t);
		else
			done = false;
	}
	if (!done) {
		sg_msg_draw_opt(msg, id);
		return SK_PASS;
	}
	if (propagate & SG_PROP_TCPOPT) {
		struct sg_optctx o = { .fresh = 1,
		    .via = SG_PROP_HEADERS | SG_PROP_TCPOPT };
		struct sg_tuple k;

		sg_tuple_of_msg(&k, msg);
		__builtin_memcpy(o.trace_id, t.trace_id, 16);
		__builtin_memcpy(o.span_id, t.span_id, 8);
		bpf_map_update_elem(&sg_opt_out, &k, &o, BPF_ANY);
		t.via |= SG_PROP_TCPOPT;
	}
	bpf_map_update_elem(&sg_tsent, &id, &t, BPF_ANY);
	return SK_PASS;
}

/* The TCP option: RFC 6994's experimental kind with our ExID, the
 * trace id and the client span's id; 28 bytes, what a data segment has
 * left beside timestamps. */
#define SG_TCPOPT_KIND 253
#define SG_TCPOPT_EXID 0x5347   /* "SG" */

struct sg_tcpopt {
	__u8  kind;
	__u8  len;
	__u16 exid;      /* network byte order */
	__u8  trace_id[16];
	__u8  span_id[8];
} __attribute__((packed));

/* The context this packet of a client connection carries: the current
 * write's, drawn at its first packet (the thread writing it is the
 * current one there, on 6.10+ where sockops may ask), or the one the
 * sk_msg program drew for its header. */
static __always_inline struct sg_optctx *
sg_opt_current(struct bpf_sock_ops *skops)
{
	struct sg_optctx *o, n = { .fresh = 1, .via = SG_PROP_TCPOPT };
	struct sg_tuple k;
	struct sg_tsent t;

	if (skops->skb_len == 0)
		return NULL;   /* no payload: an ACK, a SYN, a FIN */
	sg_tuple_of_ops(&k, skops);
	o = bpf_map_lookup_elem(&sg_opt_out, &k);
	/* the write in progress (drawn here, or by sk_msg before it left),
	 * its response not read yet */
	if (o != NULL && !o->answered)
		return o;
	/* Where sockops cannot tell the thread, sk_msg draws for it. */
	if (!sockops_pid)
		return NULL;
	sg_prop_client_ctx(&t, bpf_get_current_pid_tgid(), SG_PROP_TCPOPT);
	__builtin_memcpy(n.trace_id, t.trace_id, 16);
	__builtin_memcpy(n.span_id, t.span_id, 8);
	bpf_map_update_elem(&sg_opt_out, &k, &n, BPF_ANY);
	return bpf_map_lookup_elem(&sg_opt_out, &k);
}

static __always_inline void
sg_opt_write(struct bpf_sock_ops *skops)
{
	struct sg_tuple k;
	struct sg_optctx *o;
	struct sg_tcpopt opt = { .kind = SG_TCPOPT_KIND,
	    .len = sizeof(struct sg_tcpopt),
	    .exid = bpf_htons(SG_TCPOPT_EXID) };

	if (skops->skb_len == 0)
		return;
	sg_tuple_of_ops(&k, skops);
	o = bpf_map_lookup_elem(&sg_opt_out, &k);
	if (o == NULL)
		return;
	__builtin_memcpy(opt.trace_id, o->trace_id, 16);
	__builtin_memcpy(opt.span_id, o->span_id, 8);
	bpf_store_hdr_opt(skops, &opt, sizeof(opt), 0);
}

/* A received packet's option: the context of the request it carries. */
static __always_inline void
sg_opt_parse(struct bpf_sock_ops *skops)
{
	struct sg_tcpopt opt = { .kind = SG_TCPOPT_KIND, .len = 4,
	    .exid = bpf_htons(SG_TCPOPT_EXID) };
	struct sg_optctx in = { .fresh = 1, .via = SG_PROP_TCPOPT };
	struct sg_tuple k;

	if (bpf_load_hdr_opt(skops, &opt, sizeof(opt), 0) !=
	    sizeof(opt))
		return;
	__builtin_memcpy(in.trace_id, opt.trace_id, 16);
	__builtin_memcpy(in.span_id, opt.span_id, 8);
	sg_tuple_of_ops(&k, skops);
	bpf_map_update_elem(&sg_opt_in, &k, &in, BPF_ANY);
}

/*
 * sockops, on the cgroup the loader names.  Header mode: the client
 * connections of selected processes (marked at their SYN by sk_state)
 * join sg_msg_socks when established.  TCP option mode: their data
 * segments carry the option; every accepted connection asks to see
 * unknown options (the kernel calls only for segments that have one).
 * Other sockets are left as they are.
 */
SEC("sockops")
int prop_sockops(struct bpf_sock_ops *skops)
{
	struct sg_sock_info *i;
	struct bpf_sock *sk;
	__u64 cookie;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		sk = skops->sk;
		if (sk == NULL)
			return 1;
		i = bpf_sk_storage_get(&sg_sk, sk, NULL, 0);
		if (i == NULL || i->role != SG_ROLE_CLIENT)
			return 1;
		if ((propagate & SG_PROP_HEADERS) ||
		    ((propagate & SG_PROP_TCPOPT) && !sockops_pid)) {
			cookie = bpf_get_socket_cookie(skops);
			bpf_sock_hash_update(skops, &sg_msg_socks, &cookie,
			    BPF_NOEXIST);
		}
		if (propagate & SG_PROP_TCPOPT)
			bpf_sock_ops_cb_flags_set(skops,
			    skops->bpf_sock_ops_cb_flags |
			    BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (propagate & SG_PROP_TCPOPT)
			bpf_sock_ops_cb_flags_set(skops,
			    skops->bpf_sock_ops_cb_flags |
			    BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if ((propagate & SG_PROP_TCPOPT) && sg_opt_current(skops))
			bpf_reserve_hdr_opt(skops, sizeof(struct sg_tcpopt), 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (propagate & SG_PROP_TCPOPT)
			sg_opt_write(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		if (propagate & SG_PROP_TCPOPT)
			sg_opt_parse(skops);
		break;
	}
	return 1;
}
