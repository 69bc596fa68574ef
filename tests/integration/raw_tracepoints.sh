#!/bin/bash
# I/O hooks: socket tracepoints (the default on this kernel), raw
# tracepoints (sys_enter/sys_exit filtered by syscall number) and
# per-syscall tracepoints, told apart by the BPF links and programs the
# loader holds (/proc/PID/fdinfo link_type raw_tracepoint vs perf, and
# the programs' names):
#  0. default (auto) and ebpf.syscall_hooks=socket: sk_send, sk_recv and
#     sk_state only, exact counts;
#  1. ebpf.syscall_hooks=raw: raw links only, exact counts for nginx traffic;
#  2. ebpf.syscall_hooks=tracepoint with tracefs unmounted but mountable:
#     the sensor mounts tracefs and uses per-syscall tracepoints;
#  3. ebpf.syscall_hooks=tracepoint with tracefs missing and no
#     CAP_SYS_ADMIN to mount it: `spyglass check` says it falls back to raw
#     tracepoints, and the sensor does so with exact counts.
# 2 and 3 run in a private mount namespace (unshare -m) with tracefs and
# debugfs unmounted there, so the host's mounts are never touched; the
# host's tracefs mount state is checked to be unchanged at the end.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss unshare capsh mountpoint
require_bpf
tmpdir_setup

tracefs_state() {
	if mountpoint -q /sys/kernel/tracing; then echo mounted; else echo unmounted; fi
}
HOST_TRACEFS=$(tracefs_state)

PORT=$(free_port 18440)
PROM_PORT=$(free_port 19440)
URL=http://127.0.0.1:$PORT
nginx_start "$PORT"

# notracefs.sh [--keep-sys-admin] CMD...: run CMD in this (private) mount
# namespace without tracefs and debugfs, and without CAP_SYS_ADMIN unless
# asked to keep it
cat > "$T/notracefs.sh" <<'SH'
#!/bin/sh
drop=--drop=cap_sys_admin
[ "$1" = --keep-sys-admin ] && { drop=; shift; }
umount -R /sys/kernel/tracing 2>/dev/null
umount -R /sys/kernel/debug 2>/dev/null
if mountpoint -q /sys/kernel/tracing || mountpoint -q /sys/kernel/debug; then
	echo "notracefs: could not unmount tracefs/debugfs" >&2
	exit 99
fi
exec capsh $drop -- -c 'exec "$@"' notracefs "$@"
SH
chmod 0755 "$T/notracefs.sh"
NOTRACEFS=(unshare -m --propagation private "$T/notracefs.sh")
NOTRACEFS_MOUNTABLE=(unshare -m --propagation private "$T/notracefs.sh" --keep-sys-admin)

# run_mode WHAT SOCKET|RAW|PERF [-w WRAPPER... --] [-o ...]: start the sensor,
# check which kind of links it holds, send traffic (100 keep-alive GET
# /ok, 30 GET /missing with Connection: close, 20 POST), check exact
# counts, stop it
run_mode() {
	local what=$1 links=$2 M=http_server_request_duration_seconds_count progs
	shift 2
	start_sensor "$@" -o discovery.open_port="$PORT"
	wait_ready 1 || return 1
	log "$what: $(grep -o 'bpf: .*' "$SENSOR_ERR" | head -n 1)"
	progs=$(sensor_progs)
	if [ "$links" = SOCKET ]; then
		assert_contains "$what: programs loaded" "$progs" "sk_recv sk_send sk_state"
		assert_not_contains "$what: programs loaded" "$progs" "raw_sys_"
		assert_eq "$what: perf (syscall tracepoint) links held by the loader" 0 "$(sensor_links perf)"
	elif [ "$links" = RAW ]; then
		assert_ge "$what: raw_tracepoint links held by the loader" 2 "$(sensor_links raw_tracepoint)"
		assert_contains "$what: programs loaded" "$progs" "raw_sys_enter raw_sys_exit"
		assert_not_contains "$what: programs loaded" "$progs" "sk_send"
		assert_eq "$what: perf (syscall tracepoint) links held by the loader" 0 "$(sensor_links perf)"
	else
		assert_ge "$what: perf (syscall tracepoint) links held by the loader" 2 "$(sensor_links perf)"
	fi
	assert_eq "$what client: GET /ok" "200 100" "$(http_many 100 "$URL/ok")"
	assert_eq "$what client: GET /missing" "404 30" "$(http_many 30 "$URL/missing" -H 'Connection: close')"
	assert_eq "$what client: POST /post" "200 20" "$(http_many 20 "$URL/post" -d x=1)"
	wait_metric 150 $M >/dev/null
	settle
	assert_eq "$what: $M{GET,200}" 100 \
	    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name=nginx)"
	assert_eq "$what: $M{GET,404}" 30 \
	    "$(metric_value $M http_request_method=GET http_response_status_code=404 service_name=nginx)"
	assert_eq "$what: $M{POST,200}" 20 \
	    "$(metric_value $M http_request_method=POST http_response_status_code=200 service_name=nginx)"
	assert_eq "$what: $M total" 150 "$(metric_value $M)"
	assert_eq "$what: spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"
	stop_sensor
}

# ---- what `check` says by default
out=$("$SPYGLASS" check -c /dev/null -o discovery.open_port="$PORT" 2>&1)
assert_contains "check by default" "$out" "I/O hooks: socket tracepoints"

# ---- 0. socket tracepoints: by default, and asked for
run_mode "default (auto)" SOCKET
run_mode "socket" SOCKET -o ebpf.syscall_hooks=socket

# ---- 1. forced raw tracepoints
out=$("$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=raw -o discovery.open_port="$PORT" 2>&1)
assert_eq "check with syscall_hooks=raw: exit status" 0 $?
assert_contains "check with syscall_hooks=raw" "$out" "syscall_hooks = raw"
run_mode "raw" RAW -o ebpf.syscall_hooks=raw
assert_eq "host tracefs mount state after the forced-raw run" "$HOST_TRACEFS" "$(tracefs_state)"

# ---- 2. per-syscall tracepoints, tracefs mounted by the sensor (in its
# own mount namespace).  Detaching ~25 tracepoint links takes ~70 ms each
# in the kernel: allow more than the usual 2 s to stop in this mode.
STOP_LIMIT_MS=5000 run_mode "tracepoint (tracefs mountable)" PERF \
    -w "${NOTRACEFS_MOUNTABLE[@]}" -- -o ebpf.syscall_hooks=tracepoint

# ---- 3. per-syscall tracepoints asked for, tracefs missing and not
# mountable: fall back to raw tracepoints
out=$("${NOTRACEFS[@]}" "$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=tracepoint \
    -o discovery.open_port="$PORT" 2>&1)
assert_eq "check without tracefs, syscall_hooks=tracepoint: exit status" 0 $?
if printf '%s' "$out" | grep -qiE 'raw[ _-]?(sys_enter|tracepoint)'; then
	ok "check without tracefs mentions raw tracepoints"
else
	fail "check without tracefs does not mention raw tracepoints; it said:"
	printf '%s\n' "$out" | sed 's/^/    | /'
fi
run_mode "tracepoint without tracefs" RAW -w "${NOTRACEFS[@]}" -- -o ebpf.syscall_hooks=tracepoint

assert_eq "host tracefs mount state after the test" "$HOST_TRACEFS" "$(tracefs_state)"
if [ "$HOST_TRACEFS" = unmounted ] && [ "$(tracefs_state)" = mounted ]; then
	umount /sys/kernel/tracing 2>/dev/null && log "restored: unmounted /sys/kernel/tracing"
fi
test_done
