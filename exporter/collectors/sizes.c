/* SPDX-License-Identifier: MIT */
/* The sizes collector (cached): bytes on disk of every database, and of
 * the largest tables and indexes of the connected database. */
#include <stdio.h>

#include "exporter/collectors/internal.h"

#define CACHED " (cached: refreshed every collectors.sizes_interval)"

static const struct coll_col db_cols[] = {
    {"pg_database_size(oid)",
     "pg_database_size_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes on disk of the database" CACHED "."},
};

static const struct coll_col table_cols[] = {
    {"pg_table_size(t.relid)",
     "pg_stat_user_tables_table_size_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes on disk of the table with its TOAST data, without indexes" CACHED
     "."},
    {"pg_indexes_size(t.relid)",
     "pg_stat_user_tables_index_size_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes on disk of all indexes of the table" CACHED "."},
};

static const struct coll_col index_cols[] = {
    {"pg_relation_size(t.indexrelid)",
     "pg_stat_user_indexes_size_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes on disk of the index" CACHED "."},
};

/*
 * Sizing a relation takes a share lock on it, which waits behind an
 * ALTER TABLE or a REINDEX: a short lock_timeout (for this statement's
 * implicit transaction only) fails the collector fast instead of holding
 * the scrape.  Which relations to size is decided from pg_class.relpages
 * (the planner's estimate, no lock needed), largest first, then by name;
 * the sizes reported are exact.
 */
#define LOCK_TIMEOUT_MAX_MS 1000

static int
run_capped(struct coll_ctx *ctx,
           const char *select,
           const char *from,
           const struct coll_col *cols,
           size_t n,
           const char *const *labels,
           int n_labels)
{
    char head[512], tail[1024];
    int64_t lock_ms = ctx->c->cfg.timeout_ms / 4;
    struct buf b;
    PGresult *res = NULL;
    double total;
    int rc;

    if (lock_ms > LOCK_TIMEOUT_MAX_MS)
        lock_ms = LOCK_TIMEOUT_MAX_MS;
    if (lock_ms < 1)
        lock_ms = 1;
    snprintf(head,
             sizeof(head),
             "SET LOCAL lock_timeout = %lld; %s",
             (long long)lock_ms,
             select);
    snprintf(tail,
             sizeof(tail),
             ", t.n FROM (%s LIMIT %d) t",
             from,
             ctx->c->cfg.max_tables);
    rc = coll_sql(ctx, &b, head, cols, n, tail);
    if (rc == 0)
        rc = coll_query(ctx, b.data, 0, NULL, &res);
    if (rc == 0)
        rc = coll_emit(ctx, res, labels, n_labels, cols, n);
    if (rc == 0 && PQntuples(res) > 0 &&
        coll_value(res, 0, PQnfields(res) - 1, &total) &&
        total > PQntuples(res))
        ctx->truncated = true;
    PQclear(res);
    buf_fini(&b);
    return rc;
}

int
coll_sizes_run(struct coll_ctx *ctx)
{
    static const char *const db_labels[] = {"datname", NULL};
    static const char *const table_labels[] = {"datname",
                                               "schemaname",
                                               "relname",
                                               NULL};
    static const char *const index_labels[] = {"datname",
                                               "schemaname",
                                               "relname",
                                               "indexrelname",
                                               NULL};
    int rc;

    rc = coll_run_cols(ctx,
                       "SELECT datname",
                       db_cols,
                       1,
                       " FROM pg_database WHERE datallowconn AND "
                       "has_database_privilege(oid, 'CONNECT') "
                       "ORDER BY datname",
                       db_labels);
    if (rc == 0)
        rc = run_capped(ctx,
                        "SELECT current_database(), t.schemaname, t.relname",
                        "SELECT s.relid, s.schemaname, s.relname, "
                        "count(*) OVER () AS n FROM pg_stat_user_tables s "
                        "JOIN pg_class c ON c.oid = s.relid "
                        "ORDER BY c.relpages DESC, s.schemaname, s.relname",
                        table_cols,
                        2,
                        table_labels,
                        3);
    if (rc == 0)
        rc = run_capped(ctx,
                        "SELECT current_database(), t.schemaname, t.relname, "
                        "t.indexrelname",
                        "SELECT s.indexrelid, s.schemaname, s.relname, "
                        "s.indexrelname, count(*) OVER () AS n "
                        "FROM pg_stat_user_indexes s "
                        "JOIN pg_class c ON c.oid = s.indexrelid "
                        "ORDER BY c.relpages DESC, s.schemaname, s.relname, "
                        "s.indexrelname",
                        index_cols,
                        1,
                        index_labels,
                        4);
    return rc;
}
