#!/usr/bin/env python3
"""The metric names Grafana dashboards query, and whether a sensor serves them.

  dashboard_metrics.py names DASHBOARD.json...
      one line per metric name a panel or a variable queries:
      NAME<TAB>DASHBOARD
  dashboard_metrics.py check SCRAPE DASHBOARD.json...
      one line per queried name: sample|declared|missing NAME DASHBOARD,
      where sample: the scrape has samples of it; declared: its family has
      a # TYPE line but no samples yet (no traffic of that kind); missing:
      the sensor does not serve it.  Exits 1 when a name is missing.
  dashboard_metrics.py lint DASHBOARD.json...
      what Grafana needs to import each one with a Prometheus data source
      picked at import: a uid, a title, schemaVersion >= 36, a datasource
      variable, every panel and query on it, unique panel ids
  dashboard_metrics.py rules DASHBOARD.json...
      every panel query as a Prometheus recording rule file, so that
      `promtool check rules` parses each one (Grafana's $__rate_interval
      becomes 5m)

Names are read from PromQL text without a full parser: strings, label
matchers, ranges and grouping lists are cut out first, and an identifier
followed by "(" is a function.
"""
import json
import re
import sys

KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring",
            "group_left", "group_right", "offset", "inf", "nan"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            board = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")
    if not isinstance(board, dict) or not isinstance(board.get("panels"), list):
        sys.exit(f"{path}: not a Grafana dashboard (no panels)")
    return board


def panels(board):
    """Every panel, the ones inside collapsed rows too."""
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])


def exprs(board):
    for p in panels(board):
        for t in p.get("targets", []) or []:
            if isinstance(t, dict) and t.get("expr"):
                yield t["expr"]


def variable_queries(board):
    for v in board.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if isinstance(q, str):
            yield q


def names_in_expr(expr):
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"'(?:\\.|[^'\\])*'", "''", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
               " ", e)
    e = re.sub(r"(?<![A-Za-z_:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", e)
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if m.group(0) in KEYWORDS or rest.startswith("("):
            continue
        yield m.group(0)


def names_in_variable(query):
    """label_values(METRIC_SELECTOR, LABEL): the metric; label_values(LABEL)
    names none; anything else (query_result(EXPR)) is PromQL."""
    m = re.match(r"\s*label_values\s*\((.*)\)\s*$", query, re.S)
    if m is None:
        yield from names_in_expr(query)
    elif "," in m.group(1):
        yield from names_in_expr(m.group(1).rsplit(",", 1)[0])


def queried(paths):
    """(name, dashboard) pairs, each once."""
    seen = []
    for path in paths:
        board = load(path)
        found = set()
        for e in exprs(board):
            found.update(names_in_expr(e))
        for q in variable_queries(board):
            found.update(names_in_variable(q))
        if not found:
            sys.exit(f"{path}: no metric names found in its queries")
        seen.extend((n, path) for n in sorted(found))
    return seen


def parse_scrape(path):
    declared, samples = {}, set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) == 4:
                    declared[parts[2]] = parts[3]
            elif line.strip() and not line.startswith("#"):
                samples.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return declared, samples


def served(name, declared, samples):
    if name in samples:
        return "sample"
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[:-len(suffix)]
        if name.endswith(suffix) and declared.get(base) == "histogram":
            return "declared"
    if name in declared and declared[name] != "histogram":
        return "declared"
    return "missing"


def cmd_names(paths):
    for name, path in queried(paths):
        print(f"{name}\t{path}")


def cmd_check(scrape, paths):
    declared, samples = parse_scrape(scrape)
    if not declared:
        sys.exit(f"{scrape}: no # TYPE lines: not a scrape of the sensor")
    missing = 0
    for name, path in queried(paths):
        how = served(name, declared, samples)
        missing += how == "missing"
        print(f"{how} {name} {path}")
    return 1 if missing else 0


DS_REF = {"type": "prometheus", "uid": "${datasource}"}


def lint_board(board):
    if not isinstance(board.get("uid"), str) or not board["uid"]:
        yield "no uid"
    if not isinstance(board.get("title"), str) or not board["title"]:
        yield "no title"
    if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
        yield "schemaVersion missing or below 36"
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource"
               and v.get("query") == "prometheus"
               for v in board.get("templating", {}).get("list", [])):
        yield "no Prometheus datasource variable named datasource"
    ids = set()
    for p in panels(board):
        if p.get("id") in ids:
            yield f"panel id {p.get('id')} used twice"
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24:
            yield f"panel {p.get('title')!r} wider than the grid"
        if p.get("type") == "row":
            continue
        if p.get("datasource") != DS_REF:
            yield f"panel {p.get('title')!r} not on ${{datasource}}"
        targets = p.get("targets") or []
        if not targets:
            yield f"panel {p.get('title')!r} has no query"
        for t in targets:
            if t.get("datasource") != DS_REF or not t.get("expr"):
                yield f"panel {p.get('title')!r}: a query without expr or datasource"


def cmd_lint(paths):
    bad = 0
    for path in paths:
        for problem in lint_board(load(path)):
            bad += 1
            print(f"{path}: {problem}")
    return 1 if bad else 0


def cmd_rules(paths):
    n = 0
    print("groups:")
    for path in paths:
        print(f"  - name: {json.dumps(path)}")
        print("    rules:")
        for e in exprs(load(path)):
            n += 1
            e = e.replace("$__rate_interval", "5m")
            print(f"      - record: dashboard_query_{n}")
            print(f"        expr: {json.dumps(e)}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "names":
        cmd_names(argv[2:])
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        return cmd_check(argv[2], argv[3:])
    if len(argv) >= 3 and argv[1] == "lint":
        return cmd_lint(argv[2:])
    if len(argv) >= 3 and argv[1] == "rules":
        cmd_rules(argv[2:])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
