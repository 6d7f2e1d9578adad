/* SPDX-License-Identifier: MIT */
/* A receiver's queue: notifications built from due groups, superseded by
 * newer ones, attempted with signing, classified and retried. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "exporter/notify/worker.h"

#define QUEUE_MAX          1000
#define RETRY_AFTER_MAX_MS (60 * 60 * INT64_C(1000))
#define BODY_MAX           (4 * 1024 * 1024)

void
notify_msg_free(struct notify_msg *m)
{
    if (m == NULL)
        return;
    dispatch_flush_free(&m->flush);
    free(m->body);
    free(m);
}

static void
queue_unlink(struct notifier *n, struct notify_msg *m)
{
    struct notify_msg **p;

    for (p = &n->queue; *p != NULL; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            n->queue_len--;
            break;
        }
    }
    metric_set(n->m_queue, (double)n->queue_len);
}

/*
 * A queued notification of the same group with the same alerts keeps
 * retrying under its id, and the new one is not needed (false).  One
 * with other alerts is replaced; if it is in flight it is only marked,
 * and its result still counts.
 */
static bool
supersede(struct notifier *n, const struct dispatch_flush *f)
{
    struct notify_msg *m, *next;

    for (m = n->queue; m != NULL; m = next) {
        next = m->next;
        if (strcmp(m->flush.group_key, f->group_key) != 0 || m->superseded)
            continue;
        if (m->flush.signature == f->signature)
            return false;
        if (m->in_flight) {
            m->superseded = true;
        } else {
            queue_unlink(n, m);
            notify_msg_free(m);
        }
    }
    return true;
}

static void
drop_oldest(struct notifier *n)
{
    struct notify_msg *m;

    for (m = n->queue; m != NULL; m = m->next) {
        if (!m->in_flight) {
            queue_unlink(n, m);
            notify_msg_free(m);
            metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
            return;
        }
    }
}

static int
build_body(struct notifier *n, struct notify_msg *m)
{
    struct payload_ctx ctx = {
        .receiver = n->name,
        .type = n->cfg->type,
        .external_url = n->external_url,
        .routing_key = n->cfg->routing_key != NULL ? n->cfg->routing_key : "",
        .source = n->source,
        .now_real_ns = clock_real(n->clock),
        .push_valid_ns = n->push_valid_ns,
    };
    struct buf b;
    int rc;

    buf_init(&b, BODY_MAX);
    rc = notify_payload(&ctx, &m->flush, &b);
    m->body_len = b.len;
    m->body = buf_take(&b);
    buf_fini(&b);
    return rc == DESKDB_OK && m->body != NULL ? DESKDB_OK : DESKDB_ENOMEM;
}

static void
enqueue(struct notifier *n, struct dispatch_flush *f, int64_t now)
{
    struct notify_msg *m, **tail;

    if (!supersede(n, f)) {
        dispatch_flush_free(f);
        return;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        dispatch_flush_free(f);
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
        return;
    }
    m->flush = *f;
    memset(f, 0, sizeof(*f));
    if (build_body(n, m) != DESKDB_OK) {
        notify_msg_free(m);
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
        return;
    }
    notify_new_id(m->id);
    m->created_ns = now;
    m->next_ns = now;
    if (n->queue_len >= QUEUE_MAX)
        drop_oldest(n);
    for (tail = &n->queue; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = m;
    n->queue_len++;
    metric_set(n->m_queue, (double)n->queue_len);
}

void
notifier_flush_due(struct notifier *n, int64_t now)
{
    struct dispatch_flush *flushes = NULL;
    size_t i, count = 0;

    if (dispatch_due(n->dispatch, now, &flushes, &count) != DESKDB_OK)
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
    for (i = 0; i < count; i++)
        enqueue(n, &flushes[i], now);
    free(flushes);
}

size_t
notifier_rebuild_queue(struct notifier *n)
{
    struct notify_msg *m, *next;
    size_t dropped = 0;

    for (m = n->queue; m != NULL; m = next) {
        next = m->next;
        if (m->in_flight)
            continue;
        free(m->body);
        m->body = NULL;
        if (build_body(n, m) == DESKDB_OK)
            continue;
        queue_unlink(n, m);
        notify_msg_free(m);
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
        dropped++;
    }
    return dropped;
}

size_t
notifier_discard(struct notifier *n)
{
    struct notify_msg *m;
    size_t count = 0;

    pthread_mutex_lock(&n->lock);
    while ((m = n->queue) != NULL) {
        queue_unlink(n, m);
        notify_msg_free(m);
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
        count++;
    }
    pthread_mutex_unlock(&n->lock);
    return count;
}

/* ---- one attempt -------------------------------------------------------- */

struct attempt {
    struct notify_http_result res;
    enum notify_outcome outcome;
    enum notify_reason reason;
    int64_t delay_ms; /* before the next attempt */
    bool dropped;     /* given up: too old, or stopping */
    bool shutdown;    /* dropped because the receiver is stopping */
    bool sign_failed;
    struct notify_sent_item *items; /* delivered alerts, for the callback */
    size_t n_items;
    char group[256];
    enum notify_reason_sent why;
};

/* The settings of one attempt, taken under the lock. */
struct attempt_cfg {
    const struct config_receiver *cfg;
    char *url;
    int64_t timeout_ms;
};

static void
post(struct notifier *n,
     struct notify_msg *m,
     const struct attempt_cfg *ac,
     struct attempt *a)
{
    const struct config_receiver *cfg = ac->cfg;
    struct notify_header h[3];
    char ts[24], sig[NOTIFY_SIG_LEN];
    int64_t now_s = clock_real(n->clock) / NS_PER_SEC;
    size_t nh = 0;

    if (cfg->type == CONFIG_RECEIVER_WEBHOOK) {
        snprintf(ts, sizeof(ts), "%" PRId64, now_s);
        h[nh++] = (struct notify_header){"webhook-id", m->id};
        h[nh++] = (struct notify_header){"webhook-timestamp", ts};
        if (cfg->secret != NULL) {
            if (notify_sign(cfg->secret,
                            m->id,
                            now_s,
                            m->body,
                            m->body_len,
                            sig) != DESKDB_OK) {
                a->sign_failed = true;
                a->outcome = NOTIFY_PERMANENT;
                return;
            }
            h[nh++] = (struct notify_header){"webhook-signature", sig};
        }
    }
    notify_http_post(ac->url,
                     h,
                     nh,
                     m->body,
                     m->body_len,
                     ac->timeout_ms,
                     &n->abort,
                     &a->res);
    if (a->res.status > 0) {
        a->outcome = notify_classify_status(a->res.status);
        a->reason = a->res.status >= 500   ? NOTIFY_REASON_HTTP_5XX
                    : a->res.status >= 400 ? NOTIFY_REASON_HTTP_4XX
                                           : NOTIFY_REASON_HTTP_3XX;
    } else {
        a->outcome = NOTIFY_RETRY;
        a->reason =
            a->res.timed_out ? NOTIFY_REASON_TIMEOUT : NOTIFY_REASON_NETWORK;
    }
}

static int
collect_items(const struct notify_msg *m, struct attempt *a)
{
    size_t i;

    a->items = calloc(m->flush.n_alerts + 1, sizeof(*a->items));
    if (a->items == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < m->flush.n_alerts; i++) {
        a->items[i].fingerprint = m->flush.alerts[i].fingerprint;
        a->items[i].sent = m->flush.alerts[i].resolved ? NOTIFY_SENT_RESOLVED
                                                       : NOTIFY_SENT_FIRING;
    }
    a->n_items = m->flush.n_alerts;
    return DESKDB_OK;
}

/* Record the result under the lock; true if `m` left the queue. */
static bool
apply(struct notifier *n, struct notify_msg *m, struct attempt *a, int64_t now)
{
    int64_t ra, age_ns = n->cfg->max_delivery_age_ms * NS_PER_MS;

    m->in_flight = false;
    m->attempts++;
    if (a->outcome == NOTIFY_OK) {
        dispatch_delivered(n->dispatch, &m->flush, now);
        (void)collect_items(m, a);
    } else if (a->outcome == NOTIFY_RETRY && !m->superseded && !n->stopping) {
        ra = notify_parse_retry_after(a->res.retry_after, clock_real(n->clock));
        a->delay_ms =
            ra >= 0 ? (ra < RETRY_AFTER_MAX_MS ? ra : RETRY_AFTER_MAX_MS)
                    : backoff_full_jitter_ms(&n->backoff, m->attempts - 1);
        if (now + a->delay_ms * NS_PER_MS - m->created_ns <= age_ns) {
            m->next_ns = now + a->delay_ms * NS_PER_MS;
            return false;
        }
        a->dropped = true;
    } else if (a->outcome == NOTIFY_RETRY && !m->superseded) {
        /* Stopping: the alert states keep what the receiver was not told,
         * so the next start notifies again. */
        a->dropped = true;
        a->shutdown = true;
    }
    queue_unlink(n, m);
    return true;
}

/* A retryable failure: retried, given up, or cut by shutdown. */
static void
log_failure(struct notifier *n,
            const struct notify_msg *m,
            const struct attempt *a,
            const char *status)
{
    /* An answer has a status; a transport failure has an error. */
    const char *key = a->res.status > 0 ? "status" : "error";
    const char *val = a->res.status > 0 ? status : a->res.error;
    char at[24], delay[24];

    log_i64(at, m->attempts);
    log_i64(delay, a->delay_ms);
    if (a->shutdown)
        log_warn("notify",
                 "notification not delivered before shutdown",
                 "receiver",
                 n->name,
                 "group",
                 a->group,
                 key,
                 val);
    else if (a->dropped)
        log_error("notify",
                  "notification given up",
                  "receiver",
                  n->name,
                  "group",
                  a->group,
                  key,
                  val,
                  "attempts",
                  at);
    else
        log_warn("notify",
                 "notification failed, will retry",
                 "receiver",
                 n->name,
                 "group",
                 a->group,
                 key,
                 val,
                 "attempt",
                 at,
                 "retry_in_ms",
                 delay);
}

static void
log_result(struct notifier *n, const struct notify_msg *m, struct attempt *a)
{
    char st[24], at[24];

    snprintf(st, sizeof(st), "%ld", a->res.status);
    log_i64(at, m->attempts);
    if (a->outcome == NOTIFY_OK)
        log_info("notify",
                 "notification delivered",
                 "receiver",
                 n->name,
                 "group",
                 a->group,
                 "reason",
                 notify_reason_text(a->why),
                 "id",
                 m->id,
                 "attempts",
                 at);
    else if (a->sign_failed)
        log_error("notify",
                  "cannot sign the notification, dropped",
                  "receiver",
                  n->name,
                  "group",
                  a->group);
    else if (a->outcome == NOTIFY_PERMANENT)
        log_error("notify",
                  "notification refused, not retried before the next "
                  "group_interval",
                  "receiver",
                  n->name,
                  "group",
                  a->group,
                  "status",
                  st,
                  "id",
                  m->id);
    else if (a->dropped || !m->superseded)
        log_failure(n, m, a, st);
}

/* Under the lock: what this attempt uses, bounded by the stop deadline. */
static int
attempt_cfg(struct notifier *n, struct attempt_cfg *ac)
{
    ac->cfg = n->cfg;
    ac->timeout_ms = n->cfg->timeout_ms;
    if (n->stopping) {
        int64_t left = (n->stop_deadline_ns - clock_mono(n->clock)) / NS_PER_MS;

        ac->timeout_ms = left < ac->timeout_ms ? left : ac->timeout_ms;
    }
    if (ac->timeout_ms <= 0)
        ac->timeout_ms = 1;
    ac->url = strdup(n->url);
    return ac->url != NULL ? DESKDB_OK : DESKDB_ENOMEM;
}

void
notifier_attempt(struct notifier *n, struct notify_msg *m)
{
    struct attempt a;
    struct attempt_cfg ac;
    int64_t t0, now;
    bool removed;
    int rc;

    memset(&a, 0, sizeof(a));
    pthread_mutex_lock(&n->lock);
    rc = attempt_cfg(n, &ac);
    pthread_mutex_unlock(&n->lock);
    snprintf(a.group, sizeof(a.group), "%s", m->flush.group_key);
    a.why = m->flush.reason;
    t0 = clock_mono(n->clock);
    if (rc == DESKDB_OK) {
        post(n, m, &ac, &a);
    } else {
        /* Out of memory: a network failure as far as retries go. */
        a.outcome = NOTIFY_RETRY;
        a.reason = NOTIFY_REASON_NETWORK;
        snprintf(a.res.error, sizeof(a.res.error), "out of memory");
    }
    free(ac.url);
    now = clock_mono(n->clock);
    if (!a.sign_failed) {
        metric_inc(n->m_sent);
        metric_observe(n->m_duration, (double)(now - t0) / 1e9);
    }
    if (a.outcome != NOTIFY_OK && !a.sign_failed)
        metric_inc(n->m_failed[a.reason]);
    pthread_mutex_lock(&n->lock);
    removed = apply(n, m, &a, now);
    if (a.dropped)
        metric_inc(n->m_failed[NOTIFY_REASON_DROPPED]);
    pthread_mutex_unlock(&n->lock);
    log_result(n, m, &a);
    if (a.items != NULL && n->on_delivered != NULL)
        n->on_delivered(n->cb_arg,
                        n->name,
                        a.items,
                        a.n_items,
                        clock_real(n->clock));
    free(a.items);
    if (removed)
        notify_msg_free(m);
}
