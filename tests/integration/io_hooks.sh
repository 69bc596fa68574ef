#!/bin/bash
# I/O hooks, on whatever kernel this runs (the host, or each kernel of
# tests/kernels): `spyglass check` lists the kinds this kernel offers,
# cheapest first; the sensor must load the first by default and each of
# them when asked for, told apart by the BPF programs and links the
# loader holds (/proc/PID/fdinfo), with exact counts each time:
#  - socket: sk_send, sk_recv, sk_state (socket tracepoints, 6.3+)
#  - fentry: fx_send, fx_recv (fexit), sk_state
#  - kprobe: kp_* (kprobes and kretprobes), sk_state
#  - raw: raw_sys_enter, raw_sys_exit
#  - tracepoint: per-syscall tracepoints, with tracefs unmounted but
#    mountable (the sensor mounts it), and with tracefs missing and no
#    CAP_SYS_ADMIN to mount it (then check names the fallback and the
#    sensor uses the cheapest kind offered).
# A kind the kernel does not offer: check names why and what is used
# instead.  The tracefs cases run in a private mount namespace (unshare
# -m) with tracefs and debugfs unmounted there, so the host's mounts are
# never touched; the host's tracefs mount state is checked at the end.
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

BIG=102400
head -c $BIG /dev/urandom > "$T/nginx/www/big.bin"
chmod 0644 "$T/nginx/www/big.bin"

# run_mode WHAT KIND [-w WRAPPER... --] [-o ...]: start the sensor, check
# that it loaded KIND's programs, send traffic (100 keep-alive GET /ok, a
# sendfile response and a GET /ok after it on one connection, 30 GET
# /missing with Connection: close, 20 POST), check exact counts, stop it
run_mode() {
	local what=$1 kind=$2 M=http_server_request_duration_seconds_count progs
	shift 2
	# no TLS uprobes: their perf links would blur the count of the
	# syscall tracepoints' (tls.sh tests them)
	start_sensor "$@" -o discovery.open_port="$PORT" -o ebpf.tls=false
	wait_ready 1 || return 1
	log "$what: $(grep -o 'bpf: .*' "$SENSOR_ERR" | head -n 1)"
	progs=$(sensor_progs)
	case $kind in
	socket)
		assert_contains "$what: programs loaded" "$progs" "sk_recv sk_send sk_state"
		for p in raw_sys_ fx_ kp_; do
			assert_not_contains "$what: programs loaded" "$progs" "$p"
		done
		assert_eq "$what: perf (syscall tracepoint) links held by the loader" 0 "$(sensor_links perf)" ;;
	fentry)
		assert_contains "$what: programs loaded" "$progs" "fx_recv fx_send"
		assert_contains "$what: programs loaded" "$progs" "sk_state"
		assert_ge "$what: tracing (fexit) links held by the loader" 2 "$(sensor_links tracing)"
		for p in raw_sys_ sk_send kp_; do
			assert_not_contains "$what: programs loaded" "$progs" "$p"
		done ;;
	kprobe)
		assert_contains "$what: programs loaded" "$progs" "kp_recv_enter kp_recv_return kp_send_enter kp_send_return"
		assert_contains "$what: programs loaded" "$progs" "sk_state"
		for p in raw_sys_ sk_send fx_; do
			assert_not_contains "$what: programs loaded" "$progs" "$p"
		done ;;
	raw)
		assert_ge "$what: raw_tracepoint links held by the loader" 2 "$(sensor_links raw_tracepoint)"
		assert_contains "$what: programs loaded" "$progs" "raw_sys_enter raw_sys_exit"
		for p in sk_send fx_ kp_; do
			assert_not_contains "$what: programs loaded" "$progs" "$p"
		done
		assert_eq "$what: perf (syscall tracepoint) links held by the loader" 0 "$(sensor_links perf)" ;;
	tracepoint)
		assert_ge "$what: perf (syscall tracepoint) links held by the loader" 2 "$(sensor_links perf)"
		assert_contains "$what: programs loaded" "$progs" "tp_enter_read" ;;
	*)	fail "$what: unknown kind $kind" ;;
	esac
	assert_eq "$what client: GET /ok" "200 100" "$(http_many 100 "$URL/ok")"
	assert_eq "$what client: GET /sf/big.bin then /ok on one connection" "200 $BIG
200 3" "$(curl -s -w '%{http_code} %{size_download}\n' -o /dev/null -o /dev/null "$URL/sf/big.bin" "$URL/ok")"
	assert_eq "$what client: GET /missing" "404 30" "$(http_many 30 "$URL/missing" -H 'Connection: close')"
	assert_eq "$what client: POST /post" "200 20" "$(http_many 20 "$URL/post" -d x=1)"
	wait_metric 152 $M >/dev/null
	settle
	assert_eq "$what: $M{GET,200}" 102 \
	    "$(metric_value $M http_request_method=GET http_response_status_code=200 service_name=nginx)"
	assert_eq "$what: $M{GET,404}" 30 \
	    "$(metric_value $M http_request_method=GET http_response_status_code=404 service_name=nginx)"
	assert_eq "$what: $M{POST,200}" 20 \
	    "$(metric_value $M http_request_method=POST http_response_status_code=200 service_name=nginx)"
	assert_eq "$what: response bytes of GET 200 (101 x 3 + the sendfile body)" $((101 * 3 + BIG)) \
	    "$(metric_value http_server_response_body_size_bytes_sum http_request_method=GET http_response_status_code=200)"
	assert_count "$what: $M total" 152 "$(metric_value $M)"
	assert_eq "$what: spyglass_events_lost_total" 0 "$(metric_value spyglass_events_lost_total)"
	assert_eq "$what: spyglass_unparsed_bytes_total" 0 "$(metric_value spyglass_unparsed_bytes_total)"
	stop_sensor
}

check_says() {   # KIND: what `check` says with syscall_hooks = KIND
	"$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks="$1" -o discovery.open_port="$PORT" 2>&1
}

# ---- what this kernel offers, as `check` says
out=$("$SPYGLASS" check -c /dev/null -o discovery.open_port="$PORT" 2>&1)
OFFERED=$(printf '%s\n' "$out" | sed -n 's/.*in the order they would be tried: //p' | tr -d ,)
AUTO=${OFFERED%% *}
log "kernel $(uname -r) offers: $OFFERED"
log "COUNT: hooks chosen by default $AUTO $AUTO"
case " $OFFERED " in
*" raw "*) ok "raw tracepoints offered" ;;
*) fail "check does not offer raw tracepoints: $out" ;;
esac
assert_contains "check by default" "$out" "I/O hooks: "
assert_contains "check by default" "$out" "(the cheapest this kernel offers)"

# ---- the default, then each kind
run_mode "default (auto)" "$AUTO"
for kind in socket fentry kprobe raw; do
	case " $OFFERED " in
	*" $kind "*)
		run_mode "$kind" "$kind" -o ebpf.syscall_hooks="$kind" ;;
	*)
		out=$(check_says "$kind")
		assert_eq "check with syscall_hooks=$kind (not offered): exit status" 0 $?
		assert_contains "check with syscall_hooks=$kind (not offered)" "$out" \
		    "syscall_hooks = $kind: "
		assert_contains "check with syscall_hooks=$kind (not offered)" "$out" \
		    "will be used instead" ;;
	esac
done

# ---- where kernel.perf_event_paranoid is 3 (Debian's kernels) kprobes
# are not offered: their perf events need cap_sys_admin.  In a machine of
# the kernel matrix (tests/kernels, SG_GUEST), which is the test's alone,
# lower it to 2 to run the kprobe hooks too, and put it back.
PARANOID=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$PARANOID" -gt 2 ]; then
	assert_contains "check with syscall_hooks=kprobe, perf_event_paranoid $PARANOID" \
	    "$(check_says kprobe)" "kprobe perf events need cap_sys_admin"
	if [ "${SG_GUEST:-0}" = 1 ]; then
		echo 2 > /proc/sys/kernel/perf_event_paranoid
		out=$(check_says kprobe)
		if printf '%s' "$out" | grep -q "I/O hooks: kprobes"; then
			run_mode "kprobe (perf_event_paranoid 2)" kprobe -o ebpf.syscall_hooks=kprobe
		else
			log "kprobes not offered here even so: $(printf '%s\n' "$out" | grep 'kprobe not offered')"
		fi
		echo "$PARANOID" > /proc/sys/kernel/perf_event_paranoid
	fi
fi
assert_eq "host tracefs mount state after the runs" "$HOST_TRACEFS" "$(tracefs_state)"

# ---- per-syscall tracepoints, tracefs mounted by the sensor (in its
# own mount namespace).  Detaching ~25 tracepoint links takes ~70 ms each
# in the kernel: allow more than the usual 2 s to stop in this mode.
# Where kernel.perf_event_paranoid is 3 (Debian's and Ubuntu's kernels),
# opening a tracepoint's perf event needs cap_sys_admin, which the sensor
# does not keep: check says so and the cheapest kind is used instead.
TPKIND=tracepoint
out=$("${NOTRACEFS_MOUNTABLE[@]}" "$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=tracepoint \
    -o discovery.open_port="$PORT" 2>&1)
if [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 2 ]; then
	TPKIND=$AUTO
	assert_contains "check with syscall_hooks=tracepoint, perf_event_paranoid > 2" "$out" \
	    "syscall_hooks = tracepoint: kernel.perf_event_paranoid is"
else
	assert_contains "check with syscall_hooks=tracepoint, tracefs mountable" "$out" \
	    "I/O hooks: syscall tracepoints (syscall_hooks = tracepoint)"
	assert_contains "check with syscall_hooks=tracepoint, tracefs mountable" "$out" \
	    "spyglass will mount it"
fi
STOP_LIMIT_MS=8000 run_mode "tracepoint (tracefs mountable)" "$TPKIND" \
    -w "${NOTRACEFS_MOUNTABLE[@]}" -- -o ebpf.syscall_hooks=tracepoint

# ---- per-syscall tracepoints asked for, tracefs missing and not
# mountable: the cheapest kind offered instead
out=$("${NOTRACEFS[@]}" "$SPYGLASS" check -c /dev/null -o ebpf.syscall_hooks=tracepoint \
    -o discovery.open_port="$PORT" 2>&1)
assert_eq "check without tracefs, syscall_hooks=tracepoint: exit status" 0 $?
assert_contains "check without tracefs, syscall_hooks=tracepoint" "$out" "syscall_hooks = tracepoint: "
[ "$TPKIND" = tracepoint ] && assert_contains "check without tracefs, syscall_hooks=tracepoint" "$out" \
    "tracefs is not mounted at /sys/kernel/tracing, and mounting it needs cap_sys_admin"
run_mode "tracepoint without tracefs" "$AUTO" -w "${NOTRACEFS[@]}" -- -o ebpf.syscall_hooks=tracepoint

assert_eq "host tracefs mount state after the test" "$HOST_TRACEFS" "$(tracefs_state)"
if [ "$HOST_TRACEFS" = unmounted ] && [ "$(tracefs_state)" = mounted ]; then
	umount /sys/kernel/tracing 2>/dev/null && log "restored: unmounted /sys/kernel/tracing"
fi
test_done
