/* SPDX-License-Identifier: MIT */
/* Running one job run: claim its row, guard, the work of its type with
 * timeout, retries and cancellation, and the row's final status. */
#ifndef DESKDB_JOBS_EXEC_H
#define DESKDB_JOBS_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/err.h"
#include "jobs/history.h"
#include "jobs/jobdef.h"
#include "jobs/plan.h"

struct pool;
struct pool_conn;

/* How long finishing the row may take after the run's own deadline. */
#define EXEC_FINISH_TIMEOUT_MS 10000
/* Cancel checks while sleeping (pauses, backoff) happen this often. */
#define EXEC_SLEEP_SLICE_MS 100
/* The server-side statement_timeout is the client deadline plus this, a
 * backstop: the client cancels first and can tell a timeout apart. */
#define EXEC_SERVER_TIMEOUT_SLACK_MS 1000

/*
 * One run.  The scheduler fills the first part, calls exec_run() on a
 * worker thread, and reads the result part afterwards.  `cancel` and
 * `work_pid` are shared with other threads (replace, shutdown).
 */
struct exec_run {
    struct pool *pool;
    const struct jobdef *def;
    const char *instance;
    const struct clock *clock; /* realtime stamps of the run */
    const struct config *cfg;  /* import: transactions:, operations: */
    int64_t scheduled_for_us;
    enum plan_trigger trigger;
    backoff_rand_fn rand; /* NULL: backoff_rand_system */
    void *rand_arg;
    _Atomic bool cancel;        /* stop: statements are cancelled by pid */
    _Atomic int work_pid;       /* the backend doing the work, 0 if none */
    _Atomic int64_t claimed_id; /* `id`, for other threads */

    int64_t id;     /* deskdb.job_runs.id once claimed, else 0 */
    bool duplicate; /* the fire time was already in deskdb.job_runs */
    enum run_status status;
    int attempts; /* 1 + retries */
    int64_t rows; /* rows affected, -1 unknown */
    int64_t started_us, finished_us;
    struct deskdb_err err; /* why it failed, timed out or was cancelled */
    char note[256];
    bool recorded; /* the row's final status was written */
};

/*
 * Run `r` to the end in the calling thread.  Never fails as a call: the
 * outcome is in r->status and r->err, and (when the row could be
 * claimed) in deskdb.job_runs.  A duplicate fire time sets r->duplicate
 * and runs nothing.
 */
void exec_run(struct exec_run *r);

/* ---- shared by the job types (exec_*.c) ----------------------------- */

/* State while the work runs: the claiming connection, the deadline. */
struct exec_ctx {
    struct exec_run *r;
    struct pool_conn *conn; /* checked out for the whole run */
    int64_t start_ns;       /* pool monotonic clock */
    int64_t deadline_ns;
    char run_id[24];
    char scheduled_for[JOBS_TIME_MAX];
    int retries;
};

/* Milliseconds left before the run's deadline (at least 1). */
int64_t exec_left_ms(const struct exec_ctx *x);

/* The run was asked to stop. */
bool exec_cancelled(const struct exec_ctx *x);

/* Sleep up to `ms`, in slices, returning early when cancelled; false if
 * cancelled or the deadline would pass. */
bool exec_sleep(struct exec_ctx *x, int64_t ms);

/* Bind parameters of `t` for this run. */
void exec_params(const struct exec_ctx *x,
                 const struct sqltext *t,
                 const char *out[SQLTEXT_MAX_PARAMS]);

/*
 * Whether a failed statement is worth another attempt: serialization
 * failure, deadlock, lock timeout, and (when `reconnect_ok`, for work
 * that is safe to repeat) a lost connection.  When it is, sleeps the
 * full-jitter backoff of the job's retry settings and returns true; false
 * when attempts, the deadline or a cancel say stop.
 */
bool exec_retry(struct exec_ctx *x,
                int attempt,
                const struct deskdb_err *err,
                bool reconnect_ok);

/* After a lost connection: a fresh one, set up as the first was and
 * recorded as the run's backend. */
int exec_reconnect(struct exec_ctx *x, bool session, struct deskdb_err *err);

/* Session settings for autocommit work (statement_timeout from the
 * deadline, client_connection_check_interval, the job's settings), and
 * their undoing. */
int exec_session_apply(struct exec_ctx *x, struct deskdb_err *err);
void exec_session_reset(struct exec_ctx *x);

/* SELECT set_config(...) for the job's settings plus statement_timeout
 * and client_connection_check_interval, `local` or for the session. */
int exec_set_config(struct exec_ctx *x,
                    struct pool_conn *c,
                    bool local,
                    struct deskdb_err *err);

/* Rows a statement returned or affected, -1 when it says nothing. */
struct pg_result;
int64_t exec_result_rows(struct pg_result *res);

/* The work of each type; 0 or a failure with `err` set.  *rows as
 * r->rows. */
int exec_sql(struct exec_ctx *x, struct deskdb_err *err);
int exec_maintenance(struct exec_ctx *x, struct deskdb_err *err);
int exec_purge(struct exec_ctx *x, struct deskdb_err *err);
int exec_batch(struct exec_ctx *x, struct deskdb_err *err);
int exec_import(struct exec_ctx *x, struct deskdb_err *err);

#endif
