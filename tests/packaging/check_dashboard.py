#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks a Grafana dashboard against what the agent really exposes.

    tests/packaging/check_dashboard.py DASHBOARD.json METRICS.txt

METRICS.txt is a scrape of the agent's /metrics. Every podmeter_* name in a
panel query or a template variable query must be a metric family there (a
# TYPE line or a sample; NAME_sum, NAME_count and NAME_bucket of a summary or
histogram count as NAME's). Also checks the dashboard's shape: unique panel
ids, a datasource variable of type prometheus, every target with an expr and
a refId unique in its panel, every panel and target on that variable.
Prints one "  ok    ..." or "  FAIL  ..." line per check and exits 1 on any
failure. Python 3 only.
"""
import json
import re
import sys

from tally import check, fail, ok, summary

NAME = re.compile(r"\bpodmeter_[a-z0-9_]+")
SUFFIXES = ("_sum", "_count", "_bucket")


def exposed(path):
    """{family or sample name: type} from a Prometheus text exposition."""
    types, samples = {}, set()
    with open(path) as f:
        for line in f:
            if line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) >= 4:
                    types[parts[2]] = parts[3]
            elif line.strip() and not line.startswith("#"):
                m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
                if m:
                    samples.add(m.group(0))
    return types, samples


def known(name, types, samples):
    if name in types or name in samples:
        return True
    for suf in SUFFIXES:
        base = name[: -len(suf)]
        if name.endswith(suf) and types.get(base) in ("summary", "histogram"):
            return True
    return False


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels") or [])


def var_query(v):
    q = v.get("query")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q if isinstance(q, str) else ""


def on_variable(ds, var):
    return isinstance(ds, dict) and ds.get("uid") in (f"${var}", f"${{{var}}}")


def check_shape(dash):
    """Returns [(where, expr)] of every query in the dashboard."""
    queries = []
    check(dash.get("title") and dash.get("uid"), "dashboard: has a title and a uid")
    check(isinstance(dash.get("schemaVersion"), int), "dashboard: has a schemaVersion",
          str(dash.get("schemaVersion")))
    variables = (dash.get("templating") or {}).get("list") or []
    ds_vars = [v["name"] for v in variables
               if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    check(ds_vars, "dashboard: a datasource variable of type prometheus")
    ds_var = ds_vars[0] if ds_vars else "datasource"
    for v in variables:
        if v.get("type") != "query":
            continue
        check(on_variable(v.get("datasource"), ds_var),
              f"variable {v.get('name')}: queries ${ds_var}")
        queries.append((f"variable {v.get('name')}", var_query(v)))
    panels = list(walk_panels(dash.get("panels") or []))
    check(panels, "dashboard: has panels")
    ids = [p.get("id") for p in panels]
    dup = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    check(None not in ids and not dup, f"dashboard: {len(ids)} panels, unique ids",
          f"missing or repeated: {dup}")
    for p in panels:
        where = f"panel {p.get('id')} \"{p.get('title')}\""
        if p.get("type") == "row":
            continue
        g = p.get("gridPos") or {}
        check(all(isinstance(g.get(k), int) for k in "xywh") and g["x"] + g["w"] <= 24,
              f"{where}: gridPos within 24 columns", str(g))
        targets = p.get("targets") or []
        if not check(targets, f"{where}: has targets"):
            continue
        check(on_variable(p.get("datasource"), ds_var), f"{where}: on ${ds_var}")
        refs = [t.get("refId") for t in targets]
        check(all(refs) and len(set(refs)) == len(refs), f"{where}: refIds set and unique",
              str(refs))
        for t in targets:
            good = isinstance(t.get("expr"), str) and t["expr"].strip()
            check(good and on_variable(t.get("datasource"), ds_var),
                  f"{where} {t.get('refId')}: an expr on ${ds_var}")
            if good:
                queries.append((where, t["expr"]))
    return queries


def main():
    if len(sys.argv) != 3:
        print("usage: check_dashboard.py DASHBOARD.json METRICS.txt", file=sys.stderr)
        return 2
    dash_path, metrics_path = sys.argv[1:]
    print(f"== {dash_path} against {metrics_path}")
    try:
        with open(dash_path) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{dash_path}: not JSON: {e}")
        return 1
    types, samples = exposed(metrics_path)
    if not check(types or samples, f"{metrics_path}: has metrics"):
        return 1
    queries = check_shape(dash)
    used = {}
    for where, expr in queries:
        for name in NAME.findall(expr):
            used.setdefault(name, []).append(where)
    check(used, "dashboard: queries podmeter metrics")
    for name in sorted(used):
        check(known(name, types, samples),
              f"{name} is exposed ({len(used[name])} queries)",
              "not in the scrape, used by " + ", ".join(sorted(set(used[name]))))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
