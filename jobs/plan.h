/* SPDX-License-Identifier: MIT */
/* The scheduler's decisions as pure functions: which fire times are due,
 * what the concurrency and misfire policies make of them, and jitter. */
#ifndef DESKDB_JOBS_PLAN_H
#define DESKDB_JOBS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config_jobs.h"
#include "core/backoff.h"
#include "jobs/cron.h"
#include "jobs/tz.h"

/*
 * Nothing here reads a clock, sleeps, locks or touches the database: the
 * scheduler feeds in the time and applies the actions, and the unit tests
 * drive the same functions with a manual clock.
 *
 * Fire times are whole seconds since the epoch (UTC).  Each job keeps a
 * cursor: every fire time at or before it has been dealt with (started,
 * queued or skipped).  A tick at time `now` looks at the fire times in
 * (cursor, now] and moves the cursor to now, so a fire time is decided
 * exactly once however the ticks fall: a tick that comes 70 s late still
 * sees the minute it missed, and when the wall clock steps back nothing
 * repeats (fire times before the cursor are never looked at again).
 *
 * Fire times at most PLAN_LATE_GRACE_S old are on time, however late the
 * tick; older ones were missed (the scheduler was down, not the leader,
 * or stalled) and follow the job's misfire policy:
 *   skip      every missed fire time is counted (reason "misfire"), none
 *             runs;
 *   run_once  the most recent missed fire time runs once, as a catch-up,
 *             unless an on-time fire time is due in the same tick (that
 *             run stands for it); the others are counted as skipped.
 * Counting stops at PLAN_COUNT_MAX missed fire times per tick.
 *
 * Concurrency, for each due fire time in order ("in flight" counts runs
 * started and not yet finished, including those waiting for a worker or
 * for their jitter):
 *   forbid   start when nothing is in flight, else skip ("overlap");
 *   allow    start while fewer than max_instances are in flight, else
 *            skip ("overlap");
 *   queue    start when nothing is in flight, else keep it as the one
 *            pending run (started as soon as the in-flight run finishes),
 *            else skip ("overlap"): never more than one waits;
 *   replace  start when nothing is in flight; else ask for the in-flight
 *            runs to be cancelled and keep this one pending, started when
 *            they have finished (so two never run at once).
 *
 * A start carries the time to begin: the fire time plus a uniform random
 * delay in [0, jitter] (whole milliseconds), never before the fire time.
 */

#define PLAN_LATE_GRACE_S 300
#define PLAN_COUNT_MAX    100000
/* A step back of the wall clock larger than this re-bases the cursor at
 * the new time instead of waiting for the clock to catch up (Vixie cron's
 * "large jump"); deskdb.job_runs still refuses to run a fire time twice. */
#define PLAN_CLOCK_BACK_RESET_S (3 * 3600)
/* No next fire time. */
#define PLAN_NEVER INT64_MAX

enum plan_trigger {
    PLAN_TRIGGER_SCHEDULE, /* on time */
    PLAN_TRIGGER_CATCHUP,  /* misfire: run_once */
    PLAN_TRIGGER_QUEUED,   /* waited behind a running one (queue, replace) */
    PLAN_TRIGGER_MANUAL,   /* deskdb jobs run, not planned here */
};

/* The `trigger` column: "schedule", "catchup", "queued", "manual". */
const char *plan_trigger_name(enum plan_trigger t);

enum plan_skip_reason {
    PLAN_SKIP_OVERLAP,   /* concurrency policy */
    PLAN_SKIP_MISFIRE,   /* missed during downtime, misfire: skip */
    PLAN_SKIP_GUARD,     /* only_if returned false (decided by the run) */
    PLAN_SKIP_DUPLICATE, /* deskdb.job_runs already has this fire time */
    PLAN_SKIP_NREASONS
};

/* The `reason` label: "overlap", "misfire", "guard", "duplicate". */
const char *plan_skip_reason_name(enum plan_skip_reason r);

enum plan_action_kind {
    PLAN_START,          /* begin a run at start_at_ms */
    PLAN_SKIP,           /* count `count` skipped fire times */
    PLAN_CANCEL_RUNNING, /* replace: cancel the runs in flight */
};

struct plan_action {
    enum plan_action_kind kind;
    size_t job;            /* the index given to plan_tick() */
    int64_t scheduled_for; /* START: the fire time; SKIP: the latest one */
    int64_t start_at_ms;   /* START: not before (epoch milliseconds) */
    enum plan_trigger trigger;
    enum plan_skip_reason reason; /* SKIP */
    uint64_t count;               /* SKIP: fire times it stands for */
};

typedef void (*plan_emit_fn)(void *arg, const struct plan_action *a);

/* What the planner knows of one job.  The definition part is set once by
 * plan_job_init(); the rest is the planner's. */
struct plan_job {
    struct cron_expr expr;
    const struct tz *tz; /* borrowed; NULL means UTC */
    enum config_job_concurrency concurrency;
    int max_instances;
    enum config_job_misfire misfire;
    int64_t jitter_ms;
    bool enabled;

    bool synced;         /* the cursor is set (plan_sync()) */
    int64_t cursor;      /* fire times <= cursor are dealt with */
    int64_t next_fire;   /* first fire time after the cursor, PLAN_NEVER */
    int in_flight;       /* started, not finished */
    bool pending;        /* queue / replace: one run waits */
    int64_t pending_for; /* its fire time */
    bool cancel_asked;   /* replace: cancel requested for those in flight */
};

void plan_job_init(struct plan_job *j,
                   const struct cron_expr *expr,
                   const struct tz *tz,
                   const struct config_job *cfg);

/*
 * Give `j` a new definition (a configuration reload) and keep what the
 * planner knows: the cursor, the runs in flight, a pending run and a
 * cancel already asked, so the concurrency policy still sees the runs
 * started under the old definition.  With `reschedule` (the schedule, the
 * zone or `enabled` changed) a synced job's cursor moves up to `now_s`
 * and its next fire time is computed after it: no fire time of the new
 * schedule before the reload is due.  Without, the next fire time is kept.
 */
void plan_job_redefine(struct plan_job *j,
                       const struct cron_expr *expr,
                       const struct tz *tz,
                       const struct config_job *cfg,
                       bool reschedule,
                       int64_t now_s);

/*
 * Set the cursor when scheduling (re)starts, e.g. on becoming the leader.
 * `have_last`: deskdb.job_runs has a scheduled run of this job, the
 * latest at `last_s`; then fire times after it and up to now are due at
 * the next tick (on time or missed).  Without one, the job starts fresh
 * at `now_s`: nothing before it is due.  Runs in flight and a pending run
 * are kept.
 */
void
plan_sync(struct plan_job *j, bool have_last, int64_t last_s, int64_t now_s);

/* Forget the cursor and any pending run (leadership lost); runs in flight
 * stay counted until they finish. */
void plan_unsync(struct plan_job *j);

/*
 * Decide every fire time in (cursor, now_ms / 1000] of job number `idx`
 * and report the decisions through `emit`, in order.  `rand` (NULL:
 * backoff_rand_system) draws the jitter.  Does nothing for a disabled or
 * unsynced job.
 */
void plan_tick(struct plan_job *j,
               size_t idx,
               int64_t now_ms,
               backoff_rand_fn rand,
               void *rand_arg,
               plan_emit_fn emit,
               void *emit_arg);

/*
 * A run of job `idx` finished (planned runs only; manual runs are not
 * counted in flight).  When it was the last in flight and a run is
 * pending, emits its START (trigger queued) at once, at `now_ms`.
 */
void plan_run_finished(struct plan_job *j,
                       size_t idx,
                       int64_t now_ms,
                       plan_emit_fn emit,
                       void *emit_arg);

/* A planned start was dropped before it began (leadership lost, shutdown):
 * the same bookkeeping as a finish, without starting the pending run. */
void plan_run_dropped(struct plan_job *j);

/* The next fire time of the job at or after the cursor (PLAN_NEVER when
 * disabled, unsynced or never firing). */
int64_t plan_next_fire(const struct plan_job *j);

/* The first fire time strictly after `after_s` for a job that is not
 * synced (display on a follower), or PLAN_NEVER. */
int64_t plan_next_after(const struct plan_job *j, int64_t after_s);

#endif
