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
    struct exec_run exec;
    size_t job;
    bool planned;        /* counted in the planner's in_flight */
    int64_t start_at_ms; /* not before (wall clock, epoch ms) */
    struct sched_run *prev, *next;
};

struct sched_list {
    struct sched_run *head, *tail;
    int n;
};

struct sched_job {
    struct jobdef def;
    struct plan_job plan; /* under scheduler.mu */
    struct job_metrics m;
    /* Under scheduler.mu: */
    struct scheduler_run_info last;
    int64_t last_success_us;
    int running; /* executing now, planned or manual */
};

struct scheduler {
    const struct config *cfg;
    struct pool *pool;
    struct clock clock;
    char instance[128];
    struct leader *leader; /* NULL with leader.mode none; loop-owned */
    struct sched_job *jobs;
    size_t n_jobs;
    struct metric *leader_gauge;

    pthread_mutex_t mu;        /* guards everything below */
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

/* Metrics: register the families (create), record a finished run. */
void sched_metrics_register(struct scheduler *s, struct metrics *m);
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

struct sched_job *sched_find(struct scheduler *s, const char *name);

#endif
