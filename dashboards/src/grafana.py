# Building blocks of deskdb's Grafana dashboards: one datasource variable,
# the job and instance variables, selectors that always carry them, and
# panels with a description, a unit and thresholds.  Only the Python
# standard library is used.
SCHEMA_VERSION = 39
TAG = "deskdb"
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance"'
# The scheduler's label for a job's name (not `job`, which Prometheus
# attaches to every series as the scrape job).
JOB_NAME = "job_name"
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def sel(metric, *extra):
    """A vector selector restricted to the dashboard's job and instance."""
    return "%s{%s}" % (metric, ", ".join((SEL,) + extra))


def rate(metric, *extra, fn="rate", window="$__rate_interval"):
    return "%s(%s[%s])" % (fn, sel(metric, *extra), window)


def quantile(q, histogram, by=(), *extra):
    labels = ", ".join(tuple(by) + ("le",))
    return "histogram_quantile(%s, sum by (%s) (%s))" % (
        q,
        labels,
        rate(histogram + "_bucket", *extra),
    )


# ---- panels -----------------------------------------------------------------


def target(expr, legend="", instant=False, fmt=None):
    t = {"datasource": DS, "editorMode": "code", "expr": expr, "refId": ""}
    if legend:
        t["legendFormat"] = legend
    t["range"] = not instant
    t["instant"] = instant
    if fmt or instant:
        t["format"] = fmt or "time_series"
    return t


def thresholds(*steps, base="green"):
    out = [{"color": base, "value": None}]
    out += [{"color": c, "value": v} for v, c in steps]
    return {"mode": "absolute", "steps": out}


def value_map(*pairs):
    opts = {}
    for i, (value, text, color) in enumerate(pairs):
        opts[str(value)] = {"text": text, "color": color, "index": i}
    return [{"type": "value", "options": opts}]


def panel(kind, title, desc, unit, targets, **kw):
    p = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": kw.pop("th", thresholds())},
            "overrides": kw.pop("overrides", []),
        },
        "options": {},
        "targets": targets,
        "w": kw.pop("w", 8),
        "h": kw.pop("h", 8),
    }
    d = p["fieldConfig"]["defaults"]
    for key in ("min", "max", "decimals"):
        if key in kw:
            d[key] = kw.pop(key)
    d["mappings"] = kw.pop("mappings", [])
    for key in ("transformations",):
        if key in kw:
            p[key] = kw.pop(key)
    if kw:
        raise SystemExit("dashboards: unknown panel options %s" % sorted(kw))
    return p


def timeseries(title, desc, unit, targets, stack=False, threshold=None,
               overrides=None, **kw):
    th = thresholds()
    style = "off"
    if threshold is not None:
        th = thresholds((threshold, "red"))
        style = "dashed"
    p = panel("timeseries", title, desc, unit, targets, th=kw.pop("th", th),
              overrides=overrides or [], **kw)
    p["fieldConfig"]["defaults"]["color"] = {"mode": "palette-classic"}
    p["fieldConfig"]["defaults"]["custom"] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 25 if stack else 10,
        "gradientMode": "none",
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": style},
    }
    p["options"] = {
        "legend": {"displayMode": "list", "placement": "bottom",
                   "showLegend": True, "calcs": []},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return p


def stat(title, desc, unit, targets, color="value", text="auto", **kw):
    p = panel("stat", title, desc, unit, targets, w=kw.pop("w", 4),
              h=kw.pop("h", 4), **kw)
    p["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                          "values": False},
        "colorMode": color,
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": text,
        "wideLayout": True,
        "showPercentChange": False,
    }
    return p


def gauge(title, desc, unit, targets, **kw):
    p = panel("gauge", title, desc, unit, targets, w=kw.pop("w", 6),
              h=kw.pop("h", 8), **kw)
    p["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                          "values": False},
        "orientation": "auto",
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
        "minVizHeight": 75,
        "minVizWidth": 75,
        "sizing": "auto",
    }
    return p


def bargauge(title, desc, unit, targets, **kw):
    p = panel("bargauge", title, desc, unit, targets, **kw)
    p["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                          "values": False},
        "displayMode": "gradient",
        "orientation": "horizontal",
        "valueMode": "color",
        "namePlacement": "auto",
        "showUnfilled": True,
        "sizing": "auto",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "maxVizHeight": 300,
    }
    return p


def table(title, desc, unit, targets, columns, units=None, hide=(), **kw):
    """An instant table; `columns` renames fields, `units` maps renamed
    columns to units when the queries differ in unit."""
    exclude = {"Time": True, "job": True, "__name__": True}
    exclude.update({h: True for h in hide})
    trans = []
    if len(targets) > 1:
        trans.append({"id": "merge", "options": {}})
    trans.append({"id": "organize", "options": {
        "excludeByName": exclude, "renameByName": columns,
        "indexByName": {}}})
    overrides = [{
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "unit", "value": u}],
    } for name, u in (units or {}).items()]
    p = panel("table", title, desc, unit, targets, overrides=overrides,
              transformations=trans, w=kw.pop("w", 24), **kw)
    p["options"] = {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"],
                               "fields": "", "countRows": False}}
    return p


def state_timeline(title, desc, targets, mappings, **kw):
    p = panel("state-timeline", title, desc, "none", targets,
              mappings=mappings, **kw)
    p["fieldConfig"]["defaults"]["custom"] = {"fillOpacity": 70,
                                              "lineWidth": 0}
    p["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    p["options"] = {
        "mergeValues": True,
        "showValue": "never",
        "alignValue": "left",
        "rowHeight": 0.9,
        "legend": {"displayMode": "list", "placement": "bottom",
                   "showLegend": False},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return p


def heatmap(title, desc, yunit, expr, **kw):
    p = panel("heatmap", title, desc, "short",
              [target(expr, "{{le}}", fmt="heatmap")], **kw)
    p["options"] = {
        "calculate": False,
        "cellGap": 1,
        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64,
                  "exponent": 0.5, "fill": "dark-orange",
                  "scale": "exponential", "reverse": False},
        "filterValues": {"le": 1e-9},
        "rowsFrame": {"layout": "auto"},
        "yAxis": {"axisPlacement": "left", "unit": yunit, "reverse": False},
        "tooltip": {"mode": "single", "yHistogram": False,
                    "showColorScale": False},
        "legend": {"show": True},
        "exemplars": {"color": "rgba(255,0,255,0.7)"},
        "cellValues": {},
    }
    return p


def quantiles(title, desc, histogram, *extra):
    return timeseries(title, desc, "s", [
        target(quantile(q, histogram, (), *extra), name)
        for name, q in QUANTILES
    ])


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


# ---- dashboards -------------------------------------------------------------


def variable_query(name, label, query, multi=True):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
        "hide": 0,
    }


def variables(extra=()):
    return [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "regex": "", "current": {}, "options": [],
         "refresh": 1, "hide": 0, "multi": False, "includeAll": False},
        variable_query("job", "Job", "label_values(deskdb_build_info, job)"),
        variable_query("instance", "Instance",
                       'label_values(deskdb_build_info{job=~"$job"}, instance)'),
    ] + list(extra)


def annotations(extra=()):
    return {"list": [
        {"builtIn": 1, "datasource": {"type": "grafana",
                                      "uid": "-- Grafana --"},
         "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
         "name": "Annotations & Alerts", "type": "dashboard"},
        {"name": "deskdb alerts", "datasource": DS, "enable": True,
         "hide": False, "iconColor": "red",
         "expr": sel("deskdb_alert_firing") + " == 1",
         "step": "1m", "titleFormat": "{{alert}}",
         "textFormat": "{{severity}} on {{instance}}",
         "tagKeys": "alert,severity", "useValueForTime": False},
    ] + list(extra)}


def layout(panels):
    """Place panels left to right on Grafana's 24-column grid."""
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels, start=1):
        if p["type"] == "row":
            if x:
                y += row_h
            p["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            x, y, row_h = 0, y + 1, 0
        else:
            w, h = p.pop("w"), p.pop("h")
            if x + w > 24:
                x, y, row_h = 0, y + row_h, 0
            p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
            x, row_h = x + w, max(row_h, h)
            for j, t in enumerate(p["targets"]):
                t["refId"] = chr(ord("A") + j)
        p["id"] = i
        out.append({"id": p.pop("id"), **p})
    return out


def dashboard(uid, title, description, panels, extra_vars=(),
              extra_annotations=()):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [{"title": "deskdb", "type": "dashboards", "tags": [TAG],
                   "asDropdown": True, "includeVars": True,
                   "keepTime": True, "targetBlank": False, "icon":
                   "external link", "tooltip": "", "url": ""}],
        "annotations": annotations(extra_annotations),
        "templating": {"list": variables(extra_vars)},
        "panels": layout(panels),
    }


UP_MAP = value_map((0, "DOWN", "red"), (1, "UP", "green"))
OK_MAP = value_map((0, "FAILED", "red"), (1, "OK", "green"))
FIRING_MAP = value_map((0, "ok", "green"), (1, "firing", "red"))
RED_AT_1 = thresholds((1, "red"))
