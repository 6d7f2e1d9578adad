/* SPDX-License-Identifier: MIT */
/* The statements collector (cached): pg_stat_statements totals for the
 * statements with the most execution time, chosen so that the set of
 * series stays stable from one run to the next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/collectors/internal.h"

#define CACHED " (cached: refreshed every collectors.sizes_interval)"

/*
 * Selection.  Ranking by cumulative execution time is already slow to
 * change, but a plain top N still swaps the statements around rank N on
 * every run, and every swap is a series that ends and one that starts
 * (the churn criticised in postgres_exporter PR #765).  So a statement
 * enters when it is in the top N and stays while it remains in the top
 * 2N: the band between N and 2N is where a selected statement decays out.
 * Output is bounded by 2N statements.  Statements without a queryid
 * (other users' statements, for a role without pg_read_all_stats) and of
 * dropped databases or roles are skipped; rows that differ only in
 * `toplevel` are summed, so no series is duplicated.  The text of the
 * statements is never read (pg_stat_statements(false)), which keeps the
 * query cheap however large the texts are.
 */
static const char detect_sql[] =
    "SELECT n.nspname, "
    "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = "
    "to_regclass(format('%I.pg_stat_statements', n.nspname)) "
    "AND a.attname = 'total_exec_time' AND NOT a.attisdropped), "
    "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = "
    "to_regclass(format('%I.pg_stat_statements', n.nspname)) "
    "AND a.attname = 'shared_blk_read_time' AND NOT a.attisdropped) "
    "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'pg_stat_statements'";

/* Result columns of the main statement. */
enum { C_DATNAME, C_USER, C_QUERYID, C_DBID, C_USERID, C_RANK, C_VALUES };

static const struct {
    const char *name, *help;
} fams[] = {
    {"pg_stat_statements_calls_total", "Times the statement was executed"},
    {"pg_stat_statements_seconds_total",
     "Seconds spent executing the statement"},
    {"pg_stat_statements_rows_total",
     "Rows retrieved or affected by the statement"},
    {"pg_stat_statements_block_read_seconds_total",
     "Seconds the statement spent reading shared blocks (needs "
     "track_io_timing)"},
    {"pg_stat_statements_block_write_seconds_total",
     "Seconds the statement spent writing shared blocks (needs "
     "track_io_timing)"},
};

#define N_FAMS (sizeof(fams) / sizeof(fams[0]))

static int
key_cmp(const void *a, const void *b)
{
    const struct stmt_key *x = a, *y = b;

    if (x->dbid != y->dbid)
        return x->dbid < y->dbid ? -1 : 1;
    if (x->userid != y->userid)
        return x->userid < y->userid ? -1 : 1;
    if (x->queryid != y->queryid)
        return x->queryid < y->queryid ? -1 : 1;
    return 0;
}

void
coll_stmt_state_free(struct stmt_state *s)
{
    free(s->keys);
    s->keys = NULL;
    s->n = 0;
}

static struct stmt_key
row_key(const PGresult *res, int row)
{
    struct stmt_key k;

    k.dbid = (uint32_t)strtoul(PQgetvalue(res, row, C_DBID), NULL, 10);
    k.userid = (uint32_t)strtoul(PQgetvalue(res, row, C_USERID), NULL, 10);
    k.queryid = strtoll(PQgetvalue(res, row, C_QUERYID), NULL, 10);
    return k;
}

/* Mark the rows to report and remember their keys for the next run. */
static int
select_rows(struct coll_ctx *ctx, const PGresult *res, bool *keep)
{
    struct stmt_state *st = &ctx->c->stmt;
    int rows = PQntuples(res), top = ctx->c->cfg.statements_top, i;
    struct stmt_key *next = calloc((size_t)rows + 1, sizeof(*next)), k;
    size_t n = 0;

    if (next == NULL)
        return coll_rec_error(ctx, DESKDB_ENOMEM);
    for (i = 0; i < rows; i++) {
        k = row_key(res, i);
        keep[i] = atoi(PQgetvalue(res, i, C_RANK)) <= top ||
                  (st->n > 0 &&
                   bsearch(&k, st->keys, st->n, sizeof(k), key_cmp) != NULL);
        if (keep[i])
            next[n++] = k;
    }
    qsort(next, n, sizeof(*next), key_cmp);
    free(st->keys);
    st->keys = next;
    st->n = n;
    return 0;
}

static int
emit_rows(struct coll_ctx *ctx, const PGresult *res, const bool *keep)
{
    static const char *const labels[] = {"datname", "user", "queryid", NULL};
    const char *values[3];
    char help[256];
    int rows = PQntuples(res), i, rc = 0;
    size_t f;
    double v;

    for (f = 0; f < N_FAMS && rc == 0; f++) {
        snprintf(help, sizeof(help), "%s" CACHED ".", fams[f].help);
        rc = rec_family(ctx->out, METRIC_COUNTER, fams[f].name, help, labels);
        for (i = 0; i < rows && rc == 0; i++) {
            if (!keep[i] || !coll_value(res, i, C_VALUES + (int)f, &v))
                continue;
            values[0] = PQgetvalue(res, i, C_DATNAME);
            values[1] = PQgetvalue(res, i, C_USER);
            values[2] = PQgetvalue(res, i, C_QUERYID);
            rc = rec_sample(ctx->out, values, v);
        }
    }
    return rc != 0 ? coll_rec_error(ctx, rc) : 0;
}

static int
build_sql(struct coll_ctx *ctx, struct buf *b, const PGresult *det)
{
    PGconn *pg = (PGconn *)pool_conn_pg(ctx->conn);
    const char *ns = PQgetvalue(det, 0, 0);
    bool exec_time = PQgetvalue(det, 0, 1)[0] == 't';
    bool shared = PQgetvalue(det, 0, 2)[0] == 't';
    const char *total = exec_time ? "total_exec_time" : "total_time";
    const char *rd = shared ? "shared_blk_read_time" : "blk_read_time";
    const char *wr = shared ? "shared_blk_write_time" : "blk_write_time";
    char *qns = PQescapeIdentifier(pg, ns, strlen(ns));
    int rc;

    if (qns == NULL)
        return coll_fail(ctx,
                         COLL_REASON_QUERY,
                         DESKDB_ENOMEM,
                         "cannot quote the schema name");
    buf_init(b, COLL_SQL_MAX);
    rc = buf_printf(b,
                    "SELECT datname, rolname, queryid, dbid, userid, rn, "
                    "calls, t, rows, br, bw FROM (SELECT d.datname, "
                    "r.rolname, s.queryid, s.dbid, s.userid, "
                    "sum(s.calls) AS calls, sum(s.%s) / 1000 AS t, "
                    "sum(s.rows) AS rows, sum(s.%s) / 1000 AS br, "
                    "sum(s.%s) / 1000 AS bw, row_number() OVER (ORDER BY "
                    "sum(s.%s) DESC, s.queryid, s.dbid, s.userid) AS rn "
                    "FROM %s.pg_stat_statements(false) s "
                    "JOIN pg_database d ON d.oid = s.dbid "
                    "JOIN pg_roles r ON r.oid = s.userid "
                    "WHERE s.queryid IS NOT NULL "
                    "GROUP BY d.datname, r.rolname, s.queryid, s.dbid, "
                    "s.userid) x WHERE rn <= $1 ORDER BY rn",
                    total,
                    rd,
                    wr,
                    total,
                    qns);
    PQfreemem(qns);
    if (rc != 0)
        return coll_fail(ctx,
                         COLL_REASON_QUERY,
                         DESKDB_ENOMEM,
                         "cannot build the statement");
    return 0;
}

int
coll_statements_run(struct coll_ctx *ctx)
{
    char band[24];
    const char *params[1] = {band};
    PGresult *det = NULL, *res = NULL;
    struct buf b = {0};
    bool *keep = NULL;
    int rc;

    rc = coll_query(ctx, detect_sql, 0, NULL, &det);
    if (rc != 0)
        goto out;
    if (PQntuples(det) == 0) {
        /* not installed in this database: nothing to report */
        coll_stmt_state_free(&ctx->c->stmt);
        goto out;
    }
    rc = build_sql(ctx, &b, det);
    if (rc != 0)
        goto out;
    snprintf(band, sizeof(band), "%lld", 2LL * ctx->c->cfg.statements_top);
    rc = coll_query(ctx, b.data, 1, params, &res);
    if (rc != 0)
        goto out;
    keep = calloc((size_t)PQntuples(res) + 1, sizeof(*keep));
    if (keep == NULL) {
        rc = coll_rec_error(ctx, DESKDB_ENOMEM);
        goto out;
    }
    rc = select_rows(ctx, res, keep);
    if (rc == 0)
        rc = emit_rows(ctx, res, keep);
out:
    free(keep);
    PQclear(res);
    PQclear(det);
    buf_fini(&b);
    return rc;
}
