/* SPDX-License-Identifier: MIT */
/* Transactions on the pool: BEGIN with an isolation level, the caller's
 * work, COMMIT; whole-transaction retries on serialization failures,
 * deadlocks and connection loss before COMMIT; savepoints; statistics. */
#ifndef DESKDB_CORE_TXN_H
#define DESKDB_CORE_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/backoff.h"
#include "core/err.h"
#include "core/pool.h"

struct txn;

/* The SQLSTATE (transaction_resolution_unknown) that txn_run() puts in
 * err->sqlstate, with DESKDB_ECONN, when the connection was lost after
 * COMMIT was sent: the transaction may or may not have committed. */
#define TXN_SQLSTATE_COMMIT_UNKNOWN "08007"

struct txn_options {
    enum config_isolation isolation;
    bool read_only;          /* BEGIN ... READ ONLY */
    bool deferrable;         /* with SERIALIZABLE READ ONLY: wait for a safe
                                snapshot instead of risking 40001 */
    int max_retries;         /* retries after the first attempt; 0: none */
    int64_t backoff_base_ms; /* full jitter between attempts */
    int64_t backoff_cap_ms;
    int64_t timeout_ms; /* all attempts and sleeps together; 0: none */
    const struct config_kv *settings; /* SET LOCAL key = value, in order */
    size_t n_settings;
    backoff_rand_fn rand; /* NULL: backoff_rand_system */
    void *rand_arg;
};

/* Options from the `transactions:` config section (no settings). */
void txn_options_from_config(const struct config_transactions *cfg,
                             struct txn_options *out);

/*
 * The work of one attempt.  Run statements with txn_query(); return 0 to
 * commit, or a negative status with `err` filled to roll back.  Returning
 * the error of a statement that failed with 40001 or 40P01 (or lost the
 * connection) makes txn_run() retry the whole callback, so the callback
 * must have no effects outside the database (send webhooks after COMMIT).
 */
typedef int (*txn_fn)(struct txn *t, void *arg, struct deskdb_err *err);

/*
 * Run `fn` in a transaction on a connection from `pool`: BEGIN ISOLATION
 * LEVEL ..., SET LOCAL statement_timeout to the remaining budget and the
 * configured settings, the callback, COMMIT.  Rolls back on error and
 * retries per txn_classify_failure() with full-jitter backoff within
 * max_retries and timeout_ms.  Blocks.  Returns 0 once committed, else
 * the last attempt's status: DESKDB_EPG (err->sqlstate set), DESKDB_ETIMEOUT,
 * DESKDB_ECONN (with TXN_SQLSTATE_COMMIT_UNKNOWN when the outcome of
 * COMMIT is unknown; never retried), the callback's own codes, or the
 * pool's (DESKDB_ECLOSED, acquire timeout).  The call site is recorded
 * for leak reports.
 */
#define txn_run(pool, opt, fn, arg, err) \
    txn_run_at((pool), (opt), (fn), (arg), __FILE__, __LINE__, __func__, (err))

int txn_run_at(struct pool *pool,
               const struct txn_options *opt,
               txn_fn fn,
               void *arg,
               const char *file,
               int line,
               const char *func,
               struct deskdb_err *err) DESKDB_MUSTCHECK;

/* pool_query() on the transaction's connection, bounded by its deadline. */
int txn_query(struct txn *t,
              const char *sql,
              int nparams,
              const char *const *params,
              struct pg_result **res,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

/* txn_query() without parameters or result. */
int txn_exec(struct txn *t,
             const char *sql,
             struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Savepoints for nested work.  `name` is an SQL identifier of letters,
 * digits and underscores (not starting with a digit, at most 63 bytes);
 * anything else is DESKDB_EINVAL.  After an error inside a savepoint,
 * txn_rollback_to() makes the transaction usable again.  These are for
 * partial rollback, not for retries: a 40001 needs the whole transaction
 * again (research/jobs.md (d) rule 1).
 */
int txn_savepoint(struct txn *t,
                  const char *name,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;
int txn_rollback_to(struct txn *t,
                    const char *name,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;
int txn_release(struct txn *t,
                const char *name,
                struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Which attempt is running: 1 for the first. */
int txn_attempt(const struct txn *t);

/* The connection the transaction runs on (for COPY and the like). */
struct pool_conn *txn_conn(struct txn *t);

/* ---- retry decisions (pure) ------------------------------------------ */

enum txn_retry_reason {
    TXN_RETRY_SERIALIZATION, /* 40001 */
    TXN_RETRY_DEADLOCK,      /* 40P01 */
    TXN_RETRY_CONNECTION,    /* lost before COMMIT was sent */
    TXN_RETRY_NREASONS
};

/* The `reason` label: serialization_failure, deadlock, connection. */
const char *txn_retry_reason_name(enum txn_retry_reason r);

enum txn_verdict {
    TXN_FAIL,                   /* roll back and report */
    TXN_RETRY_AS_SERIALIZATION, /* roll back, back off, run again */
    TXN_RETRY_AS_DEADLOCK,
    TXN_RETRY_AS_CONNECTION,
    TXN_COMMIT_UNKNOWN, /* COMMIT was sent and the answer lost: report */
};

/*
 * What to do after an attempt failed with status `code` and `sqlstate`
 * (may be empty).  `commit_sent`: the failure came from COMMIT or later.
 * `read_only`: the transaction was declared READ ONLY (then 25006 is the
 * caller's mistake; otherwise it means we reached a standby after a
 * failover, which a new connection fixes).
 */
enum txn_verdict txn_classify_failure(int code,
                                      const char *sqlstate,
                                      bool commit_sent,
                                      bool read_only);

/* True if `err` is txn_run()'s "COMMIT outcome unknown" error. */
bool txn_commit_unknown(const struct deskdb_err *err);

/* ---- statistics ------------------------------------------------------ */

struct txn_stats {
    uint64_t finished; /* txn_run() calls that returned */
    uint64_t committed;
    uint64_t rolled_back; /* returned an error (after any retries) */
    uint64_t commit_unknown;
    uint64_t retried; /* transactions that needed at least one retry */
    uint64_t retries[TXN_RETRY_NREASONS]; /* retries by reason */
    int in_progress;
    int64_t oldest_ns; /* age of the oldest transaction in progress */
    double avg_ms;     /* mean duration of finished transactions */
};

/* Statistics of the transactions run on `pool`.  Never blocks on I/O. */
void txn_stats_snapshot(struct pool *pool, struct txn_stats *out);

#endif
