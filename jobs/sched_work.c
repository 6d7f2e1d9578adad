/* SPDX-License-Identifier: MIT */
/* The threads that are not the planning loop: workers that run jobs, and
 * housekeeping (cancels for replace, interrupted runs, history pruning,
 * refreshing what followers show). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pool.h"
#include "jobs/history.h"
#include "jobs/sched_internal.h"

void *
sched_worker_main(void *arg)
{
    struct scheduler *s = arg;
    struct sched_run *r;
    int64_t t0;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* After a reload lowered jobs.max_concurrent, the extra workers
         * wait (they are not stopped: a raise may use them again). */
        while ((s->ready.head == NULL || s->busy >= s->max_running) &&
               !s->workers_exit)
            pthread_cond_wait(&s->work, &s->mu);
        r = s->busy < s->max_running ? s->ready.head : NULL;
        if (r == NULL)
            break;
        sched_list_remove(&s->ready, r);
        sched_list_push(&s->running, r);
        s->busy++;
        r->job->running++;
        metric_set(r->job->m.running, r->job->running);
        pthread_mutex_unlock(&s->mu);
        t0 = clock_mono(pool_clock(s->pool));
        /* A run cancelled before it began (replace) ends unrecorded. */
        if (atomic_load_explicit(&r->exec.cancel, memory_order_relaxed))
            r->exec.status = RUN_CANCELLED;
        else
            exec_run(&r->exec);
        sched_run_done(s, r, clock_mono(pool_clock(s->pool)) - t0);
        pthread_mutex_lock(&s->mu);
        s->busy--;
        if (s->ready.head != NULL)
            pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void
sched_cancel_backends(struct scheduler *s, const int *pids, int n)
{
    struct pool_conn *c = NULL;
    struct deskdb_err err;
    char pid[24];
    const char *params[1] = {pid};

    if (pool_acquire_timeout(s->pool, &c, SCHED_DB_TIMEOUT_MS, &err) != 0) {
        log_error("jobs", "cannot cancel job statements", "error", err.msg);
        return;
    }
    pool_conn_set_query_timeout(c, SCHED_DB_TIMEOUT_MS);
    for (int i = 0; i < n; i++) {
        snprintf(pid, sizeof(pid), "%d", pids[i]);
        /* Only a statement in progress: an idle session has nothing to
         * cancel, and a late signal must not hit its next statement. */
        if (pool_query_single(c,
                              "SELECT pg_cancel_backend(pid) FROM"
                              " pg_stat_activity WHERE pid = $1::int"
                              " AND state = 'active'",
                              1,
                              params,
                              NULL,
                              &err) != 0)
            log_error("jobs",
                      "cannot cancel a job statement",
                      "backend_pid",
                      pid,
                      "error",
                      err.msg);
        else
            log_info("jobs", "cancelled a job statement", "backend_pid", pid);
    }
    pool_release(s->pool, c);
}

static void
prune(struct scheduler *s, int64_t retention)
{
    int64_t n, total = 0;
    struct pool_conn *c = NULL;
    struct deskdb_err err;
    char b[24];
    int rc;

    rc = pool_acquire_timeout(s->pool, &c, SCHED_DB_TIMEOUT_MS, &err);
    if (rc == 0)
        pool_conn_set_query_timeout(c, SCHED_DB_TIMEOUT_MS);
    /* Small batches, each its own transaction: no long lock, no big
     * burst of WAL; the rest waits for the next pass. */
    for (int i = 0; rc == 0 && i < SCHED_PRUNE_MAX_BATCHES; i++) {
        rc = history_prune(c, retention, &n, &err);
        total += rc == 0 ? n : 0;
        if (rc != 0 || n < HISTORY_PRUNE_BATCH)
            break;
    }
    pool_release(s->pool, c);
    if (rc != 0)
        log_warn("jobs", "history pruning failed", "error", err.msg);
    else if (total > 0)
        log_info("jobs", "pruned deskdb.job_runs", "rows", log_i64(b, total));
}

/* Cancel requests whose run still works on that backend (under mu): a
 * run that has finished may have handed its connection back to the pool,
 * where a cancel would hit someone else's statement. */
static int
take_cancels(struct scheduler *s, int *pids)
{
    int n = 0;

    for (int i = 0; i < s->n_cancel; i++) {
        for (struct sched_run *r = s->running.head; r != NULL; r = r->next) {
            if (atomic_load_explicit(&r->exec.cancel, memory_order_relaxed) &&
                atomic_load_explicit(&r->exec.work_pid, memory_order_relaxed) ==
                    s->cancel_pids[i]) {
                pids[n++] = s->cancel_pids[i];
                break;
            }
        }
    }
    s->n_cancel = 0;
    return n;
}

/* One housekeeping task, chosen and run with mu released; false when
 * there was nothing to do.  Called with mu held. */
static bool
housekeep_once(struct scheduler *s)
{
    int pids[SCHED_CANCEL_QUEUE_MAX], n;
    int64_t now = clock_mono(&s->clock);
    bool leader = s->is_leader && s->synced;
    struct deskdb_err err;

    if (s->n_cancel > 0) {
        n = take_cancels(s, pids);
        pthread_mutex_unlock(&s->mu);
        if (n > 0)
            sched_cancel_backends(s, pids, n);
    } else if (leader && now >= s->next_reconcile_ns) {
        s->next_reconcile_ns = now + SCHED_RECONCILE_NS;
        pthread_mutex_unlock(&s->mu);
        if (sched_reconcile(s, &err) != 0)
            log_warn("jobs", "interrupted-run check failed", "error", err.msg);
    } else if (leader && now >= s->next_prune_ns) {
        int64_t retention = s->cfg->jobs->history_retention_ms;

        s->next_prune_ns = now + SCHED_PRUNE_NS;
        pthread_mutex_unlock(&s->mu);
        prune(s, retention);
    } else if (!leader && now >= s->next_refresh_ns) {
        s->next_refresh_ns = now + SCHED_REFRESH_NS;
        pthread_mutex_unlock(&s->mu);
        if (sched_refresh(s, &err) != 0)
            log_debug("jobs", "cannot read deskdb.job_runs", "error", err.msg);
    } else {
        return false;
    }
    pthread_mutex_lock(&s->mu);
    return true;
}

void *
sched_control_main(void *arg)
{
    struct scheduler *s = arg;
    int64_t wait;

    pthread_mutex_lock(&s->mu);
    while (!s->control_exit) {
        if (housekeep_once(s))
            continue;
        wait = SCHED_MAX_SLEEP_MS;
        sched_timed_wait(&s->wake, &s->mu, wait);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
