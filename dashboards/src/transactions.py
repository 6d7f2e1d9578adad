# deskdb / Transactions and queries: outcomes, durations, retries by reason
# and slow statements, next to the lock waits PostgreSQL reports.
from grafana import (dashboard, heatmap, quantiles, rate, row, sel, stat,
                     target, thresholds, timeseries)


def per_instance(metric, *extra, fn="rate", window="$__rate_interval"):
    return "sum by (instance) (%s)" % rate(metric, *extra, fn=fn,
                                           window=window)


def build():
    committed = "%s - %s - %s" % (
        per_instance("deskdb_transactions_total"),
        per_instance("deskdb_transaction_rollbacks_total"),
        per_instance("deskdb_transaction_commit_unknown_total"))
    panels = [
        row("Transactions"),
        timeseries("Transactions / s by outcome", "Finished transactions: "
                   "committed, rolled back after any retries, and outcome "
                   "unknown (connection lost after COMMIT was sent).", "ops",
                   [target(committed, "{{instance}} committed"),
                    target(per_instance("deskdb_transaction_rollbacks_total"),
                           "{{instance}} rolled back"),
                    target(per_instance(
                        "deskdb_transaction_commit_unknown_total"),
                        "{{instance}} unknown")]),
        timeseries("Rollback ratio", "Share of finished transactions that "
                   "rolled back. Alert DeskdbTransactionRollbacksHigh fires "
                   "above 10 %.", "percentunit",
                   [target("%s / %s" % (
                       per_instance("deskdb_transaction_rollbacks_total"),
                       per_instance("deskdb_transactions_total")),
                       "{{instance}}")], threshold=0.1),
        stat("Outcome unknown", "Transactions in the selected time range "
             "whose connection was lost after COMMIT was sent. deskdb never "
             "retries them; check in the data whether they committed.",
             "short",
             [target("sum(%s)" % rate(
                 "deskdb_transaction_commit_unknown_total", fn="increase",
                 window="$__range"), instant=True)],
             color="background", th=thresholds((1, "red")), w=8),
        quantiles("Transaction duration", "Transaction duration with "
                  "retries and backoff, p50/p95/p99.",
                  "deskdb_transaction_duration_seconds"),
        heatmap("Transaction duration distribution", "Transactions per "
                "duration bucket (deskdb_transaction_duration_seconds).", "s",
                "sum by (le) (%s)" % rate(
                    "deskdb_transaction_duration_seconds_bucket",
                    fn="increase")),
        timeseries("In progress", "Transactions running now "
                   "(retries and backoff included).", "short",
                   [target(sel("deskdb_transactions_in_progress"),
                           "{{instance}}")]),
        timeseries("Oldest transaction", "Age of the oldest transaction in "
                   "progress; long ones hold locks and the xmin horizon.",
                   "s",
                   [target(sel("deskdb_transaction_oldest_seconds"),
                           "{{instance}}")]),
        row("Retries"),
        timeseries("Retries / s by reason", "Transaction attempts retried "
                   "after a serialization failure (40001), a deadlock "
                   "(40P01) or a connection lost before COMMIT.", "cps",
                   [target("sum by (reason) (%s)"
                           % rate("deskdb_transaction_retries_total"),
                           "{{reason}}")]),
        timeseries("Deadlock retries in 5 min", "Deadlock retries over the "
                   "last 5 minutes, the window of alert "
                   "DatabaseDeadlockRetries (fires above 10).", "short",
                   [target(per_instance("deskdb_transaction_retries_total",
                                        'reason="deadlock"', fn="increase",
                                        window="5m"), "{{instance}}")],
                   threshold=10),
        timeseries("Serialization retries in 5 min", "Serialization-failure "
                   "retries over the last 5 minutes: concurrent SERIALIZABLE "
                   "or REPEATABLE READ transactions touching the same rows.",
                   "short",
                   [target(per_instance("deskdb_transaction_retries_total",
                                        'reason="serialization_failure"',
                                        fn="increase", window="5m"),
                           "{{instance}}")]),
        timeseries("Backends waiting for a lock", "Active client backends "
                   "of the database server blocked by another session "
                   "(pg_stat_activity wait_event_type Lock), the usual "
                   "cause of deadlocks and slow transactions.", "short",
                   [target("sum by (instance, datname) (%s)" % sel(
                       "pg_stat_activity_waiting_backends",
                       'wait_event_type="Lock"'),
                       "{{instance}} {{datname}}")], w=12),
        timeseries("Ungranted locks", "Locks requested and not yet granted, "
                   "by mode (pg_locks).", "short",
                   [target("sum by (mode) (%s)"
                           % sel("pg_locks", 'granted="false"'),
                           "{{mode}}")], w=12),
        row("Queries"),
        timeseries("Queries / s", "Statements run through the pool; "
                   "monitoring statements are not counted.", "ops",
                   [target(per_instance("deskdb_queries_total"),
                           "{{instance}}")]),
        quantiles("Query duration", "Statement duration, p50/p95/p99.",
                  "deskdb_query_duration_seconds"),
        timeseries("Slow query share", "Share of statements slower than "
                   "pool.slow_query_threshold.", "percentunit",
                   [target("%s / %s" % (
                       per_instance("deskdb_slow_queries_total"),
                       per_instance("deskdb_queries_total")),
                       "{{instance}}")]),
        timeseries("Slow queries in 5 min", "Slow statements over the last "
                   "5 minutes, the window of alert DatabaseSlowQueries (fires "
                   "above 100). /api/db/slow-queries lists the latest.",
                   "short",
                   [target(per_instance("deskdb_slow_queries_total",
                                        fn="increase", window="5m"),
                           "{{instance}}")], threshold=100, w=12),
        timeseries("Slow queries / s", "Rate of statements slower than "
                   "pool.slow_query_threshold.", "cps",
                   [target(per_instance("deskdb_slow_queries_total"),
                           "{{instance}}")], w=12),
    ]
    return dashboard(
        "deskdb-transactions", "deskdb / Transactions and queries",
        "Transactions run by deskdb: outcomes, durations, retries by reason, "
        "slow statements, and lock waits on the server.", panels)
