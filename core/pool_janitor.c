/* SPDX-License-Identifier: MIT */
/* The janitor: retires idle and old connections, validates idle ones,
 * reports leaks and keeps the pool at its minimum size. */
#include <stdio.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/pool_internal.h"

/* Leaks reported per pass; more are picked up by the next pass. */
#define LEAKS_PER_TICK 16
/* The janitor never sleeps less than this between passes. */
#define JANITOR_MIN_SLEEP_NS (10 * NS_PER_MS)
/* Longest a validation ping may take. */
#define VALIDATE_PING_MAX_NS (2000 * NS_PER_MS)

struct leak_report {
    uint64_t id;
    int backend_pid;
    int64_t held_ns;
    const char *file;
    const char *func;
    int line;
};

/* What a pass collected under the lock, to act on outside it. */
struct sweep {
    struct pool_conn *expire; /* linked through ->next; ->reason says why */
    struct pool_conn *check;  /* linked through ->next */
    struct leak_report leaks[LEAKS_PER_TICK];
    int n_leaks;
};

static void
sweep_idle_locked(struct pool *p, int64_t now, struct sweep *s)
{
    int64_t idle_ns = p->cfg.idle_timeout_ms * NS_PER_MS;
    int64_t health_ns = p->cfg.health_check_interval_ms * NS_PER_MS;
    int keep = pool_total_locked(p); /* connections that will remain */
    struct pool_conn *c, *prev;
    int reason;

    /* From the least recently used end, so the busiest survive. */
    for (c = p->idle.tail; c != NULL; c = prev) {
        prev = c->prev;
        reason = -1;
        if (c->expires_ns != 0 && now >= c->expires_ns)
            reason = POOL_CLOSE_MAX_LIFETIME;
        else if (idle_ns > 0 && now - c->last_used_ns >= idle_ns &&
                 keep > p->cfg.min)
            reason = POOL_CLOSE_IDLE_TIMEOUT;
        if (reason >= 0) {
            pool_list_remove(&p->idle, c);
            p->closing_n++;
            keep--;
            c->reason = (enum pool_close_reason)reason;
            c->next = s->expire;
            s->expire = c;
        } else if (health_ns > 0 && now - c->checked_ns >= health_ns) {
            pool_list_remove(&p->idle, c);
            p->validating++;
            c->next = s->check;
            s->check = c;
        }
    }
}

static void
sweep_leaks_locked(struct pool *p, int64_t now, struct sweep *s)
{
    int64_t threshold = p->cfg.leak_detection_threshold_ms * NS_PER_MS;
    struct leak_report *l;

    if (threshold <= 0)
        return;
    for (struct pool_conn *c = p->active.head; c != NULL; c = c->next) {
        if (c->leak_reported || now - c->checkout_ns < threshold)
            continue;
        if (s->n_leaks == LEAKS_PER_TICK)
            break;
        /* Reported once per checkout; the holder keeps the connection
         * (HikariCP semantics: taking it away would break the holder). */
        c->leak_reported = true;
        p->leak_suspects++;
        l = &s->leaks[s->n_leaks++];
        l->id = c->id;
        l->backend_pid = c->backend_pid;
        l->held_ns = now - c->checkout_ns;
        l->file = c->acq_file;
        l->func = c->acq_func;
        l->line = c->acq_line;
    }
}

static void
report_leaks(struct pool *p, const struct sweep *s)
{
    char b1[24], b2[24], b3[24], b4[24], site[512];

    for (int i = 0; i < s->n_leaks; i++) {
        const struct leak_report *l = &s->leaks[i];

        STAT_INC(p, leaks);
        metric_inc(p->m.leaks);
        snprintf(site, sizeof(site), "%s:%d", l->file, l->line);
        log_warn("pool",
                 "connection leak suspected: checked out longer than "
                 "leak_detection_threshold",
                 "conn",
                 log_i64(b1, (int64_t)l->id),
                 "backend_pid",
                 log_i64(b2, l->backend_pid),
                 "held_ms",
                 log_i64(b3, l->held_ns / NS_PER_MS),
                 "threshold_ms",
                 log_i64(b4, p->cfg.leak_detection_threshold_ms),
                 "acquired_at",
                 site,
                 "function",
                 l->func);
    }
}

static void
validate(struct pool *p, struct pool_conn *c)
{
    int64_t limit = p->cfg.connect_timeout_ms * NS_PER_MS;
    bool ok;

    if (limit > VALIDATE_PING_MAX_NS)
        limit = VALIDATE_PING_MAX_NS;
    ok = pool_conn_alive(c) && pool_conn_ping(c, limit, NULL) == 0;
    if (!ok) {
        STAT_INC(p, validation_failures);
        metric_inc(p->m.validation_failures);
        pool_discard(p, c, POOL_SLOT_VALIDATING, POOL_CLOSE_VALIDATION_FAILED);
        return;
    }
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        pool_discard(p, c, POOL_SLOT_VALIDATING, POOL_CLOSE_SHUTDOWN);
        return;
    }
    p->validating--;
    c->checked_ns = pool_now(p);
    /* Back with its old idle start: validation is not use. */
    pool_checkin_locked(p, c, c->last_used_ns);
    pthread_mutex_unlock(&p->mu);
}

static void
refill_failed(struct pool *p, int64_t now, const struct deskdb_err *e)
{
    struct backoff bo = {POOL_REFILL_BACKOFF_BASE_MS,
                         POOL_REFILL_BACKOFF_CAP_MS,
                         NULL,
                         NULL};
    int64_t sleep_ms;
    int failures;
    char b1[24], b2[24];

    pthread_mutex_lock(&p->mu);
    failures = ++p->refill_failures;
    /* At least the base: a zero draw must not turn into a retry loop. */
    sleep_ms =
        POOL_REFILL_BACKOFF_BASE_MS + backoff_full_jitter_ms(&bo, failures - 1);
    if (sleep_ms > POOL_REFILL_BACKOFF_CAP_MS)
        sleep_ms = POOL_REFILL_BACKOFF_CAP_MS;
    p->refill_next_ns = now + sleep_ms * NS_PER_MS;
    pthread_mutex_unlock(&p->mu);
    pool_note_connect_error(p, e->msg);
    log_warn("pool",
             "cannot open a connection",
             "error",
             e->msg,
             "failures",
             log_i64(b1, failures),
             "retry_in_ms",
             log_i64(b2, sleep_ms));
}

/* Open connections until the pool holds min; stop at the first failure
 * and back off before the next attempt. */
static void
refill(struct pool *p, int64_t now)
{
    struct deskdb_err e;
    struct pool_conn *c;
    int want = 0, failures;
    char b[24];

    pthread_mutex_lock(&p->mu);
    if (!p->closing && now >= p->refill_next_ns) {
        want = p->cfg.min - pool_total_locked(p);
        if (want > 0)
            p->connecting += want;
    }
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < want; i++) {
        err_clear(&e);
        if (pool_conn_open(p, 0, &c, &e) != 0) {
            pthread_mutex_lock(&p->mu);
            p->connecting -= want - i;
            pool_slot_freed_locked(p);
            pthread_mutex_unlock(&p->mu);
            if (e.code != DESKDB_ECLOSED)
                refill_failed(p, now, &e);
            return;
        }
        pthread_mutex_lock(&p->mu);
        if (p->closing) {
            p->connecting -= want - i - 1;
            pthread_mutex_unlock(&p->mu);
            pool_discard(p, c, POOL_SLOT_CONNECTING, POOL_CLOSE_SHUTDOWN);
            return;
        }
        p->connecting--;
        failures = p->refill_failures;
        p->refill_failures = 0;
        p->refill_next_ns = 0;
        pool_checkin_locked(p, c, pool_now(p));
        pthread_mutex_unlock(&p->mu);
        if (failures > 0)
            log_info("pool",
                     "connected again",
                     "after_failures",
                     log_i64(b, failures));
    }
}

void
pool_janitor_tick(struct pool *p, int64_t now)
{
    struct sweep s = {0};
    struct pool_conn *c, *next;

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    sweep_idle_locked(p, now, &s);
    sweep_leaks_locked(p, now, &s);
    pthread_mutex_unlock(&p->mu);

    for (c = s.expire; c != NULL; c = next) {
        next = c->next;
        c->next = NULL;
        pool_discard(p, c, POOL_SLOT_CLOSING, c->reason);
    }
    for (c = s.check; c != NULL; c = next) {
        next = c->next;
        c->next = NULL;
        validate(p, c);
    }
    report_leaks(p, &s);
    refill(p, now);
}

/* Half the shortest configured period, so every deadline is seen within
 * 50 % of its length, but at most once a second. */
static int64_t
janitor_interval(const struct pool *p)
{
    const int64_t periods_ms[] = {
        p->cfg.idle_timeout_ms,
        p->cfg.max_lifetime_ms,
        p->cfg.leak_detection_threshold_ms,
        p->cfg.health_check_interval_ms,
    };
    int64_t v = POOL_JANITOR_MAX_SLEEP_NS;

    for (size_t i = 0; i < sizeof(periods_ms) / sizeof(periods_ms[0]); i++) {
        int64_t half = periods_ms[i] * NS_PER_MS / 2;
        if (half > 0 && half < v)
            v = half;
    }
    return v < JANITOR_MIN_SLEEP_NS ? JANITOR_MIN_SLEEP_NS : v;
}

void *
pool_janitor_main(void *arg)
{
    struct pool *p = arg;
    int64_t interval = janitor_interval(p);

    pthread_mutex_lock(&p->mu);
    while (!p->janitor_stop) {
        pthread_mutex_unlock(&p->mu);
        pool_janitor_tick(p, pool_now(p));
        pthread_mutex_lock(&p->mu);
        if (!p->janitor_stop && !p->janitor_kick)
            pool_cond_wait_until(p, &p->janitor_cv, pool_now(p) + interval);
        p->janitor_kick = false;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
