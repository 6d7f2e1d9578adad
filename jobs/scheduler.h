/* SPDX-License-Identifier: MIT */
/* The job scheduler: leadership, planning, the worker threads that run
 * jobs, run history in deskdb.job_runs, job metrics and /api/jobs. */
#ifndef DESKDB_JOBS_SCHEDULER_H
#define DESKDB_JOBS_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

struct pool;
struct metrics;
struct scheduler;

/*
 * How it works (the README has the operator's version):
 *
 * - Leadership.  With jobs.leader.mode advisory_lock, one thread holds a
 *   dedicated connection (never a pooled one: session advisory locks are
 *   re-entrant per session) and calls pg_try_advisory_lock(key) every 2 s
 *   until it gets it; then checks that connection every second with a
 *   3 s deadline.  A lost or stalled lock connection stops scheduling at
 *   once; runs already started finish.  With mode none every instance
 *   schedules (deskdb.job_runs still runs each fire time once).
 * - Exactly once.  A run begins by inserting its row, (job,
 *   scheduled_for) unique, status running: INSERT ... ON CONFLICT DO
 *   NOTHING RETURNING id.  No row back means another instance has it, and
 *   the run is not executed.  So even two leaders at once (a partition)
 *   never run one fire time twice.
 * - Interrupted runs.  The claiming connection stays checked out until
 *   the row is finished, and its backend pid is recorded: a 'running' row
 *   whose backend is gone belongs to a deskdb that died.  The leader marks
 *   such rows 'interrupted' when it takes over and every 30 s after.
 * - Workers.  jobs.max_concurrent threads run jobs on pooled connections;
 *   planning never waits for them.  Housekeeping (history pruning, replace
 *   cancels, the interrupted-run check) has its own thread.
 * - Reload.  scheduler_reload() matches jobs by name and swaps their
 *   definitions under the lock.  No job or definition is freed before
 *   scheduler_destroy(), so a run in flight keeps the definition it
 *   started with and the job it counts against.
 */

/*
 * Create a scheduler for cfg->jobs.  Every job definition is compiled
 * (schedules, zones, SQL) and a bad one fails the call with its
 * file:line:column (DESKDB_EINVAL).  `pool` runs the jobs and the history
 * writes, `metrics` (may be NULL) gets the deskdb_job_* and
 * deskdb_scheduler_* families, `clock` (NULL: clock_system) drives the
 * cron planning (realtime) and waits, and `conninfo` (may be NULL when
 * leader.mode is none) opens the leader-lock connection; it is copied
 * and never logged.  `cfg`, `pool` and `metrics` are borrowed and must
 * outlive the scheduler.  Starts no thread and touches no database.
 */
struct scheduler *scheduler_create(const struct config *cfg,
                                   struct pool *pool,
                                   struct metrics *metrics,
                                   const struct clock *clock,
                                   const char *conninfo,
                                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Apply `cfg`'s jobs: section to a scheduler, started or not (SIGHUP).
 * Every definition is compiled first; a bad one fails the call with
 * DESKDB_EINVAL (file:line:column) and changes nothing.  Jobs are matched
 * by name:
 *   - an added job is scheduled from now on: no fire time before the
 *     reload is due (misfire does not apply to it);
 *   - a removed job never fires again; its runs waiting for their jitter
 *     or for a worker are dropped, a run in progress finishes and is
 *     recorded as usual, and its deskdb_job_* series are taken out of the
 *     registry;
 *   - a kept job takes the new definition (type, SQL, steps, timeout,
 *     retry, concurrency, misfire, ...) from its next run, and runs not
 *     started yet take it too; a run in progress finishes with the one it
 *     started with.  Its next fire time is computed again from now when
 *     the schedule, the time zone (its own or jobs.timezone) or `enabled`
 *     changed, and kept otherwise.  Runs in flight still count for its
 *     concurrency policy (a forbid job does not start a second run).
 * jobs.max_concurrent (workers are added at once; when lowered, the
 * extra ones wait) and jobs.history_retention apply too.  jobs.leader
 * (mode and key) is not changed on a running leadership: a change is
 * logged as needing a restart.
 *
 * `cfg` is borrowed, and every configuration the scheduler was given
 * must outlive it: runs in flight and retired definitions point into
 * them.  Definitions replaced and jobs removed are kept until
 * scheduler_destroy().  Call from the thread that owns the scheduler's
 * life cycle (not concurrently with create/start/stop/destroy or another
 * reload); the loop, the workers, /api/jobs and the metrics go on
 * meanwhile.  Touches no database.  Returns 0, DESKDB_EINVAL or
 * DESKDB_ENOMEM.
 */
int scheduler_reload(struct scheduler *s,
                     const struct config *cfg,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Start the planning loop, the workers and the housekeeping thread.
 * Returns 0, DESKDB_EIO when a thread cannot start, or DESKDB_EINVAL when
 * already started. */
int scheduler_start(struct scheduler *s,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Stop planning at once (no new run starts, runs waiting for their jitter
 * or for a running one are dropped), give up leadership, and wait up to
 * `deadline_ms` for the runs in progress.  Past it, those runs are
 * cancelled (their statements too) and recorded as 'cancelled', and the
 * wait continues for a short grace.  Returns 0, or DESKDB_ETIMEOUT if
 * some run still had not finished: shut the pool down (which aborts its
 * connections) before scheduler_destroy(), which joins the threads.
 * Idempotent; a no-op on a scheduler never started.
 */
int scheduler_stop(struct scheduler *s, int64_t deadline_ms);

/* Stop (5 s) if needed, join the threads and free.  NULL is a no-op. */
void scheduler_destroy(struct scheduler *s);

/*
 * One pass of the planning loop at wall time `now_ns` (epoch
 * nanoseconds): leadership (when scheduler_start() has not started the
 * loop, the caller owns it), loading state from deskdb.job_runs when
 * scheduling (re)starts, the planner, and handing due runs to the
 * workers.  Blocks on the leader connection and the pool for at most a
 * few seconds.  For tests with a manual clock; scheduler_start() calls it
 * itself.
 */
void scheduler_tick(struct scheduler *s, int64_t now_ns);

/* Runs handed to workers and not finished, over all jobs (for tests). */
int scheduler_in_flight(struct scheduler *s);

/*
 * Run job `name` once, now, in the calling thread (deskdb jobs run),
 * whatever its schedule and `enabled`: recorded in deskdb.job_runs with
 * scheduled_for = now and trigger 'manual'.  For forbid, queue and
 * replace jobs a run in progress anywhere (a 'running' row with a live
 * backend) makes it refuse with DESKDB_EBUSY.  Returns 0 when the run
 * succeeded or was skipped by only_if, else the failure (DESKDB_EPG,
 * DESKDB_ETIMEOUT, ...) with `err` saying why; DESKDB_ENOTFOUND for an
 * unknown job.  scheduler_last_run() then describes the run.  The outcome
 * is logged at debug level only: the caller reports it.
 */
int scheduler_run_now(struct scheduler *s,
                      const char *name,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/* A run as recorded (times are epoch microseconds, 0 when unknown). */
struct scheduler_run_info {
    int64_t id; /* deskdb.job_runs.id, 0 if there is no run */
    char status[16];
    char trigger[16];
    int64_t scheduled_for_us;
    int64_t started_us;
    int64_t finished_us;
    int attempts;
    int64_t rows; /* -1 when not known */
    char error[512];
    char note[256];
    char instance[128];
};

/* The latest run of `name` known to this process (its own runs, and what
 * scheduler_refresh() or taking the lead read).  Returns 0, or
 * DESKDB_ENOTFOUND for an unknown job.  Never blocks on I/O. */
int scheduler_last_run(struct scheduler *s,
                       const char *name,
                       struct scheduler_run_info *out);

/* Read every job's latest run and latest success from deskdb.job_runs
 * (what deskdb jobs list shows).  Blocks on the pool.  Errors are the
 * pool's (DESKDB_ECONN, DESKDB_ETIMEOUT, DESKDB_EPG). */
int scheduler_refresh(struct scheduler *s,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The next fire time of `name` after the wall time `after_s` (epoch
 * seconds), or INT64_MAX (disabled, never).  Pure. */
int64_t
scheduler_next_fire(struct scheduler *s, const char *name, int64_t after_s);

/* Whether this instance currently schedules (holds the lock, or mode
 * none). */
bool scheduler_is_leader(struct scheduler *s);

/* This instance's name in deskdb.job_runs.instance: "host:pid". */
const char *scheduler_instance(const struct scheduler *s);

/*
 * /api/jobs: {"instance", "leader", "leader_mode", "jobs": [{"name",
 * "type", "schedule", "timezone", "enabled", "concurrency", "running",
 * "next_run" (UTC ISO-8601 or null), "next_run_local", "last_run": {"id",
 * "status", "trigger", "scheduled_for", "started", "finished",
 * "attempts", "rows_affected", "error", "note", "instance"} or null,
 * "last_success" or null}]}.  Matches api_json_fn (`scheduler` is the
 * struct scheduler).  Never blocks on the database.  Returns 0,
 * DESKDB_ENOMEM, or DESKDB_EBUSY when `out` is full.
 */
int scheduler_json(void *scheduler, struct buf *out);

#endif
