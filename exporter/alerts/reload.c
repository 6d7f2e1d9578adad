/* SPDX-License-Identifier: MIT */
/* alerts_reload(): new rules and receivers without a restart, keeping the
 * alerts' states, the receivers' groups and their queues, as Prometheus
 * and Alertmanager do on SIGHUP. */
#include <stdlib.h>
#include <string.h>

#include "config/config_alerts.h"
#include "core/log.h"
#include "core/metrics.h"
#include "exporter/alerts/internal.h"

/* How long a removed receiver may still deliver what it has queued. */
#define RELOAD_DRAIN_MS 2000

/* A reload on its way: the new pieces, then (once swapped) the old. */
struct alerts_swap {
    const struct config_alerts *cfg;
    struct alerts_eval *ev;
    struct notifier **notifiers; /* per new receiver */
    bool *created;               /* made by this reload */
    struct metric **m_firing;    /* per new rule */
    size_t n_created;
    int rc;    /* of the swap */
    bool done; /* swapped (or failed) */
    const struct config_alerts *old_cfg;
    struct alerts_eval *old_ev;
    struct notifier **old_notifiers;
    size_t n_old_notifiers;
    struct metric **old_firing;
};

static bool
str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The same delivery settings (the name is already the same). */
static bool
receiver_same(const struct config_receiver *a, const struct config_receiver *b)
{
    return a->type == b->type && str_eq(a->url, b->url) &&
           str_eq(a->secret, b->secret) &&
           str_eq(a->routing_key, b->routing_key) &&
           a->timeout_ms == b->timeout_ms &&
           a->send_resolved == b->send_resolved &&
           a->group_wait_ms == b->group_wait_ms &&
           a->group_interval_ms == b->group_interval_ms &&
           a->repeat_interval_ms == b->repeat_interval_ms &&
           a->backoff_base_ms == b->backoff_base_ms &&
           a->backoff_cap_ms == b->backoff_cap_ms &&
           a->max_delivery_age_ms == b->max_delivery_age_ms;
}

/* Index of the receiver called `name` in `cfg`, or SIZE_MAX. */
static size_t
receiver_index(const struct config_alerts *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->n_receivers; i++) {
        if (strcmp(cfg->receivers[i].name, name) == 0)
            return i;
    }
    return SIZE_MAX;
}

static struct notifier *
new_notifier(struct alerts *a,
             const struct config_alerts *cfg,
             size_t i,
             struct deskdb_err *err)
{
    struct notifier_opts o = {
        .cfg = &cfg->receivers[i],
        .registry = a->registry,
        .clock = a->clock,
        .push_resend_ns = ALERTS_PUSH_RESEND_NS,
        .push_valid_ns = alerts_push_valid_ns(cfg->evaluation_interval_ms),
        .on_delivered = alerts_on_delivered,
        .cb_arg = a,
    };
    struct notifier *n = notifier_create(&o, err);

    if (n == NULL)
        return NULL;
    notifier_set_leader_fn(n, a->leader_fn, a->leader_arg);
    if (notifier_set_external_url(n,
                                  a->external_url != NULL ? a->external_url
                                                          : "") != DESKDB_OK ||
        (a->started && notifier_start(n, err) != DESKDB_OK)) {
        if (err->code == 0)
            err_set(err, DESKDB_ENOMEM, "out of memory");
        notifier_destroy(n);
        return NULL;
    }
    return n;
}

/* The receivers of the new configuration: the running notifier of the
 * same name, or a new one (started when the alerts are). */
static int
swap_notifiers(struct alerts *a, struct alerts_swap *sw, struct deskdb_err *err)
{
    size_t n = sw->cfg->n_receivers, i, old;

    sw->notifiers = calloc(n + 1, sizeof(*sw->notifiers));
    sw->created = calloc(n + 1, sizeof(*sw->created));
    if (sw->notifiers == NULL || sw->created == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        old = receiver_index(a->cfg, sw->cfg->receivers[i].name);
        if (old != SIZE_MAX) {
            sw->notifiers[i] = a->notifiers[old];
            continue;
        }
        sw->notifiers[i] = new_notifier(a, sw->cfg, i, err);
        if (sw->notifiers[i] == NULL)
            return err->code;
        sw->created[i] = true;
        sw->n_created++;
    }
    return DESKDB_OK;
}

static int
swap_firing(struct alerts *a, struct alerts_swap *sw, struct deskdb_err *err)
{
    struct metric_family *f =
        a->registry != NULL ? alerts_firing_family(a) : NULL;
    size_t i;

    sw->m_firing = calloc(sw->ev->n_rules + 1, sizeof(*sw->m_firing));
    if (sw->m_firing == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (i = 0; f != NULL && i < sw->ev->n_rules; i++) {
        const char *v[] = {sw->cfg->rules[i].name, sw->ev->rules[i].severity};

        sw->m_firing[i] = metric_series(f, v);
    }
    return DESKDB_OK;
}

static void
swap_free(struct alerts_swap *sw)
{
    size_t i;

    if (!sw->done || sw->rc != DESKDB_OK) {
        for (i = 0; sw->created != NULL && i < sw->cfg->n_receivers; i++) {
            if (sw->created[i])
                notifier_destroy(sw->notifiers[i]);
        }
        alerts_eval_destroy(sw->ev);
        free(sw->notifiers);
        free(sw->m_firing);
    } else {
        alerts_eval_destroy(sw->old_ev);
        free(sw->old_notifiers);
        free(sw->old_firing);
    }
    free(sw->created);
    free(sw);
}

void
alerts_swap_apply(struct alerts *a)
{
    struct alerts_swap *sw = a->pending;

    a->pending = NULL;
    pthread_cond_broadcast(&a->swapped);
    sw->done = true;
    sw->rc = alerts_eval_carry(a->ev, sw->ev, clock_real(a->clock));
    if (sw->rc != DESKDB_OK)
        return;
    sw->old_cfg = a->cfg;
    sw->old_ev = a->ev;
    sw->old_notifiers = a->notifiers;
    sw->n_old_notifiers = a->n_notifiers;
    sw->old_firing = a->m_firing;
    a->cfg = sw->cfg;
    a->ev = sw->ev;
    a->notifiers = sw->notifiers;
    a->n_notifiers = sw->cfg->n_receivers;
    a->m_firing = sw->m_firing;
}

/* Hand the swap to the evaluation thread and wait until it is in place
 * (or do it here when that thread is not running). */
static void
swap_hand_over(struct alerts *a, struct alerts_swap *sw)
{
    pthread_mutex_lock(&a->lock);
    a->pending = sw;
    a->kick = true;
    pthread_cond_signal(&a->cond);
    while (!sw->done && a->running)
        pthread_cond_wait(&a->swapped, &a->lock);
    if (!sw->done)
        alerts_swap_apply(a);
    pthread_mutex_unlock(&a->lock);
}

/* Receivers kept under the same name get the new settings if they
 * changed (or the evaluation interval, which Alertmanager pushes use). */
static size_t
reconfigure_kept(struct alerts_swap *sw)
{
    bool interval =
        sw->old_cfg->evaluation_interval_ms != sw->cfg->evaluation_interval_ms;
    size_t i, old, changed = 0;

    for (i = 0; i < sw->cfg->n_receivers; i++) {
        const struct config_receiver *r = &sw->cfg->receivers[i];

        old = receiver_index(sw->old_cfg, r->name);
        if (sw->created[i] || old == SIZE_MAX ||
            (receiver_same(&sw->old_cfg->receivers[old], r) &&
             !(interval && r->type == CONFIG_RECEIVER_ALERTMANAGER)))
            continue;
        changed++;
        if (notifier_reconfigure(
                sw->notifiers[i],
                r,
                ALERTS_PUSH_RESEND_NS,
                alerts_push_valid_ns(sw->cfg->evaluation_interval_ms)) !=
            DESKDB_OK)
            log_error("alerts",
                      "receiver keeps its old settings",
                      "receiver",
                      r->name,
                      "err",
                      "out of memory");
    }
    return changed;
}

/* Receivers gone from the file: a short drain, then what is left is
 * dropped (counted and logged).  The notifier itself is kept stopped
 * until the end, for threads that still hold it. */
static size_t
retire_removed(struct alerts *a, struct alerts_swap *sw)
{
    int64_t deadline = clock_mono(a->clock) + RELOAD_DRAIN_MS * NS_PER_MS;
    size_t *gone = calloc(sw->n_old_notifiers + 1, sizeof(*gone));
    struct notifier **grown;
    size_t i, n = 0, dropped;
    char count[24];

    for (i = 0; gone != NULL && i < sw->n_old_notifiers; i++) {
        if (receiver_index(sw->cfg, sw->old_cfg->receivers[i].name) == SIZE_MAX)
            gone[n++] = i;
    }
    for (i = 0; i < n; i++)
        notifier_begin_stop(sw->old_notifiers[gone[i]], deadline);
    for (i = 0; i < n; i++) {
        notifier_stop(sw->old_notifiers[gone[i]], deadline);
        dropped = notifier_discard(sw->old_notifiers[gone[i]]);
        notifier_forget_metrics(sw->old_notifiers[gone[i]]);
        if (dropped == 0)
            log_info("alerts",
                     "receiver removed",
                     "receiver",
                     sw->old_cfg->receivers[gone[i]].name);
        else
            log_warn("alerts",
                     "receiver removed, undelivered notifications dropped",
                     "receiver",
                     sw->old_cfg->receivers[gone[i]].name,
                     "dropped",
                     log_i64(count, (int64_t)dropped));
    }
    pthread_mutex_lock(&a->lock);
    grown = realloc(a->retired, (a->n_retired + n + 1) * sizeof(*grown));
    for (i = 0; grown != NULL && i < n; i++)
        grown[a->n_retired++] = sw->old_notifiers[gone[i]];
    if (grown != NULL)
        a->retired = grown;
    pthread_mutex_unlock(&a->lock);
    /* Out of memory: a stopped notifier leaks rather than dangles. */
    free(gone);
    return n;
}

/* deskdb_alert_firing of a rule that is gone leaves /metrics. */
static void
remove_firing_series(struct alerts_swap *sw)
{
    size_t i, j;

    for (i = 0; i < sw->old_ev->n_rules; i++) {
        const struct alert_rule *o = &sw->old_ev->rules[i];
        bool kept = false;

        for (j = 0; !kept && j < sw->ev->n_rules; j++)
            kept = strcmp(o->cfg->name, sw->ev->rules[j].cfg->name) == 0 &&
                   strcmp(o->severity, sw->ev->rules[j].severity) == 0;
        if (!kept)
            metric_series_remove(sw->old_firing[i]);
    }
}

int
alerts_reload(struct alerts *a,
              const struct config_alerts *cfg,
              struct deskdb_err *err)
{
    struct alerts_swap *sw = calloc(1, sizeof(*sw));
    char rules[24], receivers[24], added[24], changed[24], removed[24];
    int rc;

    if (sw == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    sw->cfg = cfg;
    sw->ev = alerts_eval_create(cfg, err);
    rc = sw->ev != NULL ? DESKDB_OK : err->code;
    if (rc == DESKDB_OK)
        rc = swap_notifiers(a, sw, err);
    if (rc == DESKDB_OK)
        rc = swap_firing(a, sw, err);
    if (rc == DESKDB_OK) {
        swap_hand_over(a, sw);
        if (sw->rc != DESKDB_OK)
            rc = err_set(err, sw->rc, "out of memory");
    }
    if (rc != DESKDB_OK) {
        swap_free(sw);
        return rc;
    }
    log_i64(changed, (int64_t)reconfigure_kept(sw));
    log_i64(removed, (int64_t)retire_removed(a, sw));
    remove_firing_series(sw);
    log_info("alerts",
             "rules and receivers reloaded",
             "rules",
             log_i64(rules, (int64_t)cfg->n_rules),
             "receivers",
             log_i64(receivers, (int64_t)cfg->n_receivers),
             "receivers_added",
             log_i64(added, (int64_t)sw->n_created),
             "receivers_changed",
             changed,
             "receivers_removed",
             removed);
    swap_free(sw);
    return DESKDB_OK;
}
