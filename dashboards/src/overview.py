# deskdb / Overview: the landing page; is every instance and its database
# up, is anything firing, and the seed's four alert signals at a glance.
from grafana import (FIRING_MAP, OK_MAP, RED_AT_1, UP_MAP, dashboard, gauge,
                     quantile, rate, row, sel, stat, table, target,
                     thresholds, timeseries)


def build():
    panels = [
        row("Health"),
        stat("deskdb", "Whether Prometheus reached each deskdb instance on "
             "its last scrape (the up series Prometheus records).", "none",
             [target(sel("up"), "{{instance}}")], mappings=UP_MAP,
             color="background", th=thresholds((1, "green"), base="red")),
        stat("PostgreSQL", "pg_up: 1 when PostgreSQL answered during the "
             "collection the scrape reports. Alert DatabaseHealthCheckFailed "
             "fires after 1 minute at 0.", "none",
             [target(sel("pg_up"), "{{instance}}")], mappings=UP_MAP,
             color="background", th=thresholds((1, "green"), base="red")),
        stat("Collectors failing", "PostgreSQL collectors that failed in the "
             "collection the last scrape reports (deskdb_collector_success "
             "0). See the collector errors panel below for the reason.",
             "none",
             [target("sum by (instance) (1 - %s)"
                     % sel("deskdb_collector_success"), "{{instance}}")],
             color="background", th=RED_AT_1),
        stat("Alerts firing", "deskdb's own alert rules in the firing state, "
             "by severity (deskdb_alert_firing). The table at the bottom "
             "names them.", "none",
             [target("sum by (severity) (%s)" % sel("deskdb_alert_firing"),
                     "{{severity}}")],
             color="background", th=RED_AT_1),
        stat("Config reload", "Whether the last configuration reload "
             "(SIGHUP) succeeded; a failed reload keeps the previous "
             "configuration running.", "none",
             [target(sel("deskdb_config_last_reload_successful"),
                     "{{instance}}")], mappings=OK_MAP, color="background",
             th=thresholds((1, "green"), base="red")),
        stat("Version", "deskdb version and revision, and the libpq version "
             "it runs with (deskdb_build_info).", "none",
             [target(sel("deskdb_build_info"),
                     "{{version}} {{revision}} libpq {{libpq_version}}")],
             text="name"),
        row("Pool"),
        gauge("Pool saturation", "Active connections divided by the "
              "configured maximum (pool.max). At 100 % callers queue; the "
              "pool dashboard shows where the time goes.", "percentunit",
              [target("sum by (instance) (%s) / sum by (instance) (%s)"
                      % (sel("deskdb_pool_connections", 'state="active"'),
                         sel("deskdb_pool_connections_max")),
                      "{{instance}}")],
              min=0, max=1, th=thresholds((0.8, "orange"), (0.95, "red"))),
        timeseries("Waiting clients", "Callers waiting to check out a "
                   "connection (deskdb_pool_pending_requests). Alert "
                   "DatabasePoolExhausted fires above 5 for 1 minute.",
                   "short",
                   [target(sel("deskdb_pool_pending_requests"),
                           "{{instance}}")], threshold=5, w=9),
        timeseries("Acquire wait p95", "95th percentile of the time callers "
                   "waited for a connection.", "s",
                   [target(quantile(0.95, "deskdb_pool_acquire_duration_seconds",
                                    ("instance",)), "{{instance}}")], w=9),
        row("Transactions and queries"),
        timeseries("Transactions / s", "Finished transactions and those that "
                   "ended in a rollback after any retries.", "ops",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_transactions_total"),
                           "{{instance}} finished"),
                    target("sum by (instance) (%s)"
                           % rate("deskdb_transaction_rollbacks_total"),
                           "{{instance}} rolled back")]),
        timeseries("Transaction duration p95", "95th percentile of "
                   "transaction duration, retries and backoff included.",
                   "s",
                   [target(quantile(0.95, "deskdb_transaction_duration_seconds",
                                    ("instance",)), "{{instance}}")]),
        timeseries("Queries / s", "Statements run through the pool "
                   "(monitoring statements excluded).", "ops",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_queries_total"), "{{instance}}")]),
        timeseries("Slow queries in 5 min", "Statements slower than "
                   "pool.slow_query_threshold over the last 5 minutes, the "
                   "window of alert DatabaseSlowQueries (fires above 100).",
                   "short",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_slow_queries_total", fn="increase",
                                  window="5m"), "{{instance}}")],
                   threshold=100, w=12),
        timeseries("Deadlock retries in 5 min", "Transactions retried after "
                   "a deadlock (SQLSTATE 40P01) over the last 5 minutes, the "
                   "window of alert DatabaseDeadlockRetries (fires above 10).",
                   "short",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_transaction_retries_total",
                                  'reason="deadlock"', fn="increase",
                                  window="5m"), "{{instance}}")],
                   threshold=10, w=12),
        row("deskdb"),
        timeseries("PostgreSQL collection time", "Seconds the PostgreSQL "
                   "collection reported by each scrape took. It must stay "
                   "well below Prometheus' scrape_timeout.", "s",
                   [target(sel("deskdb_scrape_duration_seconds"),
                           "{{instance}}")]),
        timeseries("Collector errors / s", "PostgreSQL collector failures "
                   "by collector and reason (timeout, query, connection, "
                   "cardinality_limit).", "cps",
                   [target("sum by (instance, collector, reason) (%s) > 0"
                           % rate("deskdb_collector_errors_total"),
                           "{{instance}} {{collector}} {{reason}}")]),
        timeseries("HTTP requests / s", "Requests deskdb answered, by "
                   "handler and status code.", "reqps",
                   [target("sum by (instance, handler, code) (%s)"
                           % rate("deskdb_http_requests_total"),
                           "{{instance}} {{handler}} {{code}}")]),
        timeseries("CPU", "CPU time the deskdb process used per second "
                   "(1 = one core).", "percentunit",
                   [target(rate("process_cpu_seconds_total"),
                           "{{instance}}")]),
        timeseries("Resident memory", "Resident memory of the deskdb "
                   "process.", "bytes",
                   [target(sel("process_resident_memory_bytes"),
                           "{{instance}}")]),
        timeseries("Open file descriptors", "File descriptors the deskdb "
                   "process holds open, against its limit.", "short",
                   [target(sel("process_open_fds"), "{{instance}} open"),
                    target(sel("process_max_fds"), "{{instance}} limit")]),
        row("Firing alerts"),
        table("Alerts firing now", "deskdb's own alert rules currently "
              "firing (deskdb_alert_firing == 1). The alerts dashboard shows "
              "their history and the delivery of notifications.", "none",
              [target(sel("deskdb_alert_firing") + " == 1", instant=True,
                      fmt="table")],
              {"alert": "Alert", "severity": "Severity",
               "instance": "Instance", "Value": "Firing"},
              mappings=FIRING_MAP, h=6),
    ]
    reload_annotation = {
        "name": "config reloads", "datasource": {"type": "prometheus",
                                                 "uid": "${datasource}"},
        "enable": True, "hide": False, "iconColor": "blue",
        "expr": "changes(%s[$__rate_interval]) > 0"
        % sel("deskdb_config_last_reload_success_timestamp_seconds"),
        "step": "1m", "titleFormat": "configuration reloaded",
        "textFormat": "{{instance}}", "tagKeys": "instance",
        "useValueForTime": False}
    return dashboard(
        "deskdb-overview", "deskdb / Overview",
        "Health of every deskdb instance and its PostgreSQL, firing alerts "
        "and the seed's four alert signals.", panels,
        extra_annotations=[reload_annotation])
