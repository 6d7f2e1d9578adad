/* SPDX-License-Identifier: MIT */
/* The tables collector: pg_stat_user_tables and pg_statio_user_tables of
 * the connected database, for at most collectors.max_tables tables. */
#include <stdio.h>

#include "exporter/collectors/internal.h"

#define T(expr, name, type, min, help)                           \
    {                                                            \
        expr, "pg_stat_user_tables_" name, type, 0, min, 0, help \
    }
#define IO(expr, name, help)                                       \
    {                                                              \
        "coalesce(io." expr ", 0)", "pg_statio_user_tables_" name, \
            METRIC_COUNTER, 0, 0, 0, help                          \
    }
#define EPOCH(col) "coalesce(extract(epoch FROM s." col "), 0)"

static const struct coll_col cols[] = {
    T("s.seq_scan",
      "seq_scan_total",
      METRIC_COUNTER,
      0,
      "Sequential scans started on the table."),
    T("s.seq_tup_read",
      "seq_tup_read_total",
      METRIC_COUNTER,
      0,
      "Live rows fetched by sequential scans."),
    T("coalesce(s.idx_scan, 0)",
      "idx_scan_total",
      METRIC_COUNTER,
      0,
      "Index scans started on the table's indexes."),
    T("coalesce(s.idx_tup_fetch, 0)",
      "idx_tup_fetch_total",
      METRIC_COUNTER,
      0,
      "Live rows fetched by index scans."),
    T("s.n_tup_ins", "n_tup_ins_total", METRIC_COUNTER, 0, "Rows inserted."),
    T("s.n_tup_upd",
      "n_tup_upd_total",
      METRIC_COUNTER,
      0,
      "Rows updated (HOT updates included)."),
    T("s.n_tup_del", "n_tup_del_total", METRIC_COUNTER, 0, "Rows deleted."),
    T("s.n_tup_hot_upd",
      "n_tup_hot_upd_total",
      METRIC_COUNTER,
      0,
      "Rows HOT updated (no index update needed)."),
    T("s.n_tup_newpage_upd",
      "n_tup_newpage_upd_total",
      METRIC_COUNTER,
      160000,
      "Rows updated onto a new heap page (PostgreSQL 16+)."),
    T("s.n_live_tup", "n_live_tup", METRIC_GAUGE, 0, "Estimated live rows."),
    T("s.n_dead_tup", "n_dead_tup", METRIC_GAUGE, 0, "Estimated dead rows."),
    T("s.n_mod_since_analyze",
      "n_mod_since_analyze",
      METRIC_GAUGE,
      0,
      "Estimated rows modified since the last analyze."),
    T("s.n_ins_since_vacuum",
      "n_ins_since_vacuum",
      METRIC_GAUGE,
      130000,
      "Estimated rows inserted since the last vacuum."),
    T(EPOCH("last_vacuum"),
      "last_vacuum_timestamp_seconds",
      METRIC_GAUGE,
      0,
      "Unix time of the last manual vacuum (0: never)."),
    T(EPOCH("last_autovacuum"),
      "last_autovacuum_timestamp_seconds",
      METRIC_GAUGE,
      0,
      "Unix time of the last autovacuum (0: never)."),
    T(EPOCH("last_analyze"),
      "last_analyze_timestamp_seconds",
      METRIC_GAUGE,
      0,
      "Unix time of the last manual analyze (0: never)."),
    T(EPOCH("last_autoanalyze"),
      "last_autoanalyze_timestamp_seconds",
      METRIC_GAUGE,
      0,
      "Unix time of the last autoanalyze (0: never)."),
    T(EPOCH("last_seq_scan"),
      "last_seq_scan_timestamp_seconds",
      METRIC_GAUGE,
      160000,
      "Unix time of the last sequential scan (0: never; PostgreSQL 16+)."),
    T(EPOCH("last_idx_scan"),
      "last_idx_scan_timestamp_seconds",
      METRIC_GAUGE,
      160000,
      "Unix time of the last index scan (0: never; PostgreSQL 16+)."),
    T("s.vacuum_count", "vacuum_total", METRIC_COUNTER, 0, "Manual vacuums."),
    T("s.autovacuum_count",
      "autovacuum_total",
      METRIC_COUNTER,
      0,
      "Autovacuums."),
    T("s.analyze_count",
      "analyze_total",
      METRIC_COUNTER,
      0,
      "Manual analyzes."),
    T("s.autoanalyze_count",
      "autoanalyze_total",
      METRIC_COUNTER,
      0,
      "Autoanalyzes."),
    IO("heap_blks_read",
       "heap_blocks_read_total",
       "Heap blocks read from disk."),
    IO("heap_blks_hit",
       "heap_blocks_hit_total",
       "Heap blocks found in shared buffers."),
    IO("idx_blks_read",
       "idx_blocks_read_total",
       "Index blocks read from disk."),
    IO("idx_blks_hit",
       "idx_blocks_hit_total",
       "Index blocks found in shared buffers."),
    IO("toast_blks_read",
       "toast_blocks_read_total",
       "TOAST blocks read from disk (0 without a TOAST table)."),
    IO("toast_blks_hit",
       "toast_blocks_hit_total",
       "TOAST blocks found in shared buffers."),
    IO("tidx_blks_read",
       "tidx_blocks_read_total",
       "TOAST index blocks read from disk."),
    IO("tidx_blks_hit",
       "tidx_blocks_hit_total",
       "TOAST index blocks found in shared buffers."),
};

#define N_COLS (sizeof(cols) / sizeof(cols[0]))

/*
 * The most active tables first (scans plus row changes, cumulative, so the
 * choice moves slowly), then by name so that ties never reorder; the
 * window count tells whether the cap left tables out.
 */
static const char tail[] =
    ", count(*) OVER () FROM pg_stat_user_tables s "
    "JOIN pg_statio_user_tables io ON io.relid = s.relid "
    "ORDER BY coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0) + "
    "s.n_tup_ins + s.n_tup_upd + s.n_tup_del DESC, s.schemaname, s.relname "
    "LIMIT $1";

int
coll_tables_run(struct coll_ctx *ctx)
{
    static const char *const labels[] = {"datname",
                                         "schemaname",
                                         "relname",
                                         NULL};
    char limit[16];
    const char *params[1] = {limit};
    struct buf b;
    PGresult *res = NULL;
    double total;
    int rc;

    snprintf(limit, sizeof(limit), "%d", ctx->c->cfg.max_tables);
    rc = coll_sql(ctx,
                  &b,
                  "SELECT current_database(), s.schemaname, s.relname",
                  cols,
                  N_COLS,
                  tail);
    if (rc == 0)
        rc = coll_query(ctx, b.data, 1, params, &res);
    if (rc == 0)
        rc = coll_emit(ctx, res, labels, 3, cols, N_COLS);
    if (rc == 0 && PQntuples(res) > 0 &&
        coll_value(res, 0, PQnfields(res) - 1, &total) &&
        total > PQntuples(res))
        ctx->truncated = true;
    PQclear(res);
    buf_fini(&b);
    return rc;
}
