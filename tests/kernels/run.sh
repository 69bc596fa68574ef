#!/bin/bash
# The kernel matrix: boot Debian's kernels under qemu (TCG) with the
# installed sensor and run integration tests inside each.
#
#   tests/kernels/run.sh [-b BUILDDIR] [-k] [-t TEST,TEST...] [KERNEL-PACKAGE...]
#
# KERNEL-PACKAGE is a Debian package name (linux-image-6.1.0-56-cloud-amd64)
# or a glob over the archive's names (linux-image-6.1.0-*-cloud-amd64: the
# newest match), from this machine's apt sources, or from another Debian
# suite when prefixed with it (bullseye/linux-image-5.10.0-*-cloud-amd64:
# fetched through a private apt state, the system's untouched).  Default:
# Debian 11's 5.10, Debian 12's own 6.1 and its 6.12, all cloud flavours
# (BTF, kprobes; fentry on 6.1 and 6.12).  Packages are fetched with
# `apt-get download` into $SG_KERNEL_CACHE (default ~/.cache/spyglass/kernels).
# -k keeps the work directory (image, consoles, reports).
#
# Prints, per kernel: version, the I/O hooks the sensor chose, each test's
# result and the counts it checked (expected/seen), then one line
#   kernels: N passed, M failed
# Exit status: 0 all passed, 1 a test failed, 77 qemu (or apt-get) missing.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=
TESTS=io_hooks,http_server_nginx,http_client_python,privileges,tls_late_import,trace_propagation,main_thread_exit
CACHE=${SG_KERNEL_CACHE:-${HOME:-/root}/.cache/spyglass/kernels}
DEFAULT_KERNELS="bullseye/linux-image-5.10.0-*-cloud-amd64 linux-image-6.1.0-*-cloud-amd64
	linux-image-6.12.*+deb12-cloud-amd64"
VM_TIMEOUT=${SG_VM_TIMEOUT:-1500}
# A TCG guest whose vCPU threads the host starves (other load on a 2-core
# machine) can lock up for good: a vCPU preempted while holding a lock the
# other spins on; 5.10 was seen to do so now and then on a quiet host too.
# Such a guest is stopped and booted again, up to three times in all; a
# third lockup fails the kernel.  So is a guest whose kernel panics before
# its init has written a line (6.12 was seen to, once, in sched_clock_cpu
# 4.6 s into its boot): nothing of the sensor has run by then.
LOCKUP_REPORTS=${SG_LOCKUP_REPORTS:-8}

KEEP=0
while getopts b:kt: o; do
	case $o in
	k) KEEP=1 ;;
	b) BUILD=$(cd "$OPTARG" && pwd) || exit 2 ;;
	t) TESTS=$OPTARG ;;
	*) echo "usage: $0 [-b BUILDDIR] [-k] [-t TEST,...] [KERNEL-PACKAGE...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$BUILD" ] || { if [ -x ./spyglass ]; then BUILD=$(pwd); else BUILD=$SRC; fi; }
[ $# -gt 0 ] || set -- $DEFAULT_KERNELS

say() { printf 'kernels: %s\n' "$*"; }
skip() { say "SKIP: $*"; echo "kernels: 0 passed, 0 failed"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
command -v apt-get >/dev/null || skip "apt-get is missing: cannot fetch Debian kernels"
for c in cpio zstd busybox; do
	command -v $c >/dev/null || skip "$c is missing (apt-get install cpio zstd busybox-static)"
done
[ "$(uname -m)" = x86_64 ] || skip "the matrix boots x86_64 kernels"
[ -x "$BUILD/spyglass" ] || { say "ERROR: $BUILD/spyglass not built"; exit 99; }

# apt_opts SUITE: apt-get/apt-cache options for a private state holding
# that Debian suite (made and updated once); nothing for the system's own
APT=()
apt_opts() {
	local d=$CACHE/apt-$1
	APT=()
	[ -n "$1" ] || return 0
	APT=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	    -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
	[ -f "$d/updated" ] && return 0
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	printf 'deb http://deb.debian.org/debian %s main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
	    "$1" "$1" > "$d/sources.list"
	apt-get "${APT[@]}" update -q >/dev/null 2>&1 && touch "$d/updated"
}

# resolve [SUITE/]NAME-OR-GLOB: the newest package that matches
resolve() {
	local re name=${1#*/}
	case $name in
	*'*'*)
		re="^$(printf '%s' "$name" | sed -e 's/[.+]/\\&/g' -e 's/\*/.*/g')\$"
		apt-cache "${APT[@]}" pkgnames linux-image- 2>/dev/null | grep -E "$re" |
		    grep -v -e '-dbg$' -e '-unsigned$' | sort -V | tail -n 1 ;;
	*) echo "$name" ;;
	esac
}

# fetch PACKAGE: prints the path of its vmlinuz, downloading once
fetch() {
	local pkg=$1 dir=$CACHE/$1 deb
	if [ ! -f "$dir/vmlinuz" ]; then
		mkdir -p "$dir"
		( cd "$dir" && apt-get "${APT[@]}" download -q "$pkg" >/dev/null 2>&1 ) || return 1
		deb=$(ls "$dir"/*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || return 1
		dpkg-deb -x "$deb" "$dir/x" || return 1
		cp "$dir"/x/boot/vmlinuz-* "$dir/vmlinuz" || return 1
		rm -rf "$dir/x" "$deb"
	fi
	echo "$dir/vmlinuz"
}

apt_updated=0
KERNELS=()
VMLINUZ=()
for k in "$@"; do
	suite=
	case $k in */*) suite=${k%%/*} ;; esac
	apt_opts "$suite"
	p=$(resolve "$k")
	if [ -z "$p" ] && [ -z "$suite" ] && [ $apt_updated = 0 ]; then
		apt-get update -q >/dev/null 2>&1
		apt_updated=1
		p=$(resolve "$k")
	fi
	[ -n "$p" ] || { say "ERROR: no package matches $k"; exit 99; }
	v=$(fetch "$p") || { say "ERROR: apt-get download $p failed"; exit 99; }
	KERNELS+=("$p")
	VMLINUZ+=("$v")
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/spyglass-kernels.XXXXXX")
trap '[ $KEEP = 1 ] && say "kept $WORK" || rm -rf "$WORK"' EXIT
say "building the guest image from $BUILD"
t0=$SECONDS
"$SRC/tests/kernels/mkroot.sh" "$BUILD" "$WORK/root.cpio.zst" || { say "ERROR: mkroot failed"; exit 99; }
say "image: $(du -h "$WORK/root.cpio.zst" | cut -f1) in $((SECONDS - t0)) s"

# Under TCG a vCPU the busy host does not run for a while looks stuck to
# the guest: the soft lockup and RCU stall detectors report after 60 s
# rather than 20, so that a loaded host does not pass for a hung guest.
GUEST_WATCHDOG="watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=60"

# boot_guest VMLINUZ CONSOLE REPORT: qemu's status, or 200 when the guest
# locked up: LOCKUP_REPORTS soft lockup or RCU stall reports (each CPU
# reports every minute or so while stuck), the console ending in one.
boot_guest() {
	local vmlinuz=$1 con=$2 rep=$3 qpid n
	: > "$con"
	: > "$rep"
	timeout "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 \
	    -kernel "$vmlinuz" -initrd "$WORK/root.cpio.zst" \
	    -append "console=ttyS0 panic=-1 quiet sg.tests=$TESTS $GUEST_WATCHDOG" \
	    -display none -monitor none -no-reboot \
	    -serial "file:$con" -serial "file:$rep" < /dev/null &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 5
		n=$(grep -c 'soft lockup\|self-detected stall' "$con" 2>/dev/null)
		if [ "${n:-0}" -ge "$LOCKUP_REPORTS" ] &&
		    tail -n 1 "$con" | grep -q 'lockup\|stall\|rcu'; then
			kill "$qpid" 2>/dev/null
			wait "$qpid"
			return 200
		fi
	done
	wait "$qpid"
}

passed=0
failed=0
for i in "${!KERNELS[@]}"; do
	pkg=${KERNELS[$i]}
	vmlinuz=${VMLINUZ[$i]}
	say "booting $pkg (tests: $TESTS)"
	rep=$WORK/$pkg.report
	con=$WORK/$pkg.console
	t0=$SECONDS
	for attempt in 1 2 3; do
		boot_guest "$vmlinuz" "$con" "$rep"
		rc=$?
		if [ "$rc" -eq 200 ]; then
			say "$pkg: the guest locked up (attempt $attempt; $LOCKUP_REPORTS lockup reports), last lines:"
		elif [ ! -s "$rep" ] && grep -q 'Kernel panic' "$con"; then
			say "$pkg: the guest's kernel panicked while booting, before its init ran (attempt $attempt), last lines:"
		else
			break
		fi
		tail -n 5 "$con" | sed 's/^/    | /'
	done
	took=$((SECONDS - t0))
	sed -i "s/\r\$//" "$rep" "$con"
	# the report, as a table
	kver=$(sed -n 's/^kernel //p' "$rep")
	hooks=$(sed -n 's/^hooks //p' "$rep")
	printf '\n%-22s %s (%s, %d s)\n' "kernel" "${kver:-?}" "$pkg" "$took"
	printf '%-22s %s\n' "hooks" "${hooks:-?}"
	printf '%-22s %s\n' "offered" "$(sed -n 's/^offered //p' "$rep")"
	sed -n 's/^notoffered \([a-z]*\) /\1: /p' "$rep" | while IFS= read -r l; do
		printf '%-22s %s\n' "not offered" "$l"
	done
	ok=1
	# the cheapest kind, as measured (loader/hooks.h): socket tracepoints
	# from 6.3, else fentry from 5.17 (these kernels have trampolines),
	# else raw syscall tracepoints
	want=
	case $kver in
	[0-4].*|5.[0-9].*|5.1[0-6].*) want="raw tracepoints" ;;
	5.*|6.[0-2].*) want="fexit on" ;;
	6.*|[7-9].*) want="socket tracepoints" ;;
	esac
	if [ -n "$want" ] && [ "${hooks#"$want"}" = "$hooks" ]; then
		printf '%-22s %s\n' "hooks: FAIL" "expected $want ..."
		ok=0
	fi
	for t in ${TESTS//,/ }; do
		res=$(awk -v t="$t" '$1 == "test" && $2 == t { print $3 " (" $4 " s)" }' "$rep")
		printf '%-22s %s\n' "$t" "${res:-not run}"
		section=$(awk -v s="==== $t" '$0 == s { on = 1; next }
		    index($0, s ":") == 1 { on = 0 } on' "$con")
		case $res in
		fail*) printf '%s\n' "$section" | grep -E "^[a-z_0-9]*: (FAIL|ERROR)" |
		    head -n 20 | sed 's/^/    /' ;;
		pass*) case $t in */*) printf '%s\n' "$section" | sed 's/^/    /' ;; esac ;;
		esac
		awk -v t="$t" '$1 == "count" && $2 == t {
			w = ""; for (i = 3; i <= NF - 2; i++) w = w (w == "" ? "" : " ") $i
			printf "    %-40s expected %-8s seen %s\n", w, $(NF - 1), $NF }' "$rep"
		case $res in pass*|skip*) ;; *) ok=0 ;; esac
	done
	if ! grep -qx end "$rep"; then
		ok=0
		say "the guest did not finish (qemu status $rc); last console lines:"
		tail -n 40 "$con" | sed 's/^/    | /'
	elif [ $ok = 0 ]; then
		say "console of $pkg:"
		sed 's/^/    | /' "$con" | tail -n 300
	fi
	if [ $ok = 1 ]; then
		passed=$((passed + 1)); say "PASS: $pkg"
	else
		failed=$((failed + 1)); say "FAIL: $pkg"
	fi
done
echo "kernels: $passed passed, $failed failed"
[ $failed -eq 0 ]
