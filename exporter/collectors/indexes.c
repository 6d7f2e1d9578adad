/* SPDX-License-Identifier: MIT */
/* The indexes collector: pg_stat_user_indexes usage of the connected
 * database for at most collectors.max_tables indexes, and the indexes
 * that were never scanned. */
#include <stdio.h>

#include "exporter/collectors/internal.h"

static const struct coll_col cols[] = {
    {"s.idx_scan",
     "pg_stat_user_indexes_idx_scan_total",
     METRIC_COUNTER,
     0,
     0,
     0,
     "Index scans started on the index."},
    {"s.idx_tup_read",
     "pg_stat_user_indexes_idx_tup_read_total",
     METRIC_COUNTER,
     0,
     0,
     0,
     "Index entries returned by scans of the index."},
    {"s.idx_tup_fetch",
     "pg_stat_user_indexes_idx_tup_fetch_total",
     METRIC_COUNTER,
     0,
     0,
     0,
     "Live table rows fetched by simple index scans of the index."},
    {"coalesce(extract(epoch FROM s.last_idx_scan), 0)",
     "pg_stat_user_indexes_last_idx_scan_timestamp_seconds",
     METRIC_GAUGE,
     0,
     160000,
     0,
     "Unix time of the last scan of the index (0: never; PostgreSQL 16+)."},
};

#define N_COLS (sizeof(cols) / sizeof(cols[0]))

/* The seed's "index usage" query: most scanned first, then by name so
 * that ties never reorder; the window count tells whether the cap left
 * indexes out. */
static const char usage_tail[] =
    ", count(*) OVER () FROM pg_stat_user_indexes s "
    "ORDER BY s.idx_scan DESC, s.schemaname, s.relname, s.indexrelname "
    "LIMIT $1";

/*
 * The seed's "unused indexes" query, without the indexes that enforce
 * something (primary keys, unique and exclusion constraints): those are
 * not waste even when no query ever scans them.  Invalid indexes (a
 * failed CREATE INDEX CONCURRENTLY) are left to the maintenance jobs.
 */
static const char unused_head[] =
    "SELECT current_database(), s.schemaname, s.relname, s.indexrelname";

static const char unused_tail[] =
    ", count(*) OVER () FROM pg_stat_user_indexes s JOIN pg_index i "
    "ON i.indexrelid = s.indexrelid "
    "WHERE s.idx_scan = 0 AND s.indexrelname NOT LIKE 'pg_toast%' "
    "AND NOT i.indisunique AND NOT i.indisprimary "
    "AND NOT i.indisexclusion AND i.indisvalid "
    "ORDER BY s.schemaname, s.relname, s.indexrelname LIMIT $1";

static const struct coll_col unused_cols[] = {
    {"1",
     "pg_index_unused",
     METRIC_GAUGE,
     0,
     0,
     0,
     "1 for each index never scanned since the statistics were reset "
     "(primary key, unique and exclusion indexes left out)."},
};

static const char *const labels[] = {"datname",
                                     "schemaname",
                                     "relname",
                                     "indexrelname",
                                     NULL};

static int
run_one(struct coll_ctx *ctx,
        const char *head,
        const struct coll_col *c,
        size_t n,
        const char *tail)
{
    char limit[16];
    const char *params[1] = {limit};
    struct buf b;
    PGresult *res = NULL;
    double total;
    int rc;

    snprintf(limit, sizeof(limit), "%d", ctx->c->cfg.max_tables);
    rc = coll_sql(ctx, &b, head, c, n, tail);
    if (rc == 0)
        rc = coll_query(ctx, b.data, 1, params, &res);
    if (rc == 0)
        rc = coll_emit(ctx, res, labels, 4, c, n);
    if (rc == 0 && PQntuples(res) > 0 &&
        coll_value(res, 0, PQnfields(res) - 1, &total) &&
        total > PQntuples(res))
        ctx->truncated = true;
    PQclear(res);
    buf_fini(&b);
    return rc;
}

int
coll_indexes_run(struct coll_ctx *ctx)
{
    int rc = run_one(ctx,
                     "SELECT current_database(), s.schemaname, s.relname, "
                     "s.indexrelname",
                     cols,
                     N_COLS,
                     usage_tail);

    if (rc != 0)
        return rc;
    return run_one(ctx, unused_head, unused_cols, 1, unused_tail);
}
