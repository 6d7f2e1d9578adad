# deskdb / PostgreSQL: the server statistics deskdb collects (pg_*):
# connections, throughput, cache, WAL and checkpoints, replication slots,
# wraparound, vacuum, sizes and the top statements.
from grafana import (UP_MAP, bargauge, dashboard, rate, row, sel, stat, table,
                     target, thresholds, timeseries, value_map,
                     variable_query)

DB = 'datname=~"$datname"'
TABLE = "{{datname}}.{{schemaname}}.{{relname}}"
STATEMENT = ("datname", "user", "queryid")


def per_db(metric, fn="rate", window="$__rate_interval"):
    return "sum by (datname) (%s)" % rate(metric, DB, fn=fn, window=window)


def per_minute(metric):
    return per_db(metric) + " * 60"


def statements(order):
    """Top statements of the selected range: total time, calls, mean and
    rows, for the 10 statements highest in `order`."""
    def total(metric):
        return "sum by (%s) (%s)" % (", ".join(STATEMENT), rate(
            metric, DB, fn="increase", window="$__range"))
    top = "topk(10, %s)" % total(order)
    keep = " and on (%s) %s" % (", ".join(STATEMENT), top)
    seconds = total("pg_stat_statements_seconds_total")
    calls = total("pg_stat_statements_calls_total")
    return [
        target(seconds + keep, instant=True, fmt="table"),
        target(calls + keep, instant=True, fmt="table"),
        target("(%s) / (%s > 0)%s" % (seconds, calls, keep), instant=True,
               fmt="table"),
        target(total("pg_stat_statements_rows_total") + keep, instant=True,
               fmt="table"),
    ]


STATEMENT_COLUMNS = {"datname": "Database", "user": "User",
                     "queryid": "Query ID", "Value #A": "Total time",
                     "Value #B": "Calls", "Value #C": "Mean time",
                     "Value #D": "Rows"}
STATEMENT_UNITS = {"Total time": "s", "Mean time": "s", "Calls": "short",
                   "Rows": "short"}


def server_panels():
    return [
        row("Server"),
        stat("PostgreSQL", "pg_up: 1 when PostgreSQL answered during the "
             "collection the scrape reports.", "none",
             [target(sel("pg_up"), "{{instance}}")], mappings=UP_MAP,
             color="background", th=thresholds((1, "green"), base="red")),
        stat("Version", "PostgreSQL server version.", "none",
             [target(sel("pg_server_info"), "{{version}}")], text="name"),
        stat("Uptime", "Time since the server started.", "s",
             [target("time() - %s" % sel("pg_postmaster_start_time_seconds"),
                     "{{instance}}")]),
        stat("Role", "Whether the server is a primary or a replica (in "
             "recovery).", "none",
             [target(sel("pg_replication_is_replica"), "{{instance}}")],
             mappings=value_map((0, "primary", "blue"),
                                (1, "replica", "purple"))),
        stat("max_connections", "Server setting max_connections, of which "
             "superuser_reserved_connections are kept for superusers.",
             "short",
             [target(sel("pg_settings_max_connections"), "{{instance}}")]),
        stat("Databases size", "Bytes on disk of the selected databases "
             "(refreshed every collectors.sizes_interval).", "bytes",
             [target("sum by (instance) (%s)"
                     % sel("pg_database_size_bytes", DB), "{{instance}}")]),
        timeseries("Connections vs max_connections", "Backends connected to "
                   "every database against max_connections minus the "
                   "superuser reserve (dashed). Alert "
                   "DeskdbPostgresConnectionsNearLimit fires above 80 %.",
                   "short",
                   [target("sum by (instance) (%s)"
                           % sel("pg_stat_database_numbackends"),
                           "{{instance}} backends"),
                    target("%s - %s" % (
                        sel("pg_settings_max_connections"),
                        sel("pg_settings_superuser_reserved_connections")),
                        "{{instance}} available")],
                   overrides=[{"matcher": {"id": "byRegexp",
                                           "options": ".* available"},
                               "properties": [
                                   {"id": "custom.lineStyle",
                                    "value": {"fill": "dash",
                                              "dash": [10, 10]}}]}]),
        timeseries("Client backends by state", "Client backends of the "
                   "selected databases by state (active, idle, idle in "
                   "transaction, ...), stacked; deskdb's collector excluded.",
                   "short",
                   [target("sum by (state) (%s)"
                           % sel("pg_stat_activity_backends", DB),
                           "{{state}}")], stack=True),
        timeseries("Waiting backends", "Active client backends waiting, by "
                   "wait event type (Lock: blocked by another session; IO; "
                   "LWLock; ...).", "short",
                   [target("sum by (wait_event_type) (%s)"
                           % sel("pg_stat_activity_waiting_backends", DB),
                           "{{wait_event_type}}")], stack=True),
        timeseries("Oldest transaction by state", "Age of the oldest "
                   "transaction of client backends per database and state. "
                   "Alert DeskdbPostgresLongTransaction fires above 10 "
                   "minutes.", "s",
                   [target("max by (datname, state) (%s) > 0"
                           % sel("pg_stat_activity_max_tx_duration_seconds",
                                 DB), "{{datname}} {{state}}")],
                   threshold=600, w=24),
    ]


def throughput_panels():
    hit = per_db("pg_stat_database_blks_hit_total")
    read = per_db("pg_stat_database_blks_read_total")
    return [
        row("Throughput"),
        timeseries("Transactions / s", "Commits and rollbacks per database "
                   "on the server, from every client.", "ops",
                   [target(per_db("pg_stat_database_xact_commit_total"),
                           "{{datname}} commit"),
                    target(per_db("pg_stat_database_xact_rollback_total"),
                           "{{datname}} rollback")]),
        timeseries("Rows / s", "Rows returned by scans, fetched by index "
                   "scans, inserted, updated and deleted, over the selected "
                   "databases.", "cps",
                   [target("sum(%s)" % rate(
                       "pg_stat_database_tup_%s_total" % kind, DB), kind)
                    for kind in ("returned", "fetched", "inserted",
                                 "updated", "deleted")]),
        timeseries("Cache hit ratio", "Share of block reads served from "
                   "shared buffers. Below 99 % on an OLTP database usually "
                   "means shared_buffers or memory is short.", "percentunit",
                   [target("%s / (%s + %s)" % (hit, hit, read),
                           "{{datname}}")],
                   th=thresholds((0.9, "orange"), (0.99, "green"),
                                 base="red"), max=1),
        timeseries("Deadlocks / min", "Deadlocks the server detected, from "
                   "every client (deskdb's own show as deadlock retries on "
                   "the transactions dashboard).", "cpm",
                   [target(per_minute("pg_stat_database_deadlocks_total"),
                           "{{datname}}")]),
        timeseries("Temporary files", "Bytes written to temporary files by "
                   "queries whose sorts or hashes exceeded work_mem.",
                   "binBps",
                   [target(per_db("pg_stat_database_temp_bytes_total"),
                           "{{datname}}")]),
        timeseries("Sessions / min", "Sessions established, and those that "
                   "ended abandoned (client vanished), by a fatal error, or "
                   "killed by an operator.", "cpm",
                   [target("sum(%s) * 60" % rate(
                       "pg_stat_database_sessions%s_total" % kind, DB),
                       name)
                    for kind, name in (("", "established"),
                                       ("_abandoned", "abandoned"),
                                       ("_fatal", "fatal"),
                                       ("_killed", "killed"))]),
        timeseries("Conflicts / min", "Queries cancelled by conflicts with "
                   "recovery (replicas only).", "cpm",
                   [target(per_minute("pg_stat_database_conflicts_total"),
                           "{{datname}}")]),
        timeseries("Read and write time", "Time spent reading and writing "
                   "data file blocks per second of wall time (needs "
                   "track_io_timing).", "percentunit",
                   [target(per_db("pg_stat_database_blk_read_time_seconds_"
                                  "total"), "{{datname}} read"),
                    target(per_db("pg_stat_database_blk_write_time_seconds_"
                                  "total"), "{{datname}} write")]),
        timeseries("Time idle in transaction", "Seconds per second that "
                   "sessions spent idle inside a transaction: held locks "
                   "and snapshots nobody uses.", "percentunit",
                   [target(per_db("pg_stat_database_idle_in_transaction_"
                                  "time_seconds_total"), "{{datname}}")]),
    ]


def wal_panels():
    blocks = "* on (job, instance) group_left %s" % sel(
        "pg_settings_block_size")
    return [
        row("WAL and checkpoints"),
        timeseries("WAL generated", "Bytes of WAL generated per second.",
                   "binBps",
                   [target("sum by (instance) (%s)"
                           % rate("pg_stat_wal_bytes_total"),
                           "{{instance}}")]),
        timeseries("Checkpoints / min", "Scheduled checkpoints (every "
                   "checkpoint_timeout) and requested ones; many requested "
                   "checkpoints mean max_wal_size is too small.", "cpm",
                   [target("sum by (instance) (%s) * 60" % rate(
                       "pg_stat_checkpointer_num_%s_total" % kind),
                       "{{instance}} %s" % kind)
                    for kind in ("timed", "requested")]),
        timeseries("Checkpoint write and sync time", "Time checkpoints "
                   "spent writing and synchronizing files per second of "
                   "wall time.", "percentunit",
                   [target("sum by (instance) (%s)" % rate(
                       "pg_stat_checkpointer_%s_time_seconds_total" % kind),
                       "{{instance}} %s" % kind)
                    for kind in ("write", "sync")]),
        timeseries("Buffers written", "Bytes of shared buffers written by "
                   "checkpoints, by the background writer, and by backends "
                   "themselves (before PostgreSQL 17).", "binBps",
                   [target("%s %s" % (rate(metric), blocks),
                           "{{instance}} %s" % name)
                    for metric, name in (
                        ("pg_stat_checkpointer_buffers_written_total",
                         "checkpointer"),
                        ("pg_stat_bgwriter_buffers_clean_total",
                         "background writer"),
                        ("pg_stat_bgwriter_buffers_backend_total",
                         "backends"))]),
        timeseries("WAL archiving / min", "WAL files archived and failed "
                   "archive attempts (archive_command or archive_library).",
                   "cpm",
                   [target("sum by (instance) (%s) * 60"
                           % rate("pg_stat_archiver_archived_total"),
                           "{{instance}} archived"),
                    target("sum by (instance) (%s) * 60"
                           % rate("pg_stat_archiver_failed_total"),
                           "{{instance}} failed")]),
        timeseries("WAL buffers full / s", "Times WAL had to be written "
                   "because wal_buffers was full.", "cps",
                   [target("sum by (instance) (%s)"
                           % rate("pg_stat_wal_buffers_full_total"),
                           "{{instance}}")]),
    ]


def replication_panels():
    return [
        row("Replication slots and wraparound"),
        table("Replication slots", "Replication slots and whether a "
              "connection uses them. An inactive slot keeps WAL on the "
              "primary; alert DeskdbPostgresReplicationSlotInactive fires "
              "after 30 minutes.", "none",
              [target(sel("pg_replication_slots_active"), instant=True,
                      fmt="table")],
              {"slot_name": "Slot", "slot_type": "Type",
               "database": "Database", "instance": "Instance",
               "Value": "Active"},
              mappings=value_map((0, "inactive", "red"),
                                 (1, "active", "green")), w=12),
        timeseries("Transaction ID age", "Transaction IDs since each "
                   "database's oldest unfrozen XID; wraparound stops writes "
                   "at about 2.1 billion. Autovacuum freezes from "
                   "autovacuum_freeze_max_age (dashed); alert "
                   "DeskdbPostgresXidWraparound fires at 1 billion.",
                   "short",
                   [target("max by (datname) (%s)" % sel(
                       "pg_database_wraparound_age_datfrozenxid", DB),
                       "{{datname}}"),
                    target("max(%s)"
                           % sel("pg_settings_autovacuum_freeze_max_age"),
                           "autovacuum_freeze_max_age")],
                   threshold=1e9, w=12,
                   overrides=[{"matcher": {"id": "byName", "options":
                                           "autovacuum_freeze_max_age"},
                               "properties": [
                                   {"id": "custom.lineStyle",
                                    "value": {"fill": "dash",
                                              "dash": [10, 10]}}]}]),
        timeseries("Multixact ID age", "Multixact IDs since each database's "
                   "oldest multixact.", "short",
                   [target("max by (datname) (%s)" % sel(
                       "pg_database_wraparound_age_datminmxid", DB),
                       "{{datname}}")], w=12),
        timeseries("Vacuum and analyze / min", "Manual and automatic vacuums "
                   "and analyzes on the tables deskdb follows.", "cpm",
                   [target("sum(%s) * 60" % rate(
                       "pg_stat_user_tables_%s_total" % kind, DB), kind)
                    for kind in ("vacuum", "autovacuum", "analyze",
                                 "autoanalyze")], w=12),
    ]


def table_panels():
    return [
        row("Tables"),
        timeseries("Dead rows (top 10 tables)", "Estimated dead rows of the "
                   "10 tables with the most; autovacuum removes them.",
                   "short",
                   [target("topk(10, %s)" % sel("pg_stat_user_tables_n_dead_"
                                                "tup", DB), TABLE)]),
        timeseries("Dead row share (top 10 tables)", "Dead rows divided by "
                   "live plus dead rows, for the 10 tables with the highest "
                   "share.", "percentunit",
                   [target("topk(10, %s / (%s + %s > 0))" % (
                       sel("pg_stat_user_tables_n_dead_tup", DB),
                       sel("pg_stat_user_tables_n_live_tup", DB),
                       sel("pg_stat_user_tables_n_dead_tup", DB)), TABLE)],
                   max=1),
        timeseries("Rows read by sequential scans (top 10 tables)", "Live "
                   "rows fetched by sequential scans per second; a large "
                   "table high here may lack an index.", "cps",
                   [target("topk(10, sum by (datname, schemaname, relname) "
                           "(%s))" % rate(
                               "pg_stat_user_tables_seq_tup_read_total", DB),
                           TABLE)]),
        timeseries("Database sizes", "Bytes on disk of each database "
                   "(refreshed every collectors.sizes_interval).", "bytes",
                   [target(sel("pg_database_size_bytes", DB),
                           "{{datname}}")]),
        bargauge("Largest tables", "The 10 largest tables with their TOAST "
                 "data and indexes.", "bytes",
                 [target("topk(10, %s + %s)" % (
                     sel("pg_stat_user_tables_table_size_bytes", DB),
                     sel("pg_stat_user_tables_index_size_bytes", DB)),
                     TABLE, instant=True)]),
        table("Unused indexes", "Indexes never scanned since the statistics "
              "were reset, with their size (primary key, unique and "
              "exclusion indexes left out).", "bytes",
              [target("%s and on (job, instance, datname, schemaname, "
                      "relname, indexrelname) %s" % (
                          sel("pg_stat_user_indexes_size_bytes", DB),
                          sel("pg_index_unused", DB)),
                      instant=True, fmt="table")],
              {"datname": "Database", "schemaname": "Schema",
               "relname": "Table", "indexrelname": "Index",
               "instance": "Instance", "Value": "Size"}, w=8),
    ]


def statement_panels():
    return [
        row("Statements (pg_stat_statements)"),
        table("Top statements by total time", "The 10 statements that "
              "spent the most time executing in the selected range, with "
              "calls, mean time and rows. deskdb never reads query texts: "
              "look a statement up by its queryid in pg_stat_statements. "
              "Refreshed every collectors.sizes_interval, so choose a range "
              "of at least twice that.", "short", statements(
                  "pg_stat_statements_seconds_total"),
              STATEMENT_COLUMNS, STATEMENT_UNITS, hide=("instance",), h=9),
        table("Top statements by calls", "The 10 statements executed most "
              "often in the selected range.", "short",
              statements("pg_stat_statements_calls_total"),
              STATEMENT_COLUMNS, STATEMENT_UNITS, hide=("instance",), h=9),
    ]


def build():
    panels = (server_panels() + throughput_panels() + wal_panels()
              + replication_panels() + table_panels() + statement_panels())
    datname = variable_query(
        "datname", "Database",
        'label_values(pg_stat_database_numbackends{job=~"$job", '
        'instance=~"$instance"}, datname)')
    return dashboard(
        "deskdb-postgres", "deskdb / PostgreSQL",
        "PostgreSQL statistics collected by deskdb (pg_* families): "
        "connections, throughput, cache, WAL, replication slots, "
        "wraparound, vacuum, sizes and statements.", panels,
        extra_vars=[datname])
