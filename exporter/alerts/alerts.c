/* SPDX-License-Identifier: MIT */
/* The alerts object: its evaluation thread, the hand-over to the
 * receivers' queues and the metrics about both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config_alerts.h"
#include "core/log.h"
#include "core/metrics.h"
#include "exporter/alerts/internal.h"
#include "exporter/collectors.h"

static const double eval_buckets[] =
    {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct metric_family *
alerts_firing_family(struct alerts *a)
{
    static const char *const rule_labels[] = {"alert", "severity", NULL};

    return metrics_family(a->registry,
                          METRIC_GAUGE,
                          "deskdb_alert_firing",
                          "Whether any alert of the rule is firing (1) or "
                          "not (0).",
                          rule_labels,
                          NULL,
                          0);
}

/* Prometheus: resend firing alerts to Alertmanager every minute, valid
 * for 4 times max(resend, evaluation interval). */
int64_t
alerts_push_valid_ns(int64_t evaluation_interval_ms)
{
    int64_t eval_ns = evaluation_interval_ms * NS_PER_MS;

    return 4 *
           (eval_ns > ALERTS_PUSH_RESEND_NS ? eval_ns : ALERTS_PUSH_RESEND_NS);
}

static void
register_metrics(struct alerts *a)
{
    static const char *const state_label[] = {"state", NULL};
    static const char *const states[] = {"pending", "firing"};
    struct metric_family *f;
    size_t i;

    f = alerts_firing_family(a);
    for (i = 0; f != NULL && i < a->ev->n_rules; i++) {
        const char *v[] = {a->cfg->rules[i].name, a->ev->rules[i].severity};

        a->m_firing[i] = metric_series(f, v);
        metric_set(a->m_firing[i], 0);
    }
    f = metrics_family(a->registry,
                       METRIC_GAUGE,
                       "deskdb_alerts_active",
                       "Alert instances pending or firing.",
                       state_label,
                       NULL,
                       0);
    for (i = 0; f != NULL && i < 2; i++)
        a->m_active[i] = metric_series(f, &states[i]);
    a->m_duration = metrics_histogram(
        a->registry,
        "deskdb_alerts_evaluation_duration_seconds",
        "Time taken by one evaluation of every rule, the snapshot included.",
        eval_buckets,
        sizeof(eval_buckets) / sizeof(eval_buckets[0]));
    a->m_evaluations = metrics_counter(a->registry,
                                       "deskdb_alerts_evaluations_total",
                                       "Evaluations of the alert rules.");
    a->m_failures = metrics_counter(
        a->registry,
        "deskdb_alerts_evaluation_failures_total",
        "Rule evaluations that failed; the rule kept its alerts' states.");
    a->m_state_failures =
        metrics_counter(a->registry,
                        "deskdb_alerts_state_write_failures_total",
                        "Failed writes of alert states to deskdb.alert_state.");
}

static int
create_notifiers(struct alerts *a, struct deskdb_err *err)
{
    int64_t valid = alerts_push_valid_ns(a->cfg->evaluation_interval_ms);
    size_t i;

    a->notifiers = calloc(a->cfg->n_receivers + 1, sizeof(*a->notifiers));
    if (a->notifiers == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (i = 0; i < a->cfg->n_receivers; i++) {
        struct notifier_opts o = {
            .cfg = &a->cfg->receivers[i],
            .registry = a->registry,
            .clock = a->clock,
            .push_resend_ns = ALERTS_PUSH_RESEND_NS,
            .push_valid_ns = valid,
            .on_delivered = alerts_on_delivered,
            .cb_arg = a,
        };

        a->notifiers[i] = notifier_create(&o, err);
        if (a->notifiers[i] == NULL)
            return err->code;
        a->n_notifiers++;
    }
    return DESKDB_OK;
}

void
alerts_global_init(void)
{
    notify_global_init();
}

/* A condition variable timed on CLOCK_MONOTONIC. */
static void
init_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

struct alerts *
alerts_create(const struct config_alerts *cfg,
              struct metrics *registry,
              struct collectors *collectors,
              struct pool *pool,
              const struct clock *clock,
              struct deskdb_err *err)
{
    struct alerts *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->registry = registry;
    a->collectors = collectors;
    a->pool = pool;
    a->clock = clock != NULL ? clock : &clock_system;
    pthread_mutex_init(&a->lock, NULL);
    init_cond(&a->cond);
    init_cond(&a->swapped);
    a->ev = alerts_eval_create(cfg, err);
    if (a->ev == NULL)
        goto fail;
    a->m_firing = calloc(cfg->n_rules + 1, sizeof(*a->m_firing));
    if (a->m_firing == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        goto fail;
    }
    if (registry != NULL)
        register_metrics(a);
    a->ev->track_deleted = pool != NULL;
    if (create_notifiers(a, err) != DESKDB_OK)
        goto fail;
    return a;
fail:
    alerts_destroy(a);
    return NULL;
}

void
alerts_set_leader_fn(struct alerts *a, bool (*is_leader)(void *), void *arg)
{
    size_t i;

    pthread_mutex_lock(&a->lock);
    a->leader_fn = is_leader;
    a->leader_arg = arg;
    pthread_mutex_unlock(&a->lock);
    for (i = 0; i < a->n_notifiers; i++)
        notifier_set_leader_fn(a->notifiers[i], is_leader, arg);
}

int
alerts_set_external_url(struct alerts *a, const char *url)
{
    char *copy = strdup(url);
    size_t i;
    int rc = copy != NULL ? DESKDB_OK : DESKDB_ENOMEM;

    pthread_mutex_lock(&a->lock);
    free(a->external_url);
    a->external_url = copy;
    pthread_mutex_unlock(&a->lock);
    for (i = 0; rc == DESKDB_OK && i < a->n_notifiers; i++)
        rc = notifier_set_external_url(a->notifiers[i], url);
    return rc;
}

/* Called without the lock: the leader function may take its own. */
static bool
is_leader(struct alerts *a)
{
    bool (*fn)(void *);
    void *arg;

    pthread_mutex_lock(&a->lock);
    fn = a->leader_fn;
    arg = a->leader_arg;
    pthread_mutex_unlock(&a->lock);
    return fn == NULL || fn(arg);
}

/* Worker thread: record what a receiver now knows, for the state table.
 * By name: a reload may have moved the receiver (or removed it). */
void
alerts_on_delivered(void *arg,
                    const char *name,
                    const struct notify_sent_item *items,
                    size_t n,
                    int64_t at_real_ns)
{
    struct alerts *a = arg;
    struct alert_instance *inst;
    size_t i, receiver;

    pthread_mutex_lock(&a->lock);
    for (receiver = 0; receiver < a->cfg->n_receivers; receiver++) {
        if (strcmp(a->cfg->receivers[receiver].name, name) == 0)
            break;
    }
    for (i = 0; i < n; i++) {
        inst = alerts_eval_find(a->ev, items[i].fingerprint);
        if (inst == NULL || receiver >= a->ev->n_receivers)
            continue;
        inst->sent[receiver] = items[i].sent;
        inst->last_sent_at = at_real_ns;
        inst->dirty = true;
    }
    pthread_mutex_unlock(&a->lock);
}

/* ---- after each evaluation --------------------------------------------- */

struct routed {
    struct notify_alert *alerts;
    size_t n;
};

static bool
routes_to(const struct alerts_eval *ev,
          const struct alert_instance *inst,
          size_t receiver)
{
    if (inst->state == ALERT_PENDING)
        return false;
    if (inst->rule < ev->n_rules)
        return ev->rules[inst->rule].to_receiver[receiver];
    /* Rule gone since the restart: only those who heard it fire. */
    return inst->sent[receiver] == NOTIFY_SENT_FIRING;
}

/* Under the lock: copies of each receiver's alerts. */
static int
route(struct alerts *a, struct routed *out)
{
    struct alerts_eval *ev = a->ev;
    size_t r, i;

    for (r = 0; r < a->n_notifiers; r++) {
        out[r].alerts = calloc(ev->n_inst + 1, sizeof(*out[r].alerts));
        if (out[r].alerts == NULL)
            return DESKDB_ENOMEM;
        for (i = 0; i < ev->n_inst; i++) {
            if (!routes_to(ev, ev->inst[i], r))
                continue;
            if (notify_alert_copy(&out[r].alerts[out[r].n],
                                  &ev->inst[i]->alert) != DESKDB_OK)
                return DESKDB_ENOMEM;
            out[r].n++;
        }
    }
    return DESKDB_OK;
}

static void
routed_free(struct routed *r, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < r[i].n; j++)
            notify_alert_fini(&r[i].alerts[j]);
        free(r[i].alerts);
    }
    free(r);
}

/* Under the lock: the per-rule firing flags and the state counts. */
static void
update_gauges(struct alerts *a, double *firing, double active[2])
{
    size_t i;

    for (i = 0; i < a->ev->n_inst; i++) {
        const struct alert_instance *inst = a->ev->inst[i];

        if (inst->state == ALERT_PENDING)
            active[0]++;
        if (inst->state != ALERT_FIRING)
            continue;
        active[1]++;
        if (inst->rule < a->ev->n_rules)
            firing[inst->rule] = 1;
    }
}

static void
evaluate(struct alerts *a, const struct metrics_snapshot *snap)
{
    size_t n_rules = a->ev->n_rules, i;
    struct routed *routed = calloc(a->n_notifiers + 1, sizeof(*routed));
    double *firing = calloc(n_rules + 1, sizeof(double)), active[2] = {0};
    int failed, rc = routed != NULL && firing != NULL ? 0 : DESKDB_ENOMEM;

    pthread_mutex_lock(&a->lock);
    failed = alerts_eval_tick(a->ev, snap, clock_real(a->clock));
    if (rc == DESKDB_OK) {
        rc = route(a, routed);
        update_gauges(a, firing, active);
    }
    pthread_mutex_unlock(&a->lock);
    metric_add(a->m_failures, failed);
    if (rc != DESKDB_OK) {
        log_error("alerts",
                  "cannot hand alerts to the receivers",
                  "err",
                  "out of memory");
    } else {
        for (i = 0; i < n_rules; i++)
            metric_set(a->m_firing[i], firing[i]);
        metric_set(a->m_active[0], active[0]);
        metric_set(a->m_active[1], active[1]);
        for (i = 0; i < a->n_notifiers; i++)
            notifier_update(a->notifiers[i], routed[i].alerts, routed[i].n);
    }
    if (routed != NULL)
        routed_free(routed, a->n_notifiers);
    free(firing);
}

/* One log line per state table outage (and one when it ends), not one
 * per evaluation.  Eval thread only. */
static void
state_problem(struct alerts *a, const struct deskdb_err *err, bool reading)
{
    metric_inc(a->m_state_failures);
    if (strcmp(a->state_error, err->msg) == 0)
        return;
    snprintf(a->state_error, sizeof(a->state_error), "%s", err->msg);
    log_warn("alerts",
             reading ? "cannot read alert states, will retry"
                     : "cannot write alert states, will retry",
             "err",
             err->msg,
             "hint",
             strcmp(err->sqlstate, "42P01") == 0 ||
                     strcmp(err->sqlstate, "3F000") == 0
                 ? "run deskdb migrate up"
                 : "states are kept in memory meanwhile");
}

static void
state_ok(struct alerts *a)
{
    if (a->state_error[0] == '\0')
        return;
    a->state_error[0] = '\0';
    log_info("alerts", "alert states readable and writable again");
}

/* Write what changed; on failure it stays dirty for the next round. */
static void
persist(struct alerts *a)
{
    struct persist_batch b = {0};
    struct deskdb_err err;
    int rc;

    pthread_mutex_lock(&a->lock);
    rc = persist_collect(a, &b);
    pthread_mutex_unlock(&a->lock);
    if (rc == DESKDB_OK && b.n_rows == 0 && b.n_deleted == 0) {
        persist_batch_fini(&b);
        return;
    }
    err_clear(&err);
    if (rc == DESKDB_OK)
        rc = persist_write(a, &b, &err);
    else
        err_set(&err, rc, "out of memory");
    if (rc != DESKDB_OK) {
        state_problem(a, &err, false);
        pthread_mutex_lock(&a->lock);
        persist_requeue(a, &b);
        pthread_mutex_unlock(&a->lock);
    } else {
        state_ok(a);
    }
    persist_batch_fini(&b);
}

static void
load(struct alerts *a)
{
    struct deskdb_err err;

    err_clear(&err);
    if (persist_load(a, &err) == DESKDB_OK) {
        pthread_mutex_lock(&a->lock);
        a->loaded = true;
        pthread_mutex_unlock(&a->lock);
        state_ok(a);
        return;
    }
    state_problem(a, &err, true);
}

void
alerts_round(struct alerts *a)
{
    struct collectors_scrape scrape;
    struct metrics_snapshot *snap;
    int64_t t0 = clock_mono(a->clock);
    bool leader = is_leader(a);

    if (a->pool != NULL && leader && !a->loaded)
        load(a);
    scrape.collectors = a->collectors;
    scrape.budget_ms = a->cfg->evaluation_interval_ms;
    if (scrape.budget_ms > COLLECTORS_DEFAULT_BUDGET_MS)
        scrape.budget_ms = COLLECTORS_DEFAULT_BUDGET_MS;
    snap = metrics_snapshot_create(
        a->registry,
        a->collectors != NULL ? collectors_collect_scrape : NULL,
        &scrape);
    if (snap == NULL) {
        metric_inc(a->m_failures);
        log_error("alerts",
                  "cannot take a metrics snapshot",
                  "err",
                  "out of memory");
        return;
    }
    evaluate(a, snap);
    metrics_snapshot_destroy(snap);
    metric_inc(a->m_evaluations);
    metric_observe(a->m_duration, (double)(clock_mono(a->clock) - t0) / 1e9);
    if (a->pool != NULL && leader && a->loaded) {
        persist(a);
    } else if (a->pool != NULL && !leader) {
        /* The leader owns the table; forget what it would be told. */
        pthread_mutex_lock(&a->lock);
        a->ev->n_deleted = 0;
        a->loaded = false; /* read it again when leading */
        pthread_mutex_unlock(&a->lock);
    }
}

static void *
eval_main(void *arg)
{
    struct alerts *a = arg;
    int64_t next;
    struct timespec ts;

    for (;;) {
        /* A reload takes effect between two rounds, its interval from
         * this one on. */
        pthread_mutex_lock(&a->lock);
        if (a->pending != NULL)
            alerts_swap_apply(a);
        next =
            clock_monotonic_ns() + a->cfg->evaluation_interval_ms * NS_PER_MS;
        pthread_mutex_unlock(&a->lock);
        alerts_round(a);
        pthread_mutex_lock(&a->lock);
        while (!a->stopping && !a->kick && clock_monotonic_ns() < next) {
            ts.tv_sec = (time_t)(next / NS_PER_SEC);
            ts.tv_nsec = (long)(next % NS_PER_SEC);
            pthread_cond_timedwait(&a->cond, &a->lock, &ts);
        }
        a->kick = false;
        if (a->stopping) {
            a->running = false;
            pthread_cond_broadcast(&a->swapped);
            pthread_mutex_unlock(&a->lock);
            return NULL;
        }
        pthread_mutex_unlock(&a->lock);
    }
}

int
alerts_start(struct alerts *a, struct deskdb_err *err)
{
    size_t i;
    int rc;

    for (i = 0; i < a->n_notifiers; i++) {
        rc = notifier_start(a->notifiers[i], err);
        if (rc != DESKDB_OK)
            return rc;
    }
    pthread_mutex_lock(&a->lock);
    a->running = true;
    pthread_mutex_unlock(&a->lock);
    rc = pthread_create(&a->thread, NULL, eval_main, a);
    if (rc != 0) {
        pthread_mutex_lock(&a->lock);
        a->running = false;
        pthread_mutex_unlock(&a->lock);
        return err_set(err,
                       DESKDB_EIO,
                       "cannot start the alert evaluation thread: %s",
                       strerror(rc));
    }
    a->started = true;
    return DESKDB_OK;
}

void
alerts_evaluate_now(struct alerts *a)
{
    pthread_mutex_lock(&a->lock);
    a->kick = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

void
alerts_stop(struct alerts *a, int64_t drain_ms)
{
    int64_t deadline;
    size_t i;

    if (a == NULL)
        return;
    deadline = clock_mono(a->clock) + drain_ms * NS_PER_MS;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->started) {
        pthread_join(a->thread, NULL);
        a->started = false;
    }
    for (i = 0; i < a->n_notifiers; i++)
        notifier_begin_stop(a->notifiers[i], deadline);
    for (i = 0; i < a->n_notifiers; i++)
        notifier_stop(a->notifiers[i], deadline);
    /* What the last deliveries changed must survive the restart. */
    if (a->pool != NULL && a->loaded && is_leader(a))
        persist(a);
}

void
alerts_destroy(struct alerts *a)
{
    size_t i;

    if (a == NULL)
        return;
    alerts_stop(a, 0);
    for (i = 0; i < a->n_notifiers; i++)
        notifier_destroy(a->notifiers[i]);
    for (i = 0; i < a->n_retired; i++)
        notifier_destroy(a->retired[i]);
    free(a->notifiers);
    free(a->retired);
    free(a->m_firing);
    free(a->external_url);
    alerts_eval_destroy(a->ev);
    pthread_cond_destroy(&a->swapped);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
