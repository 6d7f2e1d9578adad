#!/usr/bin/env python3
"""Run every query of deskdb's dashboards against a Prometheus that scrapes
deskdb, and check the rules it loaded from dashboards/prometheus/rules.yml.

  dashboards_query.py queries PROM_URL SOURCE_DIR JOB INSTANCE
      every dashboard query must be accepted; one whose metrics are all in
      Prometheus must return series, unless it filters (`> 0`, `== 1`)
  dashboards_query.py rules PROM_URL SOURCE_DIR
      every rule of rules.yml is loaded and evaluated without error
  dashboards_query.py firing PROM_URL ALERT...
      exit 1 if one of the alerts is pending or firing

Only the Python standard library is used.
"""
import glob
import json
import os
import re
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboards_check import all_panels, selectors  # noqa: E402

# A query with one of these may legitimately select nothing.
FILTERS = re.compile(r"(>|==|!=|<)\s*[0-9]")


def api(prom, path, **params):
    url = "%s/api/v1/%s" % (prom, path)
    data = urllib.parse.urlencode(params).encode() if params else None
    with urllib.request.urlopen(url, data=data, timeout=10) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise RuntimeError("%s: %s" % (path, doc.get("error")))
    return doc["data"]


def expand(expr, job, instance):
    expr = expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
    expr = expr.replace('"$job"', json.dumps(re.escape(job)))
    expr = expr.replace('"$instance"', json.dumps(re.escape(instance)))
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".+", expr)


def family(name):
    return re.sub(r"_(bucket|sum|count)$", "", name)


def cmd_queries(prom, source, job, instance):
    present = set(api(prom, "label/__name__/values"))
    bad = checked = 0
    for path in sorted(glob.glob(os.path.join(source, "dashboards", "grafana",
                                              "*.json"))):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for p in all_panels(d.get("panels", [])):
            for t in p.get("targets", []):
                where = "%s %r %s" % (os.path.basename(path), p["title"],
                                      t["refId"])
                expr = expand(t["expr"], job, instance)
                names = {s[0] for s in selectors(t["expr"])}
                checked += 1
                try:
                    result = api(prom, "query", query=expr)["result"]
                except Exception as e:  # noqa: BLE001 (report, go on)
                    print("FAIL: %s: %s: %s" % (where, expr, e))
                    bad += 1
                    continue
                missing = {n for n in names if n not in present and
                           family(n) + "_bucket" not in present}
                if not result and not missing and not FILTERS.search(expr):
                    print("FAIL: %s: no series for %s" % (where, expr))
                    bad += 1
    print("queries: %d run, %d failed" % (checked, bad))
    return 1 if bad else 0


def cmd_rules(prom, source):
    with open(os.path.join(source, "dashboards", "prometheus", "rules.yml"),
              encoding="utf-8") as f:
        text = f.read()
    want = set(re.findall(r"^\s*- (?:alert|record): (\S+)", text, re.M))
    loaded, bad = {}, 0
    for g in api(prom, "rules")["groups"]:
        for r in g["rules"]:
            loaded[r["name"]] = r
    for name in sorted(want):
        r = loaded.get(name)
        if r is None:
            print("FAIL: rule %s not loaded" % name)
            bad += 1
        elif r.get("health") != "ok":
            print("FAIL: rule %s health %s: %s" % (name, r.get("health"),
                                                  r.get("lastError", "")))
            bad += 1
    print("rules: %d loaded, %d not ok" % (len(want), bad))
    return 1 if bad else 0


def cmd_firing(prom, names):
    active = [a for a in api(prom, "alerts")["alerts"]
              if a["labels"].get("alertname") in names]
    for a in active:
        print("%s %s %s" % (a["labels"]["alertname"], a["state"],
                            a["labels"]))
    return 1 if active else 0


def main(argv):
    if len(argv) == 6 and argv[1] == "queries":
        return cmd_queries(*argv[2:])
    if len(argv) == 4 and argv[1] == "rules":
        return cmd_rules(*argv[2:])
    if len(argv) >= 4 and argv[1] == "firing":
        return cmd_firing(argv[2], set(argv[3:]))
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
