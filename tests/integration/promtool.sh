#!/bin/bash
# The /metrics exposition after real traffic, span metrics and service
# graph on too: `promtool check metrics` finds neither errors nor lint
# problems; histogram families are consistent (+Inf bucket = _count,
# buckets non-decreasing); every family has HELP and TYPE; no series
# appears twice.  Then a real Prometheus
# scrapes the endpoint and its query API returns the same count.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root
require_cmd nginx curl ss promtool "$PYTHON"
require_bpf
tmpdir_setup

PORT=$(free_port 18470)
PROM_PORT=$(free_port 19470)
URL=http://127.0.0.1:$PORT
M=http_server_request_duration_seconds_count
nginx_start "$PORT"

start_sensor -o discovery.open_port="$PORT" \
    -o metrics.features=application,application_span,application_service_graph
wait_ready 1 || exit 1
http_many 120 "$URL/ok" >/dev/null
http_many 15 "$URL/missing" >/dev/null
http_many 10 "$URL/post" -d a=b >/dev/null
wait_metric 145 $M >/dev/null
settle
assert_eq "$M total" 145 "$(metric_value $M)"
assert_eq "traces_spanmetrics_calls_total" 145 \
    "$(metric_value traces_spanmetrics_calls_total)"
assert_eq "traces_service_graph_request_total" 145 \
    "$(metric_value traces_service_graph_request_total)"
printf '%s\n' "$SCRAPE" > "$T/scrape.txt"

out=$(promtool check metrics < "$T/scrape.txt" 2>&1)
rc=$?
assert_eq "promtool check metrics exit status" 0 "$rc"
[ -z "$out" ] || { fail "promtool check metrics said:"; printf '%s\n' "$out" | sed 's/^/    | /'; }

res=$("$PYTHON" - "$T/scrape.txt" <<'PY'
import re, sys, collections
lines = open(sys.argv[1]).read().splitlines()
problems = []
help_, type_ = {}, {}
series = collections.Counter()
samples = []
for l in lines:
    if l.startswith("# HELP "):
        help_[l.split()[2]] = 1
    elif l.startswith("# TYPE "):
        _, _, name, t = l.split(None, 3)
        type_[name] = t
    elif l and not l.startswith("#"):
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( \d+)?$', l)
        if not m:
            problems.append("unparsable: " + l)
            continue
        name, labels, val = m.group(1), m.group(2) or "", m.group(3)
        series[(name, labels)] += 1
        samples.append((name, labels, float(val)))
for k, n in series.items():
    if n > 1:
        problems.append("duplicate series %s%s" % k)
def family(name):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and type_.get(name[:-len(suf)]) == "histogram":
            return name[:-len(suf)]
    return name
for name, _, _ in samples:
    f = family(name)
    if f not in type_:
        problems.append("no TYPE for " + f)
    if f not in help_:
        problems.append("no HELP for " + f)
# histograms: group buckets by the label set without le
buckets = collections.defaultdict(list)
counts = {}
for name, labels, v in samples:
    f = family(name)
    if type_.get(f) != "histogram":
        continue
    if name.endswith("_bucket"):
        le = re.search(r'le="([^"]*)"', labels).group(1)
        rest = re.sub(r',?le="[^"]*"', "", labels).replace("{,", "{")
        buckets[(f, rest)].append((float("inf") if le == "+Inf" else float(le), v))
    elif name.endswith("_count"):
        counts[(f, labels)] = v
for key, bs in buckets.items():
    bs.sort()
    if bs[-1][0] != float("inf"):
        problems.append("no +Inf bucket: %s%s" % key)
    if any(b[1] > c[1] for b, c in zip(bs, bs[1:])):
        problems.append("buckets decrease: %s%s" % key)
    if counts.get(key) != bs[-1][1]:
        problems.append("+Inf bucket %s != _count %s: %s%s" % (bs[-1][1], counts.get(key), key[0], key[1]))
print(len(problems))
for p in problems[:20]:
    print(p, file=sys.stderr)
PY
)
assert_eq "exposition problems (duplicates, HELP/TYPE, histogram consistency)" 0 "$res"

# ---- a real Prometheus scrapes it
if command -v prometheus >/dev/null; then
	PPORT=$(free_port 19475)
	mkdir -p "$T/prometheus"
	cat > "$T/prometheus/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: spyglass
    static_configs:
      - targets: ['127.0.0.1:$PROM_PORT']
YML
	prometheus --config.file="$T/prometheus/prometheus.yml" \
	    --storage.tsdb.path="$T/prometheus/data" \
	    --web.listen-address=127.0.0.1:"$PPORT" > "$T/prometheus.log" 2>&1 &
	track $!
	q='sum(http_server_request_duration_seconds_count{service_name="nginx"})'
	got=
	for _ in $(seq 1 100); do
		got=$(curl -s --max-time 2 -G "http://127.0.0.1:$PPORT/api/v1/query" \
		    --data-urlencode "query=$q" 2>/dev/null |
		    "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
		[ -n "$got" ] && break
		sleep 0.2
	done
	assert_eq "Prometheus query $q" 145 "$got"
	up=$(curl -s -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=up{job="spyglass"}' |
	    "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
	assert_eq "Prometheus up{job=spyglass}" 1 "$up"
fi

stop_sensor
test_done
