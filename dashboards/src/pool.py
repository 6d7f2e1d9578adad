# deskdb / Pool: connections by state against the configured bounds,
# waiting callers, checkout times, leaks and connection churn.
from grafana import (dashboard, quantiles, rate, row, sel, stat, target,
                     thresholds, timeseries)


def line_override(name):
    """Draw series `name` as an unstacked dashed line (a bound, not data)."""
    return {"matcher": {"id": "byName", "options": name}, "properties": [
        {"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
        {"id": "custom.fillOpacity", "value": 0},
        {"id": "custom.lineStyle", "value": {"fill": "dash",
                                             "dash": [10, 10]}},
        {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}


def build():
    panels = [
        row("Connections"),
        timeseries("Connections by state", "Pool connections by state "
                   "(active: checked out; idle; connecting; validating; "
                   "closing), stacked, against the configured maximum "
                   "(pool.max) and minimum (pool.min).", "short",
                   [target("sum by (state) (%s)"
                           % sel("deskdb_pool_connections"), "{{state}}"),
                    target("sum(%s)" % sel("deskdb_pool_connections_max"),
                           "max"),
                    target("sum(%s)" % sel("deskdb_pool_connections_min"),
                           "min")],
                   stack=True,
                   overrides=[line_override("max"), line_override("min")],
                   w=12),
        timeseries("Saturation", "Active (checked-out) connections divided "
                   "by pool.max. Near 100 % callers start to wait.",
                   "percentunit",
                   [target("sum by (instance) (%s) / sum by (instance) (%s)"
                           % (sel("deskdb_pool_connections", 'state="active"'),
                              sel("deskdb_pool_connections_max")),
                           "{{instance}}")],
                   th=thresholds((0.8, "orange"), (0.95, "red")), max=1,
                   w=12),
        timeseries("Waiting clients", "Callers waiting to check out a "
                   "connection, served first in first out. Alert "
                   "DatabasePoolExhausted fires above 5 for 1 minute.",
                   "short",
                   [target(sel("deskdb_pool_pending_requests"),
                           "{{instance}}")], threshold=5),
        timeseries("Longest wait", "How long the longest-waiting caller has "
                   "waited so far; callers give up at pool.acquire_timeout.",
                   "s",
                   [target(sel("deskdb_pool_wait_oldest_seconds"),
                           "{{instance}}")]),
        timeseries("Acquire timeouts / s", "Checkouts that gave up after "
                   "pool.acquire_timeout: the application got an error. "
                   "Alert DeskdbPoolAcquireTimeouts watches it.", "cps",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_pool_acquire_timeouts_total"),
                           "{{instance}}")]),
        row("Checkouts"),
        quantiles("Acquire wait", "Time callers waited to check out a "
                  "connection, p50/p95/p99 over the selected instances.",
                  "deskdb_pool_acquire_duration_seconds"),
        quantiles("Checkout duration", "How long connections stayed checked "
                  "out, p50/p95/p99; long checkouts keep others waiting.",
                  "deskdb_pool_usage_duration_seconds"),
        timeseries("Longest-held checkout", "Age of the longest-held "
                   "checkout, against pool.leak_detection_threshold (dashed; "
                   "0 when leak detection is off).", "s",
                   [target(sel("deskdb_pool_checkout_oldest_seconds"),
                           "{{instance}}"),
                    target(sel("deskdb_pool_leak_detection_threshold_seconds"),
                           "{{instance}} leak threshold")],
                   overrides=[{"matcher": {"id": "byRegexp",
                                           "options": ".* leak threshold"},
                               "properties": [
                                   {"id": "custom.lineStyle",
                                    "value": {"fill": "dash",
                                              "dash": [10, 10]}}]}]),
        timeseries("Suspected leaks held", "Checkouts held longer than "
                   "pool.leak_detection_threshold right now. deskdb logs "
                   "each one once with the file, line and function that "
                   "acquired it.", "short",
                   [target(sel("deskdb_pool_connections_leak_suspected"),
                           "{{instance}}")], threshold=1),
        timeseries("Leaks reported / s", "Checkouts newly reported as "
                   "suspected leaks. Alert DeskdbPoolLeakSuspected fires on "
                   "any in 15 minutes.", "cps",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_pool_leak_suspected_total"),
                           "{{instance}}")]),
        row("Connection churn"),
        timeseries("Connections opened and closed / s", "Connections opened, "
                   "and closed by reason (idle_timeout, max_lifetime, "
                   "validation_failed, broken, timeout, dirty, shutdown). "
                   "Steady churn beyond max_lifetime means connections break "
                   "or are returned in a transaction (dirty).", "cps",
                   [target("sum(%s)"
                           % rate("deskdb_pool_connections_created_total"),
                           "opened"),
                    target("sum by (reason) (%s)"
                           % rate("deskdb_pool_connections_closed_total"),
                           "closed {{reason}}")]),
        timeseries("Connect errors and dead connections / s", "Failed "
                   "attempts to open a connection, and idle connections "
                   "found dead when validated (PostgreSQL restarted, backend "
                   "terminated).", "cps",
                   [target("sum by (instance) (%s)"
                           % rate("deskdb_pool_connect_errors_total"),
                           "{{instance}} connect errors"),
                    target("sum by (instance) (%s)"
                           % rate("deskdb_pool_validation_failures_total"),
                           "{{instance}} validation failures")]),
        quantiles("Connection setup time", "Time to open and set up a "
                  "connection (TCP, TLS, authentication, session settings), "
                  "p50/p95/p99.",
                  "deskdb_pool_connection_create_duration_seconds"),
        row("Configuration"),
        stat("Minimum", "Configured pool.min: open connections the janitor "
             "keeps.", "short",
             [target(sel("deskdb_pool_connections_min"), "{{instance}}")],
             w=8),
        stat("Maximum", "Configured pool.max.", "short",
             [target(sel("deskdb_pool_connections_max"), "{{instance}}")],
             w=8),
        stat("Leak detection threshold", "Configured "
             "pool.leak_detection_threshold (0: off).", "s",
             [target(sel("deskdb_pool_leak_detection_threshold_seconds"),
                     "{{instance}}")], w=8),
    ]
    return dashboard(
        "deskdb-pool", "deskdb / Pool",
        "deskdb's connection pool: connections by state, waiting callers, "
        "checkout times, leaks and churn.", panels)
