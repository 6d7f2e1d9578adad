/* SPDX-License-Identifier: MIT */
/* Private to jobs/sched*.c: the scheduler's structures and the helpers
 * its files share. */
#ifndef DESKDB_JOBS_SCHED_INTERNAL_H
#define DESKDB_JOBS_SCHED_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/metrics.h"
#include "jobs/exec.h"
#include "jobs/jobdef.h"
#include "jobs/leader.h"
#include "jobs/plan.h"
#include "jobs/scheduler.h"

/* Housekeeping periods. */
#define SCHED_RECONCILE_NS (30 * NS_PER_SEC)
#define SCHED_REFRESH_NS   (30 * NS_PER_SEC)
#define SCHED_PRUNE_NS     (3600 * NS_PER_SEC)
/* The first prune after taking the lead waits this long. */
#define SCHED_PRUNE_FIRST_NS (60 * NS_PER_SEC)
/* One prune pass deletes at most this many batches. */
#define SCHED_PRUNE_MAX_BATCHES 100
/* The planning loop sleeps at most this long. */
#define SCHED_MAX_SLEEP_MS 1000
/* Database work of the loop and housekeeping is bounded by this. */
#define SCHED_DB_TIMEOUT_MS 5000
/* A failed load of deskdb.job_runs is retried after this. */
#define SCHED_SYNC_RETRY_NS (5 * NS_PER_SEC)
/* scheduler_stop(): after cancelling, wait this much longer. */
#define SCHED_STOP_GRACE_MS 5000
/* Waiting runs in the ready queue may not exceed this (a bound that the
 * planner's concurrency policies keep far away). */
#define SCHED_CANCEL_QUEUE_MAX 256

struct job_metrics {
    struct metric *runs;
    struct metric *failures;
    struct metric *duration;
    struct metric *last_success;
    struct metric *last_run;
    struct metric *running;
    struct metric *next_run;
    struct metric *retries;
    struct metric *skipped[PLAN_SKIP_NREASONS];
};

/* One run between the planner's decision and its end. */
struct sched_run {
    struct exec_run exec;  /* exec.def: the definition it runs with */
    struct sched_job *job; /* outlives the run (scheduler_destroy()) */
    bool planned;          /* counted in the planner's in_flight */
    int64_t start_at_ms;   /* not before (wall clock, epoch ms) */
    struct sched_run *prev, *next;
};

struct sched_list {
    struct sched_run *head, *tail;
    int n;
};

/*
 * A job, known by its name for the scheduler's life: a reload gives it a
 * new definition, or marks it removed.  Neither a job nor any definition
 * it had is freed before scheduler_destroy(), so runs and readers that
 * took a pointer under mu may keep using it after a reload.
 */
struct sched_job {
    const char *name;     /* the first definition's; never changes */
    struct job_metrics m; /* set before the job is published */
    /* Under scheduler.mu: */
    struct jobdef *def; /* the current definition */
    struct plan_job plan;
    struct scheduler_run_info last;
    int64_t last_success_us;
    int running; /* executing now, planned or manual */
    bool removed;
};

/* The deskdb_job_* families. */
#define SCHED_N_FAMILIES 9

struct scheduler {
    struct pool *pool;
    struct clock clock;
    char instance[128];
    struct leader *leader; /* NULL with leader.mode none; loop-owned */
    enum config_leader_mode leader_mode; /* as created: a reload keeps */
    int64_t leader_key;
    struct metric *leader_gauge;
    struct metric_family *families[SCHED_N_FAMILIES]; /* NULL: no metrics */
    /* Written by scheduler_reload() only, on the thread that owns the
     * life cycle: removed jobs and replaced definitions, kept until
     * scheduler_destroy(). */
    struct sched_job **gone;
    size_t n_gone;
    struct jobdef **old_defs;
    size_t n_old_defs;

    pthread_mutex_t mu;       /* guards everything below */
    const struct config *cfg; /* the latest (reload) */
    struct sched_job **jobs;  /* the current set, by pointer */
    size_t n_jobs;
    int max_running;           /* jobs.max_concurrent */
    int busy;                  /* workers running a job */
    pthread_cond_t wake;       /* the loop and housekeeping */
    pthread_cond_t work;       /* workers: a run is ready, or stop */
    pthread_cond_t idle;       /* a run finished */
    struct sched_list delayed; /* waiting for start_at_ms */
    struct sched_list ready;   /* waiting for a worker */
    struct sched_list running; /* executing (planned and manual) */
    int in_flight;             /* delayed + ready + running, planned */
    bool is_leader;
    bool synced;
    bool started;
    bool stopping; /* no new runs */
    bool workers_exit;
    bool control_exit;
    int cancel_pids[SCHED_CANCEL_QUEUE_MAX]; /* backends to cancel */
    int n_cancel;
    int64_t next_reconcile_ns, next_prune_ns, next_refresh_ns;
    int64_t next_sync_ns; /* after a failed sync, not before */

    pthread_t loop_thread, control_thread;
    pthread_t *workers;
    int n_workers;
    bool loop_running, control_running;
    bool inited; /* mu and the condition variables exist */
};

/* Lists (under mu). */
void sched_list_push(struct sched_list *l, struct sched_run *r);
void sched_list_remove(struct sched_list *l, struct sched_run *r);

/* Metrics: register the families (create), create or take out the
 * series of one job (not under mu), record a finished run. */
void sched_metrics_register(struct scheduler *s, struct metrics *m);
void sched_metrics_job(struct scheduler *s, struct sched_job *j);
void sched_metrics_forget(struct sched_job *j);
void sched_metrics_run(struct scheduler *s,
                       const struct sched_run *r,
                       int64_t duration_ns);

/* A run finished (worker or manual): bookkeeping under the lock, metrics
 * and the log line outside it. */
void
sched_run_done(struct scheduler *s, struct sched_run *r, int64_t duration_ns);

/* Copy a finished run into the job's latest-run summary (under mu). */
void sched_note_run(struct sched_job *j, const struct exec_run *e);

/* Threads. */
void *sched_loop_main(void *arg);
void *sched_worker_main(void *arg);
void *sched_control_main(void *arg);

/* Ask for `pid` to be cancelled by the housekeeping thread (under mu). */
void sched_queue_cancel(struct scheduler *s, int pid);

/* Cancel backends now with pg_cancel_backend() (not under mu). */
void sched_cancel_backends(struct scheduler *s, const int *pids, int n);

/* Lose or give up the lead: forget cursors, drop runs not started (the
 * caller holds mu). */
void sched_unsync_locked(struct scheduler *s);

/* Refresh last runs from deskdb.job_runs (not under mu). */
int sched_refresh(struct scheduler *s, struct deskdb_err *err);

/* Mark runs of dead instances interrupted (not under mu). */
int sched_reconcile(struct scheduler *s, struct deskdb_err *err);

/* Wait on `cv` (with `mu` held) for at most `ms` milliseconds. */
void sched_timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);

/* The current job named `name`, or NULL (under mu). */
struct sched_job *sched_find(struct scheduler *s, const char *name);

/* A job for compiled definition `def` (taken over), not yet published;
 * NULL when out of memory (`def` is then freed). */
struct sched_job *sched_job_new(struct scheduler *s, struct jobdef *def);

/* Free a job and its current definition. */
void sched_job_free(struct sched_job *j);

/* Compile job `job` of `cfg` into a new definition. */
int sched_def_compile(const struct config *cfg,
                      const struct config_job *job,
                      struct jobdef **out,
                      struct deskdb_err *err);

#endif
