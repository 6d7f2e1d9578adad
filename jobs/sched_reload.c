/* SPDX-License-Identifier: MIT */
/* scheduler_reload(): a new jobs: section applied to a running scheduler,
 * jobs matched by name, runs in flight left to finish as they started. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_jobs.h"
#include "core/log.h"
#include "jobs/sched_internal.h"

/* What a reload does, prepared without the lock. */
struct reload {
    const struct config *cfg;
    size_t n;                /* definitions in the new file */
    struct jobdef **defs;    /* compiled, one per definition */
    struct sched_job **next; /* the new set: kept or new jobs */
    bool *added;             /* next[i] is new */
    bool *reschedule;        /* next[i] is kept, its schedule changed */
    struct sched_job **gone; /* current jobs not in the new file */
    size_t n_gone;
    size_t n_added, n_rescheduled;
};

static bool
str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

/* What makes the next fire time change: schedule, zone, enabled. */
static bool
schedule_differs(const struct config_job *a, const struct config_job *b)
{
    return a->enabled != b->enabled ||
           str_differs(a->schedule.value, b->schedule.value) ||
           str_differs(a->timezone.value, b->timezone.value);
}

static bool
in_next(const struct reload *p, const struct sched_job *j)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->next[i] == j)
            return true;
    }
    return false;
}

/* Undo a reload that failed before the switch. */
static void
reload_discard(struct reload *p)
{
    for (size_t i = 0; p->defs != NULL && i < p->n; i++) {
        if (p->added[i] && p->next[i] != NULL) {
            sched_metrics_forget(p->next[i]);
            sched_job_free(p->next[i]); /* frees defs[i] too */
        } else if (p->defs[i] != NULL) {
            jobdef_fini(p->defs[i]);
            free(p->defs[i]);
        }
    }
    free(p->next);
}

/* The work arrays (the definitions and jobs now belong elsewhere). */
static void
reload_free(struct reload *p)
{
    free(p->defs);
    free(p->added);
    free(p->reschedule);
    free(p->gone);
}

static int
reload_compile(struct reload *p, struct deskdb_err *err)
{
    const struct config_jobs *jobs = p->cfg->jobs;

    p->n = jobs->n_definitions;
    p->defs = calloc(p->n + 1, sizeof(*p->defs));
    p->next = calloc(p->n + 1, sizeof(*p->next));
    p->added = calloc(p->n + 1, sizeof(*p->added));
    p->reschedule = calloc(p->n + 1, sizeof(*p->reschedule));
    if (p->defs == NULL || p->next == NULL || p->added == NULL ||
        p->reschedule == NULL) {
        free(p->defs);
        p->defs = NULL; /* nothing to discard */
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n; i++) {
        int rc =
            sched_def_compile(p->cfg, &jobs->definitions[i], &p->defs[i], err);

        if (rc != DESKDB_OK)
            return rc;
    }
    return DESKDB_OK;
}

/* Match the new definitions to the current jobs; new jobs are created
 * (with their series) but not published. */
static int
reload_match(struct scheduler *s, struct reload *p, struct deskdb_err *err)
{
    for (size_t i = 0; i < p->n; i++) {
        /* Without mu: only reloads write the set, and they run on this
         * thread. */
        struct sched_job *j = sched_find(s, p->defs[i]->cfg->name);

        if (j != NULL) {
            p->next[i] = j;
            p->reschedule[i] = schedule_differs(j->def->cfg, p->defs[i]->cfg);
            p->n_rescheduled += p->reschedule[i];
            continue;
        }
        p->added[i] = true;
        p->next[i] = sched_job_new(s, p->defs[i]);
        if (p->next[i] == NULL) {
            p->defs[i] = NULL; /* freed by sched_job_new() */
            return err_set(err, DESKDB_ENOMEM, "out of memory");
        }
        p->n_added++;
    }
    p->gone = calloc(s->n_jobs + 1, sizeof(*p->gone));
    if (p->gone == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (!in_next(p, s->jobs[i]))
            p->gone[p->n_gone++] = s->jobs[i];
    }
    return DESKDB_OK;
}

/* Room for what the reload retires, taken before anything changes. */
static int
reload_reserve(struct scheduler *s, struct reload *p, struct deskdb_err *err)
{
    size_t kept = p->n - p->n_added;
    struct sched_job **gone;
    struct jobdef **defs;

    gone = realloc(s->gone, (s->n_gone + p->n_gone + 1) * sizeof(*gone));
    if (gone == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    s->gone = gone;
    defs = realloc(s->old_defs, (s->n_old_defs + kept + 1) * sizeof(*defs));
    if (defs == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    s->old_defs = defs;
    return DESKDB_OK;
}

/* Runs of `j` not started yet: dropped when the job is gone, else they
 * take its new definition (under mu). */
static void
update_waiting(struct scheduler *s, struct sched_job *j, bool gone)
{
    struct sched_list *lists[] = {&s->delayed, &s->ready};

    for (size_t i = 0; i < 2; i++) {
        struct sched_run *r = lists[i]->head, *next;

        for (; r != NULL; r = next) {
            next = r->next;
            if (r->job != j)
                continue;
            if (!gone) {
                r->exec.def = j->def;
                r->exec.cfg = s->cfg;
                continue;
            }
            sched_list_remove(lists[i], r);
            plan_run_dropped(&j->plan);
            s->in_flight--;
            free(r);
        }
    }
}

/* The switch, under mu: memory only. */
static void
reload_apply(struct scheduler *s, struct reload *p, int64_t now_s)
{
    s->cfg = p->cfg;
    s->max_running =
        p->cfg->jobs->max_concurrent > 0 ? p->cfg->jobs->max_concurrent : 1;
    for (size_t i = 0; i < p->n; i++) {
        struct sched_job *j = p->next[i];
        struct jobdef *d = p->defs[i];

        if (p->added[i]) {
            /* From now on: no fire time before the reload is due. */
            if (s->synced)
                plan_sync(&j->plan, false, 0, now_s);
            continue;
        }
        s->old_defs[s->n_old_defs++] = j->def;
        j->def = d;
        plan_job_redefine(&j->plan,
                          &d->expr,
                          d->tz,
                          d->cfg,
                          p->reschedule[i],
                          now_s);
        update_waiting(s, j, false);
    }
    for (size_t i = 0; i < p->n_gone; i++) {
        struct sched_job *j = p->gone[i];

        j->removed = true;
        plan_unsync(&j->plan);
        update_waiting(s, j, true);
        s->gone[s->n_gone++] = j;
    }
    s->n_jobs = p->n;
    /* The loop sleeps until the next fire time: wake it to recompute. */
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->idle);
}

/* A raised jobs.max_concurrent gets its workers (started schedulers). */
static void
grow_workers(struct scheduler *s, int want)
{
    pthread_t *w;

    if (want <= s->n_workers)
        return;
    w = realloc(s->workers, (size_t)want * sizeof(*w));
    if (w == NULL) {
        log_error("jobs", "cannot add workers", "error", "out of memory");
        return;
    }
    s->workers = w;
    while (s->n_workers < want) {
        if (pthread_create(&s->workers[s->n_workers],
                           NULL,
                           sched_worker_main,
                           s) != 0) {
            log_error("jobs", "cannot add workers", "error", strerror(errno));
            return;
        }
        s->n_workers++;
    }
}

static void
log_reload(const struct scheduler *s, const struct reload *p)
{
    char added[24], removed[24], total[24], moved[24];

    for (size_t i = 0; i < p->n; i++) {
        if (p->added[i])
            log_info("jobs", "job added", "job", p->next[i]->name);
    }
    for (size_t i = 0; i < p->n_gone; i++)
        log_info("jobs", "job removed", "job", p->gone[i]->name);
    log_info("jobs",
             "jobs reloaded",
             "jobs",
             log_i64(total, (int64_t)p->n),
             "added",
             log_i64(added, (int64_t)p->n_added),
             "removed",
             log_i64(removed, (int64_t)p->n_gone),
             "rescheduled",
             log_i64(moved, (int64_t)p->n_rescheduled));
    if (p->cfg->jobs->leader_mode != s->leader_mode ||
        (s->leader_mode == CONFIG_LEADER_ADVISORY_LOCK &&
         p->cfg->jobs->leader_key != s->leader_key))
        log_warn("jobs",
                 "jobs.leader changes need a restart; keeping the running "
                 "leadership",
                 "leader_mode",
                 s->leader_mode == CONFIG_LEADER_ADVISORY_LOCK ? "advisory_lock"
                                                               : "none");
}

int
scheduler_reload(struct scheduler *s,
                 const struct config *cfg,
                 struct deskdb_err *err)
{
    struct reload p = {.cfg = cfg};
    struct sched_job **old;
    bool grow;
    int want, rc;

    if (cfg == NULL || cfg->jobs == NULL)
        return err_set(err, DESKDB_EINVAL, "scheduler: no configuration");
    rc = reload_compile(&p, err);
    if (rc == DESKDB_OK)
        rc = reload_match(s, &p, err);
    if (rc == DESKDB_OK)
        rc = reload_reserve(s, &p, err);
    if (rc != DESKDB_OK) {
        reload_discard(&p);
        reload_free(&p);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    old = s->jobs;
    s->jobs = p.next; /* p.next stays readable: only reloads write it */
    reload_apply(s, &p, clock_real(&s->clock) / NS_PER_SEC);
    want = s->max_running;
    grow = s->started && !s->stopping;
    pthread_mutex_unlock(&s->mu);
    free(old);
    for (size_t i = 0; i < p.n_gone; i++)
        sched_metrics_forget(p.gone[i]);
    if (grow)
        grow_workers(s, want);
    log_reload(s, &p);
    reload_free(&p);
    return DESKDB_OK;
}
