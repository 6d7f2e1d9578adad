/* SPDX-License-Identifier: MIT */
/* The autocommit job types: sql (one statement), maintenance (typed steps
 * outside a transaction block) and purge (short delete transactions). */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "jobs/exec.h"
#include "jobs/maint.h"

#define STEP_SQL_MAX (64 * 1024 + 4096)

int
exec_sql(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct sqltext *t = &x->r->def->sql;
    const char *params[SQLTEXT_MAX_PARAMS];
    PGresult *res;
    int rc;

    rc = exec_session_apply(x, err);
    exec_params(x, t, params);
    for (int attempt = 1; rc == 0; attempt++) {
        rc = pool_query_single(x->conn, t->sql, t->nparams, params, &res, err);
        if (rc == 0) {
            x->r->rows = exec_result_rows(res);
            PQclear(res);
            break;
        }
        /* An autocommit statement whose connection was lost may have
         * committed: only definite rollbacks are retried. */
        if (!exec_retry(x, attempt, err, false))
            break;
        err_clear(err);
        rc = 0;
    }
    exec_session_reset(x);
    return rc;
}

/*
 * Drop what an earlier failed concurrent build of this step left behind
 * (invalid indexes); one another session is still building is reported.
 */
static int
drop_leftovers(struct exec_ctx *x,
               const struct config_maint_step *st,
               struct deskdb_err *err)
{
    const char *params[2];
    char drop[256];
    PGresult *res;
    int rc;

    maint_leftover_params(st, params);
    rc = pool_query_single(x->conn,
                           maint_leftover_query(st),
                           2,
                           params,
                           &res,
                           err);
    if (rc != 0) {
        err_prefix(err, "look for invalid leftover indexes");
        return rc;
    }
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        const char *index = PQgetvalue(res, i, 0);

        if (!PQgetisnull(res, i, 1)) {
            rc = err_set(err,
                         DESKDB_EBUSY,
                         "index %s is being built by backend %s; not "
                         "touching it",
                         index,
                         PQgetvalue(res, i, 1));
            break;
        }
        log_warn("jobs",
                 "dropping an invalid index left by an earlier failed build",
                 "job",
                 x->r->def->cfg->name,
                 "index",
                 index);
        /* format('%I.%I') on the server quoted the name. */
        snprintf(drop,
                 sizeof(drop),
                 "DROP INDEX CONCURRENTLY IF EXISTS %s",
                 index);
        rc = pool_query_single(x->conn, drop, 0, NULL, NULL, err);
        if (rc != 0)
            err_prefix(err, "drop invalid index %s", index);
    }
    PQclear(res);
    return rc;
}

static int
run_step(struct exec_ctx *x,
         const struct config_maint_step *st,
         const char *sql,
         struct deskdb_err *err)
{
    int rc;

    for (int attempt = 1;; attempt++) {
        rc = 0;
        if (maint_step_builds_concurrently(st))
            rc = drop_leftovers(x, st, err);
        if (rc == 0)
            rc = pool_query_single(x->conn, sql, 0, NULL, NULL, err);
        /* Maintenance is safe to repeat, lost connection included. */
        if (rc == 0 || !exec_retry(x, attempt, err, true))
            return rc;
        if (err->code == DESKDB_ECONN) {
            rc = exec_reconnect(x, true, err);
            if (rc != 0)
                return rc;
        }
        err_clear(err);
    }
}

int
exec_maintenance(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct config_job *job = x->r->def->cfg;
    struct buf sql;
    int rc;

    buf_init(&sql, STEP_SQL_MAX);
    rc = exec_session_apply(x, err);
    for (size_t i = 0; rc == 0 && i < job->n_maint_steps; i++) {
        const struct config_maint_step *st = &job->maint_steps[i];

        buf_reset(&sql);
        if (exec_cancelled(x)) {
            rc = err_set(err,
                         DESKDB_ECLOSED,
                         "cancelled before step %zu (%s)",
                         i + 1,
                         config_step_kind_name(st->kind));
            break;
        }
        if (maint_step_sql(st, &sql) != 0) {
            rc = err_set(err, DESKDB_ENOMEM, "out of memory");
            break;
        }
        rc = run_step(x, st, sql.data, err);
        if (rc != 0)
            err_prefix(err,
                       "step %zu (%s)",
                       i + 1,
                       config_step_kind_name(st->kind));
    }
    buf_fini(&sql);
    if (x->conn != NULL)
        exec_session_reset(x);
    return rc;
}

/* One purge batch in its own transaction; *n rows deleted. */
static int
purge_once(struct exec_ctx *x, int64_t *n, struct deskdb_err *err)
{
    const struct sqltext *t = &x->r->def->purge;
    const char *params[SQLTEXT_MAX_PARAMS];
    struct deskdb_err e;
    PGresult *res;
    int rc;

    exec_params(x, t, params);
    rc = pool_exec(x->conn, "BEGIN", err);
    if (rc == 0)
        rc = exec_set_config(x, x->conn, true, err);
    if (rc == 0) {
        rc = pool_query_single(x->conn, t->sql, t->nparams, params, &res, err);
        if (rc == 0) {
            *n = exec_result_rows(res);
            PQclear(res);
        }
    }
    if (rc == 0)
        return pool_exec(x->conn, "COMMIT", err);
    if (PQtransactionStatus(pool_conn_pg(x->conn)) != PQTRANS_IDLE &&
        pool_exec(x->conn, "ROLLBACK", &e) != 0)
        pool_conn_mark_broken(x->conn);
    return rc;
}

static int
purge_batch(struct exec_ctx *x, int64_t *n, struct deskdb_err *err)
{
    int rc;

    for (int attempt = 1;; attempt++) {
        *n = 0;
        rc = purge_once(x, n, err);
        /* A batch deletes what matches, so repeating one (even after a
         * COMMIT whose answer was lost) deletes nothing twice. */
        if (rc == 0 || !exec_retry(x, attempt, err, true))
            return rc;
        if (err->code == DESKDB_ECONN) {
            rc = exec_reconnect(x, false, err);
            if (rc != 0)
                return rc;
        }
        err_clear(err);
    }
}

int
exec_purge(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct config_job_purge *p = &x->r->def->cfg->purge;
    int64_t stop_ns = x->start_ns + p->max_duration_ms * NS_PER_MS;
    int64_t total = 0, n = 0, batches = 0;
    char dur[48];
    int rc = 0;

    for (;;) {
        if (exec_cancelled(x)) {
            rc = err_set(err,
                         DESKDB_ECLOSED,
                         "cancelled after deleting %lld rows",
                         (long long)total);
            break;
        }
        rc = purge_batch(x, &n, err);
        if (rc != 0) {
            err_prefix(err,
                       "batch %lld (after %lld rows deleted)",
                       (long long)batches + 1,
                       (long long)total);
            break;
        }
        batches++;
        total += n > 0 ? n : 0;
        if (n < p->batch_size)
            break;
        if (clock_mono(pool_clock(x->r->pool)) >= stop_ns) {
            snprintf(x->r->note,
                     sizeof(x->r->note),
                     "partial: max_duration (%s) reached after deleting "
                     "%lld rows in %lld batches; the next run continues",
                     config_format_duration(p->max_duration_ms, dur),
                     (long long)total,
                     (long long)batches);
            break;
        }
        if (p->pause_ms > 0 && !exec_sleep(x, p->pause_ms)) {
            rc = exec_cancelled(x)
                     ? err_set(err,
                               DESKDB_ECLOSED,
                               "cancelled after deleting %lld rows",
                               (long long)total)
                     : err_set(err,
                               DESKDB_ETIMEOUT,
                               "timeout reached after deleting %lld rows",
                               (long long)total);
            break;
        }
    }
    x->r->rows = total;
    return rc;
}
