#!/bin/bash
# Build the guest's initramfs for the kernel matrix (tests/kernels/run.sh):
#
#   tests/kernels/mkroot.sh BUILDDIR OUT.cpio.zst
#
# It holds the sensor installed from BUILDDIR (`make install` into the
# image, at the build's own prefix: the BPF object inside is CO-RE and
# relocated against the guest kernel's BTF at load), the programs the
# integration tests drive (bash, coreutils, nginx, curl, h2load, wrk, ss,
# bpftool, capsh, redis-server, Debian's python3) with the shared libraries ldd names,
# the integration tests and the benchmarks, and tests/kernels/init as /init.
# Nothing of the kernel is in it: one image serves every kernel.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILDDIR OUT.cpio.zst" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
OUT=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/spyglass-root.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
# Debian's merged /usr, so that ldd's /lib/... paths land in usr/lib
mkdir -p "$STAGE"/usr/{bin,sbin,lib,lib64} "$STAGE"/{etc,proc,sys,dev,tmp,run,root,var/tmp}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$STAGE/$d"; done
chmod 1777 "$STAGE/tmp" "$STAGE/var/tmp"

make -s -C "$BUILD" install DESTDIR="$STAGE" >/dev/null

# copy_file PATH: the file (and the symlink chain leading to it) at the
# same path in the image
copy_file() {
	local p=$1 t
	while :; do
		[ -e "$STAGE$p" ] || [ -L "$STAGE$p" ] && return 0
		mkdir -p "$STAGE$(dirname "$p")"
		if [ -L "$p" ]; then
			t=$(readlink "$p")
			cp -P "$p" "$STAGE$p"
			case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac
		else
			cp "$p" "$STAGE$p"
			return 0
		fi
	done
}

# copy_libs PATH: every library ldd resolves for the program at PATH
copy_libs() {
	local lib
	ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	    while read -r lib; do copy_file "$lib"; done
}

# copy_elf PATH: the program and its libraries
copy_elf() {
	copy_file "$1"
	copy_libs "$1"
}

# the installed sensor's libraries (libcurl, loaded only for OTLP, comes
# with curl below)
while read -r f; do copy_libs "$f"; done < <(find "$STAGE" -type f -perm -0100 -name 'spyglass*')

# the commands the integration tests and /init run; busybox fills in the
# rest (mount, ip, poweroff, ...)
PYTHON=$(readlink -f /usr/bin/python3)
CMDS="bash nginx curl h2load wrk ss bpftool capsh unshare mountpoint setpriv
	awk mawk sed grep find xargs ps pgrep timeout mktemp stat date sort uniq
	seq head tail tr cut wc cat cp mv rm ln ls mkdir rmdir chmod chown
	mkfifo readlink basename dirname id sleep env printf tee touch kill
	nproc uname hostname dd sync sha256sum od sysctl getconf openssl
	redis-server"
for c in $CMDS; do
	p=$(type -P "$c") || { echo "mkroot: $c not found" >&2; exit 1; }
	copy_elf "$(readlink -f "$p")"
	[ "$(readlink -f "$p")" = "$p" ] || copy_file "$p"
	# the tests call some through /bin or /usr/bin, some through PATH
	[ -e "$STAGE/usr/bin/$c" ] || [ -e "$STAGE/usr/sbin/$c" ] ||
	    ln -s "$(readlink -f "$p")" "$STAGE/usr/bin/$c"
done
copy_elf "$PYTHON"
ln -sf "$(basename "$PYTHON")" "$STAGE/usr/bin/python3"
cp /usr/bin/busybox "$STAGE/usr/bin/busybox"
for a in $(busybox --list); do
	[ -e "$STAGE/usr/bin/$a" ] || [ -e "$STAGE/usr/sbin/$a" ] ||
	    ln -s busybox "$STAGE/usr/bin/$a"
done

# Debian's python: the standard library without what a test never imports
pylib=/usr/lib/$(basename "$PYTHON")
mkdir -p "$STAGE$pylib"
tar -C "$pylib" --exclude='./test' --exclude='./config-*' --exclude='./idlelib' \
    --exclude='./tkinter' --exclude='./ensurepip' --exclude='./lib2to3' \
    --exclude='./pydoc_data' --exclude='./turtledemo' -cf - . | tar -C "$STAGE$pylib" -xf -
for so in "$pylib"/lib-dynload/*.so; do copy_elf "$so"; done

# openssl req (the TLS tests' certificate) reads its configuration
mkdir -p "$STAGE/usr/lib/ssl" "$STAGE/etc/ssl"
cp /etc/ssl/openssl.cnf "$STAGE/etc/ssl/openssl.cnf"
ln -sf /etc/ssl/openssl.cnf "$STAGE/usr/lib/ssl/openssl.cnf"

# users: the sensor drops to nobody (no spyglass user), nginx's workers
# run as nobody:nogroup
cat > "$STAGE/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$STAGE/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf '127.0.0.1 localhost\n::1 localhost\n' > "$STAGE/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$STAGE/etc/nsswitch.conf"

# the tests, and the guest's init
mkdir -p "$STAGE/spyglass/tests"
cp -r "$SRC/tests/integration" "$STAGE/spyglass/tests/"
cp -r "$SRC/bench" "$STAGE/spyglass/"
cp "$SRC/tests/kernels/init" "$STAGE/init"
# the guest has no compiler: its C peers are built here
cc -O1 -pthread -o "$STAGE/spyglass/tests/integration/peers/main_thread_exit" \
    "$SRC/tests/integration/peers/main_thread_exit.c"
chmod 0755 "$STAGE/init"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . | cpio -o -H newc --quiet -R 0:0) | zstd -q -3 -T0 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
