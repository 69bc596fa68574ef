#!/bin/bash
# Privilege separation as seen in /proc/PID/status:
#   loader:   unprivileged uid, CapEff = cap_bpf,cap_perfmon,cap_sys_ptrace,
#             cap_dac_read_search (000000c000080004), plus cap_sys_admin
#             (000000c000280004) where the kernel asks it for the TLS
#             uprobes, as `spyglass check` says; with ebpf.tls = false
#             never; CapBnd 0
#   children: unprivileged uid, no capabilities at all, NoNewPrivs 1,
#             Seccomp 2 (filter)
# the loader's idle memory (its built-in BPF object not resident), and
# the sandbox self-test: spyglass-collector -T socket dies with SIGSYS
# (status 159); with -S it names the refused syscall on stderr.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd curl ss
require_bpf
tmpdir_setup

PORT=$(free_port 18450)      # nothing listens there: no target needed
PROM_PORT=$(free_port 19450)

status_field() {   # PID FIELD -> value(s) of that /proc/PID/status line
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

check_uid_not_root() {   # WHAT PID
	local uids u
	uids=$(status_field "$2" Uid)
	for u in $uids; do
		if [ "$u" = 0 ]; then
			fail "$1: Uid line has root: $uids"
			return
		fi
	done
	ok "$1: Uid $uids"
	uids=$(status_field "$2" Gid)
	for u in $uids; do
		[ "$u" = 0 ] && { fail "$1: Gid line has root: $uids"; return; }
	done
	ok "$1: Gid $uids"
	case " $(status_field "$2" Groups) " in
	*" 0 "*) fail "$1: still in group 0: $(status_field "$2" Groups)" ;;
	esac
}

BASE_CAPS=000000c000080004
ADMIN_CAPS=000000c000280004
check=$("$SPYGLASS" -o discovery.open_port="$PORT" check 2>&1)
if printf '%s\n' "$check" | grep -q 'asks cap_sys_admin (kept)'; then
	WANT_CAPS=$ADMIN_CAPS
	log "this kernel asks cap_sys_admin for uprobes: the loader keeps it"
else
	WANT_CAPS=$BASE_CAPS
fi

# Without the capability the kernel asks for uprobes (here: no
# cap_sys_admin in the bounding set), TLS is off with a warning, or with
# enforce_sys_caps the sensor refuses to start.
if [ "$WANT_CAPS" = "$ADMIN_CAPS" ] && command -v capsh > /dev/null; then
	out=$(capsh --drop=cap_sys_admin -- -c "'$SPYGLASS' -o discovery.open_port=$PORT check" 2>&1)
	assert_contains "check without cap_sys_admin: TLS off, a warning" "$out" \
	    "warning TLS plaintext will not be seen"
	capsh --drop=cap_sys_admin -- -c "'$SPYGLASS' -o discovery.open_port=$PORT -o enforce_sys_caps=true check" \
	    > "$T/enforce.out" 2>&1
	rc=$?
	assert_eq "check without cap_sys_admin, enforce_sys_caps = true: exit status" 3 "$rc"
	assert_contains "... names TLS" "$(cat "$T/enforce.out")" "error   TLS:"
fi

# TLS off: never cap_sys_admin
start_sensor -o discovery.open_port="$PORT" -o ebpf.tls=false
wait_ready 0 || exit 1
assert_eq "loader CapEff with ebpf.tls = false" $BASE_CAPS \
    "$(status_field "$SENSOR_PID" CapEff)"
stop_sensor

start_sensor -o discovery.open_port="$PORT"
wait_ready 0 || exit 1
wait_children || fail "collector and exporter not both running"

L=$SENSOR_PID
check_uid_not_root "loader" "$L"
assert_eq "loader CapEff" $WANT_CAPS "$(status_field "$L" CapEff)"
assert_eq "loader CapBnd" 0000000000000000 "$(status_field "$L" CapBnd)"
assert_eq "loader CapAmb" 0000000000000000 "$(status_field "$L" CapAmb)"
assert_eq "loader CapInh" 0000000000000000 "$(status_field "$L" CapInh)"
log "loader CapPrm $(status_field "$L" CapPrm)"

for child in spyglass-collector spyglass-exporter; do
	pid=$(sensor_child $child) || { fail "$child not found among the loader's children"; continue; }
	check_uid_not_root "$child" "$pid"
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		assert_eq "$child $f" 0000000000000000 "$(status_field "$pid" $f)"
	done
	assert_eq "$child NoNewPrivs" 1 "$(status_field "$pid" NoNewPrivs)"
	assert_eq "$child Seccomp" 2 "$(status_field "$pid" Seccomp)"
	# the seccomp filter applies to every thread (TSYNC)
	for task in /proc/"$pid"/task/*; do
		[ "$(awk '$1 == "Seccomp:" { print $2 }' "$task/status")" = 2 ] ||
		    fail "$child thread ${task##*/} has no seccomp filter"
	done
	# and only the exporter listens on the network
	if [ "$child" = spyglass-collector ]; then
		n=$(ss -Hanp 2>/dev/null | grep -cE "pid=$pid," || true)
		inet=$(ss -Htuanp 2>/dev/null | grep -cE "pid=$pid," || true)
		assert_eq "collector inet sockets" 0 "$inet"
		log "collector: $n sockets of any family"
	fi
done

# /metrics still answers (the exporter works inside its sandbox)
scrape || fail "/metrics does not answer"
# ---- idle cost: with no traffic, none of the three may spin.  CPU time
# in clock ticks (utime + stime) over two seconds stays under 0.2 s each.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
idle_pids="$L $(sensor_child spyglass-collector) $(sensor_child spyglass-exporter)"
declare -A before
for p in $idle_pids; do before[$p]=$(cpu_ticks "$p"); done
sleep 2
for p in $idle_pids; do
	used=$(( $(cpu_ticks "$p") - ${before[$p]} ))
	if [ "$used" -lt 20 ]; then
		ok "idle: $(cat /proc/$p/comm) used $used ticks in 2 s"
	else
		fail "idle: $(cat /proc/$p/comm) used $used ticks in 2 s (busy loop?)"
	fi
done

# ---- idle memory: the BPF object built into the loader (1.7 MiB of its
# read-only data) is not resident once loaded; the rest of the loader's
# own file (its code, ~0.1 MiB) is.
exe=$(readlink "/proc/$L/exe")
own_kb=$(awk -v exe="$exe" '/^[0-9a-f]+-[0-9a-f]+ / { mine = ($6 == exe) }
    mine && $1 == "Rss:" { kb += $2 } END { print kb + 0 }' "/proc/$L/smaps")
if [ "$own_kb" -gt 0 ] && [ "$own_kb" -lt 1024 ]; then
	ok "idle: the loader's own file resident: $own_kb kB"
else
	fail "idle: the loader's own file resident: $own_kb kB (its BPF object still in?)"
fi

stop_sensor

# ---- sandbox self-test
mkdir -p "$T/selftest"
(ulimit -c 0; exec "$SPYGLASS_COLLECTOR" -r "$T/selftest" -T socket) > "$T/selftest.out" 2>&1
rc=$?
assert_eq "spyglass-collector -T socket exit status (SIGSYS)" 159 "$rc"
(ulimit -c 0; exec "$SPYGLASS_COLLECTOR" -r "$T/selftest" -T socket -S) > "$T/selftest-S.out" 2>&1
rc=$?
log "spyglass-collector -T socket -S: exit status $rc"
assert_contains "spyglass-collector -T socket -S output" "$(cat "$T/selftest-S.out")" socket
test_done
