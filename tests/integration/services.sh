#!/bin/bash
# Discovery's service blocks with two nginx instances: [service.front]
# and [service.back] select them by port and name them (the block's name
# and namespace), a block whose selectors a process matches only in part
# selects nothing, an exclude block wins; `spyglass check` says which
# block selected each process and under which name.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl
require_bpf
tmpdir_setup

P1=$(free_port 18480)
P2=$(free_port $((P1 + 1)))
P3=$(free_port $((P2 + 1)))
PROM_PORT=$(free_port 19480)
nginx_start "$P1" "$T/front"
nginx_start "$P2" "$T/back"
BACK=$NGINX_PID
nginx_start "$P3" "$T/third"
THIRD=$NGINX_PID
M=http_server_request_duration_seconds_count

SENSOR_INI_EXTRA="[service.front]
name = front
open_ports = $P1

[service.back]
name = back
namespace = shop
open_ports = $P2
exe_path = nginx

# the port of the third nginx, but not its executable: AND-ed, nothing
[service.partial]
name = partial
open_ports = $P3
exe_path = no-such-program\$

# a later block that matches front's nginx too names nothing
[service.late]
name = late
open_ports = $P1
"
start_sensor
# two processes (master, worker) of each of the two selected nginx
wait_ready 4 || exit 1

check=$("$SPYGLASS" -c "$SENSOR_INI" check 2>&1)
assert_contains "check: front's nginx" "$check" "selected by [service.front] as front;"
assert_contains "check: back's nginx" "$check" "selected by [service.back] as back;"
assert_not_contains "check: the partial block" "$check" "as partial;"
assert_contains "check: the third nginx, not selected" "$check" \
    "process $THIRD (/usr/sbin/nginx): not selected"
assert_contains "check dumps the blocks" "$check" "[service.partial]"

assert_eq "client: 20 GET front /ok" "200 20" "$(http_many 20 "http://127.0.0.1:$P1/ok")"
assert_eq "client: 12 GET back /ok" "200 12" "$(http_many 12 "http://127.0.0.1:$P2/ok")"
assert_eq "client: 7 GET back /missing" "404 7" "$(http_many 7 "http://127.0.0.1:$P2/missing")"
assert_eq "client: 9 GET third /ok" "200 9" "$(http_many 9 "http://127.0.0.1:$P3/ok")"
v=$(wait_metric 39 $M)
settle
assert_eq "$M{service_name=front}" 20 "$(metric_value $M service_name=front service_namespace=)"
assert_eq "$M{service_name=back,namespace=shop}" 19 "$(metric_value $M service_name=back service_namespace=shop)"
assert_eq "$M{service_name=back,status=404}" 7 "$(metric_value $M service_name=back http_response_status_code=404)"
assert_count "$M in all (the third nginx not selected)" 39 "$(metric_value $M)"
assert_eq "target_info{service_name=partial}" 0 "$(metric_value target_info service_name=partial)"
assert_eq "target_info{service_name=late}" 0 "$(metric_value target_info service_name=late)"
stop_sensor

# an exclude block wins over the blocks that select
SENSOR_INI_EXTRA="[service.any]
exe_path = nginx

[exclude_service.back]
open_ports = $P2
"
start_sensor
wait_ready 4 || exit 1
check=$("$SPYGLASS" -c "$SENSOR_INI" check 2>&1)
assert_contains "check: the third nginx, by exe_path" "$check" "process $THIRD (/usr/sbin/nginx) selected by [service.any]"
assert_contains "check: back's nginx, excluded" "$check" \
    "process $BACK (/usr/sbin/nginx): not selected: excluded by [exclude_service.back]"
assert_eq "client: 5 GET back /ok" "200 5" "$(http_many 5 "http://127.0.0.1:$P2/ok")"
assert_eq "client: 6 GET third /ok" "200 6" "$(http_many 6 "http://127.0.0.1:$P3/ok")"
v=$(wait_metric 6 $M)
settle
assert_count "$M in all (back excluded)" 6 "$(metric_value $M)"
stop_sensor
test_done
