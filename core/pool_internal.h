/* SPDX-License-Identifier: MIT */
/* Private to core/pool*.c and core/txn.c: the pool's structures, lock
 * discipline and the helpers the pool files share. */
#ifndef DESKDB_CORE_POOL_INTERNAL_H
#define DESKDB_CORE_POOL_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/metrics.h"
#include "core/pool.h"

/* A connection idle longer than this is pinged on checkout (HikariCP's
 * aliveBypassWindow is 500 ms; a loopback round trip costs ~50 us). */
#define POOL_VALIDATE_IDLE_NS (1000 * NS_PER_MS)
/* How long a cancelled query may take to stop before its connection is
 * discarded; also bounds the wait for PQcancel() itself. */
#define POOL_CANCEL_GRACE_NS (2000 * NS_PER_MS)
/* Longest the janitor sleeps between passes. */
#define POOL_JANITOR_MAX_SLEEP_NS (1000 * NS_PER_MS)
/* Refill backoff after connect failures: full jitter, 100 ms .. 30 s. */
#define POOL_REFILL_BACKOFF_BASE_MS 100
#define POOL_REFILL_BACKOFF_CAP_MS  30000

/*
 * A pooled connection.  `pg` and the fields marked "holder" belong to
 * whichever thread has the connection (checked out, being validated or
 * being closed); the fields marked "lock" are read and written under
 * pool->mu only.
 */
struct pool_conn {
    struct pool *pool;
    PGconn *pg;
    uint64_t id;
    int backend_pid;
    int sock;                      /* PQsocket() at connect, for aborts */
    int64_t created_ns;            /* immutable */
    int64_t expires_ns;            /* immutable: max_lifetime, 0 = never */
    int64_t last_used_ns;          /* lock: when it last went idle */
    int64_t checked_ns;            /* lock: last use or validation */
    int64_t checkout_ns;           /* lock: when it was checked out */
    const char *acq_file;          /* lock: who checked it out */
    const char *acq_func;          /* lock */
    int acq_line;                  /* lock */
    bool leak_reported;            /* lock */
    int64_t deadline_ns;           /* holder: pool_conn_set_deadline() */
    int64_t query_timeout_ms;      /* holder: -1 = cfg.query_timeout */
    bool untracked;                /* holder: pool_conn_set_tracked(false) */
    bool broken;                   /* holder: close on release */
    bool server_fatal;             /* holder: the server sent a FATAL */
    enum pool_close_reason reason; /* holder: why it is broken */
    struct pool_conn *prev, *next; /* lock: the idle or active list */
};

struct pool_list {
    struct pool_conn *head; /* idle: most recently used first */
    struct pool_conn *tail;
    int n;
};

/* A caller queued in pool_acquire(); lives on that caller's stack. */
struct pool_waiter {
    pthread_cond_t cv;
    struct pool_conn *conn; /* handed over by a release or a new connect */
    bool may_connect;       /* a connect slot was reserved for it */
    int64_t since_ns;
    const char *file, *func;
    int line;
    struct pool_waiter *prev, *next;
};

/* Metric series cached at creation; updates are lock-free.  All NULL
 * when the pool has no registry (metric_*() ignore NULL). */
struct pool_metrics {
    struct metric *acquire_seconds;
    struct metric *usage_seconds;
    struct metric *create_seconds;
    struct metric *acquire_timeouts;
    struct metric *created;
    struct metric *closed[POOL_CLOSE_NREASONS];
    struct metric *connect_errors;
    struct metric *validation_failures;
    struct metric *leaks;
    struct metric *queries;
    struct metric *query_seconds;
    struct metric *slow_queries;
    struct metric_family *query_errors; /* label sqlstate_class */
};

struct txn_registry;

struct pool {
    /* Immutable after pool_create(). */
    struct config_pool cfg;
    const char **conn_keys; /* libpq keyword arrays over conninfo */
    const char **conn_values;
    char *conninfo; /* from config_conninfo(): holds the password */
    struct clock clock;
    struct metrics *metrics;
    struct pool_metrics m;
    struct querylog *qlog;
    struct txn_registry *txn;
    pthread_t janitor;

    pthread_mutex_t mu;        /* guards everything from here to `stats` */
    pthread_cond_t janitor_cv; /* wakes the janitor early */
    pthread_cond_t drained_cv; /* shutdown: a checkout came back */
    struct pool_list idle;
    struct pool_list active;
    int connecting; /* connect slots reserved (acquirers and janitor) */
    int validating; /* taken from idle by the janitor for a check */
    int closing_n;  /* being closed outside the lock */
    struct pool_waiter *wait_head, *wait_tail;
    int waiting;
    bool closing;
    _Atomic bool closing_flag; /* `closing`, for lock-free I/O loops */
    bool janitor_running;      /* the thread exists and has not been joined */
    bool janitor_stop;
    bool janitor_kick;
    uint64_t next_id;
    int refill_failures;
    int64_t refill_next_ns;
    int leak_suspects;
    bool healthy;
    int64_t health_at_ns;
    char last_connect_error[256];

    /* Counters: relaxed atomics, no lock. */
    struct {
        _Atomic uint64_t acquires, acquire_timeouts, created, connect_errors;
        _Atomic uint64_t validation_failures, leaks;
        _Atomic uint64_t closed[POOL_CLOSE_NREASONS];
        _Atomic uint64_t queries, query_errors, slow_queries;
        _Atomic uint64_t query_ns;
    } stats;
};

#define STAT_INC(p, f) \
    atomic_fetch_add_explicit(&(p)->stats.f, 1, memory_order_relaxed)
#define STAT_ADD(p, f, v) \
    atomic_fetch_add_explicit(&(p)->stats.f, (v), memory_order_relaxed)
#define STAT_GET(p, f) atomic_load_explicit(&(p)->stats.f, memory_order_relaxed)

static inline int64_t
pool_now(const struct pool *p)
{
    return clock_mono(&p->clock);
}

/* Open or opening connections: what counts against cfg.max. */
static inline int
pool_total_locked(const struct pool *p)
{
    return p->idle.n + p->active.n + p->connecting + p->validating +
           p->closing_n;
}

/* ---- pool.c ---------------------------------------------------------- */

void pool_list_push(struct pool_list *l, struct pool_conn *c);
void pool_list_remove(struct pool_list *l, struct pool_conn *c);

/* Initialise a condition variable that times out on CLOCK_MONOTONIC. */
void pool_cond_init(pthread_cond_t *cv);

/* Wait on `cv` until signalled or `deadline_ns` (pool clock) passes. */
void
pool_cond_wait_until(struct pool *p, pthread_cond_t *cv, int64_t deadline_ns);

/*
 * Put a usable connection back under the lock: hand it to the first
 * waiter (it becomes theirs) or push it on the idle list with
 * `last_used_ns` as the start of its idle time.
 */
void
pool_checkin_locked(struct pool *p, struct pool_conn *c, int64_t last_used_ns);

/* A connect slot was given back (or a connection closed): grant it to the
 * first waiter and wake the janitor to refill to min. */
void pool_slot_freed_locked(struct pool *p);

/*
 * Close `c` with `reason`; called without the lock.  `from` says where
 * `c` is counted: on the active list, in `validating`, in `connecting`
 * (a new connection nobody will use), or already in `closing_n`.
 */
enum pool_slot {
    POOL_SLOT_ACTIVE,
    POOL_SLOT_VALIDATING,
    POOL_SLOT_CONNECTING,
    POOL_SLOT_CLOSING,
};
void pool_discard(struct pool *p,
                  struct pool_conn *c,
                  enum pool_slot from,
                  enum pool_close_reason reason);

/* Record a connect failure for pool_snapshot() and metrics. */
void pool_note_connect_error(struct pool *p, const char *msg);

/* ---- pool_conn.c ----------------------------------------------------- */

/* Build the libpq keyword arrays from `db` (validating the URL). */
int pool_conn_params(struct pool *p,
                     const struct config_database *db,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Connect within cfg.connect_timeout (and by `deadline_ns` if sooner;
 * 0: no extra bound) and prepare the session.  Gives up early with
 * DESKDB_ECLOSED when the pool shuts down. */
int pool_conn_open(struct pool *p,
                   int64_t deadline_ns,
                   struct pool_conn **out,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/* pool_conn_run() flags. */
enum {
    /* Put the statement in the query log and metrics (pings and session
     * setup are not recorded). */
    POOL_RUN_RECORD = 1 << 0,
    /* Past the deadline, discard the connection without a cancel. */
    POOL_RUN_NO_CANCEL = 1 << 1,
    /* The extended protocol even without parameters: one statement only. */
    POOL_RUN_EXTENDED = 1 << 2,
};

/* The executor behind pool_query(): run `sql` by `deadline_ns` (0: no
 * deadline), cancelling past it. */
int pool_conn_run(struct pool_conn *c,
                  const char *sql,
                  int nparams,
                  const char *const *params,
                  int64_t deadline_ns,
                  unsigned flags,
                  PGresult **res,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The first message out of libpq's error text, on one line: indented
 * continuation lines are joined with single spaces. */
void pool_one_line(char *dst, size_t size, const char *src);

/* PQfinish() and free (no accounting). */
void pool_conn_free(struct pool_conn *c);

/* Cheap liveness test: no round trip, reads what the server already
 * sent (a FATAL from pg_terminate_backend, an EOF). */
bool pool_conn_alive(struct pool_conn *c);

/* Round trip with an empty query, bounded by `timeout_ns`. */
int pool_conn_ping(struct pool_conn *c,
                   int64_t timeout_ns,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/* ---- pool_janitor.c -------------------------------------------------- */

void *pool_janitor_main(void *arg);

/* ---- pool_metrics.c -------------------------------------------------- */

int pool_metrics_register(struct pool *p,
                          struct deskdb_err *err) DESKDB_MUSTCHECK;
void pool_metrics_unregister(struct pool *p);
void pool_metrics_query_error(struct pool *p, const char *sqlstate_class);

/* ---- txn.c: per-pool transaction statistics ------------------------- */

struct txn_registry *txn_registry_create(struct metrics *m) DESKDB_MUSTCHECK;
void txn_registry_destroy(struct txn_registry *r);
void txn_registry_collect(struct txn_registry *r,
                          struct metrics_sink *sink,
                          int64_t now_ns);

#endif
