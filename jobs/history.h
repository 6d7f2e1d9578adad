/* SPDX-License-Identifier: MIT */
/* deskdb.job_runs: claiming a run, finishing it, marking interrupted runs,
 * pruning, and reading back what the scheduler needs. */
#ifndef DESKDB_JOBS_HISTORY_H
#define DESKDB_JOBS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "jobs/plan.h"
#include "jobs/scheduler.h"

struct pool_conn;

/* The statuses of the table's check constraint. */
enum run_status {
    RUN_RUNNING,
    RUN_SUCCEEDED,
    RUN_FAILED,
    RUN_TIMED_OUT,
    RUN_CANCELLED,
    RUN_SKIPPED,
    RUN_INTERRUPTED,
};

const char *run_status_name(enum run_status s);

/* Rows removed per transaction when pruning. */
#define HISTORY_PRUNE_BATCH 1000

/*
 * Insert the run's row (status running, backend_pid of `c`) unless the
 * fire time already has one.  Returns 0 with *id set, DESKDB_EEXIST when
 * (job, scheduled_for) is taken, or the pool's error.
 */
int history_claim(struct pool_conn *c,
                  const char *job,
                  int64_t scheduled_for_us,
                  enum plan_trigger trigger,
                  const char *instance,
                  int64_t *id,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Record `c`'s backend as the run's (after reconnecting). */
int history_set_backend(struct pool_conn *c,
                        int64_t id,
                        struct deskdb_err *err) DESKDB_MUSTCHECK;

struct history_result {
    enum run_status status;
    int attempts;
    int64_t rows;      /* -1: NULL */
    const char *error; /* NULL or one line */
    const char *note;  /* NULL or one line */
};

/* Finish a running row.  DESKDB_ENOTFOUND when it is no longer running
 * (marked interrupted meanwhile). */
int history_finish(struct pool_conn *c,
                   int64_t id,
                   const struct history_result *r,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Mark 'running' rows whose backend is gone as 'interrupted', except the
 * ids in `keep` (this process's runs).  *marked gets the count.
 */
int history_reconcile(struct pool_conn *c,
                      const int64_t *keep,
                      size_t n_keep,
                      int *marked,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Delete up to HISTORY_PRUNE_BATCH finished rows started more than
 * `retention_ms` ago, keeping each job's latest scheduled (non-manual)
 * run, which missed-run detection reads.  *deleted gets the count.
 */
int history_prune(struct pool_conn *c,
                  int64_t retention_ms,
                  int64_t *deleted,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;

/* What deskdb.job_runs says about one job. */
struct history_job {
    bool have_last_scheduled;       /* a non-manual run exists */
    int64_t last_scheduled_us;      /* its latest scheduled_for */
    struct scheduler_run_info last; /* id 0: none */
    int64_t last_success_us;        /* finished_at, 0: none */
};

/* Read `n` jobs at once (one round trip).  `out` has n entries. */
int history_load(struct pool_conn *c,
                 const char *const *names,
                 size_t n,
                 struct history_job *out,
                 struct deskdb_err *err) DESKDB_MUSTCHECK;

/* A running row of `job` whose backend is alive: *id (0: none) and its
 * instance. */
int history_find_running(struct pool_conn *c,
                         const char *job,
                         int64_t *id,
                         char instance[128],
                         struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif
