/* SPDX-License-Identifier: MIT */
/* A receiver's delivery thread: flushes its groups when due, queues the
 * notifications and delivers them with retries, backoff and signing. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/metrics.h"
#include "exporter/notify/notify.h"
#include "exporter/notify/worker.h"

/* Longest sleep, so leadership changes are noticed. */
#define IDLE_WAIT_NS NS_PER_SEC

static void *worker_main(void *arg);

static const double duration_buckets[] =
    {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

static void
register_metrics(struct notifier *n, struct metrics *m)
{
    static const char *const recv[] = {"receiver", NULL};
    static const char *const recv_reason[] = {"receiver", "reason", NULL};
    const char *name = n->name;
    struct metric_family *f;
    size_t i;

    f = metrics_family(m,
                       METRIC_COUNTER,
                       "deskdb_webhook_notifications_total",
                       "Notification requests sent to a receiver, retries "
                       "included.",
                       recv,
                       NULL,
                       0);
    n->m_sent = f != NULL ? metric_series(f, &name) : NULL;
    f = metrics_family(m,
                       METRIC_COUNTER,
                       "deskdb_webhook_notifications_failed_total",
                       "Failed notification requests by reason; dropped "
                       "counts notifications given up on.",
                       recv_reason,
                       NULL,
                       0);
    for (i = 0; f != NULL && i < NOTIFY_NREASONS; i++) {
        const char *v[] = {name, notify_reason_name((enum notify_reason)i)};

        n->m_failed[i] = metric_series(f, v);
    }
    f = metrics_family(m,
                       METRIC_HISTOGRAM,
                       "deskdb_webhook_notification_duration_seconds",
                       "Duration of notification requests.",
                       recv,
                       duration_buckets,
                       sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    n->m_duration = f != NULL ? metric_series(f, &name) : NULL;
    f = metrics_family(m,
                       METRIC_GAUGE,
                       "deskdb_webhook_queue_length",
                       "Notifications waiting for delivery to a receiver.",
                       recv,
                       NULL,
                       0);
    n->m_queue = f != NULL ? metric_series(f, &name) : NULL;
}

void
notifier_forget_metrics(struct notifier *n)
{
    size_t i;

    metric_series_remove(n->m_sent);
    for (i = 0; i < NOTIFY_NREASONS; i++)
        metric_series_remove(n->m_failed[i]);
    metric_series_remove(n->m_duration);
    metric_series_remove(n->m_queue);
}

static void
init_dispatch_cfg(struct dispatch_cfg *d,
                  const struct config_receiver *c,
                  int64_t push_resend_ns)
{
    memset(d, 0, sizeof(*d));
    d->push = c->type == CONFIG_RECEIVER_ALERTMANAGER;
    d->send_resolved = c->send_resolved;
    d->group_wait_ns = c->group_wait_ms * NS_PER_MS;
    d->group_interval_ns = c->group_interval_ms * NS_PER_MS;
    d->repeat_interval_ns = c->repeat_interval_ms * NS_PER_MS;
    d->resend_ns = push_resend_ns;
}

/* Alertmanager receivers are configured with Alertmanager's base URL. */
static char *
target_url(const struct config_receiver *c)
{
    static const char api[] = "/api/v2/alerts";
    size_t len = strlen(c->url);
    char *url;

    if (c->type != CONFIG_RECEIVER_ALERTMANAGER)
        return strdup(c->url);
    while (len > 0 && c->url[len - 1] == '/')
        len--;
    url = malloc(len + sizeof(api));
    if (url != NULL) {
        memcpy(url, c->url, len);
        memcpy(url + len, api, sizeof(api));
    }
    return url;
}

static int
init_sync(struct notifier *n)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_condattr_init(&attr) != 0)
        return DESKDB_ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&n->cond, &attr);
    if (rc == 0 && pthread_cond_init(&n->done_cond, &attr) != 0) {
        pthread_cond_destroy(&n->cond);
        rc = -1;
    }
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return DESKDB_ENOMEM;
    pthread_mutex_init(&n->lock, NULL);
    return DESKDB_OK;
}

struct notifier *
notifier_create(const struct notifier_opts *opts, struct deskdb_err *err)
{
    struct notifier *n = calloc(1, sizeof(*n));
    struct dispatch_cfg dc;

    if (n == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    n->cfg = opts->cfg;
    n->clock = opts->clock != NULL ? opts->clock : &clock_system;
    n->push_valid_ns = opts->push_valid_ns;
    n->on_delivered = opts->on_delivered;
    n->cb_arg = opts->cb_arg;
    n->backoff.base_ms = n->cfg->backoff_base_ms;
    n->backoff.cap_ms = n->cfg->backoff_cap_ms;
    if (gethostname(n->source, sizeof(n->source)) != 0 || n->source[0] == 0)
        snprintf(n->source, sizeof(n->source), "deskdb");
    n->source[sizeof(n->source) - 1] = '\0';
    init_dispatch_cfg(&dc, n->cfg, opts->push_resend_ns);
    n->dispatch = dispatch_create(&dc);
    n->external_url = strdup("");
    n->url = target_url(n->cfg);
    n->name = strdup(n->cfg->name);
    if (n->dispatch == NULL || n->external_url == NULL || n->url == NULL ||
        n->name == NULL || init_sync(n) != DESKDB_OK) {
        dispatch_destroy(n->dispatch);
        free(n->external_url);
        free(n->url);
        free(n->name);
        free(n);
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    n->sync_ready = true;
    if (opts->registry != NULL)
        register_metrics(n, opts->registry);
    return n;
}

void
notifier_set_leader_fn(struct notifier *n, notify_leader_fn fn, void *arg)
{
    pthread_mutex_lock(&n->lock);
    n->leader_fn = fn;
    n->leader_arg = arg;
    pthread_mutex_unlock(&n->lock);
}

int
notifier_set_external_url(struct notifier *n, const char *url)
{
    char *copy = strdup(url);

    if (copy == NULL)
        return DESKDB_ENOMEM;
    pthread_mutex_lock(&n->lock);
    free(n->external_url);
    n->external_url = copy;
    pthread_mutex_unlock(&n->lock);
    return DESKDB_OK;
}

int
notifier_start(struct notifier *n, struct deskdb_err *err)
{
    int rc = pthread_create(&n->thread, NULL, worker_main, n);

    if (rc != 0)
        return err_set(err,
                       DESKDB_EIO,
                       "cannot start the delivery thread of receiver %s: %s",
                       n->name,
                       strerror(rc));
    n->started = true;
    return DESKDB_OK;
}

void
notifier_update(struct notifier *n,
                const struct notify_alert *alerts,
                size_t count)
{
    int rc;

    pthread_mutex_lock(&n->lock);
    rc = dispatch_update(n->dispatch,
                         alerts,
                         count,
                         clock_mono(n->clock),
                         clock_real(n->clock));
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (rc != DESKDB_OK)
        log_error("notify",
                  "cannot update alert groups",
                  "receiver",
                  n->name,
                  "err",
                  err_code_name(rc));
}

int
notifier_reconfigure(struct notifier *n,
                     const struct config_receiver *cfg,
                     int64_t push_resend_ns,
                     int64_t push_valid_ns)
{
    struct dispatch_cfg dc;
    char *url = target_url(cfg), *old = NULL, count[24];
    size_t dropped = 0, queued;
    int rc = url != NULL ? DESKDB_OK : DESKDB_ENOMEM;

    init_dispatch_cfg(&dc, cfg, push_resend_ns);
    pthread_mutex_lock(&n->lock);
    if (rc == DESKDB_OK)
        rc = dispatch_reconfigure(n->dispatch, &dc, clock_mono(n->clock));
    if (rc == DESKDB_OK) {
        old = n->url;
        n->url = url;
        url = NULL;
        n->cfg = cfg;
        n->push_valid_ns = push_valid_ns;
        n->backoff.base_ms = cfg->backoff_base_ms;
        n->backoff.cap_ms = cfg->backoff_cap_ms;
        dropped = notifier_rebuild_queue(n);
        pthread_cond_signal(&n->cond);
    }
    queued = n->queue_len;
    pthread_mutex_unlock(&n->lock);
    free(old);
    free(url);
    if (rc != DESKDB_OK)
        return rc;
    log_info("notify",
             "receiver settings changed",
             "receiver",
             n->name,
             "queued",
             log_i64(count, (int64_t)queued));
    if (dropped > 0)
        log_error("notify",
                  "queued notifications dropped: cannot rebuild them",
                  "receiver",
                  n->name,
                  "dropped",
                  log_i64(count, (int64_t)dropped));
    return DESKDB_OK;
}

void
notifier_restore(struct notifier *n,
                 const struct notify_alert *alert,
                 enum notify_sent sent,
                 int64_t last_sent_real_ns)
{
    int rc;

    pthread_mutex_lock(&n->lock);
    rc = dispatch_restore(n->dispatch,
                          alert,
                          sent,
                          last_sent_real_ns,
                          clock_mono(n->clock),
                          clock_real(n->clock));
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (rc != DESKDB_OK)
        log_error("notify",
                  "cannot restore an alert group",
                  "receiver",
                  n->name,
                  "err",
                  err_code_name(rc));
}

size_t
notifier_queue_length(struct notifier *n)
{
    size_t len;

    pthread_mutex_lock(&n->lock);
    len = n->queue_len;
    pthread_mutex_unlock(&n->lock);
    return len;
}

void
notifier_begin_stop(struct notifier *n, int64_t deadline_mono_ns)
{
    pthread_mutex_lock(&n->lock);
    if (!n->stopping) {
        n->stopping = true;
        n->stop_deadline_ns = deadline_mono_ns;
    }
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

/* Timed wait on CLOCK_MONOTONIC for at most `ns`. */
void
notifier_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ns)
{
    struct timespec ts;
    int64_t at;

    if (ns <= 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    at = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(at / NS_PER_SEC);
    ts.tv_nsec = (long)(at % NS_PER_SEC);
    pthread_cond_timedwait(cond, lock, &ts);
}

void
notifier_stop(struct notifier *n, int64_t deadline_mono_ns)
{
    int64_t left;

    if (n == NULL || !n->started)
        return;
    notifier_begin_stop(n, deadline_mono_ns);
    pthread_mutex_lock(&n->lock);
    while (!n->done) {
        left = n->stop_deadline_ns - clock_mono(n->clock);
        if (left <= 0)
            break;
        notifier_wait(&n->done_cond, &n->lock, left);
    }
    pthread_mutex_unlock(&n->lock);
    /* Past the deadline a request in flight is cut off. */
    atomic_store(&n->abort, true);
    pthread_join(n->thread, NULL);
    n->started = false;
}

void
notifier_destroy(struct notifier *n)
{
    struct notify_msg *m, *next;

    if (n == NULL)
        return;
    notifier_stop(n, clock_mono(n->clock));
    for (m = n->queue; m != NULL; m = next) {
        next = m->next;
        notify_msg_free(m);
    }
    dispatch_destroy(n->dispatch);
    free(n->external_url);
    free(n->url);
    free(n->name);
    if (n->sync_ready) {
        pthread_cond_destroy(&n->cond);
        pthread_cond_destroy(&n->done_cond);
        pthread_mutex_destroy(&n->lock);
    }
    free(n);
}

/* ---- the thread -------------------------------------------------------- */

static bool
is_leader(struct notifier *n)
{
    notify_leader_fn fn;
    void *arg;

    pthread_mutex_lock(&n->lock);
    fn = n->leader_fn;
    arg = n->leader_arg;
    pthread_mutex_unlock(&n->lock);
    return fn == NULL || fn(arg);
}

/* The queued notification to attempt now, or NULL; sets *next to when the
 * earliest waiting one is due. */
static struct notify_msg *
pick(struct notifier *n, int64_t now, int64_t *next)
{
    struct notify_msg *m, *best = NULL;

    for (m = n->queue; m != NULL; m = m->next) {
        int64_t due = n->stopping ? now : m->next_ns;

        if (m->in_flight)
            continue;
        if (due <= now && (best == NULL || due < best->next_ns))
            best = m;
        if (due < *next)
            *next = due;
    }
    return best;
}

static void
run(struct notifier *n)
{
    struct notify_msg *m;
    int64_t now, next;
    bool leader;

    pthread_mutex_lock(&n->lock);
    for (;;) {
        pthread_mutex_unlock(&n->lock);
        leader = is_leader(n);
        pthread_mutex_lock(&n->lock);
        now = clock_mono(n->clock);
        /* A non-leader sends nothing, so it has nothing to drain. */
        if (n->stopping &&
            (n->queue == NULL || !leader || now >= n->stop_deadline_ns))
            break;
        if (leader && !n->stopping)
            notifier_flush_due(n, now);
        next = now + IDLE_WAIT_NS;
        m = leader ? pick(n, now, &next) : NULL;
        if (m != NULL) {
            m->in_flight = true;
            pthread_mutex_unlock(&n->lock);
            notifier_attempt(n, m);
            pthread_mutex_lock(&n->lock);
            continue;
        }
        if (!n->stopping && dispatch_next_due(n->dispatch) < next)
            next = dispatch_next_due(n->dispatch);
        if (n->stopping && n->stop_deadline_ns < next)
            next = n->stop_deadline_ns;
        notifier_wait(&n->cond, &n->lock, next - now);
    }
    n->done = true;
    pthread_cond_broadcast(&n->done_cond);
    pthread_mutex_unlock(&n->lock);
}

static void *
worker_main(void *arg)
{
    run(arg);
    return NULL;
}
