/* SPDX-License-Identifier: MIT */
/* The pool: creation, checkout and checkin with a FIFO of waiters,
 * discarding, graceful shutdown and statistics snapshots. */
#include "core/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/pool_internal.h"
#include "core/querylog.h"

/* Acquirers whose own connect attempt failed retry within their deadline
 * after a full-jitter sleep of 50 ms .. 1 s. */
#define ACQUIRE_RETRY_BASE_MS 50
#define ACQUIRE_RETRY_CAP_MS  1000
/* Longest and shortest time a checkout validation ping may take. */
#define CHECKOUT_PING_MAX_NS (2000 * NS_PER_MS)
#define CHECKOUT_PING_MIN_NS (1 * NS_PER_MS)
/* pool_destroy(): shutdown deadline, then the wait for aborted holders. */
#define DESTROY_SHUTDOWN_MS 5000
#define DESTROY_DRAIN_NS    (1000 * NS_PER_MS)

static const char *const close_reason_names[POOL_CLOSE_NREASONS] = {
    [POOL_CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [POOL_CLOSE_MAX_LIFETIME] = "max_lifetime",
    [POOL_CLOSE_VALIDATION_FAILED] = "validation_failed",
    [POOL_CLOSE_BROKEN] = "broken",
    [POOL_CLOSE_TIMEOUT] = "timeout",
    [POOL_CLOSE_DIRTY] = "dirty",
    [POOL_CLOSE_SHUTDOWN] = "shutdown",
};

const char *
pool_close_reason_name(enum pool_close_reason r)
{
    if ((unsigned)r >= POOL_CLOSE_NREASONS)
        return "unknown";
    return close_reason_names[r];
}

/* ---- lists, waiters and condition variables ---------------------------- */

void
pool_list_push(struct pool_list *l, struct pool_conn *c)
{
    c->prev = NULL;
    c->next = l->head;
    if (l->head != NULL)
        l->head->prev = c;
    else
        l->tail = c;
    l->head = c;
    l->n++;
}

void
pool_list_remove(struct pool_list *l, struct pool_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

static void
waiter_enqueue(struct pool *p, struct pool_waiter *w, bool front)
{
    w->prev = w->next = NULL;
    if (p->wait_head == NULL) {
        p->wait_head = p->wait_tail = w;
    } else if (front) {
        w->next = p->wait_head;
        p->wait_head->prev = w;
        p->wait_head = w;
    } else {
        w->prev = p->wait_tail;
        p->wait_tail->next = w;
        p->wait_tail = w;
    }
    p->waiting++;
}

static void
waiter_dequeue(struct pool *p, struct pool_waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        p->wait_head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        p->wait_tail = w->prev;
    w->prev = w->next = NULL;
    p->waiting--;
}

void
pool_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

void
pool_cond_wait_until(struct pool *p, pthread_cond_t *cv, int64_t deadline_ns)
{
    /* The deadline is on the pool's (injectable) clock; the wait itself
     * is on CLOCK_MONOTONIC, so convert through the remaining time. */
    int64_t rel = deadline_ns - pool_now(p);
    int64_t abs_ns;
    struct timespec ts;

    if (rel <= 0)
        return;
    abs_ns = clock_monotonic_ns() + rel;
    ts.tv_sec = (time_t)(abs_ns / NS_PER_SEC);
    ts.tv_nsec = (long)(abs_ns % NS_PER_SEC);
    pthread_cond_timedwait(cv, &p->mu, &ts);
}

static void
checkout_mark_locked(struct pool_conn *c,
                     int64_t now,
                     const char *file,
                     int line,
                     const char *func)
{
    c->checkout_ns = now;
    c->acq_file = file;
    c->acq_line = line;
    c->acq_func = func;
    c->leak_reported = false;
}

void
pool_checkin_locked(struct pool *p, struct pool_conn *c, int64_t last_used_ns)
{
    struct pool_waiter *w = p->wait_head;

    if (w != NULL && !p->closing) {
        waiter_dequeue(p, w);
        checkout_mark_locked(c, pool_now(p), w->file, w->line, w->func);
        pool_list_push(&p->active, c);
        w->conn = c;
        pthread_cond_signal(&w->cv);
        return;
    }
    c->last_used_ns = last_used_ns;
    pool_list_push(&p->idle, c);
}

void
pool_slot_freed_locked(struct pool *p)
{
    struct pool_waiter *w = p->wait_head;

    if (p->closing) {
        pthread_cond_broadcast(&p->drained_cv);
        return;
    }
    if (w != NULL && pool_total_locked(p) < p->cfg.max) {
        waiter_dequeue(p, w);
        p->connecting++;
        w->may_connect = true;
        pthread_cond_signal(&w->cv);
    }
    if (pool_total_locked(p) < p->cfg.min) {
        p->janitor_kick = true;
        pthread_cond_signal(&p->janitor_cv);
    }
}

void
pool_discard(struct pool *p,
             struct pool_conn *c,
             enum pool_slot from,
             enum pool_close_reason reason)
{
    char b1[24], b2[24];

    pthread_mutex_lock(&p->mu);
    switch (from) {
    case POOL_SLOT_ACTIVE:
        pool_list_remove(&p->active, c);
        if (c->leak_reported)
            p->leak_suspects--;
        p->closing_n++;
        break;
    case POOL_SLOT_VALIDATING:
        p->validating--;
        p->closing_n++;
        break;
    case POOL_SLOT_CONNECTING:
        p->connecting--;
        p->closing_n++;
        break;
    case POOL_SLOT_CLOSING:
        break;
    }
    pthread_mutex_unlock(&p->mu);

    if (reason == POOL_CLOSE_BROKEN || reason == POOL_CLOSE_TIMEOUT ||
        reason == POOL_CLOSE_VALIDATION_FAILED || reason == POOL_CLOSE_DIRTY)
        log_info("pool",
                 "connection closed",
                 "conn",
                 log_i64(b1, (int64_t)c->id),
                 "backend_pid",
                 log_i64(b2, c->backend_pid),
                 "reason",
                 pool_close_reason_name(reason));
    else
        log_debug("pool",
                  "connection closed",
                  "conn",
                  log_i64(b1, (int64_t)c->id),
                  "backend_pid",
                  log_i64(b2, c->backend_pid),
                  "reason",
                  pool_close_reason_name(reason));
    pool_conn_free(c);
    STAT_INC(p, closed[reason]);
    metric_inc(p->m.closed[reason]);

    pthread_mutex_lock(&p->mu);
    p->closing_n--;
    pool_slot_freed_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void
pool_note_connect_error(struct pool *p, const char *msg)
{
    size_t n = strnlen(msg, sizeof(p->last_connect_error) - 1);

    STAT_INC(p, connect_errors);
    metric_inc(p->m.connect_errors);
    pthread_mutex_lock(&p->mu);
    memcpy(p->last_connect_error, msg, n);
    p->last_connect_error[n] = '\0';
    pthread_mutex_unlock(&p->mu);
}

/* ---- creation ---------------------------------------------------------- */

static int
check_config(const struct config_pool *cfg, struct deskdb_err *err)
{
    if (cfg->max < 1)
        return err_set(err, DESKDB_EINVAL, "pool.max must be at least 1");
    if (cfg->min < 0 || cfg->min > cfg->max)
        return err_set(err,
                       DESKDB_EINVAL,
                       "pool.min must be between 0 and pool.max (%d)",
                       cfg->max);
    if (cfg->connect_timeout_ms <= 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "pool.connect_timeout must be positive");
    if (cfg->idle_timeout_ms < 0 || cfg->max_lifetime_ms < 0 ||
        cfg->acquire_timeout_ms < 0 || cfg->statement_timeout_ms < 0 ||
        cfg->query_timeout_ms < 0 || cfg->slow_query_threshold_ms < 0 ||
        cfg->leak_detection_threshold_ms < 0 ||
        cfg->health_check_interval_ms < 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "pool durations must not be negative");
    if (cfg->query_history < 0 || cfg->slow_query_history < 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "pool.query_history must not be negative");
    return 0;
}

static void
pool_free(struct pool *p)
{
    querylog_destroy(p->qlog);
    txn_registry_destroy(p->txn);
    free(p->conn_keys);
    free(p->conn_values);
    if (p->conninfo != NULL) {
        /* It holds the password: do not leave it in freed memory. */
        explicit_bzero(p->conninfo, strlen(p->conninfo));
        free(p->conninfo);
    }
    pthread_cond_destroy(&p->janitor_cv);
    pthread_cond_destroy(&p->drained_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

struct pool *
pool_create(const struct config_database *db,
            const struct config_pool *cfg,
            struct metrics *metrics,
            const struct clock *clock,
            struct deskdb_err *err)
{
    struct pool *p;
    int rc;

    if (check_config(cfg, err) != 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        err_set(err, DESKDB_ENOMEM, "pool: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->clock = clock != NULL ? *clock : clock_system;
    p->metrics = metrics;
    pthread_mutex_init(&p->mu, NULL);
    pool_cond_init(&p->janitor_cv);
    pool_cond_init(&p->drained_cv);
    if (pool_conn_params(p, db, err) != 0)
        goto fail;
    p->qlog = querylog_create((size_t)cfg->query_history,
                              (size_t)cfg->slow_query_history);
    p->txn = txn_registry_create(metrics);
    if (p->qlog == NULL || p->txn == NULL) {
        err_set(err, DESKDB_ENOMEM, "pool: out of memory");
        goto fail;
    }
    if (metrics != NULL && pool_metrics_register(p, err) != 0)
        goto fail;
    p->janitor_running = true;
    rc = pthread_create(&p->janitor, NULL, pool_janitor_main, p);
    if (rc != 0) {
        err_set(err,
                DESKDB_EIO,
                "pool: cannot start the janitor thread: %s",
                strerror(rc));
        if (metrics != NULL)
            pool_metrics_unregister(p);
        goto fail;
    }
    return p;
fail:
    pool_free(p);
    return NULL;
}

/* ---- checkout ---------------------------------------------------------- */

struct acquire {
    struct pool_waiter w;
    int64_t start_ns;
    int64_t deadline_ns;
    int64_t retry_at_ns; /* after a failed connect: try again then */
    bool front;          /* re-queue at the head: keep our FIFO place */
    int connect_failures;
    int64_t idle_since_ns;
    struct pool_conn *conn;
    bool connect;
};

static int
timeout_error(struct pool *p, const struct acquire *a, struct deskdb_err *err)
{
    int64_t waited = (pool_now(p) - a->start_ns) / NS_PER_MS;

    if (p->last_connect_error[0] != '\0')
        return err_set(err,
                       DESKDB_ETIMEOUT,
                       "pool acquire timed out after %lld ms (total %d, "
                       "active %d, idle %d, waiting %d); last connect "
                       "error: %s",
                       (long long)waited,
                       pool_total_locked(p),
                       p->active.n,
                       p->idle.n,
                       p->waiting,
                       p->last_connect_error);
    return err_set(err,
                   DESKDB_ETIMEOUT,
                   "pool acquire timed out after %lld ms (total %d, active "
                   "%d, idle %d, waiting %d)",
                   (long long)waited,
                   pool_total_locked(p),
                   p->active.n,
                   p->idle.n,
                   p->waiting);
}

/* Under the lock: take an idle connection, reserve a connect slot, or
 * queue and wait for one of those to be handed over. */
static int
take_or_wait_locked(struct pool *p, struct acquire *a, struct deskdb_err *err)
{
    struct pool_waiter *w = &a->w;
    int64_t now = pool_now(p), until;

    if (p->closing)
        return err_set(err, DESKDB_ECLOSED, "pool is shutting down");
    /* Idle connections and free slots go to the head of the queue: to a
     * new caller only when nobody waits, or to one that was at the head
     * and lost its connection to a failed validation or connect. */
    if (p->wait_head == NULL || a->front) {
        if (p->idle.head != NULL) {
            a->conn = p->idle.head;
            pool_list_remove(&p->idle, a->conn);
            a->idle_since_ns = a->conn->last_used_ns;
            checkout_mark_locked(a->conn, now, w->file, w->line, w->func);
            pool_list_push(&p->active, a->conn);
            return 0;
        }
        if (a->retry_at_ns == 0 && pool_total_locked(p) < p->cfg.max) {
            p->connecting++;
            a->connect = true;
            return 0;
        }
    }
    w->conn = NULL;
    w->may_connect = false;
    waiter_enqueue(p, w, a->front);
    for (;;) {
        if (w->conn != NULL) {
            a->conn = w->conn;
            a->idle_since_ns = pool_now(p);
            return 0;
        }
        if (w->may_connect) {
            a->connect = true;
            return 0;
        }
        now = pool_now(p);
        if (p->closing) {
            waiter_dequeue(p, w);
            return err_set(err, DESKDB_ECLOSED, "pool is shutting down");
        }
        if (now >= a->deadline_ns) {
            waiter_dequeue(p, w);
            return timeout_error(p, a, err);
        }
        if (a->retry_at_ns != 0 && now >= a->retry_at_ns) {
            a->retry_at_ns = 0;
            if (pool_total_locked(p) < p->cfg.max) {
                waiter_dequeue(p, w);
                p->connecting++;
                a->connect = true;
                return 0;
            }
        }
        until = a->deadline_ns;
        if (a->retry_at_ns != 0 && a->retry_at_ns < until)
            until = a->retry_at_ns;
        pool_cond_wait_until(p, &w->cv, until);
    }
}

/* A connection that sat idle may have died (terminated backend, server
 * restart): check it before handing it out.  Outside the lock. */
static bool
checkout_valid(struct pool *p, struct acquire *a)
{
    struct pool_conn *c = a->conn;
    int64_t now = pool_now(p), limit;

    if (!pool_conn_alive(c))
        return false;
    if (now - a->idle_since_ns < POOL_VALIDATE_IDLE_NS)
        return true;
    limit = p->cfg.connect_timeout_ms * NS_PER_MS;
    if (limit > CHECKOUT_PING_MAX_NS)
        limit = CHECKOUT_PING_MAX_NS;
    /* The ping is part of the caller's wait: it ends by the acquire
     * deadline (a loopback round trip takes ~50 us, hence the 1 ms floor). */
    if (limit > a->deadline_ns - now)
        limit = a->deadline_ns - now;
    if (limit < CHECKOUT_PING_MIN_NS)
        limit = CHECKOUT_PING_MIN_NS;
    return pool_conn_ping(c, limit, NULL) == 0;
}

/* Our own connect attempt; on failure, decide whether to try again. */
static int
acquire_connect(struct pool *p, struct acquire *a, struct deskdb_err *err)
{
    struct deskdb_err cerr;
    struct pool_conn *c = NULL;
    struct backoff bo = {ACQUIRE_RETRY_BASE_MS,
                         ACQUIRE_RETRY_CAP_MS,
                         NULL,
                         NULL};
    int rc;
    int64_t now, sleep_ns;

    err_clear(&cerr);
    rc = pool_conn_open(p, a->deadline_ns, &c, &cerr);
    pthread_mutex_lock(&p->mu);
    if (rc == 0 && !p->closing) {
        p->connecting--;
        checkout_mark_locked(c, pool_now(p), a->w.file, a->w.line, a->w.func);
        pool_list_push(&p->active, c);
        pthread_mutex_unlock(&p->mu);
        a->conn = c;
        return 0;
    }
    if (rc == 0) {
        pthread_mutex_unlock(&p->mu);
        pool_discard(p, c, POOL_SLOT_CONNECTING, POOL_CLOSE_SHUTDOWN);
        return err_set(err, DESKDB_ECLOSED, "pool is shutting down");
    }
    p->connecting--;
    pool_slot_freed_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (rc == DESKDB_ECLOSED) {
        if (err != NULL)
            *err = cerr;
        return rc;
    }
    pool_note_connect_error(p, cerr.msg);

    now = pool_now(p);
    sleep_ns = backoff_full_jitter_ms(&bo, a->connect_failures++) * NS_PER_MS;
    if (now + sleep_ns >= a->deadline_ns) {
        if (err != NULL)
            *err = cerr;
        return rc;
    }
    a->retry_at_ns = now + (sleep_ns > 0 ? sleep_ns : 1);
    a->front = true;
    return 1;
}

int
pool_acquire_at(struct pool *p,
                struct pool_conn **out,
                int64_t timeout_ms,
                const char *file,
                int line,
                const char *func,
                struct deskdb_err *err)
{
    struct acquire a;
    int rc;

    *out = NULL;
    memset(&a, 0, sizeof(a));
    pool_cond_init(&a.w.cv);
    a.w.file = file;
    a.w.line = line;
    a.w.func = func;
    a.start_ns = pool_now(p);
    a.w.since_ns = a.start_ns;
    if (timeout_ms < 0)
        timeout_ms = p->cfg.acquire_timeout_ms;
    a.deadline_ns = a.start_ns + timeout_ms * NS_PER_MS;
    for (;;) {
        a.conn = NULL;
        a.connect = false;
        pthread_mutex_lock(&p->mu);
        rc = take_or_wait_locked(p, &a, err);
        pthread_mutex_unlock(&p->mu);
        if (rc != 0)
            break;
        if (a.connect) {
            rc = acquire_connect(p, &a, err);
            if (rc < 0)
                break;
            if (rc > 0)
                continue;
            break;
        }
        if (checkout_valid(p, &a))
            break;
        STAT_INC(p, validation_failures);
        metric_inc(p->m.validation_failures);
        pool_discard(p, a.conn, POOL_SLOT_ACTIVE, POOL_CLOSE_VALIDATION_FAILED);
        /* We had reached the front of the queue; keep that place. */
        a.front = true;
        a.retry_at_ns = 0;
    }
    pthread_cond_destroy(&a.w.cv);
    if (rc == DESKDB_ETIMEOUT) {
        STAT_INC(p, acquire_timeouts);
        metric_inc(p->m.acquire_timeouts);
    }
    if (rc != 0)
        return rc;
    STAT_INC(p, acquires);
    metric_observe(p->m.acquire_seconds,
                   (double)(pool_now(p) - a.start_ns) / NS_PER_SEC);
    *out = a.conn;
    return 0;
}

/* ---- checkin ----------------------------------------------------------- */

/* Why `c` must be closed rather than pooled, or -1 to pool it. */
static int
release_verdict(const struct pool *p, struct pool_conn *c, int64_t now)
{
    if (c->broken)
        return (int)c->reason;
    if (PQstatus(c->pg) != CONNECTION_OK)
        return POOL_CLOSE_BROKEN;
    /* A transaction left open, failed or mid-query would leak into the
     * next borrower (research/reliability.md #26): never pool it. */
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return POOL_CLOSE_DIRTY;
    if (c->expires_ns != 0 && now >= c->expires_ns)
        return POOL_CLOSE_MAX_LIFETIME;
    return -1;
}

void
pool_release(struct pool *pool, struct pool_conn *c)
{
    struct pool *p;
    int64_t now, usage_ns;
    int verdict;
    bool was_leak;
    const char *file, *func;
    int line;
    char b1[24], b2[32], b3[24], site[512];

    (void)pool;
    if (c == NULL)
        return;
    p = c->pool;
    now = pool_now(p);
    verdict = release_verdict(p, c, now);
    c->deadline_ns = 0;
    c->query_timeout_ms = -1;
    c->untracked = false;
    pthread_mutex_lock(&p->mu);
    usage_ns = now - c->checkout_ns;
    was_leak = c->leak_reported;
    file = c->acq_file;
    func = c->acq_func;
    line = c->acq_line;
    pool_list_remove(&p->active, c);
    if (was_leak) {
        p->leak_suspects--;
        c->leak_reported = false;
    }
    /* During shutdown everything returned is closed, and shutdown is the
     * reason even for a connection broken by its socket being aborted. */
    if (p->closing)
        verdict = POOL_CLOSE_SHUTDOWN;
    if (verdict < 0) {
        c->checked_ns = now;
        pool_checkin_locked(p, c, now);
    } else {
        p->closing_n++;
    }
    pthread_mutex_unlock(&p->mu);

    if (verdict >= 0)
        pool_discard(p, c, POOL_SLOT_CLOSING, (enum pool_close_reason)verdict);
    metric_observe(p->m.usage_seconds, (double)usage_ns / NS_PER_SEC);
    if (was_leak) {
        snprintf(site, sizeof(site), "%s:%d", file, line);
        log_info("pool",
                 "previously reported leaked connection returned",
                 "conn",
                 log_i64(b1, (int64_t)c->id),
                 "held_ms",
                 log_i64(b3, usage_ns / NS_PER_MS),
                 "held_s",
                 log_ms(b2, usage_ns / 1000),
                 "acquired_at",
                 site,
                 "function",
                 func);
    }
}

/* ---- shutdown and destruction ------------------------------------------ */

static bool
drained_locked(const struct pool *p)
{
    return p->active.n + p->connecting + p->validating + p->closing_n == 0;
}

/* Stop new checkouts, wake the queue, stop the janitor, close idle. */
static void
shutdown_begin(struct pool *p)
{
    struct pool_conn *c, *next, *idle;
    struct pool_waiter *w;
    bool join, first;

    pthread_mutex_lock(&p->mu);
    first = !p->closing;
    p->closing = true;
    atomic_store_explicit(&p->closing_flag, true, memory_order_relaxed);
    for (w = p->wait_head; w != NULL; w = w->next)
        pthread_cond_signal(&w->cv);
    idle = p->idle.head;
    p->closing_n += p->idle.n;
    p->idle.head = p->idle.tail = NULL;
    p->idle.n = 0;
    join = p->janitor_running;
    p->janitor_running = false;
    p->janitor_stop = true;
    pthread_cond_signal(&p->janitor_cv);
    pthread_mutex_unlock(&p->mu);

    if (first)
        log_info("pool", "shutting down: no new checkouts");
    for (c = idle; c != NULL; c = next) {
        next = c->next;
        c->prev = c->next = NULL;
        pool_discard(p, c, POOL_SLOT_CLOSING, POOL_CLOSE_SHUTDOWN);
    }
    if (join)
        pthread_join(p->janitor, NULL);
}

int
pool_shutdown(struct pool *p, int64_t deadline_ms)
{
    int64_t deadline = pool_now(p) + deadline_ms * NS_PER_MS;
    struct pool_conn *c;
    int left;
    char b[24];

    shutdown_begin(p);
    pthread_mutex_lock(&p->mu);
    while (!drained_locked(p) && pool_now(p) < deadline)
        pool_cond_wait_until(p, &p->drained_cv, deadline);
    left = p->active.n;
    /*
     * Abort what is still out: the holders' next I/O fails at once and
     * they release (and so close) the connection themselves.  shutdown(2)
     * never blocks, and it must happen under the lock: once a holder has
     * released and closed the connection its descriptor number may be
     * reused, and only the lock proves it has not been.
     */
    for (c = p->active.head; c != NULL; c = c->next) {
        if (c->sock >= 0)
            shutdown(c->sock, SHUT_RDWR);
    }
    pthread_mutex_unlock(&p->mu);
    if (left == 0)
        return 0;
    log_warn("pool",
             "shutdown deadline passed with connections checked out; "
             "aborted their sockets",
             "checked_out",
             log_i64(b, left));
    return DESKDB_ETIMEOUT;
}

void
pool_destroy(struct pool *p)
{
    int64_t deadline;
    bool drained;
    int left;
    char b[24];

    if (p == NULL)
        return;
    (void)pool_shutdown(p, DESTROY_SHUTDOWN_MS);
    if (p->metrics != NULL)
        pool_metrics_unregister(p);
    pthread_mutex_lock(&p->mu);
    deadline = pool_now(p) + DESTROY_DRAIN_NS;
    while (!drained_locked(p) && pool_now(p) < deadline)
        pool_cond_wait_until(p, &p->drained_cv, deadline);
    drained = drained_locked(p);
    left = p->active.n;
    pthread_mutex_unlock(&p->mu);
    if (!drained) {
        /* Freeing now would pull memory from under the holders. */
        log_error("pool",
                  "destroyed with connections still checked out; leaking "
                  "the pool instead of freeing it under them",
                  "checked_out",
                  log_i64(b, left));
        return;
    }
    pool_free(p);
}
