/* SPDX-License-Identifier: MIT */
/* The planning loop: leadership, loading state when scheduling starts, the
 * planner's actions, and handing due runs to the workers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/pool.h"
#include "jobs/civil.h"
#include "jobs/history.h"
#include "jobs/sched_internal.h"

/* What the planner's actions need while mu is held. */
struct emit_ctx {
    struct scheduler *s;
    struct sched_job *job; /* the job whose plan is asked */
    int64_t now_ms;
    int dropped; /* starts lost to an allocation failure */
    bool started;
};

static struct sched_run *
new_run(struct scheduler *s, struct sched_job *j, const struct plan_action *a)
{
    struct sched_run *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->job = j;
    r->planned = true;
    r->start_at_ms = a->start_at_ms;
    r->exec.pool = s->pool;
    r->exec.def = j->def;
    r->exec.instance = s->instance;
    r->exec.clock = &s->clock;
    r->exec.cfg = s->cfg;
    r->exec.trigger = a->trigger;
    r->exec.scheduled_for_us = a->scheduled_for * 1000000;
    return r;
}

/* replace: every run of the job in flight is asked to stop; those not
 * started yet end without running. */
static void
cancel_job_runs(struct scheduler *s, const struct sched_job *job)
{
    struct sched_list *lists[] = {&s->delayed, &s->ready, &s->running};
    int pid;

    for (size_t i = 0; i < 3; i++) {
        for (struct sched_run *r = lists[i]->head; r != NULL; r = r->next) {
            if (r->job != job || !r->planned)
                continue;
            atomic_store_explicit(&r->exec.cancel, true, memory_order_relaxed);
            pid = atomic_load_explicit(&r->exec.work_pid, memory_order_relaxed);
            if (pid > 0)
                sched_queue_cancel(s, pid);
        }
    }
}

/* Called by the planner with mu held: memory and atomics only. */
static void
on_action(void *arg, const struct plan_action *a)
{
    struct emit_ctx *c = arg;
    struct scheduler *s = c->s;
    struct sched_job *j = c->job;
    struct sched_run *r;

    switch (a->kind) {
    case PLAN_START:
        r = new_run(s, j, a);
        if (r == NULL) {
            plan_run_dropped(&j->plan);
            c->dropped++;
            return;
        }
        s->in_flight++;
        if (r->start_at_ms <= c->now_ms) {
            sched_list_push(&s->ready, r);
            c->started = true;
        } else {
            sched_list_push(&s->delayed, r);
        }
        return;
    case PLAN_SKIP:
        metric_add(j->m.skipped[a->reason], (double)a->count);
        return;
    case PLAN_CANCEL_RUNNING:
        cancel_job_runs(s, j);
        return;
    }
}

void
sched_queue_cancel(struct scheduler *s, int pid)
{
    if (s->n_cancel < SCHED_CANCEL_QUEUE_MAX)
        s->cancel_pids[s->n_cancel++] = pid;
    pthread_cond_broadcast(&s->wake);
}

void
sched_unsync_locked(struct scheduler *s)
{
    struct sched_list *lists[] = {&s->delayed, &s->ready};

    for (size_t i = 0; i < s->n_jobs; i++)
        plan_unsync(&s->jobs[i]->plan);
    for (size_t i = 0; i < 2; i++) {
        while (lists[i]->head != NULL) {
            struct sched_run *r = lists[i]->head;

            sched_list_remove(lists[i], r);
            plan_run_dropped(&r->job->plan);
            s->in_flight--;
            free(r);
        }
    }
    s->synced = false;
    pthread_cond_broadcast(&s->idle);
}

/* The ids of this process's claimed runs, for the interrupted check. */
static size_t
own_run_ids(struct scheduler *s, int64_t *ids, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&s->mu);
    for (struct sched_run *r = s->running.head; r != NULL && n < max;
         r = r->next) {
        int64_t id =
            atomic_load_explicit(&r->exec.claimed_id, memory_order_relaxed);

        if (id > 0)
            ids[n++] = id;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The current jobs, for work done outside mu (jobs are never freed
 * before the scheduler).  NULL when out of memory. */
static struct sched_job **
jobs_snapshot(struct scheduler *s, size_t *n)
{
    struct sched_job **jobs;

    pthread_mutex_lock(&s->mu);
    *n = s->n_jobs;
    jobs = calloc(*n + 1, sizeof(*jobs));
    if (jobs != NULL)
        memcpy(jobs, s->jobs, *n * sizeof(*jobs));
    pthread_mutex_unlock(&s->mu);
    return jobs;
}

/* Apply what deskdb.job_runs says of `jobs` (under mu).  With `sync`, a
 * job added by a reload while it was read starts fresh at `now_s`. */
static void
apply_state(struct scheduler *s,
            struct sched_job **jobs,
            const struct history_job *h,
            size_t n,
            bool sync,
            int64_t now_s)
{
    for (size_t i = 0; i < n; i++) {
        struct sched_job *j = jobs[i];

        if (j->running == 0 || h[i].last.id > j->last.id)
            j->last = h[i].last;
        if (h[i].last_success_us > j->last_success_us)
            j->last_success_us = h[i].last_success_us;
        if (sync && !j->removed)
            plan_sync(&j->plan,
                      h[i].have_last_scheduled,
                      civil_floor_div(h[i].last_scheduled_us, 1000000),
                      now_s);
    }
    if (!sync)
        return;
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (!s->jobs[i]->plan.synced)
            plan_sync(&s->jobs[i]->plan, false, 0, now_s);
    }
    s->synced = true;
}

/* Read every job's state; `sync` also sets the planner's cursors. */
static int
load_state(struct scheduler *s,
           bool sync,
           int64_t now_s,
           struct deskdb_err *err)
{
    size_t n = 0;
    struct sched_job **jobs = jobs_snapshot(s, &n);
    const char **names = calloc(n + 1, sizeof(*names));
    struct history_job *h = calloc(n + 1, sizeof(*h));
    struct pool_conn *c = NULL;
    int rc;

    if (jobs == NULL || names == NULL || h == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        names[i] = jobs[i]->name;
    rc = pool_acquire_timeout(s->pool, &c, SCHED_DB_TIMEOUT_MS, err);
    if (rc == 0) {
        pool_conn_set_query_timeout(c, SCHED_DB_TIMEOUT_MS);
        rc = history_load(c, names, n, h, err);
    }
    pool_release(s->pool, c);
    if (rc != 0)
        goto out;
    pthread_mutex_lock(&s->mu);
    apply_state(s, jobs, h, n, sync, now_s);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        if (h[i].last_success_us > 0)
            metric_set(jobs[i]->m.last_success,
                       (double)h[i].last_success_us / 1e6);
        if (h[i].last.finished_us > 0)
            metric_set(jobs[i]->m.last_run,
                       (double)h[i].last.finished_us / 1e6);
    }
out:
    free(jobs);
    free(names);
    free(h);
    return rc;
}

int
sched_refresh(struct scheduler *s, struct deskdb_err *err)
{
    return load_state(s, false, 0, err);
}

/* Runs of a dead instance first, so that the state read next is true. */
static int
reconcile(struct scheduler *s, struct deskdb_err *err)
{
    int64_t ids[256];
    size_t n = own_run_ids(s, ids, 256);
    struct pool_conn *c = NULL;
    int marked = 0, rc;
    char b[24];

    rc = pool_acquire_timeout(s->pool, &c, SCHED_DB_TIMEOUT_MS, err);
    if (rc == 0) {
        pool_conn_set_query_timeout(c, SCHED_DB_TIMEOUT_MS);
        rc = history_reconcile(c, ids, n, &marked, err);
    }
    pool_release(s->pool, c);
    if (rc == 0 && marked > 0)
        log_warn("jobs",
                 "marked runs of a stopped instance as interrupted",
                 "runs",
                 log_i64(b, marked));
    return rc;
}

static bool
sync_state(struct scheduler *s, int64_t now_ms)
{
    struct deskdb_err err;
    int64_t mono = clock_mono(&s->clock);

    err_clear(&err);
    pthread_mutex_lock(&s->mu);
    if (mono < s->next_sync_ns) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    s->next_sync_ns = mono + SCHED_SYNC_RETRY_NS;
    pthread_mutex_unlock(&s->mu);
    if (reconcile(s, &err) != 0 ||
        load_state(s, true, civil_floor_div(now_ms, 1000), &err) != 0) {
        log_warn("jobs",
                 "cannot read deskdb.job_runs; scheduling waits",
                 "error",
                 err.msg);
        return false;
    }
    pthread_mutex_lock(&s->mu);
    s->next_reconcile_ns = mono + SCHED_RECONCILE_NS;
    s->next_prune_ns = mono + SCHED_PRUNE_FIRST_NS;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    log_info("jobs", "scheduling", "instance", s->instance);
    return true;
}

/* Move delayed runs whose time has come to the ready queue (under mu). */
static bool
release_delayed(struct scheduler *s, int64_t now_ms)
{
    struct sched_run *r = s->delayed.head, *next;
    bool any = false;

    for (; r != NULL; r = next) {
        next = r->next;
        if (r->start_at_ms > now_ms)
            continue;
        sched_list_remove(&s->delayed, r);
        sched_list_push(&s->ready, r);
        any = true;
    }
    return any;
}

static void
update_gauges(struct scheduler *s, bool leader)
{
    struct sched_job *jobs[64];
    int64_t next[64];
    size_t n;

    metric_set(s->leader_gauge, leader ? 1 : 0);
    /* In slices, the lock released while the registry is written; a
     * reload between two slices at worst skips or repeats a job until
     * the next tick. */
    for (size_t base = 0;; base += n) {
        pthread_mutex_lock(&s->mu);
        n = base < s->n_jobs ? s->n_jobs - base : 0;
        n = n < 64 ? n : 64;
        for (size_t i = 0; i < n; i++) {
            jobs[i] = s->jobs[base + i];
            next[i] = plan_next_fire(&jobs[i]->plan);
        }
        pthread_mutex_unlock(&s->mu);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            metric_set(jobs[i]->m.next_run,
                       next[i] == PLAN_NEVER ? 0 : (double)next[i]);
    }
}

static bool
step_leadership(struct scheduler *s)
{
    bool leader =
        s->leader == NULL || leader_step(s->leader, clock_mono(&s->clock));
    bool was;

    pthread_mutex_lock(&s->mu);
    was = s->is_leader;
    s->is_leader = leader && !s->stopping;
    if (!s->is_leader && s->synced)
        sched_unsync_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (was && !leader)
        log_warn("jobs", "not the leader any more: scheduling stopped");
    return leader;
}

void
scheduler_tick(struct scheduler *s, int64_t now_ns)
{
    struct emit_ctx c = {.s = s, .now_ms = now_ns / NS_PER_MS};
    bool leader = step_leadership(s), synced;

    pthread_mutex_lock(&s->mu);
    synced = s->synced;
    pthread_mutex_unlock(&s->mu);
    if (leader && !synced)
        synced = sync_state(s, c.now_ms);
    pthread_mutex_lock(&s->mu);
    if (leader && synced && s->synced && !s->stopping) {
        for (size_t i = 0; i < s->n_jobs; i++) {
            c.job = s->jobs[i];
            plan_tick(&c.job->plan, i, c.now_ms, NULL, NULL, on_action, &c);
        }
        c.started |= release_delayed(s, c.now_ms);
    }
    if (c.started)
        pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (c.dropped > 0)
        log_error("jobs", "out of memory: runs dropped");
    update_gauges(s, leader);
}

/* How long the loop may sleep: until the next fire time or delayed start,
 * the leader's next check, and at most SCHED_MAX_SLEEP_MS. */
static int64_t
sleep_ms(struct scheduler *s)
{
    int64_t now_ms = clock_real(&s->clock) / NS_PER_MS,
            wait = SCHED_MAX_SLEEP_MS;
    int64_t due;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_jobs; i++) {
        due = plan_next_fire(&s->jobs[i]->plan);
        if (due != PLAN_NEVER && due * 1000 - now_ms < wait)
            wait = due * 1000 - now_ms;
    }
    for (struct sched_run *r = s->delayed.head; r != NULL; r = r->next) {
        if (r->start_at_ms - now_ms < wait)
            wait = r->start_at_ms - now_ms;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->leader != NULL) {
        due = (leader_next_due(s->leader) - clock_mono(&s->clock)) / NS_PER_MS;
        if (due < wait)
            wait = due;
    }
    return wait < 1 ? 1 : wait;
}

/* Wait on `cv` (mu held) for up to `ms` of the system monotonic clock. */
static void
timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

void *
sched_loop_main(void *arg)
{
    struct scheduler *s = arg;
    int64_t wait;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        pthread_mutex_unlock(&s->mu);
        scheduler_tick(s, clock_real(&s->clock));
        wait = sleep_ms(s);
        pthread_mutex_lock(&s->mu);
        if (!s->stopping)
            timed_wait(&s->wake, &s->mu, wait);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

void
sched_run_done(struct scheduler *s, struct sched_run *r, int64_t duration_ns)
{
    struct sched_job *j = r->job;
    struct emit_ctx c = {.s = s,
                         .job = j,
                         .now_ms = clock_real(&s->clock) / NS_PER_MS};

    sched_metrics_run(s, r, duration_ns);
    pthread_mutex_lock(&s->mu);
    sched_list_remove(&s->running, r);
    j->running--;
    metric_set(j->m.running, j->running);
    if (r->exec.id != 0)
        sched_note_run(j, &r->exec);
    if (r->planned) {
        s->in_flight--;
        /* A removed job starts nothing more (not its pending run). */
        if (s->synced && !s->stopping && !j->removed)
            plan_run_finished(&j->plan, 0, c.now_ms, on_action, &c);
        else
            plan_run_dropped(&j->plan);
    }
    if (c.started)
        pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->idle);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (c.dropped > 0)
        log_error("jobs", "out of memory: runs dropped");
    free(r);
}

int
sched_reconcile(struct scheduler *s, struct deskdb_err *err)
{
    return reconcile(s, err);
}

void
sched_timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    timed_wait(cv, mu, ms);
}
