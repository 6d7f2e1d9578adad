#!/usr/bin/env python3
"""Static checks of deskdb's Grafana dashboards and Prometheus rules.

  dashboards_check.py dashboards SOURCE_DIR      check dashboards/grafana/*.json
  dashboards_check.py exprs SOURCE_DIR           print every dashboard query
                                                 as a rule file for promtool
  dashboards_check.py rules SOURCE_DIR           check dashboards/prometheus
  dashboards_check.py seed SOURCE_DIR < OUTPUT   compare deskdb-seed with the
                                                 rules `deskdb check-config`
                                                 prints by default

Metric names are checked against README.md's metric table (generated from a
live exposition) plus the families of modules that are not in it yet.
Every problem is printed on one line; the exit status is 1 if any.
"""
import glob
import json
import os
import re
import sys

# Families of modules landing after the README table was generated: the
# scheduler (jobs/) and alert delivery (exporter/alerts).  Remove a line
# when README.md lists the family.
PENDING_FAMILIES = {
    "deskdb_job_runs_total": "counter",
    "deskdb_job_failures_total": "counter",
    "deskdb_job_duration_seconds": "histogram",
    "deskdb_job_last_success_timestamp_seconds": "gauge",
    "deskdb_job_last_run_timestamp_seconds": "gauge",
    "deskdb_job_running": "gauge",
    "deskdb_job_next_run_timestamp_seconds": "gauge",
    "deskdb_job_skipped_total": "counter",
    "deskdb_job_retries_total": "counter",
    "deskdb_scheduler_leader": "gauge",
    "deskdb_alert_firing": "gauge",
    "deskdb_webhook_notifications_total": "counter",
    "deskdb_webhook_notifications_failed_total": "counter",
    "deskdb_webhook_notification_duration_seconds": "histogram",
    "deskdb_webhook_queue_length": "gauge",
}
# Series Prometheus itself records for every target.
PROMETHEUS_SERIES = {"up": "gauge"}

RANGE_FUNCTIONS_FOR_COUNTERS = {"rate", "irate", "increase"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar",
               "count", "count_values", "bottomk", "topk", "quantile"}
MODIFIERS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = MODIFIERS | {"and", "or", "unless", "bool", "offset", "inf", "nan",
                        "atan2"}
DASHBOARD_MATCHERS = (("job", "=~", '"$job"'),
                      ("instance", "=~", '"$instance"'))
ALLOWED_DS_UIDS = {"${datasource}", "-- Grafana --"}
SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = {"summary", "description", "runbook"}
# The seed's alert values, each shown as a threshold on a panel of its metric.
SEED_THRESHOLDS = (("deskdb_pool_pending_requests", 5),
                   ("deskdb_slow_queries_total", 100),
                   ("deskdb_transaction_retries_total", 10))

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?)
  | (?P<num>(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)
             (?:(?:ms|s|m|h|d|w|y)(?:[0-9]+(?:ms|s|m|h|d|w|y))*)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]:@])
""", re.X)

problems = []


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def tokenize(expr):
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if m is None:
            raise ValueError("cannot read %r" % expr[pos:pos + 20])
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def skip_group(toks, i, open_, close):
    """Index after the bracket group that opens at toks[i]."""
    depth = 0
    while i < len(toks):
        if toks[i][1] == open_:
            depth += 1
        elif toks[i][1] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced %s" % open_)


def selectors(expr):
    """Every vector selector of `expr`: (name, matchers, range, function
    whose argument it is)."""
    toks = tokenize(expr)
    found, stack, pending, i = [], [], None, 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and text.lower() in MODIFIERS:
            i = skip_group(toks, i + 1, "(", ")") if nxt == "(" else i + 1
            continue
        if kind == "ident" and text.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "ident" and (nxt == "(" or (text in AGGREGATORS and
                                               nxt in ("by", "without"))):
            pending = text
            i += 1
            continue
        if kind == "ident" or text == "{":
            name = text if kind == "ident" else None
            i += 1 if kind == "ident" else 0
            matchers, rng = [], None
            if i < len(toks) and toks[i][1] == "{":
                end = skip_group(toks, i, "{", "}")
                body = [t for t in toks[i + 1:end - 1] if t[1] != ","]
                matchers = [tuple(x[1] for x in body[j:j + 3])
                            for j in range(0, len(body), 3)]
                i = end
            if i < len(toks) and toks[i][1] == "[":
                end = skip_group(toks, i, "[", "]")
                rng = "".join(t[1] for t in toks[i + 1:end - 1])
                i = end
            found.append((name, matchers, rng, stack[-1] if stack else None))
            continue
        if text == "(":
            stack.append(pending)
            pending = None
        elif text == ")":
            stack.pop()
        elif text == "[":  # a subquery after ")"
            i = skip_group(toks, i, "[", "]")
            continue
        i += 1
    return found


def known_families(source):
    families = dict(PENDING_FAMILIES)
    families.update(PROMETHEUS_SERIES)
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("<!-- metrics:begin -->")[1].split("<!-- metrics:end -->")[0]
    for m in re.finditer(r"^\| `([a-z_:][a-z0-9_:]*)` \| (\w+) \|", table, re.M):
        families[m.group(1)] = m.group(2)
    if len(families) < 100:
        problem("README.md", "metric table not found or too short")
    return families


def family_type(name, families):
    if name in families:
        return families[name]
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if base != name and families.get(base) in ("histogram", "summary"):
        return "counter"
    return None


def check_expr(where, expr, families, dashboard):
    if "$__interval" in expr:
        problem(where, "uses $__interval; rates need $__rate_interval")
    try:
        sels = selectors(expr)
    except (ValueError, IndexError) as e:
        problem(where, "cannot read expression: %s" % e)
        return []
    if not sels:
        problem(where, "no metric in %r" % expr)
    for name, matchers, rng, fn in sels:
        if name is None:
            problem(where, "selector without a metric name")
            continue
        kind = family_type(name, families)
        if kind is None:
            problem(where, "unknown metric %s" % name)
        elif kind in ("histogram", "summary"):
            problem(where, "%s is a histogram: use _bucket, _sum or _count"
                    % name)
        elif kind == "counter" and (rng is None or
                                    fn not in RANGE_FUNCTIONS_FOR_COUNTERS):
            problem(where, "counter %s outside rate/irate/increase" % name)
        if dashboard:
            for m in DASHBOARD_MATCHERS:
                if m not in matchers:
                    problem(where, "%s lacks %s%s%s" % ((name,) + m))
            if fn in ("rate", "irate") and rng != "$__rate_interval":
                problem(where, "%s(%s[%s]) must use $__rate_interval"
                        % (fn, name, rng))
    return [s[0] for s in sels]


# ---- dashboards -------------------------------------------------------------


def walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_variables(where, d, families):
    vars_ = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = [v for v in vars_.values() if v.get("type") == "datasource"]
    if len(ds) != 1 or ds[0].get("name") != "datasource" or \
            ds[0].get("query") != "prometheus":
        problem(where, "needs one datasource variable `datasource` of "
                "type prometheus")
    for name in ("job", "instance"):
        v = vars_.get(name)
        if v is None or not (v.get("multi") and v.get("includeAll")):
            problem(where, "needs a multi-value variable %s with All" % name)
    for v in vars_.values():
        if v.get("type") != "query":
            continue
        q = v.get("definition", "")
        m = re.match(r"label_values\(([a-z_:][a-z0-9_:]*)", q)
        if m is None or family_type(m.group(1), families) is None:
            problem(where, "variable %s: query %r" % (v.get("name"), q))


def check_panel(where, p, families, used):
    if p.get("type") == "row":
        return
    if not p.get("description", "").strip():
        problem(where, "no description")
    unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
    if not unit:
        problem(where, "no unit (fieldConfig.defaults.unit)")
    if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
        problem(where, "datasource is not the datasource variable")
    g = p.get("gridPos", {})
    if g.get("x", -1) < 0 or g.get("w", 0) < 1 or g.get("h", 0) < 1 or \
            g.get("x", 0) + g.get("w", 0) > 24:
        problem(where, "gridPos outside the 24-column grid: %s" % g)
    if not p.get("targets"):
        problem(where, "no queries")
    steps = {s.get("value") for s in p.get("fieldConfig", {}).get(
        "defaults", {}).get("thresholds", {}).get("steps", [])}
    for t in p.get("targets", []):
        if not t.get("expr"):
            problem(where, "target %s has no expr" % t.get("refId"))
            continue
        for name in check_expr("%s %s" % (where, t.get("refId")), t["expr"],
                               families, True):
            used.setdefault(name, set()).update(steps)


def check_dashboard(path, d, families, uids, schema):
    where = os.path.basename(path)
    uid = d.get("uid", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        problem(where, "uid %r missing, too long or with odd characters" % uid)
    if uid in uids:
        problem(where, "uid %s also used by %s" % (uid, uids[uid]))
    uids[uid] = where
    if where != uid + ".json":
        problem(where, "file name differs from uid %s" % uid)
    if not d.get("title") or "deskdb" not in d.get("tags", []):
        problem(where, "needs a title and the tag deskdb")
    schema.setdefault(d.get("schemaVersion"), []).append(where)
    if "__inputs" in d or "__requires" in d:
        problem(where, "import placeholders (__inputs) instead of the "
                "datasource variable")
    if not any(l.get("type") == "dashboards" and "deskdb" in l.get("tags", [])
               for l in d.get("links", [])):
        problem(where, "no link to the other deskdb dashboards by tag")
    for node in walk(d):
        if isinstance(node, dict) and "datasource" in node:
            ds = node["datasource"]
            if not isinstance(ds, dict) or ds.get("uid") not in ALLOWED_DS_UIDS:
                problem(where, "hard-coded datasource %r" % (ds,))
    check_variables(where, d, families)
    ids, used = set(), {}
    for p in all_panels(d.get("panels", [])):
        pw = "%s panel %s %r" % (where, p.get("id"), p.get("title"))
        if p.get("id") in ids:
            problem(pw, "duplicate panel id")
        ids.add(p.get("id"))
        check_panel(pw, p, families, used)
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr"):
            check_expr("%s annotation %r" % (where, a.get("name")), a["expr"],
                       families, True)
    return used


def cmd_dashboards(source):
    families = known_families(source)
    files = sorted(glob.glob(os.path.join(source, "dashboards", "grafana",
                                          "*.json")))
    if len(files) < 6:
        problem("dashboards/grafana", "expected 6 dashboards, found %d"
                % len(files))
    uids, schema, used = {}, {}, {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        if "${DS_" in raw:
            problem(os.path.basename(path), "${DS_...} import placeholder")
        try:
            d = json.loads(raw)
        except ValueError as e:
            problem(os.path.basename(path), "not JSON: %s" % e)
            continue
        for name, steps in check_dashboard(path, d, families, uids,
                                           schema).items():
            used.setdefault(name, set()).update(steps)
    if len(schema) > 1:
        problem("dashboards/grafana", "schemaVersion differs: %s" % schema)
    for name, value in SEED_THRESHOLDS:
        if value not in used.get(name, set()):
            problem("dashboards/grafana", "no panel of %s has a threshold at "
                    "the seed's alert value %s" % (name, value))
    return len(files)


def expand(expr):
    """Grafana variables replaced so that Prometheus can parse the query."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".+", expr)


def cmd_exprs(source):
    print("groups:\n  - name: dashboard-queries\n    rules:")
    n = 0
    for path in sorted(glob.glob(os.path.join(source, "dashboards", "grafana",
                                              "*.json"))):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        exprs = [t.get("expr", "") for p in all_panels(d.get("panels", []))
                 for t in p.get("targets", [])]
        exprs += [a["expr"] for a in d.get("annotations", {}).get("list", [])
                  if a.get("expr")]
        for e in exprs:
            n += 1
            print("      # %s" % os.path.basename(path))
            print("      - record: dashboard:query_%d" % n)
            print("        expr: %s" % json.dumps(expand(e)))
    return n


# ---- rules ------------------------------------------------------------------


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        sys.exit("FAIL: python3 module yaml missing (Debian: python3-yaml; "
                 "scripts/bootstrap installs it)")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def anchors(path):
    """GitHub's anchors of the headings of a Markdown file."""
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"#+ (.*)", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
                out.add(slug.replace(" ", "-"))
    return out


def rule_tests(tests):
    """alertname -> (has a firing case, has a silent case)."""
    cases = {}
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            fire, quiet = cases.get(a["alertname"], (False, False))
            if a.get("exp_alerts"):
                fire = True
            else:
                quiet = True
            cases[a["alertname"]] = (fire, quiet)
    return cases


def check_alert(where, r, doc_anchors, cases):
    labels, notes = r.get("labels", {}), r.get("annotations", {})
    if labels.get("severity") not in SEVERITIES:
        problem(where, "severity must be one of %s" % sorted(SEVERITIES))
    for k, v in labels.items():
        if "{{" in str(v) or "$value" in str(v):
            problem(where, "label %s is templated (new series each value)" % k)
    if set(notes) != ANNOTATIONS:
        problem(where, "annotations must be exactly %s" % sorted(ANNOTATIONS))
    runbook = notes.get("runbook", "")
    prefix = "dashboards/README.md#"
    if not runbook.startswith(prefix) or \
            runbook[len(prefix):] not in doc_anchors:
        problem(where, "runbook %r is not a heading of dashboards/README.md"
                % runbook)
    fire, quiet = cases.get(r["alert"], (False, False))
    if not (fire and quiet):
        problem(where, "rules_test.yml needs a firing and a silent case")


def cmd_rules(source):
    families = known_families(source)
    base = os.path.join(source, "dashboards", "prometheus")
    rules = load_yaml(os.path.join(base, "rules.yml"))
    cases = rule_tests(load_yaml(os.path.join(base, "rules_test.yml")))
    doc_anchors = anchors(os.path.join(source, "dashboards", "README.md"))
    all_rules = [r for g in rules["groups"] for r in g["rules"]]
    for r in all_rules:
        if "record" in r:
            families[r["record"]] = "gauge"
    seen = set()
    for r in all_rules:
        name = r.get("alert") or r.get("record")
        where = "rules.yml %s" % name
        if name in seen:
            problem(where, "defined twice")
        seen.add(name)
        check_expr(where, r["expr"], families, False)
        if "alert" in r:
            check_alert(where, r, doc_anchors, cases)
    for name in cases:
        if name not in seen:
            problem("rules_test.yml", "tests an unknown alert %s" % name)
    return len(all_rules)


def duration(text):
    text = str(text or "0s")
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for n, u in re.findall(r"([0-9.]+)(ms|s|m|h|d)", text):
        total += float(n) * units[u]
    return total


def cmd_seed(source):
    printed = load_yaml("/dev/stdin")
    defaults = printed["alerts"]["rules"]
    rules = load_yaml(os.path.join(source, "dashboards", "prometheus",
                                   "rules.yml"))
    seed = [g for g in rules["groups"] if g["name"] == "deskdb-seed"]
    ours = seed[0]["rules"] if seed else []
    if [r.get("alert") for r in ours] != [r["name"] for r in defaults]:
        problem("deskdb-seed", "alerts %s, deskdb's defaults %s" % (
            [r.get("alert") for r in ours], [r["name"] for r in defaults]))
    for want, got in zip(defaults, ours):
        where = "deskdb-seed %s" % want["name"]
        if " ".join(got["expr"].split()) != " ".join(want["expr"].split()):
            problem(where, "expr %r, deskdb's default %r"
                    % (got["expr"], want["expr"]))
        if duration(got.get("for")) != duration(want.get("for")):
            problem(where, "for %s, deskdb's default %s"
                    % (got.get("for"), want.get("for")))
        if got.get("labels") != want.get("labels"):
            problem(where, "labels %s, deskdb's default %s"
                    % (got.get("labels"), want.get("labels")))
        for k, v in (want.get("annotations") or {}).items():
            if got.get("annotations", {}).get(k) != v:
                problem(where, "annotation %s differs from deskdb's default"
                        % k)
    return len(defaults)


def main(argv):
    commands = {"dashboards": cmd_dashboards, "exprs": cmd_exprs,
                "rules": cmd_rules, "seed": cmd_seed}
    if len(argv) != 3 or argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n = commands[argv[1]](argv[2])
    out = sys.stderr if argv[1] == "exprs" else sys.stdout
    for p in problems:
        print("FAIL: " + p, file=out)
    if argv[1] != "exprs":
        print("%s: %d checked, %d problems" % (argv[1], n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
