#!/bin/bash
# `spyglass check`: configuration errors exit 2 and name FILE:LINE, the
# section and the key (or the environment variable / the command line);
# a good configuration exits 0 and prints the effective configuration,
# with file < environment < command line precedence; one that selects
# nothing exits 2 and says how to select something.
# Without root only the error cases run (preflight needs root).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$SPYGLASS" ] || die "$SPYGLASS not built"
tmpdir_setup

# check [VAR=VALUE]... -- ARGS...: `spyglass check ARGS` with those
# environment variables and without the ones the tests use otherwise, so
# the caller's environment cannot change the outcome
check() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -u BEYLA_OPEN_PORT -u BEYLA_EXECUTABLE_NAME -u BEYLA_PROMETHEUS_PORT \
	    -u BEYLA_TRACE_PRINTER -u BEYLA_LOG_LEVEL "${envs[@]}" \
	    "$SPYGLASS" check "$@" 2>&1
}

# bad NAME LINE NEEDLE... <<< INI: `check -c NAME.ini` must exit 2 and
# its output must contain NAME.ini:LINE and every needle
bad() {
	local name=$1 line=$2 f out rc n
	shift 2
	f=$T/$name.ini
	cat > "$f"
	out=$(check -- -c "$f")
	rc=$?
	assert_eq "$name: exit status" 2 "$rc"
	assert_contains "$name: message" "$out" "$f:$line"
	for n in "$@"; do
		assert_contains "$name: message" "$out" "$n"
	done
}

bad unknown_key 3 "[discovery]" "no_such_key" <<'INI'
# a comment
[discovery]
no_such_key = 1
INI
bad unknown_section 3 "nosuchsection" <<'INI'
log_level = info
[nosuchsection]
port = 1
INI
bad bad_port 3 "[prometheus_export]" "port" "70000" <<'INI'
[prometheus_export]
address = 127.0.0.1
port = 70000
INI
bad bad_bool 2 "sandbox_debug" "maybe" <<'INI'
log_level = info
sandbox_debug = maybe
INI
bad bad_regex 4 "[discovery]" "executable_name" <<'INI'
[discovery]
open_port = 8080

executable_name = (unclosed
INI
bad bad_open_port 2 "[discovery]" "open_port" <<'INI'
[discovery]
open_port = 80-x
INI
bad bad_enum 2 "[ebpf]" "syscall_hooks" <<'INI'
[ebpf]
syscall_hooks = uprobe
INI
bad bad_duration 2 "[discovery]" "poll_interval" <<'INI'
[discovery]
poll_interval = soon
INI
bad syntax_error 3 <<'INI'
[discovery]
open_port = 8080
[ebpf
INI
bad syntax_error_no_equals 2 <<'INI'
[discovery]
just some words
INI

# environment: the variable is named
out=$(check BEYLA_OPEN_PORT=abc -- -c /dev/null)
assert_eq "BEYLA_OPEN_PORT=abc: exit status" 2 $?
assert_contains "BEYLA_OPEN_PORT=abc: message" "$out" BEYLA_OPEN_PORT
out=$(check SPYGLASS_PROMETHEUS_EXPORT_PORT=99999 -- -c /dev/null)
assert_eq "SPYGLASS_PROMETHEUS_EXPORT_PORT=99999: exit status" 2 $?
assert_contains "SPYGLASS_PROMETHEUS_EXPORT_PORT=99999: message" "$out" SPYGLASS_PROMETHEUS_EXPORT_PORT

# command line
out=$(check -- -c /dev/null -o prometheus_export.port=70000)
assert_eq "-o prometheus_export.port=70000: exit status" 2 $?
assert_contains "-o prometheus_export.port=70000: message" "$out" "port"
out=$(check -- -c /dev/null -o nosuch.key=1)
assert_eq "-o nosuch.key=1: exit status" 2 $?
out=$(check -- -c "$T/does-not-exist.ini")
assert_eq "missing -c file: exit status" 2 $?
assert_contains "missing -c file: message" "$out" "$T/does-not-exist.ini"

# a good configuration (preflight needs root for a clean bill)
if [ "$(id -u)" -ne 0 ]; then
	log "not root: skipping the good-configuration checks"
	test_done
fi
cat > "$T/good.ini" <<INI
# spyglass test configuration
log_level = info
runtime_dir = $T/run

[discovery]
open_port = 18080

[prometheus_export]
port = 19401
INI
out=$(check -- -c "$T/good.ini")
assert_eq "good config: exit status" 0 $?
assert_contains "good config: effective configuration" "$out" "open_port = 18080"
assert_contains "good config: effective configuration" "$out" "[discovery]"
assert_contains "good config: effective configuration" "$out" "port = 19401"
# precedence: file < environment < command line
out=$(check BEYLA_OPEN_PORT=18081 -- -c "$T/good.ini")
assert_contains "environment overrides the file" "$out" "open_port = 18081"
out=$(check BEYLA_OPEN_PORT=18081 -- -c "$T/good.ini" -o discovery.open_port=18082)
assert_contains "command line overrides the environment" "$out" "open_port = 18082"
# nothing selected: check and a start both exit 2 and say how to select
cat > "$T/none.ini" <<INI
runtime_dir = $T/run-none
[prometheus_export]
port = 19402
INI
out=$(check -- -c "$T/none.ini")
assert_eq "nothing selected: check exit status" 2 $?
assert_contains "nothing selected: check finding" "$out" "error   nothing selected"
assert_contains "nothing selected: check says where" "$out" "in $T/none.ini"
assert_contains "nothing selected: check says how" "$out" "systemctl restart spyglass"
out=$(env -u BEYLA_OPEN_PORT -u BEYLA_EXECUTABLE_NAME timeout 20 "$SPYGLASS" -c "$T/none.ini" 2>&1)
assert_eq "nothing selected: start exit status" 2 $?
assert_contains "nothing selected: start message" "$out" "nothing selected"
assert_contains "nothing selected: start says how" "$out" "BEYLA_OPEN_PORT"
out=$(check BEYLA_OPEN_PORT=18083 -- -c "$T/none.ini")
assert_eq "selected from the environment: check exit status" 0 $?
# the printed configuration loads back
check -- -c "$T/good.ini" | grep -E '^(\[[a-z_.*]+\]|[a-z_]+ = .*)$' > "$T/effective.ini"
out=$(check -- -c "$T/effective.ini")
assert_eq "effective configuration loads back: exit status" 0 $?
test_done
