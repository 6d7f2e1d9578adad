/* SPDX-License-Identifier: MIT */
/* One job run from claim to final status: the parts every type shares. */
#include "jobs/exec.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/sqlstate.h"

#define BOOLOID 16
/* A server-side cancel (57014) this close to the deadline is the job's
 * timeout, not the job's own statement_timeout setting. */
#define TIMEOUT_SLACK_NS (500 * NS_PER_MS)

static int64_t
mono(const struct exec_ctx *x)
{
    return clock_mono(pool_clock(x->r->pool));
}

int64_t
exec_left_ms(const struct exec_ctx *x)
{
    int64_t left = (x->deadline_ns - mono(x)) / NS_PER_MS;

    return left < 1 ? 1 : left;
}

bool
exec_cancelled(const struct exec_ctx *x)
{
    return atomic_load_explicit(&x->r->cancel, memory_order_relaxed);
}

bool
exec_sleep(struct exec_ctx *x, int64_t ms)
{
    int64_t end = mono(x) + ms * NS_PER_MS;

    if (end >= x->deadline_ns)
        return false;
    while (!exec_cancelled(x)) {
        int64_t left = (end - mono(x)) / NS_PER_MS;
        struct timespec ts;

        if (left <= 0)
            return true;
        if (left > EXEC_SLEEP_SLICE_MS)
            left = EXEC_SLEEP_SLICE_MS;
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
    return false;
}

int64_t
exec_result_rows(PGresult *res)
{
    const char *tuples;

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return PQntuples(res);
    tuples = PQcmdTuples(res);
    return tuples[0] != '\0' ? strtoll(tuples, NULL, 10) : -1;
}

void
exec_params(const struct exec_ctx *x,
            const struct sqltext *t,
            const char *out[SQLTEXT_MAX_PARAMS])
{
    sqltext_params(t, x->run_id, x->scheduled_for, out);
}

bool
exec_retry(struct exec_ctx *x,
           int attempt,
           const struct deskdb_err *err,
           bool reconnect_ok)
{
    const struct config_job_retry *cfg = &x->r->def->cfg->retry;
    struct backoff b = {.base_ms = cfg->base_ms,
                        .cap_ms = cfg->cap_ms,
                        .rand = x->r->rand,
                        .rand_arg = x->r->rand_arg};
    enum sqlstate_kind kind = sqlstate_classify(err->sqlstate);
    int64_t sleep, elapsed = (mono(x) - x->start_ns) / NS_PER_MS;
    char b1[24], b2[24];

    switch (kind) {
    case SQLSTATE_KIND_SERIALIZATION:
    case SQLSTATE_KIND_DEADLOCK:
    case SQLSTATE_KIND_LOCK_TIMEOUT:
        break;
    case SQLSTATE_KIND_CONNECTION:
        if (!reconnect_ok)
            return false;
        break;
    default:
        if (err->code != DESKDB_ECONN || !reconnect_ok)
            return false;
        break;
    }
    if (exec_cancelled(x))
        return false;
    sleep = backoff_full_jitter_ms(&b, attempt - 1);
    if (!backoff_may_retry(attempt,
                           cfg->max_attempts,
                           elapsed,
                           sleep,
                           x->r->def->cfg->timeout_ms))
        return false;
    log_info("jobs",
             "retrying",
             "job",
             x->r->def->cfg->name,
             "attempt",
             log_i64(b1, attempt + 1),
             "sleep_ms",
             log_i64(b2, sleep),
             "sqlstate",
             err->sqlstate,
             "error",
             err->msg);
    if (!exec_sleep(x, sleep))
        return false;
    x->retries++;
    return true;
}

int
exec_set_config(struct exec_ctx *x,
                struct pool_conn *c,
                bool local,
                struct deskdb_err *err)
{
    const struct config_job *job = x->r->def->cfg;
    size_t n = 2 * (job->n_settings + 2);
    const char **params = calloc(n, sizeof(*params));
    char timeout[24];
    struct buf sql;
    int k = 0, rc;

    buf_init(&sql, 64 + 48 * n);
    if (params == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(timeout,
             sizeof(timeout),
             "%lld",
             (long long)(exec_left_ms(x) + EXEC_SERVER_TIMEOUT_SLACK_MS));
    params[k++] = "statement_timeout";
    params[k++] = timeout;
    /* A deskdb that dies leaves no statement running for long: the
     * server checks the client every second (PostgreSQL 14+). */
    params[k++] = "client_connection_check_interval";
    params[k++] = "1s";
    for (size_t i = 0; i < job->n_settings; i++) {
        params[k++] = job->settings[i].key;
        params[k++] = job->settings[i].value;
    }
    rc = pool_set_config_sql(&sql, k / 2, local);
    if (rc != 0) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    rc = pool_query_single(c, sql.data, k, params, NULL, err);
    if (rc != 0)
        err_prefix(err, "apply the job's settings");
out:
    buf_fini(&sql);
    free(params);
    return rc;
}

int
exec_session_apply(struct exec_ctx *x, struct deskdb_err *err)
{
    return exec_set_config(x, x->conn, false, err);
}

void
exec_session_reset(struct exec_ctx *x)
{
    struct deskdb_err e;

    /* A RESET ALL that fails marks the connection broken: it is closed on
     * release rather than pooled with the job's settings. */
    pool_conn_set_deadline(x->conn, 0);
    if (pool_conn_reset_session(x->conn, &e) != 0)
        log_debug("jobs", "session reset failed", "error", e.msg);
}

static void
set_work_pid(struct exec_ctx *x, struct pool_conn *c)
{
    atomic_store_explicit(&x->r->work_pid,
                          c != NULL ? pool_conn_backend_pid(c) : 0,
                          memory_order_relaxed);
}

/* Deadline and per-statement bound of a connection doing the work. */
static void
prepare_conn(struct exec_ctx *x, struct pool_conn *c)
{
    pool_conn_set_query_timeout(c, 0);
    pool_conn_set_deadline(c, x->deadline_ns);
}

int
exec_reconnect(struct exec_ctx *x, bool session, struct deskdb_err *err)
{
    struct pool_conn *c = NULL;
    int rc;

    set_work_pid(x, NULL);
    pool_release(x->r->pool, x->conn);
    x->conn = NULL;
    rc = pool_acquire_timeout(x->r->pool, &c, exec_left_ms(x), err);
    if (rc != 0)
        return rc;
    x->conn = c;
    rc = history_set_backend(c, x->r->id, err);
    prepare_conn(x, c);
    if (rc == 0 && session)
        rc = exec_session_apply(x, err);
    if (rc == 0)
        set_work_pid(x, c);
    return rc;
}

/* only_if: 1 run, 0 skip, < 0 failure. */
static int
guard(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct sqltext *g = &x->r->def->only_if;
    const char *params[SQLTEXT_MAX_PARAMS];
    PGresult *res;
    int rc, n;

    exec_params(x, g, params);
    rc = pool_query_single(x->conn, g->sql, g->nparams, params, &res, err);
    if (rc != 0) {
        err_prefix(err, "only_if");
        return rc;
    }
    n = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (n < 0 || n > 1 || PQnfields(res) != 1 || PQftype(res, 0) != BOOLOID) {
        PQclear(res);
        return err_set(err,
                       DESKDB_EINVAL,
                       "only_if must return one boolean (one row, one "
                       "boolean column)");
    }
    rc = n == 1 && !PQgetisnull(res, 0, 0) &&
         strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}

static int
work(struct exec_ctx *x, struct deskdb_err *err)
{
    switch (x->r->def->cfg->type) {
    case CONFIG_JOB_SQL:
        return exec_sql(x, err);
    case CONFIG_JOB_MAINTENANCE:
        return exec_maintenance(x, err);
    case CONFIG_JOB_PURGE:
        return exec_purge(x, err);
    case CONFIG_JOB_BATCH:
        return exec_batch(x, err);
    case CONFIG_JOB_IMPORT:
        return exec_import(x, err);
    }
    return err_set(err, DESKDB_EINVAL, "unknown job type");
}

/* What a failed run is: cancelled, timed out or failed. */
static enum run_status
failure_status(struct exec_ctx *x, int rc, const struct deskdb_err *err)
{
    bool server_cancel = strcmp(err->sqlstate, "57014") == 0;

    if (exec_cancelled(x))
        return RUN_CANCELLED;
    if (rc == DESKDB_ETIMEOUT ||
        (server_cancel && mono(x) >= x->deadline_ns - TIMEOUT_SLACK_NS))
        return RUN_TIMED_OUT;
    return RUN_FAILED;
}

static int
claim(struct exec_ctx *x)
{
    struct exec_run *r = x->r;
    int rc;

    rc = pool_acquire(r->pool, &x->conn, &r->err);
    if (rc != 0) {
        err_prefix(&r->err, "no database connection for the run");
        return rc;
    }
    rc = history_claim(x->conn,
                       r->def->cfg->name,
                       r->scheduled_for_us,
                       r->trigger,
                       r->instance,
                       &r->id,
                       &r->err);
    if (rc == DESKDB_EEXIST)
        r->duplicate = true;
    atomic_store_explicit(&r->claimed_id, r->id, memory_order_relaxed);
    return rc;
}

static int
finish_on(struct exec_ctx *x,
          const struct history_result *h,
          struct deskdb_err *err)
{
    pool_conn_set_query_timeout(x->conn, EXEC_FINISH_TIMEOUT_MS);
    pool_conn_set_deadline(x->conn,
                           mono(x) + EXEC_FINISH_TIMEOUT_MS * NS_PER_MS);
    return history_finish(x->conn, x->r->id, h, err);
}

/* Write the final status; the claiming connection may be gone by now
 * (a timeout that did not stop, a lost server), then a new one does. */
static void
record(struct exec_ctx *x)
{
    struct exec_run *r = x->r;
    struct history_result h = {.status = r->status,
                               .attempts = r->attempts,
                               .rows = r->rows,
                               .error = r->err.msg[0] ? r->err.msg : NULL,
                               .note = r->note[0] ? r->note : NULL};
    struct deskdb_err e;
    int rc = DESKDB_ECONN;

    if (r->status == RUN_SUCCEEDED || r->status == RUN_SKIPPED)
        h.error = NULL;
    if (x->conn != NULL)
        rc = finish_on(x, &h, &e);
    if (rc != 0 && rc != DESKDB_ENOTFOUND) {
        pool_release(r->pool, x->conn);
        x->conn = NULL;
        rc =
            pool_acquire_timeout(r->pool, &x->conn, EXEC_FINISH_TIMEOUT_MS, &e);
        if (rc == 0)
            rc = finish_on(x, &h, &e);
    }
    r->recorded = rc == 0;
    if (rc != 0)
        log_error("jobs",
                  "cannot record the end of a run",
                  "job",
                  r->def->cfg->name,
                  "status",
                  run_status_name(r->status),
                  "error",
                  e.msg);
}

static void
run_claimed(struct exec_ctx *x)
{
    struct exec_run *r = x->r;
    int rc = 1;

    prepare_conn(x, x->conn);
    set_work_pid(x, x->conn);
    if (r->def->only_if.sql != NULL)
        rc = guard(x, &r->err);
    if (rc > 0 && exec_cancelled(x))
        rc = err_set(&r->err, DESKDB_ECLOSED, "cancelled before it began");
    if (rc == 0) {
        r->status = RUN_SKIPPED;
        snprintf(r->note, sizeof(r->note), "only_if returned false");
    } else if (rc > 0) {
        rc = work(x, &r->err);
        r->status = rc == 0 ? RUN_SUCCEEDED : failure_status(x, rc, &r->err);
    } else {
        r->status = failure_status(x, rc, &r->err);
    }
    set_work_pid(x, NULL);
    r->attempts = 1 + x->retries;
}

void
exec_run(struct exec_run *r)
{
    struct exec_ctx x = {.r = r};
    int rc;

    r->id = 0;
    r->duplicate = false;
    r->recorded = false;
    r->rows = -1;
    r->attempts = 0;
    r->note[0] = '\0';
    err_clear(&r->err);
    r->status = RUN_FAILED;
    r->started_us = clock_real(r->clock) / 1000;
    x.start_ns = mono(&x);
    x.deadline_ns = x.start_ns + r->def->cfg->timeout_ms * NS_PER_MS;
    jobs_format_utc(r->scheduled_for_us, x.scheduled_for);
    rc = claim(&x);
    if (rc == 0) {
        snprintf(x.run_id, sizeof(x.run_id), "%lld", (long long)r->id);
        run_claimed(&x);
    }
    r->finished_us = clock_real(r->clock) / 1000;
    if (rc == 0)
        record(&x);
    pool_release(r->pool, x.conn);
}
