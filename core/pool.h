/* SPDX-License-Identifier: MIT */
/* The PostgreSQL connection pool: checkout with a FIFO of waiters, the
 * one query executor with client-side deadlines, health, statistics. */
#ifndef DESKDB_CORE_POOL_H
#define DESKDB_CORE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

struct metrics;
struct querylog;
struct pool;
struct pool_conn;
/* libpq's PGconn and PGresult; include <libpq-fe.h> to use them. */
struct pg_conn;
struct pg_result;

/* Why a connection was closed: the `reason` label of
 * deskdb_pool_connections_closed_total. */
enum pool_close_reason {
    POOL_CLOSE_IDLE_TIMEOUT,      /* idle too long while above min */
    POOL_CLOSE_MAX_LIFETIME,      /* older than max_lifetime */
    POOL_CLOSE_VALIDATION_FAILED, /* found dead on checkout or by the janitor */
    POOL_CLOSE_BROKEN,            /* lost while in use (server gone, reset) */
    POOL_CLOSE_TIMEOUT,  /* a query overran its deadline and did not stop */
    POOL_CLOSE_DIRTY,    /* returned inside a transaction or mid-query */
    POOL_CLOSE_SHUTDOWN, /* the pool was shut down */
    POOL_CLOSE_NREASONS
};

const char *pool_close_reason_name(enum pool_close_reason r);

/* A point-in-time view for the JSON API and the seed's getMetrics(). */
struct pool_stats {
    int min, max;
    int total;              /* open or opening: every state below but waiting */
    int idle;               /* open, in the pool */
    int active;             /* checked out */
    int connecting;         /* connection attempts in progress */
    int validating;         /* being checked by the janitor */
    int closing;            /* being closed */
    int waiting;            /* callers queued in pool_acquire() */
    int leak_suspects;      /* checked out longer than the threshold */
    int64_t oldest_wait_ns; /* longest current wait, 0 if none */
    int64_t oldest_checkout_ns; /* longest current checkout, 0 if none */
    bool shutting_down;         /* pool_shutdown() has begun */

    uint64_t acquires;         /* successful checkouts */
    uint64_t acquire_timeouts; /* callers that gave up waiting */
    uint64_t created;          /* connections opened */
    uint64_t connect_errors;
    uint64_t validation_failures;
    uint64_t leaks_suspected; /* leak reports ever made */
    uint64_t closed[POOL_CLOSE_NREASONS];

    uint64_t queries; /* statements run through pool_query() */
    uint64_t query_errors;
    uint64_t slow_queries;
    double avg_query_ms; /* mean over every statement since creation */

    bool healthy;                 /* result of the last pool_health_check() */
    int64_t health_at_ns;         /* wall clock of that check, 0 if none yet */
    char last_connect_error[256]; /* most recent connect failure, or "" */
};

/*
 * Create a pool for `db` sized and timed by `cfg`.  Connections are opened
 * in the background by the janitor thread (up to cfg->min) and on demand,
 * so this succeeds while the database is down.  `metrics` (may be NULL)
 * receives the deskdb_pool_*, deskdb_quer* and deskdb_transaction*
 * families and must outlive the pool; `clock` (NULL: clock_system)
 * stamps every age and deadline.  Errors: DESKDB_EINVAL for a bad
 * setting, DESKDB_ENOMEM, DESKDB_EIO if the janitor thread cannot start.
 */
struct pool *pool_create(const struct config_database *db,
                         const struct config_pool *cfg,
                         struct metrics *metrics,
                         const struct clock *clock,
                         struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Shut down (if not done yet, with a 5 s deadline) and free the pool.
 * Every checked-out connection must have been released first; a pool
 * that still has checkouts is logged and deliberately leaked rather
 * than freed under its users.  pool_destroy(NULL) is a no-op.
 */
void pool_destroy(struct pool *pool);

/*
 * Check out a connection, waiting up to cfg->acquire_timeout (or
 * `timeout_ms` for pool_acquire_timeout; < 0: the configured one) in
 * FIFO order behind earlier callers.  A connection idle for a while is
 * validated first; a dead one is replaced transparently.  The call site
 * is recorded for leak reports.  Blocks.  Errors: DESKDB_ETIMEOUT (the
 * message has total/active/idle/waiting), DESKDB_ECLOSED (shutting down),
 * DESKDB_ECONN (the database refused every attempt until the deadline).
 */
#define pool_acquire(pool, out, err) \
    pool_acquire_at((pool), (out), -1, __FILE__, __LINE__, __func__, (err))
#define pool_acquire_timeout(pool, out, timeout_ms, err) \
    pool_acquire_at((pool),                              \
                    (out),                               \
                    (timeout_ms),                        \
                    __FILE__,                            \
                    __LINE__,                            \
                    __func__,                            \
                    (err))

int pool_acquire_at(struct pool *pool,
                    struct pool_conn **out,
                    int64_t timeout_ms,
                    const char *file,
                    int line,
                    const char *func,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Return a connection.  One that is broken, inside a transaction or
 * mid-query, past its max lifetime, or returned during shutdown is closed
 * instead of pooled.  Never blocks on the network.  NULL is a no-op.
 */
void pool_release(struct pool *pool, struct pool_conn *conn);

/*
 * Run one statement on `conn` (text parameters, NULL for SQL NULL).  With
 * nparams == 0 the simple protocol is used, so `sql` may hold several
 * statements; the last result is returned.  The statement is bounded by
 * the client-side deadline (query_timeout, or the one set with
 * pool_conn_set_deadline(), whichever is sooner): past it the query is
 * cancelled, and a connection that does not answer the cancel promptly
 * is marked broken and discarded on release.  On success `*res` (if `res`
 * is not NULL) owns the result: PQclear() it.  The statement is recorded
 * in the query log and metrics (parameter values never).  Blocks.
 * Errors: DESKDB_EPG (err->sqlstate is set), DESKDB_ETIMEOUT, DESKDB_ECONN
 * (the connection is lost; err->sqlstate set if the server sent one),
 * DESKDB_EINVAL (COPY or an unsupported result).
 */
int pool_query(struct pool_conn *conn,
               const char *sql,
               int nparams,
               const char *const *params,
               struct pg_result **res,
               struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * As pool_query(), but always through the extended query protocol
 * (PQsendQueryParams, also without parameters), so the server refuses a
 * string holding more than one statement (42601) instead of running
 * them as one implicit transaction.
 */
int pool_query_single(struct pool_conn *conn,
                      const char *sql,
                      int nparams,
                      const char *const *params,
                      struct pg_result **res,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Append "SELECT set_config($1, $2, L), set_config($3, $4, L), ..." to
 * `sql` for `n_pairs` name/value parameter pairs, L being true for
 * transaction-local settings (SET LOCAL) and false for the session.
 * Settings travel as parameters, never spliced into the text.  Returns 0
 * or the buffer's error.
 */
struct buf;
int
pool_set_config_sql(struct buf *sql, int n_pairs, bool local) DESKDB_MUSTCHECK;

/* pool_query() without parameters or a result. */
int pool_exec(struct pool_conn *conn,
              const char *sql,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Bound every following statement on `conn` by `deadline_ns` (on the
 * pool's monotonic clock) as well as by query_timeout; 0 removes it.
 * Cleared on release.
 */
void pool_conn_set_deadline(struct pool_conn *conn, int64_t deadline_ns);

/*
 * Replace query_timeout for the following statements on `conn`, until it
 * is released: each statement is then bounded by `timeout_ms` (0: no
 * per-statement bound) and by the deadline of pool_conn_set_deadline().
 * For long work that carries its own overall deadline (scheduled jobs).
 */
void pool_conn_set_query_timeout(struct pool_conn *conn, int64_t timeout_ms);

/*
 * Undo session-level SETs made by the holder: RESET ALL, then the pool's
 * own session settings (statement_timeout) again.  Blocks for at most a
 * couple of seconds.  On failure the connection is marked broken (it is
 * closed on release) and the error returned.
 */
int pool_conn_reset_session(struct pool_conn *conn,
                            struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Leave the statements run on `conn` out of the query log, the slow-query
 * log and the query metrics (false), or record them again (true, the
 * default).  For monitoring work such as the /metrics collectors, so that
 * those describe the application's statements.  Reset on release.
 */
void pool_conn_set_tracked(struct pool_conn *conn, bool tracked);

/* The libpq connection, for what pool_query() cannot do (COPY).  The
 * caller must leave it idle, outside a transaction, without session
 * state changes, or call pool_conn_mark_broken() before releasing. */
struct pg_conn *pool_conn_pg(struct pool_conn *conn);

/* Make pool_release() close this connection instead of pooling it. */
void pool_conn_mark_broken(struct pool_conn *conn);

/* The server process id of the connection (pg_backend_pid()). */
int pool_conn_backend_pid(const struct pool_conn *conn);

/* The pool a connection belongs to. */
struct pool *pool_conn_pool(const struct pool_conn *conn);

/*
 * Check out a connection and run SELECT 1 within `timeout_ms` overall.
 * Records the result for pool_snapshot().  Blocks at most about
 * timeout_ms.  Errors as pool_acquire() and pool_query().
 */
int pool_health_check(struct pool *pool,
                      int64_t timeout_ms,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Fill `out`.  Takes the pool lock briefly; never blocks on I/O. */
void pool_snapshot(struct pool *pool, struct pool_stats *out);

/*
 * Stop new checkouts (they fail at once with DESKDB_ECLOSED, and queued
 * waiters are woken with it), close idle connections, wait up to
 * `deadline_ms` for checked-out connections to come back, then abort the
 * sockets of those still out so their holders fail fast and release them
 * (they are closed on release).  Stops the janitor.  Idempotent.  Returns
 * 0, or DESKDB_ETIMEOUT if connections were still out at the deadline.
 */
int pool_shutdown(struct pool *pool, int64_t deadline_ms);

/* The query log (owned by the pool). */
struct querylog *pool_querylog(struct pool *pool);

/*
 * One janitor pass at monotonic time `now_ns`: close idle connections past
 * idle_timeout (down to min) or max_lifetime, validate idle ones not used
 * for health_check_interval, report leaks, and open connections up to min
 * (with backoff after failures).  The janitor thread calls this about
 * once a second; tests call it with a manual clock.  Blocks on I/O
 * (never under the pool lock).
 */
void pool_janitor_tick(struct pool *pool, int64_t now_ns);

/* The clock the pool was created with. */
const struct clock *pool_clock(const struct pool *pool);

#endif
