/* SPDX-License-Identifier: MIT */
/* The scheduler's life cycle: create, start, stop, destroy, manual runs
 * and the read-only accessors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config_jobs.h"
#include "core/log.h"
#include "core/pool.h"
#include "jobs/history.h"
#include "jobs/sched_internal.h"

void
sched_list_push(struct sched_list *l, struct sched_run *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

void
sched_list_remove(struct sched_list *l, struct sched_run *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

struct sched_job *
sched_find(struct scheduler *s, const char *name)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (strcmp(s->jobs[i]->name, name) == 0)
            return s->jobs[i];
    }
    return NULL;
}

int
sched_def_compile(const struct config *cfg,
                  const struct config_job *job,
                  struct jobdef **out,
                  struct deskdb_err *err)
{
    struct jobdef *d = calloc(1, sizeof(*d));
    int rc;

    *out = NULL;
    if (d == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    rc = jobdef_compile(cfg, job, d, err);
    if (rc != DESKDB_OK) {
        free(d);
        return rc;
    }
    *out = d;
    return DESKDB_OK;
}

static void
def_free(struct jobdef *d)
{
    if (d != NULL)
        jobdef_fini(d);
    free(d);
}

struct sched_job *
sched_job_new(struct scheduler *s, struct jobdef *def)
{
    struct sched_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        def_free(def);
        return NULL;
    }
    j->name = def->cfg->name;
    j->def = def;
    plan_job_init(&j->plan, &def->expr, def->tz, def->cfg);
    sched_metrics_job(s, j);
    return j;
}

void
sched_job_free(struct sched_job *j)
{
    if (j == NULL)
        return;
    def_free(j->def);
    free(j);
}

static void
make_instance(char *out, size_t size)
{
    char host[96];

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, size, "%s:%ld", host, (long)getpid());
}

static int
init_sync(struct scheduler *s, struct deskdb_err *err)
{
    pthread_condattr_t ca;
    int rc = 0;

    if (pthread_condattr_init(&ca) != 0)
        return err_set(err, DESKDB_ENOMEM, "scheduler: out of resources");
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc |= pthread_mutex_init(&s->mu, NULL);
    rc |= pthread_cond_init(&s->wake, &ca);
    rc |= pthread_cond_init(&s->work, &ca);
    rc |= pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return err_set(err, DESKDB_ENOMEM, "scheduler: out of resources");
    s->inited = true;
    return DESKDB_OK;
}

static int
compile_jobs(struct scheduler *s, struct deskdb_err *err)
{
    const struct config_jobs *jobs = s->cfg->jobs;
    struct jobdef *def;
    int rc;

    s->jobs =
        calloc(jobs->n_definitions ? jobs->n_definitions : 1, sizeof(*s->jobs));
    if (s->jobs == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < jobs->n_definitions; i++) {
        rc = sched_def_compile(s->cfg, &jobs->definitions[i], &def, err);
        if (rc != DESKDB_OK)
            return rc;
        s->jobs[i] = sched_job_new(s, def);
        if (s->jobs[i] == NULL)
            return err_set(err, DESKDB_ENOMEM, "out of memory");
        s->n_jobs++;
    }
    return DESKDB_OK;
}

struct scheduler *
scheduler_create(const struct config *cfg,
                 struct pool *pool,
                 struct metrics *metrics,
                 const struct clock *clock,
                 const char *conninfo,
                 struct deskdb_err *err)
{
    struct scheduler *s;
    int rc;

    if (cfg == NULL || cfg->jobs == NULL || pool == NULL) {
        err_set(err, DESKDB_EINVAL, "scheduler: no configuration or pool");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->pool = pool;
    s->clock = clock != NULL ? *clock : clock_system;
    s->leader_mode = cfg->jobs->leader_mode;
    s->leader_key = cfg->jobs->leader_key;
    s->max_running =
        cfg->jobs->max_concurrent > 0 ? cfg->jobs->max_concurrent : 1;
    make_instance(s->instance, sizeof(s->instance));
    /* The families first: compile_jobs() creates each job's series. */
    sched_metrics_register(s, metrics);
    rc = init_sync(s, err);
    if (rc == DESKDB_OK)
        rc = compile_jobs(s, err);
    if (rc == DESKDB_OK &&
        cfg->jobs->leader_mode == CONFIG_LEADER_ADVISORY_LOCK) {
        s->leader =
            leader_create(conninfo, cfg->jobs->leader_key, &s->clock, err);
        if (s->leader == NULL)
            rc = DESKDB_ENOMEM;
    }
    if (rc != DESKDB_OK) {
        for (size_t i = 0; i < s->n_jobs; i++)
            sched_metrics_forget(s->jobs[i]);
        scheduler_destroy(s);
        return NULL;
    }
    return s;
}

int
scheduler_start(struct scheduler *s, struct deskdb_err *err)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->max_running;
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        return err_set(err, DESKDB_EINVAL, "scheduler already started");
    s->workers = calloc((size_t)n, sizeof(*s->workers));
    if (s->workers == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    s->started = true;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i], NULL, sched_worker_main, s) != 0)
            goto fail;
        s->n_workers++;
    }
    if (pthread_create(&s->control_thread, NULL, sched_control_main, s) != 0)
        goto fail;
    s->control_running = true;
    if (pthread_create(&s->loop_thread, NULL, sched_loop_main, s) != 0)
        goto fail;
    s->loop_running = true;
    log_info("jobs",
             "scheduler started",
             "instance",
             s->instance,
             "leader_mode",
             s->leader != NULL ? "advisory_lock" : "none");
    return DESKDB_OK;
fail:
    (void)scheduler_stop(s, 0);
    return err_set(err,
                   DESKDB_EIO,
                   "scheduler: cannot start a thread: %s",
                   strerror(errno));
}

/* Wait on `cv` until `pred` or `ms` pass (system monotonic clock). */
static bool
wait_until_idle(struct scheduler *s, int64_t ms)
{
    struct timespec ts;
    bool idle;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->running.n > 0 || s->ready.n > 0) {
        if (pthread_cond_timedwait(&s->idle, &s->mu, &ts) == ETIMEDOUT)
            break;
    }
    idle = s->running.n == 0 && s->ready.n == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

/* Past the deadline: every run in progress is asked to stop. */
static void
cancel_all(struct scheduler *s)
{
    int pids[SCHED_CANCEL_QUEUE_MAX], n = 0, pid;

    pthread_mutex_lock(&s->mu);
    for (struct sched_run *r = s->running.head; r != NULL; r = r->next) {
        atomic_store_explicit(&r->exec.cancel, true, memory_order_relaxed);
        pid = atomic_load_explicit(&r->exec.work_pid, memory_order_relaxed);
        if (pid > 0 && n < SCHED_CANCEL_QUEUE_MAX)
            pids[n++] = pid;
    }
    pthread_mutex_unlock(&s->mu);
    if (n > 0) {
        log_warn("jobs", "cancelling runs still in progress at shutdown");
        sched_cancel_backends(s, pids, n);
    }
}

static void
join_thread(pthread_t t, bool *running)
{
    if (*running) {
        pthread_join(t, NULL);
        *running = false;
    }
}

int
scheduler_stop(struct scheduler *s, int64_t deadline_ms)
{
    bool idle;

    if (s == NULL || !s->started)
        return DESKDB_OK;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    sched_unsync_locked(s);
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    join_thread(s->loop_thread, &s->loop_running);
    if (s->leader != NULL)
        leader_release(s->leader);
    idle = wait_until_idle(s, deadline_ms > 0 ? deadline_ms : 0);
    if (!idle) {
        cancel_all(s);
        idle = wait_until_idle(s, SCHED_STOP_GRACE_MS);
    }
    pthread_mutex_lock(&s->mu);
    s->workers_exit = true;
    s->control_exit = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    join_thread(s->control_thread, &s->control_running);
    return idle ? DESKDB_OK : DESKDB_ETIMEOUT;
}

void
scheduler_destroy(struct scheduler *s)
{
    if (s == NULL)
        return;
    if (s->started && scheduler_stop(s, 5000) != DESKDB_OK)
        log_warn("jobs", "joining job runs that outlived the stop deadline");
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    leader_destroy(s->leader);
    if (s->inited) {
        /* Runs planned by scheduler_tick() on a scheduler never started. */
        pthread_mutex_lock(&s->mu);
        sched_unsync_locked(s);
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
    }
    for (size_t i = 0; i < s->n_jobs; i++)
        sched_job_free(s->jobs[i]);
    for (size_t i = 0; i < s->n_gone; i++)
        sched_job_free(s->gone[i]);
    for (size_t i = 0; i < s->n_old_defs; i++)
        def_free(s->old_defs[i]);
    free(s->jobs);
    free(s->gone);
    free(s->old_defs);
    free(s);
}

/* forbid, queue and replace never start a manual run next to another. */
static int
check_not_running(struct scheduler *s,
                  struct sched_job *j,
                  const struct jobdef *def,
                  struct deskdb_err *err)
{
    struct pool_conn *c = NULL;
    char instance[128];
    int64_t id = 0;
    int running, rc;

    if (def->cfg->concurrency == CONFIG_CONCURRENCY_ALLOW)
        return DESKDB_OK;
    pthread_mutex_lock(&s->mu);
    running = j->running;
    pthread_mutex_unlock(&s->mu);
    if (running > 0)
        return err_set(err,
                       DESKDB_EBUSY,
                       "job %s is running in this process (concurrency: %s)",
                       j->name,
                       def->cfg->concurrency == CONFIG_CONCURRENCY_FORBID
                           ? "forbid"
                           : "queue/replace");
    rc = pool_acquire(s->pool, &c, err);
    if (rc == 0)
        rc = history_find_running(c, j->name, &id, instance, err);
    pool_release(s->pool, c);
    if (rc != 0)
        return rc;
    if (id != 0)
        return err_set(err,
                       DESKDB_EBUSY,
                       "job %s is already running (run %lld on %s)",
                       j->name,
                       (long long)id,
                       instance);
    return DESKDB_OK;
}

static int
manual_result(struct sched_run *r, struct deskdb_err *err)
{
    struct exec_run *e = &r->exec;

    if (e->duplicate)
        return err_set(err, DESKDB_EEXIST, "%s", e->err.msg);
    if (e->status == RUN_SUCCEEDED || e->status == RUN_SKIPPED)
        return DESKDB_OK;
    if (err != NULL)
        *err = e->err;
    if (e->err.code == 0)
        return err_set(err, DESKDB_EIO, "run %s", run_status_name(e->status));
    return e->err.code;
}

int
scheduler_run_now(struct scheduler *s, const char *name, struct deskdb_err *err)
{
    const struct config *cfg = NULL;
    const struct jobdef *def = NULL;
    struct sched_job *j;
    struct sched_run *r;
    int64_t t0;
    int rc;

    pthread_mutex_lock(&s->mu);
    j = sched_find(s, name);
    if (j != NULL) {
        def = j->def;
        cfg = s->cfg;
    }
    pthread_mutex_unlock(&s->mu);
    if (j == NULL)
        return err_set(err, DESKDB_ENOTFOUND, "no job named '%s'", name);
    rc = check_not_running(s, j, def, err);
    if (rc != 0)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    r->job = j;
    r->exec.pool = s->pool;
    r->exec.def = def;
    r->exec.instance = s->instance;
    r->exec.clock = &s->clock;
    r->exec.cfg = cfg;
    r->exec.trigger = PLAN_TRIGGER_MANUAL;
    r->exec.scheduled_for_us = clock_real(&s->clock) / 1000;
    pthread_mutex_lock(&s->mu);
    sched_list_push(&s->running, r);
    j->running++;
    pthread_mutex_unlock(&s->mu);
    t0 = clock_mono(pool_clock(s->pool));
    exec_run(&r->exec);
    rc = manual_result(r, err);
    sched_run_done(s, r, clock_mono(pool_clock(s->pool)) - t0);
    return rc;
}

int
scheduler_last_run(struct scheduler *s,
                   const char *name,
                   struct scheduler_run_info *out)
{
    struct sched_job *j;

    pthread_mutex_lock(&s->mu);
    j = sched_find(s, name);
    if (j != NULL)
        *out = j->last;
    pthread_mutex_unlock(&s->mu);
    return j != NULL ? DESKDB_OK : DESKDB_ENOTFOUND;
}

int
scheduler_refresh(struct scheduler *s, struct deskdb_err *err)
{
    return sched_refresh(s, err);
}

int64_t
scheduler_next_fire(struct scheduler *s, const char *name, int64_t after_s)
{
    struct sched_job *j;
    int64_t next = PLAN_NEVER;

    pthread_mutex_lock(&s->mu);
    j = sched_find(s, name);
    if (j != NULL)
        next = plan_next_after(&j->plan, after_s);
    pthread_mutex_unlock(&s->mu);
    return next;
}

bool
scheduler_is_leader(struct scheduler *s)
{
    bool v;

    pthread_mutex_lock(&s->mu);
    v = s->is_leader;
    pthread_mutex_unlock(&s->mu);
    return v;
}

const char *
scheduler_instance(const struct scheduler *s)
{
    return s->instance;
}

int
scheduler_in_flight(struct scheduler *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}
