/* SPDX-License-Identifier: MIT */
/* One evaluation: the state machine of Prometheus' alerting rules
 * (pending, firing, keep_firing_for, resolved, retention). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "exporter/alerts/eval.h"

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct notify_label *)a)->name,
                  ((const struct notify_label *)b)->name);
}

static int
set_label(struct notify_label *l, size_t *n, const char *k, const char *v)
{
    size_t i;
    char *copy = strdup(v);

    if (copy == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < *n; i++) {
        if (strcmp(l[i].name, k) == 0) {
            free(l[i].value);
            l[i].value = copy;
            return DESKDB_OK;
        }
    }
    l[*n].name = strdup(k);
    l[*n].value = copy;
    (*n)++;
    return l[*n - 1].name != NULL ? DESKDB_OK : DESKDB_ENOMEM;
}

/* Series labels, then the rule's labels over them, then alertname; an
 * empty value removes a label, as in Prometheus. */
static int
alert_labels(const struct config_rule *rc,
             const struct expr_sample *s,
             struct notify_label **out,
             size_t *n_out)
{
    struct notify_label *l;
    size_t n = 0, i;
    int rc_ = DESKDB_OK;

    l = calloc(s->n_labels + rc->n_labels + 1, sizeof(*l));
    if (l == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; rc_ == DESKDB_OK && i < s->n_labels; i++)
        rc_ = set_label(l, &n, s->labels[i].name, s->labels[i].value);
    for (i = 0; rc_ == DESKDB_OK && i < rc->n_labels; i++)
        rc_ = set_label(l, &n, rc->labels[i].key, rc->labels[i].value);
    if (rc_ == DESKDB_OK)
        rc_ = set_label(l, &n, "alertname", rc->name);
    for (i = 0; rc_ == DESKDB_OK && i < n;) {
        if (l[i].value[0] == '\0') {
            free(l[i].name);
            free(l[i].value);
            l[i] = l[--n];
        } else {
            i++;
        }
    }
    if (rc_ != DESKDB_OK) {
        notify_labels_free(l, n);
        return rc_;
    }
    qsort(l, n, sizeof(*l), label_cmp);
    *out = l;
    *n_out = n;
    return DESKDB_OK;
}

/* Annotations are rendered on every evaluation while the alert holds. */
static int
render(const struct config_rule *rc,
       const struct expr_sample *s,
       struct alert_instance *inst)
{
    struct notify_label *a = calloc(rc->n_annotations + 1, sizeof(*a));
    struct buf b;
    size_t i;
    int rc_ = a != NULL ? DESKDB_OK : DESKDB_ENOMEM;

    for (i = 0; rc_ == DESKDB_OK && i < rc->n_annotations; i++) {
        buf_init(&b, 64 * 1024);
        rc_ = alerts_template_render(rc->annotations[i].value,
                                     s->labels,
                                     s->n_labels,
                                     s->value,
                                     &b);
        if (rc_ == DESKDB_OK && b.data == NULL)
            rc_ = buf_puts(&b, "");
        a[i].name = strdup(rc->annotations[i].key);
        a[i].value = buf_take(&b);
        buf_fini(&b);
        if (a[i].name == NULL || a[i].value == NULL)
            rc_ = DESKDB_ENOMEM;
    }
    if (rc_ != DESKDB_OK) {
        notify_labels_free(a, rc->n_annotations);
        return rc_;
    }
    qsort(a, rc->n_annotations, sizeof(*a), label_cmp);
    notify_labels_free(inst->alert.annotations, inst->alert.n_annotations);
    inst->alert.annotations = a;
    inst->alert.n_annotations = rc->n_annotations;
    return DESKDB_OK;
}

/* A resolved instance whose condition holds again starts over. */
static void
restart(struct alert_instance *inst, int64_t now)
{
    inst->state = ALERT_PENDING;
    inst->active_at = now;
    inst->fired_at = 0;
    inst->resolved_at = 0;
    inst->keep_firing_since = 0;
    inst->alert.resolved = false;
    inst->alert.ends_at_ns = 0;
    inst->alert.starts_at_ns = 0;
    inst->dirty = true;
}

static struct alert_instance *
instance_for(struct alerts_eval *ev,
             size_t r,
             struct notify_label *labels,
             size_t n_labels,
             int64_t now,
             int *failed)
{
    uint64_t fp = notify_fingerprint(labels, n_labels);
    struct alert_instance *inst = alerts_eval_find(ev, fp);

    /* The same label set twice in one evaluation, or from two rules:
     * Prometheus fails the rule ("same labelset after applying alert
     * labels"). */
    if (inst != NULL && (inst->rule != r || inst->seen)) {
        *failed = 1;
        notify_labels_free(labels, n_labels);
        return NULL;
    }
    if (inst != NULL) {
        notify_labels_free(labels, n_labels);
        if (inst->state == ALERT_RESOLVED)
            restart(inst, now);
        return inst;
    }
    if (ev->rules[r].n_instances >= ALERTS_MAX_INSTANCES ||
        (inst = alert_instance_new(ev->n_receivers)) == NULL) {
        *failed = 1;
        notify_labels_free(labels, n_labels);
        return NULL;
    }
    inst->rule = r;
    inst->alert.labels = labels;
    inst->alert.n_labels = n_labels;
    inst->alert.fingerprint = fp;
    restart(inst, now);
    if (alerts_eval_adopt(ev, inst) != DESKDB_OK) {
        alert_instance_free(inst);
        *failed = 1;
        return NULL;
    }
    return inst;
}

static int
apply_samples(struct alerts_eval *ev,
              size_t r,
              const struct expr_result *res,
              int64_t now)
{
    const struct config_rule *rc = ev->rules[r].cfg;
    struct alert_instance *inst;
    struct notify_label *labels;
    size_t i, n_labels;
    int failed = res->truncated;

    for (i = 0; i < res->n; i++) {
        if (alert_labels(rc, &res->samples[i], &labels, &n_labels) !=
            DESKDB_OK) {
            failed = 1;
            continue;
        }
        inst = instance_for(ev, r, labels, n_labels, now, &failed);
        if (inst == NULL)
            continue;
        inst->seen = true;
        inst->value = res->samples[i].value;
        inst->keep_firing_since = 0;
        if (render(rc, &res->samples[i], inst) != DESKDB_OK)
            failed = 1;
    }
    return failed;
}

void
alert_instance_resolve(struct alert_instance *inst, int64_t now)
{
    inst->state = ALERT_RESOLVED;
    inst->resolved_at = now;
    inst->keep_firing_since = 0;
    inst->alert.resolved = true;
    inst->alert.ends_at_ns = now;
    inst->dirty = true;
}

/* Transitions of one instance after its rule was evaluated; returns
 * false if the instance is to be removed. */
static bool
transition(const struct config_rule *rc,
           struct alert_instance *inst,
           int64_t now)
{
    int64_t kff = rc->keep_firing_for_ms * NS_PER_MS;

    if (!inst->seen) {
        if (inst->state == ALERT_PENDING)
            return false;
        if (inst->state == ALERT_FIRING) {
            if (kff > 0 && inst->keep_firing_since == 0)
                inst->keep_firing_since = now;
            if (kff <= 0 || now - inst->keep_firing_since >= kff)
                alert_instance_resolve(inst, now);
        }
        if (inst->state == ALERT_RESOLVED &&
            now - inst->resolved_at >= ALERTS_RESOLVED_RETENTION_NS)
            return false;
        return true;
    }
    if (inst->state == ALERT_PENDING &&
        now - inst->active_at >= rc->for_ms * NS_PER_MS) {
        inst->state = ALERT_FIRING;
        inst->fired_at = now;
        inst->alert.starts_at_ns = now;
        inst->dirty = true;
    }
    return true;
}

static int
eval_rule(struct alerts_eval *ev,
          size_t r,
          const struct metrics_snapshot *snap,
          int64_t now)
{
    struct alert_rule *rule = &ev->rules[r];
    struct expr_result res;
    size_t i;
    int failed;

    for (i = 0; i < ev->n_inst; i++) {
        if (ev->inst[i]->rule == r)
            ev->inst[i]->seen = false;
    }
    if (alert_expr_eval(rule->expr, snap, rule->history, now, &res) !=
        DESKDB_OK)
        return 1; /* keep every state as it is */
    failed = apply_samples(ev, r, &res, now);
    expr_result_fini(&res);
    for (i = 0; i < ev->n_inst;) {
        struct alert_instance *inst = ev->inst[i];

        if (inst->rule == r && !transition(rule->cfg, inst, now))
            alerts_eval_remove(ev, i);
        else
            i++;
    }
    return failed;
}

/* Some receiver was told the alert fired and not yet that it ended. */
static bool
awaits_resolve(const struct alert_instance *inst, size_t n_receivers)
{
    size_t r;

    for (r = 0; r < n_receivers; r++) {
        if (inst->sent[r] == NOTIFY_SENT_FIRING)
            return true;
    }
    return false;
}

int
alerts_eval_tick(struct alerts_eval *ev,
                 const struct metrics_snapshot *snap,
                 int64_t now_ns)
{
    size_t r, i;
    int failed = 0;

    for (r = 0; r < ev->n_rules; r++)
        failed += eval_rule(ev, r, snap, now_ns);
    /* Instances of rules that no longer exist (removed by a reload, or
     * since the restart) end now, and leave once every receiver that
     * heard them fire was told they resolved (or after the retention,
     * for those not sent resolves). */
    for (i = 0; i < ev->n_inst;) {
        struct alert_instance *inst = ev->inst[i];

        if (inst->rule < ev->n_rules) {
            i++;
            continue;
        }
        if (inst->state == ALERT_FIRING)
            alert_instance_resolve(inst, now_ns);
        if (inst->state != ALERT_RESOLVED ||
            now_ns - inst->resolved_at >= ALERTS_RESOLVED_RETENTION_NS ||
            !awaits_resolve(inst, ev->n_receivers))
            alerts_eval_remove(ev, i);
        else
            i++;
    }
    ev->failures += (uint64_t)failed;
    return failed;
}
