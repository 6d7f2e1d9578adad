/* SPDX-License-Identifier: MIT */
/* The batch job type: every step in one transaction (txn_run), with the
 * job's isolation level, SET LOCAL settings, bound run parameters,
 * expect_rows, and whole-batch retries on 40001 and 40P01. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/txn.h"
#include "jobs/exec.h"

struct batch {
    struct exec_ctx *x;
    int attempts;
    int64_t rows;
};

static void
step_name(const struct config_job *job, size_t i, char *out, size_t size)
{
    if (job->batch_steps[i].name != NULL)
        snprintf(out, size, "step '%s'", job->batch_steps[i].name);
    else
        snprintf(out, size, "step %zu", i + 1);
}

static int
run_steps(struct txn *t, struct batch *b, struct deskdb_err *err)
{
    const struct jobdef *def = b->x->r->def;
    const struct config_job *job = def->cfg;
    const char *params[SQLTEXT_MAX_PARAMS];
    char name[96];
    PGresult *res;
    int64_t n;
    int rc;

    for (size_t i = 0; i < job->n_batch_steps; i++) {
        const struct config_batch_step *st = &job->batch_steps[i];

        step_name(job, i, name, sizeof(name));
        if (exec_cancelled(b->x))
            return err_set(err,
                           DESKDB_ECLOSED,
                           "cancelled before %s; the batch was rolled back",
                           name);
        exec_params(b->x, &def->steps[i], params);
        rc = txn_query(t,
                       def->steps[i].sql,
                       def->steps[i].nparams,
                       params,
                       &res,
                       err);
        if (rc != 0) {
            err_prefix(err, "%s", name);
            return rc;
        }
        n = exec_result_rows(res);
        PQclear(res);
        if (st->expect_rows >= 0 && n < st->expect_rows)
            return err_set(err,
                           DESKDB_EINVAL,
                           "%s affected %lld rows, expected at least %lld; "
                           "the batch was rolled back",
                           name,
                           (long long)(n < 0 ? 0 : n),
                           (long long)st->expect_rows);
        b->rows += n > 0 ? n : 0;
    }
    return DESKDB_OK;
}

/* One attempt: txn_run() calls it again after a serialization failure or
 * a deadlock, on a fresh transaction. */
static int
attempt(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct batch *b = arg;
    struct pool_conn *c = txn_conn(t);

    b->attempts = txn_attempt(t);
    b->rows = 0;
    /* The job's timeout bounds the whole batch (txn_run's deadline), not
     * the pool's per-statement query_timeout. */
    pool_conn_set_query_timeout(c, 0);
    atomic_store_explicit(&b->x->r->work_pid,
                          pool_conn_backend_pid(c),
                          memory_order_relaxed);
    return run_steps(t, b, err);
}

int
exec_batch(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct config_job *job = x->r->def->cfg;
    size_t n = job->n_settings + 2;
    struct config_kv *kv = calloc(n, sizeof(*kv));
    struct txn_options opt = {0};
    struct batch b = {.x = x};
    char timeout[24], k_timeout[] = "statement_timeout",
                      k_check[] = "client_connection_check_interval",
                      v_check[] = "1s";
    int rc;

    if (kv == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    snprintf(timeout,
             sizeof(timeout),
             "%lld",
             (long long)(exec_left_ms(x) + EXEC_SERVER_TIMEOUT_SLACK_MS));
    kv[0].key = k_timeout;
    kv[0].value = timeout;
    kv[1].key = k_check;
    kv[1].value = v_check;
    for (size_t i = 0; i < job->n_settings; i++)
        kv[i + 2] = job->settings[i];
    opt.isolation = job->isolation;
    opt.max_retries = job->retry.max_attempts - 1;
    opt.backoff_base_ms = job->retry.base_ms;
    opt.backoff_cap_ms = job->retry.cap_ms;
    opt.timeout_ms = exec_left_ms(x);
    opt.settings = kv;
    opt.n_settings = n;
    opt.rand = x->r->rand;
    opt.rand_arg = x->r->rand_arg;
    rc = txn_run(x->r->pool, &opt, attempt, &b, err);
    atomic_store_explicit(&x->r->work_pid, 0, memory_order_relaxed);
    if (b.attempts > 1)
        x->retries += b.attempts - 1;
    if (rc == 0)
        x->r->rows = b.rows;
    free(kv);
    return rc;
}
