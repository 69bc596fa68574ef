#!/bin/bash
# Syscall hooks on raw tracepoints (sys_enter/sys_exit filtered by number)
# instead of per-syscall tracepoints:
#  1. forced with ebpf.syscall_hooks=raw: exact counts for nginx traffic;
#  2. chosen automatically when tracefs is missing and cannot be mounted:
#     the sensor runs in a private mount namespace with tracefs and debugfs
#     unmounted and without CAP_SYS_ADMIN (so the host's mounts are never
#     touched); `spyglass check` must say it falls back to raw tracepoints,
#     syscall_hooks=tracepoint must be refused there, and counts are exact.
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

# traffic ROUND: 100 keep-alive GET /ok, 30 GET /missing with
# Connection: close, 20 POST; then the counts must be exact
traffic_and_check() {
	local what=$1 M=http_server_request_duration_seconds_count
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
}

# ---- 1. forced raw tracepoints
out=$("$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=raw -o discovery.open_port="$PORT" 2>&1)
assert_eq "check with syscall_hooks=raw: exit status" 0 $?
assert_contains "check with syscall_hooks=raw" "$out" "syscall_hooks = raw"
start_sensor -o discovery.open_port="$PORT" -o ebpf.syscall_hooks=raw
wait_ready 1 || exit 1
check_links() {
	assert_ge "$1: raw_tracepoint links held by the loader" 2 "$(sensor_links raw_tracepoint)"
	assert_eq "$1: perf (syscall tracepoint) links held by the loader" 0 "$(sensor_links perf)"
}
check_links "raw"
traffic_and_check "raw"
stop_sensor
assert_eq "host tracefs mount state after the forced-raw run" "$HOST_TRACEFS" "$(tracefs_state)"

# ---- 2. automatic fallback: no tracefs and no CAP_SYS_ADMIN to mount it
cat > "$T/notracefs.sh" <<'SH'
#!/bin/sh
# Run "$@" in this (private) mount namespace without tracefs and debugfs
# and without CAP_SYS_ADMIN.
umount -R /sys/kernel/tracing 2>/dev/null
umount -R /sys/kernel/debug 2>/dev/null
if mountpoint -q /sys/kernel/tracing || mountpoint -q /sys/kernel/debug; then
	echo "notracefs: could not unmount tracefs/debugfs" >&2
	exit 99
fi
exec capsh --drop=cap_sys_admin -- -c 'exec "$@"' notracefs "$@"
SH
chmod 0755 "$T/notracefs.sh"
NOTRACEFS=(unshare -m --propagation private "$T/notracefs.sh")

out=$("${NOTRACEFS[@]}" "$SPYGLASS" check -c /dev/null -o discovery.open_port="$PORT" 2>&1)
rc=$?
assert_eq "check without tracefs (auto): exit status" 0 "$rc"
if printf '%s' "$out" | grep -qiE 'raw[ _-]?(sys_enter|tracepoint)'; then
	ok "check without tracefs mentions raw tracepoints"
else
	fail "check without tracefs does not mention raw tracepoints; it said:"
	printf '%s\n' "$out" | sed 's/^/    | /'
fi
out=$("${NOTRACEFS[@]}" "$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=tracepoint \
    -o discovery.open_port="$PORT" 2>&1)
assert_eq "check without tracefs, syscall_hooks=tracepoint: exit status" 3 $?

start_sensor -w "${NOTRACEFS[@]}" -- -o discovery.open_port="$PORT"
wait_ready 1 || exit 1
check_links "auto without tracefs"
traffic_and_check "auto without tracefs"
stop_sensor
assert_eq "host tracefs mount state after the test" "$HOST_TRACEFS" "$(tracefs_state)"
if [ "$HOST_TRACEFS" = unmounted ] && [ "$(tracefs_state)" = mounted ]; then
	umount /sys/kernel/tracing 2>/dev/null && log "restored: unmounted /sys/kernel/tracing"
fi
test_done
